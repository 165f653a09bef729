//! Statistics that say whether a difference between detectors is real.
//!
//! - [`bootstrap`]: percentile bootstrap confidence intervals for accuracy, F1 and AUC.
//! - [`mcnemar`]: are two detectors' error rates on the *same* pairs different?
//! - [`agreement`]: Cohen's kappa and raw agreement between two detectors' verdicts.
//! - [`cohens_h`]: effect size of a difference between two proportions.
//! - [`breakdown`] / [`LengthBuckets`]: error analysis by group.
//! - [`LatencyStats`]: p50/p95/p99 per detector.
//!
//! Percentiles use numpy's default (linear interpolation between closest ranks), p-values
//! scipy's, kappa sklearn's, so every number can be reproduced in Python.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::metrics::Confusion;

/// The `q`-th percentile (0..=100) of `values` as `numpy.percentile` (linear method).
/// `None` for an empty slice. `values` need not be sorted.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    percentile_sorted(&v, q)
}

fn percentile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// How to bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapOptions {
    /// Number of resamples; at least 1,000 for a 95% interval whose ends are stable to
    /// about a percent of its width.
    pub resamples: usize,
    /// Seed of the resampling; the same seed gives the same intervals, on any number of
    /// threads.
    pub seed: u64,
    /// Coverage of the interval, e.g. 0.95.
    pub confidence: f64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions {
            resamples: 2000,
            seed: 0x6b69_6d65_7261,
            confidence: 0.95,
        }
    }
}

/// A point estimate with its percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ci {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// Bootstrap intervals of one detector's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapCis {
    pub resamples: usize,
    pub accuracy: Ci,
    pub f1: Ci,
    /// `None` when the data has one class only.
    pub auc: Option<Ci>,
    /// Resamples that held both classes, over which the AUC interval is taken.
    pub auc_resamples: usize,
}

/// The data bootstrapped, pre-sorted once so that each resample costs O(n).
struct Prepared<'a> {
    gold: &'a [bool],
    verdicts: &'a [bool],
    /// Indices into the data, grouped by equal score, groups by decreasing score.
    groups: Vec<Vec<usize>>,
}

impl<'a> Prepared<'a> {
    fn new(gold: &'a [bool], scores: &[f64], verdicts: &'a [bool]) -> Self {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut last: Option<f64> = None;
        for i in order {
            if last == Some(scores[i]) {
                if let Some(g) = groups.last_mut() {
                    g.push(i);
                }
            } else {
                groups.push(vec![i]);
                last = Some(scores[i]);
            }
        }
        Prepared {
            gold,
            verdicts,
            groups,
        }
    }

    /// (accuracy, F1, AUC) of the sample that holds index `i` `weights[i]` times.
    fn metrics(&self, weights: &[u32]) -> (f64, f64, Option<f64>) {
        let mut c = Confusion::default();
        for (i, &w) in weights.iter().enumerate() {
            c.add(self.gold[i], self.verdicts[i], u64::from(w));
        }
        // Mann–Whitney with ties: a negative counts the positives scored above it, plus
        // half of those tied with it. Equal to the trapezoid under the ROC curve.
        let (mut above_pos, mut pairs_won) = (0f64, 0f64);
        let (mut pos, mut neg) = (0f64, 0f64);
        for group in &self.groups {
            let (mut gp, mut gn) = (0f64, 0f64);
            for &i in group {
                let w = f64::from(weights[i]);
                if self.gold[i] { gp += w } else { gn += w }
            }
            pairs_won += gn * (above_pos + gp / 2.0);
            above_pos += gp;
            pos += gp;
            neg += gn;
        }
        let auc = (pos > 0.0 && neg > 0.0).then(|| pairs_won / (pos * neg));
        (c.accuracy(), c.f1(), auc)
    }

    /// Resample `r`: its own RNG stream, so it does not depend on which thread runs it.
    fn resample(&self, seed: u64, r: usize) -> (f64, f64, Option<f64>) {
        let n = self.gold.len();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(r as u64);
        let mut weights = vec![0u32; n];
        for _ in 0..n {
            weights[rng.random_range(0..n)] += 1;
        }
        self.metrics(&weights)
    }
}

