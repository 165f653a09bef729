//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading results or writing a report.
///
/// Errors about input name the file, the line and the field (or the pair and the
/// detector for in-memory input), so that a person can open the file and fix it.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A `results.csv` row (or its header) is malformed.
    #[error("{path}:{line}: field `{field}`: {message}")]
    Csv {
        path: PathBuf,
        line: u64,
        field: String,
        message: String,
    },
    /// One detector output is not usable (score out of 0..1, empty key, ...).
    #[error("pair `{pair}`, detector `{detector}`: field `{field}`: {message}")]
    InvalidOutput {
        pair: String,
        detector: String,
        field: String,
        message: String,
    },
    /// Two rows describe the same pair differently (gold label, language, ...).
    #[error("pair `{pair}`: field `{field}` differs between rows: {detail}")]
    InconsistentPair {
        pair: String,
        field: String,
        /// Both values and the detectors whose rows carry them.
        detail: String,
    },
    /// An option passed to the report is not usable.
    #[error("invalid option `{option}`: {message}")]
    InvalidOption { option: String, message: String },
    /// `summary.json` could not be written or read.
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Drawing a PNG failed.
    #[error("plot {path}: {message}")]
    Plot { path: PathBuf, message: String },
}

/// Results of this crate.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

impl BenchError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BenchError::Io {
            path: path.into(),
            source,
        }
    }
}
