//! Writing a run to disk: `results.csv`, `summary.json`, `report.md` and the PNG plots.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::data::{Dataset, DetectorOutput};
use crate::error::{BenchError, Result};
use crate::metrics;
use crate::plots::{self, LabelledCurve};
use crate::results;
use crate::stats::{GroupMetrics, McNemarMethod};
use crate::summary::{DetectorSummary, ReportOptions, Summary, summarize_dataset};

/// File names inside the output directory.
pub mod files {
    pub const RESULTS: &str = "results.csv";
    pub const SUMMARY: &str = "summary.json";
    pub const REPORT: &str = "report.md";
    pub const ROC: &str = "roc.png";
    pub const PR: &str = "pr.png";
    pub const CONFUSION: &str = "confusion.png";
    pub const LATENCY: &str = "latency.png";
    pub const F1_BY_LENGTH: &str = "f1_by_length.png";
    /// Every PNG, in the order the report shows them.
    pub const PLOTS: [&str; 5] = [ROC, PR, CONFUSION, LATENCY, F1_BY_LENGTH];
}

/// Summarises `outputs` and writes every report file into `out_dir` (created if
/// missing): `results.csv` (all rows, rewritten whole in canonical order),
/// `summary.json`, `report.md` and, when `opts.plots`, the PNGs of [`files::PLOTS`].
///
/// Each file is written to a temporary name and renamed, so an interrupted report
/// leaves the previous files whole. Returns the summary that `summary.json` holds.
pub fn run_report(
    outputs: &[DetectorOutput],
    out_dir: impl AsRef<Path>,
    opts: &ReportOptions,
) -> Result<Summary> {
    let out_dir = out_dir.as_ref();
    fs::create_dir_all(out_dir).map_err(|e| BenchError::io(out_dir, e))?;
    let dataset = Dataset::from_outputs(outputs, &opts.detector_order)?;
    let summary = summarize_dataset(&dataset, opts)?;

    let mut canonical: Vec<&DetectorOutput> = outputs.iter().collect();
    // Later rows win: keep the last of each (pair, detector), then sort.
    let mut seen = std::collections::HashSet::new();
    canonical.reverse();
    canonical.retain(|o| seen.insert((o.pair.key.as_str(), o.detector.as_str())));
    let rank = |d: &str| summary.detectors.iter().position(|s| s.name == d);
    canonical
        .sort_by(|a, b| (&a.pair.key, rank(&a.detector)).cmp(&(&b.pair.key, rank(&b.detector))));
    let canonical: Vec<DetectorOutput> = canonical.into_iter().cloned().collect();
    results::write_results(out_dir.join(files::RESULTS), &canonical)?;

    let json = serde_json::to_string_pretty(&summary).map_err(|e| BenchError::Json {
        path: out_dir.join(files::SUMMARY),
        source: e,
    })?;
    write_atomic(&out_dir.join(files::SUMMARY), json.as_bytes())?;
    write_atomic(
        &out_dir.join(files::REPORT),
        render_markdown(&summary, opts.plots).as_bytes(),
    )?;
    if opts.plots {
        write_plots(&dataset, &summary, out_dir)?;
    }
    Ok(summary)
}

/// Reads a `summary.json` written by [`run_report`].
pub fn read_summary(path: impl AsRef<Path>) -> Result<Summary> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|e| BenchError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| BenchError::Json {
        path: path.to_path_buf(),
        source: e,
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes).map_err(|e| BenchError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| BenchError::io(path, e))
}

