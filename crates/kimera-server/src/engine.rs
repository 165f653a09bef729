//! The engine: the operations of the API on a store, with everything they need loaded
//! once. HTTP handlers and MCP tools are thin layers over these methods.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use kimera_core::settle::Resolution;
use kimera_core::{Geoid, GeoidId, Source};
use kimera_embed::{Encoder, VectorIndex};
use kimera_learn::Graph;
use kimera_reactor::Detector;
use kimera_store::{ConflictCursor, ConflictFilter, ConflictStatus, ScarCursor, Store, Visibility};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::api::*;
use crate::config::ServerConfig;
use crate::pool::ReadPool;
use crate::runs::Runs;
use crate::writer::{WriteItem, WriteJob, Writer, WriterStats};
use crate::{EngineError, Result};

/// The sentence encoder and the detector cascade: the slow part to load (about a second
/// for MiniLM and the committed detector weights), so tests load it once and share it
/// between engines.
pub struct Models {
    pub encoder: Box<dyn Encoder>,
    pub detectors: Vec<Box<dyn Detector>>,
    /// The comma-separated list the cascade was built from.
    pub detector_list: String,
}

impl std::fmt::Debug for Models {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Models")
            .field("model", &self.encoder.model_id())
            .field("detectors", &self.detector_list)
            .finish()
    }
}

impl Models {
    /// all-MiniLM-L6-v2 from the model folder (`kimera model fetch`) and the cascade
    /// `detectors` (e.g. `lexical,model`), as `kimera check` loads them.
    pub fn load(detectors: &str) -> Result<Models> {
        let encoder = kimera_embed::default_encoder()?;
        Ok(Models::new(
            Box::new(encoder),
            kimera_detect::detectors_from_list(detectors)?,
            detectors,
        ))
    }

    pub fn new(
        encoder: Box<dyn Encoder>,
        detectors: Vec<Box<dyn Detector>>,
        detector_list: &str,
    ) -> Models {
        Models {
            encoder,
            detectors,
            detector_list: detector_list.to_string(),
        }
    }
}

/// The concept graph as last loaded, and what it was loaded from.
type CachedGraph = Option<((i64, i64), Arc<Graph>)>;

/// The ids of superseded statements, shared by the readers and the writer: the index
/// holds every statement, and a read leaves these out (see `kimera_detect::Query::hidden`).
pub(crate) type Hidden = Arc<RwLock<Arc<HashSet<String>>>>;

/// A store, its live vector index, the models, and the one writer.
pub struct Engine {
    pub(crate) cfg: ServerConfig,
    pub(crate) models: Arc<Models>,
    index: Arc<RwLock<VectorIndex>>,
    hidden: Hidden,
    /// Held while a resolution is written and `hidden` refreshed after it, so two
    /// resolutions cannot leave an older set in place.
    settling: Mutex<()>,
    reads: ReadPool,
    queue: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    pub(crate) writer_stats: Arc<WriterStats>,
    /// Requests admitted to model or store work (503 `busy` beyond).
    admitted: Arc<Semaphore>,
    /// Model work running at once (one per thread); the rest wait their turn in order.
    cpu: Arc<Semaphore>,
    pub(crate) runs: Runs,
    graph: Mutex<CachedGraph>,
    /// Statements and scars in the store when it opened.
    base_statements: u64,
    base_scars: u64,
    pub(crate) run_scars: AtomicU64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("db", &self.cfg.db)
            .field("models", &self.models)
            .field("vectors", &self.vectors())
            .finish()
    }
}

fn count(store: &Store, table: &str) -> Result<u64> {
    Ok(store
        .conn()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(kimera_store::StoreError::from)? as u64)
}

