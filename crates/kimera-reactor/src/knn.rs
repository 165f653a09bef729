//! Top-k nearest neighbours by cosine: exact for small stores, an inverted-file index
//! (IVF: spherical k-means lists, probe the `nprobe` nearest lists) for large ones.
//!
//! Why IVF and not HNSW: a parallel HNSW build inserts points in whatever order the
//! threads reach them, so the graph — and the candidates, and the scars — would change
//! with the number of workers. Every step here is a pure function of the vectors: k-means
//! starts from a seeded sample and sums in a fixed order; each query's top-k is chosen by
//! the total order (score desc, index asc), so the set does not depend on which list was
//! scanned first. Work is split into tasks whose boundaries depend only on the data,
//! never on the pool size. Exact search is the same code with one list.
//!
//! Vectors are kept row-major in list order (members of one list are contiguous), and
//! queries are processed list by list, so a probed list is read once from memory for a
//! whole block of queries that probe it: the scan is compute-bound, not memory-bound.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;

/// How many queries one task handles (fixed, so tasks never depend on the pool size).
const QUERY_BLOCK: usize = 128;
/// Rows of a list scanned at a time for all queries of a block (fits in L2).
const TILE: usize = 64;
/// Seed of the k-means sample: fixed, so the index is the same on every run.
const KMEANS_SEED: u64 = 0x6b69_6d65_7261;

/// Dot product with 8 independent lanes summed in a fixed order. [`dot4`] computes
/// bit-identical values, so a score never depends on which kernel produced it.
#[inline]
pub fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut s = 0f32;
    for v in acc {
        s += v;
    }
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

/// Four dot products of `q` against `x0..x3`, each exactly as [`dot8`] computes it; the
/// query is loaded once for four rows, which is where the speed comes from.
#[inline]
pub fn dot4(q: &[f32], x: [&[f32]; 4]) -> [f32; 4] {
    let n = q.len();
    let chunks = n / 8;
    let mut acc = [[0f32; 8]; 4];
    for c in 0..chunks {
        let qs = &q[c * 8..c * 8 + 8];
        for r in 0..4 {
            let xs = &x[r][c * 8..c * 8 + 8];
            for j in 0..8 {
                acc[r][j] += qs[j] * xs[j];
            }
        }
    }
    let mut out = [0f32; 4];
    for r in 0..4 {
        let mut s = 0f32;
        for v in acc[r] {
            s += v;
        }
        for i in chunks * 8..n {
            s += q[i] * x[r][i];
        }
        out[r] = s;
    }
    out
}

/// Parameters of a neighbour search.
#[derive(Debug, Clone, PartialEq)]
pub struct KnnParams {
    /// Neighbours per geoid.
    pub k: usize,
    /// Neighbours with cosine below this are dropped.
    pub floor: f32,
    /// Stores with at most this many vectors are searched exactly.
    pub exact_max: usize,
    /// Number of IVF lists (0 = `2·√n`).
    pub nlist: usize,
    /// Lists probed per query.
    pub nprobe: usize,
}

impl Default for KnnParams {
    fn default() -> Self {
        KnnParams {
            k: 10,
            floor: 0.5,
            exact_max: 5_000,
            nlist: 0,
            nprobe: 8,
        }
    }
}

/// Vectors in list order, with the maps between the caller's indices and rows.
#[derive(Debug, Clone)]
pub struct VectorTable {
    pub dim: usize,
    data: Vec<f32>,
    /// `row_of[i]`: the row holding vector `i`.
    row_of: Vec<u32>,
    /// `index_of[r]`: the vector at row `r`.
    index_of: Vec<u32>,
}

impl VectorTable {
    /// Takes `n × dim` row-major vectors; rows are L2-normalised here, so cosine = dot.
    pub fn new(mut data: Vec<f32>, dim: usize) -> Self {
        assert!(dim > 0 && data.len() % dim == 0, "ragged vector table");
        for row in data.chunks_exact_mut(dim) {
            let n = dot8(row, row).sqrt();
            if n > 0.0 {
                row.iter_mut().for_each(|x| *x /= n);
            }
        }
        let n = data.len() / dim;
        VectorTable {
            dim,
            data,
            row_of: (0..n as u32).collect(),
            index_of: (0..n as u32).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.index_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index_of.is_empty()
    }

    /// Vector `i` (in the caller's numbering).
    pub fn get(&self, i: u32) -> &[f32] {
        self.row(self.row_of[i as usize] as usize)
    }

    fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.dim..(r + 1) * self.dim]
    }

    /// Reorders rows so that row `r` holds vector `new_order[r]`, in place (one spare row),
    /// because a second copy of a million vectors is 1.5 GB we do not have to spend.
    fn reorder(&mut self, new_order: Vec<u32>) {
        let dim = self.dim;
        // wanted[r] = current row of the vector that must end up at row r
        let mut wanted: Vec<u32> = new_order.iter().map(|&i| self.row_of[i as usize]).collect();
        let mut tmp = vec![0f32; dim];
        for start in 0..wanted.len() {
            if wanted[start] as usize == start {
                continue;
            }
            tmp.copy_from_slice(&self.data[start * dim..(start + 1) * dim]);
            let mut cur = start;
            loop {
                let src = wanted[cur] as usize;
                wanted[cur] = cur as u32;
                if src == start {
                    self.data[cur * dim..(cur + 1) * dim].copy_from_slice(&tmp);
                    break;
                }
                self.data.copy_within(src * dim..(src + 1) * dim, cur * dim);
                cur = src;
            }
        }
        for (r, &i) in new_order.iter().enumerate() {
            self.row_of[i as usize] = r as u32;
        }
        self.index_of = new_order;
    }
}

