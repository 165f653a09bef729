//! The one writer: group commit of statements, vectors and scars.
//!
//! Requests that write put a [`WriteJob`] — statements already validated and embedded —
//! into a bounded queue; a request that finds the queue full is refused at once (503
//! with `Retry-After`) instead of waiting in an ever longer line. One thread takes the
//! jobs: the first one waiting, then every other one already queued, up to
//! `max_group` statements, and for that group
//!
//! 1. resolves each statement's stored id (new, or a duplicate of a stored statement or
//!    of an earlier one in the group);
//! 2. checks the statements that asked for it against the live index and the group's
//!    earlier new statements — in order, as if they had arrived one by one;
//! 3. writes statements, new vectors and the scars found in **one transaction** and
//!    commits it with `synchronous=FULL` (the commit is on disk when it returns);
//! 4. appends the new statements' vectors to the index, then answers every job.
//!
//! So a request is acknowledged only after everything it sent is durable, a statement
//! acknowledged is found by the next check, and clients never meet "database is locked":
//! only this thread writes statements. Many requests share one commit (one fsync) when
//! they arrive together, which is what keeps writes cheap under load.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use kimera_core::{Geoid, GeoidId, Scar};
use kimera_detect::{Candidate, CheckReport, Query, check_vectors};
use kimera_embed::VectorIndex;
use kimera_store::Store;
use tokio::sync::{mpsc, oneshot};

use crate::engine::Models;
use crate::{EngineError, Result};

/// One statement to write, with its vector.
#[derive(Debug)]
pub struct WriteItem {
    pub geoid: Geoid,
    pub vector: Vec<f32>,
    /// The store already holds a vector for this exact text (nothing to store).
    pub cached: bool,
    /// Check it against the store and record the scars found.
    pub check: bool,
}

/// What became of one statement.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: GeoidId,
    pub new: bool,
    /// The check's report, when asked for.
    pub report: Option<CheckReport>,
}

/// What the writer answers a job: one outcome per item and the scars recorded.
#[derive(Debug, Clone)]
pub struct Written {
    pub outcomes: Vec<Outcome>,
    pub new_scars: u64,
}

/// A request's statements, waiting for the writer.
#[derive(Debug)]
pub struct WriteJob {
    pub items: Vec<WriteItem>,
    /// Neighbours examined per checked statement.
    pub k: usize,
    pub reply: oneshot::Sender<Result<Written>>,
}

/// Counters the writer keeps for `/metrics`.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Jobs queued or being written.
    pub depth: AtomicUsize,
    pub commits: AtomicU64,
    pub statements_written: AtomicU64,
    pub scars_written: AtomicU64,
}

/// What the writer thread owns.
pub(crate) struct Writer {
    pub store: Store,
    pub models: Arc<Models>,
    pub index: Arc<RwLock<VectorIndex>>,
    /// Superseded statements: a check-on-write does not compare with them.
    pub hidden: crate::engine::Hidden,
    pub max_group: usize,
    pub stats: Arc<WriterStats>,
}

