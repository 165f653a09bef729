//! The phases of `kimera run` as separate calls, for a cycle spread over a cluster
//! (`kimera.ray`). Each call is one phase of [`kimera_reactor`]'s cycle on a piece of
//! the data, cut where the cycle cuts it, so the pieces put together give the cycle's
//! scars bit for bit:
//!
//! 1. driver: [`PySnapshot`] loads the geoids with a vector and the stored scars, fits
//!    the IVF centroids ([`kimera_reactor::knn::fit_centroids`]);
//! 2. workers: [`probe`] assigns blocks of vectors to their lists (blocks start at
//!    multiples of `PROBE_BLOCK`), [`search_list`] searches one list for the queries
//!    probing it;
//! 3. driver: [`merge_pairs`] merges the lists' best-k into each geoid's neighbours and
//!    the candidate pairs (sorted);
//! 4. workers: [`PyDetectors::detect`] scores a batch of pairs ([`PySnapshot::payload`]
//!    packs what it needs: texts, vectors, the resonance's scar weights);
//! 5. driver: [`PySnapshot::write_chunk`] writes each chunk's scars in pair order, one
//!    transaction per chunk, as `kimera run` does; [`PySnapshot::finish`] records the run.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use kimera_core::{GeoidId, Scar};
use kimera_reactor::knn::{self, Merge, VectorTable};
use kimera_reactor::{Detector, PairInput, RunConfig, RunStats, Snapshot};
use kimera_store::Store;
use numpy::ndarray::{Array1, Array2};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::store::{RunArgs, detectors_on};
use crate::{ConfigError, IntoPy, KimeraError, to_python};

/// No neighbour in this slot of a [`search_list`] result.
const NONE: u32 = u32::MAX;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySnapshot>()?;
    m.add_class::<PyDetectors>()?;
    m.add_function(wrap_pyfunction!(probe, m)?)?;
    m.add_function(wrap_pyfunction!(search_list, m)?)?;
    m.add_function(wrap_pyfunction!(merge_pairs, m)?)?;
    m.add("PROBE_BLOCK", knn::PROBE_BLOCK)?;
    Ok(())
}

/// A C-contiguous `rows × cols` float32 array as a slice.
fn slice2<'a>(a: &'a PyReadonlyArray2<'_, f32>, what: &str) -> PyResult<&'a [f32]> {
    a.as_slice()
        .map_err(|_| ConfigError::new_err(format!("{what} must be a C-contiguous float32 array")))
}

fn slice1<'a>(a: &'a PyReadonlyArray1<'_, u32>, what: &str) -> PyResult<&'a [u32]> {
    a.as_slice()
        .map_err(|_| ConfigError::new_err(format!("{what} must be a contiguous uint32 array")))
}

fn array2<T: numpy::Element>(
    py: Python<'_>,
    rows: usize,
    cols: usize,
    data: Vec<T>,
) -> PyResult<Bound<'_, PyArray2<T>>> {
    Ok(Array2::from_shape_vec((rows, cols), data)
        .map_err(|e| KimeraError::new_err(e.to_string()))?
        .into_pyarray(py))
}

/// The `nprobe` lists each vector searches (its own first): `len × nprobe` uint32.
/// A caller that splits the vectors must split them at multiples of `PROBE_BLOCK`.
#[pyfunction]
fn probe<'py>(
    py: Python<'py>,
    vectors: PyReadonlyArray2<'py, f32>,
    centroids: PyReadonlyArray2<'py, f32>,
    nprobe: usize,
) -> PyResult<Bound<'py, PyArray2<u32>>> {
    let dim = vectors.shape()[1];
    if centroids.shape()[1] != dim || dim == 0 {
        return Err(ConfigError::new_err(format!(
            "probe: vectors have {dim} dimensions, centroids {}",
            centroids.shape()[1]
        )));
    }
    let (v, c) = (
        slice2(&vectors, "vectors")?.to_vec(),
        slice2(&centroids, "centroids")?,
    );
    let n = v.len() / dim;
    let out = py
        .detach(|| knn::probe(&VectorTable::from_unit(v, dim), c, nprobe, false))
        .py_err()?;
    array2(py, n, nprobe, out)
}

