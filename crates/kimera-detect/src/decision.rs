//! The default detector's decision: **one calibrated verdict per pair** from all its
//! signals, which may abstain.
//!
//! A pair goes through, in order:
//! 1. **gates** — identical statements, pairs below [`MIN_COSINE`](crate::detector::MIN_COSINE)
//!    (unrelated), and pairs where either side is not a claim (a heading, a code line, a
//!    bare link; [`kimera_ingest::clean_statement`]) are not contradictions: the detector
//!    abstains and says why;
//! 2. **rules that decide alone**, only those whose precision was measured ≥ 0.95 on
//!    data nobody tuned them on ([`RULES_ALONE`]): an explicit whole-statement denial
//!    ("X" / "X is false") and a negation that is the only difference between the two
//!    statements ([`Edit::is_negation_only`]); only between statements of one document
//!    (or of unknown ones): across documents a statement's implicit subject is its own
//!    document's ("Requires Rust 1.58 or greater." in two READMEs), so the models weigh
//!    such pairs instead;
//! 3. **a content gate** — statements sharing too few content words
//!    ([`content_coverage`] below [`MIN_CONTENT_COVERAGE`]) are about different things:
//!    the models are not asked and the answer is no;
//! 4. **stage 1** — a logistic model on the head's class probabilities (sentence vectors,
//!    microseconds per pair): below `floor` no, at or above `ceiling` yes;
//! 5. **stage 2** — for the band between, the cross-encoder reads both statements (in
//!    both orders, averaged: contradiction is symmetric) and a second logistic model on
//!    both routes' probabilities decides against `threshold`.
//!
//! Both logistic models, the threshold, the band and the L2 penalty are chosen by k-fold
//! cross-validation on out-of-fold predictions of the training set ([`fit`]); the dev
//! set is scored once, afterwards, and never chooses anything.

use serde::{Deserialize, Serialize};

use crate::edit::Edit;
use crate::features::explicit_denial;
use crate::logistic::Logistic;
use crate::metrics::{Prf, best_threshold, prf};

/// The rules that decide alone, with the precision that lets them (see
/// `weights/PROVENANCE.md` for where each figure was measured).
pub const RULES_ALONE: &[&str] = &["explicit_denial", "negation_only", "substitution"];

/// First words of a statement about no particular thing: SICK's scenes ("A man is
/// sitting", "Two dogs …", "There is …"), where a swapped word describes another scene
/// rather than contradicting this one. The `substitution` rule does not decide on them.
const INDEFINITE_OPENERS: &[&str] = &[
    "a", "an", "some", "there", "one", "two", "three", "four", "five", "six", "several", "many",
    "few", "no", "nobody", "someone", "somebody", "people", "he", "she", "they", "it", "we", "i",
    "you", "this", "that", "these", "those",
];

/// The pronouns among [`INDEFINITE_OPENERS`]: a pronoun's referent is unknown in a short
/// statement ("It is hot." / "It is cold."), but two long statements identical except
/// for one word swapped for its opposite speak of one thing ("It is optimized for
/// strings of size 8 or smaller." / "… or larger.").
const PRONOUN_OPENERS: &[&str] = &[
    "he", "she", "they", "it", "we", "i", "you", "this", "that", "these", "those",
];

/// Words two statements must share around a one-word swap for a pronoun opener to count
/// as one subject.
const PRONOUN_MIN_SHARED: usize = 6;

/// Names of stage 1's features, in order.
pub const STAGE1_FEATURES: &[&str] = &["head_ln_c", "head_ln_e", "head_ln_n", "cosine"];
/// Names of stage 2's features, in order.
pub const STAGE2_FEATURES: &[&str] = &[
    "head_ln_c",
    "head_ln_e",
    "head_ln_n",
    "cosine",
    "cross_ln_c",
    "cross_ln_e",
    "cross_ln_n",
];

