//! Association learning: a concept graph from statements.
//!
//! For each statement, [`extract`] finds its concepts (content words and noun phrases,
//! lowercased, lightly stemmed, stop words out) and typed associations (is-a, part-of,
//! has-property, causes, located-in, made-of, used-for, before, opposite-of,
//! similar-to, equals, attributes such as "population 2100000", and co-occurrence),
//! all cue phrases matched in one Aho-Corasick pass. A [`Learner`] merges extractions
//! into a [`Graph`] whose associations keep their evidence: strength, count, the
//! statements they came from, when last seen. Extraction runs on a rayon pool; merging
//! is sequential and in order, so every worker count builds the same graph.
//!
//! The graph answers [`concept_view`], [`paths`] and [`related`] (plus
//! [`embedding_neighbours`] from statement vectors), and finds
//! statements that assert conflicting facts ([`fact_conflicts`], [`find_conflicts`]).
//! It is kept in the store's graph tables ([`Graph::load`], [`Graph::save`]), and the
//! reactor's `graph` detector ([`GraphDetector`]) consults it.
//!
//! ```
//! use kimera_learn::{Graph, Learner, LearnOptions, Relation, Statement};
//! let batch = vec![
//!     Statement::new("A cat is a mammal.", "en"),
//!     Statement::new("Cats are mammals.", "en"),
//!     Statement::new("Smoking causes cancer.", "en"),
//! ];
//! let learner = Learner::new(LearnOptions { workers: 2, ..Default::default() }).unwrap();
//! let mut graph = Graph::new();
//! let report = learner.learn_batch(&mut graph, &batch, |_| {});
//! assert_eq!(report.learned, 3);
//! let (cat, mammal) = (graph.find("cats").unwrap(), graph.find("mammal").unwrap());
//! let id = graph.association_id(cat, Relation::IsA, None, mammal).unwrap();
//! assert_eq!(graph.association(id).count, 2, "two statements say so");
//! // learning the same statements again changes nothing
//! let again = learner.learn_batch(&mut graph, &batch, |_| {});
//! assert_eq!((again.learned, again.already_known), (0, 3));
//! assert_eq!(graph.association(id).count, 2);
//! ```

mod conflict;
mod detector;
mod extract;
mod graph;
mod learn;
mod query;
pub mod synth;
pub mod text;

pub use conflict::{
    BUILTIN_OPPOSITES, Conflict, MAX_PAIRS_PER_FACT, extraction_conflicts, fact_conflicts,
    find_conflicts,
};
pub use detector::GraphDetector;
pub use extract::{
    COOCCUR_WEIGHT, COOCCUR_WINDOW, ExtractError, Extraction, Link, MAX_TEXT_BYTES, MAX_TOKENS,
    Relation, concept_term, extract,
};
pub use graph::{AssocId, Association, Concept, ConceptId, Graph, GraphCounts, SourceId};
pub use learn::{
    AsStatement, LearnOptions, LearnReport, Learner, PARALLEL_THRESHOLD, Progress, StageTimes,
    Statement, StatementError,
};
pub use query::{
    COOCCURS_DISCOUNT, ConceptView, Direction, Edge, Explanation, Neighbour, PATH_BUDGET,
    PATH_FANOUT, Step, concept_view, embedding_neighbours, paths, related,
};

/// Errors of association learning (per-statement problems are not errors: they are
/// reported in [`LearnReport::errors`]).
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error(transparent)]
    Store(#[from] kimera_store::StoreError),
    #[error("corrupt concept graph in store: {0}")]
    CorruptGraph(String),
    #[error("cannot start worker threads: {0}")]
    Pool(String),
}