/// One IVF list searched for the queries that probe it (both in ascending id order):
/// `(neighbours, scores)`, `len(query_ids) × k` each, best first; an empty slot holds
/// id 2**32-1.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn search_list<'py>(
    py: Python<'py>,
    rows: PyReadonlyArray2<'py, f32>,
    row_ids: PyReadonlyArray1<'py, u32>,
    queries: PyReadonlyArray2<'py, f32>,
    query_ids: PyReadonlyArray1<'py, u32>,
    k: usize,
    floor: f32,
) -> PyResult<(Bound<'py, PyArray2<u32>>, Bound<'py, PyArray2<f32>>)> {
    let dim = rows.shape()[1].max(queries.shape()[1]);
    let (r, ri) = (slice2(&rows, "rows")?, slice1(&row_ids, "row_ids")?);
    let (q, qi) = (
        slice2(&queries, "queries")?,
        slice1(&query_ids, "query_ids")?,
    );
    let found = py
        .detach(|| knn::search_list(r, ri, q, qi, dim, k, floor, false))
        .py_err()?;
    let nq = found.len();
    let (mut idx, mut sc) = (vec![NONE; nq * k], vec![0f32; nq * k]);
    for (j, best) in found.into_iter().enumerate() {
        for (s, (i, x)) in best.into_iter().enumerate() {
            idx[j * k + s] = i;
            sc[j * k + s] = x;
        }
    }
    Ok((array2(py, nq, k, idx)?, array2(py, nq, k, sc)?))
}

/// Merges the lists' results (`(query_ids, neighbours, scores)` triples, any order) into
/// each of the `n` geoids' top-k and returns the candidate pairs `(a, b)`, `a < b`,
/// sorted: what `kimera run` scores.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn merge_pairs<'py>(
    py: Python<'py>,
    n: usize,
    k: usize,
    floor: f32,
    parts: Vec<(
        PyReadonlyArray1<'py, u32>,
        PyReadonlyArray2<'py, u32>,
        PyReadonlyArray2<'py, f32>,
    )>,
) -> PyResult<Bound<'py, PyArray2<u32>>> {
    let mut merge = Merge::new(n, k, floor);
    for (qi, idx, sc) in &parts {
        let qi = slice1(qi, "query_ids")?;
        let idx = idx
            .as_slice()
            .map_err(|_| ConfigError::new_err("neighbours must be contiguous"))?;
        let sc = slice2(sc, "scores")?;
        let width = if qi.is_empty() {
            0
        } else {
            idx.len() / qi.len()
        };
        for (j, &q) in qi.iter().enumerate() {
            let items: Vec<(u32, f32)> = (0..width)
                .map(|s| (idx[j * width + s], sc[j * width + s]))
                .filter(|&(i, _)| i != NONE)
                .collect();
            merge.add(q, &items).py_err()?;
        }
    }
    let pairs = py.detach(|| merge.finish().pairs());
    let flat: Vec<u32> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
    array2(py, pairs.len(), 2, flat)
}

/// What the driver holds during a distributed run.
struct Driver {
    store: Store,
    snap: Snapshot,
    cfg: RunConfig,
    stats: RunStats,
    by_detector: Vec<(String, u64)>,
}

/// The driver's side of a distributed `kimera run`: the store, the loaded geoids and
/// vectors, and the run being recorded.
#[pyclass(name = "Snapshot", module = "kimera._kimera", frozen)]
pub struct PySnapshot {
    path: PathBuf,
    inner: Mutex<Driver>,
    n: usize,
    dim: usize,
    nlist: usize,
    nprobe: usize,
    k: usize,
    floor: f32,
    chunk: usize,
    pairing: String,
}

