//! A BERT encoder forward pass written for throughput on CPU.
//!
//! Why not `candle_transformers::models::bert`: candle 0.11 runs every element-wise op
//! on ≥ 64 Ki elements (bias adds, GELU, residuals, softmax on long sequences) through
//! one global, lock-protected, spin-waiting "barrier pool". With several batches in
//! flight (the only way to keep both cores busy: layer norms, softmax and copies are
//! single-threaded in candle) the threads queued on that lock and spun: measured on 2
//! cores, 1,000 mixed sentences, 48 sentences/s with candle's model versus 95/s with the
//! pool disabled (`CANDLE_NUM_THREADS=1`, which a library cannot set safely).
//!
//! So this module keeps candle for what it does well — the matrix products (gemm) — and
//! does embeddings, bias, GELU, residuals, layer norm and softmax itself on plain slices,
//! row by row, on the calling thread. Every row is computed in a fixed order that does
//! not depend on how many rows the batch has, which is what makes the encoder's output
//! bit-identical whatever the batch size and thread count.
//!
//! The maths is HF `BertModel` in eval mode (no dropout), absolute positions, no padding:
//! sequences of any lengths run as one ragged batch (see `Bert::pooled_ragged`). Token
//! types are 0 for sentence embeddings; the cross-encoder of kimera-detect passes 0/1 for
//! a packed pair (see [`BertModel`]).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::int8::QLinear;
use crate::{EmbedError, Precision, Result};

/// The fields of a BERT `config.json` this forward pass needs.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_pos")]
    pub position_embedding_type: String,
}

fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}
fn default_type_vocab() -> usize {
    2
}
fn default_pos() -> String {
    "absolute".into()
}

/// The weight matrix of a linear layer, `[in, out]`, at the model's precision.
enum Linear {
    /// Contiguous f32, multiplied by candle (gemm).
    F32(Tensor),
    /// int8 with dynamic activation quantisation (see [`crate::int8`]).
    Int8(QLinear),
}

impl Linear {
    fn new(w: Tensor, precision: Precision) -> Result<Linear> {
        Ok(match precision {
            Precision::F32 => Linear::F32(w),
            Precision::Int8 => {
                let (k, n) = w.dims2()?;
                Linear::Int8(QLinear::new(&w.flatten_all()?.to_vec1::<f32>()?, k, n))
            }
        })
    }

    /// `x · w` for `x` row-major `[rows, in]`.
    fn forward(&self, x: &[f32]) -> Result<Vec<f32>> {
        match self {
            Linear::F32(w) => {
                let k = w.dims()[0];
                let xt = Tensor::from_slice(x, (x.len() / k, k), &Device::Cpu)?;
                matmul_vec(&xt, w)
            }
            Linear::Int8(q) => Ok(q.matmul(x)),
        }
    }
}

struct Layer {
    /// [hidden, 3·hidden]: query, key and value side by side (one matmul instead of three).
    w_qkv: Linear,
    b_qkv: Vec<f32>,
    w_o: Linear,
    b_o: Vec<f32>,
    ln1_g: Vec<f32>,
    ln1_b: Vec<f32>,
    w_i: Linear,
    b_i: Vec<f32>,
    w_o2: Linear,
    b_o2: Vec<f32>,
    ln2_g: Vec<f32>,
    ln2_b: Vec<f32>,
}

/// BERT weights ready for [`Bert::forward`].
pub(crate) struct Bert {
    cfg: BertConfig,
    word: Vec<f32>,
    pos: Vec<f32>,
    /// Token type rows, `[type_vocab_size, hidden]`.
    typ: Vec<f32>,
    emb_ln_g: Vec<f32>,
    emb_ln_b: Vec<f32>,
    layers: Vec<Layer>,
    eps: f32,
}

