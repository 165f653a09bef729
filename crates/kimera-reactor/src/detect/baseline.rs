//! The original Kimera detector, kept as the baseline to beat.

use serde_json::json;

use super::{Detector, PairInput, Verdict};

/// Scars a pair when its resonance is below a threshold (0.3 in Kimera), with weight
/// `1 - resonance`. It knows nothing about meaning: dissimilar statements are
/// "contradictions" to it, which is exactly why it is only a baseline.
#[derive(Debug, Clone)]
pub struct BaselineDetector {
    pub threshold: f32,
}

impl Default for BaselineDetector {
    fn default() -> Self {
        BaselineDetector { threshold: 0.3 }
    }
}

impl Detector for BaselineDetector {
    fn name(&self) -> &str {
        "baseline"
    }

    fn score_batch(&self, pairs: &[PairInput<'_>]) -> Vec<Verdict> {
        pairs
            .iter()
            .map(|p| {
                if p.resonance < self.threshold {
                    Verdict {
                        contradiction: true,
                        score: (1.0 - p.resonance).clamp(0.0, 1.0),
                        evidence: json!({
                            "rule": "low_resonance",
                            "resonance": p.resonance,
                            "cosine": p.cosine,
                            "threshold": self.threshold,
                        }),
                    }
                } else {
                    // Not a scar, but keep the continuous score so that benchmarks can
                    // rank pairs (ROC/PR curves) by the same quantity the rule thresholds.
                    Verdict {
                        contradiction: false,
                        score: (1.0 - p.resonance).clamp(0.0, 1.0),
                        evidence: serde_json::Value::Null,
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scars_below_threshold_with_weight_one_minus_resonance() {
        let d = BaselineDetector::default();
        let v = d.score_batch(&[
            PairInput::texts("x", "y", 0.1),
            PairInput::texts("x", "y", 0.3),
            PairInput::texts("x", "y", 0.9),
        ]);
        assert!(v[0].contradiction && (v[0].score - 0.9).abs() < 1e-6);
        assert_eq!(v[0].evidence["rule"], "low_resonance");
        assert!(!v[1].contradiction, "threshold is strict");
        assert!(!v[2].contradiction);
        let neg = d.score_batch(&[PairInput::texts("x", "y", -0.5)]);
        assert_eq!(neg[0].score, 1.0, "weight is clamped to 1");
    }
}
