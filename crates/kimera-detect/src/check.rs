//! Checking one new statement against the store (`kimera check`): its nearest stored
//! statements, then the detector cascade on each (statement, neighbour) pair.
//! Contradictions are about the same subject, so they are among the neighbours.

use kimera_embed::{Encoder, VectorIndex};
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

/// A store's vectors loaded once, for checking many statements against it: each check
/// embeds the statement, scans the in-memory vectors for its `k` nearest stored
/// statements, and runs the detectors on those pairs. The neighbours' vectors are at
/// hand, so the `model` detector's fast head can rule pairs out before its
/// cross-encoder.
pub struct Checker<'a> {
    store: &'a Store,
    enc: &'a dyn Encoder,
    index: VectorIndex,
}

impl std::fmt::Debug for Checker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("model", &self.enc.model_id())
            .field("vectors", &self.index.len())
            .finish()
    }
}

impl<'a> Checker<'a> {
    /// Loads the vectors the store holds for `enc`'s model.
    pub fn new(store: &'a Store, enc: &'a dyn Encoder) -> Result<Checker<'a>> {
        let index = VectorIndex::load(store, enc.model_id())?;
        Ok(Checker { store, enc, index })
    }

    /// Stored statements with a vector (the ones a check can find).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The stored statements among `text`'s `k` nearest that a detector of `detectors`
    /// finds contradicting it. The text is pair side `a`, the stored statement side `b`.
    pub fn check(
        &self,
        detectors: &[Box<dyn Detector>],
        text: &str,
        lang: &str,
        k: usize,
    ) -> Result<CheckReport> {
        if self.index.is_empty() {
            return Ok(CheckReport {
                examined: 0,
                contradictions: Vec::new(),
            });
        }
        let q = self
            .enc
            .encode(&[text])?
            .pop()
            .ok_or_else(|| crate::DetectError::Model("encoder returned no vector".into()))?;
        let rows = self
            .index
            .nearest(&q, k)
            .map_err(crate::DetectError::Embed)?;
        let mut neighbours = Vec::with_capacity(rows.len());
        for &(row, cosine) in &rows {
            let id = kimera_core::GeoidId(self.index.id(row).to_string());
            let g = self
                .store
                .geoid(&id)
                .map_err(|e| crate::DetectError::Embed(e.into()))?;
            if let Some(g) = g {
                neighbours.push((id.0, g.text, g.lang, row, cosine));
            }
        }
        let pairs: Vec<PairInput<'_>> = neighbours
            .iter()
            .map(|(id, t, l, row, cosine)| PairInput {
                a_id: "query",
                b_id: id,
                a_text: text,
                b_text: t,
                a_lang: lang,
                b_lang: l,
                a_vec: &q,
                b_vec: self.index.vector(*row),
                cosine: *cosine,
                resonance: *cosine,
            })
            .collect();
        let mut hits = Vec::new();
        for d in detectors {
            for ((id, t, l, _, cosine), v) in neighbours.iter().zip(d.score_batch(&pairs)) {
                if v.contradiction {
                    hits.push(CheckHit {
                        id: id.clone(),
                        text: t.clone(),
                        lang: l.clone(),
                        cosine: *cosine,
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
}

/// One check without keeping the loaded vectors (see [`Checker`] for many).
pub fn check_text(
    store: &Store,
    enc: &dyn Encoder,
    detectors: &[Box<dyn Detector>],
    text: &str,
    lang: &str,
    k: usize,
) -> Result<CheckReport> {
    Checker::new(store, enc)?.check(detectors, text, lang, k)
}
