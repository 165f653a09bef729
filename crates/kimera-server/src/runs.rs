//! Reactor runs started through the API: one at a time, on their own thread and their
//! own connection to the store, with their progress kept for `GET /v1/runs/{id}`.
//!
//! A run writes its scars in chunk transactions of its own (as `kimera run` does): the
//! store serialises them with the writer's commits, each waiting for the other at most
//! a transaction's length. Killing the server mid-run keeps every committed chunk; the
//! next run finds the rest.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use kimera_reactor::{KnnParams, RunConfig};
use kimera_store::Store;

use crate::api::{RunIn, RunOut};
use crate::engine::Engine;
use crate::{EngineError, Result};

#[derive(Debug, Default)]
pub(crate) struct Runs {
    inner: Mutex<RunsInner>,
}

#[derive(Debug, Default)]
struct RunsInner {
    next: u64,
    active: Option<u64>,
    all: BTreeMap<u64, RunOut>,
}

impl Runs {
    pub(crate) fn get(&self, id: u64) -> Option<RunOut> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .all
            .get(&id)
            .cloned()
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut RunOut)) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = inner.all.get_mut(&id) {
            f(r);
        }
    }

    fn finish(&self, id: u64, f: impl FnOnce(&mut RunOut)) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = inner.all.get_mut(&id) {
            f(r);
            r.finished_at = Some(kimera_core::unix_now());
        }
        if inner.active == Some(id) {
            inner.active = None;
        }
    }
}

/// Starts a run, or refuses (409) while another is going.
pub(crate) fn start(engine: &Arc<Engine>, req: RunIn) -> Result<RunOut> {
    let k = match req.k {
        None => 10,
        Some(k) if (1..=engine.cfg.max_k).contains(&k) => k,
        Some(k) => {
            return Err(EngineError::invalid(
                "k",
                format!("{k} is not between 1 and {}", engine.cfg.max_k),
            ));
        }
    };
    let min_sim = req.min_sim.unwrap_or(KnnParams::default().floor);
    if !(-1.0..=1.0).contains(&min_sim) {
        return Err(EngineError::invalid(
            "min_sim",
            format!("{min_sim} is not a cosine between -1 and 1"),
        ));
    }
    let workers = match req.workers {
        None => engine.cfg.threads(),
        Some(w) if (1..=256).contains(&w) => w,
        Some(w) => {
            return Err(EngineError::invalid(
                "workers",
                format!("{w} is not between 1 and 256"),
            ));
        }
    };
    let runs = &engine.runs;
    let id = {
        let mut inner = runs.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(active) = inner.active {
            return Err(EngineError::Conflict(format!(
                "run {active} is still going; one run at a time (see GET /v1/runs/{active})"
            )));
        }
        inner.next += 1;
        let id = inner.next;
        inner.active = Some(id);
        inner.all.insert(
            id,
            RunOut {
                id,
                status: "running".into(),
                phase: "starting".into(),
                done: 0,
                total: 0,
                started_at: kimera_core::unix_now(),
                finished_at: None,
                stats: None,
                error: None,
            },
        );
        id
    };
    let cfg = RunConfig {
        model_id: engine.models.encoder.model_id().to_string(),
        knn: KnnParams {
            k,
            floor: min_sim,
            ..KnnParams::default()
        },
        workers,
        args: vec!["serve".into(), format!("POST /v1/runs (run {id})")],
        ..RunConfig::default()
    };
    let me = engine.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("kimera-run-{id}"))
        .spawn(move || {
            let result = Store::open(&me.cfg.db)
                .map_err(EngineError::from)
                .and_then(|mut s| {
                    kimera_reactor::run(&mut s, &cfg, &me.models.detectors, &|p| {
                        me.runs.update(id, |r| {
                            r.phase = p.phase.to_string();
                            r.done = p.done;
                            r.total = p.total;
                        })
                    })
                    .map_err(|e| EngineError::Other(e.to_string()))
                });
            match result {
                Ok(stats) => {
                    me.run_scars.fetch_add(stats.new_scars, Ordering::Relaxed);
                    tracing::info!(run = id, new_scars = stats.new_scars, "run finished");
                    me.runs.finish(id, |r| {
                        r.status = "ok".into();
                        r.phase = "done".into();
                        r.stats = serde_json::to_value(&stats).ok();
                    });
                }
                Err(e) => {
                    tracing::error!(run = id, "run failed: {e}");
                    me.runs.finish(id, |r| {
                        r.status = "failed".into();
                        r.error = Some(e.to_string());
                    });
                }
            }
        });
    if let Err(e) = spawned {
        runs.finish(id, |r| {
            r.status = "failed".into();
            r.error = Some(format!("cannot start the run's thread: {e}"));
        });
    }
    runs.get(id)
        .ok_or_else(|| EngineError::Other("the run vanished".into()))
}
