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

mod embeddings;
mod geoids;
mod graph;
mod llm_cache;
mod runs;
mod scars;
pub mod schema;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use embeddings::{EmbeddingHit, f32s_from_blob, f32s_to_blob};
pub use geoids::{BatchSummary, Counts, GeoidRow, InsertSummary, LabelledPair, PairEnd, PairRef};
pub use graph::{AssociationRecord, ConceptRecord, GraphRecords};
pub use runs::RunRecord;
pub use scars::ScarRow;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open store {path}: {source}")]
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
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt value in store: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and migrates it to the current schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        Self::init(conn, path)
    }

    /// A throw-away store in memory (tests, one-shot commands).
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        Self::init(conn, PathBuf::from(":memory:"))
    }

    fn init(conn: Connection, path: PathBuf) -> Result<Store> {
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
        conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let mut store = Store { conn, path };
        schema::migrate(&mut store.conn, &store.path)?;
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
