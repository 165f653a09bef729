//! `kimera stats`: what the store holds.

use std::process::ExitCode;

use clap::Args;
use kimera_store::{RunStatus, Store};

use crate::Global;
use crate::output::{print_json, print_table};

#[derive(Debug, Args)]
pub struct StatsArgs {}

/// Runs listed by `kimera stats`, newest first.
const RECENT_RUNS: usize = 10;

pub fn run(_: &StatsArgs, g: &Global) -> anyhow::Result<ExitCode> {
    // opening marks the runs whose process is gone as interrupted
    let store = Store::open(&g.db)?;
    let c = store.counts()?;
    let runs = store.runs(RECENT_RUNS)?;
    if g.json {
        let mut v = serde_json::to_value(&c)?;
        v["recent_runs"] = serde_json::to_value(&runs)?;
        print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("store {} (schema v{})", g.db.display(), c.schema_version);
    let rows: Vec<Vec<String>> = [
        ("geoids", c.geoids),
        ("pairs", c.pairs),
        ("embeddings", c.embeddings),
        ("scars", c.scars),
        ("concepts", c.concepts),
        ("associations", c.associations),
        ("runs", c.runs),
    ]
    .iter()
    .map(|(k, v)| vec![k.to_string(), v.to_string()])
    .collect();
    print_table(&["table", "rows"], &rows);
    for (title, list) in [
        ("language", &c.languages),
        ("source", &c.sources),
        ("detector", &c.scars_by_detector),
        ("model", &c.embeddings_by_model),
    ] {
        if !list.is_empty() {
            println!();
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|(k, v)| vec![k.clone(), v.to_string()])
                .collect();
            print_table(&[title, "count"], &rows);
        }
    }
    if !runs.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = runs
            .iter()
            .map(|r| {
                let progress = match r.status {
                    RunStatus::Interrupted | RunStatus::Running => format!(
                        "{} batch(es) committed, {} row(s) written",
                        r.batches, r.rows_written
                    ),
                    _ => format!("{} row(s) written", r.rows_written),
                };
                vec![
                    r.id.to_string(),
                    r.command.clone(),
                    r.status.to_string(),
                    r.started_at.to_string(),
                    progress,
                ]
            })
            .collect();
        print_table(
            &["run", "command", "status", "started (unix s)", "progress"],
            &rows,
        );
        if runs.iter().any(|r| r.status == RunStatus::Interrupted) {
            println!(
                "\nan interrupted run ended without finishing (killed?); what it committed is kept: \
                 run the command again to complete it"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
