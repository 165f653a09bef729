//! `kimera check "TEXT"`: which stored statements does TEXT contradict?
//!
//! Embeds TEXT, takes its `k` nearest stored statements and runs the detector cascade on
//! each (TEXT, neighbour) pair (see `kimera_detect::check_text`).

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use kimera_detect::check_text;
use kimera_embed::default_encoder;
use kimera_store::Store;

use crate::Global;
use crate::output::{ellipsize, print_json, print_table};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The statement to check against the store.
    pub text: String,
    /// How many nearest stored statements to examine.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Detector cascade (comma-separated; `model` is the learned detector).
    #[arg(long, default_value = "lexical,model")]
    pub detectors: String,
    /// Language of TEXT.
    #[arg(long, default_value = "und")]
    pub lang: String,
}

pub fn run(args: &CheckArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let detectors = kimera_detect::detectors_from_list(&args.detectors)?;
    let enc = default_encoder()?;
    let store = Store::open(&g.db)?;
    let t0 = Instant::now();
    let report = check_text(&store, &enc, &detectors, &args.text, &args.lang, args.k)?;
    let millis = t0.elapsed().as_secs_f64() * 1e3;
    if g.json {
        print_json(&serde_json::json!({
            "text": args.text,
            "examined": report.examined,
            "contradictions": report.contradictions,
            "millis": millis,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if report.examined == 0 {
        eprintln!(
            "no stored vectors in {}: run `kimera embed` first",
            g.db.display()
        );
        return Ok(ExitCode::from(1));
    }
    if report.contradictions.is_empty() {
        println!(
            "no contradiction among the {} nearest statements ({millis:.1} ms)",
            report.examined
        );
        return Ok(ExitCode::SUCCESS);
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
            "{} contradiction(s) among the {} nearest statements ({millis:.1} ms)",
            report.contradictions.len(),
            report.examined
        );
    }
    Ok(ExitCode::SUCCESS)
}