/// A query's index and its neighbours.
type QueryResult = (u32, Vec<(u32, f32)>);

/// Neighbours of every vector: `lists[i]` holds up to k `(index, cosine)`, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbours {
    pub lists: Vec<Vec<(u32, f32)>>,
}

impl Neighbours {
    /// Unordered pairs `(a, b)` with `a < b`, each once, sorted.
    pub fn pairs(&self) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = self
            .lists
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                l.iter().map(move |&(j, _)| {
                    if (i as u32) < j {
                        (i as u32, j)
                    } else {
                        (j, i as u32)
                    }
                })
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Maps `f` over `items` on the current rayon pool (`parallel`) or on this thread, in
/// order either way: the one place where the two modes differ.
fn map_items<T: Sync, R: Send>(
    items: &[T],
    parallel: bool,
    f: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    if parallel {
        items.par_iter().map(f).collect()
    } else {
        items.iter().map(f).collect()
    }
}

/// Keeps the best k by (score desc, index asc): a total order, so the result is the same
/// whatever order candidates arrive in.
#[derive(Debug)]
struct TopK {
    k: usize,
    floor: f32,
    items: Vec<(u32, f32)>,
}

impl TopK {
    fn new(k: usize, floor: f32) -> Self {
        TopK {
            k,
            floor,
            items: Vec::with_capacity(k + 1),
        }
    }

