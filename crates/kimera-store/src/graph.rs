//! Concept graph tables (owned by association learning, `kimera-learn`).
//!
//! The learner keeps the graph in memory and writes what changed after each batch
//! ([`Store::write_graph`]): new statements learned, concepts and associations whose
//! counts changed, and new (association, statement) provenance rows, all in one
//! transaction, so an interrupted `kimera learn` leaves a graph that agrees with its
//! `learned` table and can simply be resumed. Ids are the learner's own (dense, from 0),
//! so a loaded graph keeps them.

use kimera_core::GeoidId;
use rusqlite::params;
use serde::Serialize;

use crate::{Result, Store, StoreError};

/// Migration 3: concepts, typed associations and their source geoids.
pub(crate) const SCHEMA_V3: &str = "
CREATE TABLE learned (
    id        INTEGER PRIMARY KEY,       -- the learner's source id
    geoid     TEXT NOT NULL UNIQUE        -- a statement learned once: re-learning it is a no-op
);
CREATE TABLE concepts (
    id        INTEGER PRIMARY KEY,
    term      TEXT NOT NULL UNIQUE,
    count     INTEGER NOT NULL,           -- statements that mention it
    last_seen INTEGER NOT NULL            -- latest created_at of those statements
);
CREATE TABLE associations (
    id         INTEGER PRIMARY KEY,
    src        INTEGER NOT NULL REFERENCES concepts(id),
    dst        INTEGER NOT NULL REFERENCES concepts(id),
    kind       TEXT NOT NULL,             -- is-a, part-of, causes, attribute, co-occurs ...
    attr       INTEGER REFERENCES concepts(id), -- attribute name, for kind = attribute
    strength   REAL NOT NULL,             -- noisy-or of the confidences of its sources
    confidence REAL NOT NULL,             -- best single-source confidence
    count      INTEGER NOT NULL,          -- distinct source statements
    last_seen  INTEGER NOT NULL
);
CREATE INDEX associations_src ON associations(src);
CREATE INDEX associations_dst ON associations(dst);
CREATE TABLE association_sources (
    association INTEGER NOT NULL REFERENCES associations(id),
    source      INTEGER NOT NULL REFERENCES learned(id),
    PRIMARY KEY (association, source)
) WITHOUT ROWID;
";

/// A concept row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConceptRecord {
    pub id: i64,
    pub term: String,
    pub count: i64,
    pub last_seen: i64,
}

/// An association row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssociationRecord {
    pub id: i64,
    pub src: i64,
    pub dst: i64,
    pub kind: String,
    pub attr: Option<i64>,
    pub strength: f64,
    pub confidence: f64,
    pub count: i64,
    pub last_seen: i64,
}

/// A set of graph rows: a delta to write, or the whole graph as read.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GraphRecords {
    /// (source id, geoid id) of learned statements.
    pub learned: Vec<(i64, GeoidId)>,
    pub concepts: Vec<ConceptRecord>,
    pub associations: Vec<AssociationRecord>,
    /// (association id, source id) provenance rows ([`crate::Store::write_graph`] takes
    /// them in any order; the learner and [`crate::Store::read_graph`] give them sorted).
    pub sources: Vec<(i64, i64)>,
}

impl GraphRecords {
    pub fn is_empty(&self) -> bool {
        self.learned.is_empty()
            && self.concepts.is_empty()
            && self.associations.is_empty()
            && self.sources.is_empty()
    }
}

