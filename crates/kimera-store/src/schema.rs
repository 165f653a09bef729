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
    (
        "conflicts, resolutions, supersession",
        crate::conflicts::SCHEMA_V6,
    ),
    (
        "supersession follows the resolution log",
        crate::conflicts::SCHEMA_V7,
    ),
];

/// The data step a migration needs after its SQL, by the version it migrates to
/// (migration 6 makes one conflict per scarred pair from the scars already stored).
fn after_migration(version: usize, tx: &Connection) -> Result<()> {
    if version == 6 {
        crate::conflicts::backfill(tx)?;
    }
    Ok(())
}

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
        after_migration(i + 1, &tx)?;
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

#[cfg(test)]
mod migration_tests {
    use rusqlite::params;

    use super::*;

    /// A store as the release before conflicts (schema 5) wrote it: two statements,
    /// scarred by two detectors, and a third pair by one.
    #[test]
    fn a_store_of_schema_5_migrates_with_one_conflict_per_scarred_pair() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.db");
        {
            let c = Connection::open(&p).unwrap();
            for (_, sql) in &MIGRATIONS[..5] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", 5).unwrap();
            for (i, id) in ["a", "b", "c"].iter().enumerate() {
                c.execute(
                    "INSERT INTO geoids (id, text, lang, text_hash, dedupe_key, source, created_at)
                     VALUES (?1, ?2, 'en', x'00', ?3, 'old.csv:1', 100)",
                    params![id, format!("text {id}"), i as i64],
                )
                .unwrap();
            }
            let scar = |a: &str, b: &str, score: f64, det: &str, ev: &str| {
                c.execute(
                    "INSERT INTO scars (a, b, score, detector, evidence, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 100)",
                    params![a, b, score, det, ev],
                )
                .unwrap();
            };
            scar("a", "b", 0.6, "model", r#"{"rule":"model","route":"head"}"#);
            scar("a", "b", 0.9, "lexical", r#"{"rule":"negation"}"#);
            scar("b", "c", 0.7, "graph", r#"{"rule":"attribute"}"#);
        }
        let s = crate::Store::open(&p).unwrap();
        assert_eq!(s.counts().unwrap().schema_version, current_version());
        let all = s.conflicts(&crate::ConflictFilter::default()).unwrap();
        let got: Vec<(&str, &str, &str, usize, f64)> = all
            .iter()
            .map(|c| {
                (
                    c.a.as_str(),
                    c.b.as_str(),
                    c.kind.as_str(),
                    c.verdicts.len(),
                    c.score,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a", "b", "negation", 2, 0.9),
                ("b", "c", "graph_fact", 1, 0.7)
            ]
        );
        assert!(all.iter().all(|c| c.status == "open"));
        assert_eq!(s.scars(0).unwrap().len(), 3);
        let st = s
            .statement_state(&kimera_core::GeoidId("a".into()))
            .unwrap()
            .unwrap();
        assert_eq!(
            (st.recorded_at, st.valid_from, st.superseded_by),
            (100, None, None)
        );
    }

    /// A store of schema 6 left by the old undo, which restored the columns a
    /// resolution had overwritten: `a` lost to `b` (conflict 1, at 110) then to `c`
    /// (conflict 2, at 120); undoing 1 (at 130) then 2 (at 140) left `a` superseded by
    /// `b` although both resolutions were undone. `d` lost to `e` (at 150) and stays so.
    #[test]
    fn a_store_of_schema_6_migrates_with_supersession_from_the_resolution_log() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.db");
        {
            let c = Connection::open(&p).unwrap();
            for (_, sql) in &MIGRATIONS[..6] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", 6).unwrap();
            for (i, id) in ["a", "b", "c", "d", "e"].iter().enumerate() {
                c.execute(
                    "INSERT INTO geoids (id, text, lang, text_hash, dedupe_key, source, created_at)
                     VALUES (?1, ?2, 'en', x'00', ?3, 'old.csv:1', 100)",
                    params![id, format!("text {id}"), i as i64],
                )
                .unwrap();
            }
            c.execute_batch(
                "UPDATE geoids SET superseded_by = 'b', superseded_at = 110 WHERE id = 'a';
                 UPDATE geoids SET superseded_by = 'e', superseded_at = 150 WHERE id = 'd';
                 INSERT INTO conflicts (id, a, b, kind, score, detectors, status, created_at)
                   VALUES (1, 'a', 'b', 'number', 0.9, 1, 'open', 100),
                          (2, 'a', 'c', 'number', 0.8, 1, 'open', 100);
                 INSERT INTO conflicts (id, a, b, kind, score, detectors, status, resolution,
                                        decided_by, decided_at, created_at)
                   VALUES (3, 'd', 'e', 'number', 0.7, 1, 'resolved', 'keep_b', 'user', 150, 100);
                 INSERT INTO resolutions (conflict, resolution, decided_by, decided_at,
                     superseded, superseded_by, prev_superseded_by, prev_superseded_at,
                     undone_at, undone_by)
                   VALUES (1, 'keep_b', 'user', 110, 'a', 'b', NULL, NULL, 130, 'user'),
                          (2, 'keep_b', 'user', 120, 'a', 'c', 'b', 110, 140, 'user'),
                          (3, 'keep_b', 'user', 150, 'd', 'e', NULL, NULL, NULL, NULL);",
            )
            .unwrap();
        }
        let s = crate::Store::open(&p).unwrap();
        assert_eq!(s.counts().unwrap().schema_version, current_version());
        let id = |x: &str| kimera_core::GeoidId(x.into());
        let st = |x: &str| {
            let st = s.statement_state(&id(x)).unwrap().unwrap();
            (st.superseded_by.map(|g| g.0), st.superseded_at)
        };
        assert_eq!(st("a"), (None, None), "both resolutions of a were undone");
        assert_eq!(st("d"), (Some("e".into()), Some(150)));
        assert_eq!(
            s.hidden_ids(crate::Visibility::Current).unwrap(),
            std::collections::HashSet::from(["d".to_string()])
        );
        let seen = |x: &str, t| s.is_visible(&id(x), crate::Visibility::AsOf(t)).unwrap();
        assert_eq!(
            [105, 115, 125, 135, 145].map(|t| seen("a", t)),
            [true, false, false, false, true],
            "the past as the log recorded it"
        );
        assert!(seen("d", 149) && !seen("d", 150));
    }
}
