//! The persistent embedding cache: an [`Encoder`] in front of the store's `embeddings`
//! table, keyed by (`Encoder::model_id`, BLAKE3 of the exact text).
//!
//! Because the key holds the model id (weights hash + precision), a different model or
//! precision simply misses: a stale vector is never returned.

use std::collections::HashMap;
use std::time::Instant;

use kimera_store::Store;
use rusqlite::params;
use serde::Serialize;

use crate::{EmbedError, Encoder, Result};

/// Cache outcome of one [`embed_texts_cached`] call.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Texts whose vector came from the store.
    pub hits: u64,
    /// Distinct texts that had to be encoded (and were then stored).
    pub misses: u64,
}

/// Embeds `texts`, taking what the store already holds for `enc.model_id()` and
/// encoding (then storing, in one transaction) only the rest. Duplicate texts are
/// encoded once.
pub fn embed_texts_cached(
    store: &mut Store,
    enc: &dyn Encoder,
    texts: &[&str],
) -> Result<(Vec<Vec<f32>>, CacheStats)> {
    let model = enc.model_id();
    let hashes: Vec<[u8; 32]> = texts.iter().map(|t| kimera_core::text_hash(t)).collect();
    let cached = store.get_embeddings(model, &hashes)?;
    let mut out: Vec<Option<Vec<f32>>> = Vec::with_capacity(texts.len());
    let mut stats = CacheStats::default();
    // distinct missing texts, in first-seen order
    let mut todo: Vec<usize> = Vec::new();
    let mut slot_of: HashMap<[u8; 32], usize> = HashMap::new();
    for (i, hit) in cached.into_iter().enumerate() {
        match hit {
            Some(v) => {
                check_dim(model, enc.dim(), v.len())?;
                stats.hits += 1;
                out.push(Some(v));
            }
            None => {
                slot_of.entry(hashes[i]).or_insert_with(|| {
                    todo.push(i);
                    todo.len() - 1
                });
                out.push(None);
            }
        }
    }
    stats.misses = todo.len() as u64;
    if !todo.is_empty() {
        let todo_texts: Vec<&str> = todo.iter().map(|&i| texts[i]).collect();
        let vecs = enc.encode(&todo_texts)?;
        let items: Vec<([u8; 32], &[f32])> = todo
            .iter()
            .zip(&vecs)
            .map(|(&i, v)| (hashes[i], v.as_slice()))
            .collect();
        store.put_embeddings(model, &items)?;
        for (i, slot) in out.iter_mut().enumerate() {
            if slot.is_none() {
                *slot = Some(vecs[slot_of[&hashes[i]]].clone());
            }
        }
    }
    Ok((
        out.into_iter().map(|v| v.unwrap_or_default()).collect(),
        stats,
    ))
}

fn check_dim(model: &str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(EmbedError::DimMismatch {
            model: model.to_string(),
            expected,
            found,
        })
    }
}

/// What [`embed_store`] did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct EmbedStats {
    pub model_id: String,
    /// Geoids in the store.
    pub geoids: u64,
    /// Geoids that already had a vector for this model (cache hits).
    pub hits: u64,
    /// Geoids that lacked one when the run started.
    pub misses: u64,
    /// Distinct texts encoded (≤ misses: geoids with the same exact text share a vector).
    pub encoded: u64,
    pub seconds: f64,
    /// Texts encoded per second of wall time (encode + store writes).
    pub texts_per_sec: f64,
}

/// Embeds every geoid lacking a vector for `enc.model_id()`, `batch` geoids at a time
/// (each batch read, encoded and written in one transaction), so an interrupted run keeps
/// every finished batch. `progress(done, total)` is called after each batch with counts
/// of geoids.
pub fn embed_store(
    store: &mut Store,
    enc: &dyn Encoder,
    batch: usize,
    progress: &dyn Fn(u64, u64),
) -> Result<EmbedStats> {
    let start = Instant::now();
    let model = enc.model_id().to_string();
    let batch = batch.max(1);
    let geoids = store.counts()?.geoids;
    let missing = store.count_missing_embeddings(&model)?;
    let mut stats = EmbedStats {
        model_id: model.clone(),
        geoids,
        hits: geoids - missing.min(geoids),
        misses: missing,
        ..Default::default()
    };
    let mut done = 0u64;
    let mut after = 0i64;
    progress(0, missing);
    loop {
        let rows = missing_after(store, &model, after, batch)?;
        let Some(&(last, _, _)) = rows.last() else {
            break;
        };
        after = last;
        let mut seen: HashMap<[u8; 32], ()> = HashMap::new();
        let unique: Vec<&(i64, String, [u8; 32])> = rows
            .iter()
            .filter(|r| seen.insert(r.2, ()).is_none())
            .collect();
        let texts: Vec<&str> = unique.iter().map(|r| r.1.as_str()).collect();
        let vecs = enc.encode(&texts)?;
        for v in &vecs {
            check_dim(&model, enc.dim(), v.len())?;
        }
        let items: Vec<([u8; 32], &[f32])> = unique
            .iter()
            .zip(&vecs)
            .map(|(r, v)| (r.2, v.as_slice()))
            .collect();
        store.put_embeddings(&model, &items)?;
        stats.encoded += items.len() as u64;
        done += rows.len() as u64;
        progress(done.min(missing), missing);
    }
    // Geoids whose text was embedded in an earlier batch (same exact text) were skipped.
    progress(missing, missing);
    stats.seconds = start.elapsed().as_secs_f64();
    stats.texts_per_sec = if stats.seconds > 0.0 {
        stats.encoded as f64 / stats.seconds
    } else {
        0.0
    };
    Ok(stats)
}

/// Geoids after `seq` that have no vector for `model`: (seq, text, text hash).
fn missing_after(
    store: &Store,
    model: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<(i64, String, [u8; 32])>> {
    let mut stmt = store.conn().prepare_cached(
        "SELECT g.seq, g.text, g.text_hash FROM geoids g
         WHERE g.seq > ?1 AND NOT EXISTS
           (SELECT 1 FROM embeddings e WHERE e.model = ?2 AND e.text_hash = g.text_hash)
         ORDER BY g.seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![after, model, limit as i64], |r| {
        let seq: i64 = r.get(0)?;
        let text: String = r.get(1)?;
        let h: Vec<u8> = r.get(2)?;
        Ok((seq, text, h))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, text, h) = row?;
        let hash: [u8; 32] = h.as_slice().try_into().map_err(|_| {
            EmbedError::Store(kimera_store::StoreError::Corrupt(format!(
                "geoid seq {seq}: text_hash has {} bytes, expected 32",
                h.len()
            )))
        })?;
        out.push((seq, text, hash));
    }
    Ok(out)
}
