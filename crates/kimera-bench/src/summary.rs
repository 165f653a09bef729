//! The summary of a benchmark run: every number the report shows, as data.
//!
//! [`summarize`] computes it from detector outputs without touching the disk; it is what
//! `summary.json` holds and what `report.md` and the plots are drawn from. It holds no
//! time stamp or path, so the same rows give the same summary, byte for byte.

use serde::{Deserialize, Serialize};

use crate::data::{Dataset, DetectorColumn, DetectorOutput};
use crate::error::{BenchError, Result};
use crate::metrics::{self, BestF1, Confusion};
use crate::stats::{
    self, Agreement, BootstrapCis, BootstrapOptions, GroupMetrics, LatencyStats, LengthBuckets,
    McNemar,
};

/// Version of the `summary.json` layout; bumped when a field changes meaning.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;

/// How to summarise and report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// Name of the dataset, shown in the report title (e.g. `sick_trial.tsv`).
    pub dataset: Option<String>,
    /// Detectors in the order tables and legends show them; others follow alphabetically.
    pub detector_order: Vec<String>,
    pub bootstrap: BootstrapOptions,
    pub length_buckets: LengthBuckets,
    /// How many of the worst false positives / negatives to list per detector.
    pub examples: usize,
    /// Draw the PNG plots (the slowest part of a report on large runs).
    pub plots: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            dataset: None,
            detector_order: ["baseline", "lexical", "model", "llm"]
                .map(String::from)
                .to_vec(),
            bootstrap: BootstrapOptions::default(),
            length_buckets: LengthBuckets::default(),
            examples: 5,
            plots: true,
        }
    }
}

impl ReportOptions {
    fn validate(&self) -> Result<()> {
        let b = &self.bootstrap;
        if b.resamples < 1000 {
            return Err(BenchError::InvalidOption {
                option: "bootstrap.resamples".into(),
                message: format!(
                    "{} is below 1000; the interval ends would be noise",
                    b.resamples
                ),
            });
        }
        if !(b.confidence > 0.0 && b.confidence < 1.0) {
            return Err(BenchError::InvalidOption {
                option: "bootstrap.confidence".into(),
                message: format!("{} is not in (0, 1)", b.confidence),
            });
        }
        Ok(())
    }
}

/// A pair the detector got wrong, with its score: the first thing to read when tuning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub pair: String,
    pub score: f64,
}

/// Everything measured for one detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorSummary {
    pub name: String,
    /// Pairs with a score (metrics are over these).
    pub n_scored: usize,
    /// Pairs on which the detector failed.
    pub n_errors: usize,
    /// Pairs of the dataset with no row for this detector at all.
    pub n_missing: usize,
    pub confusion: Confusion,
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub specificity: f64,
    pub mcc: f64,
    pub auc: Option<f64>,
    pub average_precision: Option<f64>,
    pub best_f1: Option<BestF1>,
    pub ci: Option<BootstrapCis>,
    pub latency_ms: Option<LatencyStats>,
    pub by_length: Vec<GroupMetrics>,
    pub by_lang: Vec<GroupMetrics>,
    pub by_kind: Vec<GroupMetrics>,
    /// Non-contradictions with the highest scores among those called contradictions.
    pub worst_false_positives: Vec<Example>,
    /// Contradictions with the lowest scores among those missed.
    pub worst_false_negatives: Vec<Example>,
    /// First few (pair, error message) of failed pairs, in pair order.
    pub error_examples: Vec<(String, String)>,
}

/// Two detectors compared on the pairs both scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub n_common: usize,
    pub accuracy_a: f64,
    pub accuracy_b: f64,
    /// `b`: A right and B wrong; `c`: A wrong and B right.
    pub mcnemar: McNemar,
    pub agreement: Agreement,
    /// Cohen's h of accuracy A vs accuracy B (positive: A more accurate).
    pub cohens_h: f64,
    pub cohens_h_label: String,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    pub dataset: Option<String>,
    pub n_pairs: usize,
    pub n_positive: usize,
    pub bootstrap: BootstrapOptions,
    pub length_edges: Vec<u32>,
    /// Rows that repeated an earlier (pair, detector) and replaced it.
    pub replaced_rows: usize,
    pub detectors: Vec<DetectorSummary>,
    pub comparisons: Vec<Comparison>,
}

/// Computes the summary of `outputs` (see the module doc).
pub fn summarize(outputs: &[DetectorOutput], opts: &ReportOptions) -> Result<Summary> {
    let dataset = Dataset::from_outputs(outputs, &opts.detector_order)?;
    summarize_dataset(&dataset, opts)
}

