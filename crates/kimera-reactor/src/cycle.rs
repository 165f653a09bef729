//! Reactor cycles: load vectors, pick candidate pairs, score them, record scars.
//!
//! A cycle has four phases, each a pure function of the store's contents and the config:
//!
//! 1. **load** — stream geoids in `seq` order joined with their vectors for the model
//!    (one query); keep ids, texts, languages and unit vectors in flat arrays
//!    (about 1.6 GB for a million 384-d geoids — the only thing that grows with n).
//! 2. **candidates** — ANN top-k / seeded random pairs / labelled pairs, as a sorted list
//!    of index pairs (see [`crate::knn`] for why it is deterministic).
//! 3. **detect** — pairs are cut into chunks of `chunk`; each chunk is scored by the
//!    detectors in order and its scars written in one transaction, so memory stays
//!    bounded and an interrupted run keeps every committed chunk. A rerun re-derives the
//!    same pairs and the store's `UNIQUE(a, b, detector)` drops what was already scarred.
//! 4. **record** — stats into the `runs` table.
//!
//! [`run_sequential`] and [`run_parallel`] have the same shape and share every phase;
//! the only difference is whether work items are mapped on this thread or on a rayon
//! pool. Work items are cut by data-derived boundaries and results are collected in
//! order, so both produce the same scars in the same order for any worker count and
//! chunk size.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Instant;

use kimera_core::{GeoidId, Scar};
use kimera_store::Store;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::Serialize;

use crate::ReactorError;
use crate::detect::{Detector, PairInput};
use crate::knn::{self, KnnParams, VectorTable};

/// How candidate pairs are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pairing {
    /// Each geoid with its top-k nearest neighbours above a similarity floor.
    Ann,
    /// Kimera's original: shuffle with a seed, pair neighbours in the shuffled order.
    Random,
    /// The labelled pairs stored by ingest.
    Pairs,
}

impl Pairing {
    pub fn as_str(self) -> &'static str {
        match self {
            Pairing::Ann => "ann",
            Pairing::Random => "random",
            Pairing::Pairs => "pairs",
        }
    }
}

impl FromStr for Pairing {
    type Err = ReactorError;
    fn from_str(s: &str) -> Result<Self, ReactorError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ann" => Ok(Pairing::Ann),
            "random" => Ok(Pairing::Random),
            "pairs" => Ok(Pairing::Pairs),
            _ => Err(ReactorError::UnknownPairing(s.to_string())),
        }
    }
}

/// Settings of one cycle.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Vectors are read for this model id.
    pub model_id: String,
    pub pairing: Pairing,
    /// k, similarity floor and index settings for `Pairing::Ann`.
    pub knn: KnnParams,
    /// Seed of `Pairing::Random`.
    pub seed: u64,
    /// Geoids read and pairs scored per chunk.
    pub chunk: usize,
    /// Threads of the parallel pool (0 = all cores). Ignored by `run_sequential`.
    pub workers: usize,
    /// Stored with the run (the command line, for `kimera run`).
    pub args: Vec<String>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            model_id: String::new(),
            pairing: Pairing::Ann,
            knn: KnnParams::default(),
            seed: 42,
            chunk: 10_000,
            workers: 0,
            args: Vec::new(),
        }
    }
}

/// What a cycle did; stored as the run's stats.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunStats {
    pub run_id: i64,
    pub mode: String,
    pub workers: usize,
    pub pairing: String,
    pub detectors: Vec<String>,
    pub model_id: String,
    /// Geoids in the store / with a vector for the model.
    pub geoids: u64,
    pub vectors: u64,
    pub missing_vectors: u64,
    /// `exact`, `ivf`, or `-` for non-ANN pairings.
    pub index: String,
    pub pairs_checked: u64,
    /// Labelled pairs skipped because a side has no vector.
    pub pairs_skipped: u64,
    /// Scars the detectors reported / that were new to the store.
    pub scars_found: u64,
    pub new_scars: u64,
    pub scars_by_detector: Vec<(String, u64)>,
    pub chunks: u64,
    pub load_ms: u64,
    pub candidates_ms: u64,
    pub detect_ms: u64,
    pub latency_ms: u64,
    /// Peak resident memory of the process (VmHWM), MB.
    pub mem_mb: f64,
    pub geoids_per_s: f64,
}

/// Progress of a cycle, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub phase: &'static str,
    pub done: u64,
    pub total: u64,
}

/// Runs one cycle on one thread. The reference the parallel cycle is tested against.
///
/// The cycle runs inside a one-thread pool: the matrix products of the neighbour search
/// split large blocks over the current rayon pool, and here that must be one core.
pub fn run_sequential(
    store: &mut Store,
    cfg: &RunConfig,
    detectors: &[Box<dyn Detector>],
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunStats, ReactorError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "kimera-reactor".into())
        .build()
        .map_err(|e| ReactorError::ThreadPool(e.to_string()))?;
    record(store, cfg, detectors, "sequential", 1, |store, stats| {
        pool.install(|| cycle(store, cfg, detectors, progress, false, stats))
    })
}

