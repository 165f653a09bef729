//! The kimera store: everything kimera knows, in one SQLite file.
//!
//! The file is opened in WAL mode; every write API takes a batch and commits it in one
//! transaction, so a run that is killed leaves the file valid and holding every batch
//! that had committed. The schema is versioned with SQLite's `user_version` and
//! migrated forward on open (see [`schema`]).
//!
//! ```
//! use kimera_core::{Geoid, Source};
//! use kimera_store::Store;
//! let mut store = Store::open_in_memory().unwrap();
//! let g = Geoid::new("Water boils at 100 °C at sea level.", "en", Source::Api);
//! let added = store.insert_geoids(&[g.clone(), g]).unwrap();
//! assert_eq!((added.inserted, added.duplicates), (1, 1));
//! assert_eq!(store.counts().unwrap().geoids, 1);
//! ```

mod batch;
mod checkpoint;
mod conflicts;
pub mod crash;
mod embeddings;
mod geoids;
mod graph;
mod llm_cache;
mod runs;
mod scars;
pub mod schema;
pub mod testing;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};

pub use batch::{Added, WriteBatch};
pub use conflicts::{
    AutoReport, ConflictCursor, ConflictFilter, ConflictRow, ConflictStatus, HistoryEntry, Settle,
    StatementState, Verdict, Visibility,
};
pub use embeddings::{EmbeddingHit, f32s_from_blob, f32s_to_blob};
pub use geoids::{
    BatchSummary, Counts, GeoidRow, GeoidTx, InsertSummary, LabelledPair, PairEnd, PairRef,
};
pub use graph::{AssociationRecord, ConceptRecord, GraphRecords};
pub use runs::{RunRecord, RunStatus};
pub use scars::{ScarCursor, ScarRow};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open store {path}: {}", open_reason(path, source))]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "store {path} has schema version {found}, newer than this kimera understands ({supported}); upgrade kimera"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("store error: {}", sqlite_reason(.0))]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt value in store: {0}")]
    Corrupt(String),
    #[error("no conflict {0} in the store (see `kimera conflicts`)")]
    NoSuchConflict(i64),
    #[error("conflict {id} {message}")]
    ConflictState { id: i64, message: String },
}

/// Why a store could not be opened, and what to do about it.
fn open_reason(path: &Path, e: &rusqlite::Error) -> String {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match e.sqlite_error_code() {
        Some(ErrorCode::CannotOpen) if !dir.is_dir() => format!(
            "the folder {} does not exist (create it, or pass another --db)",
            dir.display()
        ),
        Some(ErrorCode::CannotOpen) if path.is_dir() => {
            "it is a folder (pass a file path to --db)".to_string()
        }
        Some(ErrorCode::CannotOpen) => format!(
            "the file cannot be opened or created (check the permissions of {})",
            dir.display()
        ),
        Some(ErrorCode::NotADatabase) => {
            "the file is not an SQLite database (is --db the right file?)".to_string()
        }
        _ => sqlite_reason(e),
    }
}

/// SQLite's own message for `e`, with what to do where kimera knows better.
pub(crate) fn sqlite_reason(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => format!(
            "the store is locked by another process writing to it, still after {} s \
             (another kimera? it was waited for); try again when it has finished, or set \
             {BUSY_TIMEOUT_ENV} to wait longer (seconds)",
            busy_timeout().as_secs()
        ),
        Some(ErrorCode::DiskFull) => "the disk is full".to_string(),
        Some(ErrorCode::ReadOnly) => {
            "the store is read-only (check the permissions of the file and its folder)".to_string()
        }
        Some(ErrorCode::NotADatabase) => "the file is not an SQLite database".to_string(),
        _ => e.to_string(),
    }
}