fn file_err(path: &Path, reason: impl std::fmt::Display) -> EmbedError {
    EmbedError::ModelFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

impl Bert {
    pub(crate) fn load(weights: &Path, cfg: BertConfig, precision: Precision) -> Result<Bert> {
        let ts = candle_core::safetensors::load(weights, &Device::Cpu)
            .map_err(|e| file_err(weights, e))?;
        Bert::from_tensors(weights, ts, cfg, precision)
    }

    /// Builds the model from named tensors (HF BERT names, with or without a `bert.`
    /// prefix); `weights` only names the source in errors. `precision` applies to the
    /// linear layers; embeddings, layer norms and attention stay f32.
    pub(crate) fn from_tensors(
        weights: &Path,
        mut ts: HashMap<String, Tensor>,
        cfg: BertConfig,
        precision: Precision,
    ) -> Result<Bert> {
        if cfg.hidden_act != "gelu" {
            return Err(file_err(
                weights,
                format!(
                    "hidden_act {:?} is not supported (only \"gelu\")",
                    cfg.hidden_act
                ),
            ));
        }
        if cfg.position_embedding_type != "absolute" {
            return Err(file_err(
                weights,
                "only absolute position embeddings are supported",
            ));
        }
        if cfg.num_attention_heads == 0 || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
        {
            return Err(file_err(
                weights,
                "hidden_size is not a multiple of num_attention_heads",
            ));
        }
        let prefix = if ts.contains_key("embeddings.word_embeddings.weight") {
            ""
        } else {
            "bert."
        };
        let mut take = |name: &str, shape: &[usize]| -> Result<Tensor> {
            let full = format!("{prefix}{name}");
            let t = ts
                .remove(&full)
                .ok_or_else(|| file_err(weights, format!("tensor {full} is missing")))?;
            if t.dims() != shape {
                return Err(file_err(
                    weights,
                    format!("tensor {full} has shape {:?}, expected {shape:?}", t.dims()),
                ));
            }
            Ok(t.to_dtype(DType::F32)?)
        };
        let h = cfg.hidden_size;
        let vec = |t: Tensor| -> Result<Vec<f32>> { Ok(t.flatten_all()?.to_vec1::<f32>()?) };
        // Linear weights are stored [out, in]; keep them as contiguous [in, out].
        let lin = |t: Tensor| -> Result<Linear> { Linear::new(t.t()?.contiguous()?, precision) };
        let word = vec(take(
            "embeddings.word_embeddings.weight",
            &[cfg.vocab_size, h],
        )?)?;
        let pos = vec(take(
            "embeddings.position_embeddings.weight",
            &[cfg.max_position_embeddings, h],
        )?)?;
        let typ = vec(take(
            "embeddings.token_type_embeddings.weight",
            &[cfg.type_vocab_size, h],
        )?)?;
        let emb_ln_g = vec(take("embeddings.LayerNorm.weight", &[h])?)?;
        let emb_ln_b = vec(take("embeddings.LayerNorm.bias", &[h])?)?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("encoder.layer.{i}.");
            let q = take(&format!("{p}attention.self.query.weight"), &[h, h])?;
            let k = take(&format!("{p}attention.self.key.weight"), &[h, h])?;
            let v = take(&format!("{p}attention.self.value.weight"), &[h, h])?;
            let w_qkv = Tensor::cat(&[&q, &k, &v], 0)?;
            let mut b_qkv = vec(take(&format!("{p}attention.self.query.bias"), &[h])?)?;
            b_qkv.extend(vec(take(&format!("{p}attention.self.key.bias"), &[h])?)?);
            b_qkv.extend(vec(take(&format!("{p}attention.self.value.bias"), &[h])?)?);
            let im = cfg.intermediate_size;
            layers.push(Layer {
                w_qkv: lin(w_qkv)?,
                b_qkv,
                w_o: lin(take(&format!("{p}attention.output.dense.weight"), &[h, h])?)?,
                b_o: vec(take(&format!("{p}attention.output.dense.bias"), &[h])?)?,
                ln1_g: vec(take(
                    &format!("{p}attention.output.LayerNorm.weight"),
                    &[h],
                )?)?,
                ln1_b: vec(take(&format!("{p}attention.output.LayerNorm.bias"), &[h])?)?,
                w_i: lin(take(&format!("{p}intermediate.dense.weight"), &[im, h])?)?,
                b_i: vec(take(&format!("{p}intermediate.dense.bias"), &[im])?)?,
                w_o2: lin(take(&format!("{p}output.dense.weight"), &[h, im])?)?,
                b_o2: vec(take(&format!("{p}output.dense.bias"), &[h])?)?,
                ln2_g: vec(take(&format!("{p}output.LayerNorm.weight"), &[h])?)?,
                ln2_b: vec(take(&format!("{p}output.LayerNorm.bias"), &[h])?)?,
            });
        }
        Ok(Bert {
            eps: cfg.layer_norm_eps as f32,
            typ,
            cfg,
            word,
            pos,
            emb_ln_g,
            emb_ln_b,
            layers,
        })
    }

    pub(crate) fn hidden_size(&self) -> usize {
        self.cfg.hidden_size
    }

    /// Mean-pooled, L2-normalised sentence vectors for `seqs`, which must all have the
    /// same length (≥ 1, ≤ max positions) and valid token ids.
    pub(crate) fn embed_same_length(&self, seqs: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let l = seqs.first().map_or(0, |s| s.len());
        if seqs.iter().any(|s| s.len() != l) {
            return Err(EmbedError::Invalid(format!(
                "batch of sequences of unequal length (first {l})"
            )));
        }
        let mut out = self.pooled_ragged(seqs, None)?;
        for v in &mut out {
            let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-12);
            for a in v.iter_mut() {
                *a /= norm;
            }
        }
        Ok(out)
    }

    /// Mean of the last hidden states over all tokens of each sequence (not normalised),
    /// for sequences of any lengths (≥ 1, ≤ max positions) run as one *ragged* batch:
    /// the position-wise layers (projections, feed-forward, layer norms) see every
    /// token of every sequence as one matrix — big matrix products whatever the mix of
    /// lengths, and no padding — while attention runs per group of equal-length
    /// sequences. `types`: token type ids per sequence, or all 0.
    pub(crate) fn pooled_ragged(
        &self,
        seqs: &[&[u32]],
        types: Option<&[&[u32]]>,
    ) -> Result<Vec<Vec<f32>>> {
        let h = self.cfg.hidden_size;
        if let Some(ty) = types
            && (ty.len() != seqs.len() || ty.iter().zip(seqs).any(|(t, s)| t.len() != s.len()))
        {
            return Err(EmbedError::Invalid(
                "token types do not match the sequences' lengths".into(),
            ));
        }
        let mut spans = Vec::with_capacity(seqs.len());
        let mut m = 0;
        for s in seqs {
            if s.is_empty() || s.len() > self.cfg.max_position_embeddings {
                return Err(EmbedError::Invalid(format!(
                    "sequence of invalid length {} (1 to {} tokens)",
                    s.len(),
                    self.cfg.max_position_embeddings
                )));
            }
            spans.push((m, s.len()));
            m += s.len();
        }
        // embeddings
        let mut x = vec![0f32; m * h];
        for (si, (seq, &(start, _))) in seqs.iter().zip(&spans).enumerate() {
            for (t, &id) in seq.iter().enumerate() {
                let id = id as usize;
                if id >= self.cfg.vocab_size {
                    return Err(EmbedError::Invalid(format!(
                        "token id {id} out of vocabulary"
                    )));
                }
                let ty = types.map_or(0, |ty| ty[si][t] as usize);
                if ty >= self.cfg.type_vocab_size {
                    return Err(EmbedError::Invalid(format!(
                        "token type {ty} out of range (the model has {})",
                        self.cfg.type_vocab_size
                    )));
                }
                let row = &mut x[(start + t) * h..][..h];
                let w = &self.word[id * h..][..h];
                let p = &self.pos[t * h..][..h];
                let y = &self.typ[ty * h..][..h];
                for j in 0..h {
                    row[j] = w[j] + y[j] + p[j];
                }
            }
        }
        layer_norm_rows(&mut x, h, &self.emb_ln_g, &self.emb_ln_b, self.eps);
        // attention groups: sequences of one length, in input order
        let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for (i, &(_, l)) in spans.iter().enumerate() {
            groups.entry(l).or_default().push(i);
        }
        for layer in &self.layers {
            x = self.layer_forward(layer, x, &spans, &groups)?;
        }
        // mean pooling over all tokens of each sequence
        let mut out = Vec::with_capacity(seqs.len());
        for &(start, l) in &spans {
            let mut v = vec![0f32; h];
            for t in 0..l {
                let row = &x[(start + t) * h..][..h];
                for j in 0..h {
                    v[j] += row[j];
                }
            }
            let inv = 1.0 / l as f32;
            for a in v.iter_mut() {
                *a *= inv;
            }
            out.push(v);
        }
        Ok(out)
    }

    /// One layer on a ragged batch: `spans` are (first row, length) of each sequence in
    /// `x` (`[rows, hidden]`), `groups` the sequences of each length.
    fn layer_forward(
        &self,
        ly: &Layer,
        x: Vec<f32>,
        spans: &[(usize, usize)],
        groups: &std::collections::BTreeMap<usize, Vec<usize>>,
    ) -> Result<Vec<f32>> {
        let h = self.cfg.hidden_size;
        let nh = self.cfg.num_attention_heads;
        let hd = h / nh;
        let m = x.len() / h;
        let dev = Device::Cpu;
        // fused QKV projection
        let mut qkv = ly.w_qkv.forward(&x)?;
        add_bias_rows(&mut qkv, &ly.b_qkv);
        let mut ctx = vec![0f32; m * h];
        let scale = 1.0 / (hd as f32).sqrt();
        for (&l, members) in groups {
            let b = members.len();
            // split heads: q [b·nh, l, hd], kᵀ [b·nh, hd, l], v [b·nh, l, hd]
            let mut q = vec![0f32; b * l * h];
            let mut kt = vec![0f32; b * l * h];
            let mut v = vec![0f32; b * l * h];
            for (s, &si) in members.iter().enumerate() {
                let start = spans[si].0;
                for t in 0..l {
                    let row = &qkv[(start + t) * 3 * h..][..3 * h];
                    for hh in 0..nh {
                        let bh = s * nh + hh;
                        let src = hh * hd;
                        q[(bh * l + t) * hd..][..hd].copy_from_slice(&row[src..src + hd]);
                        v[(bh * l + t) * hd..][..hd]
                            .copy_from_slice(&row[2 * h + src..2 * h + src + hd]);
                        for d in 0..hd {
                            kt[(bh * hd + d) * l + t] = row[h + src + d];
                        }
                    }
                }
            }
            let qt = Tensor::from_vec(q, (b * nh, l, hd), &dev)?;
            let ktt = Tensor::from_vec(kt, (b * nh, hd, l), &dev)?;
            let mut scores = matmul_vec(&qt, &ktt)?;
            softmax_rows(&mut scores, l, scale);
            let probs = Tensor::from_vec(scores, (b * nh, l, l), &dev)?;
            let vt = Tensor::from_vec(v, (b * nh, l, hd), &dev)?;
            let ctx_h = matmul_vec(&probs, &vt)?;
            // merge heads back into the sequences' rows
            for (s, &si) in members.iter().enumerate() {
                let start = spans[si].0;
                for hh in 0..nh {
                    let bh = s * nh + hh;
                    for t in 0..l {
                        ctx[(start + t) * h + hh * hd..][..hd]
                            .copy_from_slice(&ctx_h[(bh * l + t) * hd..][..hd]);
                    }
                }
            }
        }
        drop(qkv);
        let mut attn = ly.w_o.forward(&ctx)?;
        drop(ctx);
        add_bias_residual_rows(&mut attn, &ly.b_o, &x);
        drop(x);
        layer_norm_rows(&mut attn, h, &ly.ln1_g, &ly.ln1_b, self.eps);
        // feed-forward
        let mut inter = ly.w_i.forward(&attn)?;
        bias_gelu_rows(&mut inter, &ly.b_i);
        let mut out = ly.w_o2.forward(&inter)?;
        drop(inter);
        add_bias_residual_rows(&mut out, &ly.b_o2, &attn);
        layer_norm_rows(&mut out, h, &ly.ln2_g, &ly.ln2_b, self.eps);
        Ok(out)
    }
}

