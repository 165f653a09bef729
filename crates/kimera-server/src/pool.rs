//! Read connections to the store, reused between requests.
//!
//! SQLite in WAL mode lets any number of readers run beside the one writer, but a
//! connection serves one thread at a time: each blocking task takes one from the pool
//! and gives it back when done (on drop). The pool opens a connection when none is idle
//! and keeps at most `max_idle` idle ones.

use std::path::PathBuf;
use std::sync::Mutex;

use kimera_store::Store;

use crate::Result;

#[derive(Debug)]
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
    max_idle: usize,
}

/// A connection on loan from the pool.
#[derive(Debug)]
pub(crate) struct Conn<'a> {
    pool: &'a ReadPool,
    store: Option<Store>,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store.as_ref().expect("a loaned connection")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.store.take() {
            let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < self.pool.max_idle {
                idle.push(s);
            }
        }
    }
}

impl ReadPool {
    pub(crate) fn new(path: PathBuf, max_idle: usize) -> ReadPool {
        ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// An idle connection, or a new one.
    pub(crate) fn get(&self) -> Result<Conn<'_>> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let store = match idle {
            Some(s) => s,
            None => Store::open(&self.path)?,
        };
        Ok(Conn {
            pool: self,
            store: Some(store),
        })
    }
}