/// An error and its causes as one line, as the CLI prints it and the Python package
/// raises it: each message of the chain once (a library error that already quotes its
/// cause is not followed by that cause again; SQLite's errors read as kimera explains
/// them, once a store error explained them not again), printable only (see
/// [`kimera_core::printable`]).
pub fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut store_said = false;
    for e in std::iter::successors(Some(err), |e| e.source()) {
        let msg = match sqlite_message(e) {
            // a store error already explained the SQLite error beneath it
            Some(_) if store_said => continue,
            Some(m) => m,
            None => e.to_string(),
        };
        store_said = e.is::<StoreError>();
        let msg = msg.trim();
        if msg.is_empty() || out.contains(msg) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(msg);
    }
    kimera_core::printable(&out).into_owned()
}

/// How a SQLite error found in an error chain should read: `Some(text)` for rusqlite's
/// error (SQLite's message, or kimera's explanation and what to do), `Some("")` for
/// the low-level code beneath it (already said above it), `None` for other errors.
/// `kimera`'s error printer uses it so that each thing is said once.
pub fn sqlite_message(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(e) = e.downcast_ref::<rusqlite::Error>() {
        return Some(sqlite_reason(e));
    }
    e.is::<rusqlite::ffi::Error>().then(String::new)
}

/// How long a write waits for another process's write lock, in seconds (default 30).
pub const BUSY_TIMEOUT_ENV: &str = "KIMERA_BUSY_TIMEOUT";

fn busy_timeout() -> std::time::Duration {
    static T: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
    *T.get_or_init(|| {
        let secs = std::env::var(BUSY_TIMEOUT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(30.0);
        std::time::Duration::from_secs_f64(secs)
    })
}

/// SQLite's busy handler: another connection holds the lock we need. Waits in short
/// steps up to [`busy_timeout`], saying once per process that it waits (a second
/// `kimera` writing the same store waits for the first instead of failing).
fn on_busy(attempt: i32) -> bool {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    const STEP: std::time::Duration = std::time::Duration::from_millis(10);
    if STEP * attempt.max(0) as u32 >= busy_timeout() {
        return false;
    }
    if attempt == 0 && !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            "the store is locked by another process writing to it; waiting for it (up to {} s, {BUSY_TIMEOUT_ENV})",
            busy_timeout().as_secs()
        );
    }
    std::thread::sleep(STEP);
    true
}

/// Pages in the WAL after which a commit checkpoints (~64 MiB; see [`Store::open`]).
pub(crate) const WAL_AUTOCHECKPOINT: i64 = 16_384;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open store.
#[derive(Debug)]
pub struct Store {
    /// Declared first, so dropped first: its thread stops before `conn` closes.
    checkpointer: Option<checkpoint::Checkpointer>,
    conn: Connection,
    path: PathBuf,
    /// The run in progress ([`Store::start_run`]): every write transaction counts
    /// itself in the run's row, so an interrupted run shows how far it got.
    run: Option<i64>,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and migrates it to the current schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        Self::init(conn, path.clone()).map_err(|e| match e {
            // the file exists but is no database (or cannot be read): say so with its path
            StoreError::Sqlite(source) => StoreError::Open { path, source },
            other => other,
        })
    }

    /// A throw-away store in memory (tests, one-shot commands).
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        Self::init(conn, PathBuf::from(":memory:"))
    }

    fn init(conn: Connection, path: PathBuf) -> Result<Store> {
        // First, so that every statement below already waits for another process's
        // lock instead of failing with "database is locked".
        conn.busy_handler(Some(on_busy))?;
        // WAL: readers never block the writer and a crash never leaves a torn page.
        // synchronous=NORMAL is durable at every checkpoint and consistent always.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // 64 MiB page cache: big ingests insert into B-trees keyed by hashes, which
        // touch pages all over the index; the default 2 MiB makes that disk-bound.
        conn.pragma_update(None, "cache_size", -65_536)?;
        // Checkpoint the WAL every ~64 MiB instead of every 4 MiB: each checkpoint
        // fsyncs and rewrites the pages a batch touched, which dominated bulk ingest.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT)?;
        let mut store = Store {
            checkpointer: None,
            conn,
            path,
            run: None,
        };
        schema::migrate(&mut store.conn, &store.path)?;
        if store.path != Path::new(":memory:") {
            store.mark_interrupted_runs();
        }
        Ok(store)
    }

    /// Path of the database file (`:memory:` for in-memory stores).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying connection, for crates that keep their own tables in the store.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Starts a write transaction that takes the write lock at once (IMMEDIATE): a
