//! Reactor cycles: load vectors, pick candidate pairs, score them, record scars.
//!
//! A cycle has four phases, each a pure function of the store's contents and the config:
//!
//! 1. **load** — scan the geoids in `seq` order, then the model's vectors in key order
//!    (two sequential scans, joined by text hash in memory); keep ids, texts, languages
//!    and unit vectors in flat arrays
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
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Which statements are candidates: current ones by default (superseded statements
    /// are settled and not compared again).
    pub visibility: kimera_store::Visibility,
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
            visibility: kimera_store::Visibility::Current,
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
    /// Candidate pairs proposed by the lexical channel alone (among `pairs_checked`).
    pub lexical_pairs: u64,
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

/// Pairs per detector call when `pairs` pairs of a chunk (of at most `chunk` pairs) are
/// scored by `workers` threads: a quarter of a worker's share of a full chunk (load
/// balance), at least 64 and at most 4,096 (batched detectors — the cross-encoder —
/// run faster on bigger calls), and never more than one worker's share of this chunk, so
/// a small chunk still spreads over every worker. Results never depend on it.
pub fn sub_chunk(chunk: usize, pairs: usize, workers: usize) -> usize {
    let workers = workers.max(1);
    (chunk / (workers * 4))
        .clamp(64, 4096)
        .min(pairs.div_ceil(workers))
        .max(1)
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
        pool.install(|| cycle(store, cfg, detectors, progress, false, None, stats))
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
    run_parallel_cancellable(store, cfg, detectors, progress, None)
}

/// [`run`] that stops between chunks once `cancel` is set (Ctrl-C in the Python
/// module): the chunks committed before stay, the run is recorded as failed with
/// [`ReactorError::Cancelled`], and a rerun picks up where it stopped.
pub fn run_cancellable(
    store: &mut Store,
    cfg: &RunConfig,
    detectors: &[Box<dyn Detector>],
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &AtomicBool,
) -> Result<RunStats, ReactorError> {
    run_parallel_cancellable(store, cfg, detectors, progress, Some(cancel))
}

fn run_parallel_cancellable(
    store: &mut Store,
    cfg: &RunConfig,
    detectors: &[Box<dyn Detector>],
    progress: &(dyn Fn(Progress) + Sync),
    cancel: Option<&AtomicBool>,
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
        |store, stats| pool.install(|| cycle(store, cfg, detectors, progress, true, cancel, stats)),
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
    /// Each geoid's document ([`crate::document_of`] its source).
    docs: Strings,
    table: VectorTable,
}

/// Reads every geoid, then every vector of the model, and keeps the geoids that have
/// one, in `seq` order.
///
/// Two sequential scans and a hash join in memory, not one SQL join: the embeddings
/// table is keyed by text hash, so a join in geoid order reads its pages in random order
/// (1.6 s for 100k vectors), while a scan in key order reads them once, in order
/// (0.2 s). The vectors go straight into one contiguous f32 buffer with a row per geoid,
/// sized from the geoid count; geoids without a vector are squeezed out in place
/// afterwards, so the peak is n·dim floats plus a 32-byte hash per geoid.
fn load(
    store: &Store,
    cfg: &RunConfig,
    progress: &(dyn Fn(Progress) + Sync),
    stats: &mut RunStats,
) -> Result<Loaded, ReactorError> {
    let total = store.counts()?.geoids;
    let (mut ids, mut texts, mut langs, mut docs) = (
        Strings::default(),
        Strings::default(),
        Strings::default(),
        Strings::default(),
    );
    let mut hashes: Vec<[u8; 32]> = Vec::with_capacity(total as usize);
    store.for_each_geoid_at(cfg.chunk.max(1), cfg.visibility, |rows| {
        for r in rows {
            ids.push(r.id.as_str());
            texts.push(&r.text);
            langs.push(&r.lang);
            docs.push(crate::document_of(&r.source));
            hashes.push(r.text_hash);
        }
        progress(Progress {
            phase: "load",
            done: hashes.len() as u64,
            total,
        });
        Ok(())
    })?;
    let n = hashes.len();
    stats.geoids = n as u64;

    // first position of each text, and the next position with the same text (the same
    // statement in two languages shares one cached vector)
    const NONE: u32 = u32::MAX;
    let mut first: HashMap<[u8; 32], u32> = HashMap::with_capacity(n);
    let mut next_same = vec![NONE; n];
    for (i, h) in hashes.iter().enumerate().rev() {
        if let Some(later) = first.insert(*h, i as u32) {
            next_same[i] = later;
        }
    }
    drop(hashes);

    // dims[i]: length of geoid i's vector, 0 = none; only vectors of the first length
    // seen are copied, a different length is reported below
    let mut dims = vec![0u32; n];
    let mut data: Vec<f32> = Vec::new();
    let mut dim = 0usize;
    store.for_each_embedding::<ReactorError>(&cfg.model_id, |h, v| {
        let Some(&p0) = first.get(h) else {
            return Ok(()); // a cached vector of a text no longer stored
        };
        if v.is_empty() {
            return Err(ReactorError::DimensionMismatch {
                id: ids.get(p0).to_string(),
                model: cfg.model_id.clone(),
                expected: dim,
                found: 0,
            });
        }
        if dim == 0 {
            dim = v.len();
            data = vec![0f32; n * dim];
        }
        let mut p = p0 as usize;
        loop {
            dims[p] = v.len() as u32;
            if v.len() == dim {
                data[p * dim..(p + 1) * dim].copy_from_slice(v);
            }
            p = match next_same[p] {
                NONE => break,
                q => q as usize,
            };
        }
        Ok(())
    })?;
    drop(first);
    drop(next_same);

    // the first geoid with a vector sets the dimension, as if read in seq order
    if let Some(expected) = dims.iter().copied().find(|&d| d > 0) {
        if let Some(p) = dims.iter().position(|&d| d > 0 && d != expected) {
            return Err(ReactorError::DimensionMismatch {
                id: ids.get(p as u32).to_string(),
                model: cfg.model_id.clone(),
                expected: expected as usize,
                found: dims[p] as usize,
            });
        }
    }

    // squeeze out the geoids without a vector, keeping seq order
    let kept = dims.iter().filter(|&&d| d > 0).count();
    stats.missing_vectors = (n - kept) as u64;
    if kept < n {
        let (mut i2, mut t2, mut l2, mut d2) = (
            Strings::default(),
            Strings::default(),
            Strings::default(),
            Strings::default(),
        );
        let mut w = 0;
        for (p, &d) in dims.iter().enumerate() {
            if d == 0 {
                continue;
            }
            if w != p {
                data.copy_within(p * dim..(p + 1) * dim, w * dim);
            }
            i2.push(ids.get(p as u32));
            t2.push(texts.get(p as u32));
            l2.push(langs.get(p as u32));
            d2.push(docs.get(p as u32));
            w += 1;
        }
        data.truncate(w * dim);
        data.shrink_to_fit();
        (ids, texts, langs, docs) = (i2, t2, l2, d2);
    }
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
        docs,
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
            let dense = knn::search(&mut loaded.table, &cfg.knn, parallel)?.pairs();
            Ok(with_lexical(dense, loaded, cfg, parallel, stats))
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

/// `dense` with the lexical channel's candidates ([`crate::lexical`]) whose vector
/// cosine reaches the floor; sorted and unique. Counts the pairs only the lexical
/// channel proposed in `stats.lexical_pairs`.
fn with_lexical(
    mut dense: Vec<(u32, u32)>,
    loaded: &Loaded,
    cfg: &RunConfig,
    parallel: bool,
    stats: &mut RunStats,
) -> Vec<(u32, u32)> {
    // the search's pairs are sorted and unique already; a caller's (Python) may not be
    dense.sort_unstable();
    dense.dedup();
    if cfg.knn.lexical_k == 0 {
        return dense;
    }
    let n = loaded.table.len();
    let lists = crate::lexical::neighbours(n, |i| loaded.texts.get(i), cfg.knn.lexical_k, parallel);
    let mut lex: Vec<(u32, u32)> = lists
        .iter()
        .enumerate()
        .flat_map(|(i, l)| {
            let i = i as u32;
            l.iter()
                .filter(move |&&(j, _)| {
                    knn::dot8(loaded.table.get(i), loaded.table.get(j)) >= cfg.knn.floor
                })
                .map(move |&(j, _)| (i.min(j), i.max(j)))
        })
        .collect();
    lex.sort_unstable();
    lex.dedup();
    let before = dense.len();
    let mut all = dense;
    all.extend(lex);
    all.sort_unstable();
    all.dedup();
    stats.lexical_pairs = (all.len() - before) as u64;
    all
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
                a_doc: loaded.docs.get(a),
                b_doc: loaded.docs.get(b),
            }
        })
        .collect();
    scars_of(&inputs, detectors)
}