/// Share of the way from the cross-validated extremes towards 0 (floor) or 1 (ceiling)
/// that the stage-1 band is widened by: the margin for unseen data.
pub const BAND_MARGIN: f64 = 0.25;

fn ln(p: f32) -> f64 {
    (p as f64).max(1e-6).ln()
}

/// Stage 1's features of a pair: the head's class probabilities and the cosine.
pub fn stage1_features(head: [f32; 3], cosine: f32) -> Vec<f64> {
    vec![ln(head[0]), ln(head[1]), ln(head[2]), cosine as f64]
}

/// Stage 2's features: stage 1's and the cross-encoder's class probabilities.
pub fn stage2_features(head: [f32; 3], cosine: f32, cross: [f32; 3]) -> Vec<f64> {
    let mut f = stage1_features(head, cosine);
    f.extend([ln(cross[0]), ln(cross[1]), ln(cross[2])]);
    f
}

/// The mean of the cross-encoder's class probabilities for (a, b) and (b, a).
pub fn symmetric(forward: [f32; 3], reverse: [f32; 3]) -> [f32; 3] {
    [
        (forward[0] + reverse[0]) / 2.0,
        (forward[1] + reverse[1]) / 2.0,
        (forward[2] + reverse[2]) / 2.0,
    ]
}

/// Why a statement is not a claim the decision can judge — Markdown or code debris the
/// cleaner of `kimera ingest` skips ([`kimera_ingest::clean_statement`]: a heading, code,
/// a table row, HTML, a link definition, a badge or image, a bare link, a changelog line,
/// front matter) or a question — or `None`. A pair with such a side is not a
/// contradiction, whatever the models would say. The cleaner's judgements on wording
/// (no verb it knows, too short, an instruction) are not used here: short labelled
/// statements such as "Fish live in water" must still be judged.
pub fn not_a_claim(text: &str, lang: &str) -> Option<kimera_ingest::SkipReason> {
    use kimera_ingest::SkipReason as R;
    match kimera_ingest::clean_statement(text, lang) {
        kimera_ingest::Cleaned::Claim(_) => None,
        kimera_ingest::Cleaned::Skip(R::NoVerb | R::TooShort | R::Instruction | R::Boilerplate) => {
            None
        }
        kimera_ingest::Cleaned::Skip(r) => Some(r),
    }
}

/// English function words, left out of [`content_coverage`].
const FUNCTION_WORDS: &[&str] = &[
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "to", "of", "in", "on",
    "at", "by", "for", "with", "and", "or", "but", "not", "no", "never", "nobody", "none",
    "nothing", "it", "its", "this", "that", "these", "those", "there", "here", "as", "from",
    "into", "than", "then", "so", "do", "does", "did", "has", "have", "had", "can", "could",
    "will", "would", "should", "may", "might", "must", "shall", "i", "you", "he", "she", "we",
    "they", "them", "his", "her", "their", "our", "your", "my", "me", "us", "him",
];

/// Share of the shorter statement's content words (not [`FUNCTION_WORDS`]) that the
/// other statement has too: 1 for "A man is playing a guitar" / "A man is not playing a
/// guitar", 0 for "The protocols are not actually implemented." / "The scope of this
/// project is limited to those protocol definitions.".
pub fn content_coverage(a: &str, b: &str) -> f64 {
    let content = |t: &str| -> std::collections::BTreeSet<String> {
        crate::edit::words(t)
            .into_iter()
            .filter(|w| !FUNCTION_WORDS.contains(&w.as_str()))
            .collect()
    };
    let (ca, cb) = (content(a), content(b));
    let smaller = ca.len().min(cb.len());
    if smaller == 0 {
        return 0.0;
    }
    ca.intersection(&cb).count() as f64 / smaller as f64
}

