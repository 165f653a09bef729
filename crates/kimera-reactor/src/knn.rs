//! Top-k nearest neighbours by cosine: exact for small stores, an inverted-file index
//! (IVF: spherical k-means lists, probe the `nprobe` nearest lists) for large ones.
//!
//! Why IVF and not HNSW: a parallel HNSW build inserts points in whatever order the
//! threads reach them, so the graph — and the candidates, and the scars — would change
//! with the number of workers (`examples/hnsw_vs_ivf.rs` measures both; see
//! docs/benchmarks.md). Every step here is a pure function of the vectors: k-means
//! starts from a seeded sample and sums in a fixed order; each query's top-k is chosen by
//! the total order (score desc, index asc), so the set does not depend on which list was
//! scanned first. Work is split into tasks whose boundaries depend only on the data,
//! never on the pool size. Exact search is the same code with one list.
//!
//! All similarity scores come from blocked matrix products (candle's CPU matmul, i.e. the
//! `gemm` crate, which picks AVX2/FMA or SSE kernels at run time): a block of queries
//! times a segment of a list, a block of vectors times the centroids. gemm may round
//! differently from a scalar dot product in the last bits, but a product's value depends
//! only on the shapes of the blocks, and those depend only on the data — so every
//! worker count and chunk size sees the same scores and picks the same neighbours.
//!
//! Vectors are kept row-major in list order (members of one list are contiguous), so a
//! list segment is one slice; the queries probing it are gathered into one block.

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;

use crate::ReactorError;

/// Queries per matrix product (fixed, so tasks never depend on the pool size).
const QUERY_TILE: usize = 256;
/// Rows of a list per matrix product: bounds a product to QUERY_TILE × SEGMENT scores
/// (2 MB) however large the list (an exact search is one list of every vector).
const SEGMENT: usize = 2048;
/// Segments searched per wave: bounds the copied segments (≤ 64k rows) and the partial
/// results (≤ WAVE_PROBES queries × k) held at once.
const WAVE_ROWS: usize = 1 << 16;
const WAVE_PROBES: usize = 1 << 18;
/// Seed of the k-means sample: fixed, so the index is the same on every run.
const KMEANS_SEED: u64 = 0x6b69_6d65_7261;
/// Vectors per block when vectors are assigned to their lists: a distributed [`probe`]
/// cuts the vectors at multiples of this, so its blocks (and products) are the ones
/// [`search`] computes.
pub const PROBE_BLOCK: usize = 2 * QUERY_TILE;

/// Dot product with 8 independent lanes summed in a fixed order: the cosine of a scored
/// pair (vectors are unit length). Not used to rank candidates — products do that.
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

/// `rows × dim` row-major values as a matrix for [`products`] (takes the buffer, no copy).
pub fn matrix(data: Vec<f32>, dim: usize) -> Result<Tensor, ReactorError> {
    let rows = data.len() / dim.max(1);
    Ok(Tensor::from_vec(data, (rows, dim), &Device::Cpu)?)
}