impl PySnapshot {
    fn lock(&self) -> PyResult<MutexGuard<'_, Driver>> {
        self.inner
            .lock()
            .map_err(|_| KimeraError::new_err("the snapshot is unusable: a call on it panicked"))
    }
}

#[pymethods]
impl PySnapshot {
    #[new]
    #[pyo3(signature = (path, pairing = "ann", k = 10, min_sim = 0.4, seed = 42,
        chunk = 10_000, exact_max = 5_000, nprobe = 8, model_id = None, as_of = None,
        lexical_k = kimera_reactor::lexical::DEFAULT_K))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        pairing: &str,
        k: usize,
        min_sim: f32,
        seed: u64,
        chunk: usize,
        exact_max: usize,
        nprobe: usize,
        model_id: Option<String>,
        as_of: Option<i64>,
        lexical_k: usize,
    ) -> PyResult<Self> {
        if chunk == 0 {
            return Err(ConfigError::new_err(
                "invalid reactor config: chunk must be at least 1",
            ));
        }
        let args = RunArgs {
            pairing: pairing.to_string(),
            k,
            min_sim,
            seed,
            chunk,
            workers: 0,
            exact_max,
            nprobe,
            lexical_k,
            model_id,
        };
        let p = path.clone();
        let (store, snap, cfg) = py
            .detach(|| -> anyhow::Result<_> {
                let store = Store::open(&p)?;
                let mut cfg = args.config(&store)?;
                // `kimera run --as-of`: the statements as they were then
                cfg.visibility = kimera_store::Visibility::at(as_of);
                let snap = match Snapshot::load(&store, &cfg) {
                    Err(e @ kimera_reactor::ReactorError::NoVectors { .. }) => {
                        return Err(anyhow::Error::new(e).context("run `kimera embed` first"));
                    }
                    other => other?,
                };
                Ok((store, snap, cfg))
            })
            .py_err()?;
        let n = snap.len();
        let (nlist, nprobe) = if n == 0 {
            (1, 1)
        } else {
            knn::plan(n, &cfg.knn)
        };
        let stats = snap.stats.clone();
        Ok(PySnapshot {
            path,
            n,
            dim: snap.table().dim,
            nlist,
            nprobe,
            k: cfg.knn.k,
            floor: cfg.knn.floor,
            chunk: cfg.chunk,
            pairing: cfg.pairing.as_str().to_string(),
            inner: Mutex::new(Driver {
                store,
                snap,
                cfg,
                stats,
                by_detector: Vec::new(),
            }),
        })
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }
    /// Geoids with a vector (the run's `vectors`).
    #[getter]
    fn n(&self) -> usize {
        self.n
    }
    #[getter]
    fn dim(&self) -> usize {
        self.dim
    }
    /// IVF lists (1: exact search).
    #[getter]
    fn nlist(&self) -> usize {
        self.nlist
    }
    #[getter]
    fn nprobe(&self) -> usize {
        self.nprobe
    }
    #[getter]
    fn k(&self) -> usize {
        self.k
    }
    #[getter]
    fn floor(&self) -> f32 {
        self.floor
    }
    #[getter]
    fn chunk(&self) -> usize {
        self.chunk
    }
    #[getter]
    fn pairing(&self) -> String {
        self.pairing.clone()
    }
    #[getter]
    fn model_id(&self) -> PyResult<String> {
        Ok(self.lock()?.cfg.model_id.clone())
    }

    /// The unit vectors, geoid `i` at row `i`: `n × dim` float32.
    fn vectors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let d = self.lock()?;
        let t = d.snap.table();
        let mut out = Vec::with_capacity(self.n * self.dim);
        for i in 0..self.n as u32 {
            out.extend_from_slice(t.get(i));
        }
        drop(d);
        array2(py, self.n, self.dim, out)
    }

    /// The IVF centroids `kimera run` fits (`nlist × dim`; only for `nlist > 1`).
    fn fit_centroids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let d = self.lock()?;
        let nlist = self.nlist;
        let table = d.snap.table();
        let c = py
            .detach(|| knn::fit_centroids(table, nlist, true))
            .py_err()?;
        drop(d);
        array2(py, nlist, self.dim, c)
    }

    /// The `ann` pairing's candidates: the merged vector pairs (`p × 2` uint32, from
    /// [`merge_pairs`]) with the lexical channel's added, sorted — what `kimera run`
    /// scores. Computed here, on the driver, from the snapshot's texts.
    fn with_lexical<'py>(
        &self,
        py: Python<'py>,
        pairs: PyReadonlyArray2<'py, u32>,
    ) -> PyResult<Bound<'py, PyArray2<u32>>> {
        let p = pairs
            .as_slice()
            .map_err(|_| ConfigError::new_err("pairs must be a contiguous uint32 array"))?;
        let dense: Vec<(u32, u32)> = p.chunks_exact(2).map(|c| (c[0], c[1])).collect();
        let mut d = self.lock()?;
        let Driver { snap, cfg, .. } = &mut *d;
        let all = py.detach(|| snap.with_lexical(cfg, dense, true));
        d.stats.lexical_pairs = d.snap.stats.lexical_pairs;
        let flat: Vec<u32> = all.iter().flat_map(|&(a, b)| [a, b]).collect();
        array2(py, all.len(), 2, flat)
    }

    /// The candidate pairs of a `random` or `pairs` pairing (`p × 2` uint32).
    fn fixed_pairs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<u32>>> {
        let mut d = self.lock()?;
        let Driver {
            store, snap, cfg, ..
        } = &mut *d;
        let pairs = snap.fixed_pairs(store, cfg).py_err()?;
        d.stats.pairs_skipped = d.snap.stats.pairs_skipped;
        drop(d);
        let flat: Vec<u32> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
        array2(py, pairs.len(), 2, flat)
    }

    /// What a worker needs to score `pairs` (`p × 2` geoid numbers): `(ids, texts,
    /// langs, vectors, local_pairs, scar_means, docs)` for the geoids the pairs touch.
    #[allow(clippy::type_complexity)]
    fn payload<'py>(
        &self,
        py: Python<'py>,
        pairs: PyReadonlyArray2<'py, u32>,
    ) -> PyResult<(
        Vec<String>,
        Vec<String>,
        Vec<String>,
        Bound<'py, PyArray2<f32>>,
        Bound<'py, PyArray2<u32>>,
        Bound<'py, PyArray1<f32>>,
        Vec<String>,
    )> {
        let p = pairs
            .as_slice()
            .map_err(|_| ConfigError::new_err("pairs must be a contiguous uint32 array"))?;
        let d = self.lock()?;
        let snap = &d.snap;
        let mut local: HashMap<u32, u32> = HashMap::new();
        let mut order: Vec<u32> = Vec::new();
        let mut lp = Vec::with_capacity(p.len());
        for &g in p {
            if g as usize >= self.n {
                return Err(ConfigError::new_err(format!(
                    "payload: geoid {g} is not among the {} loaded",
                    self.n
                )));
            }
            let next = order.len() as u32;
            let l = *local.entry(g).or_insert_with(|| {
                order.push(g);
                next
            });
            lp.push(l);
        }
        let means: Vec<f32> = p
            .chunks_exact(2)
            .map(|ab| snap.scar_mean(ab[0], ab[1]))
            .collect();
        let ids = order.iter().map(|&g| snap.id(g).to_string()).collect();
        let texts = order.iter().map(|&g| snap.text(g).to_string()).collect();
        let langs = order.iter().map(|&g| snap.lang(g).to_string()).collect();
        let docs = order.iter().map(|&g| snap.doc(g).to_string()).collect();
        let mut vecs = Vec::with_capacity(order.len() * self.dim);
        for &g in &order {
            vecs.extend_from_slice(snap.table().get(g));
        }
        drop(d);
        let np = lp.len() / 2;
        Ok((
            ids,
            texts,
            langs,
            array2(py, order.len(), self.dim, vecs)?,
            array2(py, np, 2, lp)?,
            Array1::from_vec(means).into_pyarray(py),
            docs,
        ))
    }

    /// Starts the run's row in the store (`runs`), as `kimera run` does.
    fn begin(&self, detectors: Vec<String>, workers: usize, args: Vec<String>) -> PyResult<i64> {
        let mut d = self.lock()?;
        let run_id = d.store.start_run("run", &args).py_err()?;
        let model_id = d.cfg.model_id.clone();
        let stats = &mut d.stats;
        stats.run_id = run_id;
        stats.mode = "ray".into();
        stats.workers = workers;
        stats.pairing = self.pairing.clone();
        stats.detectors = detectors.clone();
        stats.index = "-".into();
        if self.pairing == "ann" {
            stats.index = if self.nlist == 1 {
                "exact".into()
            } else {
                format!("ivf(nlist={},nprobe={})", self.nlist, self.nprobe)
            };
        }
        stats.model_id = model_id;
        d.by_detector = detectors.into_iter().map(|n| (n, 0)).collect();
        Ok(run_id)
    }

    /// Writes one chunk's scars (`(a, b, score, detector, evidence_json)`, in pair
    /// order) in one transaction; returns how many were new.
    fn write_chunk(
        &self,
        py: Python<'_>,
        scars: Vec<(String, String, f32, String, String)>,
    ) -> PyResult<u64> {
        let mut built = Vec::with_capacity(scars.len());
        for (a, b, score, det, ev) in scars {
            let evidence: serde_json::Value = serde_json::from_str(&ev)
                .map_err(|e| ConfigError::new_err(format!("scar evidence is not JSON: {e}")))?;
            built.push(Scar::new(GeoidId(a), GeoidId(b), score, det, evidence));
        }
        let mut d = self.lock()?;
        let run_id = d.stats.run_id;
        let store = &mut d.store;
        let new = py
            .detach(|| store.insert_scars(&built, Some(run_id)))
            .py_err()?;
        for s in &built {
            if let Some(e) = d.by_detector.iter_mut().find(|(n, _)| n == &s.detector) {
                e.1 += 1;
            }
        }
        d.stats.scars_found += built.len() as u64;
        d.stats.new_scars += new;
        d.stats.chunks += 1;
        Ok(new)
    }

    /// Records the run (stats, or the error) and returns its stats (`kimera run --json`).
    #[pyo3(signature = (pairs_checked, candidates_ms, detect_ms, latency_ms, error = None))]
    fn finish(
        &self,
        py: Python<'_>,
        pairs_checked: u64,
        candidates_ms: u64,
        detect_ms: u64,
        latency_ms: u64,
        error: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let mut d = self.lock()?;
        let run_id = d.stats.run_id;
        d.stats.pairs_checked = pairs_checked;
        d.stats.candidates_ms = candidates_ms;
        d.stats.detect_ms = detect_ms;
        d.stats.latency_ms = latency_ms;
        d.stats.scars_by_detector = d.by_detector.clone();
        d.stats.mem_mb = (kimera_reactor::peak_rss_mb() * 10.0).round() / 10.0;
        d.stats.geoids_per_s = if latency_ms > 0 {
            (d.stats.vectors as f64 * 1000.0 / latency_ms as f64).round()
        } else {
            0.0
        };
        let stats = d.stats.clone();
        match error {
            None => {
                let json = serde_json::to_value(&stats).unwrap_or_default();
                d.store.finish_run(run_id, true, &json).py_err()?;
            }
            Some(e) => {
                d.store
                    .finish_run(run_id, false, &serde_json::json!({ "error": e }))
                    .py_err()?;
            }
        }
        to_python(py, &stats)
    }
}