/// Below this [`content_coverage`] the models are not asked: the two statements do not
/// talk about the same things, which is outside what the SICK-trained models can judge
/// (every SICK pair describes one scene; on real prose such pairs are where the
/// cross-encoder's false alarms were: "Foldhash is not appropriate for any
/// cryptographic purpose." / "… reduced it to a much simpler case."). Chosen on SICK
/// train alone, before any prose was scored with it: the largest of 0.05, 0.10, …
/// that keeps ≥ 99% of its contradictions above it (0.25 leaves 5 of 641 below;
/// `cargo run --release -p kimera-detect --example rules -- sick_train.tsv` prints the
/// count).
pub const MIN_CONTENT_COVERAGE: f64 = 0.25;

/// Which rule, if any, decides a pair alone (before any model).
pub fn rule_alone(a: &str, b: &str) -> Option<&'static str> {
    if explicit_denial(a, b).is_some() {
        return Some("explicit_denial");
    }
    if Edit::between(a, b).is_negation_only().is_some() {
        return Some("negation_only");
    }
    if substitution(a, b).is_some() {
        return Some("substitution");
    }
    None
}

/// Words for people by sex or age: swapped, they describe another person ("The girl is
/// spraying the plants" / "The boy is …": SICK's neutral pairs), not a conflicting fact.
const PERSON_WORDS: &[&str] = &[
    "man",
    "woman",
    "men",
    "women",
    "boy",
    "girl",
    "boys",
    "girls",
    "male",
    "female",
    "lady",
    "gentleman",
    "child",
    "adult",
    "kid",
    "old",
    "young",
];

/// The lexical rule (`antonym`, `exclusive`, `numbers`, `entity_swap`) behind a
/// *substitution*: two statements about a definite subject (a name, or "the …": not
/// one of [`INDEFINITE_OPENERS`]) that differ only in one short phrase (at most three
/// words a side, at least three words shared), where that phrase is swapped for a
/// conflicting one ("the largest" / "the smallest", "8,849 metres" / "7,200 metres",
/// "in Warsaw" / "in Paris"). A swapped *subject* counts only before a definite
/// description ("Berlin is the capital of Germany" / "Munich is the capital of
/// Germany": one thing is the capital), not before a property many things share
/// ("Insects have six legs" / "Spiders have six legs"). One word swapped for its
/// opposite ([`crate::antonyms::opposite`]: "compatible" / "incompatible") is an
/// antonym substitution too, and then a pronoun opener counts as one subject when the
/// two statements share at least [`PRONOUN_MIN_SHARED`] words.
pub fn substitution(a: &str, b: &str) -> Option<&'static str> {
    let (wa, wb) = (crate::edit::words(a), crate::edit::words(b));
    let e = Edit::between(a, b);
    // "non-blocking" / "blocking": the prefix alone is the edit
    let non = |x: &[String], y: &[String]| y.is_empty() && x.len() == 1 && x[0] == "non";
    let prefix_only = non(&e.a, &e.b) || non(&e.b, &e.a);
    if e.shared < 3
        || (!prefix_only && (e.a.is_empty() || e.b.is_empty()))
        || e.a.len() > 3
        || e.b.len() > 3
    {
        return None;
    }
    let person = |w: &[String]| w.iter().any(|x| PERSON_WORDS.contains(&x.as_str()));
    if person(&e.a) || person(&e.b) {
        return None;
    }
    let one_word_opposite = prefix_only
        || (e.a.len() == 1 && e.b.len() == 1 && crate::antonyms::opposite(&e.a[0], &e.b[0]));
    let indefinite = |w: &[String]| {
        w.first().is_none_or(|f| {
            INDEFINITE_OPENERS.contains(&f.as_str())
                && !(one_word_opposite
                    && e.shared >= PRONOUN_MIN_SHARED
                    && PRONOUN_OPENERS.contains(&f.as_str()))
        })
    };
    if indefinite(&wa) || indefinite(&wb) {
        return None;
    }
    if wa.first() != wb.first() {
        // the subject itself was swapped: only before "is the …" / "was the …"
        let after = &wa[e.a.len()..];
        let copula = ["is", "are", "was", "were"];
        if !(after.len() >= 2 && copula.contains(&after[0].as_str()) && after[1] == "the") {
            return None;
        }
    }
    // one word swapped for its opposite ("open" / "closed", "compatible" /
    // "incompatible"): the lexicon and word formation of [`crate::antonyms`]
    if one_word_opposite {
        return Some("antonym");
    }
    let v = kimera_reactor::LexicalDetector::default().judge(a, b, 1.0);
    let rule = v.evidence.get("rule").and_then(|r| r.as_str())?;
    if rule == "entity_swap" && wa.first() == wb.first() {
        // a name swapped after the subject conflicts where the statement says *where*
        // or *whose* ("born in Warsaw" / "in Paris", "hangs in the Louvre"), not where it
        // lists ("develops and supports Click" / "… Flask")
        let start = wa.iter().zip(&wb).take_while(|(x, y)| x == y).count();
        let before = &wa[start.saturating_sub(2)..start];
        if !before
            .iter()
            .any(|w| ["in", "at", "from", "of", "on"].contains(&w.as_str()))
        {
            return None;
        }
    }
    ["antonym", "exclusive", "numbers", "entity_swap"]
        .into_iter()
        .find(|r| *r == rule)
}