fn check_lengths(gold: &[bool], scores: &[f64], verdicts: &[bool]) {
    assert!(
        gold.len() == scores.len() && gold.len() == verdicts.len(),
        "gold, scores and verdicts differ in length"
    );
}

/// Percentile bootstrap intervals for accuracy, F1 and AUC, resampling pairs with
/// replacement; resamples run in parallel on the current rayon pool.
///
/// Each resample draws from its own ChaCha stream (`seed`, resample index) and results
/// are collected in resample order, so the intervals are identical to
/// [`bootstrap_sequential`] for the same seed, whatever the number of threads.
/// `None` for empty data.
pub fn bootstrap(
    gold: &[bool],
    scores: &[f64],
    verdicts: &[bool],
    opts: &BootstrapOptions,
) -> Option<BootstrapCis> {
    check_lengths(gold, scores, verdicts);
    if gold.is_empty() {
        return None;
    }
    let prepared = Prepared::new(gold, scores, verdicts);
    let samples: Vec<_> = (0..opts.resamples)
        .into_par_iter()
        .map(|r| prepared.resample(opts.seed, r))
        .collect();
    Some(summarise(&prepared, &samples, opts))
}

/// [`bootstrap`] on the calling thread only: the reference the parallel one must equal.
pub fn bootstrap_sequential(
    gold: &[bool],
    scores: &[f64],
    verdicts: &[bool],
    opts: &BootstrapOptions,
) -> Option<BootstrapCis> {
    check_lengths(gold, scores, verdicts);
    if gold.is_empty() {
        return None;
    }
    let prepared = Prepared::new(gold, scores, verdicts);
    let samples: Vec<_> = (0..opts.resamples)
        .map(|r| prepared.resample(opts.seed, r))
        .collect();
    Some(summarise(&prepared, &samples, opts))
}

fn summarise(
    prepared: &Prepared<'_>,
    samples: &[(f64, f64, Option<f64>)],
    opts: &BootstrapOptions,
) -> BootstrapCis {
    let (acc, f1, auc) = prepared.metrics(&vec![1; prepared.gold.len()]);
    let tail = (1.0 - opts.confidence) / 2.0 * 100.0;
    let ci = |estimate: f64, mut values: Vec<f64>| -> Option<Ci> {
        values.sort_by(f64::total_cmp);
        Some(Ci {
            estimate,
            low: percentile_sorted(&values, tail)?,
            high: percentile_sorted(&values, 100.0 - tail)?,
        })
    };
    let aucs: Vec<f64> = samples.iter().filter_map(|s| s.2).collect();
    let auc_resamples = aucs.len();
    let fallback = Ci {
        estimate: 0.0,
        low: 0.0,
        high: 0.0,
    };
    BootstrapCis {
        resamples: samples.len(),
        accuracy: ci(acc, samples.iter().map(|s| s.0).collect()).unwrap_or(fallback),
        f1: ci(f1, samples.iter().map(|s| s.1).collect()).unwrap_or(fallback),
        auc: auc.and_then(|a| ci(a, aucs)),
        auc_resamples,
    }
}

/// Which test [`mcnemar`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum McNemarMethod {
    /// Two-sided exact binomial test on the discordant pairs (b + c < 25).
    Exact,
    /// Chi-square with Edwards' continuity correction, 1 degree of freedom.
    ChiSquare,
}

/// McNemar's test of two detectors on the same pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    /// Pairs the first detector got right and the second wrong.
    pub b: u64,
    /// Pairs the first detector got wrong and the second right.
    pub c: u64,
    pub method: McNemarMethod,
    /// The chi-square statistic, or `None` for the exact test.
    pub statistic: Option<f64>,
    pub p_value: f64,
}

/// Discordant pairs below this use the exact test: the chi-square approximation is poor
/// when b + c is small (the usual rule of thumb is 25).
pub const MCNEMAR_EXACT_BELOW: u64 = 25;

/// McNemar's test from the discordant counts: only pairs on which the two detectors
/// disagree about correctness carry information about which one is better.
pub fn mcnemar(b: u64, c: u64) -> McNemar {
    if b + c < MCNEMAR_EXACT_BELOW {
        McNemar {
            b,
            c,
            method: McNemarMethod::Exact,
            statistic: None,
            p_value: mcnemar_exact_p(b, c),
        }
    } else {
        let (stat, p) = mcnemar_chi2(b, c);
        McNemar {
            b,
            c,
            method: McNemarMethod::ChiSquare,
            statistic: Some(stat),
            p_value: p,
        }
    }
}

