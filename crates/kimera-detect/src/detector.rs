//! The `model` detector: loads a model folder (`head/` and/or `cross/`) and scores pairs.
//!
//! With both routes present it is a cascade: the head (microseconds per pair, from the
//! vectors the reactor already has) decides the pairs it is sure of — P(contradiction)
//! below `floor` (not a contradiction) or at least `ceiling` (a contradiction) — and only
//! the band between goes through the cross-encoder (milliseconds per pair), whose
//! probability, blended with the head's, decides. Floor, ceiling, blend weight and
//! threshold are stored in `cascade.json`, chosen on the dev set so that on dev the head
//! never undoes a correct decision of the full blend (with a margin for unseen data; see
//! [`calibrate_cascade`]). A pair in a script the cross-encoder's vocabulary spells
//! letter by letter (Arabic) stays with the head, which reads sentence vectors rather
//! than letters (see `ModelDetector::cross_reads`).
//! Before both, a pair where one statement is the other plus a whole-statement denial
//! ("… is false", "It is not true that …", in en/fr/ar; see
//! [`explicit_denial`]) is a contradiction outright:
//! the SICK-trained models only half recognise that pattern outside English.

use std::path::{Path, PathBuf};

use kimera_reactor::{Detector, PairInput, Verdict};
use serde_json::json;

use crate::cross::{Base, CrossModel};
use crate::features::{LEXICAL_NAMES, explicit_denial, lexical, pair_features};
use crate::head::HeadModel;
use crate::train::{Meta, Route, WEIGHTS_FILE, read_meta};
use crate::{DetectError, Result};

/// P(contradiction), the route that decided (`head`, `cross`, `blend`) and its threshold.
pub type Scored = (f32, &'static str, f32);

/// Pairs less similar than this are never scored as contradictions (see `score_batch`).
pub const MIN_COSINE: f32 = 0.3;

/// Below this share of readable words on either side (words of two or more letters
/// that the vocabulary has a piece longer than one letter for, see
/// [`crate::cross::Base::vocabulary_coverage`]), the cascade does not ask the
/// cross-encoder (`ModelDetector::cross_reads`): half, i.e. most of the text would be
/// spelled letter by letter. Not searched: written after the retrained cross-encoder
/// flagged unrelated Arabic pairs (see the crate README).
pub const MIN_VOCABULARY_COVERAGE: f32 = 0.5;

/// Names accepted by [`detector_by_name`]: the reactor's plus `model` (the cascade) and
/// its two routes alone, `model-head` and `model-cross` (for benchmarks).
pub const DETECTOR_NAMES: &[&str] = &[
    "baseline",
    "lexical",
    "model",
    "model-head",
    "model-cross",
    "graph",
];

/// The folder of the `model` detector: `KIMERA_DETECTOR_DIR` when set, else the
/// weights embedded in this binary, written out once to kimera's data folder (see
/// [`crate::embedded`]). Never the source tree.
pub fn default_detector_dir() -> PathBuf {
    match std::env::var_os("KIMERA_DETECTOR_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => crate::embedded::install().unwrap_or_else(|e| {
            // the loader then names the folder it found empty
            tracing::warn!("cannot write out the embedded detector weights: {e}");
            crate::embedded::install_dir()
        }),
    }
}

/// Where the `model` detector's weights come from, for `kimera model info`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DetectorInfo {
    /// `KIMERA_DETECTOR_DIR` or `embedded`.
    pub source: &'static str,
    pub dir: PathBuf,
    /// sha256 of the embedded files (names and contents).
    pub embedded_sha256: &'static str,
    /// (path in the folder, bytes) of each file of the folder.
    pub files: Vec<(String, u64)>,
}

/// Resolves (and for embedded weights, writes out) the detector folder and lists it.
pub fn detector_info() -> DetectorInfo {
    let dir = default_detector_dir();
    let source = match std::env::var_os("KIMERA_DETECTOR_DIR") {
        Some(d) if !d.is_empty() => "KIMERA_DETECTOR_DIR",
        _ => "embedded",
    };
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(m) = e.metadata() {
                let rel = p
                    .strip_prefix(&dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                files.push((rel, m.len()));
            }
        }
    }
    files.sort();
    DetectorInfo {
        source,
        dir,
        embedded_sha256: crate::embedded::digest(),
        files,
    }
}

fn never() -> f32 {
    f32::INFINITY
}