/// Runs one cycle on a rayon pool of `cfg.workers` threads.
///
/// How the parallelism works: the k-means, list assignment and neighbour search are
/// mapped over blocks of a fixed size (matrix products of up to 256 queries by a segment
/// of one IVF list); scoring maps over
/// sub-batches of each chunk; results come back in input order. SQLite reads and
/// writes stay on one thread (the calling one, inside the pool), one transaction per
/// chunk — they are a small part of the time and SQLite has one writer anyway.
pub fn run_parallel(
    store: &mut Store,
    cfg: &RunConfig,
    detectors: &[Box<dyn Detector>],
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunStats, ReactorError> {
    let workers = if cfg.workers == 0 {
        default_workers()
    } else {
        cfg.workers
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("kimera-reactor-{i}"))
        .build()
        .map_err(|e| ReactorError::ThreadPool(e.to_string()))?;
    record(
        store,
        cfg,
        detectors,
        "parallel",
        workers,
        |store, stats| pool.install(|| cycle(store, cfg, detectors, progress, true, stats)),
    )
}

/// `run_parallel` for more than one worker, `run_sequential` for one.
pub fn run(
    store: &mut Store,
    cfg: &RunConfig,
    detectors: &[Box<dyn Detector>],
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunStats, ReactorError> {
    let workers = if cfg.workers == 0 {
        default_workers()
    } else {
        cfg.workers
    };
    if workers == 1 {
        run_sequential(store, cfg, detectors, progress)
    } else {
        run_parallel(store, cfg, detectors, progress)
    }
}

/// All cores the process may use.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Peak resident set size of this process in MB (VmHWM), 0 where /proc is missing.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Wraps a cycle in a `runs` row: started before, finished with the stats (or the
/// error) after.
fn record(
    store: &mut Store,
    cfg: &RunConfig,
    detectors: &[Box<dyn Detector>],
    mode: &str,
    workers: usize,
    body: impl FnOnce(&mut Store, &mut RunStats) -> Result<(), ReactorError>,
) -> Result<RunStats, ReactorError> {
    if cfg.chunk == 0 {
        return Err(ReactorError::InvalidConfig(
            "chunk must be at least 1".into(),
        ));
    }
    let start = Instant::now();
    let run_id = store.start_run("run", &cfg.args)?;
    let mut stats = RunStats {
        run_id,
        mode: mode.to_string(),
        workers,
        pairing: cfg.pairing.as_str().to_string(),
        detectors: detectors.iter().map(|d| d.name().to_string()).collect(),
        model_id: cfg.model_id.clone(),
        index: "-".into(),
        ..RunStats::default()
    };
    let result = body(store, &mut stats);
    stats.latency_ms = start.elapsed().as_millis() as u64;
    stats.mem_mb = (peak_rss_mb() * 10.0).round() / 10.0;
    stats.geoids_per_s = if stats.latency_ms > 0 {
        (stats.vectors as f64 * 1000.0 / stats.latency_ms as f64).round()
    } else {
        0.0
    };
    match result {
        Ok(()) => {
            let json = serde_json::to_value(&stats).unwrap_or_default();
            store.finish_run(run_id, true, &json)?;
            Ok(stats)
        }
        Err(e) => {
            let _ = store.finish_run(
                run_id,
                false,
                &serde_json::json!({ "error": e.to_string() }),
            );
            Err(e)
        }
    }
}

/// Strings back to back in one buffer: a million texts without a million allocations.
#[derive(Debug, Default)]
struct Strings {
    buf: String,
    ends: Vec<usize>,
}

impl Strings {
    fn push(&mut self, s: &str) {
        self.buf.push_str(s);
        self.ends.push(self.buf.len());
    }
    fn get(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }
}

/// The geoids that have a vector, in `seq` order; index = position.
#[derive(Debug)]
struct Loaded {
    ids: Strings,
    texts: Strings,
    langs: Strings,
    table: VectorTable,
}

/// Reads every geoid with its vector in one streaming join (see
/// [`Store::for_each_geoid_with_embedding`]), appending vectors to one contiguous f32
/// buffer sized once from the geoid count, so the load costs n·dim floats and nothing
/// per row.
fn load(
    store: &Store,
    cfg: &RunConfig,
    progress: &(dyn Fn(Progress) + Sync),
    stats: &mut RunStats,
) -> Result<Loaded, ReactorError> {
    let total = store.counts()?.geoids;
    let (mut ids, mut texts, mut langs) =
        (Strings::default(), Strings::default(), Strings::default());
    let mut data: Vec<f32> = Vec::new();
    let mut dim = 0usize;
    let report_every = cfg.chunk.max(1) as u64;
    store.for_each_geoid_with_embedding::<ReactorError>(&cfg.model_id, |r, v| {
        stats.geoids += 1;
        if stats.geoids % report_every == 0 {
            progress(Progress {
                phase: "load",
                done: stats.geoids,
                total,
            });
        }
        let Some(v) = v else {
            stats.missing_vectors += 1;
            return Ok(());
        };
        if dim == 0 {
            dim = v.len();
        }
        if v.len() != dim || dim == 0 {
            return Err(ReactorError::DimensionMismatch {
                id: r.id.to_string(),
                model: cfg.model_id.clone(),
                expected: dim,
                found: v.len(),
            });
        }
        if data.capacity() == 0 {
            data.reserve_exact(total as usize * dim);
        }
        data.extend_from_slice(v);
        ids.push(r.id.as_str());
        texts.push(&r.text);
        langs.push(&r.lang);
        Ok(())
    })?;
    progress(Progress {
        phase: "load",
        done: stats.geoids,
        total,
    });
    stats.vectors = ids.ends.len() as u64;
    if stats.vectors == 0 && stats.geoids > 0 {
        return Err(ReactorError::NoVectors {
            model: cfg.model_id.clone(),
            geoids: stats.geoids,
        });
    }
    if stats.missing_vectors > 0 {
        tracing::warn!(missing = stats.missing_vectors, model = %cfg.model_id, "geoids without a vector are left out");
    }
    Ok(Loaded {
        ids,
        texts,
        langs,
        table: VectorTable::new(data, dim.max(1)),
    })
}

/// Mean scar weight per geoid and per pair, from the scars stored before the run.
#[derive(Debug, Default)]
struct ScarIndex {
    per_geoid: HashMap<u32, (f64, u32)>,
    per_pair: HashMap<(u32, u32), (f64, u32)>,
}

impl ScarIndex {
    fn load(store: &Store, ids: &Strings) -> Result<ScarIndex, ReactorError> {
        let mut idx = ScarIndex::default();
        let mut stmt = store
            .conn()
            .prepare("SELECT a, b, score FROM scars ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        let mut by_id: Option<HashMap<&str, u32>> = None;
        while let Some(r) = rows.next()? {
            let map = by_id.get_or_insert_with(|| {
                (0..ids.ends.len() as u32)
                    .map(|i| (ids.get(i), i))
                    .collect()
            });
            let (a, b): (String, String) = (r.get(0)?, r.get(1)?);
            let w: f64 = r.get(2)?;
            let (Some(&ia), Some(&ib)) = (map.get(a.as_str()), map.get(b.as_str())) else {
                continue;
            };
            for g in [ia, ib] {
                let e = idx.per_geoid.entry(g).or_insert((0.0, 0));
                e.0 += w;
                e.1 += 1;
            }
            let e = idx
                .per_pair
                .entry((ia.min(ib), ia.max(ib)))
                .or_insert((0.0, 0));
            e.0 += w;
            e.1 += 1;
        }
        Ok(idx)
    }

    /// Mean weight of the scars touching `a` or `b`, each counted once.
    fn mean(&self, a: u32, b: u32) -> f32 {
        if self.per_geoid.is_empty() {
            return 0.0;
        }
        let (sa, ca) = self.per_geoid.get(&a).copied().unwrap_or_default();
        let (sb, cb) = self.per_geoid.get(&b).copied().unwrap_or_default();
        let (sab, cab) = self
            .per_pair
            .get(&(a.min(b), a.max(b)))
            .copied()
            .unwrap_or_default();
        let c = ca + cb - cab;
        if c == 0 {
            0.0
        } else {
            ((sa + sb - sab) / f64::from(c)) as f32
        }
    }
}

/// Candidate pairs as indices into `Loaded`, in their deterministic order.
fn candidates(
    store: &Store,
    cfg: &RunConfig,
    loaded: &mut Loaded,
    parallel: bool,
    stats: &mut RunStats,
) -> Result<Vec<(u32, u32)>, ReactorError> {
    let n = loaded.table.len();
    match cfg.pairing {
        Pairing::Ann => {
            let (nlist, nprobe) = knn::plan(n, &cfg.knn);
            stats.index = if nlist == 1 {
                "exact".into()
            } else {
                format!("ivf(nlist={nlist},nprobe={nprobe})")
            };
            Ok(knn::search(&mut loaded.table, &cfg.knn, parallel)?.pairs())
        }
        Pairing::Random => {
            let mut order: Vec<u32> = (0..n as u32).collect();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
            order.shuffle(&mut rng);
            Ok(order
                .chunks_exact(2)
                .map(|p| (p[0].min(p[1]), p[0].max(p[1])))
                .collect())
        }
        Pairing::Pairs => {
            let by_id: HashMap<&str, u32> = (0..loaded.ids.ends.len() as u32)
                .map(|i| (loaded.ids.get(i), i))
                .collect();
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            for p in store.labelled_pairs(0)? {
                match (by_id.get(p.a.as_str()), by_id.get(p.b.as_str())) {
                    (Some(&a), Some(&b)) if a != b => {
                        let key = (a.min(b), a.max(b));
                        if seen.insert(key) {
                            out.push(key);
                        }
                    }
                    _ => stats.pairs_skipped += 1,
                }
            }
            Ok(out)
        }
    }
}

/// Scores a slice of pairs with every detector, in order; returns the scars, pair by
/// pair and detector by detector. Pure: the same pairs always give the same scars.
fn score(
    pairs: &[(u32, u32)],
    loaded: &Loaded,
    scars: &ScarIndex,
    detectors: &[Box<dyn Detector>],
) -> Vec<Scar> {
    let inputs: Vec<PairInput<'_>> = pairs
        .iter()
        .map(|&(a, b)| {
            let (av, bv) = (loaded.table.get(a), loaded.table.get(b));
            let cosine = knn::dot8(av, bv);
            PairInput {
                a_id: loaded.ids.get(a),
                b_id: loaded.ids.get(b),
                a_text: loaded.texts.get(a),
                b_text: loaded.texts.get(b),
                a_lang: loaded.langs.get(a),
                b_lang: loaded.langs.get(b),
                a_vec: av,
                b_vec: bv,
                cosine,
                resonance: cosine * (1.0 - scars.mean(a, b).clamp(0.0, 1.0)),
            }
        })
        .collect();
    let verdicts: Vec<Vec<crate::Verdict>> =
        detectors.iter().map(|d| d.score_batch(&inputs)).collect();
    let mut out = Vec::new();
    for (i, p) in inputs.iter().enumerate() {
        for (d, v) in detectors.iter().zip(&verdicts) {
            let v = &v[i];
            if v.contradiction {
                out.push(Scar::new(
                    GeoidId::from(p.a_id),
                    GeoidId::from(p.b_id),
                    v.score,
                    d.name(),
                    v.evidence.clone(),
                ));
            }
        }
    }
    out
}

/// The shared body of both cycles.
fn cycle(
    store: &mut Store,
    cfg: &RunConfig,
    detectors: &[Box<dyn Detector>],
    progress: &(dyn Fn(Progress) + Sync),
    parallel: bool,
    stats: &mut RunStats,
) -> Result<(), ReactorError> {
    let t = Instant::now();
    let mut loaded = load(store, cfg, progress, stats)?;
    let scar_index = ScarIndex::load(store, &loaded.ids)?;
    stats.load_ms = t.elapsed().as_millis() as u64;

    let t = Instant::now();
    progress(Progress {
        phase: "candidates",
        done: 0,
        total: stats.vectors,
    });
    let pairs = candidates(store, cfg, &mut loaded, parallel, stats)?;
    stats.candidates_ms = t.elapsed().as_millis() as u64;
    stats.pairs_checked = pairs.len() as u64;

    let t = Instant::now();
    let mut by_detector: Vec<u64> = vec![0; detectors.len()];
    // sub-batches for the pool: enough for load balance, big enough for batched detectors
    let workers = rayon::current_num_threads().max(1);
    let sub = (cfg.chunk / (workers * 4)).clamp(64, 4096);
    for (ci, chunk) in pairs.chunks(cfg.chunk).enumerate() {
        let scars: Vec<Scar> = if parallel {
            chunk
                .par_chunks(sub)
                .map(|c| score(c, &loaded, &scar_index, detectors))
                .collect::<Vec<_>>()
                .into_iter()
                .flatten()
                .collect()
        } else {
            score(chunk, &loaded, &scar_index, detectors)
        };
        for s in &scars {
            if let Some(i) = detectors.iter().position(|d| d.name() == s.detector) {
                by_detector[i] += 1;
            }
        }
        stats.scars_found += scars.len() as u64;
        stats.new_scars += store.insert_scars(&scars, Some(stats.run_id))?;
        stats.chunks += 1;
        progress(Progress {
            phase: "detect",
            done: ((ci + 1) * cfg.chunk).min(pairs.len()) as u64,
            total: pairs.len() as u64,
        });
    }
    stats.scars_by_detector = detectors
        .iter()
        .map(|d| d.name().to_string())
        .zip(by_detector)
        .collect();
    stats.detect_ms = t.elapsed().as_millis() as u64;
    Ok(())
}
