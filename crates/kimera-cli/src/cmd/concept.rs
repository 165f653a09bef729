//! `kimera concept TERM`: a concept's associations, in and out, with example statements.

use std::process::ExitCode;

use clap::Args;
use kimera_learn::{ConceptView, Direction, Edge, Graph, concept_view};
use kimera_store::Store;
use serde::Serialize;

use crate::Global;
use crate::output::{ellipsize, print_json, print_table};

#[derive(Debug, Args)]
pub struct ConceptArgs {
    /// The concept (normalised like the statements: "Cities" finds "city").
    pub term: String,
    /// Associations shown per kind and direction (strongest first).
    #[arg(long, default_value_t = 8)]
    pub per_kind: usize,
    /// Example source statements per association.
    #[arg(long, default_value_t = 1)]
    pub examples: usize,
}

#[derive(Debug, Serialize)]
struct Example {
    id: String,
    text: String,
    source: String,
}

#[derive(Debug, Serialize)]
struct Shown {
    #[serde(flatten)]
    edge: Edge,
    examples: Vec<Example>,
}

#[derive(Debug, Serialize)]
struct Out {
    term: String,
    count: u32,
    last_seen: i64,
    out: Vec<Shown>,
    inbound: Vec<Shown>,
    omitted: u64,
}

/// Loads the graph (bounded: no provenance, which examples read from the store) and
/// finds a term, or explains why not.
pub fn find(store: &Store, term: &str) -> anyhow::Result<(Graph, kimera_learn::ConceptId)> {
    let graph = Graph::load_bounded(store)?;
    if graph.counts().concepts == 0 {
        anyhow::bail!(
            "the concept graph in {} is empty: run `kimera learn` first",
            store.path().display()
        );
    }
    let id = graph
        .find(term)
        .ok_or_else(|| anyhow::anyhow!("no concept {term:?} in the graph"))?;
    Ok((graph, id))
}

fn examples(store: &Store, e: &Edge, n: usize) -> anyhow::Result<Vec<Example>> {
    let mut out = Vec::new();
    for id in store.association_sources(i64::from(e.id), n)? {
        if let Some(row) = store.geoid(&id)? {
            out.push(Example {
                id: id.0,
                text: row.text,
                source: row.source,
            });
        }
    }
    Ok(out)
}

pub fn run(a: &ConceptArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let store = Store::open(&g.db)?;
    let (graph, id) = find(&store, &a.term)?;
    let v: ConceptView = concept_view(&graph, id, a.per_kind, 0);
    let show = |list: Vec<Edge>| -> anyhow::Result<Vec<Shown>> {
        list.into_iter()
            .map(|edge| {
                let examples = examples(&store, &edge, a.examples)?;
                Ok(Shown { edge, examples })
            })
            .collect()
    };
    let out = Out {
        term: v.term,
        count: v.count,
        last_seen: v.last_seen,
        out: show(v.out)?,
        inbound: show(v.inbound)?,
        omitted: v.omitted,
    };
    if g.json {
        print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("concept {:?}: in {} statement(s)", out.term, out.count);
    for (title, list) in [("out", &out.out), ("in", &out.inbound)] {
        if list.is_empty() {
            continue;
        }
        println!();
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|s| {
                let e = &s.edge;
                let kind = match &e.attr {
                    Some(at) => format!("{} {at}", e.kind),
                    None => e.kind.to_string(),
                };
                let rel = match e.direction {
                    Direction::Out => format!("{kind} → {}", e.other),
                    Direction::In => format!("{} {kind} →", e.other),
                };
                vec![
                    rel,
                    format!("{:.3}", e.strength),
                    e.count.to_string(),
                    s.examples
                        .first()
                        .map(|x| ellipsize(&format!("{} ({})", x.text, x.source), 70))
                        .unwrap_or_default(),
                ]
            })
            .collect();
        print_table(&[title, "strength", "count", "example"], &rows);
    }
    if out.omitted > 0 {
        println!(
            "\n({} weaker associations not shown; raise --per-kind)",
            out.omitted
        );
    }
    Ok(ExitCode::SUCCESS)
}
