//! Loading statements into kimera.
//!
//! Readers stream a file record by record, so memory stays bounded whatever the file
//! size; [`ingest_paths`] writes the records into a [`Store`] in batches, one
//! transaction per batch. Supported formats ([`Format`]) are detected from the extension
//! and the header:
//!
//! | format | recognised by | becomes |
//! | --- | --- | --- |
//! | Kimera statements | CSV header `text,lang` | geoids |
//! | Kimera linked statements | CSV header `id,lang,text,label_contradict_id` | geoids with their ids, and a contradiction pair per link |
//! | Kimera pairs | CSV header `pair_id,text1,text2,label,lang,type` | two geoids and a labelled pair per row |
//! | SICK | tab-separated, header `pair_ID sentence_A sentence_B entailment_label ...` | two geoids and a labelled pair per row |
//! | JSONL | `.jsonl`/`.ndjson`: `{"text", "lang"?, "id"?}` or `{"text1", "text2", "label"?}` | geoids, or pairs |
//! | text / Markdown | `.txt`, `.md` | one geoid per sentence that is a claim (see [`clean`]; a line without a final full stop is one, unless the next line continues it in lowercase) |
//!
//! Text and Markdown keep claims only: headings, badges, link lists, code, tables,
//! changelog and license lines and fragments without a verb are skipped and counted per
//! [`SkipReason`] ([`clean`] says how each is recognised); `keep_all` keeps every
//! sentence.
//!
//! A malformed row becomes a [`RowError`] naming the file, line and field; by default it
//! is skipped and counted, and with `strict` the whole file is refused before anything
//! of it is written.
//!
//! ```
//! use kimera_ingest::{read_pairs, Format};
//! let dir = tempfile::tempdir().unwrap();
//! let p = dir.path().join("pairs.csv");
//! std::fs::write(&p, "pair_id,text1,text2,label,lang,type\n1,Fire is hot,Fire is cold,True,en,contradiction\n").unwrap();
//! let file = read_pairs(&p, None).unwrap();
//! assert_eq!(file.pairs[0].text_b, "Fire is cold");
//! assert!(file.pairs[0].gold.unwrap().is_contradiction());
//! ```

pub mod clean;
mod format;
mod load;
mod read;
mod statement;
mod text;
mod verbs;

use std::fmt;
use std::path::{Path, PathBuf};

pub use clean::{Cleaned, SkipCounts, SkipReason, clean_statement};
pub use format::{Format, detect_format};
pub use load::{FileReport, IngestOptions, IngestSummary, ingest_paths, supported_files};
pub use read::{
    PairRecord, PairsFile, ReadOptions, ReadStats, Record, read_pairs, read_records,
    read_records_from_bytes, read_records_from_bytes_with, read_records_with,
};
pub use statement::{clean_lang, clean_text};
pub use text::split_sentences;

/// Whether `path` is read as Markdown (`.md`, `.markdown`) rather than plain text.
pub fn is_markdown(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"))
}

/// A claim kept from a document, with the line its sentence starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Claim {
    pub text: String,
    pub line: u64,
}

/// A candidate the cleaner skipped: the sentence, or the raw line of a block (code,
/// table, HTML, heading, link line).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub text: String,
    pub line: u64,
    pub reason: SkipReason,
}

/// The claims of a document and what was skipped, per reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanedDocument {
    pub claims: Vec<Claim>,
    pub skipped: SkipCounts,
    /// Every skipped candidate, in document order.
    pub skipped_items: Vec<Skipped>,
}

/// Splits a text or Markdown document into sentences and keeps the claims, exactly as
/// `ingest` does for a `.txt` or `.md` file (see [`clean`] for the rules). `lang` is
/// the document's language (`und` when unknown); with `keep_all` every sentence is kept
/// (code blocks, tables, HTML and front matter of Markdown are still skipped).
///
/// ```
/// use kimera_ingest::{clean_document, SkipReason};
/// let doc = "# Serde\n\n[![crates.io](https://img.shields.io/crates/v/serde.svg)](https://crates.io/crates/serde)\n\n\
///            Serde is a framework for serializing Rust data structures.\n\n- Fixed #123 (#581)\n";
/// let c = clean_document(doc, true, "und", false);
/// assert_eq!(c.claims.len(), 1);
/// assert_eq!(c.claims[0].text, "Serde is a framework for serializing Rust data structures.");
/// assert_eq!(c.claims[0].line, 5);
/// assert_eq!(c.skipped.get(SkipReason::Heading), 1);
/// assert_eq!(c.skipped.get(SkipReason::Badge), 1);
/// assert_eq!(c.skipped.get(SkipReason::Changelog), 1);
/// ```
pub fn clean_document(text: &str, markdown: bool, lang: &str, keep_all: bool) -> CleanedDocument {
    let mut p = text::Paragraphs::with(markdown, !keep_all, lang);
    let mut out = CleanedDocument::default();
    let take = |pieces: Vec<text::Piece>, out: &mut CleanedDocument| {
        for piece in pieces {
            match piece {
                text::Piece::Sentence { text, line } => out.claims.push(Claim { text, line }),
                text::Piece::Skipped { reason, line, text } => {
                    out.skipped.add(reason, 1);
                    out.skipped_items.push(Skipped { text, line, reason });
                }
                text::Piece::Error { .. } => {}
            }
        }
    };
    for (i, l) in text.lines().enumerate() {
        take(p.push_line(l, i as u64 + 1), &mut out);
    }
    take(p.finish(), &mut out);
    out
}

/// Longest text field accepted (64 KiB): longer ones are almost always a broken quote
/// that swallowed the rest of the file.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// A row that could not be read. The rest of the file still loads (unless strict).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub path: PathBuf,
    /// 1-based line where the row starts.
    pub line: u64,
    /// The column or JSON field at fault, when one is.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = format!("{}:{}: ", self.path.display(), self.line);
        if let Some(field) = &self.field {
            s.push_str(&format!("field `{field}`: "));
        }
        s.push_str(&self.message);
        // the file name, the header's field names and the message may all quote the
        // input: only printable characters reach a terminal
        f.write_str(&kimera_core::printable(&s))
    }
}

/// An error that stops a whole file (or the whole ingest).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the file is empty")]
    Empty { path: PathBuf },
    #[error("{path}: cannot tell the format ({why}); pass --format")]
    UnknownFormat { path: PathBuf, why: String },
    #[error("{path}: missing column(s) {missing} for format {format} (header has: {found})")]
    MissingColumns {
        path: PathBuf,
        format: Format,
        missing: String,
        found: String,
    },
    #[error("{path}: refused (--strict): {count} bad row(s), first: {first}")]
    Refused {
        path: PathBuf,
        count: u64,
        first: RowError,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] kimera_store::StoreError),
}

impl IngestError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        IngestError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
