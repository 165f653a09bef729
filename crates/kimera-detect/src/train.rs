//! Training either route from files into a model folder, with the metadata that makes the
//! result checkable: where the data came from (sha256), which base model, the seed, the
//! threshold chosen on the dev set and the dev metrics of every epoch.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cross::{self, Base, CrossParams};
use crate::data::{Example, load_examples};
use crate::features::{LEXICAL_NAMES, feature_len, pair_features};
use crate::head::{self, HeadParams};
use crate::metrics::Prf;
use crate::{DetectError, EpochReport, Result, TrainProgress};

/// Which model to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Feature head on frozen sentence vectors (route a).
    Head,
    /// LoRA cross-encoder (route b).
    Cross,
}

impl Route {
    /// Sub-folder of the model folder that holds this route.
    pub fn dir_name(self) -> &'static str {
        match self {
            Route::Head => "head",
            Route::Cross => "cross",
        }
    }
}

/// Default share of training sentences given a denial and an affirmation pair (10%).
pub const DEFAULT_DENIALS_PER_MILLE: usize = 100;

/// Options of [`train_to_dir`]; `None` means the route's default.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub route: Route,
    pub epochs: Option<usize>,
    pub seed: u64,
    pub lr: Option<f64>,
    pub batch_size: Option<usize>,
    /// Use only the first N shuffled training pairs per epoch (0 = all).
    pub max_train: usize,
    /// Hidden units of the head (0 = logistic regression).
    pub hidden: usize,
    /// LoRA rank of the cross-encoder.
    pub lora_rank: usize,
    /// Number of top layers the cross-encoder adapts.
    pub lora_layers: usize,
    /// Add explicit denial/affirmation pairs of this many per mille of the training
    /// sentences ([`crate::data::denial_pairs`]; 0 = none).
    pub denials_per_mille: usize,
    /// Add pairs made by applying substitutions mined from the training pairs to this
    /// many per mille of the training sentences ([`crate::data::substitution_pairs`];
    /// 0 = none).
    pub substitutions_per_mille: usize,
    /// A kimera store used as embedding cache by the head route (None: encode all).
    pub cache_db: Option<PathBuf>,
    /// The sentence-transformers folder (see `kimera_embed::model_dir`).
    pub model_dir: PathBuf,
}

impl TrainOptions {
    pub fn new(route: Route, model_dir: PathBuf) -> Self {
        TrainOptions {
            route,
            epochs: None,
            seed: 42,
            lr: None,
            batch_size: None,
            max_train: 0,
            hidden: HeadParams::default().hidden,
            lora_rank: CrossParams::default().lora.rank,
            lora_layers: CrossParams::default().lora.layers,
            denials_per_mille: DEFAULT_DENIALS_PER_MILLE,
            substitutions_per_mille: 0,
            cache_db: None,
            model_dir,
        }
    }
}

/// `meta.json` of a trained route.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub format: u32,
    pub route: Route,
    /// Predict "contradiction" when P(contradiction) ≥ this (best F1 on the dev set).
    pub threshold: f32,
    pub classes: Vec<String>,
    pub base_model: String,
    pub base_sha256: String,
    /// Head: names of the features after the vector part.
    pub features: Vec<String>,
    pub feature_len: usize,
    pub head: Option<HeadParams>,
    pub cross: Option<CrossParams>,
    pub train_file: String,
    pub train_sha256: String,
    pub train_pairs: usize,
    /// Pairs added by [`crate::data::denial_pairs`] (half denials, half affirmations).
    #[serde(default)]
    pub denial_pairs: usize,
    /// Pairs added by [`crate::data::substitution_pairs`].
    #[serde(default)]
    pub substitution_pairs: usize,
    pub dev_file: String,
    pub dev_sha256: String,
    pub dev: Prf,
    pub history: Vec<EpochReport>,
    pub licence: String,
}

/// Name of the weights file inside a route folder.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// Name of the metadata file inside a route folder.
pub const META_FILE: &str = "meta.json";

fn sha256_of(path: &Path) -> Result<String> {
    Ok(kimera_embed::provision::sha256_file(path)?)
}

/// What [`train_to_dir`] returns: the metadata and the dev probabilities as computed at
/// the end of training (for checking that the saved model reproduces them).
#[derive(Debug, Clone)]
pub struct Trained {
    pub meta: Meta,
    pub dev_probs: Vec<f32>,
}

