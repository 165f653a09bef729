//! Checking one new statement against the store (`kimera check`): its nearest stored
//! statements, then the detector cascade on each (statement, neighbour) pair.
//! Contradictions are about the same subject, so they are among the neighbours.

use kimera_embed::{Encoder, nearest};
use kimera_reactor::{Detector, PairInput};
use kimera_store::Store;
use serde::Serialize;

use crate::Result;

/// One stored statement that the checked text contradicts, per detector that fired.
#[derive(Debug, Clone, Serialize)]
pub struct CheckHit {
    pub id: String,
    pub text: String,
    pub lang: String,
    pub cosine: f32,
    pub detector: String,
    pub score: f32,
    pub evidence: serde_json::Value,
}

/// What [`check_text`] found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Neighbours examined (0: the store has no vectors for the encoder's model).
    pub examined: usize,
    /// Strongest first.
    pub contradictions: Vec<CheckHit>,
}

/// The stored statements among `text`'s `k` nearest that a detector of `detectors` finds
/// contradicting it. The text is pair side `a`, the stored statement side `b`.
pub fn check_text(
    store: &Store,
    enc: &dyn Encoder,
    detectors: &[Box<dyn Detector>],
    text: &str,
    lang: &str,
    k: usize,
) -> Result<CheckReport> {
    let neighbours = nearest(store, enc, text, k)?;
    // `nearest` gives texts and cosines, not the neighbours' vectors, so the model's head
    // cannot score these pairs and the cascade sends them straight to the cross-encoder
    // (k pairs: a few milliseconds).
    let pairs: Vec<PairInput<'_>> = neighbours
        .iter()
        .map(|n| PairInput {
            a_id: "query",
            b_id: &n.id,
            a_text: text,
            b_text: &n.text,
            a_lang: lang,
            b_lang: &n.lang,
            a_vec: &[],
            b_vec: &[],
            cosine: n.score,
            resonance: n.score,
        })
        .collect();
    let mut hits = Vec::new();
    for d in detectors {
        for (n, v) in neighbours.iter().zip(d.score_batch(&pairs)) {
            if v.contradiction {
                hits.push(CheckHit {
                    id: n.id.clone(),
                    text: n.text.clone(),
                    lang: n.lang.clone(),
                    cosine: n.score,
                    detector: d.name().to_string(),
                    score: v.score,
                    evidence: v.evidence,
                });
            }
        }
    }
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.id.cmp(&b.id))
            .then(a.detector.cmp(&b.detector))
    });
    Ok(CheckReport {
        examined: neighbours.len(),
        contradictions: hits,
    })
}
