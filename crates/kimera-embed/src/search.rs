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
/// (`kimera check --file`, a service): one load, then a parallel exact scan per query.
///
/// Exact rather than approximate: a 100k × 384 scan is ~38 M multiply-adds, a few
/// milliseconds on two cores, and needs no index build or tuning.
#[derive(Debug, Clone)]
pub struct VectorIndex {
    dim: usize,
    ids: Vec<String>,
    /// Row-major, `ids.len() × dim`, unit-norm rows.
    data: Vec<f32>,
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
        Ok(VectorIndex { dim, ids, data })
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
        use rayon::prelude::*;
        if self.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        if q.len() != self.dim {
            return Err(EmbedError::DimMismatch {
                model: "query".into(),
                expected: self.dim,
                found: q.len(),
            });
        }
        let block = SCAN_BLOCK * self.dim;
        let per_block: Vec<Vec<(usize, f32)>> = self
            .data
            .par_chunks(block)
            .enumerate()
            .map(|(b, chunk)| {
                let mut heap: BinaryHeap<Ranked> = BinaryHeap::with_capacity(k + 1);
                for (j, v) in chunk.chunks_exact(self.dim).enumerate() {
                    let row = b * SCAN_BLOCK + j;
                    let item = Ranked(kimera_core::dot(q, v), row as i64, String::new());
                    keep_best(&mut heap, item, k);
                }
                heap.into_sorted_vec()
                    .into_iter()
                    .map(|Ranked(s, row, _)| (row as usize, s))
                    .collect()
            })
            .collect();
        let mut all: Vec<(usize, f32)> = per_block.into_iter().flatten().collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        Ok(all)
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
