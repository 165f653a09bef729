//! Runs: one row per command that changed or analysed the store, with its stats.
//!
//! A run is `running` until it finishes `ok` or `failed`. A process killed meanwhile
//! cannot say so, so its row records who runs it — the process id, and an owner key
//! (boot id, pid and the process's start time, from /proc) that no later process can
//! share even when the pid is reused — and every write transaction of the run counts
//! itself in the row (`batches`, `rows_written`, in that transaction: exact). Each
//! [`Store::open`] marks `interrupted` the `running` rows whose owner is gone, keeping
//! how far they got. A run of another machine (a store on a shared disk) or of a
//! system without /proc cannot be checked and stays `running`.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Result, Store};

pub(crate) const SCHEMA_V4: &str = "
ALTER TABLE runs ADD COLUMN pid INTEGER;
ALTER TABLE runs ADD COLUMN owner TEXT;        -- boot id:pid:start time of the process (see runs.rs)
ALTER TABLE runs ADD COLUMN batches INTEGER NOT NULL DEFAULT 0;      -- write transactions committed
ALTER TABLE runs ADD COLUMN rows_written INTEGER NOT NULL DEFAULT 0; -- rows they wrote
ALTER TABLE runs ADD COLUMN updated_at INTEGER;                      -- time of the last one
";

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Ok,
    Failed,
    /// Its process ended without finishing it (killed, crashed, power lost).
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> RunStatus {
        match s {
            "ok" => RunStatus::Ok,
            "failed" => RunStatus::Failed,
            "interrupted" => RunStatus::Interrupted,
            _ => RunStatus::Running,
        }
    }
}

/// Compares with the stored spelling (`run.status == "ok"`).
impl PartialEq<&str> for RunStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub command: String,
    pub args: serde_json::Value,
    pub stats: Option<serde_json::Value>,
    pub status: RunStatus,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub pid: Option<i64>,
    /// Write transactions the run committed, and the rows they wrote: how far an
    /// interrupted run got.
    pub batches: i64,
    pub rows_written: i64,
    /// When the last of them committed.
    pub updated_at: Option<i64>,
}

