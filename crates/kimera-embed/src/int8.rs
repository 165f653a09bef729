//! int8 linear layers for `--precision int8`: dynamic quantisation of the activations,
//! weights quantised once at load, products summed in exact i32 arithmetic by AVX-512
//! VNNI (`vpdpbusd`, 64 multiply-adds an instruction against 16 for an f32 FMA), with a
//! portable scalar fallback that gives the same bits.
//!
//! Why a kernel of our own (measured by `examples/int8_matmul.rs`, figures in
//! docs/benchmarks.md): candle 0.11's `QMatMul` with Q8_0 weights takes its VNNI path only
//! when the reduction length is a multiple of 256 (MiniLM's is 384 in three of its four
//! linear layers) and otherwise runs AVX2 dot products; both paths spread every product
//! over candle's global spinning thread pool, the one the encoder avoids (see `bert.rs`):
//! measured 0.1× the f32 speed (release). candle's bf16 matmul measured 0.45–1.1×; gemm
//! has no integer kernels.
//!
//! Scales: one per group of [`G`] consecutive inputs, per token row for the activations
//! and per output column for the weights (Q8_0's granularity, with larger groups). One
//! scale per whole row was not accurate enough: BERT's hidden states have a few outlier
//! dimensions that take the whole 8-bit range of a row (worst cosine to f32 on the parity
//! fixture 0.975; 0.997 with groups of 64, 0.993 with 128).
//!
//! Maths, per group: `x ≈ sx·qx` (qx in -127..=127, stored as `qx + 128` in u8 because
//! `vpdpbusd` multiplies unsigned by signed bytes), `w ≈ sw·qw`, so
//! `x·w ≈ Σ_groups sx·sw·(Σ (qx+128)·qw − 128·Σ qw)`. The integer sums are exact and the
//! groups are added in a fixed order, so results are bit-identical whatever the batch and
//! thread count, with or without VNNI.

use rayon::prelude::*;

/// Columns per packed panel: four 16-lane i32 accumulators.
const NR: usize = 64;
/// Rows per micro-kernel call: 6 × 4 = 24 accumulators of the 32 zmm registers.
const MR: usize = 6;
/// Inputs per quantisation group (a multiple of 4).
const G: usize = 64;
/// Rows per parallel task.
const ROWS_PER_TASK: usize = 8 * MR;

/// A linear layer's weight matrix `[k, n]` (in, out) quantised to int8 and packed for the
/// kernel: panels of 64 columns, each `[k/4][64 columns][4 consecutive k]`.
pub(crate) struct QLinear {
    k: usize,
    n: usize,
    /// `k` rounded up to a multiple of 4 (padding weights are 0).
    kp: usize,
    /// Number of groups of [`G`] inputs.
    groups: usize,
    packed: Vec<i8>,
    /// Weight scale per group and column, `[groups][np]` (`np`: `n` rounded up to
    /// [`NR`]).
    scale: Vec<f32>,
    /// `128 · Σ_group qw[k][c]`, `[groups][np]`: the offset of the unsigned activations,
    /// taken back out.
    corr: Vec<i32>,
}

impl QLinear {
    /// Quantises `w`, row-major `[k, n]`.
    pub(crate) fn new(w: &[f32], k: usize, n: usize) -> QLinear {
        assert_eq!(w.len(), k * n, "weight matrix is not {k}×{n}");
        let kp = k.div_ceil(4) * 4;
        let np = n.div_ceil(NR) * NR;
        let groups = k.div_ceil(G);
        let mut packed = vec![0i8; np * kp];
        let mut scale = vec![1f32; groups * np];
        let mut corr = vec![0i32; groups * np];
        for c in 0..n {
            let (panel, cc) = (c / NR, c % NR);
            for g in 0..groups {
                let rows = g * G..k.min(g * G + G);
                let amax = rows
                    .clone()
                    .map(|r| w[r * n + c].abs())
                    .fold(0f32, f32::max);
                let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
                let inv = 1.0 / s;
                let mut sum = 0i32;
                for r in rows {
                    let q = (w[r * n + c] * inv).round().clamp(-127.0, 127.0) as i8;
                    sum += i32::from(q);
                    packed[panel * kp * NR + (r / 4) * 4 * NR + cc * 4 + r % 4] = q;
                }
                scale[g * np + c] = s;
                corr[g * np + c] = 128 * sum;
            }
        }
        QLinear {
            k,
            n,
            kp,
            groups,
            packed,
            scale,
            corr,
        }
    }

