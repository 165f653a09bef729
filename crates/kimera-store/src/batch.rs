//! Write batches: statements, their vectors and the scars found for them, committed in
//! one transaction.
//!
//! The server's writer gathers the statements of several requests and commits them
//! together (group commit); a request is acknowledged only after that commit, so either
//! everything it sent is in the store — statements, vectors, scars — or nothing is.
//!
//! ```
//! use kimera_core::{Geoid, Source};
//! use kimera_store::Store;
//! let mut store = Store::open_in_memory().unwrap();
//! let mut batch = store.write_batch().unwrap();
//! let added = batch
//!     .add_statements(&[
//!         Geoid::new("Snow is white.", "en", Source::Api),
//!         Geoid::new("snow is  WHITE", "en", Source::Api),
//!     ])
//!     .unwrap();
//! batch.commit().unwrap();
//! assert!(added[0].new && !added[1].new);
//! assert_eq!(added[0].id, added[1].id, "a duplicate resolves to the stored id");
//! ```

use kimera_core::{Geoid, GeoidId, Scar};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::{Result, Store};

/// What became of one statement of [`WriteBatch::add_statements`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The id the store keeps it under: its own, or that of the stored statement it
    /// duplicates (same id, or same normalised text and language).
    pub id: GeoidId,
    /// False for a duplicate: the store is unchanged for it.
    pub new: bool,
}

/// An open write transaction on a [`Store`]; dropped without [`WriteBatch::commit`] it
/// rolls back.
#[derive(Debug)]
pub struct WriteBatch<'a> {
    tx: Transaction<'a>,
}

impl Store {
    /// Starts a write batch. The transaction takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a writer that read first and upgraded later could fail with "database
    /// is locked" when another process committed in between; this one waits instead
    /// (up to the busy timeout).
    pub fn write_batch(&mut self) -> Result<WriteBatch<'_>> {
        Ok(WriteBatch {
            tx: crate::write_tx(&mut self.conn)?,
        })
    }

    /// Adds statements in one transaction and says, for each, the id it is stored under
    /// and whether it was new (same ids and de-duplication as [`Store::insert_geoids`]).
    pub fn add_statements(&mut self, geoids: &[Geoid]) -> Result<Vec<Added>> {
        let mut batch = self.write_batch()?;
        let added = batch.add_statements(geoids)?;
        batch.commit()?;
        Ok(added)
    }
}

impl WriteBatch<'_> {
    /// Adds statements in order. A statement whose id or normalised text (in the same
    /// language) is already stored — by an earlier batch or earlier in this call — is a
    /// duplicate: left as it was, reported with the stored id.
    pub fn add_statements(&mut self, geoids: &[Geoid]) -> Result<Vec<Added>> {
        let mut insert = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO geoids
             (id, text, lang, text_hash, dedupe_key, source, external_id, label, created_at,
              valid_from, valid_to)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        let mut existing = self
            .tx
            .prepare_cached("SELECT id FROM geoids WHERE id = ?1 OR dedupe_key = ?2 LIMIT 1")?;
        let mut out = Vec::with_capacity(geoids.len());
        for g in geoids {
            let key = crate::geoids::dedupe_int(&g.dedupe_key());
            let n = insert.execute(params![
                g.id.as_str(),
                g.text,
                g.lang,
                &g.text_hash[..],
                key,
                g.source.to_string(),
                g.external_id,
                g.label,
                g.created_at,
                g.valid_from,
                g.valid_to,
            ])?;
            if n == 1 {
                out.push(Added {
                    id: g.id.clone(),
                    new: true,
                });
            } else {
                let id: Option<String> = existing
                    .query_row(params![g.id.as_str(), key], |r| r.get(0))
                    .optional()?;
                out.push(Added {
                    id: id.map_or_else(|| g.id.clone(), GeoidId),
                    new: false,
                });
            }
        }
        Ok(out)
    }

    /// Stores vectors for `model` (existing ones are kept); returns how many were new.
    pub fn put_embeddings(&mut self, model: &str, items: &[([u8; 32], &[f32])]) -> Result<u64> {
        crate::embeddings::put_embeddings_on(&self.tx, model, items)
    }

    /// Records scars (a pair already scarred by the same detector is left alone);
    /// returns how many were new.
    pub fn add_scars(&mut self, scars: &[Scar], run_id: Option<i64>) -> Result<u64> {
        crate::scars::insert_scars_on(&self.tx, scars, run_id)
    }

    /// Makes the batch durable (to the extent of the connection's `synchronous` setting),
    /// with the crash points `batch.before_commit` and `batch.committed` around it.
    pub fn commit(self) -> Result<()> {
        crate::commit(self.tx, crate::Write::Batch, None, 0)
    }
}

