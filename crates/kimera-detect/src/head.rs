//! Route a: a small MLP (or, with `hidden = 0`, multinomial logistic regression) on
//! [`pair_features`](crate::features::pair_features) of frozen sentence vectors.
//!
//! Features are standardised with the training set's mean and standard deviation, which
//! are saved with the weights, so the model sees the same numbers at inference.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::bert::uniform;
use crate::data::CONTRADICTION;
use crate::metrics::{Prf, best_threshold};
use crate::{DetectError, EpochReport, Result, TrainProgress};

/// Training settings of the head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadParams {
    /// Hidden units; 0 = logistic regression.
    pub hidden: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub seed: u64,
    /// Keep the last epoch instead of the best dev epoch (see `CrossParams::keep_last`).
    #[serde(default)]
    pub keep_last: bool,
}

impl Default for HeadParams {
    fn default() -> Self {
        HeadParams {
            hidden: 128,
            epochs: 40,
            batch_size: 64,
            lr: 1e-3,
            weight_decay: 0.01,
            seed: 42,
            keep_last: false,
        }
    }
}

/// The trained head.
#[derive(Debug, Clone)]
pub struct HeadModel {
    vars: HashMap<String, Var>,
    dim: usize,
}

impl HeadModel {
    fn fresh(dim: usize, hidden: usize, mean: Vec<f32>, std: Vec<f32>, seed: u64) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut vars = HashMap::new();
        let mut add = |name: &str, t: Tensor| -> Result<()> {
            vars.insert(name.to_string(), Var::from_tensor(&t)?);
            Ok(())
        };
        add("norm.mean", Tensor::from_vec(mean, dim, &Device::Cpu)?)?;
        add("norm.std", Tensor::from_vec(std, dim, &Device::Cpu)?)?;
        let mut inp = dim;
        if hidden > 0 {
            add(
                "l1.weight",
                uniform(&mut rng, hidden, dim, 1.0 / (dim as f32).sqrt())?,
            )?;
            add("l1.bias", Tensor::zeros(hidden, DType::F32, &Device::Cpu)?)?;
            inp = hidden;
        }
        add(
            "out.weight",
            uniform(&mut rng, 3, inp, 1.0 / (inp as f32).sqrt())?,
        )?;
        add("out.bias", Tensor::zeros(3, DType::F32, &Device::Cpu)?)?;
        Ok(HeadModel { vars, dim })
    }

    /// Loads weights written by [`HeadModel::save`]; `dim` is the expected feature length.
    pub fn load(path: &Path, dim: usize) -> Result<Self> {
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
        for name in ["norm.mean", "norm.std", "out.weight", "out.bias"] {
            if !vars.contains_key(name) {
                return Err(DetectError::Format {
                    path: path.to_path_buf(),
                    reason: format!("missing tensor {name}"),
                });
            }
        }
        let got = vars["norm.mean"].elem_count();
        if got != dim {
            return Err(DetectError::Format {
                path: path.to_path_buf(),
                reason: format!("features have length {got}, expected {dim}"),
            });
        }
        Ok(HeadModel { vars, dim })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::train::save_vars(&self.vars, path)
    }

    /// Feature length this head expects.
    pub fn dim(&self) -> usize {
        self.dim
    }

    fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let v = |n: &str| self.vars[n].as_tensor();
        let mut h = x
            .broadcast_sub(v("norm.mean"))?
            .broadcast_div(v("norm.std"))?;
        if let Some(w) = self.vars.get("l1.weight") {
            h = h
                .matmul(&w.as_tensor().t()?)?
                .broadcast_add(v("l1.bias"))?
                .relu()?;
        }
        Ok(h.matmul(&v("out.weight").t()?)?
            .broadcast_add(v("out.bias"))?)
    }

    /// P(contradiction) for each feature row. Rows are scored one matrix product at a time;
    /// each output row depends only on its input row.
    pub fn p_contradiction(&self, rows: &[Vec<f32>]) -> Result<Vec<f32>> {
        Ok(self
            .predict(rows)?
            .into_iter()
            .map(|r| r[CONTRADICTION])
            .collect())
    }

    /// Class probabilities `[contradiction, entailment, neutral]` for each feature row.
    pub fn predict(&self, rows: &[Vec<f32>]) -> Result<Vec<[f32; 3]>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        let x = Tensor::from_vec(flat, (rows.len(), self.dim), &Device::Cpu)?;
        let p = candle_nn::ops::softmax(&self.logits(&x)?, D::Minus1)?.to_vec2::<f32>()?;
        Ok(p.into_iter().map(|r| [r[0], r[1], r[2]]).collect())
    }
}