impl Writer {
    /// Takes jobs until every sender is gone and the queue is empty, then returns: the
    /// way the server shuts down without losing a queued write.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<WriteJob>) {
        while let Some(first) = rx.blocking_recv() {
            let mut n = first.items.len();
            let mut jobs = vec![first];
            while n < self.max_group {
                match rx.try_recv() {
                    Ok(job) => {
                        n += job.items.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            let result = self.write_group(&jobs);
            let count = jobs.len();
            match result {
                Ok(per_job) => {
                    for (job, written) in jobs.into_iter().zip(per_job) {
                        // a client that went away does not stop the others
                        let _ = job.reply.send(Ok(written));
                    }
                }
                Err(e) => {
                    tracing::error!(jobs = count, "write failed, nothing of it committed: {e}");
                    let msg = e.to_string();
                    for job in jobs {
                        let _ = job
                            .reply
                            .send(Err(EngineError::Other(format!("write failed: {msg}"))));
                    }
                }
            }
            self.stats.depth.fetch_sub(count, Ordering::Relaxed);
        }
        tracing::info!("writer stopped: queue closed and empty");
    }

    /// Checks, writes and commits one group; one [`Written`] per job.
    fn write_group(&mut self, jobs: &[WriteJob]) -> Result<Vec<Written>> {
        let model = self.models.encoder.model_id().to_string();
        let items: Vec<&WriteItem> = jobs.iter().flat_map(|j| &j.items).collect();

        // 1. stored ids, as the insert will find them
        let mut by_id: HashMap<&str, GeoidId> = HashMap::new();
        let mut by_key: HashMap<[u8; 32], GeoidId> = HashMap::new();
        let mut resolved: Vec<(GeoidId, bool)> = Vec::with_capacity(items.len());
        // vectors to add to the index for duplicates whose stored statement has none
        let mut late: Vec<(usize, Vec<f32>, [u8; 32])> = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let g = &it.geoid;
            let earlier = by_id
                .get(g.id.as_str())
                .or_else(|| by_key.get(&g.key))
                .cloned();
            let (id, new) = match earlier {
                Some(id) => (id, false),
                None => match self.store.resolve_id(g)? {
                    Some(id) => {
                        if let Some(v) = self.vector_of_unindexed(&id, it, &model)? {
                            late.push((i, v.0, v.1));
                        }
                        (id, false)
                    }
                    None => (g.id.clone(), true),
                },
            };
            by_id.insert(g.id.as_str(), id.clone());
            by_key.insert(g.key, id.clone());
            resolved.push((id, new));
        }

        // 2. checks, in order, against the index and the group's earlier new statements
        let pending: Vec<Candidate<'_>> = items
            .iter()
            .zip(&resolved)
            .filter(|(_, (_, new))| *new)
            .map(|(it, (id, _))| Candidate {
                id: id.as_str(),
                text: &it.geoid.text,
                lang: &it.geoid.lang,
                vector: &it.vector,
            })
            .collect();
        let mut reports: Vec<Option<CheckReport>> = vec![None; items.len()];
        let hidden = self
            .hidden
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        {
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            // queries grouped by k (one detector batch per distinct k)
            let mut by_k: BTreeMap<usize, Vec<(usize, Query<'_>)>> = BTreeMap::new();
            let mut new_before = 0;
            let mut item = 0;
            for job in jobs {
                for it in &job.items {
                    if it.check {
                        let mut q = Query::new(&it.geoid.text, &it.geoid.lang, &it.vector);
                        q.exclude = Some(resolved[item].0.as_str());
                        q.also = &pending[..new_before];
                        q.hidden = Some(&hidden);
                        by_k.entry(job.k).or_default().push((item, q));
                    }
                    if resolved[item].1 {
                        new_before += 1;
                    }
                    item += 1;
                }
            }
            for (k, qs) in by_k {
                let queries: Vec<Query<'_>> = qs.iter().map(|(_, q)| *q).collect();
                let found =
                    check_vectors(&index, &self.store, &self.models.detectors, &queries, k)?;
                for ((i, _), r) in qs.iter().zip(found) {
                    reports[*i] = Some(r);
                }
            }
        }
        let mut scars: Vec<Vec<Scar>> = Vec::with_capacity(items.len());
        for ((id, _), r) in resolved.iter().zip(&reports) {
            scars.push(
                r.iter()
                    .flat_map(|r| &r.contradictions)
                    .map(|h| {
                        Scar::new(
                            id.clone(),
                            GeoidId(h.id.clone()),
                            h.score,
                            h.detector.clone(),
                            h.evidence.clone(),
                        )
                    })
                    .collect(),
            );
        }

        // 3. one transaction for the whole group
        let geoids: Vec<Geoid> = items.iter().map(|it| it.geoid.clone()).collect();
        let mut vectors: Vec<([u8; 32], &[f32])> = items
            .iter()
            .filter(|it| !it.cached)
            .map(|it| (it.geoid.text_hash, it.vector.as_slice()))
            .collect();
        vectors.extend(late.iter().map(|(_, v, h)| (*h, v.as_slice())));
        let mut batch = self.store.write_batch()?;
        let added = batch.add_statements(&geoids)?;
        batch.put_embeddings(&model, &vectors)?;
        let mut new_scars = Vec::with_capacity(items.len());
        for s in &scars {
            new_scars.push(batch.add_scars(s, None)?);
        }
        batch.commit()?;

        // 4. the index, then the answers
        {
            let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
            for (it, a) in items.iter().zip(&added) {
                if a.new {
                    index.push(a.id.0.clone(), &it.vector)?;
                }
            }
            for (i, v, _) in &late {
                index.push(added[*i].id.0.clone(), v)?;
            }
        }
        for ((id, new), a) in resolved.iter().zip(&added) {
            if (id, *new) != (&a.id, a.new) {
                // another process wrote the same statement between our read and write
                tracing::warn!(
                    "statement {} resolved to {} at commit (expected {id})",
                    a.id,
                    if a.new { "new" } else { "a duplicate" }
                );
            }
        }
        let total_new = added.iter().filter(|a| a.new).count() as u64;
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        self.stats
            .statements_written
            .fetch_add(total_new, Ordering::Relaxed);
        self.stats
            .scars_written
            .fetch_add(new_scars.iter().sum(), Ordering::Relaxed);

        let mut out = Vec::with_capacity(jobs.len());
        let mut at = 0;
        for job in jobs {
            let n = job.items.len();
            let outcomes = (at..at + n)
                .map(|i| Outcome {
                    id: added[i].id.clone(),
                    new: added[i].new,
                    report: reports[i].take(),
                })
                .collect();
            out.push(Written {
                outcomes,
                new_scars: new_scars[at..at + n].iter().sum(),
            });
            at += n;
        }
        Ok(out)
    }

    /// For a duplicate of stored statement `id`: the vector to add to the index if the
    /// stored statement has none yet (ingested but never embedded), with its text hash.
    /// The item's own vector serves when the stored text is the same exact text;
    /// otherwise (another spelling) the stored text is encoded here.
    fn vector_of_unindexed(
        &self,
        id: &GeoidId,
        it: &WriteItem,
        model: &str,
    ) -> Result<Option<(Vec<f32>, [u8; 32])>> {
        let Some(row) = self.store.geoid(id)? else {
            return Ok(None);
        };
        if self.store.get_embeddings(model, &[row.text_hash])?[0].is_some() {
            return Ok(None);
        }
        if row.text == it.geoid.text {
            return Ok(Some((it.vector.clone(), row.text_hash)));
        }
        let v = self
            .models
            .encoder
            .encode(&[&row.text])?
            .pop()
            .ok_or_else(|| EngineError::Other("the encoder returned no vector".into()))?;
        Ok(Some((v, row.text_hash)))
    }
}
