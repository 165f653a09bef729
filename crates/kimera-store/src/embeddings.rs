//! The persistent embedding cache: vectors keyed by (model id, hash of the exact text).

use rusqlite::params;
use rusqlite::types::ValueRef;

use crate::{GeoidRow, Result, Store, StoreError};

/// Cached vectors for a batch of text hashes, in the order asked (`None` = miss).
pub type EmbeddingHit = Option<Vec<f32>>;

/// Encodes a vector as little-endian f32 bytes.
pub fn f32s_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Decodes little-endian f32 bytes.
pub fn f32s_from_blob(b: &[u8]) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(b.len() / 4);
    decode_into(b, &mut out)?;
    Ok(out)
}

/// Appends the f32s of `b` to `out` (one buffer reused for every row of a scan).
fn decode_into(b: &[u8], out: &mut Vec<f32>) -> Result<()> {
    if b.len() % 4 != 0 {
        return Err(StoreError::Corrupt(format!(
            "embedding blob of {} bytes is not a whole number of f32",
            b.len()
        )));
    }
    out.extend(
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
    );
    Ok(())
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
        let run = self.run;
        let tx = crate::write_tx(&mut self.conn)?;
        let n = put_embeddings_on(&tx, model, items)?;
        crate::commit(tx, crate::Write::Embeddings, run, n)?;
        Ok(n)
    }

    /// Calls `f` for every geoid in `seq` order with its vector for `model` (`None`: not
    /// embedded), from one streaming query: geoids `LEFT JOIN` embeddings.
    ///
    /// Why not [`Store::geoids_after`] + [`Store::get_embeddings`]: that is one statement
    /// execution per geoid, which dominated loading a million vectors (157 s of a 17 min
    /// run). Here SQLite walks the geoids in rowid order and probes the embeddings' primary
    /// key itself; a row is decoded into a buffer reused for the next one, so memory does
    /// not grow with the store — the caller decides what to keep. An error from `f` stops
    /// the scan and is returned.
    ///
    /// The probes still land at random places of the embeddings table (it is keyed by
    /// hash), one page read each: a caller that keeps every vector anyway is faster with
    /// [`Store::for_each_embedding`] (7× on 100k vectors).
    pub fn for_each_geoid_with_embedding<E: From<StoreError>>(
        &self,
        model: &str,
        mut f: impl FnMut(&GeoidRow, Option<&[f32]>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT g.seq, g.id, g.text, g.lang, g.text_hash, g.source, g.external_id,
                        g.label, g.created_at, e.vector
                 FROM geoids g
                 LEFT JOIN embeddings e ON e.model = ?1 AND e.text_hash = g.text_hash
                 ORDER BY g.seq",
            )
            .map_err(StoreError::from)?;
        let mut rows = stmt.query([model]).map_err(StoreError::from)?;
        let mut buf: Vec<f32> = Vec::new();
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let row = crate::geoids::geoid_row(r).map_err(StoreError::from)?;
            let vector = match r.get_ref(9).map_err(StoreError::from)? {
                ValueRef::Null => None,
                ValueRef::Blob(b) => {
                    buf.clear();
                    decode_into(b, &mut buf).map_err(|_| {
                        StoreError::Corrupt(format!(
                            "geoid {}: embedding for model {model:?} is {} bytes, not a whole number of f32",
                            row.id,
                            b.len()
                        ))
                    })?;
                    Some(buf.as_slice())
                }
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "geoid {}: embedding for model {model:?} is a {:?}, not a blob",
                        row.id,
                        other.data_type()
                    ))
                    .into());
                }
            };
            f(&row, vector)?;
        }
        Ok(())
    }

    /// Calls `f` with every vector stored for `model` and its text hash, in key (hash)
    /// order: one sequential scan of the embeddings table, the fastest way to read them
    /// all. Vectors of texts that are no longer stored as geoids are included; pairing
    /// them with geoids (by [`GeoidRow::text_hash`]) is the caller's job. A row is decoded
    /// into a buffer reused for the next one; an error from `f` stops the scan.
    pub fn for_each_embedding<E: From<StoreError>>(
        &self,
        model: &str,
        mut f: impl FnMut(&[u8; 32], &[f32]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT text_hash, vector FROM embeddings WHERE model = ?1 ORDER BY text_hash",
            )
            .map_err(StoreError::from)?;
        let mut rows = stmt.query([model]).map_err(StoreError::from)?;
        let mut buf: Vec<f32> = Vec::new();
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let hash = r.get_ref(0).map_err(StoreError::from)?;
            let hash: [u8; 32] = match hash {
                ValueRef::Blob(b) if b.len() == 32 => b.try_into().expect("32 bytes"),
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "an embedding for model {model:?} has a text hash of {} bytes, not 32",
                        other.as_bytes().map_or(0, <[u8]>::len)
                    ))
                    .into());
                }
            };
            buf.clear();
            match r.get_ref(1).map_err(StoreError::from)? {
                ValueRef::Blob(b) => decode_into(b, &mut buf).map_err(|_| {
                    StoreError::Corrupt(format!(
                        "embedding of text hash {} for model {model:?} is {} bytes, not a whole number of f32",
                        hex_prefix(&hash),
                        b.len()
                    ))
                })?,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "embedding of text hash {} for model {model:?} is a {:?}, not a blob",
                        hex_prefix(&hash),
                        other.data_type()
                    ))
                    .into());
                }
            }
            f(&hash, &buf)?;
        }
        Ok(())
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

