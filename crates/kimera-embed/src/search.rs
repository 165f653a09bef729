//! Exact nearest-neighbour search over the vectors stored for one model (`kimera similar`).
//!
//! A linear scan with a bounded top-k: fine for the CLI on stores of up to millions of
//! rows; the reactor keeps its own ANN index for repeated queries.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use kimera_store::{Store, Visibility, f32s_from_blob};
use rusqlite::params;
use serde::Serialize;

use crate::{EmbedError, Encoder, Result};

/// A stored geoid near a query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Neighbour {
    pub id: String,
    pub text: String,
    pub lang: String,
    /// Cosine similarity with the query (vectors are unit-norm, so a dot product).
    pub score: f32,
}

struct Ranked(f32, i64, String);

impl PartialEq for Ranked {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ranked {
    /// "Greater" = worse, so the max-heap's top is the one to evict: lower score, then
    /// later insertion (ties go to the earlier geoid, for a stable order).
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then(self.1.cmp(&o.1))
    }
}

/// Adds `item` to a bounded top-`k` heap, evicting the worst when full.
fn keep_best(heap: &mut BinaryHeap<Ranked>, item: Ranked, k: usize) {
    if heap.len() < k {
        heap.push(item);
    } else if heap.peek().is_some_and(|worst| item < *worst) {
        heap.pop();
        heap.push(item);
    }
}

/// The `k` stored geoids most similar to `text`, best first. Only geoids that have a
/// vector for `enc.model_id()` are searched (run `kimera embed` first), and only
/// current ones: superseded statements are left out ([`nearest_at`] reads the past).
pub fn nearest(store: &Store, enc: &dyn Encoder, text: &str, k: usize) -> Result<Vec<Neighbour>> {
    nearest_at(store, enc, text, k, Visibility::Current)
}

/// [`nearest`] among the statements visible to `v` (`AsOf`: the store as it was then).
pub fn nearest_at(
    store: &Store,
    enc: &dyn Encoder,
    text: &str,
    k: usize,
    v: Visibility,
) -> Result<Vec<Neighbour>> {
    let q = enc
        .encode(&[text])?
        .pop()
        .ok_or_else(|| EmbedError::Invalid("encoder returned no vector".into()))?;
    let mut stmt = store.conn().prepare(&format!(
        "SELECT g.seq, g.id, e.vector FROM geoids g
         JOIN embeddings e ON e.model = ?1 AND e.text_hash = g.text_hash
         WHERE {}",
        v.sql("g")
    ))?;
    let mut rows = stmt.query(params![enc.model_id()])?;
    let mut heap: BinaryHeap<Ranked> = BinaryHeap::with_capacity(k + 1);
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let id: String = r.get(1)?;
        let blob: Vec<u8> = r.get(2)?;
        let v = f32s_from_blob(&blob)?;
        if v.len() != q.len() {
            return Err(EmbedError::DimMismatch {
                model: enc.model_id().to_string(),
                expected: q.len(),
                found: v.len(),
            });
        }
        let item = Ranked(kimera_core::dot(&q, &v), seq, id);
        keep_best(&mut heap, item, k);
    }
    let ranked = heap.into_sorted_vec();
    let mut out = Vec::with_capacity(ranked.len());
    for Ranked(score, _, id) in ranked {
        let g = store
            .geoid(&kimera_core::GeoidId(id.clone()))?
            .ok_or_else(|| EmbedError::Invalid(format!("geoid {id} vanished during search")))?;
        out.push(Neighbour {
            id,
            text: g.text,
            lang: g.lang,
            score,
        });
    }
    Ok(out)
}

/// All vectors of one model held in memory, for many queries against the same store
/// (`kimera check --file`, a service): one load, then a parallel exact search per query
/// (or per batch of queries, [`VectorIndex::nearest_many`]).
///
/// Exact rather than approximate: the answer is the exact scan's, bit for bit. On CPUs
/// with AVX-512 VNNI an int8 copy of the rows (a quarter of the memory to read, 64
/// multiply-adds an instruction) first rules out the rows that provably cannot be among
/// a query's best, and only the rest are scored in f32 (see `coarse.rs`); elsewhere
/// every row is scored.
#[derive(Debug, Clone)]
pub struct VectorIndex {
    dim: usize,
    ids: Vec<String>,
    /// Row-major, `ids.len() × dim`, unit-norm rows.
    data: Vec<f32>,
    /// int8 copies of the first `coarse.len()` full segments of rows (none when the
    /// prefilter does not pay on this CPU); later rows are scored exactly.
    coarse: Vec<std::sync::Arc<crate::coarse::Segment>>,
    prefilter: bool,
}