/// Sentence vectors of the examples' two sides, with the real encoder.
pub fn embed_pairs(
    enc: &dyn kimera_embed::Encoder,
    set: &[Example],
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
    embed_pairs_cached(enc, set, None, progress)
}

/// [`embed_pairs`], reading and filling a store's embedding cache when one is given
/// (same model id and text → same vector, so training runs share the encoding work).
pub fn embed_pairs_cached(
    enc: &dyn kimera_embed::Encoder,
    set: &[Example],
    mut cache: Option<&mut kimera_store::Store>,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
    let mut out = Vec::with_capacity(set.len());
    for (i, chunk) in set.chunks(256).enumerate() {
        let texts: Vec<&str> = chunk
            .iter()
            .flat_map(|e| [e.a.as_str(), e.b.as_str()])
            .collect();
        let vecs = match cache.as_deref_mut() {
            Some(store) => kimera_embed::embed_texts_cached(store, enc, &texts)?.0,
            None => enc.encode(&texts)?,
        };
        let mut it = vecs.into_iter();
        while let (Some(u), Some(v)) = (it.next(), it.next()) {
            out.push((u, v));
        }
        progress(TrainProgress::Embedding {
            done: (i * 256 + chunk.len()).min(set.len()),
            total: set.len(),
        });
    }
    Ok(out)
}

/// Feature rows of examples whose vectors are known.
pub fn feature_rows(set: &[Example], vecs: &[(Vec<f32>, Vec<f32>)]) -> Vec<Vec<f32>> {
    set.iter()
        .zip(vecs)
        .map(|(e, (u, v))| pair_features(u, v, &e.a, &e.b))
        .collect()
}

