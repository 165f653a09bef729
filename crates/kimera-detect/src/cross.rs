//! Route b: a cross-encoder. Both sentences go through MiniLM together
//! (`[CLS] a [SEP] b [SEP]`, token types 0/1), so attention compares them word by word —
//! what a pair of frozen sentence vectors cannot do ("A man is not playing" and "A man is
//! playing" have nearly the same vector). The base weights stay frozen; LoRA adapters on
//! every attention and feed-forward projection plus a small head are trained, so the
//! artefact we commit is ~1.5 MB instead of 90 MB.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokenizers::{Tokenizer, TruncationParams, TruncationStrategy};

use crate::bert::{BertConfig, LoraBert, LoraConfig, mean_pool, uniform};
use crate::data::{CONTRADICTION, Example};
use crate::metrics::{Prf, best_threshold};
use crate::{DetectError, EpochReport, Result, TrainProgress};

/// Longest packed pair, in tokens (SICK pairs are ~25).
pub const MAX_TOKENS: usize = 128;

/// Inference pads each pair to a multiple of this many tokens (see
/// [`CrossModel::predict`]).
pub const BUCKET: usize = 16;

/// Training settings of the cross-encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossParams {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub lora: LoraConfig,
    pub seed: u64,
    /// Stop after this many training pairs per epoch (0 = all); for quick tests.
    pub max_train: usize,
}

impl Default for CrossParams {
    fn default() -> Self {
        CrossParams {
            epochs: 1,
            batch_size: 16,
            lr: 1e-3,
            weight_decay: 0.01,
            lora: LoraConfig {
                rank: 8,
                alpha: 16.0,
                layers: 3,
            },
            seed: 42,
            max_train: 0,
        }
    }
}

/// The frozen base model: config, tokenizer and tensors, loaded once.
#[derive(Debug, Clone)]
pub struct Base {
    pub cfg: BertConfig,
    pub tokenizer: Tokenizer,
    pub tensors: HashMap<String, Tensor>,
    pub sha256: String,
}

