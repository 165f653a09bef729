//! `kimera related TERM`: the concepts most strongly associated with a term.
//!
//! Graph neighbours only: concepts have no vectors of their own (the store's
//! embeddings are per statement), so embedding neighbours are left to
//! `kimera similar`.

use std::process::ExitCode;

use clap::Args;
use kimera_learn::related;
use kimera_store::Store;

use crate::Global;
use crate::cmd::concept::find;
use crate::output::{print_json, print_table};

#[derive(Debug, Args)]
pub struct RelatedArgs {
    /// The concept.
    pub term: String,
    /// How many neighbours to show.
    #[arg(long, short = 'k', default_value_t = 20)]
    pub limit: usize,
}

pub fn run(a: &RelatedArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let store = Store::open(&g.db)?;
    let (graph, id) = find(&store, &a.term)?;
    let n = related(&graph, id, a.limit);
    if g.json {
        print_json(&n)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = n
        .iter()
        .map(|x| {
            vec![
                x.term.clone(),
                format!("{:.3}", x.score),
                x.kinds
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                x.via.to_string(),
            ]
        })
        .collect();
    print_table(&["related", "score", "kinds", "via"], &rows);
    Ok(ExitCode::SUCCESS)
}