/// Trains `opts.route` on `train_path`, picks epoch and threshold on `dev_path`, and
/// writes `out/<route>/{weights.safetensors,meta.json}`. Same files, options and machine
/// give byte-identical weights (seeded init and shuffling, deterministic kernels).
pub fn train_to_dir(
    train_path: &Path,
    dev_path: &Path,
    out: &Path,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<Trained> {
    let mut train_set = load_examples(train_path)?;
    let file_pairs = train_set.len();
    // both kinds are made from the file's pairs only (not from each other)
    let denials = crate::data::denial_pairs(&train_set, opts.denials_per_mille, opts.seed);
    let substitutions =
        crate::data::substitution_pairs(&train_set, opts.substitutions_per_mille, opts.seed);
    let (denial_count, substitution_count) = (denials.len(), substitutions.len());
    train_set.extend(denials);
    train_set.extend(substitutions);
    let dev = load_examples(dev_path)?;
    let dir = out.join(opts.route.dir_name());
    std::fs::create_dir_all(&dir).map_err(|e| DetectError::Io {
        path: dir.clone(),
        source: e,
    })?;
    let base_sha = sha256_of(&opts.model_dir.join("model.safetensors"))?;
    let dev_gold: Vec<bool> = dev.iter().map(Example::is_contradiction).collect();
    let (threshold, prf, history, head_p, cross_p, flen, dev_probs);
    match opts.route {
        Route::Head => {
            let enc = kimera_embed::MiniLmEncoder::load(
                &opts.model_dir,
                kimera_embed::MiniLmOptions::default(),
            )?;
            let mut cache = match &opts.cache_db {
                Some(p) => Some(kimera_store::Store::open(p).map_err(|e| DetectError::Data {
                    path: p.clone(),
                    reason: format!("embedding cache: {e}"),
                })?),
                None => None,
            };
            let tv = embed_pairs_cached(&enc, &train_set, cache.as_mut(), progress)?;
            let dv = embed_pairs_cached(&enc, &dev, cache.as_mut(), progress)?;
            let tx = feature_rows(&train_set, &tv);
            let dx = feature_rows(&dev, &dv);
            let ty: Vec<usize> = train_set.iter().map(|e| e.label).collect();
            let d = HeadParams::default();
            let p = HeadParams {
                hidden: opts.hidden,
                epochs: opts.epochs.unwrap_or(d.epochs),
                batch_size: opts.batch_size.unwrap_or(d.batch_size),
                lr: opts.lr.unwrap_or(d.lr),
                seed: opts.seed,
                ..d
            };
            let (model, best, hist) = head::train(&tx, &ty, &dx, &dev_gold, &p, progress)?;
            model.save(&dir.join(WEIGHTS_FILE))?;
            dev_probs = model.p_contradiction(&dx)?;
            (threshold, prf, history, head_p, cross_p) =
                (best.threshold, best, hist, Some(p), None);
            flen = feature_len(tv.first().map_or(384, |(u, _)| u.len()));
        }
        Route::Cross => {
            let base = Base::load(&opts.model_dir)?;
            let d = CrossParams::default();
            let p = CrossParams {
                epochs: opts.epochs.unwrap_or(d.epochs),
                batch_size: opts.batch_size.unwrap_or(d.batch_size),
                lr: opts.lr.unwrap_or(d.lr),
                lora: crate::bert::LoraConfig {
                    rank: opts.lora_rank,
                    alpha: 2.0 * opts.lora_rank as f64,
                    layers: opts.lora_layers,
                },
                seed: opts.seed,
                max_train: opts.max_train,
                ..d
            };
            let (model, best, hist) = cross::train(base, &train_set, &dev, &p, progress)?;
            model.save(&dir.join(WEIGHTS_FILE))?;
            dev_probs = cross::evaluate(&model, &dev)?.1;
            (threshold, prf, history, head_p, cross_p) =
                (best.threshold, best, hist, None, Some(p));
            flen = 0;
        }
    }
    let meta = Meta {
        format: 1,
        route: opts.route,
        threshold,
        classes: crate::CLASSES.iter().map(|s| s.to_string()).collect(),
        base_model: kimera_embed::provision::MODEL_NAME.to_string(),
        base_sha256: base_sha,
        features: if opts.route == Route::Head {
            LEXICAL_NAMES.iter().map(|s| s.to_string()).collect()
        } else {
            Vec::new()
        },
        feature_len: flen,
        head: head_p,
        cross: cross_p,
        train_file: file_name(train_path),
        train_sha256: sha256_of(train_path)?,
        train_pairs: file_pairs,
        denial_pairs: denial_count,
        substitution_pairs: substitution_count,
        dev_file: file_name(dev_path),
        dev_sha256: sha256_of(dev_path)?,
        dev: prf,
        history,
        licence: "trained from the files named above; SICK is CC BY-NC-SA 3.0, so weights trained \
                  from it are shared under the same terms"
            .to_string(),
    };
    let meta_path = dir.join(META_FILE);
    let json = serde_json::to_string_pretty(&meta).expect("meta serialises");
    std::fs::write(&meta_path, json + "\n").map_err(|e| DetectError::Io {
        path: meta_path,
        source: e,
    })?;
    Ok(Trained { meta, dev_probs })
}

/// Writes trained variables to a safetensors file (both routes' `save`).
pub(crate) fn save_vars(
    vars: &std::collections::HashMap<String, candle_core::Var>,
    path: &Path,
) -> Result<()> {
    let map: std::collections::HashMap<String, candle_core::Tensor> = vars
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    candle_core::safetensors::save(&map, path).map_err(|e| DetectError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads a route's `meta.json`.
pub fn read_meta(dir: &Path) -> Result<Meta> {
    let path = dir.join(META_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| DetectError::Io {
        path: path.clone(),
        source: e,
    })?;
    serde_json::from_str(&text).map_err(|e| DetectError::Format {
        path,
        reason: format!("line {}, column {}: {e}", e.line(), e.column()),
    })
}

/// A copy of the trained weights as they are now; both trainers keep the best epoch's
/// weights this way and put them back with [`restore`] at the end.
pub(crate) fn snapshot(
    vars: &std::collections::HashMap<String, candle_core::Var>,
) -> Result<std::collections::HashMap<String, candle_core::Tensor>> {
    vars.iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?)))
        .collect()
}

/// Puts a [`snapshot`] back into the weights.
pub(crate) fn restore(
    vars: &std::collections::HashMap<String, candle_core::Var>,
    snap: std::collections::HashMap<String, candle_core::Tensor>,
) -> Result<()> {
    for (k, t) in snap {
        vars[&k].set(&t)?;
    }
    Ok(())
}