const RUN_COLS: &str = "id, command, args, stats, status, started_at, finished_at, pid, batches, rows_written, updated_at";

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    let args: String = r.get(2)?;
    let stats: Option<String> = r.get(3)?;
    let status: String = r.get(4)?;
    Ok(RunRecord {
        id: r.get(0)?,
        command: r.get(1)?,
        args: serde_json::from_str(&args).unwrap_or_default(),
        stats: stats.and_then(|s| serde_json::from_str(&s).ok()),
        status: RunStatus::parse(&status),
        started_at: r.get(5)?,
        finished_at: r.get(6)?,
        pid: r.get(7)?,
        batches: r.get(8)?,
        rows_written: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

/// `boot id:pid:start time` of process `pid`, from /proc (Linux); `None` elsewhere or
/// when there is no such process.
fn owner_of(pid: u32) -> Option<String> {
    static BOOT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let boot = BOOT
        .get_or_init(|| {
            std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .as_ref()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // fields after the command name (which may hold spaces and parentheses);
    // the start time is field 22 of the line, the 20th after the name
    let start = stat.rsplit_once(')')?.1.split_whitespace().nth(19)?;
    Some(format!("{boot}:{pid}:{start}"))
}

impl Store {
    /// Records the start of a run; returns its id. Until [`Store::finish_run`], every
    /// write transaction of this store counts itself in the run's row.
    pub fn start_run(&mut self, command: &str, args: &[String]) -> Result<i64> {
        let pid = std::process::id();
        self.conn.execute(
            "INSERT INTO runs (command, args, status, started_at, pid, owner)
             VALUES (?1, ?2, 'running', ?3, ?4, ?5)",
            params![
                command,
                serde_json::to_string(args).unwrap_or_default(),
                kimera_core::unix_now(),
                pid,
                owner_of(pid)
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        self.run = Some(id);
        crate::crash::point("run.started");
        Ok(id)
    }

    /// Records the end of a run with its stats.
    pub fn finish_run(&mut self, id: i64, ok: bool, stats: &serde_json::Value) -> Result<()> {
        crate::crash::point("run.finishing");
        if self.run == Some(id) {
            self.run = None;
        }
        self.conn.execute(
            "UPDATE runs SET status = ?2, stats = ?3, finished_at = ?4 WHERE id = ?1",
            params![
                id,
                if ok { "ok" } else { "failed" },
                stats.to_string(),
                kimera_core::unix_now()
            ],
        )?;
        Ok(())
    }

    /// The most recent run of `command` (any command if `None`).
    pub fn last_run(&self, command: Option<&str>) -> Result<Option<RunRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RUN_COLS} FROM runs WHERE ?1 IS NULL OR command = ?1 ORDER BY id DESC LIMIT 1"
        ))?;
        Ok(stmt.query_row([command], run_row).optional()?)
    }

    /// The latest `limit` runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RUN_COLS} FROM runs ORDER BY id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit as i64], run_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Marks `interrupted` every `running` run whose process is gone (see the module
    /// docs); returns their ids. [`Store::open`] calls it; a failure (the store busy)
    /// is left for the next open.
    pub fn mark_interrupted_runs(&mut self) -> Vec<i64> {
        let running: Vec<(i64, Option<i64>, Option<String>)> = match self
            .conn
            .prepare("SELECT id, pid, owner FROM runs WHERE status = 'running'")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            }) {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!("cannot read the running runs: {e}");
                return Vec::new();
            }
        };
        let mut gone = Vec::new();
        for (id, pid, owner) in running {
            let dead = match (pid, owner) {
                // written by a kimera before runs had owners: nothing can still run it
                (None, _) => true,
                (Some(pid), Some(owner)) => match owner_of(std::process::id()) {
                    // another boot, or no live process with that pid and start time
                    Some(me) => {
                        me.split(':').next() != owner.split(':').next()
                            || u32::try_from(pid)
                                .ok()
                                .and_then(owner_of)
                                .is_none_or(|o| o != owner)
                    }
                    None => false, // no /proc here: cannot tell
                },
                (Some(_), None) => false, // started where there is no /proc
            };
            if dead {
                gone.push(id);
            }
        }
        for id in &gone {
            if let Err(e) = self.conn.execute(
                "UPDATE runs SET status = 'interrupted' WHERE id = ?1 AND status = 'running'",
                [id],
            ) {
                tracing::debug!("cannot mark run {id} interrupted: {e}");
            }
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_record_args_and_stats() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s.start_run("ingest", &["a.csv".into()]).unwrap();
        assert_eq!(
            s.last_run(None).unwrap().unwrap().status,
            RunStatus::Running
        );
        s.finish_run(id, true, &serde_json::json!({"rows": 3}))
            .unwrap();
        let r = s.last_run(Some("ingest")).unwrap().unwrap();
        assert_eq!(
            (r.status, r.stats.unwrap()["rows"].as_i64()),
            (RunStatus::Ok, Some(3))
        );
        assert!(s.last_run(Some("run")).unwrap().is_none());
    }

    #[test]
    fn every_write_of_a_run_counts_in_its_row() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s.start_run("ingest", &[]).unwrap();
        let g = |t: &str| kimera_core::Geoid::new(t, "en", kimera_core::Source::Api);
        s.insert_geoids(&[g("a"), g("b")]).unwrap();
        s.insert_geoids(&[g("c"), g("a")]).unwrap();
        s.finish_run(id, true, &serde_json::json!({})).unwrap();
        s.insert_geoids(&[g("d")]).unwrap(); // no run: not counted
        let r = s.last_run(None).unwrap().unwrap();
        assert_eq!((r.batches, r.rows_written), (2, 3));
    }

    /// A `running` row whose process is gone (a dead pid, a legacy row without one)
    /// reads as interrupted after the next open, with how far it got; this process's
    /// own run stays running.
    #[test]
    fn runs_of_dead_processes_read_as_interrupted_on_open() {
        if owner_of(std::process::id()).is_none() {
            eprintln!("notice: no /proc here; skipping");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.db");
        let mut s = Store::open(&p).unwrap();
        let mine = s.start_run("run", &[]).unwrap();
        let g = kimera_core::Geoid::new("x", "en", kimera_core::Source::Api);
        s.insert_geoids(&[g]).unwrap();
        // a child process that has exited: its pid and start time are no one's now
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let owner = owner_of(pid);
        child.wait().unwrap();
        let conn = s.conn();
        conn.execute(
            "INSERT INTO runs (command, args, status, started_at, pid, owner, batches, rows_written)
             VALUES ('learn', '[]', 'running', 1, ?1, ?2, 7, 700)",
            params![pid, owner.unwrap_or_else(|| format!("x:{pid}:0"))],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO runs (command, args, status, started_at) VALUES ('ingest', '[]', 'running', 1)",
            [],
        )
        .unwrap();
        let other = Store::open(&p).unwrap();
        let runs = other.runs(10).unwrap();
        let by = |c: &str| runs.iter().find(|r| r.command == c).unwrap().clone();
        assert_eq!(by("run").id, mine);
        assert_eq!(by("run").status, RunStatus::Running, "this process runs it");
        assert_eq!(by("run").batches, 1);
        assert_eq!(
            (
                by("learn").status,
                by("learn").batches,
                by("learn").rows_written
            ),
            (RunStatus::Interrupted, 7, 700)
        );
        assert_eq!(by("ingest").status, RunStatus::Interrupted);
    }
}