/// Inserts vectors on `conn` (inside the caller's transaction); existing ones are kept.
pub(crate) fn put_embeddings_on(
    conn: &rusqlite::Connection,
    model: &str,
    items: &[([u8; 32], &[f32])],
) -> Result<u64> {
    let now = kimera_core::unix_now();
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO embeddings (model, text_hash, dim, vector, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut n = 0;
    for (h, v) in items {
        n += stmt.execute(params![model, &h[..], v.len() as i64, f32s_to_blob(v), now])? as u64;
    }
    Ok(n)
}

/// The first 8 bytes of a hash in hex: enough to find the row.
fn hex_prefix(h: &[u8; 32]) -> String {
    h[..8].iter().map(|b| format!("{b:02x}")).collect()
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

    /// Every geoid with its vector the old way: a page of geoids, then one lookup per hash.
    fn per_hash(s: &Store, model: &str) -> Vec<(GeoidRow, Option<Vec<f32>>)> {
        let mut out = Vec::new();
        s.for_each_geoid(3, |rows| {
            let hashes: Vec<[u8; 32]> = rows.iter().map(|r| r.text_hash).collect();
            let vecs = s.get_embeddings(model, &hashes)?;
            out.extend(rows.iter().cloned().zip(vecs));
            Ok(())
        })
        .unwrap();
        out
    }

    fn bulk(s: &Store, model: &str) -> Vec<(GeoidRow, Option<Vec<f32>>)> {
        let mut out = Vec::new();
        s.for_each_geoid_with_embedding::<StoreError>(model, |g, v| {
            out.push((g.clone(), v.map(<[f32]>::to_vec)));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn bulk_scan_gives_exactly_what_per_hash_lookups_give() {
        use kimera_core::{Geoid, Source};
        let mut s = Store::open_in_memory().unwrap();
        assert!(bulk(&s, "m1").is_empty());
        let mut geoids: Vec<Geoid> = (0..10)
            .map(|i| Geoid::new(format!("statement {i}"), "en", Source::Api))
            .collect();
        // the same text in another language: another geoid, the same cached vector
        geoids.push(Geoid::new("statement 3", "fr", Source::Api));
        s.insert_geoids(&geoids).unwrap();
        let vecs: Vec<Vec<f32>> = (0..10)
            .map(|i| vec![i as f32, -0.5, f32::MIN_POSITIVE])
            .collect();
        // geoids 2 and 7 have no vector for m1; geoid 4 only has one for m2
        let m1: Vec<([u8; 32], &[f32])> = (0..10)
            .filter(|i| ![2, 4, 7].contains(i))
            .map(|i| (geoids[i].text_hash, vecs[i].as_slice()))
            .collect();
        s.put_embeddings("m1", &m1).unwrap();
        s.put_embeddings("m2", &[(geoids[4].text_hash, &[9.0, 9.0][..])])
            .unwrap();

        let got = bulk(&s, "m1");
        assert_eq!(got, per_hash(&s, "m1"));
        assert_eq!(got.len(), 11);
        let missing: Vec<&str> = got
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(g, _)| g.text.as_str())
            .collect();
        assert_eq!(missing, ["statement 2", "statement 4", "statement 7"]);
        assert_eq!(got[10].0.lang, "fr");
        assert_eq!(got[10].1.as_deref(), Some(&vecs[3][..]));
        assert!(got.windows(2).all(|w| w[0].0.seq < w[1].0.seq));
        assert_eq!(bulk(&s, "m2"), per_hash(&s, "m2"));
        assert!(bulk(&s, "none").iter().all(|(_, v)| v.is_none()));
    }

    #[test]
    fn key_order_scan_gives_every_vector_of_the_model_once() {
        let mut s = Store::open_in_memory().unwrap();
        let hs: Vec<[u8; 32]> = (0..20)
            .map(|i| kimera_core::text_hash(&format!("t{i}")))
            .collect();
        let vs: Vec<Vec<f32>> = (0..20).map(|i| vec![i as f32, 1.0]).collect();
        let items: Vec<([u8; 32], &[f32])> = hs
            .iter()
            .zip(&vs)
            .map(|(h, v)| (*h, v.as_slice()))
            .collect();
        s.put_embeddings("m1", &items[..15]).unwrap();
        s.put_embeddings("m2", &items[10..]).unwrap();
        let mut got = Vec::new();
        s.for_each_embedding::<StoreError>("m1", |h, v| {
            got.push((*h, v.to_vec()));
            Ok(())
        })
        .unwrap();
        let mut want: Vec<([u8; 32], Vec<f32>)> = hs
            .iter()
            .copied()
            .zip(vs.iter().cloned())
            .take(15)
            .collect();
        want.sort_by_key(|a| a.0);
        assert_eq!(got, want, "every m1 vector once, in hash order");
        let mut n = 0;
        s.for_each_embedding::<StoreError>("none", |_, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn key_order_scan_rejects_corrupt_rows_with_a_clear_error() {
        let s = Store::open_in_memory().unwrap();
        s.conn()
            .execute(
                "INSERT INTO embeddings (model, text_hash, dim, vector, created_at)
                 VALUES ('m', x'0102', 1, x'00000000', 0)",
                [],
            )
            .unwrap();
        let err = s
            .for_each_embedding::<StoreError>("m", |_, _| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("text hash of 2 bytes"), "{err}");
        let h = kimera_core::text_hash("x");
        s.conn()
            .execute(
                "INSERT INTO embeddings (model, text_hash, dim, vector, created_at)
                 VALUES ('n', ?1, 1, x'0000', 0)",
                [&h[..]],
            )
            .unwrap();
        let err = s
            .for_each_embedding::<StoreError>("n", |_, _| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&hex_prefix(&h)) && err.contains("2 bytes"),
            "{err}"
        );
    }

    #[test]
    fn bulk_scan_names_the_geoid_of_a_corrupt_vector_and_stops_on_error() {
        use kimera_core::{Geoid, Source};
        let mut s = Store::open_in_memory().unwrap();
        let g = [
            Geoid::new("one", "en", Source::Api),
            Geoid::new("two", "en", Source::Api),
        ];
        s.insert_geoids(&g).unwrap();
        s.put_embeddings("m", &[(g[0].text_hash, &[1.0][..])])
            .unwrap();
        s.conn()
            .execute(
                "INSERT INTO embeddings (model, text_hash, dim, vector, created_at)
                 VALUES ('m', ?1, 1, x'010203', 0)",
                [&g[1].text_hash[..]],
            )
            .unwrap();
        let mut seen = 0;
        let err = s
            .for_each_geoid_with_embedding::<StoreError>("m", |_, _| {
                seen += 1;
                Ok(())
            })
            .unwrap_err()
            .to_string();
        assert_eq!(seen, 1, "the good row came first");
        assert!(
            err.contains(g[1].id.as_str()) && err.contains("3 bytes"),
            "{err}"
        );

        // a caller's error ends the scan and comes back as it was
        let mut calls = 0;
        let err = s
            .for_each_geoid_with_embedding::<StoreError>("none", |_, _| {
                calls += 1;
                Err(StoreError::Corrupt("stop".into()))
            })
            .unwrap_err();
        assert_eq!((calls, err.to_string().contains("stop")), (1, true));
    }
}