/// Draws the five PNGs into `out_dir`; returns their paths.
pub fn write_plots(dataset: &Dataset, summary: &Summary, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let path = |name: &str| out_dir.join(name);
    // A PNG is drawn to a temporary name then renamed, like the other files; the
    // temporary keeps the .png extension plotters uses to pick the encoder.
    let draw = |name: &str, f: &dyn Fn(&Path) -> Result<()>| -> Result<PathBuf> {
        let tmp = path(&format!(".tmp-{name}"));
        f(&tmp)?;
        fs::rename(&tmp, path(name)).map_err(|e| BenchError::io(path(name), e))?;
        Ok(path(name))
    };
    let mut written = Vec::new();

    let rocs: Vec<(String, metrics::Curve, f64)> = dataset
        .detectors
        .iter()
        .filter_map(|c| {
            let curve = metrics::roc_curve(&c.gold, &c.scores)?;
            let auc = metrics::trapezoid(&curve.x, &curve.y);
            Some((c.name.clone(), curve, auc))
        })
        .collect();
    written.push(draw(files::ROC, &|p| {
        let curves: Vec<LabelledCurve<'_>> = rocs
            .iter()
            .map(|(name, curve, area)| LabelledCurve {
                name,
                curve,
                area: *area,
            })
            .collect();
        plots::roc_chart(p, &curves)
    })?);

    let prs: Vec<(String, metrics::Curve, f64)> = dataset
        .detectors
        .iter()
        .filter_map(|c| {
            Some((
                c.name.clone(),
                metrics::pr_curve(&c.gold, &c.scores)?,
                metrics::average_precision(&c.gold, &c.scores)?,
            ))
        })
        .collect();
    let prevalence = if summary.n_pairs == 0 {
        0.0
    } else {
        summary.n_positive as f64 / summary.n_pairs as f64
    };
    written.push(draw(files::PR, &|p| {
        let curves: Vec<LabelledCurve<'_>> = prs
            .iter()
            .map(|(name, curve, area)| LabelledCurve {
                name,
                curve,
                area: *area,
            })
            .collect();
        plots::pr_chart(p, &curves, prevalence)
    })?);

    written.push(draw(files::CONFUSION, &|p| {
        let m: Vec<(&str, metrics::Confusion)> = summary
            .detectors
            .iter()
            .map(|d| (d.name.as_str(), d.confusion))
            .collect();
        plots::confusion_chart(p, &m)
    })?);

    written.push(draw(files::LATENCY, &|p| {
        let l: Vec<(&str, &[f64])> = dataset
            .detectors
            .iter()
            .map(|c| (c.name.as_str(), c.latency_ms.as_slice()))
            .collect();
        plots::latency_chart(p, &l)
    })?);

    // Buckets with at least one pair, with the number of pairs in each.
    let buckets: Vec<(String, u64)> = (0..=summary.length_edges.len())
        .map(|i| bucket_label(&summary.length_edges, i))
        .filter_map(|label| {
            let n = summary
                .detectors
                .iter()
                .filter_map(|d| d.by_length.iter().find(|g| g.group == label))
                .map(|g| g.n)
                .max()?;
            Some((label, n))
        })
        .collect();
    written.push(draw(files::F1_BY_LENGTH, &|p| {
        let values: Vec<(&str, Vec<Option<f64>>)> = summary
            .detectors
            .iter()
            .map(|d| {
                let v = buckets
                    .iter()
                    .map(|(b, _)| d.by_length.iter().find(|g| &g.group == b).map(|g| g.f1))
                    .collect();
                (d.name.as_str(), v)
            })
            .collect();
        plots::f1_by_length_chart(p, &buckets, &values)
    })?);
    Ok(written)
}

fn bucket_label(edges: &[u32], i: usize) -> String {
    crate::stats::LengthBuckets::new(edges.to_vec())
        .map(|b| b.label(i))
        .unwrap_or_default()
}

fn f3(x: f64) -> String {
    format!("{x:.3}")
}

fn opt3(x: Option<f64>) -> String {
    x.map_or("—".into(), f3)
}

