//! `kimera path A B`: the strongest chains of associations from one concept to another.

use std::process::ExitCode;

use clap::Args;
use kimera_learn::{Explanation, paths};
use kimera_store::Store;

use crate::Global;
use crate::cmd::concept::find;
use crate::output::print_json;

#[derive(Debug, Args)]
pub struct PathArgs {
    /// Where the explanation starts.
    pub from: String,
    /// Where it ends.
    pub to: String,
    /// Longest path, in associations.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=6))]
    pub max_hops: u64,
    /// How many paths to show (strongest first).
    #[arg(long, short = 'k', default_value_t = 5)]
    pub limit: usize,
}

/// One line per path: `0.720  tar -part-of-> smoking -causes-> cancer`.
fn line(p: &Explanation) -> String {
    let mut s = format!("{:.3}  ", p.score);
    if let Some(first) = p.steps.first() {
        s.push_str(&first.from);
    }
    for st in &p.steps {
        let kind = match &st.attr {
            Some(a) => format!("{} {a}", st.kind),
            None => st.kind.to_string(),
        };
        if st.forward {
            s.push_str(&format!(" -{kind}-> {}", st.to));
        } else {
            s.push_str(&format!(" <-{kind}- {}", st.to));
        }
    }
    s
}

pub fn run(a: &PathArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let store = Store::open(&g.db)?;
    let (graph, from) = find(&store, &a.from)?;
    let to = graph
        .find(&a.to)
        .ok_or_else(|| anyhow::anyhow!("no concept {:?} in the graph", a.to))?;
    let found = paths(&graph, from, to, a.max_hops as usize, a.limit);
    if g.json {
        print_json(&found)?;
    } else if found.is_empty() {
        eprintln!(
            "no path from {:?} to {:?} within {} hop(s)",
            a.from, a.to, a.max_hops
        );
    } else {
        for p in &found {
            println!("{}", line(p));
        }
    }
    Ok(if found.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
