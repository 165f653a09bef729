//! Crash points: named places in kimera's writers where a test makes the process die
//! as `kill -9` would, or pause, so crash safety is tested at a chosen point with no
//! sleeps and no races.
//!
//! - `KIMERA_TEST_KILL_AT=<point>:<n>`: the `n`th time (1-based) the process reaches
//!   `<point>`, it sends itself SIGKILL (no destructor, no flush, no rollback runs).
//! - `KIMERA_TEST_PAUSE_AT=<point>:<n>` with `KIMERA_TEST_PAUSE_FILE=<path>`: there
//!   instead it creates `<path>` (holding its pid) and waits until the test deletes
//!   it — e.g. inside a write transaction, to hold the store's write lock while a
//!   second process tries to write.
//!
//! The points every store write passes (`<w>` = `geoids`, `embeddings`, `scars`,
//! `graph`, `llm_cache`, and `batch` for a [`crate::WriteBatch`] — the server's group commit):
//!
//! | point | where |
//! | --- | --- |
//! | `run.started` | a command's `runs` row was written ([`crate::Store::start_run`]) |
//! | `<w>.before_commit` | a write transaction holds its rows and the run's progress, not committed yet |
//! | `<w>.committed` | just after that commit |
//! | `run.finishing` | all work done, before the `runs` row is finished |
//!
//! A new writer (the HTTP server, say) adds its own with [`point`]`("serve.…")`; the
//! test side is in [`crate::testing`] (run a command killed at a point, wait for a
//! pause, compare stores). Unset, each point costs one load of a `OnceLock`.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// `<point>:<n>`: die the `n`th time `<point>` is reached.
pub const KILL_AT: &str = "KIMERA_TEST_KILL_AT";
/// `<point>:<n>`: pause there (see [`PAUSE_FILE`]).
pub const PAUSE_AT: &str = "KIMERA_TEST_PAUSE_AT";
/// The file a paused process creates and waits to see deleted.
pub const PAUSE_FILE: &str = "KIMERA_TEST_PAUSE_FILE";

#[derive(Debug)]
struct Armed {
    point: String,
    n: u64,
    hits: AtomicU64,
}

impl Armed {
    fn from_env(var: &str) -> Option<Armed> {
        let v = std::env::var(var).ok()?;
        let (point, n) = v.rsplit_once(':').unwrap_or((v.as_str(), "1"));
        let n = n.parse().unwrap_or(1);
        Some(Armed {
            point: point.to_string(),
            n,
            hits: AtomicU64::new(0),
        })
    }

    /// True the `n`th time `name` is reached.
    fn fires(&self, name: &str) -> bool {
        self.point == name && self.hits.fetch_add(1, Ordering::SeqCst) + 1 == self.n
    }
}

fn kill_at() -> &'static Option<Armed> {
    static K: OnceLock<Option<Armed>> = OnceLock::new();
    K.get_or_init(|| Armed::from_env(KILL_AT))
}

fn pause_at() -> &'static Option<(Armed, PathBuf)> {
    static P: OnceLock<Option<(Armed, PathBuf)>> = OnceLock::new();
    P.get_or_init(|| {
        let armed = Armed::from_env(PAUSE_AT)?;
        let file = std::env::var_os(PAUSE_FILE)?;
        Some((armed, PathBuf::from(file)))
    })
}

/// A crash point named `name` (see the module docs). Does nothing unless a test armed it.
pub fn point(name: &str) {
    if let Some(k) = kill_at()
        && k.fires(name)
    {
        die(name);
    }
    if let Some((p, file)) = pause_at()
        && p.fires(name)
    {
        pause(name, file);
    }
}

fn die(name: &str) -> ! {
    tracing::warn!(point = name, "{KILL_AT}: killing this process");
    // SIGKILL from outside, as `kill -9` would (std has no raise and unsafe code is
    // denied here); abort (SIGABRT) only if `kill` cannot be run.
    let pid = std::process::id().to_string();
    if std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .is_ok_and(|s| s.success())
    {
        // the signal is on its way: it ends this thread's wait
        loop {
            std::thread::park();
        }
    }
    std::process::abort()
}

fn pause(name: &str, file: &std::path::Path) {
    tracing::warn!(point = name, file = %file.display(), "{PAUSE_AT}: paused until the file is deleted");
    let tmp = file.with_extension("creating");
    // created whole (write then rename), so the test never reads half a pid
    if std::fs::write(&tmp, format!("{}\n", std::process::id())).is_ok() {
        let _ = std::fs::rename(&tmp, file);
    }
    while file.exists() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