/// `queries · rowsᵀ` as `queries.rows × rows.rows` row-major scores: one blocked matrix
/// product. The one similarity kernel of the search, so all callers agree bit for bit.
pub fn products(queries: &Tensor, rows: &Tensor) -> Result<Vec<f32>, ReactorError> {
    Ok(queries
        .matmul(&rows.t()?)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}

/// Parameters of a neighbour search.
#[derive(Debug, Clone, PartialEq)]
pub struct KnnParams {
    /// Neighbours per geoid.
    pub k: usize,
    /// Neighbours with cosine below this are dropped (vector and lexical ones). 0.4 by
    /// default: on SICK train 17 of 641 contradictions are out of reach at 0.5 (see
    /// [`crate::lexical::DEFAULT_K`], chosen with it).
    pub floor: f32,
    /// Stores with at most this many vectors are searched exactly.
    pub exact_max: usize,
    /// Number of IVF lists (0 = `2·√n`).
    pub nlist: usize,
    /// Lists probed per query.
    pub nprobe: usize,
    /// Neighbours per geoid from the lexical channel ([`crate::lexical`]), added to the
    /// vector neighbours (0 = vectors only).
    pub lexical_k: usize,
}

impl Default for KnnParams {
    fn default() -> Self {
        KnnParams {
            k: 10,
            floor: 0.4,
            exact_max: 5_000,
            nlist: 0,
            nprobe: 8,
            lexical_k: crate::lexical::DEFAULT_K,
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

    /// Takes `n × dim` row-major vectors that are unit length already (rows of another
    /// table), unchanged: normalising them again could move their last bits.
    pub fn from_unit(data: Vec<f32>, dim: usize) -> Self {
        assert!(dim > 0 && data.len() % dim == 0, "ragged vector table");
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

/// The vectors `ids` back to back, as the rows of one matrix.
fn gather(table: &VectorTable, ids: &[u32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(ids.len() * table.dim);
    for &i in ids {
        out.extend_from_slice(table.get(i));
    }
    out
}

/// Spherical k-means on a seeded sample; returns `nlist × dim` unit centroids.
fn kmeans(table: &VectorTable, nlist: usize, parallel: bool) -> Result<Vec<f32>, ReactorError> {
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
    for _ in 0..6 {
        let cm = matrix(centroids.clone(), dim)?;
        let assign = nearest_lists(table, &sample, &cm, 1, parallel)?;
        let mut sums = vec![0f64; nlist * dim];
        let mut counts = vec![0u32; nlist];
        for (&i, &c) in sample.iter().zip(&assign) {
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
    Ok(centroids)
}

/// For each vector of `ids`, the `m` centroids most similar to it, best first (ties:
/// lower list), flat: `ids.len() × m`. Always `m` of them (`m` ≤ the number of
/// centroids): a NaN score ranks last instead of being dropped.
fn nearest_lists(
    table: &VectorTable,
    ids: &[u32],
    centroids: &Tensor,
    m: usize,
    parallel: bool,
) -> Result<Vec<u32>, ReactorError> {
    let blocks: Vec<&[u32]> = ids.chunks(2 * QUERY_TILE).collect();
    let parts = map_items(&blocks, parallel, |b| -> Result<Vec<u32>, ReactorError> {
        let s = products(&matrix(gather(table, b), table.dim)?, centroids)?;
        let nc = s.len() / b.len();
        let mut out = Vec::with_capacity(b.len() * m);
        for row in s.chunks_exact(nc) {
            let mut top = TopK::new(m, f32::NEG_INFINITY);
            for (j, &x) in row.iter().enumerate() {
                top.push(j as u32, if x.is_nan() { f32::NEG_INFINITY } else { x });
            }
            out.extend(top.items.iter().map(|&(l, _)| l));
        }
        Ok(out)
    });
    let mut out = Vec::with_capacity(ids.len() * m);
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
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

/// The `nlist × dim` unit centroids [`search`] fits for `nlist` lists (spherical k-means
/// on a seeded sample): the first step of a search cut into pieces (a distributed run).
pub fn fit_centroids(
    table: &VectorTable,
    nlist: usize,
    parallel: bool,
) -> Result<Vec<f32>, ReactorError> {
    kmeans(table, nlist, parallel)
}

/// The `nprobe` lists each vector of `table` searches, best first (the first is the list
/// it belongs to), flat: `len × nprobe`. The vectors are cut into blocks of
/// [`PROBE_BLOCK`]: a caller that splits a table must split it at multiples of it to get
/// what [`search`] gets.
pub fn probe(
    table: &VectorTable,
    centroids: &[f32],
    nprobe: usize,
    parallel: bool,
) -> Result<Vec<u32>, ReactorError> {
    let ids: Vec<u32> = (0..table.len() as u32).collect();
    let cm = matrix(centroids.to_vec(), table.dim)?;
    nearest_lists(table, &ids, &cm, nprobe, parallel)
}

/// Searches one IVF list: for each query (ascending ids, vectors back to back) the best
/// `k` of the list's rows (ascending ids, vectors back to back), cosine ≥ `floor`, the
/// query itself left out. The products are cut as [`search`] cuts them (segments of
/// [`SEGMENT`] rows from the list's start, tiles of [`QUERY_TILE`] queries), so the
/// scores are bit for bit the ones it sees; merging every list's result with
/// [`Merge`] gives its neighbours.
#[allow(clippy::too_many_arguments)]
pub fn search_list(
    rows: &[f32],
    row_ids: &[u32],
    queries: &[f32],
    query_ids: &[u32],
    dim: usize,
    k: usize,
    floor: f32,
    parallel: bool,
) -> Result<Vec<Vec<(u32, f32)>>, ReactorError> {
    let (nr, nq) = (row_ids.len(), query_ids.len());
    if rows.len() != nr * dim || queries.len() != nq * dim {
        return Err(ReactorError::InvalidConfig(format!(
            "search_list: {} row values for {nr} rows and {} query values for {nq} queries of {dim} dimensions",
            rows.len(),
            queries.len()
        )));
    }
    let mut tasks: Vec<(usize, usize, usize, usize)> = Vec::new();
    for r0 in (0..nr).step_by(SEGMENT) {
        for q0 in (0..nq).step_by(QUERY_TILE) {
            tasks.push((r0, (r0 + SEGMENT).min(nr), q0, (q0 + QUERY_TILE).min(nq)));
        }
    }
    let parts = map_items(&tasks, parallel, |&(r0, r1, q0, q1)| {
        let seg = matrix(rows[r0 * dim..r1 * dim].to_vec(), dim)?;
        let scores = products(&matrix(queries[q0 * dim..q1 * dim].to_vec(), dim)?, &seg)?;
        let best: Vec<Vec<(u32, f32)>> = query_ids[q0..q1]
            .iter()
            .zip(scores.chunks_exact(r1 - r0))
            .map(|(&q, row)| {
                let mut top = TopK::new(k, floor);
                for (&idx, &x) in row_ids[r0..r1].iter().zip(row) {
                    if idx != q {
                        top.push(idx, x);
                    }
                }
                top.items
            })
            .collect();
        Ok::<_, ReactorError>(best)
    });
    let mut tops: Vec<TopK> = (0..nq).map(|_| TopK::new(k, floor)).collect();
    for (&(_, _, q0, _), part) in tasks.iter().zip(parts) {
        for (j, best) in part?.into_iter().enumerate() {
            for (idx, x) in best {
                tops[q0 + j].push(idx, x);
            }
        }
    }
    Ok(tops.into_iter().map(|t| t.items).collect())
}

/// Merges partial neighbour lists (one per list a query probed, in any order) into each
/// query's top-k: the total order (score desc, index asc) makes the order irrelevant.
#[derive(Debug)]
pub struct Merge {
    tops: Vec<TopK>,
}

impl Merge {
    pub fn new(n: usize, k: usize, floor: f32) -> Self {
        Merge {
            tops: (0..n).map(|_| TopK::new(k, floor)).collect(),
        }
    }

    /// Adds candidates for query `q`; a query outside `0..n` is an error.
    pub fn add(&mut self, q: u32, items: &[(u32, f32)]) -> Result<(), ReactorError> {
        let top = self.tops.get_mut(q as usize).ok_or_else(|| {
            ReactorError::InvalidConfig(format!("merge: query {q} is not among the vectors"))
        })?;
        for &(idx, x) in items {
            top.push(idx, x);
        }
        Ok(())
    }

    pub fn finish(self) -> Neighbours {
        Neighbours {
            lists: self.tops.into_iter().map(|t| t.items).collect(),
        }
    }
}

/// Finds each vector's top-k neighbours (cosine ≥ floor). Reorders `table` into list
/// order. `parallel` maps the tasks on the current rayon pool, otherwise on this thread;
/// the result is identical. (The products may split a large block over the current
/// pool either way: run inside a one-thread pool to use one core.)
///
/// How: each vector probes its `nprobe` nearest lists (the first is its own). Lists are
/// cut into segments of at most [`SEGMENT`] rows; a task multiplies a tile of the
/// queries probing a segment by that segment and keeps each query's best k. Tasks run a
/// wave of segments at a time, and their best-k are merged into each query's top-k —
/// a total order, so the merge order does not matter.
pub fn search(
    table: &mut VectorTable,
    p: &KnnParams,
    parallel: bool,
) -> Result<Neighbours, ReactorError> {
    let n = table.len();
    let dim = table.dim;
    if n == 0 {
        return Ok(Neighbours { lists: Vec::new() });
    }
    let (nlist, nprobe) = plan(n, p);

    // probes[i * nprobe..]: the lists vector i searches; its first is the list it belongs to
    let probes: Vec<u32> = if nlist == 1 {
        vec![0; n]
    } else {
        let centroids = matrix(kmeans(table, nlist, parallel)?, dim)?;
        let ids: Vec<u32> = (0..n as u32).collect();
        nearest_lists(table, &ids, &centroids, nprobe, parallel)?
    };

    // list order: by (list, index); list_start[l]..list_start[l+1] are its rows
    let mut list_start = vec![0usize; nlist + 1];
    for i in 0..n {
        list_start[probes[i * nprobe] as usize + 1] += 1;
    }
    for l in 0..nlist {
        list_start[l + 1] += list_start[l];
    }
    let mut next = list_start.clone();
    let mut order = vec![0u32; n];
    for i in 0..n {
        let l = probes[i * nprobe] as usize;
        order[next[l]] = i as u32;
        next[l] += 1;
    }
    table.reorder(order);

    // the queries probing each list, ascending: probers[probe_start[l]..probe_start[l+1]]
    let mut probe_start = vec![0usize; nlist + 1];
    for &l in &probes {
        probe_start[l as usize + 1] += 1;
    }
    for l in 0..nlist {
        probe_start[l + 1] += probe_start[l];
    }
    let mut next = probe_start.clone();
    let mut probers = vec![0u32; probes.len()];
    for (j, &l) in probes.iter().enumerate() {
        probers[next[l as usize]] = (j / nprobe) as u32;
        next[l as usize] += 1;
    }
    drop(probes);

    // segments: (list, first row, end row)
    let mut segments: Vec<(usize, usize, usize)> = Vec::new();
    for l in 0..nlist {
        let mut r = list_start[l];
        while r < list_start[l + 1] {
            let e = (r + SEGMENT).min(list_start[l + 1]);
            segments.push((l, r, e));
            r = e;
        }
    }

    let mut tops: Vec<TopK> = (0..n).map(|_| TopK::new(p.k, p.floor)).collect();
    let t: &VectorTable = table;
    let mut w0 = 0;
    while w0 < segments.len() {
        let (mut w1, mut rows, mut queries) = (w0, 0, 0);
        while w1 < segments.len() {
            let (l, r0, r1) = segments[w1];
            let q = probe_start[l + 1] - probe_start[l];
            if w1 > w0 && (rows + r1 - r0 > WAVE_ROWS || queries + q > WAVE_PROBES) {
                break;
            }
            rows += r1 - r0;
            queries += q;
            w1 += 1;
        }
        let wave = &segments[w0..w1];
        let mats = map_items(wave, parallel, |&(_, r0, r1)| {
            matrix(t.data[r0 * dim..r1 * dim].to_vec(), dim)
        })
        .into_iter()
        .collect::<Result<Vec<Tensor>, _>>()?;
        // tasks: (segment of the wave, first prober, end prober)
        let mut tasks: Vec<(usize, usize, usize)> = Vec::new();
        for (si, &(l, _, _)) in wave.iter().enumerate() {
            let mut q = probe_start[l];
            while q < probe_start[l + 1] {
                let e = (q + QUERY_TILE).min(probe_start[l + 1]);
                tasks.push((si, q, e));
                q = e;
            }
        }
        let parts = map_items(&tasks, parallel, |&(si, q0, q1)| {
            let (_, r0, r1) = wave[si];
            let qs = &probers[q0..q1];
            let scores = products(&matrix(gather(t, qs), dim)?, &mats[si])?;
            let best: Vec<Vec<(u32, f32)>> = qs
                .iter()
                .zip(scores.chunks_exact(r1 - r0))
                .map(|(&q, row)| {
                    let mut top = TopK::new(p.k, p.floor);
                    for (&idx, &x) in t.index_of[r0..r1].iter().zip(row) {
                        if idx != q {
                            top.push(idx, x);
                        }
                    }
                    top.items
                })
                .collect();
            Ok::<_, ReactorError>(best)
        });
        for (&(_, q0, q1), part) in tasks.iter().zip(parts) {
            for (&q, best) in probers[q0..q1].iter().zip(part?) {
                let top = &mut tops[q as usize];
                for (idx, x) in best {
                    top.push(idx, x);
                }
            }
        }
        w0 = w1;
    }
    Ok(Neighbours {
        lists: tops.into_iter().map(|t| t.items).collect(),
    })
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
    fn products_agree_with_dot_products() {
        let dim = 37;
        let v = synth::clustered_vectors(9, dim, 2, 0.3, 1);
        let q = matrix(v[..2 * dim].to_vec(), dim).unwrap();
        let r = matrix(v[2 * dim..].to_vec(), dim).unwrap();
        let s = products(&q, &r).unwrap();
        assert_eq!(s.len(), 2 * 7);
        for i in 0..2 {
            for j in 0..7 {
                let d = dot8(&v[i * dim..(i + 1) * dim], &v[(2 + j) * dim..(3 + j) * dim]);
                assert!((s[i * 7 + j] - d).abs() < 1e-5, "{} vs {d}", s[i * 7 + j]);
            }
        }
        assert!((dot8(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]) - 32.0).abs() < 1e-6);
    }

    /// Neighbour lists as indices, and whether each score is within 1e-5 of `expect`'s.
    fn same_neighbours(got: &Neighbours, expect: &[Vec<(u32, f32)>]) {
        assert_eq!(got.lists.len(), expect.len());
        for (q, (g, e)) in got.lists.iter().zip(expect).enumerate() {
            let gi: Vec<u32> = g.iter().map(|x| x.0).collect();
            let ei: Vec<u32> = e.iter().map(|x| x.0).collect();
            assert_eq!(gi, ei, "query {q}");
            assert!(g.iter().zip(e).all(|(a, b)| (a.1 - b.1).abs() < 1e-5));
        }
    }

    #[test]
    fn exact_search_matches_brute_force_and_ivf_is_close() {
        let dim = 24;
        let data = synth::clustered_vectors(600, dim, 30, 0.4, 7);
        let expect = brute(&data, dim, 5, 0.1);
        let mut t = VectorTable::new(data.clone(), dim);
        let params = KnnParams {
            k: 5,
            floor: 0.1,
            ..Default::default()
        };
        let exact = search(&mut t, &params, false).unwrap();
        same_neighbours(&exact, &expect);
        // the table was reordered, but lookups by index still give the same vectors
        let t0 = VectorTable::new(data.clone(), dim);
        for i in [0u32, 17, 599] {
            assert_eq!(t.get(i), t0.get(i));
        }
        // more rows than a segment: the best k are merged across segments
        let big = synth::clustered_vectors(SEGMENT + 300, 8, 40, 0.5, 9);
        let mut tb = VectorTable::new(big.clone(), 8);
        let p = KnnParams {
            exact_max: usize::MAX,
            ..params.clone()
        };
        same_neighbours(&search(&mut tb, &p, true).unwrap(), &brute(&big, 8, 5, 0.1));

        let ivf_params = KnnParams {
            k: 5,
            floor: 0.1,
            exact_max: 0,
            nlist: 12,
            nprobe: 4,
            lexical_k: 0,
        };
        let mut t2 = VectorTable::new(data, dim);
        let ivf = search(&mut t2, &ivf_params, true).unwrap();
        let r = recall(&exact, &ivf);
        assert!(r > 0.9 && r <= 1.0, "recall {r}");
        assert!(ivf.lists.iter().all(|l| l.iter().all(|&(_, s)| s >= 0.1)));
    }

    /// `search` cut the way a distributed run cuts it: centroids once, the vectors
    /// probed in parts, each list searched alone, the lists merged.
    fn search_in_pieces(data: &[f32], dim: usize, p: &KnnParams) -> Neighbours {
        let t = VectorTable::new(data.to_vec(), dim);
        let n = t.len();
        let (nlist, nprobe) = plan(n, p);
        let probes = if nlist == 1 {
            vec![0; n]
        } else {
            let c = fit_centroids(&t, nlist, false).unwrap();
            let mut out = Vec::new();
            for start in (0..n).step_by(2 * PROBE_BLOCK) {
                let ids: Vec<u32> =
                    (start as u32..(start + 2 * PROBE_BLOCK).min(n) as u32).collect();
                let sub = VectorTable::from_unit(gather(&t, &ids), dim);
                out.extend(probe(&sub, &c, nprobe, true).unwrap());
            }
            out
        };
        let mut merge = Merge::new(n, p.k, p.floor);
        // the lists in reverse: the merge order does not matter
        for l in (0..nlist as u32).rev() {
            let members: Vec<u32> = (0..n as u32)
                .filter(|&i| probes[i as usize * nprobe] == l)
                .collect();
            let queries: Vec<u32> = (0..n as u32)
                .filter(|&i| probes[i as usize * nprobe..(i as usize + 1) * nprobe].contains(&l))
                .collect();
            let found = search_list(
                &gather(&t, &members),
                &members,
                &gather(&t, &queries),
                &queries,
                dim,
                p.k,
                p.floor,
                l % 2 == 0,
            )
            .unwrap();
            for (&q, best) in queries.iter().zip(found) {
                merge.add(q, &best).unwrap();
            }
        }
        merge.finish()
    }

    #[test]
    fn search_cut_into_lists_and_merged_is_search() {
        let dim = 16;
        let data = synth::clustered_vectors(SEGMENT + 700, dim, 40, 0.5, 5);
        for (exact_max, nlist, nprobe) in [(usize::MAX, 0, 1), (0, 7, 3), (0, 0, 8)] {
            let p = KnnParams {
                k: 6,
                floor: 0.2,
                exact_max,
                nlist,
                nprobe,
                lexical_k: 0,
            };
            let whole = search(&mut VectorTable::new(data.clone(), dim), &p, true).unwrap();
            assert!(whole.lists.iter().any(|l| !l.is_empty()));
            assert_eq!(search_in_pieces(&data, dim, &p), whole, "{p:?}");
        }
        let mut m = Merge::new(2, 3, 0.0);
        assert!(m.add(2, &[(0, 1.0)]).is_err());
    }

    #[test]
    fn ties_are_broken_by_index() {
        // 30 copies of one vector and 30 of another: every score is an exact tie
        let dim = 16;
        let mut data = Vec::new();
        for i in 0..60 {
            let mut v = vec![0f32; dim];
            v[if i % 2 == 0 { 0 } else { 5 }] = 1.0;
            data.extend(v);
        }
        for exact_max in [usize::MAX, 0] {
            let p = KnnParams {
                k: 3,
                floor: 0.5,
                exact_max,
                nlist: 2,
                nprobe: 1,
                lexical_k: 0,
            };
            let nb = search(&mut VectorTable::new(data.clone(), dim), &p, true).unwrap();
            assert_eq!(nb.lists[0], vec![(2, 1.0), (4, 1.0), (6, 1.0)]);
            assert_eq!(nb.lists[7], vec![(1, 1.0), (3, 1.0), (5, 1.0)]);
            assert_eq!(nb.lists[58], vec![(0, 1.0), (2, 1.0), (4, 1.0)]);
        }
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
            lexical_k: 0,
        };
        let seq = search(&mut VectorTable::new(data.clone(), dim), &p, false).unwrap();
        for w in [1, 2, 3, 8] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(w)
                .build()
                .unwrap();
            let par = pool
                .install(|| search(&mut VectorTable::new(data.clone(), dim), &p, true).unwrap());
            assert_eq!(par, seq, "{w} workers");
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
        assert!(
            search(&mut t, &KnnParams::default(), true)
                .unwrap()
                .lists
                .is_empty()
        );
        let mut t = VectorTable::new(vec![1.0, 0.0, 0.0, 0.0], 4);
        assert_eq!(
            search(&mut t, &KnnParams::default(), true).unwrap().lists,
            vec![vec![]]
        );
        // a NaN vector finds nothing and is found by nobody; the others are unaffected
        let mut t = VectorTable::new(vec![1.0, 0.0, f32::NAN, 0.0, 0.9, 0.1], 2);
        let p = KnnParams {
            floor: -1.0,
            exact_max: 0,
            nlist: 2,
            nprobe: 2,
            ..KnnParams::default()
        };
        let nb = search(&mut t, &p, false).unwrap();
        assert_eq!(nb.lists[1], vec![]);
        assert_eq!(nb.lists[0].iter().map(|x| x.0).collect::<Vec<_>>(), [2]);
    }
}
