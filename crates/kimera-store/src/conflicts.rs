//! Conflicts: one per unordered pair of statements, merging every detector's scar, with
//! a status (open or resolved) and a log of resolutions that makes undo and a
//! statement's history exact.
//!
//! A scar is one detector's verdict; a conflict is the pair. Recording a new scar
//! creates the pair's conflict or merges into it (strongest score, most specific
//! [`ConflictKind`]) in the same transaction, so the two never disagree.
//!
//! Settling never deletes: `keep_a` marks B superseded by A (`superseded_by`,
//! `superseded_at` on the geoid), and default reads ([`Visibility::Current`]) leave
//! superseded statements out; [`Visibility::AsOf`] reads the store as it was then.
//! Every resolution is a row of `resolutions`, and the log is the truth: undo marks
//! the row undone (`undone_at`) instead of deleting it, a statement's
//! `superseded_by`/`superseded_at` are the newest row in force, and `AsOf(t)` asks the
//! log which rows were in force at `t` — so the past reads the same after an undo.
//!
//! ```
//! use kimera_core::{Geoid, Scar, Source, settle::Resolution};
//! use kimera_store::{ConflictFilter, Store, Visibility};
//! let mut s = Store::open_in_memory().unwrap();
//! let a = Geoid::new("The bridge is 300 m long.", "en", Source::Api);
//! let b = Geoid::new("The bridge is 450 m long.", "en", Source::Api);
//! s.insert_geoids(&[a.clone(), b.clone()]).unwrap();
//! let ev = serde_json::json!({"rule": "numbers", "tokens": ["300", "450"]});
//! s.insert_scars(&[Scar::new(a.id.clone(), b.id.clone(), 0.9, "lexical", ev)], None).unwrap();
//! let c = s.conflicts(&ConflictFilter::open()).unwrap().remove(0);
//! assert_eq!(c.kind, "number");
//! // keep B: A (the pair's first id) is superseded, not deleted
//! let t = kimera_core::unix_now() + 60;
//! s.resolve_conflict(c.id, Resolution::KeepB, "user", None, None, t).unwrap();
//! assert!(s.hidden_ids(Visibility::Current).unwrap().contains(c.a.as_str()));
//! assert!(s.hidden_ids(Visibility::AsOf(t - 1)).unwrap().is_empty());
//! s.undo_conflict(c.id, "user", t + 1).unwrap();
//! assert!(s.hidden_ids(Visibility::Current).unwrap().is_empty());
//! ```

use std::collections::{BTreeMap, HashSet};

use kimera_core::GeoidId;
use kimera_core::settle::{
    ConflictFacts, ConflictKind, Resolution, Side, Strategy, StrategyConfig, decide,
};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Result, Store, StoreError};

/// Migration 6: conflicts, resolutions, supersession and validity of statements.
pub(crate) const SCHEMA_V6: &str = "
ALTER TABLE geoids ADD COLUMN valid_from INTEGER;     -- seconds; from the input, optional
ALTER TABLE geoids ADD COLUMN valid_to INTEGER;
ALTER TABLE geoids ADD COLUMN superseded_by TEXT;     -- the geoid that won its conflict
ALTER TABLE geoids ADD COLUMN superseded_at INTEGER;  -- when (seconds)
CREATE INDEX geoids_superseded ON geoids(superseded_at) WHERE superseded_at IS NOT NULL;

CREATE TABLE conflicts (
    id          INTEGER PRIMARY KEY,
    a           TEXT NOT NULL,            -- a < b, as in scars
    b           TEXT NOT NULL,
    kind        TEXT NOT NULL,            -- the most specific kind its scars show
    score       REAL NOT NULL,            -- the strongest scar
    detectors   INTEGER NOT NULL,         -- scars merged into it
    status      TEXT NOT NULL,            -- open | resolved
    resolution  TEXT,                     -- keep_a | keep_b | both_valid | not_a_contradiction
    decided_by  TEXT,                     -- user | strategy:<name> | api ...
    decided_at  INTEGER,
    note        TEXT,
    inputs      TEXT,                     -- JSON: what an automatic decision was made from
    created_at  INTEGER NOT NULL,
    UNIQUE (a, b)
);
CREATE INDEX conflicts_b ON conflicts(b);
CREATE INDEX conflicts_by_status ON conflicts(status, score DESC, id);

CREATE TABLE resolutions (
    seq                INTEGER PRIMARY KEY,
    conflict           INTEGER NOT NULL REFERENCES conflicts(id),
    resolution         TEXT NOT NULL,
    decided_by         TEXT NOT NULL,
    decided_at         INTEGER NOT NULL,
    note               TEXT,
    inputs             TEXT,
    superseded         TEXT,              -- the geoid it superseded (keep_a / keep_b)
    superseded_by      TEXT,
    prev_superseded_by TEXT,              -- that geoid's columns before, for undo
    prev_superseded_at INTEGER,
    undone_at          INTEGER,
    undone_by          TEXT
);
CREATE INDEX resolutions_conflict ON resolutions(conflict);
CREATE INDEX resolutions_superseded ON resolutions(superseded);
CREATE INDEX resolutions_superseded_by ON resolutions(superseded_by);

-- consensus: the statements sharing an association with a statement
CREATE INDEX association_sources_by_source ON association_sources(source);
";

/// Migration 7: a statement's `superseded_by` / `superseded_at` are the newest
/// resolution of the log that superseded it and is not undone (the log is the truth;
/// `AsOf` reads it directly). Undo used to restore the columns a resolution had
/// overwritten, which went wrong when two resolutions of one statement were undone
/// out of order; this repairs stores it left so.
pub(crate) const SCHEMA_V7: &str = "
UPDATE geoids SET
    superseded_by = (SELECT r.superseded_by FROM resolutions r
                     WHERE r.superseded = geoids.id AND r.undone_at IS NULL
                     ORDER BY r.seq DESC LIMIT 1),
    superseded_at = (SELECT r.decided_at FROM resolutions r
                     WHERE r.superseded = geoids.id AND r.undone_at IS NULL
                     ORDER BY r.seq DESC LIMIT 1)