impl Base {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from a
    /// sentence-transformers folder (see `kimera_embed::model_dir`).
    pub fn load(dir: &Path) -> Result<Self> {
        kimera_embed::provision::check_model_dir(dir)?;
        let cfg_path = dir.join("config.json");
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| DetectError::Io {
            path: cfg_path.clone(),
            source: e,
        })?;
        let cfg: BertConfig = serde_json::from_str(&text).map_err(|e| DetectError::Format {
            path: cfg_path.clone(),
            reason: format!("not a BERT config: {e}"),
        })?;
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| DetectError::Format {
            path: tok_path.clone(),
            reason: e.to_string(),
        })?;
        // The packaged tokenizer pads to a fixed 128; we group by length instead.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                strategy: TruncationStrategy::LongestFirst,
                ..Default::default()
            }))
            .map_err(|e| DetectError::Model(e.to_string()))?;
        let weights = dir.join("model.safetensors");
        let sha256 = kimera_embed::provision::sha256_file(&weights)?;
        let tensors = candle_core::safetensors::load(&weights, &Device::Cpu).map_err(|e| {
            DetectError::Format {
                path: weights.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(Base {
            cfg,
            tokenizer,
            tensors,
            sha256,
        })
    }

    /// Token ids and type ids of the packed pair.
    pub fn encode_pair(&self, a: &str, b: &str) -> Result<(Vec<u32>, Vec<u32>)> {
        let enc = self
            .tokenizer
            .encode((a, b), true)
            .map_err(|e| DetectError::Model(format!("tokenizer: {e}")))?;
        Ok((enc.get_ids().to_vec(), enc.get_type_ids().to_vec()))
    }
}

/// The trained cross-encoder: base + adapters + head.
#[derive(Debug, Clone)]
pub struct CrossModel {
    base: Base,
    bert: LoraBert,
    /// The inference form of `bert` ([`LoraBert::merged`]) for a loaded model; `None`
    /// while training (the adapters change every step, so it is built per call).
    infer: Option<LoraBert>,
    vars: HashMap<String, Var>,
    lora: LoraConfig,
}

/// Head tensors, created seeded like the adapters.
fn init_head(vars: &mut HashMap<String, Var>, hidden: usize, rng: &mut ChaCha8Rng) -> Result<()> {
    let bound = 1.0 / (hidden as f32).sqrt();
    for (name, rows) in [("head.dense", hidden), ("head.out", 3)] {
        if !vars.contains_key(&format!("{name}.weight")) {
            let w = uniform(rng, rows, hidden, bound)?;
            vars.insert(format!("{name}.weight"), Var::from_tensor(&w)?);
            let b = Tensor::zeros(rows, DType::F32, &Device::Cpu)?;
            vars.insert(format!("{name}.bias"), Var::from_tensor(&b)?);
        }
    }
    Ok(())
}

impl CrossModel {
    /// A fresh model (adapters at zero effect, head random), seeded.
    pub fn fresh(base: Base, lora: LoraConfig, seed: u64) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut vars = HashMap::new();
        let bert = LoraBert::new(&base.cfg, &base.tensors, lora, &mut vars, &mut rng)?;
        init_head(&mut vars, base.cfg.hidden_size, &mut rng)?;
        Ok(CrossModel {
            base,
            bert,
            infer: None,
            vars,
            lora,
        })
    }

    /// Loads adapters and head from a safetensors file written by [`CrossModel::save`].
    pub fn load(base: Base, lora: LoraConfig, path: &Path) -> Result<Self> {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| {
            DetectError::Format {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        })?;
        let mut vars = HashMap::new();
        for (k, t) in tensors {
            vars.insert(k, Var::from_tensor(&t)?);
        }
        let expected = 4 + if lora.rank > 0 {
            lora.layers.min(base.cfg.num_hidden_layers) * 12
        } else {
            0
        };
        if vars.len() != expected {
            return Err(DetectError::Format {
                path: path.to_path_buf(),
                reason: format!(
                    "holds {} tensors, expected {expected} for LoRA rank {}",
                    vars.len(),
                    lora.rank
                ),
            });
        }
        // A seeded rng that is never drawn from: every tensor is present.
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let bert = LoraBert::new(&base.cfg, &base.tensors, lora, &mut vars, &mut rng)?;
        for name in [
            "head.dense.weight",
            "head.dense.bias",
            "head.out.weight",
            "head.out.bias",
        ] {
            if !vars.contains_key(name) {
                return Err(DetectError::Format {
                    path: path.to_path_buf(),
                    reason: format!("missing tensor {name}"),
                });
            }
        }
        let infer = Some(bert.merged()?);
        Ok(CrossModel {
            base,
            bert,
            infer,
            vars,
            lora,
        })
    }

    /// Writes adapters and head (sorted names, f32).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::train::save_vars(&self.vars, path)
    }

    pub fn lora(&self) -> LoraConfig {
        self.lora
    }

    pub fn base_sha256(&self) -> &str {
        &self.base.sha256
    }

    /// Number of trained parameters.
    pub fn trained_params(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }

    fn logits(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> Result<Tensor> {
        self.logits_with(&self.bert, ids, types, mask)
    }

    fn logits_with(
        &self,
        bert: &LoraBert,
        ids: &Tensor,
        types: &Tensor,
        mask: &Tensor,
    ) -> Result<Tensor> {
        let h = bert.forward(ids, types, mask)?;
        let pooled = mean_pool(&h, mask)?;
        let v = |n: &str| self.vars[n].as_tensor().clone();
        let d = pooled
            .matmul(&v("head.dense.weight").t()?)?
            .broadcast_add(&v("head.dense.bias"))?
            .tanh()?;
        Ok(d.matmul(&v("head.out.weight").t()?)?
            .broadcast_add(&v("head.out.bias"))?)
    }

    /// Class probabilities `[contradiction, entailment, neutral]` of each pair.
    ///
    /// Each pair is padded (masked) to its length rounded up to [`BUCKET`] tokens and
    /// pairs of one bucket run together: a pair's input — and so its probabilities —
    /// never depends on which other pairs are in the call, while a handful of pairs of
    /// different lengths (a `kimera check`) still makes one or two forward passes instead
    /// of one per length.
    pub fn predict(&self, pairs: &[(&str, &str)]) -> Result<Vec<[f32; 3]>> {
        let mut enc = Vec::with_capacity(pairs.len());
        for (a, b) in pairs {
            enc.push(self.base.encode_pair(a, b)?);
        }
        let merged;
        let bert = match &self.infer {
            Some(b) => b,
            None => {
                merged = self.bert.merged()?;
                &merged
            }
        };
        let bucket = |i: usize| enc[i].0.len().div_ceil(BUCKET) * BUCKET;
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        order.sort_by_key(|&i| (bucket(i), i));
        let mut out = vec![[0f32; 3]; pairs.len()];
        let mut start = 0;
        while start < order.len() {
            let len = bucket(order[start]);
            let mut end = start;
            while end < order.len() && end - start < 64 && bucket(order[end]) == len {
                end += 1;
            }
            let group = &order[start..end];
            let mut ids = Vec::with_capacity(group.len() * len);
            let mut typ = Vec::with_capacity(group.len() * len);
            let mut mask = Vec::with_capacity(group.len() * len);
            for &i in group {
                let (e_ids, e_typ) = (&enc[i].0, &enc[i].1);
                let pad = len - e_ids.len();
                ids.extend(e_ids.iter().copied().chain(std::iter::repeat_n(0, pad)));
                typ.extend(e_typ.iter().copied().chain(std::iter::repeat_n(0, pad)));
                mask.extend(
                    std::iter::repeat_n(1u32, e_ids.len()).chain(std::iter::repeat_n(0, pad)),
                );
            }
            let shape = (group.len(), len);
            let ids = Tensor::from_vec(ids, shape, &Device::Cpu)?;
            let typ = Tensor::from_vec(typ, shape, &Device::Cpu)?;
            let mask = Tensor::from_vec(mask, shape, &Device::Cpu)?;
            let probs =
                candle_nn::ops::softmax(&self.logits_with(bert, &ids, &typ, &mask)?, D::Minus1)?
                    .to_vec2::<f32>()?;
            for (&i, p) in group.iter().zip(probs) {
                out[i] = [p[0], p[1], p[2]];
            }
            start = end;
        }
        Ok(out)
    }

    /// P(contradiction) of each pair.
    pub fn p_contradiction(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        Ok(self
            .predict(pairs)?
            .into_iter()
            .map(|p| p[CONTRADICTION])
            .collect())
    }
}

