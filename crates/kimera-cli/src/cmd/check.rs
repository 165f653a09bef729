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
    /// Also check the statements of FILE: the claims of a .txt or .md file, cleaned as
    /// `kimera ingest` cleans them; every non-empty line of any other file or of `-`
    /// (standard input).
    #[arg(long, short = 'f')]
    pub file: Option<PathBuf>,
    /// Check every non-empty line of a .txt or .md FILE, not only its claims.
    #[arg(long, requires = "file")]
    pub keep_all: bool,
    /// How many nearest stored statements to examine.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Detector cascade (comma-separated; `model` is the learned detector).
    #[arg(long, default_value = crate::cmd::DEFAULT_DETECTORS)]
    pub detectors: String,
    /// Language of the statements.
    #[arg(long, default_value = "und")]
    pub lang: String,
    /// Read the store as it was at TIME (superseded statements included): a date
    /// (2024-03-01), a date and time (UTC unless an offset is given) or epoch seconds.
    #[arg(long, value_name = "TIME", value_parser = crate::cmd::parse_as_of)]
    pub as_of: Option<i64>,
}

/// The statements of a `--file`: the claims of a text or Markdown file (with what was
/// skipped), or its non-empty lines.
fn read_statements(
    path: &PathBuf,
    args: &CheckArgs,
) -> anyhow::Result<(Vec<String>, Option<kimera_ingest::SkipCounts>)> {
    let is_doc = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["txt", "md", "markdown"].contains(&e.to_ascii_lowercase().as_str()));
    if !is_doc || args.keep_all {
        return Ok((read_lines(path)?, None));
    }
    let bytes = std::fs::read(path).with_context(|| format!("opening {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let ok = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = ok.iter().filter(|&&b| b == b'\n').count() + 1;
        anyhow::anyhow!("{}:{line}: not UTF-8 text", path.display())
    })?;
    let doc =
        kimera_ingest::clean_document(&text, kimera_ingest::is_markdown(path), &args.lang, false);
    Ok((
        doc.claims.into_iter().map(|c| c.text).collect(),
        Some(doc.skipped),
    ))
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
    let mut skipped = None;
    if let Some(f) = &args.file {
        let (statements, s) = read_statements(f, args)?;
        texts.extend(statements);
        skipped = s;
    }
    if let Some(line) = skipped.as_ref().and_then(crate::cmd::ingest::skipped_line)
        && !g.quiet
        && !g.json
    {
        eprintln!("{line}");
    }
    anyhow::ensure!(
        !texts.is_empty(),
        "no statement to check{}",
        skipped
            .filter(|s| s.total() > 0)
            .map(|s| format!(
                " (the {} candidate(s) of the file are not claims; --keep-all checks every line)",
                s.total()
            ))
            .unwrap_or_default()
    );
    let detectors = kimera_detect::detectors_from_list(&args.detectors)?;
    let enc = default_encoder()?;
    let store = Store::open(&g.db)?;
    let t_load = Instant::now();
    let checker = Checker::at(&store, &enc, crate::cmd::visibility(args.as_of))?;
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
                "skipped": skipped,
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
