//! Classification metrics of one detector against gold labels.
//!
//! Definitions follow scikit-learn, so that a number here can be checked against
//! `sklearn.metrics` and compared with papers that use it:
//! - a ratio whose denominator is zero is `0.0` (sklearn's `zero_division=0`, and its MCC);
//! - a verdict is positive when `score >= threshold`;
//! - tied scores form one point of a curve (sklearn's `_binary_clf_curve`), so the AUC
//!   counts a tied positive/negative pair as half right (the Mann–Whitney U statistic);
//! - average precision is `Σ (Rₖ − Rₖ₋₁) · Pₖ` over the distinct thresholds, *without*
//!   interpolation (sklearn's `average_precision_score`, not the 11-point VOC one).
//!
//! Scores must be finite; [`crate::data`] rejects NaN and infinities before they get here.

use serde::{Deserialize, Serialize};

/// Counts of a binary classifier's verdicts against gold labels (positive = contradiction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Confusion {
    /// Contradictions found.
    pub tp: u64,
    /// Non-contradictions called contradictions.
    pub fp: u64,
    /// Non-contradictions left alone.
    pub tn: u64,
    /// Contradictions missed.
    #[serde(rename = "fn")]
    pub fn_: u64,
}

fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

impl Confusion {
    /// Counts `verdicts` against `gold`, position by position.
    ///
    /// # Panics
    /// If the slices differ in length (a programming error, not bad input).
    pub fn from_verdicts(gold: &[bool], verdicts: &[bool]) -> Self {
        assert_eq!(
            gold.len(),
            verdicts.len(),
            "gold and verdicts differ in length"
        );
        let mut c = Confusion::default();
        for (&g, &v) in gold.iter().zip(verdicts) {
            c.add(g, v, 1);
        }
        c
    }

    /// Adds `weight` observations of one (gold, verdict) combination.
    pub fn add(&mut self, gold: bool, verdict: bool, weight: u64) {
        match (gold, verdict) {
            (true, true) => self.tp += weight,
            (false, true) => self.fp += weight,
            (false, false) => self.tn += weight,
            (true, false) => self.fn_ += weight,
        }
    }

    /// Number of observations.
    pub fn n(&self) -> u64 {
        self.tp + self.fp + self.tn + self.fn_
    }

    /// Number of gold positives.
    pub fn positives(&self) -> u64 {
        self.tp + self.fn_
    }

    /// (TP + TN) / N.
    pub fn accuracy(&self) -> f64 {
        ratio((self.tp + self.tn) as f64, self.n() as f64)
    }

    /// TP / (TP + FP): of the pairs called contradictions, how many are.
    pub fn precision(&self) -> f64 {
        ratio(self.tp as f64, (self.tp + self.fp) as f64)
    }

    /// TP / (TP + FN): of the contradictions, how many were found (sensitivity).
    pub fn recall(&self) -> f64 {
        ratio(self.tp as f64, (self.tp + self.fn_) as f64)
    }

    /// TN / (TN + FP): of the non-contradictions, how many were left alone.
    pub fn specificity(&self) -> f64 {
        ratio(self.tn as f64, (self.tn + self.fp) as f64)
    }

    /// 2·TP / (2·TP + FP + FN), the harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        ratio(
            2.0 * self.tp as f64,
            (2 * self.tp + self.fp + self.fn_) as f64,
        )
    }

    /// Matthews correlation coefficient; `0.0` when a marginal is empty (as sklearn).
    ///
    /// Unlike F1 it uses all four cells, so it does not reward a detector that calls
    /// everything a contradiction on a dataset that is mostly contradictions.
    pub fn mcc(&self) -> f64 {
        let (tp, fp, tn, fn_) = (
            self.tp as f64,
            self.fp as f64,
            self.tn as f64,
            self.fn_ as f64,
        );
        let den = ((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)).sqrt();
        ratio(tp * tn - fp * fn_, den)
    }
}

/// A curve traced by lowering a threshold through the distinct scores.
///
/// `x[i]`, `y[i]` are the curve at `thresholds[i]`. For a ROC curve `x` is the false
/// positive rate and `y` the true positive rate, and the first point is `(0, 0)` at
/// threshold `+∞`, as sklearn ≥ 1.3 (`drop_intermediate=False`). For a PR curve `x` is
/// recall and `y` precision, thresholds decrease, and the first point is
/// `(recall 0, precision 1)` at threshold `+∞` (sklearn appends it last).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub thresholds: Vec<f64>,
}

