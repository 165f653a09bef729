//! `kimera related TERM`: the concepts most strongly associated with a term, and, when
//! the store has statement vectors, the concepts of the statements nearest to the term.
//!
//! Concepts have no vectors of their own (the store's embeddings are per statement),
//! so embedding neighbours go through statements: the term is embedded like a
//! statement, its nearest stored statements found, and their concepts ranked by the
//! cosine of the nearest one mentioning each ([`embedding_neighbours`]).

use std::process::ExitCode;

use clap::Args;
use kimera_embed::{Encoder, MiniLmEncoder, MiniLmOptions, model_dir, nearest};
use kimera_learn::{ConceptId, Graph, Neighbour, embedding_neighbours, related};
use kimera_store::Store;

use crate::Global;
use crate::cmd::concept::find;
use crate::output::{ellipsize, print_json, print_table};

#[derive(Debug, Args)]
pub struct RelatedArgs {
    /// The concept.
    pub term: String,
    /// How many neighbours to show, of each source (graph, embedding).
    #[arg(long, short = 'k', default_value_t = 20)]
    pub limit: usize,
    /// Statements nearest to the term whose concepts are embedding neighbours.
    #[arg(long, default_value_t = 20)]
    pub statements: usize,
    /// Graph neighbours only, even when the store has vectors.
    #[arg(long)]
    pub graph_only: bool,
}

/// The embedding neighbours, or why there are none (one line).
fn by_embedding(
    store: &Store,
    graph: &Graph,
    id: ConceptId,
    a: &RelatedArgs,
    skip: &[&str],
) -> anyhow::Result<Result<Vec<Neighbour>, String>> {
    let models = store.counts()?.embeddings_by_model;
    if models.is_empty() {
        return Ok(Err(format!(
            "no statement vectors in {}: graph neighbours only (`kimera embed` adds embedding neighbours)",
            store.path().display()
        )));
    }
    let enc = match MiniLmEncoder::load(&model_dir(), MiniLmOptions::default()) {
        Ok(enc) => enc,
        Err(e) => return Ok(Err(format!("graph neighbours only: {e}"))),
    };
    if !models.iter().any(|(m, _)| m == enc.model_id()) {
        return Ok(Err(format!(
            "no vectors of {} in {}: graph neighbours only (run `kimera embed`)",
            enc.model_id(),
            store.path().display()
        )));
    }
    let hits = nearest(store, &enc, &a.term, a.statements)?;
    Ok(Ok(embedding_neighbours(
        graph,
        id,
        hits.iter()
            .map(|h| (h.text.as_str(), h.lang.as_str(), h.score)),
        skip,
        a.limit,
    )))
}

pub fn run(a: &RelatedArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let store = Store::open(&g.db)?;
    let (graph, id) = find(&store, &a.term)?;
    let mut rows = related(&graph, id, a.limit);
    if !a.graph_only {
        let skip: Vec<&str> = rows.iter().map(|n| n.term.as_str()).collect();
        match by_embedding(&store, &graph, id, a, &skip)? {
            Ok(near) => rows.extend(near),
            Err(notice) => {
                if !g.quiet {
                    eprintln!("notice: {notice}");
                }
            }
        }
    }
    if g.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<Vec<String>> = rows
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
                x.example
                    .as_deref()
                    .map_or(String::new(), |t| ellipsize(t, 60)),
            ]
        })
        .collect();
    print_table(
        &["related", "score", "kinds", "via", "nearest statement"],
        &table,
    );
    Ok(ExitCode::SUCCESS)
}