/// `cascade.json` of a model folder.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct CascadeConfig {
    /// Pairs whose head probability is below this skip the cross-encoder: not
    /// contradictions.
    pub floor: f32,
    /// Pairs whose head probability is at least this skip the cross-encoder:
    /// contradictions (absent in older files: never).
    #[serde(default = "never")]
    pub ceiling: f32,
    /// Weight of the cross-encoder in the blended probability
    /// `w·p_cross + (1−w)·p_head` of pairs both routes score.
    pub cross_weight: f32,
    /// Decision threshold on the blended probability (best F1 on the dev set).
    pub threshold: f32,
    /// Dev metrics of the blend at that threshold.
    pub dev: crate::Prf,
}

/// Share of the way from the dev extremes towards 0 (floor) or 1 (ceiling) that the
/// cascade band is widened by: the margin for unseen data (see [`calibrate_cascade`]).
pub const BAND_MARGIN: f32 = 0.25;

/// Chooses the cascade on a dev set and writes `dir/cascade.json`: the blend weight of
/// the two routes' probabilities (from a coarse grid) and its threshold, both by best F1;
/// then the band of head probabilities sent to the blend. The floor is the lowest head
/// probability among the dev contradictions the blend catches, the ceiling the highest
/// among the dev non-contradictions the blend leaves alone, each moved by
/// [`BAND_MARGIN`] of the way to 0 or 1 — so on dev the head alone never loses a
/// contradiction the blend finds nor raises an alarm the blend avoids (it may only drop
/// some of the blend's false alarms), and the cascade's dev F1 is at least the blend's.
/// Needs `dir/head` and `dir/cross`.
pub fn calibrate_cascade(
    dir: &Path,
    model_dir: &Path,
    dev: &[crate::Example],
    vecs: &[(Vec<f32>, Vec<f32>)],
) -> Result<CascadeConfig> {
    let det = ModelDetector::load(dir, model_dir)?
        .with_floor(None)
        .with_ceiling(None);
    if det.head.is_none() || det.cross.is_none() {
        return Err(DetectError::Missing {
            dir: dir.to_path_buf(),
            missing: "head/ or cross/ (the cascade needs both)".into(),
        });
    }
    let pairs = crate::detector::pair_inputs(dev, vecs);
    let head: Vec<f32> = det
        .head_probs(&pairs)?
        .into_iter()
        .map(|p| p.unwrap_or(0.0))
        .collect();
    let texts: Vec<(&str, &str)> = dev.iter().map(|e| (e.a.as_str(), e.b.as_str())).collect();
    let cross = det
        .cross
        .as_ref()
        .expect("checked")
        .0
        .p_contradiction(&texts)?;
    let gold: Vec<bool> = dev.iter().map(crate::Example::is_contradiction).collect();
    // A coarse grid: three weights, so the dev set picks little beyond the threshold.
    let mut best: Option<(f32, crate::Prf)> = None;
    for w in [0.25f32, 0.5, 0.75, 1.0] {
        let p: Vec<f32> = cross
            .iter()
            .zip(&head)
            .map(|(c, h)| w * c + (1.0 - w) * h)
            .collect();
        let m = crate::best_threshold(&p, &gold);
        if best.as_ref().is_none_or(|(_, b)| m.f1 > b.f1) {
            best = Some((w, m));
        }
    }
    let (w, m) = best.expect("grid not empty");
    // Only pairs the detector scores at all (similar enough) count for the band.
    let mut caught_min = 1.0f32;
    let mut cleared_max = 0.0f32;
    for (((c, h), pair), &gold) in cross.iter().zip(&head).zip(&pairs).zip(&gold) {
        if pair.cosine < MIN_COSINE {
            continue;
        }
        let flagged = w * c + (1.0 - w) * h >= m.threshold;
        if flagged && gold {
            caught_min = caught_min.min(*h);
        } else if !flagged && !gold {
            cleared_max = cleared_max.max(*h);
        }
    }
    let cfg = CascadeConfig {
        floor: caught_min * (1.0 - BAND_MARGIN),
        ceiling: cleared_max + (1.0 - cleared_max) * BAND_MARGIN,
        cross_weight: w,
        threshold: m.threshold,
        dev: m,
    };
    let path = dir.join("cascade.json");
    let json = serde_json::to_string_pretty(&cfg).expect("serialises") + "\n";
    std::fs::write(&path, json).map_err(|e| DetectError::Io { path, source: e })?;
    Ok(cfg)
}

/// [`calibrate_cascade`] on a dev file: embeds its pairs with the default MiniLM options.
pub fn calibrate_cascade_file(
    dir: &Path,
    model_dir: &Path,
    dev_path: &Path,
) -> Result<CascadeConfig> {
    let dev = crate::load_examples(dev_path)?;
    let enc = kimera_embed::MiniLmEncoder::load(model_dir, kimera_embed::MiniLmOptions::default())?;
    let vecs = crate::train::embed_pairs(&enc, &dev, &mut |_| {})?;
    calibrate_cascade(dir, model_dir, &dev, &vecs)
}