/// `decision.json`: everything the decision needs beyond the two routes' weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionConfig {
    pub format: u32,
    pub stage1: Logistic,
    /// Stage-1 probability below which a pair is not a contradiction.
    pub floor: f64,
    /// Stage-1 probability at or above which a pair is a contradiction.
    pub ceiling: f64,
    pub stage2: Logistic,
    /// Stage-2 probability at or above which a pair is a contradiction.
    pub threshold: f64,
    /// How the above were chosen, and what cross-validation measured.
    pub protocol: Protocol,
}

/// Name of the decision's file in a model folder.
pub const DECISION_FILE: &str = "decision.json";

/// The record of how a [`DecisionConfig`] was fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    /// The training file the out-of-fold predictions came from, and its sha256.
    #[serde(default)]
    pub train_file: String,
    #[serde(default)]
    pub train_sha256: String,
    pub folds: usize,
    pub fold_seed: u64,
    /// The L2 penalty chosen among [`L2_GRID`] by cross-validated F1.
    pub l2: f64,
    /// Training pairs the decision was fitted on.
    pub pairs: usize,
    /// Precision of each rule that decides alone, on the training pairs it fired on:
    /// `(rule, fired, of which contradictions)`.
    pub rules: Vec<(String, usize, usize)>,
    /// The whole decision (rules, stage 1 band, stage 2) on out-of-fold predictions,
    /// each fold decided by models fitted on the other folds.
    pub cv: Prf,
    /// Share of the scored pairs that stage 1 sent to the cross-encoder (cross-validated).
    pub cv_band_share: f64,
    /// The dev file scored once by the fitted detector, afterwards: a report, it chose
    /// nothing.
    #[serde(default)]
    pub dev: Option<Prf>,
    #[serde(default)]
    pub dev_file: String,
    #[serde(default)]
    pub dev_sha256: String,
}

/// L2 penalties tried by [`fit`].
pub const L2_GRID: &[f64] = &[0.1, 1.0, 10.0];

/// One training pair's out-of-fold signals, as [`fit`] takes them.
#[derive(Debug, Clone)]
pub struct OofPair {
    pub gold: bool,
    pub fold: usize,
    pub cosine: f32,
    /// The head's class probabilities, from a head that never saw this pair.
    pub head: [f32; 3],
    /// The cross-encoder's, both orders averaged ([`symmetric`]), likewise.
    pub cross: [f32; 3],
    /// The rule that decides it alone, if any ([`rule_alone`]).
    pub rule: Option<&'static str>,
}