/// A BERT encoder on caller-supplied weights — kimera-detect's cross-encoder, with its
/// LoRA adapters folded into the base weights — run by this module's forward pass, which
/// is several times faster on CPU than the same maths in candle ops (see the module doc).
pub struct BertModel {
    bert: Bert,
}

impl std::fmt::Debug for BertModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertModel")
            .field("hidden_size", &self.bert.cfg.hidden_size)
            .field("layers", &self.bert.layers.len())
            .finish()
    }
}

impl BertModel {
    /// `config`: the model's `config.json`; `tensors`: HF BERT tensor names (with or
    /// without a `bert.` prefix), as `model.safetensors` holds them.
    pub fn from_tensors(config: &Path, tensors: HashMap<String, Tensor>) -> Result<Self> {
        let cfg: BertConfig = serde_json::from_value(crate::minilm::read_json(config)?)
            .map_err(|e| file_err(config, format!("not a BERT config: {e}")))?;
        Ok(BertModel {
            bert: Bert::from_tensors(config, tensors, cfg, Precision::F32)?,
        })
    }

    pub fn hidden_size(&self) -> usize {
        self.bert.hidden_size()
    }

    /// Mean over all tokens of the last hidden states (not normalised) of each
    /// `(token ids, token type ids)` sequence, in order.
    ///
    /// The sequences are cut, in order, into one ragged batch per thread of the current
    /// rayon pool (or a multiple of that, keeping each near 4,096 tokens, the memory
    /// bound the sentence encoder uses too), each run as one forward pass with no
    /// padding. A sequence's result is bit-identical whatever else is in the call and
    /// however many threads run it.
    pub fn pooled(&self, seqs: &[(&[u32], &[u32])]) -> Result<Vec<Vec<f32>>> {
        use rayon::prelude::*;
        if let Some((i, _)) = seqs
            .iter()
            .enumerate()
            .find(|(_, (a, b))| a.len() != b.len())
        {
            return Err(EmbedError::Invalid(format!(
                "sequence {i}: {} token ids but {} type ids",
                seqs[i].0.len(),
                seqs[i].1.len()
            )));
        }
        // A multiple of the thread count of parts, each within the token bound.
        let total: usize = seqs.iter().map(|s| s.0.len()).sum();
        let threads = rayon::current_num_threads().max(1);
        let rounds = total
            .div_ceil(threads * crate::minilm::MAX_BATCH_TOKENS)
            .max(1);
        let per_part = total.div_ceil(threads * rounds).max(1);
        let mut parts: Vec<std::ops::Range<usize>> = Vec::new();
        let (mut start, mut tokens) = (0, 0);
        for (i, s) in seqs.iter().enumerate() {
            if tokens > 0 && tokens + s.0.len() > per_part {
                parts.push(start..i);
                (start, tokens) = (i, 0);
            }
            tokens += s.0.len();
        }
        if start < seqs.len() {
            parts.push(start..seqs.len());
        }
        let outputs: Vec<Vec<Vec<f32>>> = parts
            .par_iter()
            .map(|r| {
                let ids: Vec<&[u32]> = seqs[r.clone()].iter().map(|s| s.0).collect();
                let types: Vec<&[u32]> = seqs[r.clone()].iter().map(|s| s.1).collect();
                self.bert.pooled_ragged(&ids, Some(&types))
            })
            .collect::<Result<_>>()?;
        Ok(outputs.into_iter().flatten().collect())
    }
}