/// A worker's detector cascade, loaded once (a Ray actor holds one).
#[pyclass(name = "Detectors", module = "kimera._kimera", frozen)]
pub struct PyDetectors {
    dets: Vec<Box<dyn Detector>>,
}

#[pymethods]
impl PyDetectors {
    /// `names`: the cascade (`kimera run --detectors`); `store_path`: the store the
    /// `graph` detector reads its learned graph from.
    #[new]
    #[pyo3(signature = (names = "model", store_path = None))]
    fn new(py: Python<'_>, names: &str, store_path: Option<PathBuf>) -> PyResult<Self> {
        let dets = py
            .detach(|| -> anyhow::Result<_> {
                let store = store_path.map(Store::open).transpose()?;
                detectors_on(names, store.as_ref())
            })
            .py_err()?;
        Ok(PyDetectors { dets })
    }

    #[getter]
    fn names(&self) -> Vec<String> {
        self.dets.iter().map(|d| d.name().to_string()).collect()
    }

    /// Scores a [`PySnapshot::payload`]: its scars `(a, b, score, detector,
    /// evidence_json)`, pair by pair and detector by detector.
    #[allow(clippy::type_complexity)]
    fn detect(
        &self,
        py: Python<'_>,
        payload: (
            Vec<String>,
            Vec<String>,
            Vec<String>,
            PyReadonlyArray2<'_, f32>,
            PyReadonlyArray2<'_, u32>,
            PyReadonlyArray1<'_, f32>,
            Vec<String>,
        ),
    ) -> PyResult<Vec<(String, String, f32, String, String)>> {
        let (ids, texts, langs, vecs, pairs, means, docs) = payload;
        let dim = vecs.shape()[1].max(1);
        let v = slice2(&vecs, "vectors")?;
        let p = pairs
            .as_slice()
            .map_err(|_| ConfigError::new_err("pairs must be a contiguous uint32 array"))?;
        let m = means
            .as_slice()
            .map_err(|_| ConfigError::new_err("means must be a contiguous float32 array"))?;
        let u = ids.len();
        if texts.len() != u
            || langs.len() != u
            || docs.len() != u
            || v.len() != u * dim
            || m.len() * 2 != p.len()
        {
            return Err(ConfigError::new_err(
                "detect: the payload's parts disagree in length",
            ));
        }
        if p.iter().any(|&i| i as usize >= u) {
            return Err(ConfigError::new_err(
                "detect: a pair names a geoid outside the payload",
            ));
        }
        let scars = py.detach(|| {
            let vec_of = |i: u32| &v[i as usize * dim..(i as usize + 1) * dim];
            let inputs: Vec<PairInput<'_>> = p
                .chunks_exact(2)
                .zip(m)
                .map(|(ab, &mean)| {
                    let (a, b) = (ab[0], ab[1]);
                    let (av, bv) = (vec_of(a), vec_of(b));
                    let cosine = knn::dot8(av, bv);
                    PairInput {
                        a_id: &ids[a as usize],
                        b_id: &ids[b as usize],
                        a_text: &texts[a as usize],
                        b_text: &texts[b as usize],
                        a_lang: &langs[a as usize],
                        b_lang: &langs[b as usize],
                        a_vec: av,
                        b_vec: bv,
                        cosine,
                        resonance: cosine * (1.0 - mean.clamp(0.0, 1.0)),
                        a_doc: &docs[a as usize],
                        b_doc: &docs[b as usize],
                    }
                })
                .collect();
            kimera_reactor::scars_of(&inputs, &self.dets)
        });
        scars
            .into_iter()
            .map(|s| {
                let ev = serde_json::to_string(&s.evidence)
                    .map_err(|e| KimeraError::new_err(e.to_string()))?;
                Ok((s.a.0, s.b.0, s.score, s.detector, ev))
            })
            .collect()
    }
}