/// Two-sided exact p-value: `min(1, 2 · P[X ≤ min(b, c)])`, X ~ Binomial(b + c, ½)
/// (statsmodels' `mcnemar(exact=True)`). Summed in log space, so any count works.
pub fn mcnemar_exact_p(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    let mut ln_choose = 0f64; // ln C(n, 0)
    let mut cdf = 0f64;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        cdf += (ln_choose - ln_half_n).exp();
    }
    (2.0 * cdf).min(1.0)
}

/// Chi-square statistic `(|b − c| − 1)² / (b + c)` and its p-value (1 degree of freedom).
/// `(0, 1)` when there are no discordant pairs.
pub fn mcnemar_chi2(b: u64, c: u64) -> (f64, f64) {
    let n = (b + c) as f64;
    if n == 0.0 {
        return (0.0, 1.0);
    }
    let d = (b as f64 - c as f64).abs() - 1.0;
    let stat = d.max(0.0).powi(2) / n;
    (stat, chi2_sf_1(stat))
}

/// Survival function of chi-square with one degree of freedom: `erfc(√(x/2))`.
pub fn chi2_sf_1(x: f64) -> f64 {
    libm::erfc((x / 2.0).sqrt())
}

/// Agreement between two detectors' verdicts on the same pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub n: u64,
    /// Fraction of pairs with the same verdict.
    pub raw: f64,
    /// Cohen's kappa: agreement beyond what the two verdict rates give by chance.
    /// `None` when chance agreement is 1 (both say the same thing on every pair).
    pub kappa: Option<f64>,
}

/// Raw agreement and Cohen's kappa (sklearn's `cohen_kappa_score`).
///
/// # Panics
/// If the slices differ in length.
pub fn agreement(a: &[bool], b: &[bool]) -> Agreement {
    assert_eq!(a.len(), b.len(), "verdict slices differ in length");
    let n = a.len() as f64;
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count() as f64;
    let pa = a.iter().filter(|&&x| x).count() as f64 / n;
    let pb = b.iter().filter(|&&x| x).count() as f64 / n;
    let po = same / n;
    let pe = pa * pb + (1.0 - pa) * (1.0 - pb);
    Agreement {
        n: a.len() as u64,
        raw: if a.is_empty() { 0.0 } else { po },
        kappa: (!a.is_empty() && pe < 1.0).then(|| (po - pe) / (1.0 - pe)),
    }
}

/// Cohen's h, the effect size of a difference between two proportions:
/// `2·asin(√p1) − 2·asin(√p2)`. |h| ≈ 0.2 is small, 0.5 medium, 0.8 large.
///
/// A p-value says whether a difference is likely real; h says whether it is big enough to
/// matter. With 5,000 pairs a one-point accuracy gain can be "significant" and tiny.
pub fn cohens_h(p1: f64, p2: f64) -> f64 {
    2.0 * p1.clamp(0.0, 1.0).sqrt().asin() - 2.0 * p2.clamp(0.0, 1.0).sqrt().asin()
}

/// Words for |h| (Cohen's conventions).
pub fn cohens_h_label(h: f64) -> &'static str {
    match h.abs() {
        x if x < 0.2 => "negligible",
        x if x < 0.5 => "small",
        x if x < 0.8 => "medium",
        _ => "large",
    }
}

/// Metrics of one detector on one group of pairs (one language, one length bucket, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMetrics {
    pub group: String,
    pub n: u64,
    pub positives: u64,
    pub confusion: Confusion,
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl GroupMetrics {
    fn new(group: String, confusion: Confusion) -> Self {
        GroupMetrics {
            group,
            n: confusion.n(),
            positives: confusion.positives(),
            accuracy: confusion.accuracy(),
            precision: confusion.precision(),
            recall: confusion.recall(),
            f1: confusion.f1(),
            confusion,
        }
    }
}

