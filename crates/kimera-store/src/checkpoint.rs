//! WAL checkpoints on a thread of their own, for bulk writes.
//!
//! In WAL mode every commit appends the pages it changed to the `-wal` file, and a
//! checkpoint copies them back into the database file and `fsync`s both. SQLite runs
//! that checkpoint itself, on the writing thread, inside the commit that crossed
//! `wal_autocheckpoint` (in a perf profile of a 1M-row ingest at 25,000-row batches,
//! 6.5% of the samples, plus the fsyncs' waits). With
//! [`Store::checkpoint_in_background`] the writing connection stops checkpointing and
//! a second connection, on a thread of its own, runs a `PASSIVE` checkpoint after
//! each commit it is told of ([`Store::wrote`]): it copies what was committed while the
//! writer builds its next transaction, so a second core does that work. It pays with
//! big transactions (ingest's 100,000 rows); after every small one, the copying costs
//! more CPU than it saves (docs/benchmarks.md, "Ingest"). A `PASSIVE`
//! checkpoint never takes the write lock and never waits, and checkpointing is
//! SQLite's own crash-safe operation: what a commit made durable stays so whatever
//! thread copies it and whenever the process dies.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::{Result, Store};

/// WAL length (pages) past which the writer waits for the checkpoint of its last commit
/// before it begins another transaction, 256 MiB. SQLite starts the WAL over only in a
/// transaction that began when every frame was already checkpointed; a writer that never
/// waited would grow the file without end.
const WAL_RESTART_PAGES: i64 = 65_536;

/// The checkpointing thread of a [`Store`] (see the module documentation).
#[derive(Debug)]
pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Commits told of, and those a finished checkpoint covers.
    asked: u64,
    done: u64,
    /// Frames in the WAL when the last checkpoint ended.
    frames: i64,
    stop: bool,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("kimera-checkpoint".into())
            .spawn(move || run(conn, &s))
            .map_err(|e| crate::StoreError::Corrupt(format!("cannot start a thread: {e}")))?;
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }
}

/// The writer's side of a [`Checkpointer`].
#[derive(Debug, Clone)]
pub(crate) struct Nudge(Arc<Shared>);

impl Nudge {
    /// After a commit: asks for a checkpoint (one under way or asked for already covers
    /// the commits before it; never blocks).
    pub(crate) fn nudge(&self) {
        let mut st = self.0.state.lock().expect("checkpoint state");
        st.asked += 1;
        self.0.changed.notify_all();
    }

    /// Before a transaction: when the WAL has grown long, waits for the checkpoint of
    /// the last commit, so that this transaction starts the WAL over.
    pub(crate) fn before_write(&self) {
        let mut st = self.0.state.lock().expect("checkpoint state");
        if st.frames < WAL_RESTART_PAGES {
            return;
        }
        while st.done < st.asked && !st.stop {
            st = self.0.changed.wait(st).expect("checkpoint state");
        }
    }
}

fn run(conn: Connection, shared: &Shared) {
    loop {
        let target = {
            let mut st = shared.state.lock().expect("checkpoint state");
            while st.done == st.asked && !st.stop {
                st = shared.changed.wait(st).expect("checkpoint state");
            }
            if st.done == st.asked {
                return; // stopped, nothing left
            }
            st.asked
        };
        // (busy, frames in the WAL, frames checkpointed): a failure only leaves the
        // copying to a later checkpoint (or to the writer's, once this thread stops)
        let frames =
            match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
                Ok(f) => f,
                Err(e) => {
                    tracing::debug!(error = %e, "background checkpoint failed");
                    0
                }
            };
        let mut st = shared.state.lock().expect("checkpoint state");
        st.done = target;
        st.frames = frames;
        shared.changed.notify_all();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        {
            let mut st = self.shared.state.lock().expect("checkpoint state");
            st.stop = true;
            self.shared.changed.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Store {
    /// From now until [`Store::checkpoint_in_foreground`] (or the store is dropped),
    /// checkpoints run on a thread of their own after each commit of a bulk write,
    /// instead of inside the commits (see [`crate::checkpoint`]'s documentation).
    /// A no-op for an in-memory store.
    pub fn checkpoint_in_background(&mut self) -> Result<()> {
        if self.checkpointer.is_some() || self.path == Path::new(":memory:") {
            return Ok(());
        }
        let c = Checkpointer::start(&self.path)?;
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        self.checkpointer = Some(c);
        Ok(())
    }

    /// Stops the background checkpoints (waiting for one under way) and lets commits
    /// checkpoint again.
    pub fn checkpoint_in_foreground(&mut self) -> Result<()> {
        if let Some(c) = self.checkpointer.take() {
            drop(c);
            self.conn
                .pragma_update(None, "wal_autocheckpoint", crate::WAL_AUTOCHECKPOINT)?;
        }
        Ok(())
    }

    /// Tells the background checkpointer, if any, that a transaction was committed.
    pub(crate) fn wrote(&self) {
        if let Some(n) = self.checkpoint_nudge() {
            n.nudge();
        }
    }

    /// What a transaction that outlives a borrow of the store calls after its commit.
    pub(crate) fn checkpoint_nudge(&self) -> Option<Nudge> {
        self.checkpointer
            .as_ref()
            .map(|c| Nudge(Arc::clone(&c.shared)))
    }
}

#[cfg(test)]
mod tests {
    use kimera_core::{Geoid, Source};

    use super::*;

    /// Transactions committed while another connection checkpoints are all there, in
    /// order, and the file is sound.
    #[test]
    fn commits_with_background_checkpoints_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.db");
        let mut s = Store::open(&p).unwrap();
        s.checkpoint_in_background().unwrap();
        for b in 0..20 {
            let mut tx = s.geoid_tx().unwrap();
            for c in 0..3 {
                let chunk: Vec<Geoid> = (0..50)
                    .map(|i| Geoid::new(format!("fact {b} {c} {i}"), "en", Source::Api))
                    .collect();
                assert_eq!(tx.insert(&chunk, &[]).unwrap().geoids.inserted, 50);
            }
            tx.commit().unwrap();
        }
        s.checkpoint_in_foreground().unwrap();
        drop(s);
        assert_eq!(crate::testing::integrity_check(&p), "ok");
        let s = Store::open(&p).unwrap();
        assert_eq!(s.counts().unwrap().geoids, 3_000);
        let first = s.geoids_after(0, 1).unwrap();
        assert_eq!(first[0].text, "fact 0 0 0");
    }
}