/// Pads a batch to its longest pair: ids, types, mask.
fn batch_tensors(encs: &[&(Vec<u32>, Vec<u32>)]) -> Result<(Tensor, Tensor, Tensor)> {
    let len = encs.iter().map(|e| e.0.len()).max().unwrap_or(1);
    let mut ids = Vec::with_capacity(encs.len() * len);
    let mut typ = Vec::with_capacity(encs.len() * len);
    let mut mask = Vec::with_capacity(encs.len() * len);
    for (i, t) in encs.iter().map(|e| (&e.0, &e.1)) {
        let pad = len - i.len();
        ids.extend(i.iter().copied().chain(std::iter::repeat_n(0, pad)));
        typ.extend(t.iter().copied().chain(std::iter::repeat_n(0, pad)));
        mask.extend(std::iter::repeat_n(1u32, i.len()).chain(std::iter::repeat_n(0, pad)));
    }
    let shape = (encs.len(), len);
    Ok((
        Tensor::from_vec(ids, shape, &Device::Cpu)?,
        Tensor::from_vec(typ, shape, &Device::Cpu)?,
        Tensor::from_vec(mask, shape, &Device::Cpu)?,
    ))
}

/// Dev metrics of a model: the best-F1 threshold on `dev`.
pub fn evaluate(model: &CrossModel, dev: &[Example]) -> Result<(Prf, Vec<f32>)> {
    let pairs: Vec<(&str, &str)> = dev.iter().map(|e| (e.a.as_str(), e.b.as_str())).collect();
    let probs = model.p_contradiction(&pairs)?;
    let gold: Vec<bool> = dev.iter().map(Example::is_contradiction).collect();
    Ok((best_threshold(&probs, &gold), probs))
}