/// Metrics per group, groups in lexical order of their label.
///
/// # Panics
/// If the slices differ in length.
pub fn breakdown(groups: &[&str], gold: &[bool], verdicts: &[bool]) -> Vec<GroupMetrics> {
    assert!(groups.len() == gold.len() && gold.len() == verdicts.len());
    let mut by: std::collections::BTreeMap<&str, Confusion> = Default::default();
    for ((g, &y), &v) in groups.iter().zip(gold).zip(verdicts) {
        by.entry(g).or_default().add(y, v, 1);
    }
    by.into_iter()
        .map(|(g, c)| GroupMetrics::new(g.to_string(), c))
        .collect()
}

/// Buckets of pair length (characters of both texts together), by upper edges.
///
/// Edges `[50, 100]` make the buckets `<50`, `50–99` and `≥100`. Fixed edges, rather
/// than quantiles, keep buckets comparable between datasets and runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LengthBuckets {
    edges: Vec<u32>,
}

impl Default for LengthBuckets {
    /// Edges for sentence pairs: SICK pairs are mostly 60–140 characters together.
    fn default() -> Self {
        LengthBuckets {
            edges: vec![60, 90, 120, 160],
        }
    }
}

impl LengthBuckets {
    /// Buckets from strictly increasing, positive upper edges; `None` otherwise.
    pub fn new(edges: Vec<u32>) -> Option<Self> {
        let increasing = edges.windows(2).all(|w| w[0] < w[1]);
        (increasing && edges.first().is_none_or(|&e| e > 0)).then_some(LengthBuckets { edges })
    }

    pub fn edges(&self) -> &[u32] {
        &self.edges
    }

    /// Index of the bucket holding `len`.
    pub fn index(&self, len: u32) -> usize {
        self.edges.partition_point(|&e| e <= len)
    }

    /// Label of bucket `i`, e.g. `<60`, `60–89`, `≥160`.
    pub fn label(&self, i: usize) -> String {
        match (i.checked_sub(1).map(|j| self.edges[j]), self.edges.get(i)) {
            (None, Some(hi)) => format!("<{hi}"),
            (Some(lo), Some(hi)) => format!("{lo}–{}", hi - 1),
            (Some(lo), None) => format!("≥{lo}"),
            (None, None) => "all".to_string(),
        }
    }

    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.edges.len() + 1
    }

    /// Always false: there is at least one bucket.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Metrics per length bucket, buckets in increasing length; empty buckets omitted.
    pub fn breakdown(
        &self,
        lengths: &[u32],
        gold: &[bool],
        verdicts: &[bool],
    ) -> Vec<GroupMetrics> {
        assert!(lengths.len() == gold.len() && gold.len() == verdicts.len());
        let mut by = vec![Confusion::default(); self.len()];
        for ((&l, &y), &v) in lengths.iter().zip(gold).zip(verdicts) {
            by[self.index(l)].add(y, v, 1);
        }
        by.into_iter()
            .enumerate()
            .filter(|(_, c)| c.n() > 0)
            .map(|(i, c)| GroupMetrics::new(self.label(i), c))
            .collect()
    }
}