/// Rows per parallel task of [`VectorIndex::nearest`].
const SCAN_BLOCK: usize = 4096;

impl VectorIndex {
    /// Loads every current geoid (not superseded) that has a vector for `model`, in
    /// geoid order.
    pub fn load(store: &Store, model: &str) -> Result<VectorIndex> {
        Self::load_at(store, model, Visibility::Current)
    }

    /// [`VectorIndex::load`] of the geoids visible to `v` (a server loads `Everything`
    /// and leaves out per request what a read must not see).
    pub fn load_at(store: &Store, model: &str, v: Visibility) -> Result<VectorIndex> {
        let mut stmt = store.conn().prepare(&format!(
            "SELECT g.id, e.vector FROM geoids g
             JOIN embeddings e ON e.model = ?1 AND e.text_hash = g.text_hash
             WHERE {}
             ORDER BY g.seq",
            v.sql("g")
        ))?;
        let mut rows = stmt.query(params![model])?;
        let mut ids = Vec::new();
        let mut data = Vec::new();
        let mut dim = 0;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let blob: Vec<u8> = r.get(1)?;
            let v = f32s_from_blob(&blob)?;
            if dim == 0 {
                dim = v.len();
            } else if v.len() != dim {
                return Err(EmbedError::DimMismatch {
                    model: model.to_string(),
                    expected: dim,
                    found: v.len(),
                });
            }
            ids.push(id);
            data.extend_from_slice(&v);
        }
        let mut index = VectorIndex {
            dim,
            ids,
            data,
            coarse: Vec::new(),
            prefilter: crate::coarse::worth_it(),
        };
        index.quantize();
        Ok(index)
    }

    /// Builds the int8 copies of the full segments not yet copied (see `coarse.rs`).
    fn quantize(&mut self) {
        use crate::coarse::{SEGMENT, Segment};
        use rayon::prelude::*;
        if !self.prefilter || self.dim == 0 {
            return;
        }
        let seg = SEGMENT * self.dim;
        let done = self.coarse.len() * seg;
        let full = self.data.len() / seg * seg;
        if full <= done {
            return;
        }
        let new: Vec<std::sync::Arc<Segment>> = self.data[done..full]
            .par_chunks(seg)
            .map(|rows| std::sync::Arc::new(Segment::new(rows, self.dim)))
            .collect();
        self.coarse.extend(new);
    }

    /// Turns the int8 prefilter on or off (tests compare the two; the answers are the
    /// same either way).
    #[doc(hidden)]
    pub fn set_prefilter(&mut self, on: bool) {
        self.prefilter = on;
        self.coarse.clear();
        self.quantize();
    }

    /// Appends one statement's vector, as [`VectorIndex::load`] would have read it had it
    /// been stored: a service adds each statement it writes here, so the next query finds
    /// it without a reload. The first vector of an empty index sets the dimension.
    pub fn push(&mut self, id: impl Into<String>, v: &[f32]) -> Result<()> {
        if self.ids.is_empty() && self.dim == 0 {
            self.dim = v.len();
        }
        if v.len() != self.dim || v.is_empty() {
            return Err(EmbedError::DimMismatch {
                model: "pushed vector".into(),
                expected: self.dim,
                found: v.len(),
            });
        }
        self.ids.push(id.into());
        self.data.extend_from_slice(v);
        self.quantize();
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn id(&self, row: usize) -> &str {
        &self.ids[row]
    }

    pub fn vector(&self, row: usize) -> &[f32] {
        &self.data[row * self.dim..(row + 1) * self.dim]
    }

    /// The `k` rows most similar to `q` as `(row, cosine)`, best first; ties go to the
    /// earlier row, so the answer does not depend on the thread count.
    pub fn nearest(&self, q: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
        Ok(self.nearest_many(&[(q, k)])?.pop().unwrap_or_default())
    }

    /// [`VectorIndex::nearest`] for many queries at once, each `(vector, k)`: the same
    /// answers (the same cosines, bit for bit, and the same ties). With the int8
    /// prefilter the rows are read once for all queries in int8 and only the rows not
    /// ruled out are scored in f32; without it each row is read once and scored against
    /// every query while it is in cache (a scan is bound by reading rows from memory:
    /// 150 MB at 100k rows of 384 floats).
    pub fn nearest_many(&self, queries: &[(&[f32], usize)]) -> Result<Vec<Vec<(usize, f32)>>> {
        use rayon::prelude::*;
        if self.is_empty() || queries.iter().all(|&(_, k)| k == 0) {
            return Ok(vec![Vec::new(); queries.len()]);
        }
        if let Some((q, _)) = queries.iter().find(|&&(q, k)| k > 0 && q.len() != self.dim) {
            return Err(EmbedError::DimMismatch {
                model: "query".into(),
                expected: self.dim,
                found: q.len(),
            });
        }
        if self.coarse.is_empty() {
            return Ok(self.scan_many(queries));
        }
        // queries the bounds hold for (finite, not zero); the rest are scanned
        let (pre, rest): (Vec<usize>, Vec<usize>) = (0..queries.len())
            .filter(|&i| queries[i].1 > 0)
            .partition(|&i| {
                let q = queries[i].0;
                q.iter().all(|x| x.is_finite()) && q.iter().any(|&x| x != 0.0)
            });
        let mut out: Vec<Vec<(usize, f32)>> = vec![Vec::new(); queries.len()];
        let rest_q: Vec<(&[f32], usize)> = rest.iter().map(|&i| queries[i]).collect();
        for (i, found) in rest.iter().zip(self.scan_many(&rest_q)) {
            out[*i] = found;
        }
        if pre.is_empty() {
            return Ok(out);
        }
        let pre_q: Vec<(&[f32], usize)> = pre.iter().map(|&i| queries[i]).collect();
        let cands = crate::coarse::candidates(&self.coarse, self.dim, &pre_q);
        let tail = self.coarse.len() * crate::coarse::SEGMENT..self.ids.len();
        let scored: Vec<Vec<(usize, f32)>> = pre_q
            .par_iter()
            .zip(cands)
            .map(|(&(q, k), rows)| {
                let mut all: Vec<(usize, f32)> = rows
                    .into_iter()
                    .chain(tail.clone())
                    .map(|row| (row, kimera_core::dot(q, self.vector(row))))
                    .collect();
                all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                all.truncate(k);
                all
            })
            .collect();
        for (i, found) in pre.iter().zip(scored) {
            out[*i] = found;
        }
        Ok(out)
    }

    /// [`VectorIndex::nearest_many`] by scoring every row: each row read once and scored
    /// against every query while it is in cache. The queries are the ones
    /// `nearest_many` checked (their dimension is the index's).
    fn scan_many(&self, queries: &[(&[f32], usize)]) -> Vec<Vec<(usize, f32)>> {
        use rayon::prelude::*;
        if queries.iter().all(|&(_, k)| k == 0) {
            return vec![Vec::new(); queries.len()];
        }
        let block = SCAN_BLOCK * self.dim;
        let per_block: Vec<Vec<Vec<(usize, f32)>>> = self
            .data
            .par_chunks(block)
            .enumerate()
            .map(|(b, chunk)| {
                let mut heaps: Vec<BinaryHeap<Ranked>> = queries
                    .iter()
                    .map(|&(_, k)| BinaryHeap::with_capacity(k + 1))
                    .collect();
                for (j, v) in chunk.chunks_exact(self.dim).enumerate() {
                    let row = b * SCAN_BLOCK + j;
                    for (heap, &(q, k)) in heaps.iter_mut().zip(queries) {
                        if k > 0 {
                            let item = Ranked(kimera_core::dot(q, v), row as i64, String::new());
                            keep_best(heap, item, k);
                        }
                    }
                }
                heaps
                    .into_iter()
                    .map(|heap| {
                        heap.into_sorted_vec()
                            .into_iter()
                            .map(|Ranked(s, row, _)| (row as usize, s))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut out: Vec<Vec<(usize, f32)>> = vec![Vec::new(); queries.len()];
        for blocks in per_block {
            for (all, found) in out.iter_mut().zip(blocks) {
                all.extend(found);
            }
        }
        for (all, &(_, k)) in out.iter_mut().zip(queries) {
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            all.truncate(k);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HashEncoder;
    use kimera_core::{Geoid, Source};

    /// A store with `texts` embedded by `enc`.
    fn store_with(enc: &HashEncoder, texts: &[&str]) -> Store {
        let mut s = Store::open_in_memory().unwrap();
        let g: Vec<Geoid> = texts
            .iter()
            .map(|t| Geoid::new(*t, "en", Source::Api))
            .collect();
        s.insert_geoids(&g).unwrap();
        crate::embed_store(&mut s, enc, 2, &|_, _| {}).unwrap();
        s
    }

    /// Every row scored, best first, ties to the earlier row: what a search must answer.
    fn brute_force(index: &VectorIndex, q: &[f32], k: usize) -> Vec<(usize, f32)> {
        let mut all: Vec<(usize, f32)> = (0..index.len())
            .map(|r| (r, kimera_core::dot(q, index.vector(r))))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }

    /// The int8 prefilter (forced on, whatever the CPU: its portable kernel gives the same
    /// products) answers what scoring every row answers, bit for bit: clusters of near
    /// duplicates (many rows inside the bounds' margin), exact copies (ties), a query
    /// that is a stored row, odd dimensions, k beyond the rows, rows pushed after the
    /// load (a segment completed by pushes, and a tail scored exactly), a row that is
    /// not finite and a zero query.
    #[test]
    fn the_int8_prefilter_changes_no_answer() {
        use crate::coarse::SEGMENT;
        for dim in [384, 37] {
            let mut seed = dim as u64;
            let centres: Vec<Vec<f32>> = (0..5)
                .map(|_| (0..dim).map(|_| lcg(&mut seed)).collect())
                .collect();
            let unit = |mut v: Vec<f32>| {
                kimera_core::l2_normalise(&mut v);
                v
            };
            let mut rows: Vec<Vec<f32>> = (0..SEGMENT * 3 + 11)
                .map(|i| {
                    let c = &centres[i % centres.len()];
                    let spread = [0.01, 0.05, 0.3][i % 3];
                    unit(c.iter().map(|x| x + spread * lcg(&mut seed)).collect())
                })
                .collect();
            rows[7] = rows[3].clone();
            rows[SEGMENT + 1] = rows[3].clone();
            let mut index = VectorIndex {
                dim,
                ids: Vec::new(),
                data: Vec::new(),
                coarse: Vec::new(),
                prefilter: true,
            };
            for (i, r) in rows.iter().enumerate().take(SEGMENT * 2 + 5) {
                index.ids.push(format!("r{i}"));
                index.data.extend_from_slice(r);
            }
            index.quantize();
            assert_eq!(index.coarse.len(), 2);
            for (i, r) in rows.iter().enumerate().skip(SEGMENT * 2 + 5) {
                index.push(format!("r{i}"), r).unwrap();
            }
            assert_eq!(index.coarse.len(), 3, "pushes completed a segment");
            let mut wild = rows[9].clone();
            wild[1] = f32::NAN;
            index.push("wild", &wild).unwrap();
            let mut queries: Vec<Vec<f32>> = vec![rows[3].clone(), vec![0.0; dim]];
            for c in &centres {
                queries.push(unit(c.iter().map(|x| x + 0.02 * lcg(&mut seed)).collect()));
            }
            queries.push(unit((0..dim).map(|_| lcg(&mut seed)).collect()));
            let mut asks: Vec<(&[f32], usize)> = Vec::new();
            for q in &queries {
                for k in [1, 3, 11, 60] {
                    asks.push((q, k));
                }
            }
            asks.push((&queries[2], index.len() + 5));
            let many = index.nearest_many(&asks).unwrap();
            let bits =
                |v: &[(usize, f32)]| v.iter().map(|&(r, s)| (r, s.to_bits())).collect::<Vec<_>>();
            for (got, &(q, k)) in many.iter().zip(&asks) {
                assert_eq!(
                    bits(got),
                    bits(&brute_force(&index, q, k)),
                    "dim {dim} k {k}"
                );
            }
            let first: Vec<usize> = many[2]
                .iter()
                .map(|&(r, _)| r)
                .filter(|&r| index.id(r) != "wild")
                .take(3)
                .collect();
            assert_eq!(first, [3, 7, SEGMENT + 1], "copies tie, earlier row first");
            // the bounds did rule rows out (so the comparison above is not vacuous), far
            // from the query's cluster at least
            let kept = crate::coarse::candidates(&index.coarse, dim, &[(&queries[2], 11)]);
            eprintln!("dim {dim}: {} of {} rows kept", kept[0].len(), SEGMENT * 3);
            assert!(kept[0].len() < SEGMENT * 3 / 2, "{} kept", kept[0].len());
            // the same answers with the prefilter off
            let mut plain = index.clone();
            plain.set_prefilter(false);
            assert!(plain.coarse.is_empty());
            let off = plain.nearest_many(&asks).unwrap();
            assert!(off.iter().zip(&many).all(|(a, b)| bits(a) == bits(b)));
        }
    }

    #[test]
    fn many_queries_in_one_pass_get_the_answers_each_gets_alone() {
        let enc = HashEncoder::new();
        let texts: Vec<String> = (0..40)
            .map(|i| format!("Statement {} about the {} river.", i % 7, i % 5))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut index = VectorIndex::load(&store_with(&enc, &refs), enc.model_id()).unwrap();
        // duplicates of a stored row: ties, which go to the earlier row
        let dup = enc.encode(&[refs[3]]).unwrap().pop().unwrap();
        index.push("dup-a", &dup).unwrap();
        index.push("dup-b", &dup).unwrap();
        let qs = enc
            .encode(&["Statement 3 about the 1 river.", "the river", refs[3], "x"])
            .unwrap();
        let asks: Vec<(&[f32], usize)> = vec![
            (&qs[0], 5),
            (&qs[1], 0),
            (&qs[2], 3),
            (&qs[3], 100),
            (&qs[0], 1),
        ];
        let many = index.nearest_many(&asks).unwrap();
        assert_eq!(many.len(), asks.len());
        for (got, &(q, k)) in many.iter().zip(&asks) {
            let alone = brute_force(&index, q, k);
            let bits =
                |v: &[(usize, f32)]| v.iter().map(|&(r, s)| (r, s.to_bits())).collect::<Vec<_>>();
            assert_eq!(bits(got), bits(&alone), "k {k}");
        }
        assert_eq!(many[3].len(), index.len(), "k beyond the rows: every row");
        assert!(many[1].is_empty());
        // the stored row and its two copies, in row order
        assert_eq!(
            many[2]
                .iter()
                .map(|&(r, _)| index.id(r))
                .collect::<Vec<_>>()[1..],
            ["dup-a", "dup-b"]
        );
        assert!(index.nearest_many(&[(&[1.0], 2)]).is_err());
        assert!(index.nearest_many(&[]).unwrap().is_empty());
    }

    #[test]
    fn pushing_vectors_equals_loading_them_from_the_store() {
        let enc = HashEncoder::new();
        let texts = [
            "Paris is the capital of France.",
            "Berlin is the capital of Germany.",
            "Water boils at 100 degrees.",
            "The capital of France is Paris.",
            "Ice melts at 0 degrees.",
        ];
        let full = VectorIndex::load(&store_with(&enc, &texts), enc.model_id()).unwrap();
        let mut grown = VectorIndex::load(&store_with(&enc, &texts[..2]), enc.model_id()).unwrap();
        for t in &texts[2..] {
            let v = enc.encode(&[t]).unwrap().pop().unwrap();
            grown
                .push(Geoid::new(*t, "en", Source::Api).id.0, &v)
                .unwrap();
        }
        assert_eq!(grown.len(), full.len());
        let q = enc.encode(&["capital of France"]).unwrap().pop().unwrap();
        assert_eq!(grown.nearest(&q, 3).unwrap(), full.nearest(&q, 3).unwrap());
        let ids = |ix: &VectorIndex| {
            (0..ix.len())
                .map(|r| ix.id(r).to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&grown), ids(&full));

        let mut empty = VectorIndex::load(&Store::open_in_memory().unwrap(), "m").unwrap();
        assert!(empty.nearest(&q, 3).unwrap().is_empty());
        empty.push("a", &q).unwrap();
        assert_eq!(empty.nearest(&q, 3).unwrap().len(), 1);
        assert!(
            empty.push("b", &[1.0]).is_err(),
            "another dimension is refused"
        );
        assert_eq!(empty.len(), 1);
    }
}
