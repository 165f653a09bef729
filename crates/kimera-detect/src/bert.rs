//! A BERT encoder (the all-MiniLM-L6-v2 shape) written out in candle so that LoRA adapters
//! can wrap its linear layers.
//!
//! candle-transformers' `BertModel` keeps its `Linear`s private, and its fused layer-norm
//! and softmax kernels have no backward pass; here every op is a plain differentiable
//! tensor op. The base weights are loaded frozen from `model.safetensors` (plain tensors,
//! never `Var`s), so the optimiser only ever sees the adapters and the classification head.
//! For inference the adapters are folded into the base weights ([`LoraBert::folded_weights`])
//! and kimera-embed's CPU forward pass runs the result (see `CrossModel::predict`).

use std::collections::HashMap;

use candle_core::{D, DType, Device, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::Result;

/// Shape of the base model (read from its `config.json`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct BertConfig {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
    pub layer_norm_eps: f64,
    pub max_position_embeddings: usize,
}

/// LoRA settings: rank `r`, scale `alpha / r`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoraConfig {
    pub rank: usize,
    pub alpha: f64,
    /// Adapt only the top this-many layers. The layers below run frozen and carry no
    /// gradient, so backward stops at the first adapted layer: on 2 CPU cores this is
    /// what makes an epoch take minutes rather than half an hour.
    pub layers: usize,
}

/// A frozen `y = x Wᵀ + b`, plus an optional low-rank update `(x Aᵀ) Bᵀ · alpha/r`.
#[derive(Debug, Clone)]
pub struct LoraLinear {
    w: Tensor,
    b: Tensor,
    lora: Option<(Tensor, Tensor, f64)>,
}

impl LoraLinear {
    /// `x` is `(rows, in)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = x.matmul(&self.w.t()?)?.broadcast_add(&self.b)?;
        if let Some((a, b, scale)) = &self.lora {
            let delta = x.matmul(&a.t()?)?.matmul(&b.t()?)?;
            y = (y + (delta * *scale)?)?;
        }
        Ok(y)
    }
}

#[derive(Debug, Clone)]
struct LayerNorm {
    w: Tensor,
    b: Tensor,
    eps: f32,
}

impl LayerNorm {
    /// The composite layer norm, which backpropagates (candle's fused kernel does not).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::layer_norm_slow(
            x, &self.w, &self.b, self.eps,
        )?)
    }
}

#[derive(Debug, Clone)]
struct Layer {
    q: LoraLinear,
    k: LoraLinear,
    v: LoraLinear,
    o: LoraLinear,
    ln1: LayerNorm,
    up: LoraLinear,
    down: LoraLinear,
    ln2: LayerNorm,
}

/// The encoder with its adapters. Built by [`LoraBert::new`], which also creates the
/// adapter variables (seeded) or takes them from a saved adapter file.
#[derive(Debug, Clone)]
pub struct LoraBert {
    word: Tensor,
    pos: Tensor,
    typ: Tensor,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
}

/// Names of the adapted projections inside each layer, with their base-weight prefix.
const TARGETS: [(&str, &str); 6] = [
    ("q", "attention.self.query"),
    ("k", "attention.self.key"),
    ("v", "attention.self.value"),
    ("o", "attention.output.dense"),
    ("up", "intermediate.dense"),
    ("down", "output.dense"),
];

fn get(base: &HashMap<String, Tensor>, name: &str) -> Result<Tensor> {
    base.get(name)
        .cloned()
        .ok_or_else(|| crate::DetectError::Model(format!("base weights lack tensor {name}")))
}

/// Uniform in ±1/√fan_in (the Kaiming-uniform bound LoRA uses for A), from `rng`.
pub fn uniform(rng: &mut ChaCha8Rng, rows: usize, cols: usize, bound: f32) -> Result<Tensor> {
    let data: Vec<f32> = (0..rows * cols)
        .map(|_| rng.random_range(-bound..bound))
        .collect();
    Ok(Tensor::from_vec(data, (rows, cols), &Device::Cpu)?)
}