/// Scores pairs with every detector, in order; returns the scars, pair by pair and
/// detector by detector. Pure: the same pairs always give the same scars (a detector's
/// verdict on a pair never depends on the rest of the batch), which is what lets a
/// distributed run score batches anywhere and still write what `kimera run` writes.
pub fn scars_of(inputs: &[PairInput<'_>], detectors: &[Box<dyn Detector>]) -> Vec<Scar> {
    let verdicts: Vec<Vec<crate::Verdict>> =
        detectors.iter().map(|d| d.score_batch(inputs)).collect();
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

/// What a cycle reads before it picks candidates — the geoids with a vector (in `seq`
/// order, unit vectors) and the weights of the scars stored before the run — held for a
/// cycle whose phases run elsewhere (`kimera.ray`: the driver loads a snapshot, workers
/// search and score its pieces, the driver writes the scars). Geoid `i` is the `i`-th
/// geoid with a vector, as in a cycle.
#[derive(Debug)]
pub struct Snapshot {
    loaded: Loaded,
    scars: ScarIndex,
    /// `geoids`, `vectors`, `missing_vectors` and `load_ms` of the run, as a cycle fills them.
    pub stats: RunStats,
}

impl Snapshot {
    /// Loads the geoids and vectors of `cfg.model_id` and the stored scars, as a cycle does.
    pub fn load(store: &Store, cfg: &RunConfig) -> Result<Snapshot, ReactorError> {
        let t = Instant::now();
        let mut stats = RunStats::default();
        let loaded = load(store, cfg, &|_| {}, &mut stats)?;
        let scars = ScarIndex::load(store, &loaded.ids)?;
        stats.load_ms = t.elapsed().as_millis() as u64;
        Ok(Snapshot {
            loaded,
            scars,
            stats,
        })
    }

    /// Geoids with a vector.
    pub fn len(&self) -> usize {
        self.loaded.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The vectors (unit length, geoid `i` at row `i`).
    pub fn table(&self) -> &VectorTable {
        &self.loaded.table
    }

    pub fn id(&self, i: u32) -> &str {
        self.loaded.ids.get(i)
    }

    pub fn text(&self, i: u32) -> &str {
        self.loaded.texts.get(i)
    }

    pub fn lang(&self, i: u32) -> &str {
        self.loaded.langs.get(i)
    }

    /// Geoid `i`'s document ([`crate::document_of`] its source).
    pub fn doc(&self, i: u32) -> &str {
        self.loaded.docs.get(i)
    }

    /// Mean weight of the stored scars touching `a` or `b` (resonance is
    /// `cosine · (1 − mean)`).
    pub fn scar_mean(&self, a: u32, b: u32) -> f32 {
        self.scars.mean(a, b)
    }

    /// The `ann` pairing's vector candidates `dense` (merged from the lists' searches,
    /// sorted and unique) with the lexical channel's added, as a cycle adds them.
    pub fn with_lexical(
        &mut self,
        cfg: &RunConfig,
        dense: Vec<(u32, u32)>,
        parallel: bool,
    ) -> Vec<(u32, u32)> {
        with_lexical(dense, &self.loaded, cfg, parallel, &mut self.stats)
    }

    /// Every candidate pair of `cfg.pairing`, as a cycle picks them (the `ann` pairing
    /// searched here, in this process): for measuring the candidate stage.
    pub fn candidates(
        &mut self,
        store: &Store,
        cfg: &RunConfig,
        parallel: bool,
    ) -> Result<Vec<(u32, u32)>, ReactorError> {
        let mut stats = std::mem::take(&mut self.stats);
        let out = candidates(store, cfg, &mut self.loaded, parallel, &mut stats);
        self.stats = stats;
        out
    }

    /// The candidate pairs of a `random` or `pairs` pairing (cheap: the driver computes
    /// them); `ann` is searched in pieces ([`knn::search_list`]) and is refused here.
    pub fn fixed_pairs(
        &mut self,
        store: &Store,
        cfg: &RunConfig,
    ) -> Result<Vec<(u32, u32)>, ReactorError> {
        if cfg.pairing == Pairing::Ann {
            return Err(ReactorError::InvalidConfig(
                "the ann pairing is searched list by list, not here".into(),
            ));
        }
        self.candidates(store, cfg, false)
    }
}

/// The shared body of both cycles.
fn cycle(
    store: &mut Store,
    cfg: &RunConfig,
    detectors: &[Box<dyn Detector>],
    progress: &(dyn Fn(Progress) + Sync),
    parallel: bool,
    cancel: Option<&AtomicBool>,
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
    let workers = rayon::current_num_threads().max(1);
    for (ci, chunk) in pairs.chunks(cfg.chunk).enumerate() {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(ReactorError::Cancelled);
        }
        let scars: Vec<Scar> = if parallel {
            chunk
                .par_chunks(sub_chunk(cfg.chunk, chunk.len(), workers))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_chunks_spread_small_chunks_and_cap_big_ones() {
        // A full default chunk on 2 workers: 8 calls of 1,250 pairs.
        assert_eq!(sub_chunk(10_000, 10_000, 2), 1_250);
        // A small chunk still reaches both workers.
        assert_eq!(sub_chunk(10_000, 495, 2), 248);
        // Tiny chunks and degenerate inputs never give 0.
        assert_eq!(sub_chunk(10_000, 3, 4), 1);
        assert_eq!(sub_chunk(0, 0, 0), 1);
        // Big chunks on one worker: at most 4,096 pairs per call.
        assert_eq!(sub_chunk(100_000, 100_000, 1), 4_096);
    }
    use kimera_core::{Geoid, Source};

    /// (id, text, lang, unit vector) of each loaded geoid.
    type Rows = Vec<(String, String, String, Vec<f32>)>;

    /// What the reactor loaded before the bulk path: pages of geoids, one lookup per hash.
    fn per_hash(store: &Store, model: &str) -> Rows {
        let mut out = Vec::new();
        store
            .for_each_geoid(4, |rows| {
                let hashes: Vec<[u8; 32]> = rows.iter().map(|r| r.text_hash).collect();
                for (r, v) in rows.iter().zip(store.get_embeddings(model, &hashes)?) {
                    if let Some(v) = v {
                        let dim = v.len();
                        let t = VectorTable::new(v, dim);
                        out.push((
                            r.id.to_string(),
                            r.text.clone(),
                            r.lang.clone(),
                            t.get(0).to_vec(),
                        ));
                    }
                }
                Ok(())
            })
            .unwrap();
        out
    }

    fn loaded(store: &Store, model: &str) -> (RunStats, Rows) {
        let cfg = RunConfig {
            model_id: model.into(),
            chunk: 3,
            ..RunConfig::default()
        };
        let mut stats = RunStats::default();
        let l = load(store, &cfg, &|_| {}, &mut stats).unwrap();
        let rows = (0..l.table.len() as u32)
            .map(|i| {
                (
                    l.ids.get(i).to_string(),
                    l.texts.get(i).to_string(),
                    l.langs.get(i).to_string(),
                    l.table.get(i).to_vec(),
                )
            })
            .collect();
        (stats, rows)
    }

    #[test]
    fn bulk_load_gives_exactly_what_per_hash_lookups_gave() {
        let mut s = Store::open_in_memory().unwrap();
        let mut geoids: Vec<Geoid> = (0..12)
            .map(|i| Geoid::new(format!("Statement number {i}"), "en", Source::Api))
            .collect();
        // the same text in two more languages: three geoids, one cached vector
        geoids.push(Geoid::new("Statement number 5", "fr", Source::Api));
        geoids.push(Geoid::new("Statement number 5", "de", Source::Api));
        s.insert_geoids(&geoids).unwrap();
        let vecs: Vec<Vec<f32>> = (0..12)
            .map(|i| vec![1.0 + i as f32, -2.0, 0.5 * i as f32])
            .collect();
        // no vector for 0, 7 and 11; 3 only under another model; plus an orphan vector
        let mut items: Vec<([u8; 32], &[f32])> = (0..12)
            .filter(|i| ![0, 3, 7, 11].contains(i))
            .map(|i| (geoids[i].text_hash, vecs[i].as_slice()))
            .collect();
        let orphan = kimera_core::text_hash("a statement since deleted");
        items.push((orphan, &vecs[0]));
        s.put_embeddings("m", &items).unwrap();
        s.put_embeddings("other", &[(geoids[3].text_hash, &vecs[3][..])])
            .unwrap();

        let (stats, got) = loaded(&s, "m");
        assert_eq!(got, per_hash(&s, "m"));
        assert_eq!((stats.geoids, stats.missing_vectors), (14, 4));
        assert_eq!(got.len(), 10);
        assert_eq!(
            got.iter().filter(|r| r.1 == "Statement number 5").count(),
            3
        );
        assert_eq!(loaded(&s, "other").1, per_hash(&s, "other"));
    }

    #[test]
    fn a_vector_of_another_length_names_the_first_odd_geoid() {
        let mut s = Store::open_in_memory().unwrap();
        let g: Vec<Geoid> = ["a b", "c d", "e f"]
            .iter()
            .map(|t| Geoid::new(*t, "en", Source::Api))
            .collect();
        s.insert_geoids(&g).unwrap();
        s.put_embeddings(
            "m",
            &[
                (g[0].text_hash, &[1.0, 0.0][..]),
                (g[1].text_hash, &[1.0, 0.0, 0.0][..]),
                (g[2].text_hash, &[0.0, 1.0][..]),
            ],
        )
        .unwrap();
        let cfg = RunConfig {
            model_id: "m".into(),
            ..RunConfig::default()
        };
        let err = load(&s, &cfg, &|_| {}, &mut RunStats::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(g[1].id.as_str()) && err.contains("3 dimensions, expected 2"),
            "{err}"
        );
    }
}