/// [`summarize`] on outputs already gathered.
pub fn summarize_dataset(dataset: &Dataset, opts: &ReportOptions) -> Result<Summary> {
    opts.validate()?;
    let detectors = dataset
        .detectors
        .iter()
        .map(|col| summarize_detector(dataset, col, opts))
        .collect();
    let mut comparisons = Vec::new();
    for (i, a) in dataset.detectors.iter().enumerate() {
        for b in &dataset.detectors[i + 1..] {
            comparisons.push(compare(dataset, a, b));
        }
    }
    Ok(Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        dataset: opts.dataset.clone(),
        n_pairs: dataset.pairs.len(),
        n_positive: dataset.pairs.iter().filter(|p| p.gold).count(),
        bootstrap: opts.bootstrap,
        length_edges: opts.length_buckets.edges().to_vec(),
        replaced_rows: dataset.replaced_rows,
        detectors,
        comparisons,
    })
}

fn summarize_detector(
    dataset: &Dataset,
    col: &DetectorColumn,
    opts: &ReportOptions,
) -> DetectorSummary {
    let c = Confusion::from_verdicts(&col.gold, &col.verdicts);
    let pairs = || col.pair_index.iter().map(|&i| &dataset.pairs[i]);
    let lengths: Vec<u32> = pairs().map(|p| p.total_len()).collect();
    let label = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    let langs: Vec<String> = pairs().map(|p| label(&p.lang)).collect();
    let kinds: Vec<String> = pairs().map(|p| label(&p.kind)).collect();

    let mut fps: Vec<Example> = Vec::new();
    let mut fns: Vec<Example> = Vec::new();
    for (k, &i) in col.pair_index.iter().enumerate() {
        let ex = Example {
            pair: dataset.pairs[i].key.clone(),
            score: col.scores[k],
        };
        match (col.gold[k], col.verdicts[k]) {
            (false, true) => fps.push(ex),
            (true, false) => fns.push(ex),
            _ => {}
        }
    }
    // Worst first; pairs are already in key order, and the sort is stable.
    fps.sort_by(|x, y| y.score.total_cmp(&x.score));
    fns.sort_by(|x, y| x.score.total_cmp(&y.score));
    fps.truncate(opts.examples);
    fns.truncate(opts.examples);

    DetectorSummary {
        name: col.name.clone(),
        n_scored: col.gold.len(),
        n_errors: col.errors.len(),
        n_missing: dataset.pairs.len() - col.gold.len() - col.errors.len(),
        confusion: c,
        accuracy: c.accuracy(),
        precision: c.precision(),
        recall: c.recall(),
        f1: c.f1(),
        specificity: c.specificity(),
        mcc: c.mcc(),
        auc: metrics::roc_auc(&col.gold, &col.scores),
        average_precision: metrics::average_precision(&col.gold, &col.scores),
        best_f1: metrics::best_f1_threshold(&col.gold, &col.scores),
        ci: stats::bootstrap(&col.gold, &col.scores, &col.verdicts, &opts.bootstrap),
        latency_ms: LatencyStats::from_ms(&col.latency_ms),
        by_length: opts
            .length_buckets
            .breakdown(&lengths, &col.gold, &col.verdicts),
        by_lang: stats::breakdown(&as_str(&langs), &col.gold, &col.verdicts),
        by_kind: stats::breakdown(&as_str(&kinds), &col.gold, &col.verdicts),
        worst_false_positives: fps,
        worst_false_negatives: fns,
        error_examples: col.errors.iter().take(opts.examples).cloned().collect(),
    }
}

fn as_str(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn compare(dataset: &Dataset, a: &DetectorColumn, b: &DetectorColumn) -> Comparison {
    // Both columns are in pair order: merge on the pair index.
    let (mut i, mut j) = (0, 0);
    let (mut va, mut vb, mut gold) = (Vec::new(), Vec::new(), Vec::new());
    while i < a.pair_index.len() && j < b.pair_index.len() {
        match a.pair_index[i].cmp(&b.pair_index[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                va.push(a.verdicts[i]);
                vb.push(b.verdicts[j]);
                gold.push(dataset.pairs[a.pair_index[i]].gold);
                i += 1;
                j += 1;
            }
        }
    }
    let (mut only_a, mut only_b) = (0u64, 0u64);
    for k in 0..gold.len() {
        match (va[k] == gold[k], vb[k] == gold[k]) {
            (true, false) => only_a += 1,
            (false, true) => only_b += 1,
            _ => {}
        }
    }
    let acc_a = Confusion::from_verdicts(&gold, &va).accuracy();
    let acc_b = Confusion::from_verdicts(&gold, &vb).accuracy();
    let h = stats::cohens_h(acc_a, acc_b);
    Comparison {
        a: a.name.clone(),
        b: b.name.clone(),
        n_common: gold.len(),
        accuracy_a: acc_a,
        accuracy_b: acc_b,
        mcnemar: stats::mcnemar(only_a, only_b),
        agreement: stats::agreement(&va, &vb),
        cohens_h: h,
        cohens_h_label: stats::cohens_h_label(h).to_string(),
    }
}
