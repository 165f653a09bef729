//! The persistent embedding cache: vectors keyed by (model id, hash of the exact text).

use rusqlite::params;

use crate::{Result, Store, StoreError};

/// Cached vectors for a batch of text hashes, in the order asked (`None` = miss).
pub type EmbeddingHit = Option<Vec<f32>>;

/// Encodes a vector as little-endian f32 bytes.
pub fn f32s_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Decodes little-endian f32 bytes.
pub fn f32s_from_blob(b: &[u8]) -> Result<Vec<f32>> {
    if b.len() % 4 != 0 {
        return Err(StoreError::Corrupt(format!(
            "embedding blob of {} bytes is not a whole number of f32",
            b.len()
        )));
    }
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

impl Store {
    /// Looks up a batch of text hashes for `model`; the result has one entry per hash.
    pub fn get_embeddings(&self, model: &str, hashes: &[[u8; 32]]) -> Result<Vec<EmbeddingHit>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT vector FROM embeddings WHERE model = ?1 AND text_hash = ?2")?;
        hashes
            .iter()
            .map(|h| {
                let mut rows = stmt.query(params![model, &h[..]])?;
                match rows.next()? {
                    Some(r) => Ok(Some(f32s_from_blob(&r.get::<_, Vec<u8>>(0)?)?)),
                    None => Ok(None),
                }
            })
            .collect()
    }

    /// Stores a batch of vectors for `model` in one transaction (existing ones are kept).
    pub fn put_embeddings(&mut self, model: &str, items: &[([u8; 32], &[f32])]) -> Result<u64> {
        let now = kimera_core::unix_now();
        let tx = self.conn.transaction()?;
        let mut n = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO embeddings (model, text_hash, dim, vector, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (h, v) in items {
                n += stmt.execute(params![model, &h[..], v.len() as i64, f32s_to_blob(v), now])?
                    as u64;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Number of geoids that have no vector for `model`.
    pub fn count_missing_embeddings(&self, model: &str) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM geoids g WHERE NOT EXISTS
               (SELECT 1 FROM embeddings e WHERE e.model = ?1 AND e.text_hash = g.text_hash)",
            [model],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_and_are_keyed_by_model() {
        let mut s = Store::open_in_memory().unwrap();
        let h1 = kimera_core::text_hash("a");
        let h2 = kimera_core::text_hash("b");
        let v = vec![0.25f32, -1.5, f32::MIN_POSITIVE];
        assert_eq!(s.put_embeddings("m1", &[(h1, &v)]).unwrap(), 1);
        assert_eq!(s.put_embeddings("m1", &[(h1, &v)]).unwrap(), 0);
        assert_eq!(
            s.get_embeddings("m1", &[h1, h2]).unwrap(),
            vec![Some(v), None]
        );
        assert_eq!(s.get_embeddings("m2", &[h1]).unwrap(), vec![None]);
    }

    #[test]
    fn corrupt_blob_is_an_error() {
        assert!(f32s_from_blob(&[1, 2, 3]).is_err());
    }
}