/// Trains the head on feature rows; returns the best dev epoch's model and threshold.
pub fn train(
    train_x: &[Vec<f32>],
    train_y: &[usize],
    dev_x: &[Vec<f32>],
    dev_gold: &[bool],
    params: &HeadParams,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<(HeadModel, Prf, Vec<EpochReport>)> {
    let n = train_x.len();
    if n == 0 || dev_x.is_empty() || params.epochs == 0 {
        return Err(DetectError::Invalid(
            "empty training/dev set or zero epochs".into(),
        ));
    }
    let dim = train_x[0].len();
    let mut mean = vec![0f64; dim];
    for r in train_x {
        for (m, x) in mean.iter_mut().zip(r) {
            *m += *x as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut var = vec![0f64; dim];
    for r in train_x {
        for ((s, x), m) in var.iter_mut().zip(r).zip(&mean) {
            *s += (*x as f64 - m).powi(2);
        }
    }
    let std: Vec<f32> = var
        .iter()
        .map(|s| ((s / n as f64).sqrt() as f32).max(1e-4))
        .collect();
    let mean: Vec<f32> = mean.iter().map(|m| *m as f32).collect();
    let model = HeadModel::fresh(dim, params.hidden, mean, std, params.seed)?;
    let mut names: Vec<&String> = model
        .vars
        .keys()
        .filter(|k| !k.starts_with("norm."))
        .collect();
    names.sort();
    let trainable: Vec<Var> = names.iter().map(|k| model.vars[*k].clone()).collect();
    let mut opt = AdamW::new(
        trainable,
        ParamsAdamW {
            lr: params.lr,
            weight_decay: params.weight_decay,
            ..Default::default()
        },
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x5eed);
    let bs = params.batch_size.max(1);
    let mut history = Vec::new();
    let mut best: Option<(Prf, HashMap<String, Tensor>)> = None;
    for epoch in 1..=params.epochs {
        let t0 = Instant::now();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        let steps = n.div_ceil(bs);
        for (bi, chunk) in order.chunks(bs).enumerate() {
            let flat: Vec<f32> = chunk
                .iter()
                .flat_map(|&i| train_x[i].iter().copied())
                .collect();
            let x = Tensor::from_vec(flat, (chunk.len(), dim), &Device::Cpu)?;
            let y: Vec<u32> = chunk.iter().map(|&i| train_y[i] as u32).collect();
            let y = Tensor::new(y.as_slice(), &Device::Cpu)?;
            let loss = candle_nn::loss::cross_entropy(&model.logits(&x)?, &y)?;
            opt.backward_step(&loss)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            progress(TrainProgress::Step {
                epoch,
                step: bi + 1,
                steps,
                loss: loss_sum / (bi + 1) as f64,
            });
        }
        let classes = model.predict(dev_x)?;
        let probs: Vec<f32> = classes.iter().map(|r| r[CONTRADICTION]).collect();
        progress(TrainProgress::DevProbs {
            epoch,
            probs: classes,
        });
        let dev = best_threshold(&probs, dev_gold);
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / steps as f64,
            dev,
            seconds: t0.elapsed().as_secs_f64(),
        };
        progress(TrainProgress::Epoch(report.clone()));
        history.push(report);
        let last = epoch == params.epochs;
        if (params.keep_last && last)
            || (!params.keep_last && best.as_ref().is_none_or(|(b, _)| dev.f1 > b.f1))
        {
            let snap = crate::train::snapshot(&model.vars)?;
            best = Some((dev, snap));
        }
    }
    let (prf, snap) = best.expect("epochs >= 1");
    crate::train::restore(&model.vars, snap)?;
    Ok((model, prf, history))
}