    /// `x · w` for `x` row-major `[m, k]`; returns `[m, n]`. Rows are split over the
    /// current rayon pool when there are enough of them.
    pub(crate) fn matmul(&self, x: &[f32]) -> Vec<f32> {
        let (k, n) = (self.k, self.n);
        assert_eq!(x.len() % k.max(1), 0, "input is not a multiple of {k} wide");
        let m = x.len() / k.max(1);
        let mut out = vec![0f32; m * n];
        if m == 0 || n == 0 {
            return out;
        }
        let vnni = has_vnni();
        let run = |x: &[f32], out: &mut [f32]| {
            let (qx, sx) = quantize_rows(x, k, self.kp);
            self.rows(&qx, &sx, out, vnni);
        };
        if m <= ROWS_PER_TASK {
            run(x, &mut out);
        } else {
            x.par_chunks(ROWS_PER_TASK * k)
                .zip(out.par_chunks_mut(ROWS_PER_TASK * n))
                .for_each(|(x, out)| run(x, out));
        }
        out
    }

    /// Column `c` of the weights as the kernel multiplies them (dequantised: each int8
    /// weight times its group's scale), for bounding the quantisation error.
    pub(crate) fn column(&self, c: usize) -> Vec<f32> {
        let np = self.scale.len() / self.groups;
        let (panel, cc) = (c / NR, c % NR);
        (0..self.k)
            .map(|r| {
                let q = self.packed[panel * self.kp * NR + (r / 4) * 4 * NR + cc * 4 + r % 4];
                f32::from(q) * self.scale[(r / G) * np + c]
            })
            .collect()
    }

    /// Products of quantised rows `qx` (`[rows, kp]`, offset by 128; `sx` their scales,
    /// `[rows][groups]`) with every panel: for each group, the kernel over all row blocks
    /// (the panel's group, 4 KB, stays in L1), each adding its scaled integer sums to the
    /// block's f32 accumulators.
    fn rows(&self, qx: &[u8], sx: &[f32], out: &mut [f32], vnni: bool) {
        let (kp, n, groups) = (self.kp, self.n, self.groups);
        let np = self.scale.len() / groups;
        let m = sx.len() / groups;
        let blocks = m.div_ceil(MR);
        let mut facc = vec![[[0f32; NR]; MR]; blocks];
        for (p, panel) in self.packed.chunks_exact(kp * NR).enumerate() {
            let c0 = p * NR;
            facc.iter_mut()
                .for_each(|b| b.iter_mut().for_each(|r| r.fill(0.0)));
            for g in 0..groups {
                let k0 = g * G;
                let kc = G.min(kp - k0);
                let w = &panel[k0 * NR..(k0 + kc) * NR];
                let sw = &self.scale[g * np + c0..][..NR];
                let corr = &self.corr[g * np + c0..][..NR];
                for (b, facc) in facc.iter_mut().enumerate() {
                    let r0 = b * MR;
                    let mr = MR.min(m - r0);
                    let blk = Block {
                        a: &qx[r0 * kp + k0..],
                        kp,
                        kc,
                        mr,
                        w,
                        sx: &sx[r0 * groups + g..],
                        groups,
                        sw,
                        corr,
                    };
                    #[cfg(target_arch = "x86_64")]
                    #[allow(unsafe_code)]
                    if vnni {
                        // SAFETY: `has_vnni` checked the CPU features at run time; the
                        // block's slices have the sizes `Block::check` asserts.
                        unsafe { x86::block(&blk, facc) };
                    } else {
                        block_scalar(&blk, facc);
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    {
                        let _ = vnni;
                        block_scalar(&blk, facc);
                    }
                }
            }
            let width = NR.min(n - c0);
            for (b, facc) in facc.iter().enumerate() {
                let r0 = b * MR;
                for (r, acc) in facc.iter().enumerate().take(MR.min(m - r0)) {
                    out[(r0 + r) * n + c0..][..width].copy_from_slice(&acc[..width]);
                }
            }
        }
    }
}

/// Whether the AVX-512 VNNI kernel can run here (checked once per call; the check is a
/// cached atomic load). Without it the scalar kernel runs: same vectors, several times
/// slower than f32.
pub(crate) fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Symmetric quantisation per row and group of [`G`]: `qx + 128` as u8 rows padded to
/// `kp` (padding is the code of 0, and meets zero weights anyway), and the scales,
/// `[rows][groups]`.
fn quantize_rows(x: &[f32], k: usize, kp: usize) -> (Vec<u8>, Vec<f32>) {
    // Adding 1.5·2²³ rounds to an integer (ties to even) held in the low mantissa bits:
    // no call to `roundf` (the baseline x86-64 target has no rounding instruction, and
    // the call took 10% of an int8 run), and the loop vectorises.
    const MAGIC: f32 = 12_582_912.0;
    let m = x.len() / k;
    let mut q = vec![128u8; m * kp];
    let mut scales = Vec::with_capacity(m * k.div_ceil(G));
    for (row, qrow) in x.chunks_exact(k).zip(q.chunks_exact_mut(kp)) {
        for (xs, qs) in row.chunks(G).zip(qrow.chunks_mut(G)) {
            // |v| as bits: for non-negative floats the integer order is the float order
            let bits = xs
                .iter()
                .fold(0u32, |a, &v| a.max(v.to_bits() & 0x7fff_ffff));
            let amax = f32::from_bits(bits);
            let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
            let inv = 1.0 / s;
            for (d, &v) in qs.iter_mut().zip(xs) {
                let r = (v * inv + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32;
                *d = (r.clamp(-127, 127) + 128) as u8;
            }
            scales.push(s);
        }
    }
    (q, scales)
}

/// Rows of `x` (`[rows, k]`) as [`QLinear::matmul`] quantises them, dequantised (each
/// int8 value times its group's scale), for bounding the quantisation error.
pub(crate) fn dequantized_rows(x: &[f32], k: usize) -> Vec<f32> {
    let kp = k.div_ceil(4) * 4;
    let groups = k.div_ceil(G);
    let (q, s) = quantize_rows(x, k, kp);
    let mut out = Vec::with_capacity(x.len());
    for (qrow, srow) in q.chunks_exact(kp).zip(s.chunks_exact(groups)) {
        for (i, &b) in qrow[..k].iter().enumerate() {
            out.push((i32::from(b) - 128) as f32 * srow[i / G]);
        }
    }
    out
}

/// One kernel call: `mr` ≤ [`MR`] quantised rows against one group of one panel.
struct Block<'a> {
    /// Row bytes from the group's start; rows `kp` apart.
    a: &'a [u8],
    kp: usize,
    /// Length of the group (a multiple of 4).
    kc: usize,
    mr: usize,
    /// The panel's group, `kc · NR` bytes.
    w: &'a [i8],
    /// The rows' scales of this group, rows `groups` apart.
    sx: &'a [f32],
    groups: usize,
    /// The columns' scales and corrections of this group.
    sw: &'a [f32],
    corr: &'a [i32],
}

impl Block<'_> {
    /// The sizes the kernels rely on (the SIMD one reads through raw pointers).
    fn check(&self) {
        assert!((1..=MR).contains(&self.mr) && self.kc.is_multiple_of(4));
        assert!(self.a.len() >= (self.mr - 1) * self.kp + self.kc);
        assert!(self.w.len() >= self.kc * NR);
        assert!(self.sx.len() > (self.mr - 1) * self.groups);
        assert!(self.sw.len() >= NR && self.corr.len() >= NR);
    }
}