    #[inline]
    fn push(&mut self, idx: u32, score: f32) {
        if score < self.floor || self.k == 0 || score.is_nan() {
            return;
        }
        let better = |a: (u32, f32), b: (u32, f32)| a.1 > b.1 || (a.1 == b.1 && a.0 < b.0);
        if self.items.len() == self.k && !better((idx, score), self.items[self.k - 1]) {
            return;
        }
        let pos = self
            .items
            .iter()
            .position(|&e| better((idx, score), e))
            .unwrap_or(self.items.len());
        self.items.insert(pos, (idx, score));
        self.items.truncate(self.k);
    }
}

/// Spherical k-means on a seeded sample; returns `nlist × dim` unit centroids.
fn kmeans(table: &VectorTable, nlist: usize, parallel: bool) -> Vec<f32> {
    let dim = table.dim;
    let n = table.len();
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(KMEANS_SEED);
    let sample_n = n.min(nlist * 16);
    let (sample, _) = order.partial_shuffle(&mut rng, sample_n);
    let mut sample = sample.to_vec();
    sample.sort_unstable();
    let mut centroids: Vec<f32> = sample[..nlist]
        .iter()
        .flat_map(|&i| table.get(i).to_vec())
        .collect();
    let blocks: Vec<&[u32]> = sample.chunks(256).collect();
    for _ in 0..6 {
        let assign: Vec<Vec<u32>> = map_items(&blocks, parallel, |b| {
            b.iter()
                .map(|&i| nearest_lists(table.get(i), &centroids, dim, 1)[0])
                .collect()
        });
        let mut sums = vec![0f64; nlist * dim];
        let mut counts = vec![0u32; nlist];
        for (&i, &c) in sample.iter().zip(assign.iter().flatten()) {
            counts[c as usize] += 1;
            for (s, &x) in sums[c as usize * dim..(c as usize + 1) * dim]
                .iter_mut()
                .zip(table.get(i))
            {
                *s += f64::from(x);
            }
        }
        for c in 0..nlist {
            if counts[c] == 0 {
                continue; // keep the old centroid of an empty list
            }
            let s = &sums[c * dim..(c + 1) * dim];
            let norm = s.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 0.0 {
                for (d, &x) in centroids[c * dim..(c + 1) * dim].iter_mut().zip(s) {
                    *d = (x / norm) as f32;
                }
            }
        }
    }
    centroids
}

/// The `m` centroids most similar to `v`, best first (ties: lower list).
fn nearest_lists(v: &[f32], centroids: &[f32], dim: usize, m: usize) -> Vec<u32> {
    let mut top = TopK::new(m, f32::NEG_INFINITY);
    let rows: Vec<&[f32]> = centroids.chunks_exact(dim).collect();
    let mut c = 0;
    while c + 4 <= rows.len() {
        let s = dot4(v, [rows[c], rows[c + 1], rows[c + 2], rows[c + 3]]);
        for (j, s) in s.into_iter().enumerate() {
            top.push((c + j) as u32, s);
        }
        c += 4;
    }
    for (j, r) in rows.iter().enumerate().skip(c) {
        top.push(j as u32, dot8(v, r));
    }
    top.items.into_iter().map(|(i, _)| i).collect()
}

/// The (lists, probes) a search of `n` vectors uses: (1, 1) means exact.
pub fn plan(n: usize, p: &KnnParams) -> (usize, usize) {
    let nlist = if n <= p.exact_max.max(1) {
        1
    } else if p.nlist > 0 {
        p.nlist.min(n)
    } else {
        ((2.0 * (n as f64).sqrt()).round() as usize).clamp(1, n)
    };
    let nprobe = if nlist == 1 {
        1
    } else {
        p.nprobe.clamp(1, nlist)
    };
    (nlist, nprobe)
}

/// Finds each vector's top-k neighbours (cosine ≥ floor). Reorders `table` into list
/// order. `parallel` runs the tasks on the current rayon pool; the result is identical.
pub fn search(table: &mut VectorTable, p: &KnnParams, parallel: bool) -> Neighbours {
    let n = table.len();
    let dim = table.dim;
    if n == 0 {
        return Neighbours { lists: Vec::new() };
    }
    let (nlist, nprobe) = plan(n, p);

    // probes[i]: the lists vector i searches; its first is the list it belongs to
    let (probes, centroids): (Vec<Vec<u32>>, Vec<f32>) = if nlist == 1 {
        (vec![vec![0]; n], Vec::new())
    } else {
        let centroids = kmeans(table, nlist, parallel);
        let ids: Vec<u32> = (0..n as u32).collect();
        let blocks: Vec<&[u32]> = ids.chunks(1024).collect();
        let t: &VectorTable = table;
        let probes = map_items(&blocks, parallel, |b| {
            b.iter()
                .map(|&i| nearest_lists(t.get(i), &centroids, dim, nprobe))
                .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect();
        (probes, centroids)
    };
    drop(centroids);

    // list order: by (list, index); list_start[l]..list_start[l+1] are its rows
    let mut counts = vec![0usize; nlist + 1];
    for pr in &probes {
        counts[pr[0] as usize + 1] += 1;
    }
    for l in 0..nlist {
        counts[l + 1] += counts[l];
    }
    let list_start = counts.clone();
    let mut next = counts;
    let mut order = vec![0u32; n];
    for (i, pr) in probes.iter().enumerate() {
        let l = pr[0] as usize;
        order[next[l]] = i as u32;
        next[l] += 1;
    }
    table.reorder(order);

    // tasks: blocks of up to QUERY_BLOCK rows of one list
    let mut tasks: Vec<(usize, usize)> = Vec::new();
    for l in 0..nlist {
        let mut s = list_start[l];
        while s < list_start[l + 1] {
            let e = (s + QUERY_BLOCK).min(list_start[l + 1]);
            tasks.push((s, e));
            s = e;
        }
    }
    let t: &VectorTable = table;
    let results: Vec<Vec<QueryResult>> = map_items(&tasks, parallel, |&(s, e)| {
        let queries: Vec<u32> = (s..e).map(|r| t.index_of[r]).collect();
        let mut tops: Vec<TopK> = queries.iter().map(|_| TopK::new(p.k, p.floor)).collect();
        // which queries of this block probe which list
        let mut by_list: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (qi, &q) in queries.iter().enumerate() {
            for &l in &probes[q as usize] {
                by_list.entry(l).or_default().push(qi);
            }
        }
        for (l, qs) in by_list {
            let (ls, le) = (list_start[l as usize], list_start[l as usize + 1]);
            let mut r0 = ls;
            while r0 < le {
                let r1 = (r0 + TILE).min(le);
                for &qi in &qs {
                    let qv = t.get(queries[qi]);
                    let top = &mut tops[qi];
                    let mut r = r0;
                    while r + 4 <= r1 {
                        let s4 = dot4(qv, [t.row(r), t.row(r + 1), t.row(r + 2), t.row(r + 3)]);
                        for (j, sc) in s4.into_iter().enumerate() {
                            let idx = t.index_of[r + j];
                            if idx != queries[qi] {
                                top.push(idx, sc);
                            }
                        }
                        r += 4;
                    }
                    for rr in r..r1 {
                        let idx = t.index_of[rr];
                        if idx != queries[qi] {
                            top.push(idx, dot8(qv, t.row(rr)));
                        }
                    }
                }
                r0 = r1;
            }
        }
        queries
            .into_iter()
            .zip(tops.into_iter().map(|t| t.items))
            .collect()
    });
    let mut lists = vec![Vec::new(); n];
    for (q, l) in results.into_iter().flatten() {
        lists[q as usize] = l;
    }
    Neighbours { lists }
}

/// Mean fraction of the exact top-k that `approx` found (recall@k), over vectors whose
/// exact list is not empty.
pub fn recall(exact: &Neighbours, approx: &Neighbours) -> f64 {
    let mut sum = 0.0;
    let mut m = 0usize;
    for (e, a) in exact.lists.iter().zip(&approx.lists) {
        if e.is_empty() {
            continue;
        }
        let hit = e
            .iter()
            .filter(|(i, _)| a.iter().any(|(j, _)| j == i))
            .count();
        sum += hit as f64 / e.len() as f64;
        m += 1;
    }
    if m == 0 { 1.0 } else { sum / m as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    fn brute(data: &[f32], dim: usize, k: usize, floor: f32) -> Vec<Vec<(u32, f32)>> {
        let t = VectorTable::new(data.to_vec(), dim);
        (0..t.len() as u32)
            .map(|i| {
                let mut all: Vec<(u32, f32)> = (0..t.len() as u32)
                    .filter(|&j| j != i)
                    .map(|j| (j, dot8(t.get(i), t.get(j))))
                    .filter(|&(_, s)| s >= floor)
                    .collect();
                all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                all.truncate(k);
                all
            })
            .collect()
    }

    #[test]
    fn dot_kernels_agree_bit_for_bit() {
        let v = synth::clustered_vectors(8, 37, 2, 0.3, 1);
        let r: Vec<&[f32]> = v.chunks(37).collect();
        let four = dot4(r[0], [r[1], r[2], r[3], r[4]]);
        for j in 0..4 {
            assert_eq!(four[j].to_bits(), dot8(r[0], r[j + 1]).to_bits());
        }
        assert!((dot8(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]) - 32.0).abs() < 1e-6);
    }

    #[test]
    fn exact_search_matches_brute_force_and_ivf_is_close() {
        let dim = 24;
        let data = synth::clustered_vectors(600, dim, 30, 0.4, 7);
        let expect = brute(&data, dim, 5, 0.1);
        let mut t = VectorTable::new(data.clone(), dim);
        let exact = search(
            &mut t,
            &KnnParams {
                k: 5,
                floor: 0.1,
                ..Default::default()
            },
            false,
        );
        assert_eq!(exact.lists, expect);
        // the table was reordered, but lookups by index still give the same vectors
        let t0 = VectorTable::new(data.clone(), dim);
        for i in [0u32, 17, 599] {
            assert_eq!(t.get(i), t0.get(i));
        }
        let ivf_params = KnnParams {
            k: 5,
            floor: 0.1,
            exact_max: 0,
            nlist: 12,
            nprobe: 4,
        };
        let mut t2 = VectorTable::new(data, dim);
        let ivf = search(&mut t2, &ivf_params, true);
        let r = recall(&exact, &ivf);
        assert!(r > 0.9 && r <= 1.0, "recall {r}");
        assert!(ivf.lists.iter().all(|l| l.iter().all(|&(_, s)| s >= 0.1)));
    }

    #[test]
    fn ivf_is_identical_in_parallel_and_on_any_pool_size() {
        let dim = 16;
        let data = synth::clustered_vectors(900, dim, 40, 0.5, 3);
        let p = KnnParams {
            k: 4,
            floor: -1.0,
            exact_max: 0,
            nlist: 20,
            nprobe: 3,
        };
        let seq = search(&mut VectorTable::new(data.clone(), dim), &p, false);
        for w in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(w)
                .build()
                .unwrap();
            let par = pool.install(|| search(&mut VectorTable::new(data.clone(), dim), &p, true));
            assert_eq!(par, seq);
        }
    }

    #[test]
    fn pairs_are_unordered_deduplicated_and_sorted() {
        let nb = Neighbours {
            lists: vec![vec![(1, 0.9), (2, 0.5)], vec![(0, 0.9)], vec![(1, 0.7)]],
        };
        assert_eq!(nb.pairs(), vec![(0, 1), (0, 2), (1, 2)]);
    }

    #[test]
    fn tiny_inputs() {
        let mut t = VectorTable::new(Vec::new(), 4);
        assert!(search(&mut t, &KnnParams::default(), true).lists.is_empty());
        let mut t = VectorTable::new(vec![1.0, 0.0, 0.0, 0.0], 4);
        assert_eq!(
            search(&mut t, &KnnParams::default(), true).lists,
            vec![vec![]]
        );
    }
}
