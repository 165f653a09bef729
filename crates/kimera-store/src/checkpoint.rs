//! WAL checkpoints on a thread of their own, for bulk writes.
//!
//! In WAL mode every commit appends the pages it changed to the `-wal` file, and a
//! checkpoint copies them back into the database file and `fsync`s both. SQLite runs
//! that checkpoint itself, on the writing thread, inside the commit that crossed
//! `wal_autocheckpoint` — during a bulk ingest a third of the writer's time. With
//! [`Store::checkpoint_in_background`] the writing connection stops checkpointing and
//! a second connection, on a thread of its own, runs a `PASSIVE` checkpoint after
//! each commit it is told of ([`Store::wrote`]): it copies what was committed while the
//! writer builds its next transaction, so a second core does that work. A `PASSIVE`
//! checkpoint never takes the write lock and never waits, and checkpointing is
//! SQLite's own crash-safe operation: what a commit made durable stays so whatever
//! thread copies it and whenever the process dies.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::{Result, Store};

/// The checkpointing thread of a [`Store`] (see the module documentation).
#[derive(Debug)]
pub(crate) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // one pending nudge is enough: a checkpoint copies every commit before it
        let (nudge, rx) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("kimera-checkpoint".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| crate::StoreError::Corrupt(format!("cannot start a thread: {e}")))?;
        Ok(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
        })
    }
}

/// Asks a [`Checkpointer`] for a checkpoint after a commit.
#[derive(Debug, Clone)]
pub(crate) struct Nudge(SyncSender<()>);

impl Nudge {
    /// Never blocks: a checkpoint already asked for covers this commit too, and a
    /// stopped checkpointer leaves the copying to the writer's own checkpoints.
    pub(crate) fn nudge(&self) {
        match self.0.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }
}

fn run(conn: Connection, rx: Receiver<()>) {
    for () in rx {
        // (busy, frames in the WAL, frames checkpointed): a failure only leaves the
        // copying to a later checkpoint (or to the writer's, once this thread stops)
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0))
        {
            tracing::debug!(error = %e, "background checkpoint failed");
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.nudge.take());
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
            .and_then(|c| c.nudge.clone().map(Nudge))
    }
}
