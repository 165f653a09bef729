//! Route b: a cross-encoder. Both sentences go through MiniLM together
//! (`[CLS] a [SEP] b [SEP]`, token types 0/1), so attention compares them word by word —
//! what a pair of frozen sentence vectors cannot do ("A man is not playing" and "A man is
//! playing" have nearly the same vector). The base weights stay frozen; LoRA adapters on
//! every attention and feed-forward projection plus a small head are trained, so the
//! artefact we commit is ~1.5 MB instead of 90 MB.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokenizers::{Tokenizer, TruncationParams, TruncationStrategy};

use kimera_embed::BertModel;

use crate::bert::{BertConfig, LoraBert, LoraConfig, mean_pool, uniform};
use crate::data::{CONTRADICTION, Example};
use crate::metrics::{Prf, best_threshold};
use crate::{DetectError, EpochReport, Result, TrainProgress};

/// Longest packed pair, in tokens (SICK pairs are ~25).
pub const MAX_TOKENS: usize = 128;

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
    /// Keep the last epoch's weights instead of the best dev epoch's (the number of
    /// epochs is then a hyper-parameter chosen by cross-validation, and the dev set only
    /// reports).
    #[serde(default)]
    pub keep_last: bool,
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
            keep_last: false,
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
    /// The model's `config.json`.
    pub config_path: std::path::PathBuf,
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
            config_path: cfg_path,
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

    /// Share of a text's words (of two or more characters) that the (English
    /// WordPiece) vocabulary has a piece of more than one letter for: how much of the
    /// text it really reads. Words in a script the vocabulary lacks come out letter by
    /// letter (Arabic: about 0; English, French: near 1). Text without such words
    /// counts as covered.
    pub fn vocabulary_coverage(&self, text: &str) -> Result<f32> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| DetectError::Model(format!("tokenizer: {e}")))?;
        // per word: (characters, has a piece longer than one character)
        let mut words: Vec<(usize, bool)> = Vec::new();
        let mut last = None;
        for (piece, word) in enc.get_tokens().iter().zip(enc.get_word_ids()) {
            let chars = piece.trim_start_matches("##").chars().count();
            if word.is_none() || *word != last {
                words.push((0, false));
                last = *word;
            }
            if let Some(w) = words.last_mut() {
                w.0 += chars;
                w.1 |= chars > 1;
            }
        }
        let long: Vec<bool> = words
            .into_iter()
            .filter(|&(n, _)| n > 1)
            .map(|(_, read)| read)
            .collect();
        if long.is_empty() {
            return Ok(1.0);
        }
        Ok(long.iter().filter(|&&r| r).count() as f32 / long.len() as f32)
    }
}

/// The trained cross-encoder: base + adapters + head.
#[derive(Debug, Clone)]
pub struct CrossModel {
    /// The base model; its tensors are dropped once a loaded model has its inference
    /// form (they are folded into it).
    base: Base,
    encoder: Encoder,
    vars: HashMap<String, Var>,
    lora: LoraConfig,
}

/// The encoder of a [`CrossModel`].
#[derive(Debug, Clone)]
enum Encoder {
    /// Adapters beside the frozen weights, differentiable: a model being trained (its
    /// inference form is built per call, as the adapters change every step).
    Training(LoraBert),
    /// A loaded model: adapters folded into the base weights, run by kimera-embed's
    /// fast forward pass ([`CrossModel::inference`]). It cannot be trained further.
    Inference(Arc<Inference>),
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
            encoder: Encoder::Training(bert),
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
        let mut model = CrossModel {
            base,
            encoder: Encoder::Training(bert),
            vars,
            lora,
        };
        let Encoder::Training(bert) = &model.encoder else {
            unreachable!("built just above")
        };
        model.encoder = Encoder::Inference(model.inference(bert)?);
        // Folded into the inference form: ~90 MB the loaded model need not keep twice.
        model.base.tensors = HashMap::new();
        Ok(model)
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

