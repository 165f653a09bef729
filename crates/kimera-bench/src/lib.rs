//! kimera-bench: which contradiction detector is better, with proof, in a report people
//! read.
//!
//! The crate works on plain data. The caller (the `kimera bench` command) runs the
//! detectors and hands over one [`DetectorOutput`] per (pair, detector): the pair's key,
//! gold label, language, type and text lengths, and the detector's score in 0..=1, its
//! verdict at its own threshold, its latency, or the error it failed with. The crate
//! knows no model, no network and no dataset format, so every number it reports can be
//! recomputed from `results.csv` alone.
//!
//! - [`metrics`]: confusion matrix, accuracy, precision, recall, F1, specificity, MCC,
//!   ROC curve and AUC, PR curve and average precision, best-F1 threshold (scikit-learn's
//!   definitions, ties included).
//! - [`stats`]: seeded percentile bootstrap intervals (parallel, equal to sequential),
//!   McNemar's test, Cohen's kappa and h, breakdowns by length / language / pair type,
//!   latency percentiles (numpy's and scipy's definitions).
//! - [`results`]: `results.csv`, appended row by row so that an interrupted run resumes
//!   where it stopped ([`ResultsWriter::resume`], [`resume`]).
//! - [`summarize`] and [`run_report`]: `summary.json`, `report.md` and PNG plots (ROC and
//!   PR curves of all detectors, confusion matrices, latency histograms, F1 by length).
//!
//! # How `kimera bench` uses it
//!
//! ```no_run
//! use kimera_bench::{DetectorOutput, PairMeta, ReportOptions, ResultsWriter, run_report};
//!
//! # fn score(_d: &str, _a: &str, _b: &str) -> Result<(f64, bool), String> { Ok((0.9, true)) }
//! # fn main() -> Result<(), kimera_bench::BenchError> {
//! let out_dir = std::path::Path::new("bench-out");
//! std::fs::create_dir_all(out_dir).unwrap();
//! // `--resume`: keep what an earlier run wrote; otherwise start with ResultsWriter::create.
//! let (mut writer, done) = ResultsWriter::resume(out_dir.join("results.csv"))?;
//! let pairs = [("sick-4", "A man plays.", "Nobody plays.", true)];
//! for (key, a, b, gold) in pairs {
//!     let pair = PairMeta {
//!         key: key.into(),
//!         gold,
//!         lang: Some("en".into()),
//!         kind: None,
//!         len_a: a.chars().count() as u32,
//!         len_b: b.chars().count() as u32,
//!     };
//!     for detector in ["baseline", "lexical"] {
//!         if done.is_done(key, detector) {
//!             continue;
//!         }
//!         let t = std::time::Instant::now();
//!         let result = score(detector, a, b);
//!         let ms = t.elapsed().as_secs_f64() * 1e3;
//!         writer.write(&match result {
//!             Ok((score, verdict)) => DetectorOutput::scored(pair.clone(), detector, score, verdict, ms),
//!             Err(e) => DetectorOutput::failed(pair.clone(), detector, e, ms),
//!         })?;
//!     }
//!     writer.flush()?; // after each batch: a kill loses at most the batch in flight
//! }
//! drop(writer);
//! // Everything in the file (old and new rows) makes the report.
//! let outputs = kimera_bench::read_results(out_dir.join("results.csv"))?;
//! let opts = ReportOptions { dataset: Some("sick_trial.tsv".into()), ..Default::default() };
//! let summary = run_report(&outputs, out_dir, &opts)?;
//! for d in &summary.detectors {
//!     println!("{}: F1 {:.3}", d.name, d.f1);
//! }
//! # Ok(()) }
//! ```
//!
//! The statistics are computed on rayon's current pool; run `run_report` inside
//! `pool.install(..)` to bound it by `--workers`. Results do not depend on the number of
//! threads.

mod error;

pub mod data;
pub mod metrics;
pub mod plots;
pub mod report;
pub mod results;
pub mod stats;
pub mod summary;

pub use data::{Dataset, DetectorOutput, Outcome, PairMeta};
pub use error::{BenchError, Result};
pub use report::{files, read_summary, render_markdown, run_report};
pub use results::{ResultsWriter, ResumeState, read_results, resume, write_results};
pub use stats::{BootstrapOptions, LengthBuckets};
pub use summary::{Comparison, DetectorSummary, ReportOptions, Summary, summarize};