impl Engine {
    /// Opens the store (creating it if needed), loads its vectors for the encoder's model
    /// into the index, and starts the writer. Blocking: seconds for a large store.
    pub fn open(cfg: &ServerConfig, models: Arc<Models>) -> Result<Engine> {
        cfg.validate().map_err(EngineError::Other)?;
        let store = Store::open(&cfg.db)?;
        // An acknowledged write is on disk, not only in the OS's cache: the commit
        // returns after the WAL is synced (one fsync per group commit).
        store
            .conn()
            .pragma_update(None, "synchronous", "FULL")
            .map_err(kimera_store::StoreError::from)?;
        // every statement, superseded ones too: `as_of` reads need them
        let index =
            VectorIndex::load_at(&store, models.encoder.model_id(), Visibility::Everything)?;
        let hidden: Hidden = Arc::new(RwLock::new(Arc::new(
            store.hidden_ids(Visibility::Current)?,
        )));
        let base_statements = count(&store, "geoids")?;
        let base_scars = count(&store, "scars")?;
        tracing::info!(
            db = %cfg.db.display(),
            statements = base_statements,
            vectors = index.len(),
            model = models.encoder.model_id(),
            "store open"
        );
        let index = Arc::new(RwLock::new(index));
        let writer_stats = Arc::new(WriterStats::default());
        let (tx, rx) = mpsc::channel(cfg.write_queue);
        let writer = Writer {
            store,
            models: models.clone(),
            index: index.clone(),
            hidden: hidden.clone(),
            max_group: cfg.max_group,
            stats: writer_stats.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("kimera-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| EngineError::Other(format!("cannot start the writer thread: {e}")))?;
        Ok(Engine {
            reads: ReadPool::new(cfg.db.clone(), cfg.threads() * 4),
            admitted: Arc::new(Semaphore::new(cfg.max_inflight)),
            cpu: Arc::new(Semaphore::new(cfg.threads())),
            cfg: cfg.clone(),
            models,
            index,
            hidden,
            settling: Mutex::new(()),
            queue: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            writer_stats,
            runs: Runs::default(),
            graph: Mutex::new(None),
            base_statements,
            base_scars,
            run_scars: AtomicU64::new(0),
        })
    }

    /// Stored statements a check can find (those with a vector).
    pub fn vectors(&self) -> usize {
        self.index.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Statements and scars in the store (counted at open, plus what this server wrote).
    pub fn counts(&self) -> (u64, u64) {
        let w = &self.writer_stats;
        (
            self.base_statements + w.statements_written.load(Ordering::Relaxed),
            self.base_scars
                + w.scars_written.load(Ordering::Relaxed)
                + self.run_scars.load(Ordering::Relaxed),
        )
    }

    /// Write jobs admitted and not yet answered: being embedded, queued, or being
    /// written.
    pub fn queue_depth(&self) -> usize {
        self.writer_stats.depth.load(Ordering::Relaxed)
    }

    /// Places of the write queue taken (by jobs being embedded or waiting for the
    /// writer); the queue is full when this reaches its size.
    pub fn queue_taken(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |tx| tx.max_capacity() - tx.capacity())
    }

    pub fn models(&self) -> &Arc<Models> {
        &self.models
    }

    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    /// Stops taking writes, lets the writer commit everything queued, and waits for it.
    /// Blocking; call once the requests in flight are done.
    pub fn shutdown(&self) {
        drop(self.queue.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(h) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take()
            && h.join().is_err()
        {
            tracing::error!("the writer thread panicked");
        }
    }

    /// A place among the admitted requests, or 503 `busy`.
    fn admit(&self) -> Result<OwnedSemaphorePermit> {
        self.admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| EngineError::Busy { retry_after: 1 })
    }

    /// Runs store work on a blocking thread.
    async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _admitted = self.admit()?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me))
            .await
            .map_err(|e| EngineError::Other(format!("a worker failed: {e}")))?
    }

    /// Runs model work on a blocking thread, after waiting its turn for a core.
    async fn model_work<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _admitted = self.admit()?;
        let _cpu = self
            .cpu
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me))
            .await
            .map_err(|e| EngineError::Other(format!("a worker failed: {e}")))?
    }

    fn k(&self, asked: Option<usize>, field: &str) -> Result<usize> {
        match asked {
            None => Ok(self.cfg.k),
            Some(k) if (1..=self.cfg.max_k).contains(&k) => Ok(k),
            Some(k) => Err(EngineError::invalid(
                field,
                format!("{k} is not between 1 and {}", self.cfg.max_k),
            )),
        }
    }

    /// `POST /v1/statements`: validates, embeds (reusing stored vectors), queues the
    /// statements for the writer, and answers after the commit.
    pub async fn remember(self: &Arc<Self>, req: AddStatements) -> Result<AddStatementsOut> {
        let k = self.k(req.k, "k")?;
        let geoids = self.statements(&req.statements)?;
        let check = req.check;
        // A place in the queue first: when it is full, refuse before doing any work.
        let sender = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(EngineError::ShuttingDown)?;
        let permit = sender.try_reserve().map_err(|e| match e {
            mpsc::error::TrySendError::Full(()) => EngineError::QueueFull { retry_after: 1 },
            mpsc::error::TrySendError::Closed(()) => EngineError::ShuttingDown,
        })?;
        self.writer_stats.depth.fetch_add(1, Ordering::Relaxed);
        let embedded = self.model_work(move |e| e.embed_items(geoids, check)).await;
        let items = match embedded {
            Ok(items) => items,
            Err(err) => {
                self.writer_stats.depth.fetch_sub(1, Ordering::Relaxed);
                return Err(err);
            }
        };
        let (reply, answer) = oneshot::channel();
        permit.send(WriteJob { items, k, reply });
        let written = answer.await.map_err(|_| EngineError::ShuttingDown)??;
        let mut out = AddStatementsOut {
            statements: Vec::with_capacity(written.outcomes.len()),
            inserted: 0,
            duplicates: 0,
            scars: written.new_scars,
        };
        for o in written.outcomes {
            if o.new {
                out.inserted += 1;
            } else {
                out.duplicates += 1;
            }
            out.statements.push(StatementOut {
                id: o.id.0,
                new: o.new,
                examined: o.report.as_ref().map(|r| r.examined),
                contradictions: o
                    .report
                    .map(|r| r.contradictions.into_iter().map(Into::into).collect())
                    .unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Statements of a request as geoids, or the first field at fault.
    fn statements(&self, list: &[StatementIn]) -> Result<Vec<Geoid>> {
        if list.is_empty() {
            return Err(EngineError::invalid(
                "statements",
                "give at least one statement",
            ));
        }
        if list.len() > self.cfg.max_statements {
            return Err(EngineError::invalid(
                "statements",
                format!(
                    "{} statements is over the limit of {} per request",
                    list.len(),
                    self.cfg.max_statements
                ),
            ));
        }
        list.iter()
            .enumerate()
            .map(|(i, s)| {
                let at = |f: &str| format!("statements[{i}].{f}");
                let text = kimera_ingest::clean_text(&s.text)
                    .map_err(|why| EngineError::invalid(at("text"), why))?;
                let lang = lang(s.lang.as_deref(), &at("lang"))?;
                let source = match s.source.as_deref().map(str::trim) {
                    None | Some("") => Source::Api,
                    Some(name) => Source::Client(short_name(name, &at("source"))?.to_string()),
                };
                let time = |v: Option<&str>, f: &str| -> Result<Option<i64>> {
                    v.map(|t| {
                        kimera_core::parse_time(t).ok_or_else(|| {
                            EngineError::invalid(
                                at(f),
                                "not a time (2024-03-01, 2024-03-01T12:00:00Z or epoch seconds)",
                            )
                        })
                    })
                    .transpose()
                };
                let from = time(s.valid_from.as_deref(), "valid_from")?;
                let to = time(s.valid_to.as_deref(), "valid_to")?;
                if let (Some(f), Some(t)) = (from, to)
                    && t <= f
                {
                    return Err(EngineError::invalid(at("valid_to"), "not after valid_from"));
                }
                let mut g = Geoid::new(text, lang, source).with_validity(from, to);
                if let Some(id) = s.id.as_deref() {
                    g = g.with_external_id(short_name(id.trim(), &at("id"))?);
                }
                Ok(g)
            })
            .collect()
    }

    /// Vectors for the statements: the store's where it has them, the encoder's for the
    /// rest (each distinct text encoded once).
    fn embed_items(&self, geoids: Vec<Geoid>, check: bool) -> Result<Vec<WriteItem>> {
        let model = self.models.encoder.model_id();
        let hashes: Vec<[u8; 32]> = geoids.iter().map(|g| g.text_hash).collect();
        let cached = self.reads.get()?.get_embeddings(model, &hashes)?;
        let mut todo: Vec<usize> = Vec::new();
        let mut first_of: std::collections::HashMap<[u8; 32], usize> = Default::default();
        for (i, (c, h)) in cached.iter().zip(&hashes).enumerate() {
            if c.is_none() && !first_of.contains_key(h) {
                first_of.insert(*h, todo.len());
                todo.push(i);
            }
        }
        let texts: Vec<&str> = todo.iter().map(|&i| geoids[i].text.as_str()).collect();
        let fresh = if texts.is_empty() {
            Vec::new()
        } else {
            self.models.encoder.encode(&texts)?
        };
        let dim = self.models.encoder.dim();
        geoids
            .into_iter()
            .zip(cached)
            .map(|(g, c)| {
                let (vector, cached) = match c {
                    Some(v) => (v, true),
                    None => (fresh[first_of[&g.text_hash]].clone(), false),
                };
                if vector.len() != dim {
                    return Err(EngineError::Other(format!(
                        "vector of {} dimensions for statement {}, expected {dim}",
                        vector.len(),
                        g.id
                    )));
                }
                Ok(WriteItem {
                    geoid: g,
                    vector,
                    cached,
                    check,
                })
            })
            .collect()
    }

    /// `POST /v1/check`: what `kimera check` answers on this store, without writing.
    pub async fn check(self: &Arc<Self>, req: CheckIn) -> Result<CheckOut> {
        let k = self.k(req.k, "k")?;
        let lang = lang(req.lang.as_deref(), "lang")?;
        let texts: Vec<String> = match (req.text, req.texts) {
            (Some(t), None) => vec![clean(&t, "text")?],
            (None, Some(ts)) => {
                if ts.is_empty() || ts.len() > self.cfg.max_texts {
                    return Err(EngineError::invalid(
                        "texts",
                        format!("give 1 to {} texts, not {}", self.cfg.max_texts, ts.len()),
                    ));
                }
                ts.iter()
                    .enumerate()
                    .map(|(i, t)| clean(t, &format!("texts[{i}]")))
                    .collect::<Result<_>>()?
            }
            (Some(_), Some(_)) => {
                return Err(EngineError::invalid(
                    "texts",
                    "give `text` or `texts`, not both",
                ));
            }
            (None, None) => {
                return Err(EngineError::invalid("text", "give `text` or `texts`"));
            }
        };
        let as_of = as_of(req.as_of.as_deref())?;
        self.model_work(move |e| {
            let index = e.index.read().unwrap_or_else(|p| p.into_inner());
            let store = e.reads.get()?;
            let hidden = e.hidden_at(&store, as_of)?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let reports = kimera_detect::check::check_texts(
                &index,
                &store,
                e.models.encoder.as_ref(),
                &e.models.detectors,
                &refs,
                &lang,
                k,
                Some(&hidden),
            )?;
            Ok(CheckOut {
                results: texts
                    .into_iter()
                    .zip(reports)
                    .map(|(text, r)| CheckResult {
                        text,
                        examined: r.examined,
                        contradictions: r.contradictions.into_iter().map(Into::into).collect(),
                    })
                    .collect(),
                vectors: index.len(),
            })
        })
        .await
    }

    /// `GET /v1/similar`: the stored statements nearest to a text.
    pub async fn similar(self: &Arc<Self>, req: SimilarIn) -> Result<SimilarOut> {
        let k = self.k(req.k, "k")?;
        let text = clean(&req.text, "text")?;
        let as_of = as_of(req.as_of.as_deref())?;
        self.model_work(move |e| {
            let q = e
                .models
                .encoder
                .encode(&[&text])?
                .pop()
                .ok_or_else(|| EngineError::Other("the encoder returned no vector".into()))?;
            let index = e.index.read().unwrap_or_else(|p| p.into_inner());
            let store = e.reads.get()?;
            let hidden = e.hidden_at(&store, as_of)?;
            let mut results = Vec::with_capacity(k);
            // as many more as could be hidden, so that k remain
            for (row, score) in index.nearest(&q, k + hidden.len())? {
                if results.len() == k || hidden.contains(index.id(row)) {
                    continue;
                }
                if let Some(g) = store.geoid(&GeoidId(index.id(row).to_string()))? {
                    results.push(Similar {
                        id: g.id.0,
                        text: g.text,
                        lang: g.lang,
                        score: f64::from(score),
                    });
                }
            }
            Ok(SimilarOut { results })
        })
        .await
    }

    /// `GET /v1/statements/{id}`: a stored statement and the scars that touch it.
    pub async fn statement(self: &Arc<Self>, id: String) -> Result<StatementDetail> {
        self.blocking(move |e| {
            let store = e.reads.get()?;
            let id = GeoidId(id);
            let row = store
                .geoid(&id)?
                .ok_or_else(|| EngineError::NotFound(format!("no statement with id {id:?}")))?;
            let scars = store.scars_of(&id, 100)?;
            let state = store.statement_state(&id)?;
            let history = store.statement_history(&id)?;
            Ok(StatementDetail {
                statement: row.into(),
                scars: scars.into_iter().map(Into::into).collect(),
                valid_from: state.as_ref().and_then(|s| s.valid_from),
                valid_to: state.as_ref().and_then(|s| s.valid_to),
                superseded_by: state
                    .as_ref()
                    .and_then(|s| s.superseded_by.clone())
                    .map(|g| g.0),
                superseded_at: state.as_ref().and_then(|s| s.superseded_at),
                history: history.into_iter().map(Into::into).collect(),
            })
        })
        .await
    }

    /// `GET /v1/scars`: one page, strongest first.
    pub async fn scars(self: &Arc<Self>, req: ScarsIn) -> Result<ScarsOut> {
        let limit = match req.limit {
            None => 50,
            Some(n) if (1..=1000).contains(&n) => n,
            Some(n) => {
                return Err(EngineError::invalid(
                    "limit",
                    format!("{n} is not between 1 and 1000"),
                ));
            }
        };
        let after = req.cursor.as_deref().map(parse_cursor).transpose()?;
        self.blocking(move |e| {
            let mut rows = e.reads.get()?.scars_page(after, limit + 1)?;
            let next_cursor = if rows.len() > limit {
                rows.truncate(limit);
                rows.last().map(|r| format_cursor(ScarCursor::after(r)))
            } else {
                None
            };
            Ok(ScarsOut {
                scars: rows.into_iter().map(Into::into).collect(),
                next_cursor,
            })
        })
        .await
    }

    /// The ids a read at `as_of` leaves out: the live set of superseded statements, or
    /// the store's answer for a time in the past.
    fn hidden_at(&self, store: &Store, as_of: Option<i64>) -> Result<Arc<HashSet<String>>> {
        Ok(match as_of {
            None => self
                .hidden
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            Some(t) => Arc::new(store.hidden_ids(Visibility::AsOf(t))?),
        })
    }

    /// `GET /v1/conflicts`: one page, strongest first.
    pub async fn conflicts(self: &Arc<Self>, req: ConflictsIn) -> Result<ConflictsOut> {
        let limit = bounded(req.limit, 50, 1000, "limit")?;
        let status = match req.status.as_deref().map(str::trim) {
            None | Some("open") => Some(ConflictStatus::Open),
            Some("resolved") => Some(ConflictStatus::Resolved),
            Some("all") => None,
            Some(other) => {
                return Err(EngineError::invalid(
                    "status",
                    format!("{other:?}: expected open, resolved or all"),
                ));
            }
        };
        if let Some(k) = req.kind.as_deref()
            && kimera_core::settle::ConflictKind::parse(k).is_none()
        {
            return Err(EngineError::invalid(
                "type",
                format!("{k:?} is not a conflict type"),
            ));
        }
        let after = req
            .cursor
            .as_deref()
            .map(parse_scar_cursor)
            .transpose()?
            .map(|c| ConflictCursor {
                score: c.score,
                id: c.seq,
            });
        self.blocking(move |e| {
            let store = e.reads.get()?;
            let filter = ConflictFilter {
                status,
                kind: req.kind,
                detector: req.detector.filter(|s| !s.is_empty()),
                source: req.source.filter(|s| !s.is_empty()),
                limit: limit + 1,
                after,
            };
            let mut rows = store.conflicts(&filter)?;
            let next_cursor = if rows.len() > limit {
                rows.truncate(limit);
                rows.last().map(|r| {
                    let c = ConflictCursor::after(r);
                    format_cursor(ScarCursor {
                        score: c.score,
                        seq: c.id,
                    })
                })
            } else {
                None
            };
            Ok(ConflictsOut {
                conflicts: rows.into_iter().map(Into::into).collect(),
                next_cursor,
                open: store.count_conflicts(Some(ConflictStatus::Open))?,
            })
        })
        .await
    }

    /// `GET /v1/conflicts/{id}`.
    pub async fn conflict(self: &Arc<Self>, id: i64) -> Result<ConflictOut> {
        self.blocking(move |e| {
            e.reads
                .get()?
                .conflict(id)?
                .map(Into::into)
                .ok_or_else(|| EngineError::NotFound(format!("no conflict {id}")))
        })
        .await
    }

    /// `POST /v1/conflicts/{id}/resolve` (`undo: false`) and `…/undo` (`undo: true`):
    /// one transaction on a connection of its own, durable (synchronous FULL) before the
    /// answer; the superseded set the reads use is refreshed before the answer too.
    pub async fn settle(
        self: &Arc<Self>,
        id: i64,
        req: Option<ResolveIn>,
        by: &'static str,
    ) -> Result<ConflictOut> {
        let keep = match &req {
            None => None,
            Some(r) => Some(Resolution::parse(&r.keep).ok_or_else(|| {
                EngineError::invalid(
                    "keep",
                    format!("{:?}: expected a, b, both or neither", r.keep),
                )
            })?),
        };
        if let Some(n) = req.as_ref().and_then(|r| r.note.as_deref())
            && n.len() > 4096
        {
            return Err(EngineError::invalid("note", "at most 4 KiB"));
        }
        self.blocking(move |e| {
            let _one = e.settling.lock().unwrap_or_else(|p| p.into_inner());
            let mut store = Store::open(&e.cfg.db)?;
            store
                .conn()
                .pragma_update(None, "synchronous", "FULL")
                .map_err(kimera_store::StoreError::from)?;
            let now = kimera_core::unix_now();
            let done = match keep {
                Some(keep) => {
                    let note = req.as_ref().and_then(|r| r.note.as_deref());
                    store.resolve_conflict(id, keep, by, note, None, now)
                }
                None => store.undo_conflict(id, by, now),
            };
            match done {
                Ok(()) => {}
                Err(kimera_store::StoreError::NoSuchConflict(id)) => {
                    return Err(EngineError::NotFound(format!("no conflict {id}")));
                }
                Err(err @ kimera_store::StoreError::ConflictState { .. }) => {
                    return Err(EngineError::Conflict(err.to_string()));
                }
                Err(other) => return Err(other.into()),
            }
            let hidden = Arc::new(store.hidden_ids(Visibility::Current)?);
            *e.hidden.write().unwrap_or_else(|p| p.into_inner()) = hidden;
            store
                .conflict(id)?
                .map(Into::into)
                .ok_or_else(|| EngineError::NotFound(format!("no conflict {id}")))
        })
        .await
    }

    /// `POST /v1/conflicts/resolve-auto` and MCP `resolve` with `auto`: every open
    /// conflict decided by the request's strategy (else the server's), each page of
    /// decisions one transaction, durable (synchronous FULL) before the answer, the
    /// superseded set refreshed before the answer too.
    pub async fn auto_resolve(self: &Arc<Self>, req: AutoResolveIn) -> Result<AutoResolveOut> {
        let mut cfg = self.cfg.resolve.clone();
        if let Some(name) = req.strategy.as_deref() {
            cfg.strategy = kimera_core::settle::Strategy::parse(name).ok_or_else(|| {
                EngineError::invalid(
                    "strategy",
                    format!("{name:?}: expected manual, recency, source, confidence or consensus"),
                )
            })?;
        }
        let dry_run = req.dry_run.unwrap_or(false);
        self.blocking(move |e| {
            let _one = e.settling.lock().unwrap_or_else(|p| p.into_inner());
            let mut store = Store::open(&e.cfg.db)?;
            store
                .conn()
                .pragma_update(None, "synchronous", "FULL")
                .map_err(kimera_store::StoreError::from)?;
            let report = store.auto_resolve(&cfg, dry_run, kimera_core::unix_now())?;
            if report.resolved > 0 && !dry_run {
                let hidden = Arc::new(store.hidden_ids(Visibility::Current)?);
                *e.hidden.write().unwrap_or_else(|p| p.into_inner()) = hidden;
            }
            Ok(report.into())
        })
        .await
    }

    /// `GET /v1/concepts/{term}`: what the concept graph knows about a term.
    pub async fn concept(self: &Arc<Self>, term: String, req: ConceptIn) -> Result<ConceptOut> {
        let per_kind = bounded(req.per_kind, 8, 100, "per_kind")?;
        let examples = bounded(req.examples, 1, 10, "examples")?;
        self.blocking(move |e| {
            let store = e.reads.get()?;
            let graph = e.graph(&store)?;
            if graph.counts().concepts == 0 {
                return Err(EngineError::NotFound(
                    "the concept graph is empty: run `kimera learn` on the store first".into(),
                ));
            }
            let id = graph.find(&term).ok_or_else(|| {
                EngineError::NotFound(format!("no concept {term:?} in the graph"))
            })?;
            let v = kimera_learn::concept_view(&graph, id, per_kind, 0);
            let edges = |list: Vec<kimera_learn::Edge>| -> Result<Vec<ConceptEdge>> {
                list.into_iter()
                    .map(|edge| {
                        let mut ex = Vec::new();
                        for gid in store.association_sources(i64::from(edge.id), examples)? {
                            if let Some(row) = store.geoid(&gid)? {
                                ex.push(ConceptExample {
                                    id: gid.0,
                                    text: row.text,
                                    source: row.source,
                                });
                            }
                        }
                        Ok(ConceptEdge {
                            kind: edge.kind.to_string(),
                            attr: edge.attr,
                            other: edge.other,
                            strength: edge.strength,
                            count: edge.count,
                            examples: ex,
                        })
                    })
                    .collect()
            };
            Ok(ConceptOut {
                term: v.term,
                count: v.count,
                last_seen: v.last_seen,
                out: edges(v.out)?,
                inbound: edges(v.inbound)?,
                omitted: v.omitted,
            })
        })
        .await
    }

    /// The concept graph, loaded again only when `kimera learn` changed it.
    fn graph(&self, store: &Store) -> Result<Arc<Graph>> {
        let stamp: (i64, i64) = store
            .conn()
            .query_row(
                "SELECT (SELECT coalesce(max(id), 0) FROM learned),
                        (SELECT coalesce(max(id), 0) FROM associations)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(kimera_store::StoreError::from)?;
        let mut cached = self.graph.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((s, g)) = cached.as_ref()
            && *s == stamp
        {
            return Ok(g.clone());
        }
        let g = Arc::new(Graph::load_bounded(store)?);
        *cached = Some((stamp, g.clone()));
        Ok(g)
    }

    /// `POST /v1/runs`: starts a reactor cycle in the background (one at a time).
    pub fn start_run(self: &Arc<Self>, req: RunIn) -> Result<RunOut> {
        crate::runs::start(self, req)
    }

    /// `GET /v1/runs/{id}`.
    pub fn run_status(&self, id: u64) -> Result<RunOut> {
        self.runs
            .get(id)
            .ok_or_else(|| EngineError::NotFound(format!("no run {id} in this server")))
    }
}

/// A value between 1 and `max`, `default` when absent.
fn bounded(v: Option<usize>, default: usize, max: usize, field: &str) -> Result<usize> {
    match v {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(EngineError::invalid(
            field,
            format!("{n} is not between 1 and {max}"),
        )),
    }
}

fn clean(text: &str, field: &str) -> Result<String> {
    kimera_ingest::clean_text(text)
        .map(str::to_string)
        .map_err(|why| EngineError::invalid(field, why))
}

fn lang(raw: Option<&str>, field: &str) -> Result<String> {
    Ok(kimera_ingest::clean_lang(raw.unwrap_or(""))
        .map_err(|why| EngineError::invalid(field, why))?
        .unwrap_or_else(|| "und".to_string()))
}

/// An id or source name: 1 to 256 bytes, no control characters.
fn short_name<'a>(s: &'a str, field: &str) -> Result<&'a str> {
    if s.is_empty() || s.len() > 256 {
        return Err(EngineError::invalid(field, "give 1 to 256 bytes"));
    }
    if s.chars().any(char::is_control) {
        return Err(EngineError::invalid(
            field,
            "control characters are not allowed",
        ));
    }
    Ok(s)
}

/// An `as_of` field: none, or a time.
fn as_of(raw: Option<&str>) -> Result<Option<i64>> {
    raw.filter(|s| !s.trim().is_empty())
        .map(|t| {
            kimera_core::parse_time(t).ok_or_else(|| {
                EngineError::invalid(
                    "as_of",
                    "not a time (2024-03-01, 2024-03-01T12:00:00Z or epoch seconds)",
                )
            })
        })
        .transpose()
}

fn parse_scar_cursor(s: &str) -> Result<ScarCursor> {
    parse_cursor(s)
}

/// A page cursor: the last scar's score (its bits, in hex) and seq.
fn format_cursor(c: ScarCursor) -> String {
    format!("{:016x}-{}", c.score.to_bits(), c.seq)
}

fn parse_cursor(s: &str) -> Result<ScarCursor> {
    let bad = || EngineError::invalid("cursor", "not a `next_cursor` of a previous page");
    let (bits, seq) = s.split_once('-').ok_or_else(bad)?;
    let score = f64::from_bits(u64::from_str_radix(bits, 16).map_err(|_| bad())?);
    let seq = seq.parse().map_err(|_| bad())?;
    if !score.is_finite() {
        return Err(bad());
    }
    Ok(ScarCursor { score, seq })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = ScarCursor {
            score: 0.731_f64,
            seq: 42,
        };
        assert_eq!(parse_cursor(&format_cursor(c)).unwrap(), c);
        for bad in [
            "",
            "x",
            "12-",
            "zz-3",
            "7ff8000000000000-1",
            "3fe0000000000000-x",
        ] {
            let e = parse_cursor(bad).unwrap_err().to_string();
            assert!(e.contains("cursor"), "{bad}: {e}");
        }
    }
}