/// transaction that reads first and writes later would otherwise fail at once with
/// "database is locked" when another process wrote in between, whatever the busy
/// handler; taking the lock up front makes it wait its turn instead.
pub(crate) fn write_tx(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
}

/// Commits a write transaction of `what` (`geoids`, `embeddings`, ...): counts it in
/// the current run's row inside the same transaction (so "how far it got" is exact),
/// with the crash points before and after the commit (see [`crash`]).
pub(crate) fn commit(tx: Transaction<'_>, what: Write, run: Option<i64>, rows: u64) -> Result<()> {
    if let Some(id) = run {
        tx.execute(
            "UPDATE runs SET batches = batches + 1, rows_written = rows_written + ?2,
             updated_at = ?3 WHERE id = ?1",
            rusqlite::params![id, rows as i64, kimera_core::unix_now()],
        )?;
    }
    let (before, after) = what.points();
    crash::point(before);
    tx.commit()?;
    crash::point(after);
    Ok(())
}

/// The kinds of write transaction, for [`commit`]'s crash points.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Write {
    Geoids,
    Embeddings,
    Scars,
    Graph,
    LlmCache,
    Batch,
    Conflicts,
}

impl Write {
    fn points(self) -> (&'static str, &'static str) {
        match self {
            Write::Geoids => ("geoids.before_commit", "geoids.committed"),
            Write::Embeddings => ("embeddings.before_commit", "embeddings.committed"),
            Write::Scars => ("scars.before_commit", "scars.committed"),
            Write::Graph => ("graph.before_commit", "graph.committed"),
            Write::LlmCache => ("llm_cache.before_commit", "llm_cache.committed"),
            Write::Batch => ("batch.before_commit", "batch.committed"),
            Write::Conflicts => ("conflicts.before_commit", "conflicts.committed"),
        }
    }
}

/// Rows per statement of [`insert_rows`].
const ROWS_PER_STATEMENT: usize = 64;

/// Inserts `rows` with `head VALUES (…), (…), … tail`, [`ROWS_PER_STATEMENT`] rows
/// per statement, each row giving `width` values through `cols`; returns the rows
/// changed (inserted or updated). The same rows in the same order as one statement per
/// row, with a sixty-fourth of the statements. Used by bulk ingest; not by
/// [`Store::write_graph`], where it measured slower (the graph's upserts, 2.27–2.91 s
/// against 2.13–2.46 s for 100k statements, issue #22 lab notes).
pub(crate) fn insert_rows<'r, T>(
    conn: &Connection,
    head: &str,
    tail: &str,
    width: usize,
    rows: &'r [T],
    cols: impl Fn(&'r T, &mut Vec<&'r dyn rusqlite::ToSql>),
) -> Result<u64> {
    let sql = |n: usize| {
        let one = format!("({})", vec!["?"; width].join(", "));
        format!("{head} VALUES {} {tail}", vec![one; n].join(", "))
    };
    let full = sql(ROWS_PER_STATEMENT);
    let mut args: Vec<&'r dyn rusqlite::ToSql> = Vec::with_capacity(ROWS_PER_STATEMENT * width);
    let mut changed = 0u64;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut st = if chunk.len() == ROWS_PER_STATEMENT {
            conn.prepare_cached(&full)?
        } else {
            conn.prepare_cached(&sql(chunk.len()))?
        };
        args.clear();
        for r in chunk {
            cols(r, &mut args);
        }
        debug_assert_eq!(args.len(), chunk.len() * width);
        changed += st.execute(&args[..])? as u64;
    }
    Ok(changed)
}
