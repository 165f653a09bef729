//! Precision, recall and F1 of the contradiction class, and the decision threshold.

use serde::{Deserialize, Serialize};

/// Binary metrics of "contradiction" at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Prf {
    pub threshold: f32,
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Metrics of predicting `p >= threshold` against `gold`.
pub fn prf(probs: &[f32], gold: &[bool], threshold: f32) -> Prf {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (&p, &g) in probs.iter().zip(gold) {
        match (p >= threshold, g) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            _ => {}
        }
    }
    let precision = if tp + fp == 0 {
        0.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + fn_ == 0 {
        0.0
    } else {
        tp as f64 / (tp + fn_) as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Prf {
        threshold,
        tp,
        fp,
        fn_,
        precision,
        recall,
        f1,
    }
}

/// The threshold with the best F1 on (`probs`, `gold`), searched over every distinct
/// probability. Ties go to the *highest* threshold (fewer false alarms); the returned
/// threshold is the midpoint between the chosen score and the next lower one, so a
/// probability that moves by rounding does not flip its verdict.
pub fn best_threshold(probs: &[f32], gold: &[bool]) -> Prf {
    let mut cands: Vec<f32> = probs.to_vec();
    cands.sort_by(|a, b| b.total_cmp(a));
    cands.dedup();
    let mut best = prf(probs, gold, 0.5);
    best.f1 = -1.0;
    for (i, &t) in cands.iter().enumerate() {
        let m = prf(probs, gold, t);
        if m.f1 > best.f1 {
            let lower = cands.get(i + 1).copied().unwrap_or(0.0);
            best = prf(probs, gold, (t + lower) / 2.0);
            if best.f1 < m.f1 {
                best = m;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prf_counts_and_scores() {
        // sklearn: precision_recall_fscore_support([1,1,0,0,1],[1,0,1,0,1], average='binary')
        // -> (0.6667, 0.6667, 0.6667)
        let m = prf(
            &[0.9, 0.2, 0.7, 0.1, 0.6],
            &[true, true, false, false, true],
            0.5,
        );
        assert_eq!((m.tp, m.fp, m.fn_), (2, 1, 1));
        assert!((m.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(prf(&[0.1], &[false], 0.5).f1, 0.0);
    }

    #[test]
    fn best_threshold_separates_separable_scores() {
        let probs = [0.9, 0.8, 0.3, 0.2, 0.75];
        let gold = [true, true, false, false, true];
        let b = best_threshold(&probs, &gold);
        assert_eq!(b.f1, 1.0);
        assert!(b.threshold > 0.3 && b.threshold <= 0.75, "{}", b.threshold);
    }
}
