//! The `model` detector: loads a model folder (`head/`, `cross/`, `decision.json`) and
//! scores pairs.
//!
//! With both routes and `decision.json` present it is the default detector's one
//! calibrated decision per pair (see [`crate::decision`]): gates, rules that decide
//! alone, the head (microseconds per pair, from the vectors the reactor already has)
//! deciding what it is sure of, and the cross-encoder (milliseconds per pair) for the
//! band between. A pair in a script the cross-encoder's vocabulary spells letter by
//! letter (Arabic) stays with the head, which reads sentence vectors rather than letters
//! (see `ModelDetector::cross_reads`). `model-head` and `model-cross` are the routes
//! alone, at the threshold their own out-of-fold predictions chose (for benchmarks).

use std::path::{Path, PathBuf};

use kimera_reactor::{Detector, PairInput, Verdict};
use serde_json::json;

use crate::cross::{Base, CrossModel};
use crate::decision::{DECISION_FILE, DecisionConfig, rule_alone, symmetric};
use crate::edit::{Edit, Side};
use crate::features::{LEXICAL_NAMES, lexical, pair_features};
use crate::head::HeadModel;
use crate::train::{Meta, Route, WEIGHTS_FILE, read_meta};
use crate::{CONTRADICTION, DetectError, Result};

/// One pair's judgement: P(contradiction), the route that decided and its threshold,
/// and the two routes' P(contradiction) where they ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    pub probability: f32,
    /// `denial`, `negation` (rules), `head`, `cross`, `unrelated` (the content gate), or
    /// `letters` (a pair in the head's band that the cross-encoder cannot read: no, since
    /// its threshold is the head's ceiling).
    pub route: &'static str,
    pub threshold: f32,
    pub head: Option<f32>,
    pub cross: Option<f32>,
}

impl Judgement {
    pub fn contradiction(&self) -> bool {
        self.probability >= self.threshold
    }
}

/// Pairs less similar than this are never scored as contradictions (see `score_batch`).
pub const MIN_COSINE: f32 = 0.3;

/// Below this share of readable words on either side (words of two or more letters
/// that the vocabulary has a piece longer than one letter for, see
/// [`crate::cross::Base::vocabulary_coverage`]), the decision does not ask the
/// cross-encoder (`ModelDetector::cross_reads`): half, i.e. most of the text would be
/// spelled letter by letter. Not searched: written after the retrained cross-encoder
/// flagged unrelated Arabic pairs (see the crate README).
pub const MIN_VOCABULARY_COVERAGE: f32 = 0.5;

/// Names accepted by [`detector_by_name`]: the reactor's plus `model` (the decision) and
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
                a_doc: "",
                b_doc: "",
            }
        })
        .collect()
}

/// The learned detector. See the module docs.
#[derive(Debug)]
pub struct ModelDetector {
    head: Option<(HeadModel, Meta)>,
    cross: Option<(CrossModel, Meta)>,
    decision: Option<DecisionConfig>,
    name: &'static str,
}