fn p_value(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

fn with_ci(est: f64, ci: Option<(f64, f64)>) -> String {
    match ci {
        Some((lo, hi)) => format!("{est:.3} [{lo:.3}, {hi:.3}]"),
        None => f3(est),
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The report a person reads first: the main table, then whether differences are real,
/// then where each detector fails, then speed.
pub fn render_markdown(s: &Summary, with_plots: bool) -> String {
    let mut m = String::new();
    let title = s.dataset.as_deref().unwrap_or("labelled pairs");
    let pct = if s.n_pairs == 0 {
        0.0
    } else {
        100.0 * s.n_positive as f64 / s.n_pairs as f64
    };
    let _ = writeln!(m, "# Contradiction benchmark: {}\n", md_escape(title));
    let _ = writeln!(
        m,
        "{} pairs, {} contradictions ({pct:.1}%). Intervals are {:.0}% percentile bootstrap \
         over pairs ({} resamples, seed {}). Metrics of a detector are over the pairs it scored.\n",
        s.n_pairs,
        s.n_positive,
        s.bootstrap.confidence * 100.0,
        s.bootstrap.resamples,
        s.bootstrap.seed
    );

    let _ = writeln!(m, "## Detectors\n");
    let _ = writeln!(
        m,
        "| detector | scored | failed | precision | recall | F1 [95% CI] | accuracy [95% CI] | AUC [95% CI] | AP | MCC |"
    );
    let _ = writeln!(m, "|---|---:|---:|---:|---:|---|---|---|---:|---:|");
    for d in &s.detectors {
        let ci = d.ci.as_ref();
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md_escape(&d.name),
            d.n_scored,
            d.n_errors,
            f3(d.precision),
            f3(d.recall),
            with_ci(d.f1, ci.map(|c| (c.f1.low, c.f1.high))),
            with_ci(d.accuracy, ci.map(|c| (c.accuracy.low, c.accuracy.high))),
            d.auc.map_or("—".into(), |a| with_ci(
                a,
                ci.and_then(|c| c.auc).map(|c| (c.low, c.high))
            )),
            opt3(d.average_precision),
            f3(d.mcc),
        );
    }
    let _ = writeln!(
        m,
        "\nBest-F1 threshold of each detector, tuned on these same labels (an optimistic ceiling, not a result):\n"
    );
    let _ = writeln!(m, "| detector | threshold | F1 | precision | recall |");
    let _ = writeln!(m, "|---|---:|---:|---:|---:|");
    for d in &s.detectors {
        match d.best_f1 {
            Some(b) => {
                let _ = writeln!(
                    m,
                    "| {} | {:.4} | {} | {} | {} |",
                    md_escape(&d.name),
                    b.threshold,
                    f3(b.f1),
                    f3(b.precision),
                    f3(b.recall)
                );
            }
            None => {
                let _ = writeln!(m, "| {} | — | — | — | — |", md_escape(&d.name));
            }
        }
    }

    if !s.comparisons.is_empty() {
        let _ = writeln!(m, "\n## Which detector is better?\n");
        let _ = writeln!(
            m,
            "On the pairs both scored. McNemar's test asks whether the two err on different \
             pairs more than chance allows (exact binomial when fewer than 25 pairs are \
             discordant, else chi-square with continuity correction). Cohen's h is the size \
             of the accuracy difference (0.2 small, 0.5 medium, 0.8 large); kappa is agreement \
             of verdicts beyond chance.\n"
        );
        let _ = writeln!(
            m,
            "| A | B | pairs | acc A | acc B | A right, B wrong | A wrong, B right | McNemar p | Cohen's h | kappa | agreement |"
        );
        let _ = writeln!(m, "|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|");
        for c in &s.comparisons {
            let test = match c.mcnemar.method {
                McNemarMethod::Exact => "exact",
                McNemarMethod::ChiSquare => "χ²",
            };
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} | {} | {} ({test}) | {:+.3} ({}) | {} | {} |",
                md_escape(&c.a),
                md_escape(&c.b),
                c.n_common,
                f3(c.accuracy_a),
                f3(c.accuracy_b),
                c.mcnemar.b,
                c.mcnemar.c,
                p_value(c.mcnemar.p_value),
                c.cohens_h,
                c.cohens_h_label,
                opt3(c.agreement.kappa),
                f3(c.agreement.raw),
            );
        }
        let _ = writeln!(m);
        for c in &s.comparisons {
            let _ = writeln!(m, "- {}", verdict_sentence(c));
        }
    }

    let _ = writeln!(m, "\n## Confusion matrices\n");
    let _ = writeln!(m, "| detector | TP | FP | TN | FN | specificity |");
    let _ = writeln!(m, "|---|---:|---:|---:|---:|---:|");
    for d in &s.detectors {
        let c = d.confusion;
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} |",
            md_escape(&d.name),
            c.tp,
            c.fp,
            c.tn,
            c.fn_,
            f3(d.specificity)
        );
    }

    let _ = writeln!(m, "\n## Error analysis\n");
    let _ = writeln!(
        m,
        "Each cell: F1 / accuracy (pairs). F1 is 0 in a group without contradictions; read accuracy there.\n"
    );
    group_table(
        &mut m,
        "By length (characters of both texts)",
        &s.detectors,
        |d| &d.by_length,
        Some(&s.length_edges),
    );
    group_table(&mut m, "By language", &s.detectors, |d| &d.by_lang, None);
    group_table(&mut m, "By pair type", &s.detectors, |d| &d.by_kind, None);

    let _ = writeln!(m, "### Worst mistakes\n");
    for d in &s.detectors {
        let list = |v: &[crate::summary::Example]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.iter()
                    .map(|e| format!("`{}` ({:.3})", md_escape(&e.pair), e.score))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let _ = writeln!(
            m,
            "- **{}** false positives (highest score first): {}",
            md_escape(&d.name),
            list(&d.worst_false_positives)
        );
        let _ = writeln!(
            m,
            "  false negatives (lowest score first): {}",
            list(&d.worst_false_negatives)
        );
        if d.n_errors > 0 {
            let first: Vec<String> = d
                .error_examples
                .iter()
                .map(|(k, e)| format!("`{}`: {}", md_escape(k), md_escape(e)))
                .collect();
            let _ = writeln!(
                m,
                "  failed on {} pairs, e.g. {}",
                d.n_errors,
                first.join("; ")
            );
        }
        if d.n_missing > 0 {
            let _ = writeln!(m, "  no row for {} pairs (run not finished?)", d.n_missing);
        }
    }

    let _ = writeln!(m, "\n## Latency per pair (ms)\n");
    let _ = writeln!(m, "| detector | pairs | mean | p50 | p95 | p99 | max |");
    let _ = writeln!(m, "|---|---:|---:|---:|---:|---:|---:|");
    for d in &s.detectors {
        if let Some(l) = d.latency_ms {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} | {} |",
                md_escape(&d.name),
                l.n,
                ms(l.mean),
                ms(l.p50),
                ms(l.p95),
                ms(l.p99),
                ms(l.max)
            );
        }
    }

    if with_plots {
        let _ = writeln!(m, "\n## Plots\n");
        for (name, alt) in [
            (files::ROC, "ROC curves"),
            (files::PR, "Precision-recall curves"),
            (files::CONFUSION, "Confusion matrices"),
            (files::F1_BY_LENGTH, "F1 by length"),
            (files::LATENCY, "Latency histograms"),
        ] {
            let _ = writeln!(m, "![{alt}]({name})\n");
        }
    }
    m
}

fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

fn verdict_sentence(c: &crate::summary::Comparison) -> String {
    let p = c.mcnemar.p_value;
    if p >= 0.05 {
        return format!(
            "{} vs {}: no significant difference in errors (p = {}).",
            c.a,
            c.b,
            p_value(p)
        );
    }
    let (better, worse) = if c.mcnemar.b > c.mcnemar.c {
        (&c.a, &c.b)
    } else {
        (&c.b, &c.a)
    };
    format!(
        "{better} makes fewer errors than {worse} (p = {}); the accuracy difference is {} (|h| = {:.3}).",
        p_value(p),
        c.cohens_h_label,
        c.cohens_h.abs()
    )
}

fn group_table(
    m: &mut String,
    title: &str,
    detectors: &[DetectorSummary],
    groups: impl Fn(&DetectorSummary) -> &Vec<GroupMetrics>,
    order_edges: Option<&Vec<u32>>,
) {
    let mut names: Vec<String> = Vec::new();
    for d in detectors {
        for g in groups(d) {
            if !names.contains(&g.group) {
                names.push(g.group.clone());
            }
        }
    }
    if let Some(edges) = order_edges {
        let order: Vec<String> = (0..=edges.len()).map(|i| bucket_label(edges, i)).collect();
        names.sort_by_key(|n| order.iter().position(|o| o == n));
    } else {
        names.sort();
    }
    if names.is_empty() {
        return;
    }
    let _ = writeln!(m, "### {title}\n");
    let mut header = "| group | pairs | contradictions |".to_string();
    let mut rule = "|---|---:|---:|".to_string();
    for d in detectors {
        header.push_str(&format!(" {} |", md_escape(&d.name)));
        rule.push_str("---:|");
    }
    let _ = writeln!(m, "{header}\n{rule}");
    for name in &names {
        // Pair counts from the detector that scored most pairs of this group.
        let (n, pos) = detectors
            .iter()
            .filter_map(|d| groups(d).iter().find(|g| &g.group == name))
            .map(|g| (g.n, g.positives))
            .max()
            .unwrap_or((0, 0));
        let mut row = format!("| {} | {n} | {pos} |", md_escape(name));
        for d in detectors {
            match groups(d).iter().find(|g| &g.group == name) {
                Some(g) => row.push_str(&format!(" {:.3} / {:.3} ({}) |", g.f1, g.accuracy, g.n)),
                None => row.push_str(" — |"),
            }
        }
        let _ = writeln!(m, "{row}");
    }
    let _ = writeln!(m);
}
