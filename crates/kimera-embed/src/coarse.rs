//! An int8 copy of a [`crate::VectorIndex`]'s rows that rules most rows out of a query's
//! top k before the exact scan, without changing its answer.
//!
//! Why: an exact scan reads every row in f32 (150 MB at 100k rows of 384 floats) and
//! multiplies it with the query; a check of 32 new statements did that 32 times. The
//! int8 copy is a quarter of the size and its products run on AVX-512 VNNI, 64
//! multiply-adds an instruction (see [`crate::int8`]).
//!
//! How the answer stays exact: for a query `x` and a row `v`, the int8 product `A`
//! differs from the real product by at most
//! `B = ‖x‖·‖v − v̂‖ + ‖x − x̂‖·‖v̂‖` (Cauchy–Schwarz on `x·v − x̂·v̂ = x·(v − v̂) + (x − x̂)·v̂`,
//! where `x̂`, `v̂` are the dequantised vectors), widened by a margin far above every
//! float rounding of `A`, `B` and of the f32 dot product itself. So each row's exact
//! score lies in `[A − B, A + B]`. With `τ` the k-th largest lower end, a row whose upper
//! end is below `τ` has k rows strictly better than it and cannot be in the top k
//! whatever the ties; every other row is scored exactly with [`kimera_core::dot`] and
//! ranked as the plain scan ranks — the same rows, cosines and order, bit for bit.

use crate::int8::{QLinear, dequantized_rows, has_vnni};

/// Rows per int8 segment; rows beyond the last full segment are scored exactly.
#[cfg(not(test))]
pub(crate) const SEGMENT: usize = 4096;
#[cfg(test)]
pub(crate) const SEGMENT: usize = 256;

/// Relative widening of every bound: orders of magnitude above the float roundings
/// (each below 1e-5 relative for 384 dimensions), far below the bound itself (~1e-2).
const MARGIN: f32 = 1e-3;

/// One segment of [`SEGMENT`] rows, quantised.
pub(crate) struct Segment {
    q: QLinear,
    /// Per row: an upper bound of `‖v − v̂‖`.
    err: Vec<f32>,
    /// Per row: an upper bound of both `‖v̂‖` and `‖v‖`.
    norm: Vec<f32>,
    /// Rows with a value that is not finite: no bound holds, always candidates.
    wild: Vec<usize>,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("rows", &self.err.len())
            .finish_non_exhaustive()
    }
}

impl Segment {
    /// Quantises `rows` (row-major, `dim` wide, [`SEGMENT`] of them).
    pub(crate) fn new(rows: &[f32], dim: usize) -> Segment {
        let n = rows.len() / dim;
        // QLinear takes `[in, out]`: one column per row of the index
        let mut t = vec![0f32; rows.len()];
        for (r, v) in rows.chunks_exact(dim).enumerate() {
            for (i, &x) in v.iter().enumerate() {
                t[i * n + r] = x;
            }
        }
        let q = QLinear::new(&t, dim, n);
        let mut err = Vec::with_capacity(n);
        let mut norm = Vec::with_capacity(n);
        let mut wild = Vec::new();
        for (r, v) in rows.chunks_exact(dim).enumerate() {
            if !v.iter().all(|x| x.is_finite()) {
                wild.push(r);
                err.push(0.0);
                norm.push(0.0);
                continue;
            }
            let hat = q.column(r);
            let (mut e, mut h, mut o) = (0f64, 0f64, 0f64);
            for (&a, &b) in v.iter().zip(&hat) {
                let (a, b) = (f64::from(a), f64::from(b));
                e += (a - b) * (a - b);
                h += b * b;
                o += a * a;
            }
            err.push(up(e.sqrt()));
            norm.push(up(h.sqrt().max(o.sqrt())));
        }
        Segment { q, err, norm, wild }
    }
}

/// `x` as an f32 not below it.
fn up(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x {
        f32::from_bits(f.to_bits() + 1)
    } else {
        f
    }
}

/// For each query (`(vector, k)`, `k > 0`, vectors `dim` wide) the rows of `segments`
/// that may be among its `k` best: every row except those the bounds rule out. Rows of
/// segment `s` are numbered from `s · SEGMENT`.
pub(crate) fn candidates(
    segments: &[std::sync::Arc<Segment>],
    dim: usize,
    queries: &[(&[f32], usize)],
) -> Vec<Vec<usize>> {
    use rayon::prelude::*;
    let m = queries.len();
    let mut x = Vec::with_capacity(m * dim);
    for (q, _) in queries {
        x.extend_from_slice(q);
    }
    // ‖x‖ and ‖x − x̂‖ with x̂ as the int8 product will see it
    let hat = dequantized_rows(&x, dim);
    let norms: Vec<(f32, f32)> = x
        .chunks_exact(dim)
        .zip(hat.chunks_exact(dim))
        .map(|(x, h)| {
            let (mut o, mut e) = (0f64, 0f64);
            for (&a, &b) in x.iter().zip(h) {
                let (a, b) = (f64::from(a), f64::from(b));
                o += a * a;
                e += (a - b) * (a - b);
            }
            (up(o.sqrt()), up(e.sqrt()))
        })
        .collect();
    // per segment and query: the k largest lower ends, and the rows not ruled out
    // within the segment with their upper ends
    type Kept = (Vec<f32>, Vec<(usize, f32)>);
    let per_segment: Vec<Vec<Kept>> = segments
        .par_iter()
        .enumerate()
        .map(|(s, seg)| {
            let n = seg.err.len();
            let a = seg.q.matmul(&x);
            let mut lower = vec![0f32; n];
            let mut upper = vec![0f32; n];
            queries
                .iter()
                .enumerate()
                .map(|(qi, &(_, k))| {
                    let (nx, nex) = norms[qi];
                    let row = &a[qi * n..][..n];
                    for c in 0..n {
                        let (e, h) = (seg.err[c], seg.norm[c]);
                        let b = (nx * e + nex * h) * (1.0 + MARGIN) + MARGIN * (nx + nex) * (h + e);
                        lower[c] = row[c] - b;
                        upper[c] = row[c] + b;
                    }
                    for &c in &seg.wild {
                        lower[c] = f32::NEG_INFINITY;
                        upper[c] = f32::INFINITY;
                    }
                    let mut best = lower.clone();
                    let tau = if k < n {
                        best.select_nth_unstable_by(k - 1, |p, q| q.total_cmp(p));
                        best.truncate(k);
                        best[k - 1]
                    } else {
                        f32::NEG_INFINITY
                    };
                    let keep: Vec<(usize, f32)> = (0..n)
                        .filter(|&c| upper[c] >= tau)
                        .map(|c| (s * SEGMENT + c, upper[c]))
                        .collect();
                    (best, keep)
                })
                .collect()
        })
        .collect();
    (0..m)
        .map(|qi| {
            let k = queries[qi].1;
            let mut best: Vec<f32> = per_segment
                .iter()
                .flat_map(|s| s[qi].0.iter().copied())
                .collect();
            let tau = if k <= best.len() {
                best.select_nth_unstable_by(k - 1, |p, q| q.total_cmp(p));
                best[k - 1]
            } else {
                f32::NEG_INFINITY
            };
            per_segment
                .iter()
                .flat_map(|s| s[qi].1.iter())
                .filter(|&&(_, u)| u >= tau)
                .map(|&(row, _)| row)
                .collect()
        })
        .collect()
}

/// Whether the int8 prefilter pays here: on CPUs with VNNI (elsewhere its portable
/// kernel is slower than the f32 scan it would save).
pub(crate) fn worth_it() -> bool {
    has_vnni()
}
