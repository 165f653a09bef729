//! Writes a full report of synthetic detector outputs, to look at the tables and plots:
//! `cargo run -p kimera-bench --example synthetic_report -- OUT_DIR [PAIRS]`.

#[path = "../tests/common/mod.rs"]
mod common;

use kimera_bench::{ReportOptions, run_report};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or("usage: synthetic_report OUT_DIR [PAIRS]")?;
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let outputs = common::outputs(&common::pairs(n, 1), 2);
    let opts = ReportOptions {
        dataset: Some(format!("synthetic ({n} pairs)")),
        ..Default::default()
    };
    let summary = run_report(&outputs, &out, &opts)?;
    println!(
        "wrote {out}: {} detectors, {} pairs",
        summary.detectors.len(),
        summary.n_pairs
    );
    Ok(())
}
