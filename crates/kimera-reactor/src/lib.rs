//! The kimera reactor: finds contradictions ("scars") between stored statements.
//!
//! A reactor cycle reads the geoids and their embeddings from the [`Store`], picks
//! candidate pairs ([`Pairing`]: each geoid's nearest neighbours, Kimera's seeded random
//! pairs, or the labelled pairs of a dataset), scores them with a cascade of
//! [`Detector`]s and records each contradiction with the detector's name and evidence.
//! Resonance — cosine damped by existing scars — is given to every detector.
//!
//! Invariant: a cycle's scars, and their order, depend only on the store and the
//! config — never on the number of workers or the chunk size. [`run_sequential`] is the
//! reference; [`run_parallel`] is tested against it.
//!
//! This crate does not embed text: it reads the vectors stored for a model id (see
//! `kimera embed`), so any encoder — or a synthetic one in tests — can feed it.
//!
//! ```
//! use kimera_core::{Geoid, Source, text_hash};
//! use kimera_reactor::{RunConfig, detectors_from_list, run_parallel};
//! use kimera_store::Store;
//!
//! let mut store = Store::open_in_memory().unwrap();
//! let a = Geoid::new("Fire is hot", "en", Source::Api);
//! let b = Geoid::new("Fire is cold", "en", Source::Api);
//! store.insert_geoids(&[a.clone(), b.clone()]).unwrap();
//! let (va, vb) = ([1.0f32, 0.1, 0.0], [1.0f32, 0.0, 0.1]);
//! store.put_embeddings("demo-model", &[(text_hash(&a.text), &va[..]), (text_hash(&b.text), &vb[..])]).unwrap();
//!
//! let cfg = RunConfig { model_id: "demo-model".into(), workers: 2, ..RunConfig::default() };
//! let detectors = detectors_from_list("baseline,lexical").unwrap();
//! let stats = run_parallel(&mut store, &cfg, &detectors, &|_| {}).unwrap();
//! assert_eq!((stats.pairs_checked, stats.new_scars), (1, 1));
//! let scar = &store.scars(0).unwrap()[0];
//! assert_eq!((scar.detector.as_str(), &scar.evidence["rule"]), ("lexical", &serde_json::json!("antonym")));
//! ```

pub mod cycle;
pub mod detect;
pub mod knn;
pub mod lexical;
pub mod synth;

pub use cycle::{
    Pairing, Progress, RunConfig, RunStats, Snapshot, default_workers, peak_rss_mb, run,
    run_cancellable, run_parallel, run_sequential, scars_of, sub_chunk,
};
pub use detect::{
    BaselineDetector, DETECTOR_NAMES, Detector, LexicalDetector, PairInput, Verdict,
    detector_by_name, detectors_from_list, document_of,
};
pub use kimera_store::Store;
pub use knn::KnnParams;

/// Errors of the reactor.
#[derive(Debug, thiserror::Error)]
pub enum ReactorError {
    #[error(transparent)]
    Store(#[from] kimera_store::StoreError),
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("unknown detector {name:?}; known detectors: {known}")]
    UnknownDetector { name: String, known: String },
    #[error("detector {0:?} is listed twice")]
    DuplicateDetector(String),
    #[error("unknown pairing {0:?}; use ann, random or pairs")]
    UnknownPairing(String),
    #[error("no embeddings for model {model:?} for any of the {geoids} geoids")]
    NoVectors { model: String, geoids: u64 },
    #[error(
        "geoid {id}: embedding for model {model:?} has {found} dimensions, expected {expected}"
    )]
    DimensionMismatch {
        id: String,
        model: String,
        expected: usize,
        found: usize,
    },
    #[error("invalid reactor config: {0}")]
    InvalidConfig(String),
    #[error("matrix product failed: {0}")]
    Matmul(#[from] candle_core::Error),
    #[error("interrupted: the chunks scored before were kept; run again to finish")]
    Cancelled,
    #[error("cannot start the worker pool: {0}")]
    ThreadPool(String),
}
