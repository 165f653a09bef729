//! Schema and migrations.
//!
//! `MIGRATIONS[i]` moves a store from `user_version = i` to `i + 1`. Never edit a
//! migration that has shipped; add a new one.

use std::path::Path;

use rusqlite::Connection;

use crate::{Result, StoreError};

/// Every migration, in order.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("core tables", CORE_V1),
    ("llm response cache", crate::llm_cache::SCHEMA_V2),
    ("concept graph", crate::graph::SCHEMA_V3),
    ("run owners and progress", crate::runs::SCHEMA_V4),
    ("scars by strength", SCARS_BY_STRENGTH_V5),
];

/// Migration 5: scars strongest first without sorting them all (`kimera scars`, the
/// server's paginated `GET /v1/scars`).
const SCARS_BY_STRENGTH_V5: &str = "CREATE INDEX scars_strength ON scars(score DESC, seq);";

/// The schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

const CORE_V1: &str = "
CREATE TABLE geoids (
    seq         INTEGER PRIMARY KEY,      -- insertion order; the reactor's stable order
    id          TEXT NOT NULL UNIQUE,     -- given by the input, or derived (see GeoidId)
    text        TEXT NOT NULL,
    lang        TEXT NOT NULL,
    text_hash   BLOB NOT NULL,            -- BLAKE3 of the exact text: embedding cache key
    dedupe_key  INTEGER NOT NULL UNIQUE,  -- first 8 bytes of BLAKE3(normalised text + lang)
    source      TEXT NOT NULL,            -- file:line or api
    external_id TEXT,
    label       TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE embeddings (
    model      TEXT NOT NULL,
    text_hash  BLOB NOT NULL,
    dim        INTEGER NOT NULL,
    vector     BLOB NOT NULL,             -- little-endian f32 * dim
    created_at INTEGER NOT NULL,
    PRIMARY KEY (model, text_hash)
) WITHOUT ROWID;

CREATE TABLE pairs (
    seq     INTEGER PRIMARY KEY,
    pair_id TEXT,
    a       TEXT NOT NULL,                -- geoid ids
    b       TEXT NOT NULL,
    gold    TEXT,                         -- contradiction | entailment | neutral
    lang    TEXT,
    kind    TEXT,
    source  TEXT NOT NULL,
    UNIQUE (a, b)
);

CREATE TABLE scars (
    seq        INTEGER PRIMARY KEY,
    a          TEXT NOT NULL,             -- a < b
    b          TEXT NOT NULL,
    score      REAL NOT NULL,
    detector   TEXT NOT NULL,
    evidence   TEXT NOT NULL,             -- JSON
    created_at INTEGER NOT NULL,
    run_id     INTEGER,
    UNIQUE (a, b, detector)
);
CREATE INDEX scars_b ON scars(b);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    command     TEXT NOT NULL,
    args        TEXT NOT NULL,            -- JSON array
    stats       TEXT,                     -- JSON object
    status      TEXT NOT NULL,            -- running | ok | failed
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
);
";

pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let supported = current_version();
    let version = |c: &Connection| -> Result<i64> {
        let found: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > supported {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                supported,
            });
        }
        Ok(found)
    };
    if version(conn)? == supported {
        return Ok(());
    }
    // Holding the write lock, read the version again: two processes opening a new
    // store at once must not both run the same migration (the second waits, then
    // finds nothing left to do).
    let tx = crate::write_tx(conn)?;
    let found = version(&tx)?;
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tracing::info!(version = i + 1, name, "migrating store");
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_store_is_at_current_version_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.db");
        drop(crate::Store::open(&p).unwrap());
        let s = crate::Store::open(&p).unwrap();
        let v: i64 = s
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, current_version());
    }

    #[test]
    fn newer_store_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.db");
        {
            let c = Connection::open(&p).unwrap();
            c.pragma_update(None, "user_version", 999).unwrap();
        }
        let err = crate::Store::open(&p).unwrap_err().to_string();
        assert!(err.contains("schema version 999"), "{err}");
    }
}