WHERE superseded_at IS NOT NULL OR id IN (SELECT superseded FROM resolutions);
";

/// [`SCHEMA_V7`] for one statement (`?1`), after an undo.
const SUPERSESSION_FROM_LOG: &str = "
UPDATE geoids SET
    superseded_by = (SELECT r.superseded_by FROM resolutions r
                     WHERE r.superseded = geoids.id AND r.undone_at IS NULL
                     ORDER BY r.seq DESC LIMIT 1),
    superseded_at = (SELECT r.decided_at FROM resolutions r
                     WHERE r.superseded = geoids.id AND r.undone_at IS NULL
                     ORDER BY r.seq DESC LIMIT 1)
WHERE id = ?1";

/// Migration 6's data step: one conflict per scarred pair, from every scar in order.
pub(crate) fn backfill(conn: &rusqlite::Connection) -> Result<()> {
    let mut stmt =
        conn.prepare("SELECT a, b, detector, evidence, score, created_at FROM scars ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let ev: String = r.get(3)?;
        let ev = serde_json::from_str(&ev).unwrap_or(serde_json::Value::Null);
        merge_scar(
            conn,
            &r.get::<_, String>(0)?,
            &r.get::<_, String>(1)?,
            &r.get::<_, String>(2)?,
            &ev,
            r.get(4)?,
            r.get(5)?,
        )?;
    }
    Ok(())
}

/// Creates the conflict of pair (a, b) or merges one more detector's scar into it.
pub(crate) fn merge_scar(
    conn: &rusqlite::Connection,
    a: &str,
    b: &str,
    detector: &str,
    evidence: &serde_json::Value,
    score: f64,
    created_at: i64,
) -> Result<()> {
    let kind = ConflictKind::of_evidence(detector, evidence);
    let existing: Option<(i64, String)> = conn
        .prepare_cached("SELECT id, kind FROM conflicts WHERE a = ?1 AND b = ?2")?
        .query_row(params![a, b], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match existing {
        None => {
            conn.prepare_cached(
                "INSERT INTO conflicts (a, b, kind, score, detectors, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, 1, 'open', ?5)",
            )?
            .execute(params![a, b, kind.as_str(), score, created_at])?;
        }
        Some((id, old)) => {
            let kind = match ConflictKind::parse(&old) {
                Some(o) if o.rank() <= kind.rank() => o,
                _ => kind,
            };
            conn.prepare_cached(
                "UPDATE conflicts SET kind = ?2, score = max(score, ?3), detectors = detectors + 1
                 WHERE id = ?1",
            )?
            .execute(params![id, kind.as_str(), score])?;
        }
    }
    Ok(())
}

/// Which statements a read sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum Visibility {
    /// Every statement not superseded (the default of every read).
    #[default]
    Current,
    /// The store as it was at this time (seconds): statements recorded by then and not
    /// superseded then — by a resolution decided by then and not undone by then — so a
    /// statement superseded later comes back, and one whose supersession was undone
    /// later stays hidden in between.
    AsOf(i64),
    /// Every statement, superseded or not (a server that filters per request).
    Everything,
}

impl Visibility {
    /// `Current`, or `AsOf(t)` when a time is given.
    pub fn at(as_of: Option<i64>) -> Visibility {
        as_of.map_or(Visibility::Current, Visibility::AsOf)
    }

    /// The SQL condition for a geoid row aliased `g` to be visible (no parameters:
    /// the time is an integer written into the text).
    pub fn sql(self, g: &str) -> String {
        match self {
            Visibility::Current => format!("{g}.superseded_at IS NULL"),
            // from the resolution log, not the geoid's columns: an undo ends a
            // supersession without erasing it, so the past still reads as it was
            Visibility::AsOf(t) => format!(
                "({g}.created_at <= {t} AND NOT EXISTS (SELECT 1 FROM resolutions r
                   WHERE r.superseded = {g}.id AND r.decided_at <= {t}
                     AND (r.undone_at IS NULL OR r.undone_at > {t})))"
            ),
            Visibility::Everything => "1".to_string(),
        }
    }
}

/// Open or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictStatus {
    Open,
    Resolved,
}

impl ConflictStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictStatus::Open => "open",
            ConflictStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<ConflictStatus> {
        match s.trim() {
            "open" => Some(ConflictStatus::Open),
            "resolved" => Some(ConflictStatus::Resolved),
            _ => None,
        }
    }
}

/// One detector's verdict on a conflict's pair (its scar).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub detector: String,
    pub score: f64,
    pub evidence: serde_json::Value,
    pub created_at: i64,
}

/// A conflict with both statements and every detector's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictRow {
    pub id: i64,
    pub a: GeoidId,
    pub b: GeoidId,
    pub text_a: String,
    pub text_b: String,
    pub source_a: String,
    pub source_b: String,
    pub kind: String,
    pub score: f64,
    pub status: String,
    pub resolution: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub note: Option<String>,
    pub inputs: Option<serde_json::Value>,
    pub created_at: i64,
    /// Language of statement A.
    pub lang: String,
    /// Strongest first.
    pub verdicts: Vec<Verdict>,
}

/// Where a page of conflicts ended: the last row's score and id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConflictCursor {
    pub score: f64,
    pub id: i64,
}

impl ConflictCursor {
    pub fn after(row: &ConflictRow) -> ConflictCursor {
        ConflictCursor {
            score: row.score,
            id: row.id,
        }
    }
}

/// Which conflicts [`Store::conflicts`] lists (strongest first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConflictFilter {
    pub status: Option<ConflictStatus>,
    pub kind: Option<String>,
    /// Only pairs this detector flagged.
    pub detector: Option<String>,
    /// Only pairs with a statement whose source starts with this (a file, a folder, `api`).
    pub source: Option<String>,
    /// Most rows (0 = all).
    pub limit: usize,
    pub after: Option<ConflictCursor>,
}