/// What the decision does with one pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Route {
    /// A gate or the cosine floor: never scored.
    Skipped,
    Rule(&'static str),
    /// Stage 1 decided: (probability, contradiction).
    Head(f64, bool),
    /// Stage 2 decided: (probability, contradiction).
    Cross(f64, bool),
}

impl DecisionConfig {
    /// Stage 1 alone: `Some((p, verdict))` when its probability is outside the band.
    pub fn stage1(&self, head: [f32; 3], cosine: f32) -> (f64, Option<bool>) {
        let p = self.stage1.prob(&stage1_features(head, cosine));
        let verdict = if p < self.floor {
            Some(false)
        } else if p >= self.ceiling {
            Some(true)
        } else {
            None
        };
        (p, verdict)
    }

    /// Stage 2: (probability, verdict).
    pub fn stage2(&self, head: [f32; 3], cosine: f32, cross: [f32; 3]) -> (f64, bool) {
        let p = self.stage2.prob(&stage2_features(head, cosine, cross));
        (p, p >= self.threshold)
    }
}

/// Fits the decision on out-of-fold signals (see the module docs): for each L2 penalty
/// of [`L2_GRID`], each fold is decided by logistic models fitted on the other folds
/// (threshold and band from those folds' own inner predictions), and the penalty with
/// the best pooled F1 wins; the final models are then fitted on every pair, with the
/// threshold and band chosen on the pooled cross-validated predictions.
pub fn fit(pairs: &[OofPair], folds: usize, fold_seed: u64) -> DecisionConfig {
    let min_cos = crate::detector::MIN_COSINE;
    let scored: Vec<&OofPair> = pairs
        .iter()
        .filter(|p| p.cosine >= min_cos && p.rule.is_none())
        .collect();
    let mut best: Option<(f64, Prf, f64)> = None;
    for &l2 in L2_GRID {
        let (cv, band) = cross_validate(pairs, folds, l2);
        if best.as_ref().is_none_or(|(_, b, _)| cv.f1 > b.f1) {
            best = Some((l2, cv, band));
        }
    }
    let (l2, cv, band_share) = best.expect("grid not empty");
    let (s1, s2, threshold, floor, ceiling) = fit_models(&scored, l2, folds);
    let mut rules: Vec<(String, usize, usize)> = Vec::new();
    for r in RULES_ALONE {
        let fired: Vec<&OofPair> = pairs.iter().filter(|p| p.rule == Some(*r)).collect();
        rules.push((
            r.to_string(),
            fired.len(),
            fired.iter().filter(|p| p.gold).count(),
        ));
    }
    DecisionConfig {
        format: 1,
        stage1: s1,
        floor,
        ceiling,
        stage2: s2,
        threshold,
        protocol: Protocol {
            train_file: String::new(),
            train_sha256: String::new(),
            folds,
            fold_seed,
            l2,
            pairs: pairs.len(),
            rules,
            cv,
            cv_band_share: band_share,
            dev: None,
            dev_file: String::new(),
            dev_sha256: String::new(),
        },
    }
}

