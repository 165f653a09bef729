//! `kimera scars`: the contradictions found, strongest first, with why.

use std::process::ExitCode;

use clap::Args;
use kimera_store::Store;

use crate::Global;
use crate::output::{ellipsize, print_json, print_table};

#[derive(Debug, Args)]
pub struct ScarsArgs {
    /// Most scars to show (0 = all).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Only the scars of this detector.
    #[arg(long)]
    pub detector: Option<String>,
}

pub fn run(a: &ScarsArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let store = Store::open(&g.db)?;
    let mut rows = store.scars(if a.detector.is_some() { 0 } else { a.limit })?;
    if let Some(d) = &a.detector {
        rows.retain(|r| &r.detector == d);
        if a.limit > 0 {
            rows.truncate(a.limit);
        }
    }
    if g.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no scars in {}; run `kimera run` first", g.db.display());
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|s| {
            vec![
                format!("{:.2}", s.score),
                s.detector.clone(),
                ellipsize(&s.text_a, 50),
                ellipsize(&s.text_b, 50),
                ellipsize(&crate::cmd::why(&s.evidence), 50),
            ]
        })
        .collect();
    print_table(
        &["score", "detector", "statement a", "statement b", "why"],
        &table,
    );
    Ok(ExitCode::SUCCESS)
}
