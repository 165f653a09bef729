//! Runs: one row per command that changed or analysed the store, with its stats.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Result, Store};

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub command: String,
    pub args: serde_json::Value,
    pub stats: Option<serde_json::Value>,
    pub status: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
}

impl Store {
    /// Records the start of a run; returns its id.
    pub fn start_run(&mut self, command: &str, args: &[String]) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO runs (command, args, status, started_at) VALUES (?1, ?2, 'running', ?3)",
            params![
                command,
                serde_json::to_string(args).unwrap_or_default(),
                kimera_core::unix_now()
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the end of a run with its stats.
    pub fn finish_run(&mut self, id: i64, ok: bool, stats: &serde_json::Value) -> Result<()> {
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
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, command, args, stats, status, started_at, finished_at FROM runs
             WHERE ?1 IS NULL OR command = ?1 ORDER BY id DESC LIMIT 1",
        )?;
        Ok(stmt
            .query_row([command], |r| {
                let args: String = r.get(2)?;
                let stats: Option<String> = r.get(3)?;
                Ok(RunRecord {
                    id: r.get(0)?,
                    command: r.get(1)?,
                    args: serde_json::from_str(&args).unwrap_or_default(),
                    stats: stats.and_then(|s| serde_json::from_str(&s).ok()),
                    status: r.get(4)?,
                    started_at: r.get(5)?,
                    finished_at: r.get(6)?,
                })
            })
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_record_args_and_stats() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s.start_run("ingest", &["a.csv".into()]).unwrap();
        assert_eq!(s.last_run(None).unwrap().unwrap().status, "running");
        s.finish_run(id, true, &serde_json::json!({"rows": 3}))
            .unwrap();
        let r = s.last_run(Some("ingest")).unwrap().unwrap();
        assert_eq!(
            (r.status.as_str(), r.stats.unwrap()["rows"].as_i64()),
            ("ok", Some(3))
        );
        assert!(s.last_run(Some("run")).unwrap().is_none());
    }
}
