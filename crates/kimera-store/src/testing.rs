//! Helpers for crash-safety tests of any kimera writer (the CLI's, the server's):
//! run a process killed or paused at a [`crate::crash`] point, then check the store.
//!
//! ```no_run
//! use std::process::Command;
//! use kimera_store::testing::{kill_at, assert_killed, integrity_check, fingerprint};
//! # let (db, reference) = (std::path::Path::new("k.db"), std::path::Path::new("ref.db"));
//! let status = kill_at(Command::new("kimera").args(["run", "--db"]).arg(db), "scars.before_commit", 2)
//!     .status()
//!     .unwrap();
//! assert_killed(status);
//! assert_eq!(integrity_check(db), "ok");
//! // ... run it again to completion, then:
//! assert_eq!(fingerprint(db), fingerprint(reference));
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::crash::{KILL_AT, PAUSE_AT, PAUSE_FILE};

/// Arms `cmd` to SIGKILL itself the `n`th time it reaches `point`.
pub fn kill_at<'a>(cmd: &'a mut Command, point: &str, n: u64) -> &'a mut Command {
    cmd.env(KILL_AT, format!("{point}:{n}"))
}

/// Arms `cmd` to pause the `n`th time it reaches `point`, until `file` is deleted
/// (see [`wait_for_pause`] and [`resume`]).
pub fn pause_at<'a>(cmd: &'a mut Command, point: &str, n: u64, file: &Path) -> &'a mut Command {
    cmd.env(PAUSE_AT, format!("{point}:{n}"))
        .env(PAUSE_FILE, file)
}

/// Asserts the process died of SIGKILL (not an error exit, not a panic).
pub fn assert_killed(status: ExitStatus) {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "expected death by SIGKILL at the crash point, got {status}"
    );
}

/// Polls until `child` is paused at its point (the pause file exists). Panics if it
/// exits first or takes over two minutes.
pub fn wait_for_pause(child: &mut Child, file: &Path) {
    let start = Instant::now();
    while !file.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the process ended ({status}) before reaching its pause point");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no pause after two minutes"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Lets a paused process go on.
pub fn resume(file: &Path) {
    std::fs::remove_file(file).unwrap();
}

/// `PRAGMA integrity_check` of the store file: `"ok"` when sound.
pub fn integrity_check(db: &Path) -> String {
    let c = Connection::open(db).unwrap();
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Columns that record when, not what: they differ between two runs of the same work.
const VOLATILE: &[&str] = &["created_at", "updated_at", "last_seen", "run_id"];

/// Everything the store knows, table by table, as sorted printable rows: what two
/// stores built by the same work share (the `runs` log and timestamps left out).
pub fn fingerprint(db: &Path) -> BTreeMap<String, Vec<String>> {
    let c = Connection::open(db).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'runs' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let cols: Vec<String> = c
            .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .filter_map(|n| n.ok().filter(|n| !VOLATILE.contains(&n.as_str())))
            .collect();
        let mut stmt = c
            .prepare(&format!("SELECT {} FROM \"{t}\"", cols.join(", ")))
            .unwrap();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut s = String::new();
                for i in 0..cols.len() {
                    s.push_str(&match r.get_ref(i)? {
                        ValueRef::Null => "null".to_string(),
                        ValueRef::Integer(v) => v.to_string(),
                        ValueRef::Real(v) => format!("{v:?}"),
                        ValueRef::Text(v) => format!("{:?}", String::from_utf8_lossy(v)),
                        ValueRef::Blob(v) => format!(
                            "blob:{}",
                            v.iter().map(|b| format!("{b:02x}")).collect::<String>()
                        ),
                    });
                    s.push('|');
                }
                Ok(s)
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        rows.sort();
        out.insert(t, rows);
    }
    out
}

/// Asserts two stores hold the same things, naming the first table and row that differ.
pub fn assert_same_store(got: &Path, expected: &Path) {
    let (g, e) = (fingerprint(got), fingerprint(expected));
    for (table, rows) in &e {
        let other = g.get(table).map(Vec::as_slice).unwrap_or(&[]);
        if other != rows.as_slice() {
            let first = rows
                .iter()
                .zip(other)
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("expected {a}\n     got {b}"))
                .unwrap_or_default();
            panic!(
                "table {table} differs: {} rows expected, {} got\n{first}",
                rows.len(),
                other.len()
            );
        }
    }
    assert_eq!(g.len(), e.len(), "the stores have different tables");
}