impl LoraBert {
    /// Builds the encoder from base tensors. Adapter tensors are looked up in `adapters`
    /// (`layer{i}.{target}.lora_a` / `lora_b`); missing ones are created — A from `rng`,
    /// B zero, so training starts from the base model exactly — and inserted, as `Var`s.
    pub fn new(
        cfg: &BertConfig,
        base: &HashMap<String, Tensor>,
        lora: LoraConfig,
        adapters: &mut HashMap<String, Var>,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        let eps = cfg.layer_norm_eps as f32;
        let ln = |p: &str| -> Result<LayerNorm> {
            Ok(LayerNorm {
                w: get(base, &format!("{p}.weight"))?,
                b: get(base, &format!("{p}.bias"))?,
                eps,
            })
        };
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let mut lins = Vec::with_capacity(TARGETS.len());
            for (short, path) in TARGETS {
                let p = format!("encoder.layer.{i}.{path}");
                let w = get(base, &format!("{p}.weight"))?;
                let b = get(base, &format!("{p}.bias"))?;
                let (out_dim, in_dim) = w.dims2()?;
                let adapted = i + lora.layers >= cfg.num_hidden_layers;
                let lora_part = if lora.rank > 0 && adapted {
                    let an = format!("layer{i}.{short}.lora_a");
                    let bn = format!("layer{i}.{short}.lora_b");
                    if !adapters.contains_key(&an) {
                        let bound = 1.0 / (in_dim as f32).sqrt();
                        let a = uniform(rng, lora.rank, in_dim, bound)?;
                        adapters.insert(an.clone(), Var::from_tensor(&a)?);
                        let z = Tensor::zeros((out_dim, lora.rank), DType::F32, &Device::Cpu)?;
                        adapters.insert(bn.clone(), Var::from_tensor(&z)?);
                    }
                    let a = adapters[&an].as_tensor().clone();
                    let bt = adapters
                        .get(&bn)
                        .ok_or_else(|| crate::DetectError::Model(format!("adapter lacks {bn}")))?
                        .as_tensor()
                        .clone();
                    Some((a, bt, lora.alpha / lora.rank as f64))
                } else {
                    None
                };
                lins.push(LoraLinear {
                    w,
                    b,
                    lora: lora_part,
                });
            }
            let mut it = lins.into_iter();
            let mut next = || it.next().expect("six targets");
            layers.push(Layer {
                q: next(),
                k: next(),
                v: next(),
                o: next(),
                up: next(),
                down: next(),
                ln1: ln(&format!("encoder.layer.{i}.attention.output.LayerNorm"))?,
                ln2: ln(&format!("encoder.layer.{i}.output.LayerNorm"))?,
            });
        }
        Ok(LoraBert {
            word: get(base, "embeddings.word_embeddings.weight")?,
            pos: get(base, "embeddings.position_embeddings.weight")?,
            typ: get(base, "embeddings.token_type_embeddings.weight")?,
            emb_ln: ln("embeddings.LayerNorm")?,
            layers,
            heads: cfg.num_attention_heads,
            hidden: cfg.hidden_size,
        })
    }

    /// Each adapted projection's weight with its adapter folded in, `W + alpha/r · B·A`,
    /// under the base model's tensor name (`encoder.layer.{i}.{path}.weight`): the same
    /// function as the adapted linear layer, for an inference-only encoder.
    pub fn folded_weights(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::new();
        for (i, ly) in self.layers.iter().enumerate() {
            let lins = [&ly.q, &ly.k, &ly.v, &ly.o, &ly.up, &ly.down];
            for ((_, path), lin) in TARGETS.iter().zip(lins) {
                if let Some((a, b, scale)) = &lin.lora {
                    let w = (&lin.w + (b.matmul(a)? * *scale)?)?;
                    out.push((format!("encoder.layer.{i}.{path}.weight"), w));
                }
            }
        }
        Ok(out)
    }

    /// Hidden states `(batch, len, hidden)` for token ids, type ids and a 0/1 attention
    /// mask, all `(batch, len)` u32.
    pub fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (bsz, len) = ids.dims2()?;
        let x = self.embed(ids, types)?;
        let x = self.layers_forward(x, mask, 0..self.layers.len())?;
        Ok(x.reshape((bsz, len, self.hidden))?)
    }

    /// Number of layers that carry adapters (the top ones): the layers below them are
    /// frozen, so their output can be computed once and reused ([`LoraBert::frozen_prefix`]).
    pub fn adapted_layers(&self) -> usize {
        self.layers
            .iter()
            .rev()
            .take_while(|l| l.q.lora.is_some())
            .count()
    }

    /// The embeddings and the frozen layers (those below the first adapted one) of one
    /// unpadded sequence: `(len, hidden)`. Training computes this once per pair instead
    /// of every epoch; [`LoraBert::forward_adapted`] continues from it.
    pub fn frozen_prefix(&self, ids: &[u32], types: &[u32]) -> Result<Tensor> {
        let len = ids.len();
        let dev = &Device::Cpu;
        let ids = Tensor::from_vec(ids.to_vec(), (1, len), dev)?;
        let types = Tensor::from_vec(types.to_vec(), (1, len), dev)?;
        let mask = Tensor::ones((1, len), DType::U32, dev)?;
        let frozen = self.layers.len() - self.adapted_layers();
        let x = self.embed(&ids, &types)?;
        Ok(self.layers_forward(x, &mask, 0..frozen)?.detach())
    }

    /// The adapted layers on a padded batch of [`LoraBert::frozen_prefix`] outputs,
    /// `(batch·len, hidden)` with `mask` `(batch, len)`: hidden states `(batch, len,
    /// hidden)`, the same function as [`LoraBert::forward`].
    pub fn forward_adapted(&self, x: Tensor, mask: &Tensor) -> Result<Tensor> {
        let (bsz, len) = mask.dims2()?;
        let frozen = self.layers.len() - self.adapted_layers();
        let x = self.layers_forward(x, mask, frozen..self.layers.len())?;
        Ok(x.reshape((bsz, len, self.hidden))?)
    }

    /// Word + type + position embeddings, layer-normed: `(batch·len, hidden)`.
    fn embed(&self, ids: &Tensor, types: &Tensor) -> Result<Tensor> {
        let (bsz, len) = ids.dims2()?;
        let words = self.word.index_select(&ids.flatten_all()?, 0)?;
        let typs = self.typ.index_select(&types.flatten_all()?, 0)?;
        let pos = self.pos.narrow(0, 0, len)?.repeat((bsz, 1))?;
        self.emb_ln.forward(&((words + typs)? + pos)?)
    }

    /// Layers `range` on `x` `(batch·len, hidden)`, `mask` `(batch, len)`.
    fn layers_forward(
        &self,
        mut x: Tensor,
        mask: &Tensor,
        range: std::ops::Range<usize>,
    ) -> Result<Tensor> {
        let (bsz, len) = mask.dims2()?;
        let h = self.hidden;
        let dh = h / self.heads;
        // Additive mask: 0 where attended, -10000 on padding (as in BERT), (b, 1, 1, len).
        let add_mask =
            ((mask.to_dtype(DType::F32)? - 1.0)? * 10000.0)?.reshape((bsz, 1, 1, len))?;
        let scale = 1.0 / (dh as f64).sqrt();
        for l in &self.layers[range] {
            let split = |t: Tensor| -> Result<Tensor> {
                Ok(t.reshape((bsz, len, self.heads, dh))?
                    .transpose(1, 2)?
                    .contiguous()?)
            };
            let q = split(l.q.forward(&x)?)?;
            let k = split(l.k.forward(&x)?)?;
            let v = split(l.v.forward(&x)?)?;
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&add_mask)?;
            let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let ctx = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((bsz * len, h))?;
            x = l.ln1.forward(&(l.o.forward(&ctx)? + &x)?)?;
            let up = l.up.forward(&x)?.gelu_erf()?;
            x = l.ln2.forward(&(l.down.forward(&up)? + &x)?)?;
        }
        Ok(x)
    }
}

/// Mean of the hidden states over attended positions: `(batch, hidden)`.
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (b, len, 1)
    let sum = hidden.broadcast_mul(&m)?.sum(1)?;
    let count = m.sum(1)?; // (b, 1)
    Ok(sum.broadcast_div(&count)?)
}