    /// The frozen layers' output for each encoded pair (see [`LoraBert::frozen_prefix`]),
    /// when the model has frozen layers; `None` when every layer is adapted.
    fn frozen_prefixes(&self, encs: &[(Vec<u32>, Vec<u32>)]) -> Result<Option<Vec<Tensor>>> {
        let Encoder::Training(bert) = &self.encoder else {
            return Ok(None);
        };
        if bert.adapted_layers() == self.base.cfg.num_hidden_layers {
            return Ok(None);
        }
        encs.iter()
            .map(|(i, t)| bert.frozen_prefix(i, t))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// [`CrossModel::logits`] from the frozen layers' outputs of a batch: pads them to
    /// the longest, runs the adapted layers and the head.
    fn logits_from_prefixes(&self, prefixes: &[&Tensor]) -> Result<Tensor> {
        let Encoder::Training(bert) = &self.encoder else {
            return Err(DetectError::Model(
                "a loaded cross-encoder is inference-only".into(),
            ));
        };
        let lens = prefixes
            .iter()
            .map(|t| t.dim(0))
            .collect::<candle_core::Result<Vec<usize>>>()?;
        let len = lens.iter().copied().max().unwrap_or(1).max(1);
        let hidden = self.base.cfg.hidden_size;
        let mut rows = Vec::with_capacity(prefixes.len());
        let mut mask = Vec::with_capacity(prefixes.len() * len);
        for (t, &n) in prefixes.iter().zip(&lens) {
            rows.push(if n < len {
                Tensor::cat(
                    &[
                        *t,
                        &Tensor::zeros((len - n, hidden), DType::F32, &Device::Cpu)?,
                    ],
                    0,
                )?
            } else {
                (*t).clone()
            });
            mask.extend(std::iter::repeat_n(1u32, n).chain(std::iter::repeat_n(0, len - n)));
        }
        let x = Tensor::cat(&rows, 0)?;
        let mask = Tensor::from_vec(mask, (prefixes.len(), len), &Device::Cpu)?;
        let h = bert.forward_adapted(x, &mask)?;
        self.head_logits(&mean_pool(&h, &mask)?)
    }

    fn logits(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let Encoder::Training(bert) = &self.encoder else {
            return Err(DetectError::Model(
                "a loaded cross-encoder is inference-only".into(),
            ));
        };
        let h = bert.forward(ids, types, mask)?;
        self.head_logits(&mean_pool(&h, mask)?)
    }

    /// The classification head on pooled vectors `(batch, hidden)`.
    fn head_logits(&self, pooled: &Tensor) -> Result<Tensor> {
        let v = |n: &str| self.vars[n].as_tensor().clone();
        let d = pooled
            .matmul(&v("head.dense.weight").t()?)?
            .broadcast_add(&v("head.dense.bias"))?
            .tanh()?;
        Ok(d.matmul(&v("head.out.weight").t()?)?
            .broadcast_add(&v("head.out.bias"))?)
    }

    /// The encoder for inference: each adapter folded into its weight
    /// (`W + alpha/r · B·A`, the same function as the training form) and run by
    /// kimera-embed's forward pass, which computes the same maths ~2× faster than candle
    /// ops on CPU. Probabilities agree with the training form to float rounding (tested
    /// to 1e-5).
    fn inference(&self, bert: &LoraBert) -> Result<Arc<Inference>> {
        let mut tensors = self.base.tensors.clone();
        for (name, w) in bert.folded_weights()? {
            tensors.insert(name, w);
        }
        Ok(Arc::new(Inference {
            bert: BertModel::from_tensors(&self.base.config_path, tensors)?,
            head: HeadWeights::from_vars(&self.vars)?,
        }))
    }

    /// See [`Base::vocabulary_coverage`].
    pub fn vocabulary_coverage(&self, text: &str) -> Result<f32> {
        self.base.vocabulary_coverage(text)
    }

    /// Class probabilities `[contradiction, entailment, neutral]` of each pair.
    ///
    /// Pairs run unpadded, as ragged batches in parallel on the current rayon pool
    /// ([`BertModel::pooled`]); a pair's probabilities never depend on which other pairs
    /// are in the call (bit for bit).
    pub fn predict(&self, pairs: &[(&str, &str)]) -> Result<Vec<[f32; 3]>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let mut enc = Vec::with_capacity(pairs.len());
        for (a, b) in pairs {
            enc.push(self.base.encode_pair(a, b)?);
        }
        let infer = match &self.encoder {
            Encoder::Inference(m) => Arc::clone(m),
            Encoder::Training(bert) => self.inference(bert)?,
        };
        let seqs: Vec<(&[u32], &[u32])> = enc
            .iter()
            .map(|(i, t)| (i.as_slice(), t.as_slice()))
            .collect();
        let pooled = infer
            .bert
            .pooled(&seqs)
            .map_err(|e| DetectError::Model(e.to_string()))?;
        Ok(pooled.iter().map(|v| infer.head.probs(v)).collect())
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

/// A model's inference form (see [`CrossModel::inference`]).
#[derive(Debug)]
struct Inference {
    bert: BertModel,
    head: HeadWeights,
}

/// The classification head as plain rows, for inference: each pair's probabilities are
/// computed on their own, in a fixed order, so they are bit-identical whatever the batch
/// (a matrix product over a batch may pick kernels by batch size).
#[derive(Debug)]
struct HeadWeights {
    dense_w: Vec<f32>,
    dense_b: Vec<f32>,
    out_w: Vec<f32>,
    out_b: Vec<f32>,
}

impl HeadWeights {
    fn from_vars(vars: &HashMap<String, Var>) -> Result<Self> {
        let flat = |n: &str| -> Result<Vec<f32>> {
            Ok(vars[n].as_tensor().flatten_all()?.to_vec1::<f32>()?)
        };
        Ok(HeadWeights {
            dense_w: flat("head.dense.weight")?,
            dense_b: flat("head.dense.bias")?,
            out_w: flat("head.out.weight")?,
            out_b: flat("head.out.bias")?,
        })
    }

    /// Softmax of `out(tanh(dense(v)))`, weights stored `[out, in]` as in the head.
    fn probs(&self, v: &[f32]) -> [f32; 3] {
        let h = v.len();
        let d: Vec<f32> = self
            .dense_w
            .chunks_exact(h)
            .zip(&self.dense_b)
            .map(|(row, b)| (row.iter().zip(v).map(|(w, x)| w * x).sum::<f32>() + b).tanh())
            .collect();
        let mut logits = [0f32; 3];
        for (k, (row, b)) in self
            .out_w
            .chunks_exact(d.len())
            .zip(&self.out_b)
            .enumerate()
        {
            logits[k] = row.iter().zip(&d).map(|(w, x)| w * x).sum::<f32>() + b;
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e = logits.map(|l| (l - max).exp());
        let sum: f32 = e.iter().sum();
        e.map(|x| x / sum)
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

/// Dev metrics of a model: the best-F1 threshold on `dev`, and P(contradiction) of
/// each pair.
pub fn evaluate(model: &CrossModel, dev: &[Example]) -> Result<(Prf, Vec<f32>)> {
    let (prf, classes) = evaluate_classes(model, dev)?;
    Ok((prf, classes.iter().map(|p| p[CONTRADICTION]).collect()))
}

/// [`evaluate`] with the three class probabilities of each pair.
pub fn evaluate_classes(model: &CrossModel, dev: &[Example]) -> Result<(Prf, Vec<[f32; 3]>)> {
    let pairs: Vec<(&str, &str)> = dev.iter().map(|e| (e.a.as_str(), e.b.as_str())).collect();
    let classes = model.predict(&pairs)?;
    let probs: Vec<f32> = classes.iter().map(|p| p[CONTRADICTION]).collect();
    let gold: Vec<bool> = dev.iter().map(Example::is_contradiction).collect();
    Ok((best_threshold(&probs, &gold), classes))
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
    // The layers below the adapted ones never change: their output is computed once.
    let prefixes = model.frozen_prefixes(&encs)?;
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
            let labels: Vec<u32> = chunk.iter().map(|&i| train_set[i].label as u32).collect();
            let labels = Tensor::new(labels.as_slice(), &Device::Cpu)?;
            let logits = match &prefixes {
                Some(p) => {
                    let batch: Vec<&Tensor> = chunk.iter().map(|&i| &p[i]).collect();
                    model.logits_from_prefixes(&batch)?
                }
                None => {
                    let batch: Vec<&(Vec<u32>, Vec<u32>)> =
                        chunk.iter().map(|&i| &encs[i]).collect();
                    let (ids, typ, mask) = batch_tensors(&batch)?;
                    model.logits(&ids, &typ, &mask)?
                }
            };
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
        let (dev_prf, classes) = evaluate_classes(&model, dev)?;
        progress(TrainProgress::DevProbs {
            epoch,
            probs: classes,
        });
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / steps_per_epoch as f64,
            dev: dev_prf,
            seconds: t0.elapsed().as_secs_f64(),
        };
        progress(TrainProgress::Epoch(report.clone()));
        history.push(report);
        let last = epoch == params.epochs;
        if (params.keep_last && last)
            || (!params.keep_last && best.as_ref().is_none_or(|(b, _)| dev_prf.f1 > b.f1))
        {
            let snap = crate::train::snapshot(&model.vars)?;
            best = Some((dev_prf, snap));
        }
    }
    let (prf, snap) = best.expect("at least one epoch");
    crate::train::restore(&model.vars, snap)?;
    Ok((model, prf, history))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::D;

    /// The inference path (adapters folded, kimera-embed's forward, no padding) computes
    /// the same function as the training form (adapters beside the weights, candle ops,
    /// padded and masked batches).
    #[test]
    fn fast_inference_matches_the_training_form() {
        let dir = kimera_embed::model_dir();
        if let Err(e) = kimera_embed::provision::check_model_dir(&dir) {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but the model is missing: {e}"
            );
            eprintln!("SKIPPED: {e}");
            return;
        }
        let base = Base::load(&dir).unwrap();
        let lora = LoraConfig {
            rank: 4,
            alpha: 8.0,
            layers: 6,
        };
        let model = CrossModel::fresh(base, lora, 7).unwrap();
        // Fresh adapters have B = 0 (no effect); give them weight so folding matters.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut names: Vec<&String> = model.vars.keys().collect();
        names.sort();
        for n in names.into_iter().filter(|n| n.ends_with("lora_b")) {
            let (r, c) = model.vars[n].dims2().unwrap();
            model.vars[n]
                .set(&uniform(&mut rng, r, c, 0.05).unwrap())
                .unwrap();
        }
        let pairs = [
            (
                "A man is playing a guitar.",
                "A man is not playing a guitar.",
            ),
            (
                "Two dogs run.",
                "Two dogs are running on the grass in the park.",
            ),
            (
                "Le chat dort.",
                "The cat is awake and playing with a red ball.",
            ),
            ("x", "y"),
        ];
        let fast = model.predict(&pairs).unwrap();
        let encs: Vec<(Vec<u32>, Vec<u32>)> = pairs
            .iter()
            .map(|(a, b)| model.base.encode_pair(a, b).unwrap())
            .collect();
        let refs: Vec<&(Vec<u32>, Vec<u32>)> = encs.iter().collect();
        let (ids, typ, mask) = batch_tensors(&refs).unwrap();
        let slow = candle_nn::ops::softmax(&model.logits(&ids, &typ, &mask).unwrap(), D::Minus1)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (f, s) in fast.iter().zip(&slow) {
            for k in 0..3 {
                assert!((f[k] - s[k]).abs() < 1e-5, "{f:?} vs {s:?}");
            }
        }
        // The adapters do move the probabilities (so the comparison above is not vacuous).
        let plain = CrossModel::fresh(model.base.clone(), lora, 7).unwrap();
        let p0 = plain.predict(&pairs).unwrap();
        assert!(
            p0.iter()
                .zip(&fast)
                .any(|(a, b)| (a[0] - b[0]).abs() > 1e-3)
        );
    }

    /// Training from the frozen layers' cached output computes the same logits as the
    /// full forward pass (to float rounding: unpadded prefixes vs masked padding).
    #[test]
    fn cached_frozen_layers_give_the_same_logits() {
        let dir = kimera_embed::model_dir();
        if let Err(e) = kimera_embed::provision::check_model_dir(&dir) {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but the model is missing: {e}"
            );
            eprintln!("SKIPPED: {e}");
            return;
        }
        let base = Base::load(&dir).unwrap();
        let lora = LoraConfig {
            rank: 4,
            alpha: 8.0,
            layers: 2,
        };
        let model = CrossModel::fresh(base, lora, 3).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut names: Vec<&String> = model.vars.keys().collect();
        names.sort();
        for n in names.into_iter().filter(|n| n.ends_with("lora_b")) {
            let (r, c) = model.vars[n].dims2().unwrap();
            model.vars[n]
                .set(&uniform(&mut rng, r, c, 0.05).unwrap())
                .unwrap();
        }
        let pairs = [
            (
                "A man is playing a guitar.",
                "A man is not playing a guitar.",
            ),
            (
                "Two dogs run.",
                "Two dogs are running on the grass in the park.",
            ),
        ];
        let encs: Vec<(Vec<u32>, Vec<u32>)> = pairs
            .iter()
            .map(|(a, b)| model.base.encode_pair(a, b).unwrap())
            .collect();
        let refs: Vec<&(Vec<u32>, Vec<u32>)> = encs.iter().collect();
        let (ids, typ, mask) = batch_tensors(&refs).unwrap();
        let full = model
            .logits(&ids, &typ, &mask)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let prefixes = model
            .frozen_prefixes(&encs)
            .unwrap()
            .expect("4 frozen layers");
        let batch: Vec<&Tensor> = prefixes.iter().collect();
        let cached = model
            .logits_from_prefixes(&batch)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (f, c) in full.iter().zip(&cached) {
            for k in 0..3 {
                assert!((f[k] - c[k]).abs() < 1e-4, "{f:?} vs {c:?}");
            }
        }
    }
}