/// Fits both stages on `set` and chooses the threshold and band on `set`'s own
/// cross-validated predictions (inner folds: `i % folds`, the set's order being the
/// caller's).
fn fit_models(set: &[&OofPair], l2: f64, folds: usize) -> (Logistic, Logistic, f64, f64, f64) {
    let x1: Vec<Vec<f64>> = set
        .iter()
        .map(|p| stage1_features(p.head, p.cosine))
        .collect();
    let x2: Vec<Vec<f64>> = set
        .iter()
        .map(|p| stage2_features(p.head, p.cosine, p.cross))
        .collect();
    let y: Vec<bool> = set.iter().map(|p| p.gold).collect();
    // inner cross-validated probabilities of both stages
    let mut p1 = vec![0.0; set.len()];
    let mut p2 = vec![0.0; set.len()];
    for f in 0..folds {
        let train: Vec<usize> = (0..set.len()).filter(|i| i % folds != f).collect();
        let sub =
            |x: &[Vec<f64>]| -> Vec<Vec<f64>> { train.iter().map(|&i| x[i].clone()).collect() };
        let ys: Vec<bool> = train.iter().map(|&i| y[i]).collect();
        let m1 = Logistic::fit(STAGE1_FEATURES, &sub(&x1), &ys, l2);
        let m2 = Logistic::fit(STAGE2_FEATURES, &sub(&x2), &ys, l2);
        for i in (0..set.len()).filter(|i| i % folds == f) {
            p1[i] = m1.prob(&x1[i]);
            p2[i] = m2.prob(&x2[i]);
        }
    }
    let p2f: Vec<f32> = p2.iter().map(|&p| p as f32).collect();
    let threshold = best_threshold(&p2f, &y).threshold as f64;
    // band: stage 1 never rejects a pair stage 2 catches, nor accepts one it clears
    let mut caught_min = 1.0f64;
    let mut cleared_max = 0.0f64;
    for i in 0..set.len() {
        let flagged = p2[i] >= threshold;
        if flagged && y[i] {
            caught_min = caught_min.min(p1[i]);
        } else if !flagged && !y[i] {
            cleared_max = cleared_max.max(p1[i]);
        }
    }
    let mut floor = caught_min * (1.0 - BAND_MARGIN);
    let mut ceiling = cleared_max + (1.0 - cleared_max) * BAND_MARGIN;
    if !y.iter().any(|&g| g) {
        // no contradiction left for the models (the rules took them all): stage 1 says
        // no to every pair
        (floor, ceiling) = (1.0, 1.0);
    } else if floor > ceiling {
        // the extremes crossed (a tiny or perfectly separated set): no band, stage 1
        // decides at the middle
        let mid = (floor + ceiling) / 2.0;
        (floor, ceiling) = (mid, mid);
    }
    let m1 = Logistic::fit(STAGE1_FEATURES, &x1, &y, l2);
    let m2 = Logistic::fit(STAGE2_FEATURES, &x2, &y, l2);
    (m1, m2, threshold, floor, ceiling)
}

/// The whole decision cross-validated over the out-of-fold folds: F1 and the share of
/// scored pairs sent to stage 2.
fn cross_validate(pairs: &[OofPair], folds: usize, l2: f64) -> (Prf, f64) {
    let min_cos = crate::detector::MIN_COSINE;
    let mut verdict = vec![false; pairs.len()];
    let (mut banded, mut scored_n) = (0usize, 0usize);
    for f in 0..folds {
        let train: Vec<&OofPair> = pairs
            .iter()
            .filter(|p| p.fold != f && p.cosine >= min_cos && p.rule.is_none())
            .collect();
        let (s1, s2, threshold, floor, ceiling) = fit_models(&train, l2, folds);
        let cfg = DecisionConfig {
            format: 1,
            stage1: s1,
            floor,
            ceiling,
            stage2: s2,
            threshold,
            protocol: Protocol {
                train_file: String::new(),
                train_sha256: String::new(),
                folds,
                fold_seed: 0,
                l2,
                pairs: 0,
                rules: Vec::new(),
                cv: Prf::default(),
                cv_band_share: 0.0,
                dev: None,
                dev_file: String::new(),
                dev_sha256: String::new(),
            },
        };
        for (i, p) in pairs.iter().enumerate().filter(|(_, p)| p.fold == f) {
            verdict[i] = match decide(&cfg, p) {
                Route::Skipped => false,
                Route::Rule(_) => true,
                Route::Head(_, v) => {
                    scored_n += 1;
                    v
                }
                Route::Cross(_, v) => {
                    scored_n += 1;
                    banded += 1;
                    v
                }
            };
        }
    }
    let gold: Vec<bool> = pairs.iter().map(|p| p.gold).collect();
    let probs: Vec<f32> = verdict.iter().map(|&v| if v { 1.0 } else { 0.0 }).collect();
    (
        prf(&probs, &gold, 0.5),
        banded as f64 / scored_n.max(1) as f64,
    )
}

