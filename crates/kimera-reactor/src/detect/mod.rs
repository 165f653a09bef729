//! Detectors: things that score a pair of geoids for contradiction.
//!
//! Every detector sees a *batch* of pairs at once, because the costly ones (a learned pair
//! model, an LLM judge) are only fast when batched. The contract that keeps parallel runs
//! identical to sequential ones: **verdict `i` depends only on pair `i`**, never on which
//! other pairs share the batch or on the batch size. The reactor splits work into batches
//! of whatever size suits the thread pool and relies on this.
//!
//! Detectors run as a cascade in the order given (cheap first); each records its scars
//! under its own [`Detector::name`], so a pair can be scarred once per detector.

mod baseline;
mod lexical;

pub use baseline::BaselineDetector;
pub use lexical::LexicalDetector;

use crate::ReactorError;

/// Everything a detector may look at for one candidate pair.
#[derive(Debug, Clone, Copy)]
pub struct PairInput<'a> {
    pub a_id: &'a str,
    pub b_id: &'a str,
    pub a_text: &'a str,
    pub b_text: &'a str,
    pub a_lang: &'a str,
    pub b_lang: &'a str,
    /// The two embeddings (L2-normalised by the reactor).
    pub a_vec: &'a [f32],
    pub b_vec: &'a [f32],
    /// Cosine similarity of the two embeddings.
    pub cosine: f32,
    /// `cosine * (1 - mean weight of the scars touching a or b)`, with the scars that
    /// existed when the run started (so the value does not depend on scheduling).
    pub resonance: f32,
    /// The document each statement came from ([`document_of`] its source: the file, not
    /// the line), or `""` when unknown (a statement being checked, a labelled pair).
    pub a_doc: &'a str,
    pub b_doc: &'a str,
}

/// The document part of a geoid's source: `docs/a.md:12` → `docs/a.md`. Statements of
/// two documents are about their own documents' subjects when they leave the subject
/// implicit ("Requires Rust 1.58 or greater." in two crates' READMEs).
pub fn document_of(source: &str) -> &str {
    match source.rsplit_once(':') {
        Some((doc, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => doc,
        _ => source,
    }
}

impl<'a> PairInput<'a> {
    /// A pair of two English texts without vectors, with the given cosine (and resonance
    /// equal to it): what the text-only rules need, e.g. in their tests.
    pub fn texts(a: &'a str, b: &'a str, cosine: f32) -> PairInput<'a> {
        PairInput {
            a_id: "a",
            b_id: "b",
            a_text: a,
            b_text: b,
            a_lang: "en",
            b_lang: "en",
            a_vec: &[],
            b_vec: &[],
            cosine,
            resonance: cosine,
            a_doc: "",
            b_doc: "",
        }
    }

    /// Whether both documents are known and differ.
    pub fn different_documents(&self) -> bool {
        !self.a_doc.is_empty() && !self.b_doc.is_empty() && self.a_doc != self.b_doc
    }
}

/// A detector's judgement of one pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// True when the detector records a scar for this pair.
    pub contradiction: bool,
    /// Strength in 0..=1 (the scar's weight in resonance). Detectors with a continuous
    /// score (a probability, 1 − resonance) give it for non-contradictions too, so that
    /// benchmarks can rank all pairs; rule-based ones give 0 when no rule fires.
    pub score: f32,
    /// Why: the rule, tokens, probability... Stored with the scar.
    pub evidence: serde_json::Value,
}

impl Verdict {
    /// "No contradiction", with no evidence worth storing.
    pub fn none() -> Self {
        Verdict {
            contradiction: false,
            score: 0.0,
            evidence: serde_json::Value::Null,
        }
    }
}

/// Scores pairs for contradiction. See the module docs for the batching contract.
pub trait Detector: Send + Sync {
    /// Short stable name, stored with each scar (`baseline`, `lexical`, ...).
    fn name(&self) -> &str;
    /// One verdict per pair, in the same order.
    fn score_batch(&self, pairs: &[PairInput<'_>]) -> Vec<Verdict>;
}

/// Names accepted by [`detector_by_name`].
pub const DETECTOR_NAMES: &[&str] = &["baseline", "lexical"];

/// The built-in detector called `name`, with its default settings.
pub fn detector_by_name(name: &str) -> Result<Box<dyn Detector>, ReactorError> {
    match name.trim() {
        "baseline" => Ok(Box::new(BaselineDetector::default())),
        "lexical" => Ok(Box::new(LexicalDetector::default())),
        other => Err(ReactorError::UnknownDetector {
            name: other.to_string(),
            known: DETECTOR_NAMES.join(", "),
        }),
    }
}

/// Parses a comma-separated list (`baseline,lexical`) into detectors, in that order.
/// Repeated names are an error, since each detector's scars are keyed by its name.
pub fn detectors_from_list(list: &str) -> Result<Vec<Box<dyn Detector>>, ReactorError> {
    let mut out: Vec<Box<dyn Detector>> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if out.iter().any(|d| d.name() == name) {
            return Err(ReactorError::DuplicateDetector(name.to_string()));
        }
        out.push(detector_by_name(name)?);
    }
    if out.is_empty() {
        return Err(ReactorError::UnknownDetector {
            name: list.to_string(),
            known: DETECTOR_NAMES.join(", "),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_parses_lists_and_rejects_unknown_or_repeated_names() {
        let d = detectors_from_list("baseline, lexical").unwrap();
        let names: Vec<&str> = d.iter().map(|d| d.name()).collect();
        assert_eq!(names, ["baseline", "lexical"]);
        let err = detectors_from_list("baseline,oracle")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("oracle") && err.contains("lexical"), "{err}");
        assert!(detectors_from_list("lexical,lexical").is_err());
        assert!(detectors_from_list(" , ").is_err());
    }
}
