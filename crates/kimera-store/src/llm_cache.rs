//! LLM judge response cache: one verdict per (model, prompt version, text A, text B), so a
//! re-run of a benchmark makes no repeated calls.
//!
//! Keys hold BLAKE3 hashes of the exact texts (see `kimera_core::text_hash`), in the
//! order they were put to the model: the prompt is ordered, so (a, b) and (b, a) are
//! different questions. Only successful verdicts are cached; the response is the
//! judge's verdict as JSON, opaque to the store.

use rusqlite::params;

use crate::{Result, Store};

/// Migration 2: responses keyed by (model, prompt version, text hashes of a and b).
pub(crate) const SCHEMA_V2: &str = "
CREATE TABLE llm_cache (
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    a_hash         BLOB NOT NULL,         -- BLAKE3 of the exact text of statement A
    b_hash         BLOB NOT NULL,
    response       TEXT NOT NULL,         -- JSON verdict
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (model, prompt_version, a_hash, b_hash)
) WITHOUT ROWID;
";

/// The text hashes of one judged pair: (hash of A, hash of B).
pub type LlmCacheKey = ([u8; 32], [u8; 32]);

impl Store {
    /// Looks up a batch of pairs for `model` and `prompt_version`; one entry per key, in
    /// order (`None` = not cached).
    pub fn llm_cache_get(
        &self,
        model: &str,
        prompt_version: &str,
        keys: &[LlmCacheKey],
    ) -> Result<Vec<Option<String>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT response FROM llm_cache
             WHERE model = ?1 AND prompt_version = ?2 AND a_hash = ?3 AND b_hash = ?4",
        )?;
        keys.iter()
            .map(|(a, b)| {
                let mut rows = stmt.query(params![model, prompt_version, &a[..], &b[..]])?;
                Ok(match rows.next()? {
                    Some(r) => Some(r.get::<_, String>(0)?),
                    None => None,
                })
            })
            .collect()
    }

    /// Stores a batch of responses in one transaction; a newer response for the same key
    /// replaces the older one. Returns the number of rows written.
    pub fn llm_cache_put(
        &mut self,
        model: &str,
        prompt_version: &str,
        items: &[(LlmCacheKey, &str)],
    ) -> Result<u64> {
        let now = kimera_core::unix_now();
        let run = self.run;
        let tx = crate::write_tx(&mut self.conn)?;
        let mut n = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO llm_cache
                 (model, prompt_version, a_hash, b_hash, response, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for ((a, b), response) in items {
                n += stmt.execute(params![
                    model,
                    prompt_version,
                    &a[..],
                    &b[..],
                    response,
                    now
                ])? as u64;
            }
        }
        crate::commit(tx, crate::Write::LlmCache, run, n)?;
        Ok(n)
    }

    /// Number of cached responses (all models).
    pub fn llm_cache_len(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM llm_cache", [], |r| r.get::<_, i64>(0))?
            as u64)
    }
}

#[cfg(test)]
mod tests {
    use kimera_core::text_hash;

    use crate::Store;

    fn key(a: &str, b: &str) -> super::LlmCacheKey {
        (text_hash(a), text_hash(b))
    }

    #[test]
    fn put_then_get_in_order_with_misses() {
        let mut s = Store::open_in_memory().unwrap();
        let k1 = key("a", "b");
        let k2 = key("b", "a");
        let k3 = key("c", "d");
        assert_eq!(
            s.llm_cache_put("m", "v1", &[(k1, "{\"x\":1}"), (k3, "{\"x\":3}")])
                .unwrap(),
            2
        );
        let got = s.llm_cache_get("m", "v1", &[k3, k2, k1]).unwrap();
        assert_eq!(
            got,
            vec![
                Some("{\"x\":3}".to_string()),
                None,
                Some("{\"x\":1}".to_string())
            ],
            "order of the pair matters"
        );
        assert_eq!(
            s.llm_cache_get("m", "v2", &[k1]).unwrap(),
            vec![None],
            "prompt version is part of the key"
        );
        assert_eq!(
            s.llm_cache_get("other", "v1", &[k1]).unwrap(),
            vec![None],
            "model is part of the key"
        );
        assert!(s.llm_cache_get("m", "v1", &[]).unwrap().is_empty());
    }

    #[test]
    fn newer_response_replaces_older_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.db");
        {
            let mut s = Store::open(&p).unwrap();
            s.llm_cache_put("m", "v1", &[(key("a", "b"), "old")])
                .unwrap();
            s.llm_cache_put("m", "v1", &[(key("a", "b"), "new")])
                .unwrap();
        }
        let s = Store::open(&p).unwrap();
        assert_eq!(s.llm_cache_len().unwrap(), 1);
        assert_eq!(
            s.llm_cache_get("m", "v1", &[key("a", "b")]).unwrap(),
            vec![Some("new".into())]
        );
    }
}