/// Trains adapters and head with AdamW (linear warm-up over the first 10% of steps, then
/// linear decay), shuffling with `params.seed`. After each epoch the dev set is scored;
/// the returned model is the epoch with the best dev F1 (ties: the earlier), with that
/// epoch's threshold.
pub fn train(
    base: Base,
    train_set: &[Example],
    dev: &[Example],
    params: &CrossParams,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<(CrossModel, Prf, Vec<EpochReport>)> {
    if train_set.is_empty() || dev.is_empty() || params.epochs == 0 {
        return Err(DetectError::Invalid(
            "empty training/dev set or zero epochs".into(),
        ));
    }
    let model = CrossModel::fresh(base, params.lora, params.seed)?;
    let mut names: Vec<&String> = model.vars.keys().collect();
    names.sort();
    let vars: Vec<Var> = names.iter().map(|n| model.vars[*n].clone()).collect();
    let mut opt = AdamW::new(
        vars,
        ParamsAdamW {
            lr: params.lr,
            weight_decay: params.weight_decay,
            ..Default::default()
        },
    )?;
    let n = if params.max_train > 0 {
        params.max_train.min(train_set.len())
    } else {
        train_set.len()
    };
    let mut encs = Vec::with_capacity(train_set.len());
    for e in train_set {
        encs.push(model.base.encode_pair(&e.a, &e.b)?);
    }
    let bs = params.batch_size.max(1);
    let steps_per_epoch = n.div_ceil(bs);
    let total = (steps_per_epoch * params.epochs).max(1);
    let warmup = (total / 10).max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x5eed);
    let mut step = 0usize;
    let mut history = Vec::new();
    let mut best: Option<(Prf, HashMap<String, Tensor>)> = None;
    for epoch in 1..=params.epochs {
        let t0 = Instant::now();
        let mut order: Vec<usize> = (0..train_set.len()).collect();
        order.shuffle(&mut rng);
        order.truncate(n);
        let mut loss_sum = 0f64;
        for (bi, chunk) in order.chunks(bs).enumerate() {
            let lr = if step < warmup {
                params.lr * (step + 1) as f64 / warmup as f64
            } else {
                params.lr * (total - step) as f64 / (total - warmup) as f64
            };
            opt.set_learning_rate(lr);
            let batch: Vec<&(Vec<u32>, Vec<u32>)> = chunk.iter().map(|&i| &encs[i]).collect();
            let (ids, typ, mask) = batch_tensors(&batch)?;
            let labels: Vec<u32> = chunk.iter().map(|&i| train_set[i].label as u32).collect();
            let labels = Tensor::new(labels.as_slice(), &Device::Cpu)?;
            let logits = model.logits(&ids, &typ, &mask)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &labels)?;
            opt.backward_step(&loss)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            step += 1;
            progress(TrainProgress::Step {
                epoch,
                step: bi + 1,
                steps: steps_per_epoch,
                loss: loss_sum / (bi + 1) as f64,
            });
        }
        let (dev_prf, _) = evaluate(&model, dev)?;
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / steps_per_epoch as f64,
            dev: dev_prf,
            seconds: t0.elapsed().as_secs_f64(),
        };
        progress(TrainProgress::Epoch(report.clone()));
        history.push(report);
        if best.as_ref().is_none_or(|(b, _)| dev_prf.f1 > b.f1) {
            let snap = crate::train::snapshot(&model.vars)?;
            best = Some((dev_prf, snap));
        }
    }
    let (prf, snap) = best.expect("at least one epoch");
    crate::train::restore(&model.vars, snap)?;
    Ok((model, prf, history))
}