/// `a · b` as a flat vector (row-major).
fn matmul_vec(a: &Tensor, b: &Tensor) -> Result<Vec<f32>> {
    Ok(a.matmul(b)?.flatten_all()?.to_vec1::<f32>()?)
}

fn add_bias_rows(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (a, b) in row.iter_mut().zip(bias) {
            *a += b;
        }
    }
}

fn add_bias_residual_rows(x: &mut [f32], bias: &[f32], residual: &[f32]) {
    for (row, res) in x
        .chunks_exact_mut(bias.len())
        .zip(residual.chunks_exact(bias.len()))
    {
        for ((a, b), r) in row.iter_mut().zip(bias).zip(res) {
            *a = *a + b + r;
        }
    }
}

/// GELU as BERT's `"gelu"`: x·½·(1 + erf(x/√2)), with a branch-free erf (max abs error
/// 5e-7 in f32) that the compiler vectorises. libm's scalar `erff` took ~20% of the run time.
fn bias_gelu_rows(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (a, b) in row.iter_mut().zip(bias) {
            let y = *a + b;
            *a = 0.5 * y * (1.0 + erf_approx(y * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

/// erf by Abramowitz & Stegun 7.1.26 (1.5e-7 in exact arithmetic, ≤ 5e-7 in f32), branch-free.
#[inline(always)]
fn erf_approx(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = ((((1.061_405_4 * t - 1.453_152) * t + 1.421_413_8) * t - 0.284_496_74) * t
        + 0.254_829_6)
        * t;
    (1.0 - poly * exp_approx(-a * a)).copysign(x)
}

/// e^x for x in [-87, 88] (clamped outside), relative error ~2e-7, branch-free: x = n·ln2 + r,
/// a degree-6 polynomial for e^r, and 2^n assembled in the exponent bits.
#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // 1.5·2²³: adding and subtracting it rounds to the nearest integer without a branch
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2_E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

fn layer_norm_rows(x: &mut [f32], h: usize, g: &[f32], b: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(h) {
        let mean = row.iter().sum::<f32>() / h as f32;
        let var = row.iter().map(|a| (a - mean) * (a - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((a, gg), bb) in row.iter_mut().zip(g).zip(b) {
            *a = (*a - mean) * inv * gg + bb;
        }
    }
}

/// Row-wise softmax of `scale · x` over rows of length `n`.
fn softmax_rows(x: &mut [f32], n: usize, scale: f32) {
    for row in x.chunks_exact_mut(n) {
        let mut max = f32::NEG_INFINITY;
        for a in row.iter_mut() {
            *a *= scale;
            max = max.max(*a);
        }
        let mut sum = 0f32;
        for a in row.iter_mut() {
            *a = exp_approx(*a - max);
            sum += *a;
        }
        let inv = 1.0 / sum;
        for a in row.iter_mut() {
            *a *= inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_layer_norm_match_hand_values() {
        let mut x = vec![1.0f32, 2.0, 3.0];
        softmax_rows(&mut x, 3, 1.0);
        // python3 -c "import numpy as n;e=n.exp([1,2,3]);print(e/e.sum())"
        let want = [0.09003057f32, 0.24472847, 0.66524096];
        assert!(
            x.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{x:?}"
        );
        let mut y = vec![1.0f32, 2.0, 3.0, 4.0];
        layer_norm_rows(&mut y, 4, &[1.0; 4], &[0.0; 4], 1e-12);
        // (x - 2.5) / sqrt(1.25)
        let want = [-1.3416408f32, -0.4472136, 0.4472136, 1.3416408];
        assert!(
            y.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{y:?}"
        );
    }

    #[test]
    fn fast_exp_and_erf_are_accurate() {
        for i in -2000..=2000 {
            let x = i as f32 / 100.0;
            let e = exp_approx(x);
            let want = x.exp();
            assert!(
                ((e - want) / want).abs() < 5e-7,
                "exp({x}) = {e}, want {want}"
            );
            let f = erf_approx(x);
            let want = libm::erff(x);
            assert!((f - want).abs() < 5e-7, "erf({x}) = {f}, want {want}");
        }
        // clamped, finite and tiny instead of 0 or NaN
        let tiny = exp_approx(-1000.0);
        assert!(tiny > 0.0 && tiny < 1e-37, "{tiny}");
    }

    #[test]
    fn gelu_matches_reference() {
        let mut x = vec![-3.0f32, -1.0, 0.0, 0.5, 2.0];
        bias_gelu_rows(&mut x, &[0.0; 5]);
        // python3 -c "import torch;print(torch.nn.functional.gelu(torch.tensor([-3.,-1.,0.,.5,2.])))"
        let want = [-0.0040496f32, -0.1586553, 0.0, 0.3457312, 1.9544997];
        assert!(
            x.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{x:?}"
        );
    }

    /// A tiny random BERT (vocab 12, hidden 8, 2 heads, 1 layer) written as a config file
    /// plus named tensors, the way kimera-detect hands its folded cross-encoder over.
    fn tiny_model(dir: &Path) -> (std::path::PathBuf, HashMap<String, Tensor>) {
        let cfg = dir.join("config.json");
        std::fs::write(
            &cfg,
            r#"{"vocab_size":12,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,
               "intermediate_size":16,"max_position_embeddings":10,"type_vocab_size":2}"#,
        )
        .unwrap();
        let mut seed = 1u32;
        let mut t = |shape: &[usize]| {
            let n: usize = shape.iter().product();
            let v: Vec<f32> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
                })
                .collect();
            Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
        };
        let mut ts = HashMap::new();
        for (name, shape) in [
            ("embeddings.word_embeddings.weight", vec![12, 8]),
            ("embeddings.position_embeddings.weight", vec![10, 8]),
            ("embeddings.token_type_embeddings.weight", vec![2, 8]),
            ("embeddings.LayerNorm.weight", vec![8]),
            ("embeddings.LayerNorm.bias", vec![8]),
        ] {
            ts.insert(name.to_string(), t(&shape));
        }
        let p = "encoder.layer.0.";
        for (name, shape) in [
            ("attention.self.query", vec![8, 8]),
            ("attention.self.key", vec![8, 8]),
            ("attention.self.value", vec![8, 8]),
            ("attention.output.dense", vec![8, 8]),
            ("intermediate.dense", vec![16, 8]),
            ("output.dense", vec![8, 16]),
        ] {
            ts.insert(format!("{p}{name}.weight"), t(&shape));
            ts.insert(format!("{p}{name}.bias"), t(&shape[..1]));
        }
        for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
            ts.insert(format!("{p}{name}.weight"), t(&[8]));
            ts.insert(format!("{p}{name}.bias"), t(&[8]));
        }
        (cfg, ts)
    }

    #[test]
    fn bert_model_pools_pairs_independently_of_the_batch_and_uses_token_types() {
        let dir = tempfile::tempdir().unwrap();
        let (cfg, ts) = tiny_model(dir.path());
        let m = BertModel::from_tensors(&cfg, ts).unwrap();
        assert_eq!(m.hidden_size(), 8);
        let a: (&[u32], &[u32]) = (&[1, 5, 2, 7, 2], &[0, 0, 0, 1, 1]);
        let b: (&[u32], &[u32]) = (&[1, 3, 2, 9, 2], &[0, 0, 0, 1, 1]);
        let c: (&[u32], &[u32]) = (&[1, 4, 2], &[0, 0, 1]);
        let all = m.pooled(&[a, b, c, a]).unwrap();
        assert_eq!(all.len(), 4);
        for (one, i) in [(a, 0), (b, 1), (c, 2)] {
            let alone = m.pooled(&[one]).unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&alone[0]), bits(&all[i]));
        }
        assert_eq!(all[0], all[3]);
        assert_ne!(all[0], all[1]);
        // Token types change the result: the same ids as all type 0.
        let t0 = m.pooled(&[(a.0, &[0, 0, 0, 0, 0])]).unwrap();
        assert_ne!(t0[0], all[0]);
        assert!(m.pooled(&[]).unwrap().is_empty());
    }

    #[test]
    fn bert_model_refuses_bad_sequences_and_tensors() {
        let dir = tempfile::tempdir().unwrap();
        let (cfg, ts) = tiny_model(dir.path());
        let m = BertModel::from_tensors(&cfg, ts.clone()).unwrap();
        let err = m.pooled(&[(&[1, 2, 3], &[0, 0])]).unwrap_err().to_string();
        assert!(err.contains("3 token ids but 2 type ids"), "{err}");
        let err = m.pooled(&[(&[1, 2], &[0, 2])]).unwrap_err().to_string();
        assert!(err.contains("token type 2 out of range"), "{err}");
        let err = m.pooled(&[(&[1, 12], &[0, 0])]).unwrap_err().to_string();
        assert!(err.contains("token id 12 out of vocabulary"), "{err}");
        let err = m.pooled(&[(&[1; 11], &[0; 11])]).unwrap_err().to_string();
        assert!(err.contains("invalid length"), "{err}");
        let mut missing = ts.clone();
        missing.remove("encoder.layer.0.output.dense.bias");
        let err = BertModel::from_tensors(&cfg, missing)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("encoder.layer.0.output.dense.bias is missing")
                && err.contains("config.json"),
            "{err}"
        );
        let mut wrong = ts;
        wrong.insert(
            "embeddings.LayerNorm.bias".into(),
            Tensor::zeros(7, DType::F32, &Device::Cpu).unwrap(),
        );
        let err = BertModel::from_tensors(&cfg, wrong)
            .unwrap_err()
            .to_string();
        assert!(err.contains("has shape [7], expected [8]"), "{err}");
        let bad_cfg = dir.path().join("bad.json");
        std::fs::write(&bad_cfg, "{\"hidden_size\": 8}").unwrap();
        let err = BertModel::from_tensors(&bad_cfg, HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.json") && err.contains("not a BERT config"),
            "{err}"
        );
    }
}