/// The reference kernel: for each row r and column j of the block,
/// `facc[r][j] = fma((Σ_t a[r][t]·w[t][j] − corr[j]) as f32, sw[j]·sx[r], facc[r][j])`,
/// the same operations in the same order as the SIMD kernel, hence the same bits.
fn block_scalar(b: &Block, facc: &mut [[f32; NR]; MR]) {
    b.check();
    for (r, facc) in facc.iter_mut().enumerate().take(b.mr) {
        let row = &b.a[r * b.kp..][..b.kc];
        let mut acc = [0i32; NR];
        for (x, w) in row.chunks_exact(4).zip(b.w.chunks_exact(4 * NR)) {
            for (j, acc) in acc.iter_mut().enumerate() {
                let w = &w[j * 4..][..4];
                *acc += (0..4)
                    .map(|t| i32::from(x[t]) * i32::from(w[t]))
                    .sum::<i32>();
            }
        }
        let sx = b.sx[r * b.groups];
        for j in 0..NR {
            let t = acc[j].wrapping_sub(b.corr[j]) as f32;
            facc[j] = t.mul_add(b.sw[j] * sx, facc[j]);
        }
    }
}

/// The one place of the workspace with `unsafe` in a library: SIMD intrinsics behind a
/// run-time CPU check (loads from raw pointers, and calling a `target_feature` function).
/// The scalar kernel above is the reference the test compares it with bit for bit.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use super::{Block, MR, NR};
    use std::arch::x86_64::*;

    /// [`super::block_scalar`] with AVX-512 VNNI.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F, BW and VNNI.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn block(b: &Block, facc: &mut [[f32; NR]; MR]) {
        b.check();
        // SAFETY: `check` asserted every size the const-generic bodies read.
        unsafe {
            match b.mr {
                6 => block_n::<6>(b, facc),
                5 => block_n::<5>(b, facc),
                4 => block_n::<4>(b, facc),
                3 => block_n::<3>(b, facc),
                2 => block_n::<2>(b, facc),
                _ => block_n::<1>(b, facc),
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn block_n<const R: usize>(b: &Block, facc: &mut [[f32; NR]; MR]) {
        let (a, w, kp) = (b.a.as_ptr(), b.w.as_ptr(), b.kp);
        let mut acc = [[_mm512_setzero_si512(); 4]; R];
        for s in 0..b.kc / 4 {
            // SAFETY: within the group (s < kc/4) and the rows (r < R = mr).
            unsafe {
                let wp = w.add(s * 4 * NR);
                let b0 = _mm512_loadu_si512(wp.cast());
                let b1 = _mm512_loadu_si512(wp.add(64).cast());
                let b2 = _mm512_loadu_si512(wp.add(128).cast());
                let b3 = _mm512_loadu_si512(wp.add(192).cast());
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_epi32(a.add(r * kp + s * 4).cast::<i32>().read_unaligned());
                    acc[0] = _mm512_dpbusd_epi32(acc[0], x, b0);
                    acc[1] = _mm512_dpbusd_epi32(acc[1], x, b1);
                    acc[2] = _mm512_dpbusd_epi32(acc[2], x, b2);
                    acc[3] = _mm512_dpbusd_epi32(acc[3], x, b3);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let sx = _mm512_set1_ps(b.sx[r * b.groups]);
            for (j, v) in acc.iter().enumerate() {
                let c = j * 16;
                // SAFETY: sw, corr and facc[r] have NR = 64 elements, c + 16 ≤ 64.
                unsafe {
                    let corr = _mm512_loadu_si512(b.corr[c..].as_ptr().cast());
                    let sw = _mm512_loadu_ps(b.sw[c..].as_ptr());
                    let t = _mm512_cvtepi32_ps(_mm512_sub_epi32(*v, corr));
                    let f = facc[r][c..].as_mut_ptr();
                    _mm512_storeu_ps(
                        f,
                        _mm512_fmadd_ps(t, _mm512_mul_ps(sw, sx), _mm512_loadu_ps(f)),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u32) -> f32 {
        *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (*seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    }

    /// Odd shapes (k not a multiple of 4, n not of 64, m not of 6) against the f32
    /// product, and the VNNI kernel against the scalar one bit for bit.
    #[test]
    fn int8_matmul_is_close_to_f32_and_kernels_agree() {
        let mut seed = 7;
        for (m, k, n) in [(1, 3, 1), (7, 13, 70), (13, 384, 130), (100, 40, 64)] {
            let x: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
            let w: Vec<f32> = (0..k * n).map(|_| lcg(&mut seed)).collect();
            let q = QLinear::new(&w, k, n);
            let got = q.matmul(&x);
            for r in 0..m {
                for c in 0..n {
                    let want: f32 = (0..k).map(|i| x[r * k + i] * w[i * n + c]).sum();
                    // per-element error bound of two 8-bit roundings over k terms
                    let tol = 0.02 * (k as f32).sqrt() * 0.25;
                    assert!(
                        (got[r * n + c] - want).abs() <= tol,
                        "{m}×{k}×{n} [{r},{c}]: {} vs {want}",
                        got[r * n + c]
                    );
                }
            }
            let (qx, sx) = quantize_rows(&x, k, q.kp);
            let mut scalar = vec![0f32; m * n];
            q.rows(&qx, &sx, &mut scalar, false);
            let mut fast = vec![0f32; m * n];
            q.rows(&qx, &sx, &mut fast, has_vnni());
            assert_eq!(scalar, fast, "{m}×{k}×{n}");
            assert_eq!(scalar, got, "{m}×{k}×{n}: split over threads");
        }
    }

    #[test]
    fn zero_rows_and_columns_stay_zero() {
        let w = vec![0f32; 8 * 3];
        let q = QLinear::new(&w, 8, 3);
        assert_eq!(q.matmul(&[1.0; 16]), vec![0.0; 6]);
        let w: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let q = QLinear::new(&w, 8, 3);
        assert_eq!(q.matmul(&[0.0; 8]), vec![0.0; 3]);
        assert!(q.matmul(&[]).is_empty());
    }
}
