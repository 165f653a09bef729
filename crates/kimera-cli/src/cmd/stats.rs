//! `kimera stats`: what the store holds.

use std::process::ExitCode;

use clap::Args;
use kimera_store::Store;

use crate::Global;
use crate::output::{print_json, print_table};

#[derive(Debug, Args)]
pub struct StatsArgs {}

pub fn run(_: &StatsArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let store = Store::open(&g.db)?;
    let c = store.counts()?;
    if g.json {
        print_json(&c)?;
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
    Ok(ExitCode::SUCCESS)
}
