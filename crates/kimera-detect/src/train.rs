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
    /// Add pairs made by negating side b of entailment and neutral training pairs
    /// ([`crate::data::negation_pairs`]) for this many per mille of the usable pairs
    /// (0 = none).
    pub negations_per_mille: usize,
    /// Cross-validation folds for out-of-fold predictions (0 = none). With folds the
    /// route is trained for exactly `epochs` (the last epoch is kept) and the dev file
    /// only reports; each fold's model writes its held-out predictions to
    /// `<route>/oof.jsonl`, which `kimera train-detector --route decision` fits on.
    pub folds: usize,
    /// Seed of the fold assignment ([`crate::protocol::stratified_folds`]).
    pub fold_seed: u64,
    /// A kimera store used as embedding cache by the head route (None: encode all).
    pub cache_db: Option<PathBuf>,
    /// More labelled pairs files appended to the training file (e.g. the resolved
    /// conflicts `kimera export feedback` writes): trained on, never used for dev.
    pub extra: Vec<PathBuf>,
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
            negations_per_mille: 0,
            folds: 0,
            fold_seed: 42,
            cache_db: None,
            extra: Vec::new(),
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
    /// Pairs added by [`crate::data::negation_pairs`].
    #[serde(default)]
    pub negation_pairs: usize,
    /// Cross-validation folds of the out-of-fold predictions (`oof.jsonl`; 0 = none)
    /// and their seed.
    #[serde(default)]
    pub folds: usize,
    #[serde(default)]
    pub fold_seed: u64,
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

/// The training set of `opts`: `set` plus the pairs made from it (denials,
/// substitutions, negations: each kind from `set` alone, not from each other), and the
/// number of each kind.
fn augmented(set: &[Example], opts: &TrainOptions) -> (Vec<Example>, [usize; 3]) {
    let denials = crate::data::denial_pairs(set, opts.denials_per_mille, opts.seed);
    let substitutions =
        crate::data::substitution_pairs(set, opts.substitutions_per_mille, opts.seed);
    let negations = crate::data::negation_pairs(set, opts.negations_per_mille, opts.seed);
    let counts = [denials.len(), substitutions.len(), negations.len()];
    let mut out = set.to_vec();
    out.extend(denials);
    out.extend(substitutions);
    out.extend(negations);
    (out, counts)
}

/// Name of the out-of-fold predictions file inside a route folder.
pub const OOF_FILE: &str = "oof.jsonl";

/// One line of `oof.jsonl`: a training pair's class probabilities from the model that
/// did not see it, in both orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OofLine {
    /// Index of the pair in the training file.
    pub i: usize,
    pub fold: usize,
    /// `[contradiction, entailment, neutral]` for (a, b).
    pub p: [f32; 3],
    /// The same for (b, a).
    pub r: [f32; 3],
}

/// Sentence vectors for examples, encoded once per distinct text for a whole run.
struct Vectors<'a> {
    enc: kimera_embed::MiniLmEncoder,
    cache: Option<kimera_store::Store>,
    memo: std::collections::HashMap<String, Vec<f32>>,
    progress: &'a mut dyn FnMut(TrainProgress),
}

impl Vectors<'_> {
    fn pairs(&mut self, set: &[Example]) -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
        let missing: Vec<Example> = set
            .iter()
            .filter(|e| !self.memo.contains_key(&e.a) || !self.memo.contains_key(&e.b))
            .cloned()
            .collect();
        let vecs = embed_pairs_cached(&self.enc, &missing, self.cache.as_mut(), self.progress)?;
        for (e, (u, v)) in missing.into_iter().zip(vecs) {
            self.memo.insert(e.a, u);
            self.memo.insert(e.b, v);
        }
        Ok(set
            .iter()
            .map(|e| (self.memo[&e.a].clone(), self.memo[&e.b].clone()))
            .collect())
    }
}