/// Reactor inputs for labelled examples and their vectors (side a = `e.a`).
pub fn pair_inputs<'a>(
    set: &'a [crate::Example],
    vecs: &'a [(Vec<f32>, Vec<f32>)],
) -> Vec<PairInput<'a>> {
    set.iter()
        .zip(vecs)
        .map(|(e, (u, v))| {
            let cos = kimera_core::dot(u, v);
            PairInput {
                a_id: "a",
                b_id: "b",
                a_text: &e.a,
                b_text: &e.b,
                a_lang: &e.lang,
                b_lang: &e.lang,
                a_vec: u,
                b_vec: v,
                cosine: cos,
                resonance: cos,
            }
        })
        .collect()
}

/// The learned detector. See the module docs.
#[derive(Debug)]
pub struct ModelDetector {
    head: Option<(HeadModel, Meta)>,
    cross: Option<(CrossModel, Meta)>,
    floor: Option<f32>,
    ceiling: Option<f32>,
    blend: Option<(f32, f32)>,
    /// Decide explicit denials ([`explicit_denial`]) before the models.
    denials: bool,
    name: &'static str,
}

impl ModelDetector {
    /// Loads `dir/head` and/or `dir/cross` (at least one), the cross-encoder on top of the
    /// base model in `model_dir`. Refuses weights trained on a different base model.
    pub fn load(dir: &Path, model_dir: &Path) -> Result<Self> {
        let hd = dir.join(Route::Head.dir_name());
        let cd = dir.join(Route::Cross.dir_name());
        if !hd.join(WEIGHTS_FILE).is_file() && !cd.join(WEIGHTS_FILE).is_file() {
            return Err(DetectError::Missing {
                dir: dir.to_path_buf(),
                missing: format!("head/{WEIGHTS_FILE} and cross/{WEIGHTS_FILE}"),
            });
        }
        let mut head = None;
        if hd.join(WEIGHTS_FILE).is_file() {
            let meta = read_meta(&hd)?;
            head = Some((
                HeadModel::load(&hd.join(WEIGHTS_FILE), meta.feature_len)?,
                meta,
            ));
        }
        let mut cross = None;
        if cd.join(WEIGHTS_FILE).is_file() {
            let meta = read_meta(&cd)?;
            let base = Base::load(model_dir)?;
            if base.sha256 != meta.base_sha256 {
                return Err(DetectError::Format {
                    path: cd.join(WEIGHTS_FILE),
                    reason: format!(
                        "trained on base model sha256 {}, but {} has {}",
                        meta.base_sha256,
                        model_dir.display(),
                        base.sha256
                    ),
                });
            }
            let lora = meta
                .cross
                .as_ref()
                .map(|c| c.lora)
                .ok_or_else(|| DetectError::Format {
                    path: cd.join("meta.json"),
                    reason: "field cross is missing".into(),
                })?;
            cross = Some((CrossModel::load(base, lora, &cd.join(WEIGHTS_FILE))?, meta));
        }
        let mut floor = None;
        let mut ceiling = None;
        let mut blend = None;
        let cpath = dir.join("cascade.json");
        if head.is_some() && cross.is_some() && cpath.is_file() {
            let text = std::fs::read_to_string(&cpath).map_err(|e| DetectError::Io {
                path: cpath.clone(),
                source: e,
            })?;
            let c: CascadeConfig =
                serde_json::from_str(&text).map_err(|e| DetectError::Format {
                    path: cpath.clone(),
                    reason: e.to_string(),
                })?;
            floor = Some(c.floor);
            ceiling = c.ceiling.is_finite().then_some(c.ceiling);
            blend = Some((c.cross_weight, c.threshold));
        }
        Ok(ModelDetector {
            head,
            cross,
            floor,
            ceiling,
            blend,
            denials: true,
            name: "model",
        })
    }

    /// The default folder ([`default_detector_dir`]) on the default base model.
    pub fn load_default() -> Result<Self> {
        Self::load(&default_detector_dir(), &kimera_embed::model_dir())
    }

    /// Drops the cross-encoder (head only: fastest), or the head (cross only).
    pub fn only(mut self, route: Route) -> Self {
        match route {
            Route::Head => {
                self.cross = None;
                self.name = "model-head";
            }
            Route::Cross => {
                self.head = None;
                self.name = "model-cross";
            }
        }
        self.floor = None;
        self.ceiling = None;
        self.blend = None;
        self.denials = false;
        self
    }