/// Latency of one detector per pair, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub n: u64,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl LatencyStats {
    /// Statistics of `ms`; `None` when empty.
    pub fn from_ms(ms: &[f64]) -> Option<Self> {
        let mut v = ms.to_vec();
        v.sort_by(f64::total_cmp);
        Some(LatencyStats {
            n: v.len() as u64,
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p50: percentile_sorted(&v, 50.0)?,
            p95: percentile_sorted(&v, 95.0)?,
            p99: percentile_sorted(&v, 99.0)?,
            max: *v.last()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} != {b}");
    }

    #[test]
    fn percentile_matches_numpy() {
        // np.percentile([3, 1, 4, 1, 5, 9, 2, 6], [0, 25, 50, 95, 99, 100])
        // -> [1., 1.75, 3.5, 7.95, 8.79, 9.]
        let v = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        for (q, want) in [
            (0.0, 1.0),
            (25.0, 1.75),
            (50.0, 3.5),
            (95.0, 7.95),
            (99.0, 8.79),
            (100.0, 9.0),
        ] {
            close(percentile(&v, q).unwrap(), want, 1e-12);
        }
        assert!(percentile(&[], 50.0).is_none());
    }

    #[test]
    fn mcnemar_exact_matches_scipy() {
        // scipy.stats.binomtest(2, 12, 0.5).pvalue = 0.03857421875
        let m = mcnemar(2, 10);
        assert_eq!(m.method, McNemarMethod::Exact);
        close(m.p_value, 0.03857421875, 1e-14);
        // binomtest(5, 11, 0.5).pvalue = 1.0 (capped)
        close(mcnemar(6, 5).p_value, 1.0, 1e-14);
        // binomtest(0, 24, 0.5).pvalue = 1.1920928955078125e-07
        close(mcnemar(0, 24).p_value, 1.1920928955078125e-07, 1e-20);
        assert_eq!(mcnemar(0, 0).p_value, 1.0);
        // A large count stays finite and right in log space:
        // binomtest(450, 1000, 0.5).pvalue = 0.0017305360849763027
        close(mcnemar_exact_p(450, 550), 0.0017305360849763027, 1e-12);
    }

    #[test]
    fn mcnemar_chi2_textbook() {
        // Agresti (2002), presidential approval: b = 150, c = 86.
        // (abs(150-86)-1)**2/236 = 16.81779661016949
        // scipy.stats.chi2.sf(63**2/236, 1) = 4.114562281345944e-05
        let m = mcnemar(150, 86);
        assert_eq!(m.method, McNemarMethod::ChiSquare);
        close(m.statistic.unwrap(), 16.81779661016949, 1e-12);
        close(m.p_value, 4.114562281345944e-05, 1e-15);
        // b + c = 25 switches to chi-square: chi2.sf((13-1)**2/25, 1) = 0.01639507184919225
        let m = mcnemar(19, 6);
        assert_eq!(m.method, McNemarMethod::ChiSquare);
        close(m.p_value, 0.01639507184919225, 1e-14);
    }

    #[test]
    fn kappa_matches_sklearn() {
        // a = [1,1,0,0,1,0,1,1,0,0]; b = [1,0,0,0,1,1,1,1,0,1]
        // cohen_kappa_score(a, b) = 0.4
        let a = [1, 1, 0, 0, 1, 0, 1, 1, 0, 0].map(|x| x == 1);
        let b = [1, 0, 0, 0, 1, 1, 1, 1, 0, 1].map(|x| x == 1);
        let g = agreement(&a, &b);
        close(g.kappa.unwrap(), 0.4, 1e-12);
        close(g.raw, 0.7, 1e-12);
        // identical constant raters: sklearn gives nan; we give None
        assert!(agreement(&[true, true], &[true, true]).kappa.is_none());
    }

    #[test]
    fn cohens_h_matches_numpy() {
        // 2*np.arcsin(np.sqrt(.75)) - 2*np.arcsin(np.sqrt(.6)) = 0.3222408548079678
        close(cohens_h(0.75, 0.6), 0.3222408548079678, 1e-12);
        assert_eq!(cohens_h_label(0.32), "small");
        assert_eq!(cohens_h_label(-0.9), "large");
    }

    #[test]
    fn latency_percentiles_match_numpy() {
        // x = np.arange(1, 101) ** 1.5 / 10
        // np.percentile(x, [50, 95, 99])
        //   = [35.888312022447955, 92.6678392680446, 98.51871871081983]
        // x.mean() = 40.50122451531894
        let x: Vec<f64> = (1..=100).map(|i| (i as f64).powf(1.5) / 10.0).collect();
        let l = LatencyStats::from_ms(&x).unwrap();
        close(l.p50, 35.888312022447955, 1e-9);
        close(l.p95, 92.6678392680446, 1e-9);
        close(l.p99, 98.51871871081983, 1e-9);
        close(l.mean, 40.50122451531894, 1e-9);
        close(l.max, 100.0, 1e-12);
        assert!(LatencyStats::from_ms(&[]).is_none());
    }

    #[test]
    fn length_buckets_label_and_group() {
        let b = LengthBuckets::new(vec![50, 100]).unwrap();
        assert_eq!(
            (
                b.index(0),
                b.index(49),
                b.index(50),
                b.index(99),
                b.index(100)
            ),
            (0, 0, 1, 1, 2)
        );
        assert_eq!(
            (b.label(0), b.label(1), b.label(2)),
            ("<50".into(), "50–99".into(), "≥100".into())
        );
        assert!(LengthBuckets::new(vec![100, 50]).is_none());
        assert!(LengthBuckets::new(vec![0]).is_none());
        let g = b.breakdown(&[10, 120, 130], &[true, true, false], &[true, false, false]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].group, "<50");
        assert_eq!(
            g[1].confusion,
            Confusion {
                tp: 0,
                fp: 0,
                tn: 1,
                fn_: 1
            }
        );
    }

    #[test]
    fn breakdown_by_label() {
        let g = breakdown(
            &["fr", "en", "fr"],
            &[true, false, true],
            &[true, true, false],
        );
        assert_eq!(
            g.iter().map(|m| m.group.as_str()).collect::<Vec<_>>(),
            ["en", "fr"]
        );
        assert_eq!(g[1].recall, 0.5);
        assert_eq!(g[0].precision, 0.0);
    }

    fn synthetic(n: usize) -> (Vec<bool>, Vec<f64>, Vec<bool>) {
        // deterministic, mildly informative scores
        let gold: Vec<bool> = (0..n).map(|i| (i * 7919) % 10 < 4).collect();
        let scores: Vec<f64> = (0..n)
            .map(|i| {
                let noise = ((i * 104_729) % 1000) as f64 / 1000.0;
                if gold[i] {
                    0.3 + 0.7 * noise
                } else {
                    0.7 * noise
                }
            })
            .collect();
        let verdicts = scores.iter().map(|&s| s >= 0.5).collect();
        (gold, scores, verdicts)
    }

    #[test]
    fn bootstrap_parallel_equals_sequential_and_is_seeded() {
        let (g, s, v) = synthetic(500);
        let opts = BootstrapOptions {
            resamples: 1000,
            seed: 7,
            confidence: 0.95,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let par = pool.install(|| bootstrap(&g, &s, &v, &opts)).unwrap();
        let seq = bootstrap_sequential(&g, &s, &v, &opts).unwrap();
        assert_eq!(par, seq);
        assert_eq!(par, bootstrap(&g, &s, &v, &opts).unwrap());
        let other = bootstrap(&g, &s, &v, &BootstrapOptions { seed: 8, ..opts }).unwrap();
        // Percentiles of a proportion on 500 pairs move in steps of 0.002, so two seeds
        // can share the accuracy interval; the AUC interval is continuous.
        assert_ne!(par.auc, other.auc);
    }

    #[test]
    fn bootstrap_point_estimates_equal_direct_metrics() {
        let (g, s, v) = synthetic(300);
        let b = bootstrap(&g, &s, &v, &BootstrapOptions::default()).unwrap();
        let c = Confusion::from_verdicts(&g, &v);
        close(b.accuracy.estimate, c.accuracy(), 1e-12);
        close(b.f1.estimate, c.f1(), 1e-12);
        close(
            b.auc.unwrap().estimate,
            crate::metrics::roc_auc(&g, &s).unwrap(),
            1e-12,
        );
        assert_eq!(b.resamples, 2000);
        assert_eq!(b.auc_resamples, 2000);
    }

    #[test]
    fn bootstrap_interval_has_the_textbook_width() {
        // For a proportion p on n pairs the 95% interval is about ±1.96·√(p(1−p)/n).
        let (g, s, v) = synthetic(2000);
        let b = bootstrap(&g, &s, &v, &BootstrapOptions::default()).unwrap();
        let p = b.accuracy.estimate;
        let half = 1.96 * (p * (1.0 - p) / 2000.0).sqrt();
        let width = b.accuracy.high - b.accuracy.low;
        assert!(
            (width / (2.0 * half) - 1.0).abs() < 0.15,
            "width {width} vs {}",
            2.0 * half
        );
        assert!(b.accuracy.low < p && p < b.accuracy.high);
        let auc = b.auc.unwrap();
        assert!(auc.low < auc.estimate && auc.estimate < auc.high);
    }

    #[test]
    fn bootstrap_of_one_class_has_no_auc() {
        let b = bootstrap(
            &[true; 5],
            &[0.1, 0.2, 0.3, 0.4, 0.5],
            &[true; 5],
            &BootstrapOptions::default(),
        )
        .unwrap();
        assert!(b.auc.is_none());
        assert_eq!(b.auc_resamples, 0);
        assert!(bootstrap(&[], &[], &[], &BootstrapOptions::default()).is_none());
    }
}