/// Cumulative (false positives, true positives, threshold) at each distinct score, from
/// the highest score down: sklearn's `_binary_clf_curve`.
pub(crate) fn clf_curve(gold: &[bool], scores: &[f64]) -> Vec<(u64, u64, f64)> {
    assert_eq!(gold.len(), scores.len(), "gold and scores differ in length");
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut out: Vec<(u64, u64, f64)> = Vec::new();
    let (mut fp, mut tp) = (0u64, 0u64);
    for (k, &i) in order.iter().enumerate() {
        if gold[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_group = order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_group {
            out.push((fp, tp, scores[i]));
        }
    }
    out
}

/// ROC curve; `None` unless both classes are present (the rates are undefined).
pub fn roc_curve(gold: &[bool], scores: &[f64]) -> Option<Curve> {
    let points = clf_curve(gold, scores);
    let &(neg, pos, _) = points.last()?;
    if neg == 0 || pos == 0 {
        return None;
    }
    let mut curve = Curve {
        x: vec![0.0],
        y: vec![0.0],
        thresholds: vec![f64::INFINITY],
    };
    for (fp, tp, t) in points {
        curve.x.push(fp as f64 / neg as f64);
        curve.y.push(tp as f64 / pos as f64);
        curve.thresholds.push(t);
    }
    Some(curve)
}

/// Area under a curve by the trapezoidal rule (`numpy.trapz`), `x` non-decreasing.
pub fn trapezoid(x: &[f64], y: &[f64]) -> f64 {
    x.windows(2)
        .zip(y.windows(2))
        .map(|(xs, ys)| (xs[1] - xs[0]) * (ys[0] + ys[1]) / 2.0)
        .sum()
}

/// Area under the ROC curve: the probability that a random contradiction scores above a
/// random non-contradiction, ties counting half. `None` unless both classes are present.
pub fn roc_auc(gold: &[bool], scores: &[f64]) -> Option<f64> {
    let c = roc_curve(gold, scores)?;
    Some(trapezoid(&c.x, &c.y))
}

/// Precision–recall curve; `None` when there is no gold positive (recall undefined).
pub fn pr_curve(gold: &[bool], scores: &[f64]) -> Option<Curve> {
    let points = clf_curve(gold, scores);
    let &(_, pos, _) = points.last()?;
    if pos == 0 {
        return None;
    }
    let mut curve = Curve {
        x: vec![0.0],
        y: vec![1.0],
        thresholds: vec![f64::INFINITY],
    };
    for (fp, tp, t) in points {
        curve.x.push(tp as f64 / pos as f64);
        curve.y.push(ratio(tp as f64, (tp + fp) as f64));
        curve.thresholds.push(t);
    }
    Some(curve)
}

/// Average precision (sklearn's definition): precision at each threshold weighted by
/// the recall gained there. `None` when there is no gold positive.
pub fn average_precision(gold: &[bool], scores: &[f64]) -> Option<f64> {
    let c = pr_curve(gold, scores)?;
    Some(
        c.x.windows(2)
            .zip(c.y.iter().skip(1))
            .map(|(r, &p)| (r[1] - r[0]) * p)
            .sum(),
    )
}

/// The threshold that maximises F1 on these labels, with its precision and recall.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BestF1 {
    /// Verdict is positive when `score >= threshold`.
    pub threshold: f64,
    pub f1: f64,
    pub precision: f64,
    pub recall: f64,
}