    /// Sets or clears the cascade floor (see the module docs).
    pub fn with_floor(mut self, floor: Option<f32>) -> Self {
        self.floor = floor;
        self
    }

    /// Sets or clears the cascade ceiling (see the module docs).
    pub fn with_ceiling(mut self, ceiling: Option<f32>) -> Self {
        self.ceiling = ceiling;
        self
    }

    /// The cascade ceiling in use, if any.
    pub fn ceiling(&self) -> Option<f32> {
        self.ceiling
    }

    pub fn head_meta(&self) -> Option<&Meta> {
        self.head.as_ref().map(|h| &h.1)
    }

    /// The cascade floor in use, if any.
    pub fn floor(&self) -> Option<f32> {
        self.floor
    }

    pub fn cross_meta(&self) -> Option<&Meta> {
        self.cross.as_ref().map(|c| &c.1)
    }

    /// Head probabilities for pairs with vectors (`None` where vectors are missing).
    pub fn head_probs(&self, pairs: &[PairInput<'_>]) -> Result<Vec<Option<f32>>> {
        let Some((h, _)) = &self.head else {
            return Ok(vec![None; pairs.len()]);
        };
        let dim = h.dim();
        let mut rows = Vec::new();
        let mut idx = Vec::new();
        for (i, p) in pairs.iter().enumerate() {
            if !p.a_vec.is_empty() && p.a_vec.len() == p.b_vec.len() {
                let f = pair_features(p.a_vec, p.b_vec, p.a_text, p.b_text);
                if f.len() == dim {
                    rows.push(f);
                    idx.push(i);
                }
            }
        }
        let probs = h.p_contradiction(&rows)?;
        let mut out = vec![None; pairs.len()];
        for (i, p) in idx.into_iter().zip(probs) {
            out[i] = Some(p);
        }
        Ok(out)
    }

    /// Whether the cross-encoder's vocabulary covers both sides of a pair (at least
    /// [`MIN_VOCABULARY_COVERAGE`] of each side's words are readable). MiniLM's vocabulary spells Arabic letter by letter, so two
    /// unrelated Arabic statements look to the cross-encoder like one sentence with a
    /// few letters changed — what its training calls a contradiction. Such pairs are
    /// left to the head, which reads the sentence vectors instead.
    fn cross_reads(&self, c: &CrossModel, p: &PairInput<'_>) -> Result<bool> {
        Ok(c.vocabulary_coverage(p.a_text)? >= MIN_VOCABULARY_COVERAGE
            && c.vocabulary_coverage(p.b_text)? >= MIN_VOCABULARY_COVERAGE)
    }

    /// P(contradiction), the route that decided and its threshold, for each pair.
    pub fn probabilities(&self, pairs: &[PairInput<'_>]) -> Result<Vec<Option<Scored>>> {
        let mut out = self.probabilities_of_models(pairs)?;
        if self.denials {
            for (o, p) in out.iter_mut().zip(pairs) {
                if explicit_denial(p.a_text, p.b_text).is_some() {
                    *o = Some((1.0, "denial", 0.5));
                }
            }
        }
        Ok(out)
    }

    fn probabilities_of_models(&self, pairs: &[PairInput<'_>]) -> Result<Vec<Option<Scored>>> {
        let head = self.head_probs(pairs)?;
        let mut out: Vec<Option<Scored>> = vec![None; pairs.len()];
        if let Some((c, meta)) = &self.cross {
            // The head decides what it is sure of; the band goes to the cross-encoder.
            let mut send = Vec::new();
            for i in 0..pairs.len() {
                if pairs[i].cosine < MIN_COSINE {
                    continue;
                }
                if self.denials && explicit_denial(pairs[i].a_text, pairs[i].b_text).is_some() {
                    continue;
                }
                match (self.floor, self.ceiling, head[i]) {
                    (Some(f), _, Some(p)) if p < f => out[i] = Some((p, "head", f)),
                    (_, Some(t), Some(p)) if p >= t => out[i] = Some((p, "head", t)),
                    (_, _, Some(p)) if !self.cross_reads(c, &pairs[i])? => {
                        // the cross-encoder would read letters, not words
                        let t = self.head.as_ref().map_or(0.5, |(_, hm)| hm.threshold);
                        out[i] = Some((p, "head", t));
                    }
                    _ => send.push(i),
                }
            }
            let texts: Vec<(&str, &str)> = send
                .iter()
                .map(|&i| (pairs[i].a_text, pairs[i].b_text))
                .collect();
            let probs = c.p_contradiction(&texts)?;
            for (&i, p) in send.iter().zip(probs) {
                out[i] = match (self.blend, head[i]) {
                    (Some((w, t)), Some(h)) => Some((w * p + (1.0 - w) * h, "blend", t)),
                    _ => Some((p, "cross", meta.threshold)),
                };
            }
            // Dissimilar pairs keep the head's probability (the detector does not flag
            // them, see `score_batch`).
            if let Some((_, hm)) = &self.head {
                for i in 0..pairs.len() {
                    if out[i].is_none() {
                        out[i] = head[i].map(|p| (p, "head", hm.threshold));
                    }
                }
            }
        } else if let Some((_, hm)) = &self.head {
            for i in 0..pairs.len() {
                out[i] = head[i].map(|p| (p, "head", hm.threshold));
            }
        }
        Ok(out)
    }
}

impl Detector for ModelDetector {
    fn name(&self) -> &str {
        self.name
    }

    fn score_batch(&self, pairs: &[PairInput<'_>]) -> Vec<Verdict> {
        let probs = match self.probabilities(pairs) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("model detector failed on a batch of {}: {e}", pairs.len());
                return vec![Verdict::none(); pairs.len()];
            }
        };
        pairs
            .iter()
            .zip(probs)
            .map(|(pair, p)| {
                let Some((p, route, threshold)) = p else {
                    return Verdict::none();
                };
                // Contradictions are about the same subject. The SICK-trained models
                // never saw unrelated pairs (every SICK pair describes one scene), and
                // call "X is not Y" vs anything unrelated a contradiction; below this
                // cosine — the original Kimera "unrelated" line — they are not asked.
                if pair.cosine < MIN_COSINE {
                    return Verdict::none();
                }
                // A statement does not contradict itself; the SICK-trained models can
                // think otherwise for a negated sentence paired with itself.
                if pair.a_text.trim().to_lowercase() == pair.b_text.trim().to_lowercase() {
                    return Verdict::none();
                }
                let contradiction = p >= threshold;
                if !contradiction {
                    return Verdict {
                        contradiction: false,
                        score: p,
                        evidence: serde_json::Value::Null,
                    };
                }
                let lex = lexical(pair.a_text, pair.b_text, pair.cosine);
                let mut signals: Vec<&str> = LEXICAL_NAMES
                    .iter()
                    .zip(lex)
                    .filter(|(n, v)| {
                        *v != 0.0
                            && (n.starts_with("rule_")
                                || **n == "negation_asymmetry"
                                || **n == "number_mismatch")
                    })
                    .map(|(n, _)| *n)
                    .collect();
                if route == "denial" {
                    signals.insert(0, "explicit_denial");
                }
                Verdict {
                    contradiction,
                    score: p.clamp(0.0, 1.0),
                    evidence: json!({
                        "rule": "model",
                        "route": route,
                        "probability": p,
                        "threshold": threshold,
                        "signals": signals,
                        "cosine": pair.cosine,
                    }),
                }
            })
            .collect()
    }
}

/// The reactor's detectors plus `model` (the committed weights, see
/// [`ModelDetector::load_default`]).
pub fn detector_by_name(name: &str) -> Result<Box<dyn Detector>> {
    match name.trim() {
        "model" => Ok(Box::new(ModelDetector::load_default()?)),
        "model-head" => Ok(Box::new(ModelDetector::load_default()?.only(Route::Head))),
        "model-cross" => Ok(Box::new(ModelDetector::load_default()?.only(Route::Cross))),
        // without a store: the pairs' own facts and built-in antonyms; `kimera run`
        // gives it the store's learned graph (kimera-cli cmd/mod.rs `detectors_on`)
        "graph" => Ok(Box::new(kimera_learn::GraphDetector::default())),
        other => Ok(kimera_reactor::detector_by_name(other).map_err(|e| {
            DetectError::Invalid(format!(
                "{e} (kimera-detect adds: model, model-head, model-cross)"
            ))
        })?),
    }
}

/// Comma-separated list → cascade, like the reactor's, with `model` available.
pub fn detectors_from_list(list: &str) -> Result<Vec<Box<dyn Detector>>> {
    let mut out: Vec<Box<dyn Detector>> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if out.iter().any(|d| d.name() == name) {
            return Err(DetectError::Invalid(format!(
                "detector {name} is listed twice"
            )));
        }
        out.push(detector_by_name(name)?);
    }
    if out.is_empty() {
        return Err(DetectError::Invalid(format!(
            "no detector in {list:?}; known: {}",
            DETECTOR_NAMES.join(", ")
        )));
    }
    Ok(out)
}