impl ModelDetector {
    /// Loads `dir/head` and/or `dir/cross` (at least one), the cross-encoder on top of the
    /// base model in `model_dir`, and `dir/decision.json` when both routes are there.
    /// Refuses weights trained on a different base model.
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
        let mut decision = None;
        let dpath = dir.join(DECISION_FILE);
        if head.is_some() && cross.is_some() && dpath.is_file() {
            let text = std::fs::read_to_string(&dpath).map_err(|e| DetectError::Io {
                path: dpath.clone(),
                source: e,
            })?;
            decision = Some(
                serde_json::from_str(&text).map_err(|e| DetectError::Format {
                    path: dpath.clone(),
                    reason: format!("line {}, column {}: {e}", e.line(), e.column()),
                })?,
            );
        }
        Ok(ModelDetector {
            head,
            cross,
            decision,
            name: "model",
        })
    }

    /// The default folder ([`default_detector_dir`]) on the default base model.
    pub fn load_default() -> Result<Self> {
        Self::load(&default_detector_dir(), &kimera_embed::model_dir())
    }

    /// One route alone (`model-head`, fastest, or `model-cross`) at its own threshold,
    /// without the decision's rules and stages.
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
        self.decision = None;
        self
    }

    /// The decision in use (both routes and `decision.json`), if any.
    pub fn decision(&self) -> Option<&DecisionConfig> {
        self.decision.as_ref()
    }

    pub fn head_meta(&self) -> Option<&Meta> {
        self.head.as_ref().map(|h| &h.1)
    }

    pub fn cross_meta(&self) -> Option<&Meta> {
        self.cross.as_ref().map(|c| &c.1)
    }

    /// The head's class probabilities for pairs with vectors (`None` where vectors are
    /// missing).
    pub fn head_classes(&self, pairs: &[PairInput<'_>]) -> Result<Vec<Option<[f32; 3]>>> {
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
        let probs = h.predict(&rows)?;
        let mut out = vec![None; pairs.len()];
        for (i, p) in idx.into_iter().zip(probs) {
            out[i] = Some(p);
        }
        Ok(out)
    }

    /// Head P(contradiction) for pairs with vectors (`None` where vectors are missing).
    pub fn head_probs(&self, pairs: &[PairInput<'_>]) -> Result<Vec<Option<f32>>> {
        Ok(self
            .head_classes(pairs)?
            .into_iter()
            .map(|c| c.map(|c| c[CONTRADICTION]))
            .collect())
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

    /// The judgement of each pair (`None`: not scored, e.g. no vectors for the head).
    pub fn judge(&self, pairs: &[PairInput<'_>]) -> Result<Vec<Option<Judgement>>> {
        match &self.decision {
            Some(d) => self.decide(d, pairs),
            None => self.one_route(pairs),
        }
    }

    /// A route alone at its own threshold.
    fn one_route(&self, pairs: &[PairInput<'_>]) -> Result<Vec<Option<Judgement>>> {
        if let Some((c, meta)) = &self.cross {
            let texts: Vec<(&str, &str)> = pairs.iter().map(|p| (p.a_text, p.b_text)).collect();
            return Ok(c
                .p_contradiction(&texts)?
                .into_iter()
                .map(|p| {
                    Some(Judgement {
                        probability: p,
                        route: "cross",
                        threshold: meta.threshold,
                        head: None,
                        cross: Some(p),
                    })
                })
                .collect());
        }
        let t = self.head.as_ref().map_or(0.5, |(_, m)| m.threshold);
        Ok(self
            .head_probs(pairs)?
            .into_iter()
            .map(|p| {
                p.map(|p| Judgement {
                    probability: p,
                    route: "head",
                    threshold: t,
                    head: Some(p),
                    cross: None,
                })
            })
            .collect())
    }

    /// The decision (see [`crate::decision`]) for a batch: rules, stage 1 on every pair
    /// it is not sure of, stage 2 (one cross-encoder call for the whole band, both
    /// orders) on the rest.
    fn decide(
        &self,
        d: &DecisionConfig,
        pairs: &[PairInput<'_>],
    ) -> Result<Vec<Option<Judgement>>> {
        let (c, _) = self.cross.as_ref().expect("a decision has both routes");
        let head = self.head_classes(pairs)?;
        let mut out: Vec<Option<Judgement>> = vec![None; pairs.len()];
        let mut send = Vec::new();
        for (i, p) in pairs.iter().enumerate() {
            if p.cosine < MIN_COSINE {
                out[i] = head[i].map(|h| Judgement {
                    probability: h[CONTRADICTION],
                    route: "head",
                    threshold: 1.0,
                    head: Some(h[CONTRADICTION]),
                    cross: None,
                });
                continue;
            }
            // a heading, a code or changelog line, a bare link, a question: not a claim,
            // so nothing to contradict (the detector abstains)
            if crate::decision::not_a_claim(p.a_text, p.a_lang).is_some()
                || crate::decision::not_a_claim(p.b_text, p.b_lang).is_some()
            {
                continue;
            }
            // Two documents' statements with the subject left implicit ("Requires Rust
            // 1.58 or greater." in two crates' READMEs) are about two things: across
            // documents no rule decides alone, the models weigh the pair.
            let rule = if p.different_documents() {
                None
            } else {
                rule_alone(p.a_text, p.b_text)
            };
            if let Some(rule) = rule {
                out[i] = Some(Judgement {
                    probability: 1.0,
                    route: match rule {
                        "explicit_denial" => "denial",
                        "negation_only" => "negation",
                        _ => "substitution",
                    },
                    threshold: 0.5,
                    head: head[i].map(|h| h[CONTRADICTION]),
                    cross: None,
                });
                continue;
            }
            let Some(h) = head[i] else { continue };
            // statements that share too few content words talk about different
            // things: outside what the models can judge, so the detector says no
            if crate::decision::content_coverage(p.a_text, p.b_text)
                < crate::decision::MIN_CONTENT_COVERAGE
            {
                out[i] = Some(Judgement {
                    probability: 0.0,
                    route: "unrelated",
                    threshold: 1.0,
                    head: Some(h[CONTRADICTION]),
                    cross: None,
                });
                continue;
            }
            let (q, verdict) = d.stage1(h, p.cosine);
            let judged = |route, threshold: f64| Judgement {
                probability: q as f32,
                route,
                threshold: threshold as f32,
                head: Some(h[CONTRADICTION]),
                cross: None,
            };
            out[i] = match verdict {
                Some(true) => Some(judged("head", d.ceiling)),
                Some(false) => Some(judged("head", d.floor)),
                // The cross-encoder would read letters, not words, and the head's
                // vectors of such text crowd together (all-MiniLM-L6-v2 puts any two
                // Arabic sentences near each other): in the band the detector cannot
                // judge the pair and says no; only a verdict the head is sure of
                // (its ceiling, as above) would count.
                None if !self.cross_reads(c, p)? => Some(judged("letters", d.ceiling)),
                None => {
                    send.push(i);
                    None
                }
            };
        }
        // both orders of every pair in one call: one ragged batch split over the
        // threads (two calls left a thread idle on a lone pair), the same
        // probabilities bit for bit (a pair's never depend on the rest of the call)
        let mut both: Vec<(&str, &str)> = send
            .iter()
            .map(|&i| (pairs[i].a_text, pairs[i].b_text))
            .collect();
        both.extend(
            send.iter()
                .map(|&i| (pairs[i].b_text, pairs[i].a_text))
                .collect::<Vec<_>>(),
        );
        let mut pf = c.predict(&both)?;
        let pr = pf.split_off(send.len());
        for ((&i, f), r) in send.iter().zip(pf).zip(pr) {
            let h = head[i].expect("sent pairs have head probabilities");
            let x = symmetric(f, r);
            let (q, _) = d.stage2(h, pairs[i].cosine, x);
            out[i] = Some(Judgement {
                probability: q as f32,
                route: "cross",
                threshold: d.threshold as f32,
                head: Some(h[CONTRADICTION]),
                cross: Some(x[CONTRADICTION]),
            });
        }
        Ok(out)
    }
}

impl Detector for ModelDetector {
    fn name(&self) -> &str {
        self.name
    }

    fn score_batch(&self, pairs: &[PairInput<'_>]) -> Vec<Verdict> {
        let judged = match self.judge(pairs) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("model detector failed on a batch of {}: {e}", pairs.len());
                return vec![Verdict::none(); pairs.len()];
            }
        };
        pairs
            .iter()
            .zip(judged)
            .map(|(pair, j)| {
                let Some(j) = j else {
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
                if !j.contradiction() {
                    return Verdict {
                        contradiction: false,
                        score: j.probability,
                        evidence: serde_json::Value::Null,
                    };
                }
                Verdict {
                    contradiction: true,
                    score: j.probability.clamp(0.0, 1.0),
                    evidence: evidence(pair, &j),
                }
            })
            .collect()
    }
}

/// Why a pair was judged a contradiction: the route and its probability and
/// threshold, both routes' probabilities, the lexical signals present, and for a
/// negation rule the negated side and its cue.
fn evidence(pair: &PairInput<'_>, j: &Judgement) -> serde_json::Value {
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
    if j.route == "denial" {
        signals.insert(0, "explicit_denial");
    }
    let mut ev = json!({
        "rule": "model",
        "route": j.route,
        "probability": j.probability,
        "threshold": j.threshold,
        "signals": signals,
        "cosine": pair.cosine,
    });
    if let Some(h) = j.head {
        ev["head"] = json!(h);
    }
    if let Some(c) = j.cross {
        ev["cross"] = json!(c);
    }
    if j.route == "substitution" {
        let edit = Edit::between(pair.a_text, pair.b_text);
        ev["substitution"] = json!(crate::decision::substitution(pair.a_text, pair.b_text));
        ev["tokens"] = json!([edit.a.join(" "), edit.b.join(" ")]);
    }
    if j.route == "negation" {
        let edit = Edit::between(pair.a_text, pair.b_text);
        if let Some(side) = edit.is_negation_only() {
            let (name, words) = match side {
                Side::A => ("a", &edit.a),
                Side::B => ("b", &edit.b),
            };
            ev["negated"] = json!(name);
            ev["tokens"] = json!(words);
        }
    }
    ev
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