/// Best-F1 threshold over the distinct scores; of equal F1s the highest threshold wins
/// (the detector that says "contradiction" least often). `None` without gold positives.
///
/// It is tuned on the same labels it is scored on, so it is an optimistic ceiling for the
/// detector, not a fair result: tune on one split (SICK train) and report another.
pub fn best_f1_threshold(gold: &[bool], scores: &[f64]) -> Option<BestF1> {
    let points = clf_curve(gold, scores);
    let &(_, pos, _) = points.last()?;
    if pos == 0 {
        return None;
    }
    let mut best: Option<BestF1> = None;
    for (fp, tp, t) in points {
        let c = Confusion {
            tp,
            fp,
            fn_: pos - tp,
            tn: 0,
        };
        let f1 = c.f1();
        if best.is_none_or(|b| f1 > b.f1) {
            best = Some(BestF1 {
                threshold: t,
                f1,
                precision: c.precision(),
                recall: c.recall(),
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 pairs with ties across classes and within classes, used by every reference
    /// check below. Python that produced the expected values:
    /// ```python
    /// y = [1,0,1,1,0,0,1,0,1,0,0,1,1,0,0,1,0,1,0,0]
    /// s = [0.9,0.8,0.8,0.7,0.7,0.6,0.55,0.5,0.5,0.4,0.3,0.3,0.3,0.2,0.1,0.9,0.05,0.65,0.6,0.0]
    /// v = [x >= 0.5 for x in s]
    /// ```
    const Y: [u8; 20] = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
    const S: [f64; 20] = [
        0.9, 0.8, 0.8, 0.7, 0.7, 0.6, 0.55, 0.5, 0.5, 0.4, 0.3, 0.3, 0.3, 0.2, 0.1, 0.9, 0.05,
        0.65, 0.6, 0.0,
    ];

    fn data() -> (Vec<bool>, Vec<f64>, Vec<bool>) {
        let y: Vec<bool> = Y.iter().map(|&v| v == 1).collect();
        let v: Vec<bool> = S.iter().map(|&s| s >= 0.5).collect();
        (y, S.to_vec(), v)
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn confusion_and_ratios_match_sklearn() {
        let (y, _, v) = data();
        let c = Confusion::from_verdicts(&y, &v);
        // confusion_matrix(y, v).ravel() -> tn, fp, fn, tp = 6 5 2 7
        assert_eq!(
            c,
            Confusion {
                tp: 7,
                fp: 5,
                tn: 6,
                fn_: 2
            }
        );
        // accuracy_score(y, v) = 0.65
        close(c.accuracy(), 0.65);
        // precision_score(y, v) = 0.5833333333333334
        close(c.precision(), 0.5833333333333334);
        // recall_score(y, v) = 0.7777777777777778
        close(c.recall(), 0.7777777777777778);
        // f1_score(y, v) = 0.6666666666666666
        close(c.f1(), 0.6666666666666666);
        // recall_score(y, v, pos_label=0) = 0.5454545454545454
        close(c.specificity(), 0.5454545454545454);
        // matthews_corrcoef(y, v) = 0.32824397594488725
        close(c.mcc(), 0.32824397594488725);
    }

    #[test]
    fn degenerate_ratios_are_zero_like_sklearn() {
        // precision_score([1,0],[0,0], zero_division=0) = 0.0; matthews_corrcoef(...) = 0.0
        let c = Confusion::from_verdicts(&[true, false], &[false, false]);
        assert_eq!(c.precision(), 0.0);
        assert_eq!(c.f1(), 0.0);
        assert_eq!(c.mcc(), 0.0);
        assert_eq!(Confusion::default().accuracy(), 0.0);
    }

    #[test]
    fn roc_matches_sklearn_with_ties() {
        let (y, s, _) = data();
        // roc_auc_score(y, s) = 0.7424242424242424
        close(roc_auc(&y, &s).unwrap(), 0.7424242424242424);
        // fpr, tpr, th = roc_curve(y, s, drop_intermediate=False)
        // len(fpr) = 14; fpr*11 = [0, 0, 1, 2, 2, 4, 4, 5, 6, 7, 8, 9, 10, 11]
        // tpr*9 = [0, 2, 3, 4, 5, 5, 6, 7, 7, 9, 9, 9, 9, 9]
        // th = [inf, .9, .8, .7, .65, .6, .55, .5, .4, .3, .2, .1, .05, 0]
        let c = roc_curve(&y, &s).unwrap();
        assert_eq!(c.x.len(), 14);
        let fpr11 = [0., 0., 1., 2., 2., 4., 4., 5., 6., 7., 8., 9., 10., 11.];
        let tpr9 = [0., 2., 3., 4., 5., 5., 6., 7., 7., 9., 9., 9., 9., 9.];
        for i in 0..14 {
            close(c.x[i], fpr11[i] / 11.0);
            close(c.y[i], tpr9[i] / 9.0);
        }
        assert_eq!(c.thresholds[0], f64::INFINITY);
        close(c.thresholds[1], 0.9);
        close(*c.thresholds.last().unwrap(), 0.0);
    }

    #[test]
    fn average_precision_matches_sklearn() {
        let (y, s, _) = data();
        // average_precision_score(y, s) = 0.7154761904761905
        close(average_precision(&y, &s).unwrap(), 0.7154761904761905);
        // p, r, t = precision_recall_curve(y, s)
        // p[::-1][:4] = [1, 1, .75, 2/3]; r[::-1][:4] = [0, 2/9, 3/9, 4/9]
        let c = pr_curve(&y, &s).unwrap();
        for (i, (p, r9)) in [(1.0, 0.0), (1.0, 2.0), (0.75, 3.0), (2.0 / 3.0, 4.0)]
            .into_iter()
            .enumerate()
        {
            close(c.y[i], p);
            close(c.x[i], r9 / 9.0);
        }
    }

    #[test]
    fn best_f1_matches_sklearn_curve() {
        let (y, s, _) = data();
        // p, r, t = precision_recall_curve(y, s); f = 2*p*r/(p+r) (nan -> 0)
        // i = max(range(len(t)), key=lambda k: (f[k], t[k])) -> t[i] = 0.3,
        // f[i] = 0.72, p[i] = 0.5625, r[i] = 1.0
        let b = best_f1_threshold(&y, &s).unwrap();
        close(b.threshold, 0.3);
        close(b.f1, 0.72);
        close(b.precision, 0.5625);
        close(b.recall, 1.0);
    }

    #[test]
    fn single_class_curves_are_none() {
        let y = [true, true];
        let s = [0.2, 0.3];
        assert!(roc_auc(&y, &s).is_none());
        assert!(roc_auc(&[], &[]).is_none());
        assert!(average_precision(&[false, false], &s).is_none());
        // average_precision_score([1,1],[.2,.3]) = 1.0
        close(average_precision(&y, &s).unwrap(), 1.0);
    }

    #[test]
    fn all_tied_scores_give_chance_auc() {
        // roc_auc_score([1,0,1,0],[.5,.5,.5,.5]) = 0.5; average_precision_score(...) = 0.5
        let y = [true, false, true, false];
        let s = [0.5; 4];
        close(roc_auc(&y, &s).unwrap(), 0.5);
        close(average_precision(&y, &s).unwrap(), 0.5);
    }
}