impl Store {
    /// Writes a delta of the concept graph in one transaction: rows are inserted, or
    /// updated when their id exists (counts, strengths and times only: a concept's term
    /// and an association's ends never change).
    pub fn write_graph(&mut self, d: &GraphRecords) -> Result<()> {
        let run = self.run;
        if let Some(n) = self.checkpoint_nudge() {
            n.before_write();
        }
        let tx = crate::write_tx(&mut self.conn)?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO learned (id, geoid) VALUES (?1, ?2)
                 ON CONFLICT(id) DO NOTHING",
            )?;
            for (id, g) in &d.learned {
                st.execute(params![id, g.as_str()])?;
            }
            let mut st = tx.prepare_cached(
                "INSERT INTO concepts (id, term, count, last_seen) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET count = excluded.count, last_seen = excluded.last_seen",
            )?;
            for c in &d.concepts {
                st.execute(params![c.id, c.term, c.count, c.last_seen])?;
            }
            let mut st = tx.prepare_cached(
                "INSERT INTO associations
                   (id, src, dst, kind, attr, strength, confidence, count, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(id) DO UPDATE SET strength = excluded.strength,
                   confidence = excluded.confidence, count = excluded.count,
                   last_seen = excluded.last_seen",
            )?;
            for a in &d.associations {
                st.execute(params![
                    a.id,
                    a.src,
                    a.dst,
                    a.kind,
                    a.attr,
                    a.strength,
                    a.confidence,
                    a.count,
                    a.last_seen
                ])?;
            }
            let mut st = tx.prepare_cached(
                "INSERT OR IGNORE INTO association_sources (association, source) VALUES (?1, ?2)",
            )?;
            for (a, s) in &d.sources {
                st.execute(params![a, s])?;
            }
        }
        let rows =
            (d.learned.len() + d.concepts.len() + d.associations.len() + d.sources.len()) as u64;
        crate::commit(tx, crate::Write::Graph, run, rows)?;
        self.wrote();
        Ok(())
    }

    /// Reads the whole concept graph, ordered by id; provenance rows only when
    /// `with_sources` (they are the bulk of it, and most queries fetch a few with
    /// [`Store::association_sources`] instead).
    pub fn read_graph(&self, with_sources: bool) -> Result<GraphRecords> {
        let mut out = self.read_graph_core()?;
        let mut st = self
            .conn
            .prepare("SELECT id, geoid FROM learned ORDER BY id")?;
        out.learned = st
            .query_map([], |r| Ok((r.get(0)?, GeoidId(r.get(1)?))))?
            .collect::<rusqlite::Result<_>>()?;
        if with_sources {
            let mut st = self.conn.prepare(
                "SELECT association, source FROM association_sources ORDER BY association, source",
            )?;
            out.sources = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
        }
        Ok(out)
    }

    /// Concepts and associations only, ordered by id: the part of the graph whose
    /// size does not grow with the number of statements learned.
    pub fn read_graph_core(&self) -> Result<GraphRecords> {
        let mut out = GraphRecords::default();
        let mut st = self
            .conn
            .prepare("SELECT id, term, count, last_seen FROM concepts ORDER BY id")?;
        out.concepts = st
            .query_map([], |r| {
                Ok(ConceptRecord {
                    id: r.get(0)?,
                    term: r.get(1)?,
                    count: r.get(2)?,
                    last_seen: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut st = self.conn.prepare(
            "SELECT id, src, dst, kind, attr, strength, confidence, count, last_seen
             FROM associations ORDER BY id",
        )?;
        out.associations = st
            .query_map([], |r| {
                Ok(AssociationRecord {
                    id: r.get(0)?,
                    src: r.get(1)?,
                    dst: r.get(2)?,
                    kind: r.get(3)?,
                    attr: r.get(4)?,
                    strength: r.get(5)?,
                    confidence: r.get(6)?,
                    count: r.get(7)?,
                    last_seen: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(out)
    }

    /// The first `limit` statements an association was learned from, in learning order.
    pub fn association_sources(&self, association: i64, limit: usize) -> Result<Vec<GeoidId>> {
        let mut st = self.conn.prepare_cached(
            "SELECT l.geoid FROM association_sources s JOIN learned l ON l.id = s.source
             WHERE s.association = ?1 ORDER BY s.source LIMIT ?2",
        )?;
        let rows = st.query_map(params![association, limit as i64], |r| {
            Ok(GeoidId(r.get(0)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many statements have been learned, which is also the next source id (the
    /// learner numbers them densely from 0; a gap means the table was written by
    /// something else).
    pub fn learned_count(&self) -> Result<i64> {
        let (n, next): (i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(max(id) + 1, 0) FROM learned",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if n != next {
            return Err(StoreError::Corrupt(format!(
                "learned holds {n} rows but its ids run to {next}: they must be dense from 0"
            )));
        }
        Ok(n)
    }

    /// How many statements a learning pass reads (for a progress total). Unlike
    /// [`Store::counts`], whose per-file grouping sorts every row, this costs memory
    /// independent of the store's size.
    pub fn statements_to_learn(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM geoids", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// For each id, whether that statement is in the `learned` table: one indexed
    /// lookup each, so that a learner can skip what it learned before without holding
    /// every learned id in memory. The lookups share one read transaction (the
    /// caller's, if one is open): outside one, SQLite takes and releases its file lock
    /// for each (two `fcntl` calls).
    pub fn learned_flags<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a GeoidId>,
    ) -> Result<Vec<bool>> {
        let tx = if self.conn.is_autocommit() {
            Some(self.conn.unchecked_transaction()?)
        } else {
            None
        };
        let mut out = Vec::new();
        {
            let mut st = self
                .conn
                .prepare_cached("SELECT 1 FROM learned WHERE geoid = ?1")?;
            for id in ids {
                out.push(st.exists(params![id.as_str()])?);
            }
        }
        if let Some(tx) = tx {
            tx.commit()?;
        }
        Ok(out)
    }

    /// Deletes the whole concept graph (for `kimera learn --rebuild`), in one
    /// transaction.
    ///
    /// Foreign keys are off meanwhile: all four tables are emptied together, so no
    /// reference can dangle, and with them on SQLite deletes a referenced table row by
    /// row, checking each, instead of truncating it (0.67 s against 0.03 s for the
    /// graph of 100k statements).
    pub fn clear_graph(&mut self) -> Result<()> {
        // (the pragma is a no-op inside a transaction: set it around one)
        self.conn.pragma_update(None, "foreign_keys", "OFF")?;
        let cleared = (|| {
            let tx = crate::write_tx(&mut self.conn)?;
            tx.execute_batch(
                "DELETE FROM association_sources; DELETE FROM associations;
                 DELETE FROM concepts; DELETE FROM learned;",
            )?;
            tx.commit()
        })();
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        cleared?;
        Ok(())
    }

    /// Checks that every provenance row points at an existing association and statement
    /// (foreign keys are on, so this only fails on a store written by something else).
    pub fn check_graph(&self) -> Result<()> {
        let bad: i64 = self.conn.query_row(
            "SELECT count(*) FROM association_sources s
             WHERE NOT EXISTS (SELECT 1 FROM associations a WHERE a.id = s.association)
                OR NOT EXISTS (SELECT 1 FROM learned l WHERE l.id = s.source)",
            [],
            |r| r.get(0),
        )?;
        if bad > 0 {
            return Err(StoreError::Corrupt(format!(
                "{bad} association_sources rows point at missing associations or statements"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta() -> GraphRecords {
        GraphRecords {
            learned: vec![(0, GeoidId("g1".into()))],
            concepts: vec![
                ConceptRecord {
                    id: 0,
                    term: "cat".into(),
                    count: 1,
                    last_seen: 10,
                },
                ConceptRecord {
                    id: 1,
                    term: "mammal".into(),
                    count: 1,
                    last_seen: 10,
                },
            ],
            associations: vec![AssociationRecord {
                id: 0,
                src: 0,
                dst: 1,
                kind: "is-a".into(),
                attr: None,
                strength: 0.9,
                confidence: 0.9,
                count: 1,
                last_seen: 10,
            }],
            sources: vec![(0, 0)],
        }
    }

    #[test]
    fn graph_round_trips_and_updates_in_place() {
        let mut s = Store::open_in_memory().unwrap();
        let mut d = delta();
        s.write_graph(&d).unwrap();
        assert_eq!(s.read_graph(true).unwrap(), d);

        // a second source strengthens the association: same ids, new counts
        d.learned = vec![(1, GeoidId("g2".into()))];
        d.concepts[0].count = 2;
        d.associations[0].count = 2;
        d.associations[0].strength = 0.99;
        d.sources = vec![(0, 1)];
        s.write_graph(&d).unwrap();
        let back = s.read_graph(true).unwrap();
        assert_eq!(back.learned.len(), 2);
        assert_eq!(back.associations.len(), 1);
        assert_eq!(back.associations[0].count, 2);
        assert_eq!(back.sources, vec![(0, 0), (0, 1)]);
        assert_eq!(
            s.association_sources(0, 1).unwrap(),
            vec![GeoidId("g1".into())]
        );
        assert_eq!(s.learned_count().unwrap(), 2);
        assert_eq!(s.statements_to_learn().unwrap(), 0);
        let ids = [
            GeoidId("g2".into()),
            GeoidId("g3".into()),
            GeoidId("g1".into()),
        ];
        assert_eq!(s.learned_flags(&ids).unwrap(), vec![true, false, true]);
        // also inside a transaction the caller holds
        s.conn.execute_batch("BEGIN").unwrap();
        assert_eq!(s.learned_flags(&ids).unwrap(), vec![true, false, true]);
        s.conn.execute_batch("COMMIT").unwrap();
        let c = s.counts().unwrap();
        assert_eq!((c.concepts, c.associations), (2, 1));
        s.check_graph().unwrap();
        s.clear_graph().unwrap();
        assert!(s.read_graph(true).unwrap().is_empty());
        // foreign keys are on again after the clear: dangling provenance is refused
        let mut bad = delta();
        bad.sources.push((7, 0));
        assert!(s.write_graph(&bad).is_err());
        assert!(s.read_graph(true).unwrap().is_empty());
    }

    #[test]
    fn learned_ids_with_a_gap_are_refused() {
        let mut s = Store::open_in_memory().unwrap();
        assert_eq!(s.learned_count().unwrap(), 0);
        let mut d = delta();
        d.learned = vec![(0, GeoidId("g1".into())), (5, GeoidId("g5".into()))];
        s.write_graph(&d).unwrap();
        let err = s.learned_count().unwrap_err().to_string();
        assert!(err.contains("2 rows but its ids run to 6"), "{err}");
    }

    #[test]
    fn provenance_for_a_missing_association_is_refused_and_nothing_is_written() {
        let mut s = Store::open_in_memory().unwrap();
        let mut d = delta();
        d.sources.push((7, 0));
        assert!(s.write_graph(&d).is_err());
        assert!(
            s.read_graph(true).unwrap().is_empty(),
            "the batch rolled back"
        );
    }
}