impl ConflictFilter {
    /// Every open conflict.
    pub fn open() -> ConflictFilter {
        ConflictFilter {
            status: Some(ConflictStatus::Open),
            ..ConflictFilter::default()
        }
    }
}

/// One entry of a statement's history: a resolution that superseded it, or one where
/// it superseded another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub conflict: i64,
    pub resolution: String,
    pub decided_by: String,
    pub decided_at: i64,
    pub note: Option<String>,
    /// The statement that lost.
    pub superseded: Option<GeoidId>,
    pub superseded_text: Option<String>,
    /// The statement that won.
    pub superseded_by: Option<GeoidId>,
    pub superseded_by_text: Option<String>,
    pub undone_at: Option<i64>,
    pub undone_by: Option<String>,
}

/// A statement's supersession and validity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementState {
    pub id: GeoidId,
    pub recorded_at: i64,
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
    pub superseded_by: Option<GeoidId>,
    pub superseded_at: Option<i64>,
}

/// What [`Store::auto_resolve`] decided (and wrote, unless a dry run): `kimera resolve
/// --auto --json`, `POST /v1/conflicts/resolve-auto` and the MCP `resolve` tool's
/// `auto` all answer this.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AutoReport {
    pub strategy: String,
    pub examined: u64,
    pub resolved: u64,
    pub left_open: u64,
    /// Decisions per resolution (`keep_a`, `both_valid`...).
    pub by_resolution: BTreeMap<String, u64>,
    pub dry_run: bool,
    /// The first decisions (at most [`AutoReport::SAMPLE`]): `id`, `resolution`, `why`.
    pub sample: Vec<serde_json::Value>,
}

impl AutoReport {
    /// Decisions kept in [`AutoReport::sample`].
    pub const SAMPLE: usize = 20;
}

/// A decision to apply with [`Store::resolve_conflicts`].
#[derive(Debug, Clone, PartialEq)]
pub struct Settle {
    pub conflict: i64,
    pub resolution: Resolution,
    pub decided_by: String,
    pub note: Option<String>,
    pub inputs: Option<serde_json::Value>,
}

const CONFLICT_SELECT: &str = "SELECT c.id, c.a, c.b, ga.text, gb.text, ga.source, gb.source,
        c.kind, c.score, c.status, c.resolution, c.decided_by, c.decided_at, c.note,
        c.inputs, c.created_at, ga.lang
     FROM conflicts c JOIN geoids ga ON ga.id = c.a JOIN geoids gb ON gb.id = c.b";

fn conflict_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConflictRow> {
    let inputs: Option<String> = r.get(14)?;
    Ok(ConflictRow {
        id: r.get(0)?,
        a: GeoidId(r.get(1)?),
        b: GeoidId(r.get(2)?),
        text_a: r.get(3)?,
        text_b: r.get(4)?,
        source_a: r.get(5)?,
        source_b: r.get(6)?,
        kind: r.get(7)?,
        score: r.get(8)?,
        status: r.get(9)?,
        resolution: r.get(10)?,
        decided_by: r.get(11)?,
        decided_at: r.get(12)?,
        note: r.get(13)?,
        inputs: inputs.map(|s| serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s))),
        created_at: r.get(15)?,
        lang: r.get(16)?,
        verdicts: Vec::new(),
    })
}

impl Store {
    /// Conflicts with both statements and their verdicts, strongest first (score
    /// descending, then oldest first), filtered by `f`; keyset-paginated by `f.after`.
    pub fn conflicts(&self, f: &ConflictFilter) -> Result<Vec<ConflictRow>> {
        let (score, id) = f.after.map_or((None, 0), |c| (Some(c.score), c.id));
        let lim = if f.limit == 0 { -1 } else { f.limit as i64 };
        let mut stmt = self.conn.prepare_cached(&format!(
            "{CONFLICT_SELECT}
             WHERE (?1 IS NULL OR c.status = ?1)
               AND (?2 IS NULL OR c.kind = ?2)
               AND (?3 IS NULL OR EXISTS (SELECT 1 FROM scars s
                     WHERE s.a = c.a AND s.b = c.b AND s.detector = ?3))
               AND (?4 IS NULL OR substr(ga.source, 1, length(?4)) = ?4
                               OR substr(gb.source, 1, length(?4)) = ?4)
               AND (?5 IS NULL OR (c.score <= ?5 AND (c.score < ?5 OR c.id > ?6)))
             ORDER BY c.score DESC, c.id LIMIT ?7"
        ))?;
        let rows = stmt.query_map(
            params![
                f.status.map(ConflictStatus::as_str),
                f.kind,
                f.detector,
                f.source,
                score,
                id,
                lim
            ],
            conflict_row,
        )?;
        let mut out: Vec<ConflictRow> = rows.collect::<rusqlite::Result<_>>()?;
        for c in &mut out {
            c.verdicts = self.verdicts(&c.a, &c.b)?;
        }
        Ok(out)
    }