#[cfg(test)]
mod tests {
    use kimera_core::Source;

    use super::*;

    fn g(text: &str) -> Geoid {
        Geoid::new(text, "en", Source::Api)
    }

    #[test]
    fn statements_report_their_stored_ids_and_newness() {
        let mut s = Store::open_in_memory().unwrap();
        s.insert_geoids(&[g("Fire is hot").with_external_id("f1")])
            .unwrap();
        let added = s
            .add_statements(&[
                g("fire is HOT."),
                g("Ice is cold"),
                g("ice is cold"),
                g("Something else").with_external_id("f1"),
            ])
            .unwrap();
        let got: Vec<(&str, bool)> = added.iter().map(|a| (a.id.as_str(), a.new)).collect();
        let ice = GeoidId::from_text("Ice is cold", "en");
        assert_eq!(
            got,
            [
                ("f1", false),
                (ice.as_str(), true),
                (ice.as_str(), false),
                ("f1", false)
            ]
        );
        assert_eq!(s.counts().unwrap().geoids, 2);
        assert_eq!(s.geoid(&ice).unwrap().unwrap().text, "Ice is cold");
    }

    #[test]
    fn a_batch_commits_statements_vectors_and_scars_together_or_not_at_all() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = (g("Fire is hot"), g("Fire is cold"));
        let ev = serde_json::json!({"rule": "antonym"});
        {
            let mut batch = s.write_batch().unwrap();
            batch.add_statements(&[a.clone(), b.clone()]).unwrap();
            batch
                .put_embeddings("m", &[(a.text_hash, &[1.0, 0.0][..])])
                .unwrap();
            let scar = Scar::new(a.id.clone(), b.id.clone(), 0.9, "lexical", ev.clone());
            assert_eq!(batch.add_scars(&[scar], None).unwrap(), 1);
            // dropped without commit: rolled back
        }
        let c = s.counts().unwrap();
        assert_eq!((c.geoids, c.embeddings, c.scars), (0, 0, 0));

        let mut batch = s.write_batch().unwrap();
        batch.add_statements(&[a.clone(), b.clone()]).unwrap();
        batch
            .put_embeddings("m", &[(a.text_hash, &[1.0, 0.0][..])])
            .unwrap();
        let scar = Scar::new(b.id.clone(), a.id.clone(), 0.9, "lexical", ev);
        batch.add_scars(&[scar.clone(), scar], None).unwrap();
        batch.commit().unwrap();
        let c = s.counts().unwrap();
        assert_eq!((c.geoids, c.embeddings, c.scars), (2, 1, 1));
    }

    #[test]
    fn a_second_connection_waits_for_the_write_lock_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.db");
        let mut one = Store::open(&p).unwrap();
        let mut two = Store::open(&p).unwrap();
        let batch = one.write_batch().unwrap();
        let t = std::thread::spawn(move || {
            two.add_statements(&[g("from the second connection")])
                .unwrap()
        });
        // the second writer is blocked until this batch ends
        std::thread::yield_now();
        batch.commit().unwrap();
        let added = t.join().unwrap();
        assert!(added[0].new);
    }
}