/// Trains `opts.route` on `train_path` and writes `out/<route>/{weights.safetensors,
/// meta.json}`; with `opts.folds` ≥ 2 first writes out-of-fold predictions
/// (`oof.jsonl`, see [`TrainOptions::folds`]) and keeps the last epoch, otherwise picks
/// the epoch and threshold on `dev_path` (the old protocol, for experiments). Same
/// files, options and machine give byte-identical weights (seeded init and shuffling,
/// deterministic kernels).
pub fn train_to_dir(
    train_path: &Path,
    dev_path: &Path,
    out: &Path,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<Trained> {
    let mut file_set = load_examples(train_path)?;
    for p in &opts.extra {
        file_set.extend(load_examples(p)?);
    }
    let (train_set, [denial_count, substitution_count, negation_count]) =
        augmented(&file_set, opts);
    let dev = load_examples(dev_path)?;
    let dir = out.join(opts.route.dir_name());
    std::fs::create_dir_all(&dir).map_err(|e| DetectError::Io {
        path: dir.clone(),
        source: e,
    })?;
    let base_sha = sha256_of(&opts.model_dir.join("model.safetensors"))?;
    let dev_gold: Vec<bool> = dev.iter().map(Example::is_contradiction).collect();
    let keep_last = opts.folds >= 2;
    let reversed = |set: &[Example]| -> Vec<Example> {
        set.iter()
            .map(|e| Example {
                a: e.b.clone(),
                b: e.a.clone(),
                ..e.clone()
            })
            .collect()
    };
    let fold_of = if keep_last {
        let labels: Vec<usize> = file_set.iter().map(|e| e.label).collect();
        crate::protocol::stratified_folds(&labels, opts.folds, opts.fold_seed)
    } else {
        Vec::new()
    };
    let mut oof: Vec<OofLine> = Vec::new();
    let (threshold, prf, history, head_p, cross_p, flen, dev_probs);
    match opts.route {
        Route::Head => {
            let enc = kimera_embed::MiniLmEncoder::load(
                &opts.model_dir,
                kimera_embed::MiniLmOptions::default(),
            )?;
            let cache = match &opts.cache_db {
                Some(p) => Some(kimera_store::Store::open(p).map_err(|e| DetectError::Data {
                    path: p.clone(),
                    reason: format!("embedding cache: {e}"),
                })?),
                None => None,
            };
            let d = HeadParams::default();
            let p = HeadParams {
                hidden: opts.hidden,
                epochs: opts.epochs.unwrap_or(d.epochs),
                batch_size: opts.batch_size.unwrap_or(d.batch_size),
                lr: opts.lr.unwrap_or(d.lr),
                seed: opts.seed,
                keep_last,
                ..d
            };
            let mut quiet = |_: TrainProgress| {};
            let mut vectors = Vectors {
                enc,
                cache,
                memo: std::collections::HashMap::new(),
                progress: &mut quiet,
            };
            let rows = |vectors: &mut Vectors, set: &[Example]| -> Result<Vec<Vec<f32>>> {
                Ok(feature_rows(set, &vectors.pairs(set)?))
            };
            for f in 0..if keep_last { opts.folds } else { 0 } {
                progress(TrainProgress::Fold {
                    fold: f,
                    folds: opts.folds,
                });
                let held: Vec<usize> = (0..file_set.len()).filter(|&i| fold_of[i] == f).collect();
                let rest: Vec<Example> = (0..file_set.len())
                    .filter(|&i| fold_of[i] != f)
                    .map(|i| file_set[i].clone())
                    .collect();
                let (tr, _) = augmented(&rest, opts);
                let held_set: Vec<Example> = held.iter().map(|&i| file_set[i].clone()).collect();
                let tx = rows(&mut vectors, &tr)?;
                let ty: Vec<usize> = tr.iter().map(|e| e.label).collect();
                let hx = rows(&mut vectors, &held_set)?;
                let hr = rows(&mut vectors, &reversed(&held_set))?;
                let gold: Vec<bool> = held_set.iter().map(Example::is_contradiction).collect();
                let (m, _, _) = head::train(&tx, &ty, &hx, &gold, &p, &mut |_| {})?;
                let (pf, pr) = (m.predict(&hx)?, m.predict(&hr)?);
                for (k, &i) in held.iter().enumerate() {
                    oof.push(OofLine {
                        i,
                        fold: f,
                        p: pf[k],
                        r: pr[k],
                    });
                }
            }
            let tx = rows(&mut vectors, &train_set)?;
            let dx = rows(&mut vectors, &dev)?;
            let ty: Vec<usize> = train_set.iter().map(|e| e.label).collect();
            let (model, best, hist) = head::train(&tx, &ty, &dx, &dev_gold, &p, progress)?;
            model.save(&dir.join(WEIGHTS_FILE))?;
            dev_probs = model.p_contradiction(&dx)?;
            (threshold, prf, history, head_p, cross_p) =
                (best.threshold, best, hist, Some(p), None);
            flen = tx.first().map_or(feature_len(384), Vec::len);
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
                keep_last,
                ..d
            };
            for f in 0..if keep_last { opts.folds } else { 0 } {
                progress(TrainProgress::Fold {
                    fold: f,
                    folds: opts.folds,
                });
                let held: Vec<usize> = (0..file_set.len()).filter(|&i| fold_of[i] == f).collect();
                let rest: Vec<Example> = (0..file_set.len())
                    .filter(|&i| fold_of[i] != f)
                    .map(|i| file_set[i].clone())
                    .collect();
                let (tr, _) = augmented(&rest, opts);
                let held_set: Vec<Example> = held.iter().map(|&i| file_set[i].clone()).collect();
                let (m, _, _) = cross::train(base.clone(), &tr, &held_set, &p, progress)?;
                let fwd: Vec<(&str, &str)> = held_set
                    .iter()
                    .map(|e| (e.a.as_str(), e.b.as_str()))
                    .collect();
                let rev: Vec<(&str, &str)> = fwd.iter().map(|&(a, b)| (b, a)).collect();
                let (pf, pr) = (m.predict(&fwd)?, m.predict(&rev)?);
                for (k, &i) in held.iter().enumerate() {
                    oof.push(OofLine {
                        i,
                        fold: f,
                        p: pf[k],
                        r: pr[k],
                    });
                }
            }
            let (model, best, hist) = cross::train(base, &train_set, &dev, &p, progress)?;
            model.save(&dir.join(WEIGHTS_FILE))?;
            dev_probs = cross::evaluate(&model, &dev)?.1;
            (threshold, prf, history, head_p, cross_p) =
                (best.threshold, best, hist, None, Some(p));
            flen = 0;
        }
    }
    let mut threshold = threshold;
    if keep_last {
        oof.sort_by_key(|l| l.i);
        // the route's own threshold (for `model-head` / `model-cross` alone): best F1
        // on its out-of-fold predictions, not on the dev file
        let probs: Vec<f32> = oof.iter().map(|l| l.p[crate::CONTRADICTION]).collect();
        let gold: Vec<bool> = oof
            .iter()
            .map(|l| file_set[l.i].is_contradiction())
            .collect();
        threshold = crate::best_threshold(&probs, &gold).threshold;
        let path = dir.join(OOF_FILE);
        let mut text = String::new();
        for l in &oof {
            text.push_str(&serde_json::to_string(l).expect("serialises"));
            text.push('\n');
        }
        std::fs::write(&path, text).map_err(|e| DetectError::Io { path, source: e })?;
    } else {
        // an oof.jsonl of an earlier run would not match these weights
        let _ = std::fs::remove_file(dir.join(OOF_FILE));
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
        train_pairs: file_set.len(),
        denial_pairs: denial_count,
        substitution_pairs: substitution_count,
        negation_pairs: negation_count,
        folds: if keep_last { opts.folds } else { 0 },
        fold_seed: opts.fold_seed,
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

/// Fits the decision (see [`crate::decision`]) on the out-of-fold predictions that
/// `train_to_dir` wrote into `out/head` and `out/cross` for `train_path` (the same
/// file, the same folds), writes `out/decision.json`, then scores `dev_path` once with
/// the whole detector and records the result (it chooses nothing).
pub fn fit_decision_dir(
    train_path: &Path,
    dev_path: &Path,
    out: &Path,
    model_dir: &Path,
    cache_db: Option<&Path>,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<crate::decision::DecisionConfig> {
    use crate::decision::{OofPair, fit, rule_alone, symmetric};
    let set = load_examples(train_path)?;
    let head = read_oof(&out.join(Route::Head.dir_name()))?;
    let cross = read_oof(&out.join(Route::Cross.dir_name()))?;
    let hm = read_meta(&out.join(Route::Head.dir_name()))?;
    let cm = read_meta(&out.join(Route::Cross.dir_name()))?;
    let train_sha = sha256_of(train_path)?;
    for (route, oof, meta) in [("head", &head, &hm), ("cross", &cross, &cm)] {
        let complete = oof.len() == set.len() && oof.iter().enumerate().all(|(k, l)| l.i == k);
        if !complete || meta.train_sha256 != train_sha || meta.folds < 2 {
            return Err(DetectError::Data {
                path: out.join(route).join(OOF_FILE),
                reason: format!(
                    "not the out-of-fold predictions of {} ({} lines for {} pairs, {} folds): \
                     train the route with --folds first",
                    train_path.display(),
                    oof.len(),
                    set.len(),
                    meta.folds
                ),
            });
        }
    }
    if hm.folds != cm.folds
        || hm.fold_seed != cm.fold_seed
        || head.iter().zip(&cross).any(|(h, c)| h.fold != c.fold)
    {
        return Err(DetectError::Invalid(
            "the head's and the cross-encoder's out-of-fold predictions use different folds: \
             train both with the same --folds and --fold-seed"
                .into(),
        ));
    }
    let enc = kimera_embed::MiniLmEncoder::load(model_dir, kimera_embed::MiniLmOptions::default())?;
    let mut cache = match cache_db {
        Some(p) => Some(kimera_store::Store::open(p).map_err(|e| DetectError::Data {
            path: p.to_path_buf(),
            reason: format!("embedding cache: {e}"),
        })?),
        None => None,
    };
    let vecs = embed_pairs_cached(&enc, &set, cache.as_mut(), progress)?;
    let pairs: Vec<OofPair> = set
        .iter()
        .zip(&vecs)
        .zip(head.iter().zip(&cross))
        .map(|((e, (u, v)), (h, c))| OofPair {
            gold: e.is_contradiction(),
            fold: h.fold,
            cosine: kimera_core::dot(u, v),
            head: h.p,
            cross: symmetric(c.p, c.r),
            rule: rule_alone(&e.a, &e.b),
        })
        .collect();
    let mut cfg = fit(&pairs, hm.folds, hm.fold_seed);
    cfg.protocol.train_file = file_name(train_path);
    cfg.protocol.train_sha256 = train_sha;
    write_decision(out, &cfg)?;
    // the dev file, scored once by the detector as it will run
    let dev = load_examples(dev_path)?;
    let dv = embed_pairs_cached(&enc, &dev, cache.as_mut(), progress)?;
    let det = crate::ModelDetector::load(out, model_dir)?;
    let inputs = crate::pair_inputs(&dev, &dv);
    let verdicts = kimera_reactor::Detector::score_batch(&det, &inputs);
    let flags: Vec<f32> = verdicts
        .iter()
        .map(|v| if v.contradiction { 1.0 } else { 0.0 })
        .collect();
    let gold: Vec<bool> = dev.iter().map(Example::is_contradiction).collect();
    cfg.protocol.dev = Some(crate::prf(&flags, &gold, 0.5));
    cfg.protocol.dev_file = file_name(dev_path);
    cfg.protocol.dev_sha256 = sha256_of(dev_path)?;
    write_decision(out, &cfg)?;
    Ok(cfg)
}

/// Writes `out/decision.json`.
fn write_decision(out: &Path, cfg: &crate::decision::DecisionConfig) -> Result<()> {
    let path = out.join(crate::decision::DECISION_FILE);
    let json = serde_json::to_string_pretty(cfg).expect("serialises") + "\n";
    std::fs::write(&path, json).map_err(|e| DetectError::Io { path, source: e })
}

/// Reads a route's `oof.jsonl`.
pub fn read_oof(dir: &Path) -> Result<Vec<OofLine>> {
    let path = dir.join(OOF_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| DetectError::Io {
        path: path.clone(),
        source: e,
    })?;
    text.lines()
        .enumerate()
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| DetectError::Format {
                path: path.clone(),
                reason: format!("line {}: {e}", n + 1),
            })
        })
        .collect()
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