    /// One conflict by id.
    pub fn conflict(&self, id: i64) -> Result<Option<ConflictRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{CONFLICT_SELECT} WHERE c.id = ?1"))?;
        let Some(mut c) = stmt.query_row([id], conflict_row).optional()? else {
            return Ok(None);
        };
        c.verdicts = self.verdicts(&c.a, &c.b)?;
        Ok(Some(c))
    }

    /// How many conflicts have `status` (`None`: all).
    pub fn count_conflicts(&self, status: Option<ConflictStatus>) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM conflicts WHERE ?1 IS NULL OR status = ?1",
            [status.map(ConflictStatus::as_str)],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    fn verdicts(&self, a: &GeoidId, b: &GeoidId) -> Result<Vec<Verdict>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT detector, score, evidence, created_at FROM scars WHERE a = ?1 AND b = ?2
             ORDER BY score DESC, seq",
        )?;
        let rows = stmt.query_map(params![a.as_str(), b.as_str()], |r| {
            let ev: String = r.get(2)?;
            Ok(Verdict {
                detector: r.get(0)?,
                score: r.get(1)?,
                evidence: serde_json::from_str(&ev).unwrap_or(serde_json::Value::String(ev)),
                created_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Settles conflict `id` as `resolution` (one transaction): `keep_a` / `keep_b`
    /// supersede the other statement at `now`; every resolution is logged. A resolved
    /// conflict is refused: undo it first.
    pub fn resolve_conflict(
        &mut self,
        id: i64,
        resolution: Resolution,
        decided_by: &str,
        note: Option<&str>,
        inputs: Option<&serde_json::Value>,
        now: i64,
    ) -> Result<()> {
        self.resolve_conflicts(
            &[Settle {
                conflict: id,
                resolution,
                decided_by: decided_by.to_string(),
                note: note.map(str::to_string),
                inputs: inputs.cloned(),
            }],
            now,
        )
        .map(|_| ())
    }

    /// Applies many decisions in one transaction (all or none); returns how many.
    pub fn resolve_conflicts(&mut self, decisions: &[Settle], now: i64) -> Result<u64> {
        let run = self.run;
        let tx = crate::write_tx(&mut self.conn)?;
        for d in decisions {
            resolve_on(&tx, d, now)?;
        }
        let n = decisions.len() as u64;
        crate::commit(tx, crate::Write::Conflicts, run, n)?;
        Ok(n)
    }

    /// Decides every open conflict by `cfg`'s strategy, a page of 10,000 at a time,
    /// each decision recorded with its inputs and why; writes each page's decisions in
    /// one transaction at `now` unless `dry_run`. Conflicts the strategy cannot decide
    /// (a tie, `manual`) stay open.
    pub fn auto_resolve(
        &mut self,
        cfg: &StrategyConfig,
        dry_run: bool,
        now: i64,
    ) -> Result<AutoReport> {
        const PAGE: usize = 10_000;
        let mut report = AutoReport {
            strategy: cfg.strategy.to_string(),
            dry_run,
            ..AutoReport::default()
        };
        let mut after = 0;
        loop {
            let mut page = self.open_conflict_facts(after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.0;
            let mut settle = Vec::new();
            for (id, facts) in &mut page {
                report.examined += 1;
                if cfg.strategy == Strategy::Consensus {
                    facts.a.support = Some(self.support(&facts.a.id)?);
                    facts.b.support = Some(self.support(&facts.b.id)?);
                }
                let Some(d) = decide(cfg, facts) else {
                    report.left_open += 1;
                    continue;
                };
                *report
                    .by_resolution
                    .entry(d.resolution.to_string())
                    .or_default() += 1;
                if report.sample.len() < AutoReport::SAMPLE {
                    report.sample.push(serde_json::json!({
                        "id": id, "resolution": d.resolution, "why": d.why,
                    }));
                }
                let mut inputs = d.inputs;
                inputs["why"] = serde_json::json!(d.why);
                settle.push(Settle {
                    conflict: *id,
                    resolution: d.resolution,
                    decided_by: d.decided_by,
                    note: None,
                    inputs: Some(inputs),
                });
            }
            report.resolved += settle.len() as u64;
            if !dry_run && !settle.is_empty() {
                self.resolve_conflicts(&settle, now)?;
            }
        }
        Ok(report)
    }

    /// Undoes the resolution of conflict `id` (one transaction): the conflict is open
    /// again, the resolution is marked undone at `now` (reads as of a time before that
    /// still see it), and the statement it superseded is current again unless another
    /// resolution in force supersedes it.
    pub fn undo_conflict(&mut self, id: i64, by: &str, now: i64) -> Result<()> {
        let run = self.run;
        let tx = crate::write_tx(&mut self.conn)?;
        let status: Option<String> = tx
            .query_row("SELECT status FROM conflicts WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        match status.as_deref() {
            None => return Err(StoreError::NoSuchConflict(id)),
            Some("resolved") => {}
            Some(_) => {
                return Err(StoreError::ConflictState {
                    id,
                    message: "is open: there is nothing to undo".into(),
                });
            }
        }
        // the newest resolution of the conflict in force, and the statement it superseded
        let last: Option<(i64, Option<String>)> = tx
            .query_row(
                "SELECT seq, superseded FROM resolutions WHERE conflict = ?1 AND undone_at IS NULL
                 ORDER BY seq DESC LIMIT 1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((seq, _)) = &last {
            tx.execute(
                "UPDATE resolutions SET undone_at = ?2, undone_by = ?3 WHERE seq = ?1",
                params![seq, now, by],
            )?;
        }
        if let Some((_, Some(loser))) = &last {
            // the loser's columns follow the log: superseded by the newest resolution
            // still in force, or by none (another one may supersede it, older or newer)
            tx.execute(SUPERSESSION_FROM_LOG, [loser])?;
        }
        tx.execute(
            "UPDATE conflicts SET status = 'open', resolution = NULL, decided_by = NULL,
             decided_at = NULL, note = NULL, inputs = NULL WHERE id = ?1",
            [id],
        )?;
        crate::commit(tx, crate::Write::Conflicts, run, 1)?;
        Ok(())
    }

    /// The ids a read with `v` must leave out (superseded ones; with `AsOf`, also those
    /// recorded later).
    pub fn hidden_ids(&self, v: Visibility) -> Result<HashSet<String>> {
        let sql = match v {
            Visibility::Everything => return Ok(HashSet::new()),
            Visibility::Current => "SELECT id FROM geoids WHERE superseded_at IS NOT NULL".into(),
            Visibility::AsOf(_) => format!("SELECT id FROM geoids g WHERE NOT {}", v.sql("g")),
        };
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether statement `id` is visible to a read with `v` (false if unknown).
    pub fn is_visible(&self, id: &GeoidId, v: Visibility) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {} FROM geoids g WHERE g.id = ?1", v.sql("g")),
                [id.as_str()],
                |r| r.get::<_, bool>(0),
            )
            .optional()?
            .unwrap_or(false))
    }

    /// A statement's validity and supersession.
    pub fn statement_state(&self, id: &GeoidId) -> Result<Option<StatementState>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, created_at, valid_from, valid_to, superseded_by, superseded_at
                 FROM geoids WHERE id = ?1",
            )?
            .query_row([id.as_str()], |r| {
                Ok(StatementState {
                    id: GeoidId(r.get(0)?),
                    recorded_at: r.get(1)?,
                    valid_from: r.get(2)?,
                    valid_to: r.get(3)?,
                    superseded_by: r.get::<_, Option<String>>(4)?.map(GeoidId),
                    superseded_at: r.get(5)?,
                })
            })
            .optional()?)
    }

    /// The resolutions that superseded statement `id` or that it won, oldest first
    /// (undone ones included, marked).
    pub fn statement_history(&self, id: &GeoidId) -> Result<Vec<HistoryEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.conflict, r.resolution, r.decided_by, r.decided_at, r.note,
                    r.superseded, gl.text, r.superseded_by, gw.text, r.undone_at, r.undone_by
             FROM resolutions r
             LEFT JOIN geoids gl ON gl.id = r.superseded
             LEFT JOIN geoids gw ON gw.id = r.superseded_by
             WHERE r.superseded = ?1 OR r.superseded_by = ?1
                OR r.conflict IN (SELECT id FROM conflicts WHERE a = ?1 OR b = ?1)
             ORDER BY r.seq",
        )?;
        let rows = stmt.query_map([id.as_str()], |r| {
            Ok(HistoryEntry {
                conflict: r.get(0)?,
                resolution: r.get(1)?,
                decided_by: r.get(2)?,
                decided_at: r.get(3)?,
                note: r.get(4)?,
                superseded: r.get::<_, Option<String>>(5)?.map(GeoidId),
                superseded_text: r.get(6)?,
                superseded_by: r.get::<_, Option<String>>(7)?.map(GeoidId),
                superseded_by_text: r.get(8)?,
                undone_at: r.get(9)?,
                undone_by: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// What the strategies need for the open conflicts after `after_id` (by id), at
    /// most `limit`: both sides' sources, times and validity; `support` is left `None`
    /// (see [`Store::support`]).
    pub fn open_conflict_facts(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<(i64, ConflictFacts)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, c.kind, c.score,
                    ga.id, ga.source, ga.created_at, ga.valid_from, ga.valid_to,
                    gb.id, gb.source, gb.created_at, gb.valid_from, gb.valid_to
             FROM conflicts c JOIN geoids ga ON ga.id = c.a JOIN geoids gb ON gb.id = c.b
             WHERE c.status = 'open' AND c.id > ?1 ORDER BY c.id LIMIT ?2",
        )?;
        let side = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<Side> {
            Ok(Side {
                id: r.get(i)?,
                source: r.get(i + 1)?,
                recorded_at: r.get(i + 2)?,
                valid_from: r.get(i + 3)?,
                valid_to: r.get(i + 4)?,
                support: None,
            })
        };
        let rows = stmt.query_map(params![after_id, limit as i64], |r| {
            Ok((
                r.get(0)?,
                ConflictFacts {
                    kind: r.get(1)?,
                    score: r.get(2)?,
                    a: side(r, 3)?,
                    b: side(r, 8)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many other current statements support statement `id` through the learned
    /// concept graph: they share a typed association with it (not mere co-occurrence)
    /// and are in no conflict with it. 0 when the graph was not learned.
    pub fn support(&self, id: &str) -> Result<u64> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT count(DISTINCT l2.geoid)
                 FROM learned l1
                 JOIN association_sources s1 ON s1.source = l1.id
                 JOIN associations x ON x.id = s1.association AND x.kind <> 'co-occurs'
                 JOIN association_sources s2 ON s2.association = s1.association
                                            AND s2.source <> l1.id
                 JOIN learned l2 ON l2.id = s2.source
                 JOIN geoids g2 ON g2.id = l2.geoid AND g2.superseded_at IS NULL
                 WHERE l1.geoid = ?1
                   AND NOT EXISTS (SELECT 1 FROM conflicts c
                                   WHERE c.a = min(?1, l2.geoid) AND c.b = max(?1, l2.geoid))",
            )?
            .query_row([id], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Resolved conflicts with both texts, oldest decision first: the labelled pairs
    /// `kimera export feedback` writes.
    pub fn resolved_conflicts(&self) -> Result<Vec<ConflictRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{CONFLICT_SELECT} WHERE c.status = 'resolved' ORDER BY c.decided_at, c.id"
        ))?;
        let rows = stmt.query_map([], conflict_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn resolve_on(tx: &rusqlite::Connection, d: &Settle, now: i64) -> Result<()> {
    let id = d.conflict;
    let row: Option<(String, String, String)> = tx
        .prepare_cached("SELECT a, b, status FROM conflicts WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((a, b, status)) = row else {
        return Err(StoreError::NoSuchConflict(id));
    };
    if status != "open" {
        return Err(StoreError::ConflictState {
            id,
            message: "is already resolved (undo it first)".into(),
        });
    }
    let loser_winner = match d.resolution {
        Resolution::KeepA => Some((b, a)),
        Resolution::KeepB => Some((a, b)),
        Resolution::BothValid | Resolution::NotAContradiction => None,
    };
    let mut prev: (Option<String>, Option<i64>) = (None, None);
    if let Some((loser, winner)) = &loser_winner {
        prev = tx
            .prepare_cached("SELECT superseded_by, superseded_at FROM geoids WHERE id = ?1")?
            .query_row([loser], |r| Ok((r.get(0)?, r.get(1)?)))?;
        tx.prepare_cached(
            "UPDATE geoids SET superseded_by = ?2, superseded_at = ?3 WHERE id = ?1",
        )?
        .execute(params![loser, winner, now])?;
    }
    let inputs = d.inputs.as_ref().map(|v| v.to_string());
    tx.prepare_cached(
        "UPDATE conflicts SET status = 'resolved', resolution = ?2, decided_by = ?3,
         decided_at = ?4, note = ?5, inputs = ?6 WHERE id = ?1",
    )?
    .execute(params![
        id,
        d.resolution.as_str(),
        d.decided_by,
        now,
        d.note,
        inputs
    ])?;
    let (loser, winner) = loser_winner.unzip();
    tx.prepare_cached(
        "INSERT INTO resolutions (conflict, resolution, decided_by, decided_at, note, inputs,
             superseded, superseded_by, prev_superseded_by, prev_superseded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        id,
        d.resolution.as_str(),
        d.decided_by,
        now,
        d.note,
        inputs,
        loser,
        winner,
        prev.0,
        prev.1
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use kimera_core::{Geoid, Scar, Source};
    use serde_json::json;

    use super::*;

    fn g(text: &str) -> Geoid {
        Geoid::new(text, "en", Source::Api)
    }

    fn scar(a: &Geoid, b: &Geoid, score: f32, det: &str, ev: serde_json::Value) -> Scar {
        Scar::new(a.id.clone(), b.id.clone(), score, det, ev)
    }

    /// A store of three statements where the first conflicts with each of the others
    /// (two `numbers` scars: a–b stronger than a–c).
    fn first_conflicts_with_both(texts: [&str; 3]) -> (Store, Geoid, Geoid, Geoid) {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b, c) = (g(texts[0]), g(texts[1]), g(texts[2]));
        s.insert_geoids(&[a.clone(), b.clone(), c.clone()]).unwrap();
        let ev = json!({"rule": "numbers", "tokens": ["1", "2"]});
        s.insert_scars(
            &[
                scar(&a, &b, 0.9, "lexical", ev.clone()),
                scar(&a, &c, 0.8, "lexical", ev),
            ],
            None,
        )
        .unwrap();
        (s, a, b, c)
    }

    /// Two statements in conflict, flagged by `lexical` (numbers) and `model`.
    fn two_detectors() -> (Store, Geoid, Geoid) {
        let mut s = Store::open_in_memory().unwrap();
        let (mut a, mut b) = (
            g("The bridge is 300 m long."),
            g("The bridge is 450 m long."),
        );
        if a.id > b.id {
            // conflicts keep a < b: name them as the conflict does
            std::mem::swap(&mut a, &mut b);
        }
        s.insert_geoids(&[a.clone(), b.clone()]).unwrap();
        let model = json!({"rule": "model", "route": "head", "probability": 0.97});
        let lexical = json!({"rule": "numbers", "tokens": ["300", "450"]});
        s.insert_scars(&[scar(&b, &a, 0.97, "model", model)], None)
            .unwrap();
        s.insert_scars(&[scar(&a, &b, 0.8, "lexical", lexical)], None)
            .unwrap();
        (s, a, b)
    }

    #[test]
    fn two_detectors_make_one_conflict_with_both_verdicts_and_the_specific_kind() {
        let (s, _, _) = two_detectors();
        assert_eq!(s.scars(0).unwrap().len(), 2, "scars stay per detector");
        let all = s.conflicts(&ConflictFilter::default()).unwrap();
        assert_eq!(all.len(), 1);
        let c = &all[0];
        assert_eq!(c.kind, "number", "the rule's kind beats model_only");
        assert!((c.score - 0.97).abs() < 1e-6, "strongest score");
        assert_eq!(c.status, "open");
        let dets: Vec<&str> = c.verdicts.iter().map(|v| v.detector.as_str()).collect();
        assert_eq!(dets, ["model", "lexical"]);
        assert_eq!(c.verdicts[1].evidence["tokens"], json!(["300", "450"]));
        // filters
        let f = |f: ConflictFilter| s.conflicts(&f).unwrap().len();
        let by = |kind: Option<&str>, det: Option<&str>, src: Option<&str>| ConflictFilter {
            kind: kind.map(str::to_string),
            detector: det.map(str::to_string),
            source: src.map(str::to_string),
            ..ConflictFilter::default()
        };
        assert_eq!(f(by(Some("number"), None, None)), 1);
        assert_eq!(f(by(Some("negation"), None, None)), 0);
        assert_eq!(f(by(None, Some("lexical"), None)), 1);
        assert_eq!(f(by(None, Some("llm"), None)), 0);
        assert_eq!(f(by(None, None, Some("api"))), 1);
        assert_eq!(f(by(None, None, Some("data/"))), 0);
        assert_eq!(s.count_conflicts(Some(ConflictStatus::Open)).unwrap(), 1);
    }

    #[test]
    fn keep_b_supersedes_a_until_undone_and_as_of_sees_the_past() {
        let (mut s, a, b) = two_detectors();
        let id = s.conflicts(&ConflictFilter::open()).unwrap()[0].id;
        let inputs = json!({"why": "test"});
        s.resolve_conflict(
            id,
            Resolution::KeepB,
            "user",
            Some("newer survey"),
            Some(&inputs),
            a.created_at + 10,
        )
        .unwrap();
        let c = s.conflict(id).unwrap().unwrap();
        assert_eq!(
            (
                c.status.as_str(),
                c.resolution.as_deref(),
                c.decided_by.as_deref()
            ),
            ("resolved", Some("keep_b"), Some("user"))
        );
        assert_eq!(
            (c.note.as_deref(), c.inputs),
            (Some("newer survey"), Some(inputs))
        );
        let st = s.statement_state(&a.id).unwrap().unwrap();
        assert_eq!(st.superseded_by.as_ref(), Some(&b.id));
        assert_eq!(st.superseded_at, Some(a.created_at + 10));
        assert!(!s.is_visible(&a.id, Visibility::Current).unwrap());
        assert!(s.is_visible(&b.id, Visibility::Current).unwrap());
        assert!(
            s.is_visible(&a.id, Visibility::AsOf(a.created_at + 9))
                .unwrap()
        );
        assert!(
            !s.is_visible(&a.id, Visibility::AsOf(a.created_at + 10))
                .unwrap()
        );
        assert!(
            !s.is_visible(&a.id, Visibility::AsOf(a.created_at - 1))
                .unwrap(),
            "not yet recorded"
        );
        assert!(s.is_visible(&a.id, Visibility::Everything).unwrap());
        let hidden = s.hidden_ids(Visibility::Current).unwrap();
        assert_eq!(hidden, HashSet::from([a.id.0.clone()]));
        let visible: Vec<String> = s
            .geoids_after_at(0, 10, Visibility::Current)
            .unwrap()
            .into_iter()
            .map(|r| r.id.0)
            .collect();
        assert_eq!(visible, std::slice::from_ref(&b.id.0));
        assert_eq!(s.geoids_after(0, 10).unwrap().len(), 2, "nothing deleted");
        // resolving twice is refused; unknown ids are named
        let again = s.resolve_conflict(id, Resolution::KeepA, "user", None, None, 0);
        assert!(again.unwrap_err().to_string().contains("already resolved"));
        let none = s.resolve_conflict(99, Resolution::KeepA, "user", None, None, 0);
        assert!(none.unwrap_err().to_string().contains("no conflict 99"));
        // history on both sides
        let h = s.statement_history(&a.id).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].superseded_by.as_ref(), Some(&b.id));
        assert_eq!(h[0].superseded_by_text.as_deref(), Some(b.text.as_str()));
        assert_eq!(s.statement_history(&b.id).unwrap(), h);

        s.undo_conflict(id, "user", a.created_at + 20).unwrap();
        let c = s.conflict(id).unwrap().unwrap();
        assert_eq!((c.status.as_str(), c.resolution), ("open", None));
        assert!(s.is_visible(&a.id, Visibility::Current).unwrap());
        assert!(s.hidden_ids(Visibility::Current).unwrap().is_empty());
        let h = s.statement_history(&a.id).unwrap();
        assert_eq!(h[0].undone_at, Some(a.created_at + 20));
        let undo = s.undo_conflict(id, "user", 0).unwrap_err().to_string();
        assert!(undo.contains("nothing to undo"), "{undo}");
        // both_valid supersedes nothing
        s.resolve_conflict(
            id,
            Resolution::BothValid,
            "user",
            None,
            None,
            a.created_at + 30,
        )
        .unwrap();
        assert!(s.hidden_ids(Visibility::Current).unwrap().is_empty());
    }

    #[test]
    fn undo_restores_an_earlier_supersession_and_batches_are_all_or_nothing() {
        let (mut s, a, _, _) = first_conflicts_with_both(["x is 1", "x is 2", "x is 3"]);
        let ids: Vec<i64> = s
            .conflicts(&ConflictFilter::open())
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        let settle = |id, r| Settle {
            conflict: id,
            resolution: r,
            decided_by: "strategy:test".into(),
            note: None,
            inputs: None,
        };
        let keep_other = |c: &ConflictRow| {
            if c.a == a.id {
                Resolution::KeepB
            } else {
                Resolution::KeepA
            }
        };
        let rows = s.conflicts(&ConflictFilter::open()).unwrap();
        // a batch with one bad decision changes nothing
        let bad = vec![
            settle(ids[0], keep_other(&rows[0])),
            settle(404, Resolution::KeepA),
        ];
        assert!(s.resolve_conflicts(&bad, 10).is_err());
        assert_eq!(s.count_conflicts(Some(ConflictStatus::Open)).unwrap(), 2);
        // a superseded by b at 10, then by c at 20; undoing the second restores the first
        s.resolve_conflicts(&[settle(ids[0], keep_other(&rows[0]))], 10)
            .unwrap();
        s.resolve_conflicts(&[settle(ids[1], keep_other(&rows[1]))], 20)
            .unwrap();
        let winner_second = if rows[1].a == a.id {
            &rows[1].b
        } else {
            &rows[1].a
        };
        let winner_first = if rows[0].a == a.id {
            &rows[0].b
        } else {
            &rows[0].a
        };
        assert_eq!(
            s.statement_state(&a.id)
                .unwrap()
                .unwrap()
                .superseded_by
                .as_ref(),
            Some(winner_second)
        );
        s.undo_conflict(ids[1], "user", 30).unwrap();
        let st = s.statement_state(&a.id).unwrap().unwrap();
        assert_eq!(
            (st.superseded_by.as_ref(), st.superseded_at),
            (Some(winner_first), Some(10))
        );
    }

    #[test]
    fn undo_ends_a_supersession_and_as_of_still_reads_the_time_it_held() {
        let (mut s, a, b) = two_detectors();
        let id = s.conflicts(&ConflictFilter::open()).unwrap()[0].id;
        let t0 = a.created_at.max(b.created_at);
        let (t1, t2, t3) = (t0 + 10, t0 + 20, t0 + 30);
        s.resolve_conflict(id, Resolution::KeepB, "user", None, None, t1)
            .unwrap();
        s.undo_conflict(id, "user", t2).unwrap();
        let seen = |s: &Store, t| s.is_visible(&a.id, Visibility::AsOf(t)).unwrap();
        assert!(seen(&s, t1 - 1), "before the decision");
        assert!(!seen(&s, t1), "superseded from the decision on");
        assert!(
            !seen(&s, t2 - 1),
            "...until the undo, which did not erase it"
        );
        assert!(seen(&s, t2), "back after the undo");
        assert!(s.is_visible(&a.id, Visibility::Current).unwrap());
        assert_eq!(
            s.hidden_ids(Visibility::AsOf(t1 + 5)).unwrap(),
            HashSet::from([a.id.0.clone()])
        );
        assert!(s.hidden_ids(Visibility::AsOf(t2)).unwrap().is_empty());
        // settled again (the other way): each period reads as it was
        s.resolve_conflict(id, Resolution::KeepA, "user", None, None, t3)
            .unwrap();
        assert!(!seen(&s, t1 + 5) && seen(&s, t2 + 5) && seen(&s, t3));
        assert!(!s.is_visible(&b.id, Visibility::AsOf(t3)).unwrap());
        assert!(s.is_visible(&b.id, Visibility::AsOf(t1 + 5)).unwrap());
        let st = s.statement_state(&b.id).unwrap().unwrap();
        assert_eq!(
            (st.superseded_by.as_ref(), st.superseded_at),
            (Some(&a.id), Some(t3))
        );
    }

    #[test]
    fn undoing_two_supersessions_out_of_order_makes_the_statement_current_again() {
        let (mut s, a, b, c) = first_conflicts_with_both(["y is 1", "y is 2", "y is 3"]);
        let rows = s.conflicts(&ConflictFilter::open()).unwrap();
        let t0 = [&a, &b, &c].iter().map(|x| x.created_at).max().unwrap();
        // a loses both: to b at t0+10 (first conflict), to c at t0+20 (second)
        for (i, row) in rows.iter().enumerate() {
            let keep = if row.a == a.id {
                Resolution::KeepB
            } else {
                Resolution::KeepA
            };
            s.resolve_conflict(row.id, keep, "user", None, None, t0 + 10 * (i as i64 + 1))
                .unwrap();
        }
        let state = |s: &Store| {
            let st = s.statement_state(&a.id).unwrap().unwrap();
            (st.superseded_by.map(|x| x.0), st.superseded_at)
        };
        let second_winner = if rows[1].a == a.id {
            &rows[1].b
        } else {
            &rows[1].a
        };
        // undo the first: still superseded by the second; then the second: current
        s.undo_conflict(rows[0].id, "user", t0 + 30).unwrap();
        assert_eq!(state(&s), (Some(second_winner.0.clone()), Some(t0 + 20)));
        s.undo_conflict(rows[1].id, "user", t0 + 40).unwrap();
        assert_eq!(
            state(&s),
            (None, None),
            "no resolution in force supersedes it"
        );
        assert!(s.is_visible(&a.id, Visibility::Current).unwrap());
        let seen = |t| s.is_visible(&a.id, Visibility::AsOf(t)).unwrap();
        assert_eq!(
            [5, 15, 25, 35, 45].map(|d| seen(t0 + d)),
            [true, false, false, false, true]
        );
    }

    #[test]
    fn a_resolution_survives_reopening_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.db");
        let (a, b) = (g("Fire is hot"), g("Fire is cold"));
        {
            let mut s = Store::open(&p).unwrap();
            s.insert_geoids(&[a.clone(), b.clone()]).unwrap();
            s.insert_scars(
                &[scar(&a, &b, 0.9, "lexical", json!({"rule": "antonym"}))],
                None,
            )
            .unwrap();
            let id = s.conflicts(&ConflictFilter::open()).unwrap()[0].id;
            s.resolve_conflict(id, Resolution::KeepA, "user", None, None, 5)
                .unwrap();
        }
        let s = Store::open(&p).unwrap();
        let c = &s.conflicts(&ConflictFilter::default()).unwrap()[0];
        assert_eq!(
            (c.kind.as_str(), c.resolution.as_deref()),
            ("antonym", Some("keep_a"))
        );
        let loser = if c.a == a.id { &b.id } else { &a.id };
        assert!(!s.is_visible(loser, Visibility::Current).unwrap());
    }

    #[test]
    fn support_counts_statements_sharing_a_typed_association_and_not_in_conflict() {
        let mut s = Store::open_in_memory().unwrap();
        let gs: Vec<Geoid> = (0..5).map(|i| g(&format!("statement {i}"))).collect();
        s.insert_geoids(&gs).unwrap();
        let c = s.conn();
        c.execute_batch(
            "INSERT INTO concepts (id, term, count, last_seen) VALUES (1, 'x', 1, 0), (2, 'y', 1, 0);
             INSERT INTO associations (id, src, dst, kind, strength, confidence, count, last_seen)
               VALUES (1, 1, 2, 'is-a', 1, 1, 3, 0), (2, 1, 2, 'co-occurs', 1, 1, 2, 0);",
        )
        .unwrap();
        for (i, gd) in gs.iter().enumerate() {
            c.execute(
                "INSERT INTO learned (id, geoid) VALUES (?1, ?2)",
                params![i as i64 + 1, gd.id.as_str()],
            )
            .unwrap();
        }
        // 0, 1, 2 share the is-a edge; 0 and 3 only co-occur; 4 is alone
        for (assoc, src) in [(1, 1), (1, 2), (1, 3), (2, 1), (2, 4)] {
            c.execute(
                "INSERT INTO association_sources VALUES (?1, ?2)",
                params![assoc, src],
            )
            .unwrap();
        }
        assert_eq!(s.support(gs[0].id.as_str()).unwrap(), 2);
        assert_eq!(
            s.support(gs[3].id.as_str()).unwrap(),
            0,
            "co-occurrence is no support"
        );
        assert_eq!(s.support(gs[4].id.as_str()).unwrap(), 0);
        // a statement in conflict with 0 does not support it
        s.insert_scars(
            &[scar(
                &gs[0],
                &gs[1],
                0.9,
                "lexical",
                json!({"rule": "negation"}),
            )],
            None,
        )
        .unwrap();
        assert_eq!(s.support(gs[0].id.as_str()).unwrap(), 1);
    }
}
