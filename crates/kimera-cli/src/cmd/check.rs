//! `kimera check "TEXT"...`: which stored statements does each TEXT contradict?
//!
//! Loads the store's vectors once, then for each TEXT embeds it, takes its `k` nearest
//! stored statements and runs the detector cascade on each (TEXT, neighbour) pair (see
//! `kimera_detect::Checker`). With several statements (arguments or `--file`) it also
//! reports the latency of a check: p50 / p99 / max.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use kimera_detect::{CheckReport, Checker};
use kimera_embed::default_encoder;
use kimera_store::Store;

use crate::Global;
use crate::output::{ellipsize, print_json, print_table};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Statements to check against the store (not against each other).
    #[arg(required_unless_present = "file")]
    pub text: Vec<String>,
    /// Also check every non-empty line of FILE (`-` = standard input).
    #[arg(long, short = 'f')]
    pub file: Option<PathBuf>,
    /// How many nearest stored statements to examine.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Detector cascade (comma-separated; `model` is the learned detector).
    #[arg(long, default_value = crate::cmd::DEFAULT_DETECTORS)]
    pub detectors: String,
    /// Language of the statements.
    #[arg(long, default_value = "und")]
    pub lang: String,
}

fn read_lines(path: &PathBuf) -> anyhow::Result<Vec<String>> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
        ))
    };
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}: not UTF-8 text", path.display(), i + 1))?;
        if !line.trim().is_empty() {
            out.push(line.trim().to_string());
        }
    }
    Ok(out)
}

/// p-quantile of sorted values (nearest rank).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn run(args: &CheckArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let mut texts = args.text.clone();
    if let Some(f) = &args.file {
        texts.extend(read_lines(f)?);
    }
    anyhow::ensure!(!texts.is_empty(), "no statement to check");
    let detectors = kimera_detect::detectors_from_list(&args.detectors)?;
    let enc = default_encoder()?;
    let store = Store::open(&g.db)?;
    let t_load = Instant::now();
    let checker = Checker::new(&store, &enc)?;
    let load_ms = t_load.elapsed().as_secs_f64() * 1e3;
    if checker.is_empty() {
        eprintln!(
            "no stored vectors in {}: run `kimera embed` first",
            g.db.display()
        );
        return Ok(ExitCode::from(1));
    }
    let mut results: Vec<(String, CheckReport, f64)> = Vec::with_capacity(texts.len());
    for t in texts {
        let t0 = Instant::now();
        let report = checker.check(&detectors, &t, &args.lang, args.k)?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        results.push((t, report, ms));
    }
    let mut lat: Vec<f64> = results.iter().map(|r| r.2).collect();
    lat.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        quantile(&lat, 0.5),
        quantile(&lat, 0.99),
        *lat.last().unwrap_or(&0.0),
    );
    let several = results.len() > 1;
    if g.json {
        let items: Vec<serde_json::Value> = results
            .iter()
            .map(|(t, r, ms)| {
                serde_json::json!({
                    "text": t,
                    "examined": r.examined,
                    "contradictions": r.contradictions,
                    "millis": ms,
                })
            })
            .collect();
        if several {
            print_json(&serde_json::json!({
                "results": items,
                "vectors": checker.len(),
                "load_ms": load_ms,
                "latency_ms": {"p50": p50, "p99": p99, "max": max},
            }))?;
        } else {
            print_json(&items[0])?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    for (t, report, ms) in &results {
        if several {
            println!("» {}", ellipsize(t, 100));
        }
        if report.contradictions.is_empty() {
            println!(
                "no contradiction among the {} nearest statements ({ms:.1} ms)",
                report.examined
            );
            continue;
        }
        let rows: Vec<Vec<String>> = report
            .contradictions
            .iter()
            .map(|h| {
                vec![
                    format!("{:.3}", h.score),
                    h.detector.clone(),
                    ellipsize(&h.text, 70),
                    super::why(&h.evidence),
                    h.id.clone(),
                ]
            })
            .collect();
        print_table(&["score", "detector", "contradicts", "why", "id"], &rows);
        if !g.quiet {
            eprintln!(
                "{} contradiction(s) among the {} nearest statements ({ms:.1} ms)",
                report.contradictions.len(),
                report.examined
            );
        }
    }
    if several && !g.quiet {
        let flagged = results
            .iter()
            .filter(|r| !r.1.contradictions.is_empty())
            .count();
        eprintln!(
            "checked {} statements against {} stored vectors (loaded in {load_ms:.0} ms): \
             {flagged} with contradictions; latency per check p50 {p50:.1} ms, p99 {p99:.1} ms, \
             max {max:.1} ms",
            results.len(),
            checker.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