/// The decision for a pair whose signals are all known (training and evaluation).
pub fn decide(cfg: &DecisionConfig, p: &OofPair) -> Route {
    if p.cosine < crate::detector::MIN_COSINE {
        return Route::Skipped;
    }
    if let Some(r) = p.rule {
        return Route::Rule(r);
    }
    match cfg.stage1(p.head, p.cosine) {
        (q, Some(v)) => Route::Head(q, v),
        (_, None) => {
            let (q, v) = cfg.stage2(p.head, p.cosine, p.cross);
            Route::Cross(q, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(gold: bool, fold: usize, c: f32, h: f32, x: f32) -> OofPair {
        OofPair {
            gold,
            fold,
            cosine: c,
            head: [h, (1.0 - h) / 2.0, (1.0 - h) / 2.0],
            cross: [x, (1.0 - x) / 2.0, (1.0 - x) / 2.0],
            rule: None,
        }
    }

    /// Constructed signals: the head separates most pairs, the cross-encoder the rest.
    fn constructed() -> Vec<OofPair> {
        let mut out = Vec::new();
        for i in 0..400 {
            let fold = i % 5;
            let r = (i * 7919 % 1000) as f32 / 1000.0;
            match i % 4 {
                // clear contradictions and clear non-contradictions
                0 => out.push(pair(true, fold, 0.8, 0.9 + 0.09 * r, 0.9)),
                1 => out.push(pair(false, fold, 0.7, 0.01 + 0.05 * r, 0.1)),
                // the hard ones: the head is unsure, the cross-encoder knows
                2 => out.push(pair(true, fold, 0.8, 0.4 + 0.2 * r, 0.95)),
                _ => out.push(pair(false, fold, 0.8, 0.4 + 0.2 * r, 0.05)),
            }
        }
        out
    }

    #[test]
    fn the_fitted_decision_follows_its_documented_rule() {
        let pairs = constructed();
        let cfg = fit(&pairs, 5, 1);
        assert!(cfg.protocol.cv.f1 > 0.99, "{:?}", cfg.protocol);
        for p in &pairs {
            let expected = match cfg.stage1(p.head, p.cosine) {
                (_, Some(v)) => v,
                (_, None) => cfg.stage2(p.head, p.cosine, p.cross).1,
            };
            let got = match decide(&cfg, p) {
                Route::Head(_, v) | Route::Cross(_, v) => v,
                other => panic!("{other:?}"),
            };
            assert_eq!(got, expected);
        }
        // the unsure band goes to stage 2, the clear cases do not
        assert!(matches!(
            decide(&cfg, &pair(true, 0, 0.8, 0.5, 0.95)),
            Route::Cross(_, true)
        ));
        assert!(matches!(
            decide(&cfg, &pair(false, 0, 0.8, 0.5, 0.05)),
            Route::Cross(_, false)
        ));
        assert!(matches!(
            decide(&cfg, &pair(false, 0, 0.7, 0.02, 0.9)),
            Route::Head(_, false)
        ));
        assert!(cfg.floor < cfg.ceiling);
        assert_eq!(cfg, fit(&pairs, 5, 1), "deterministic");
    }

    #[test]
    fn gates_and_rules_come_first() {
        let cfg = fit(&constructed(), 5, 1);
        // below the cosine floor: never scored, whatever the models say
        assert_eq!(
            decide(&cfg, &pair(true, 0, 0.1, 0.99, 0.99)),
            Route::Skipped
        );
        let mut p = pair(false, 0, 0.9, 0.01, 0.01);
        p.rule = Some("negation_only");
        assert_eq!(decide(&cfg, &p), Route::Rule("negation_only"));
        assert_eq!(
            rule_alone("Penguins can fly.", "Penguins cannot fly."),
            Some("negation_only")
        );
        assert_eq!(
            rule_alone("Paris is in France.", "Paris is in France is false."),
            Some("explicit_denial")
        );
        assert_eq!(rule_alone("Paris is in France.", "Rome is in Italy."), None);
    }

    #[test]
    fn a_substitution_decides_alone_only_about_a_definite_subject() {
        let sub = |a, b| substitution(a, b);
        // a conflicting phrase swapped in a statement about one named thing
        assert_eq!(
            sub(
                "Jupiter is the largest planet.",
                "Jupiter is the smallest planet."
            ),
            Some("antonym")
        );
        assert_eq!(
            sub(
                "Mount Everest is 8,849 metres tall.",
                "Mount Everest is 7,200 metres tall."
            ),
            Some("numbers")
        );
        assert_eq!(
            sub(
                "Marie Curie was born in Warsaw.",
                "Marie Curie was born in Paris."
            ),
            Some("entity_swap")
        );
        // a swapped subject only before a definite description
        assert_eq!(
            sub(
                "Berlin is the capital of Germany.",
                "Munich is the capital of Germany."
            ),
            Some("entity_swap")
        );
        assert_eq!(
            sub("Insects have six legs.", "Spiders have six legs."),
            None
        );
        assert_eq!(
            sub(
                "Copper is a poor conductor of electricity.",
                "Rubber is a poor conductor of electricity."
            ),
            None
        );
        // scenes (SICK): another subject or another person, not a conflict
        assert_eq!(
            sub(
                "A man is sitting on a chair.",
                "A man is standing on a chair."
            ),
            None
        );
        assert_eq!(
            sub("Two dogs are running.", "Three dogs are running."),
            None
        );
        assert_eq!(
            sub(
                "The girl is spraying the plants.",
                "The boy is spraying the plants."
            ),
            None
        );
        // more than a short phrase changed, or too little shared
        assert_eq!(
            sub(
                "Paris is the capital of France.",
                "Lyon is the largest city of France by far."
            ),
            None
        );
        assert_eq!(sub("It is hot.", "It is cold."), None);
        assert_eq!(
            rule_alone("Helium is lighter than air.", "Helium is heavier than air."),
            Some("substitution")
        );
    }

    #[test]
    fn one_word_swapped_for_its_opposite_is_an_antonym_substitution() {
        for (a, b) in [
            (
                "The Orbit smartwatch is compatible with Android phones.",
                "The Orbit smartwatch is incompatible with Android phones.",
            ),
            (
                "Copper is a good conductor of electricity.",
                "Copper is a poor conductor of electricity.",
            ),
            (
                "`pulp` is a safe abstraction over SIMD instructions.",
                "`pulp` is a unsafe abstraction over SIMD instructions.",
            ),
            (
                "The client uses non-blocking sockets by default.",
                "The client uses blocking sockets by default.",
            ),
            // a pronoun, but a long statement with one word swapped: one subject
            (
                "It is optimized for operations on strings of size 8 or smaller.",
                "It is optimized for operations on strings of size 8 or larger.",
            ),
        ] {
            assert_eq!(substitution(a, b), Some("antonym"), "{a} / {b}");
        }
        for (a, b) in [
            // look-alikes, not opposites
            (
                "The parser can cover every case.",
                "The parser can discover every case.",
            ),
            // a word added, none swapped
            (
                "The store is open on Sundays.",
                "The store is open late on Sundays.",
            ),
            // a scene (SICK): no definite subject
            (
                "A man is happy in the park.",
                "A man is unhappy in the park.",
            ),
            // a pronoun in a short statement: whose?
            ("It is safe to use.", "It is unsafe to use."),
        ] {
            assert_eq!(substitution(a, b), None, "{a} / {b}");
        }
    }
}
