//! `kimera.Store`: one store file, with the CLI's commands as methods.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard, OnceLock};

use anyhow::Context;
use kimera_core::{Geoid, Source};
use kimera_embed::{MiniLmEncoder, MiniLmOptions, model_dir};
use kimera_reactor::{Detector, KnnParams, Pairing, ReactorError, RunConfig};
use kimera_store::Store;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::{ConfigError, IntoPy, KimeraError, NotFound, interruptible, to_python};

/// The reactor's detectors for a run on `store`: the `graph` detector reads the concept
/// graph learned in it (as `kimera run` does).
pub(crate) fn detectors_on(
    list: &str,
    store: Option<&Store>,
) -> anyhow::Result<Vec<Box<dyn Detector>>> {
    let mut out = kimera_detect::detectors_from_list(list)?;
    for d in out.iter_mut().filter(|d| d.name() == "graph") {
        let store = store.context("the graph detector needs the store it learned from")?;
        let graph = kimera_learn::Graph::load_bounded(store)?;
        *d = Box::new(kimera_learn::GraphDetector::new(graph));
    }
    Ok(out)
}

/// The model whose vectors to read: the one asked for, or the only one stored (the
/// CLI's rule and messages).
pub(crate) fn pick_model(store: &Store, asked: Option<&str>) -> anyhow::Result<String> {
    if let Some(m) = asked {
        return Ok(m.to_string());
    }
    let counts = store.counts()?;
    if counts.geoids == 0 {
        return Ok(counts
            .embeddings_by_model
            .first()
            .map_or_else(|| "-".to_string(), |(m, _)| m.clone()));
    }
    match counts.embeddings_by_model.as_slice() {
        [] => anyhow::bail!(
            "no embeddings in {}; run `kimera embed` first (or pass --model-id)",
            store.path().display()
        ),
        [(m, _)] => Ok(m.clone()),
        many => anyhow::bail!(
            "{} holds vectors of several models ({}); choose one with --model-id",
            store.path().display(),
            many.iter()
                .map(|(m, n)| format!("{m}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The reactor settings of `kimera run` (same names and defaults as its flags).
#[derive(Debug, Clone)]
pub(crate) struct RunArgs {
    pub pairing: String,
    pub k: usize,
    pub min_sim: f32,
    pub seed: u64,
    pub chunk: usize,
    pub workers: usize,
    pub exact_max: usize,
    pub nprobe: usize,
    pub lexical_k: usize,
    pub model_id: Option<String>,
}

impl RunArgs {
    pub(crate) fn config(&self, store: &Store) -> anyhow::Result<RunConfig> {
        let pairing: Pairing = self.pairing.parse()?;
        Ok(RunConfig {
            model_id: pick_model(store, self.model_id.as_deref())?,
            pairing,
            knn: KnnParams {
                k: self.k,
                floor: self.min_sim,
                exact_max: self.exact_max,
                nprobe: self.nprobe,
                lexical_k: self.lexical_k,
                ..KnnParams::default()
            },
            seed: self.seed,
            chunk: self.chunk,
            workers: self.workers,
            args: vec!["python".into(), "Store.run".into()],
            visibility: kimera_store::Visibility::Current,
        })
    }
}

/// A kimera store (one SQLite file): statements, their vectors, the scars found between
/// them and the learned concept graph.
#[pyclass(name = "Store", module = "kimera._kimera", frozen)]
pub struct PyStore {
    path: PathBuf,
    store: Mutex<Store>,
    encoder: OnceLock<MiniLmEncoder>,
}

impl PyStore {
    fn lock(&self) -> PyResult<MutexGuard<'_, Store>> {
        self.store
            .lock()
            .map_err(|_| KimeraError::new_err("the store is unusable: a call on it panicked"))
    }

    /// The CLI's encoder (`kimera embed`'s defaults), loaded on first use.
    fn encoder(&self) -> anyhow::Result<&MiniLmEncoder> {
        if let Some(e) = self.encoder.get() {
            return Ok(e);
        }
        let e = MiniLmEncoder::load(&model_dir(), MiniLmOptions::default())?;
        Ok(self.encoder.get_or_init(|| e))
    }
}

/// Texts or records (`{"text": ..., "lang": ..., "id": ..., "label": ...}`) as geoids.
fn geoids_of(items: &Bound<'_, PyAny>, lang: &str, source: &Source) -> PyResult<Vec<Geoid>> {
    let list: Vec<Bound<'_, PyAny>> =
        if items.is_instance_of::<PyString>() || items.is_instance_of::<PyDict>() {
            vec![items.clone()]
        } else {
            items.try_iter()?.collect::<PyResult<_>>()?
        };
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let g = if let Ok(text) = item.extract::<String>() {
            Geoid::new(text, lang, source.clone())
        } else if let Ok(d) = item.cast::<PyDict>() {
            let field = |name: &str| -> PyResult<Option<String>> {
                match d.get_item(name)? {
                    None => Ok(None),
                    Some(v) if v.is_none() => Ok(None),
                    Some(v) => v.extract::<String>().map(Some).map_err(|_| {
                        ConfigError::new_err(format!("record {i}: field {name:?} must be a string"))
                    }),
                }
            };
            let text = field("text")?
                .ok_or_else(|| ConfigError::new_err(format!("record {i}: no \"text\" field")))?;
            let lang = field("lang")?.unwrap_or_else(|| lang.to_string());
            let mut g = Geoid::new(text, lang, source.clone());
            if let Some(id) = field("id")? {
                g = g.with_external_id(id);
            }
            g.with_label(field("label")?)
        } else {
            return Err(ConfigError::new_err(format!(
                "item {i}: expected a str or a dict with a \"text\" field, got {}",
                item.get_type().name()?
            )));
        };
        if g.text.trim().is_empty() {
            return Err(ConfigError::new_err(format!("item {i}: the text is empty")));
        }
        out.push(g);
    }
    Ok(out)
}

#[pymethods]
impl PyStore {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let store = py.detach(|| Store::open(&path)).py_err()?;
        Ok(PyStore {
            path,
            store: Mutex::new(store),
            encoder: OnceLock::new(),
        })
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Statements, vectors per model, scars, pairs... (`kimera stats --json`'s counts).
    fn counts(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let c = self.lock()?.counts().py_err()?;
        to_python(py, &c)
    }

    #[pyo3(signature = (items, lang = "und", source = None))]
    fn add(
        &self,
        py: Python<'_>,
        items: &Bound<'_, PyAny>,
        lang: &str,
        source: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let src = source.map_or(Source::Api, Source::Client);
        let geoids = geoids_of(items, lang, &src)?;
        let mut guard = self.lock()?;
        let st: &mut Store = &mut guard;
        let s = py.detach(|| st.insert_geoids(&geoids)).py_err()?;
        to_python(
            py,
            &serde_json::json!({"inserted": s.inserted, "duplicates": s.duplicates}),
        )
    }

    #[pyo3(signature = (paths, format = None, strict = false, lang = "und", keep_all = false))]
    fn ingest(
        &self,
        py: Python<'_>,
        paths: &Bound<'_, PyAny>,
        format: Option<&str>,
        strict: bool,
        lang: &str,
        keep_all: bool,
    ) -> PyResult<Py<PyAny>> {
        let paths: Vec<PathBuf> = match paths.extract::<PathBuf>() {
            Ok(p) => vec![p],
            Err(_) => paths.extract()?,
        };
        let format = format
            .map(|f| f.parse::<kimera_ingest::Format>())
            .transpose()
            .map_err(|e| ConfigError::new_err(e.to_string()))?;
        let opts = kimera_ingest::IngestOptions {
            format,
            strict,
            default_lang: lang.to_string(),
            keep_all,
            ..Default::default()
        };
        let mut guard = self.lock()?;
        let st: &mut Store = &mut guard;
        let summary = py
            .detach(|| -> anyhow::Result<_> {
                let run_id = st.start_run("ingest", &["python".into(), "Store.ingest".into()])?;
                let s = kimera_ingest::ingest_paths(st, &paths, &opts, &|_, _, _| {})?;
                st.finish_run(run_id, s.failed_files == 0, &serde_json::to_value(&s)?)?;
                Ok(s)
            })
            .py_err()?;
        to_python(py, &summary)
    }

    #[pyo3(signature = (chunk = 4096))]
    fn embed(&self, py: Python<'_>, chunk: usize) -> PyResult<Py<PyAny>> {
        let mut guard = self.lock()?;
        let st: &mut Store = &mut guard;
        let stats = interruptible(py, |_| -> anyhow::Result<_> {
            let enc = self.encoder()?;
            let run_id = st.start_run("embed", &["python".into(), "Store.embed".into()])?;
            match kimera_embed::embed_store(st, enc, chunk.max(1), &|_, _| {}) {
                Ok(s) => {
                    st.finish_run(run_id, true, &serde_json::to_value(&s)?)?;
                    Ok(s)
                }
                Err(e) => {
                    let _ =
                        st.finish_run(run_id, false, &serde_json::json!({"error": e.to_string()}));
                    Err(e.into())
                }
            }
        })?
        .py_err()?;
        to_python(py, &stats)
    }

    #[pyo3(signature = (detectors = "model", pairing = "ann", k = 10, min_sim = 0.4, seed = 42,
        chunk = 10_000, workers = 0, exact_max = 5_000, nprobe = 8, model_id = None,
        lexical_k = kimera_reactor::lexical::DEFAULT_K))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        py: Python<'_>,
        detectors: &str,
        pairing: &str,
        k: usize,
        min_sim: f32,
        seed: u64,
        chunk: usize,
        workers: usize,
        exact_max: usize,
        nprobe: usize,
        model_id: Option<String>,
        lexical_k: usize,
    ) -> PyResult<Py<PyAny>> {
        let args = RunArgs {
            pairing: pairing.to_string(),
            k,
            min_sim,
            seed,
            chunk,
            workers,
            exact_max,
            nprobe,
            lexical_k,
            model_id,
        };
        let mut guard = self.lock()?;
        let st: &mut Store = &mut guard;
        let path = self.path.clone();
        let stats = interruptible(py, |cancel: &AtomicBool| -> anyhow::Result<_> {
            let dets = detectors_on(detectors, Some(&*st))?;
            let cfg = args.config(st)?;
            let r = if cfg.workers == 1 {
                kimera_reactor::run_sequential(st, &cfg, &dets, &|_| {})
            } else {
                kimera_reactor::run_cancellable(st, &cfg, &dets, &|_| {}, cancel)
            };
            match r {
                Err(e @ ReactorError::NoVectors { .. }) => {
                    Err(anyhow::Error::new(e).context("run `kimera embed` first"))
                }
                other => other.with_context(|| format!("reactor run on {}", path.display())),
            }
        })?
        .py_err()?;
        to_python(py, &stats)
    }

    #[pyo3(signature = (texts, k = 10, detectors = "model", lang = "und"))]
    fn check(
        &self,
        py: Python<'_>,
        texts: &Bound<'_, PyAny>,
        k: usize,
        detectors: &str,
        lang: &str,
    ) -> PyResult<Py<PyAny>> {
        let (one, texts): (bool, Vec<String>) = match texts.extract::<String>() {
            Ok(t) => (true, vec![t]),
            Err(_) => (false, texts.extract()?),
        };
        let mut guard = self.lock()?;
        let st: &mut Store = &mut guard;
        let reports = interruptible(py, move |cancel| -> anyhow::Result<_> {
            let dets = kimera_detect::detectors_from_list(detectors)?;
            let enc = self.encoder()?;
            let checker = kimera_detect::Checker::new(&*st, enc)?;
            anyhow::ensure!(
                !checker.is_empty(),
                "no stored vectors in {}: run `kimera embed` first",
                st.path().display()
            );
            let mut out = Vec::with_capacity(texts.len());
            for t in &texts {
                if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                out.push(checker.check(&dets, t, lang, k)?.contradictions);
            }
            Ok(out)
        })?
        .map_err(|e| match e.downcast_ref::<kimera_detect::DetectError>() {
            Some(_) => crate::to_py(e),
            None if e.to_string().starts_with("no stored vectors") => {
                crate::NoVectorsError::new_err(format!("{e:#}"))
            }
            None => crate::to_py(e),
        })?;
        // as `kimera check --json` prints them: through a JSON value (f32 widened to f64)
        let value = |r: &Vec<kimera_detect::CheckHit>| {
            serde_json::to_value(r).map_err(|e| KimeraError::new_err(e.to_string()))
        };
        if one {
            to_python(py, &value(&reports[0])?)
        } else {
            let all: Vec<serde_json::Value> = reports.iter().map(value).collect::<PyResult<_>>()?;
            to_python(py, &all)
        }
    }

    #[pyo3(signature = (text, k = 10))]
    fn similar(&self, py: Python<'_>, text: &str, k: usize) -> PyResult<Py<PyAny>> {
        let mut guard = self.lock()?;
        let st: &mut Store = &mut guard;
        let hits = interruptible(py, move |_| -> anyhow::Result<_> {
            let enc = self.encoder()?;
            Ok(kimera_embed::nearest(&*st, enc, text, k)?)
        })?
        .py_err()?;
        to_python(py, &hits)
    }

    #[pyo3(signature = (limit = 20, detector = None))]
    fn scars(&self, py: Python<'_>, limit: usize, detector: Option<String>) -> PyResult<Py<PyAny>> {
        let mut guard = self.lock()?;
        let st: &mut Store = &mut guard;
        let mut rows = st
            .scars(if detector.is_some() { 0 } else { limit })
            .py_err()?;
        if let Some(d) = &detector {
            rows.retain(|r| &r.detector == d);
            if limit > 0 {
                rows.truncate(limit);
            }
        }
        to_python(py, &rows)
    }

    /// Conflicts, one per pair, strongest first: what `kimera conflicts --json` prints.
    #[pyo3(signature = (status = "open", kind = None, limit = 0))]
    fn conflicts(
        &self,
        py: Python<'_>,
        status: &str,
        kind: Option<String>,
        limit: usize,
    ) -> PyResult<Py<PyAny>> {
        use kimera_store::{ConflictFilter, ConflictStatus};
        let status = match status {
            "all" => None,
            s => Some(ConflictStatus::parse(s).ok_or_else(|| {
                ConfigError::new_err(format!("status {s:?}: expected open, resolved or all"))
            })?),
        };
        let guard = self.lock()?;
        let rows = guard
            .conflicts(&ConflictFilter {
                status,
                kind,
                limit,
                ..ConflictFilter::default()
            })
            .py_err()?;
        to_python(py, &rows)
    }

    /// Every scar in the order it was written (`seq`), with its run: what a run wrote.
    fn scars_in_order(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut guard = self.lock()?;
        let st: &mut Store = &mut guard;
        let mut rows = st.scars(0).py_err()?;
        rows.sort_by_key(|r| r.seq);
        to_python(py, &rows)
    }

    #[pyo3(signature = (rebuild = false, workers = 0))]
    fn learn(&self, py: Python<'_>, rebuild: bool, workers: usize) -> PyResult<Py<PyAny>> {
        let mut guard = self.lock()?;
        let st: &mut Store = &mut guard;
        let report = interruptible(py, |cancel| -> anyhow::Result<_> {
            learn(st, rebuild, workers, cancel)
        })?
        .py_err()?;
        to_python(py, &report)
    }

    #[pyo3(signature = (term, per_kind = 8, examples = 1))]
    fn concept(
        &self,
        py: Python<'_>,
        term: &str,
        per_kind: usize,
        examples: usize,
    ) -> PyResult<Py<PyAny>> {
        let mut guard = self.lock()?;
        let st: &mut Store = &mut guard;
        let v = concept(st, term, per_kind, examples).py_err()?;
        to_python(py, &v)
    }

    /// The distinct texts that have no vector for `model_id`, in first-seen (`seq`)
    /// order: what an embedding pass has to encode (`kimera.ray` spreads it).
    fn texts_without_vectors(&self, py: Python<'_>, model_id: &str) -> PyResult<Vec<String>> {
        let mut guard = self.lock()?;
        let st: &mut Store = &mut guard;
        py.detach(move || -> anyhow::Result<Vec<String>> {
            let mut stmt = st.conn().prepare(
                "SELECT g.text FROM geoids g
                 WHERE NOT EXISTS (SELECT 1 FROM embeddings e
                                   WHERE e.model = ?1 AND e.text_hash = g.text_hash)
                 GROUP BY g.text_hash ORDER BY MIN(g.seq)",
            )?;
            let rows = stmt.query_map([model_id], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .py_err()
    }

    /// Stores `vectors[i]` as the vector of `texts[i]` for `model_id` (one transaction);
    /// returns how many were new.
    fn put_vectors(
        &self,
        py: Python<'_>,
        model_id: &str,
        texts: Vec<String>,
        vectors: numpy::PyReadonlyArray2<'_, f32>,
    ) -> PyResult<u64> {
        use numpy::PyUntypedArrayMethods;
        let dim = vectors.shape()[1];
        let v = vectors
            .as_slice()
            .map_err(|_| ConfigError::new_err("vectors must be a C-contiguous float32 array"))?;
        if dim == 0 || v.len() != texts.len() * dim {
            return Err(ConfigError::new_err(format!(
                "put_vectors: {} texts but {} rows of vectors",
                texts.len(),
                vectors.shape()[0]
            )));
        }
        let mut guard = self.lock()?;
        let st: &mut Store = &mut guard;
        py.detach(move || {
            let items: Vec<([u8; 32], &[f32])> = texts
                .iter()
                .zip(v.chunks_exact(dim))
                .map(|(t, x)| (kimera_core::text_hash(t), x))
                .collect();
            st.put_embeddings(model_id, &items)
        })
        .py_err()
    }

    fn __repr__(&self) -> String {
        format!("kimera.Store({:?})", self.path.display().to_string())
    }
}

/// `kimera learn` without paths: the statements not learned yet, page by page.
fn learn(
    store: &mut Store,
    rebuild: bool,
    workers: usize,
    cancel: &AtomicBool,
) -> anyhow::Result<serde_json::Value> {
    use kimera_learn::{Graph, LearnOptions, LearnReport, Learner};
    let run_id = store.start_run("learn", &["python".into(), "Store.learn".into()])?;
    if rebuild {
        store.clear_graph()?;
    }
    let mut graph = if rebuild {
        Graph::bounded()
    } else {
        Graph::load_bounded(store)?
    };
    let learner = Learner::on_current_thread(LearnOptions {
        workers,
        ..Default::default()
    })?;
    let mut report = LearnReport::default();
    let mut after = 0i64;
    loop {
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = store.finish_run(run_id, false, &serde_json::json!({"error": "interrupted"}));
            anyhow::bail!("interrupted: the pages learned before were kept; learn again to finish");
        }
        let rows = store.geoids_after(after, 100_000)?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        let known = if rebuild {
            vec![false; rows.len()]
        } else {
            store.learned_flags(rows.iter().map(|r| &r.id))?
        };
        let n = rows.len() as u64;
        let fresh: Vec<_> = rows
            .into_iter()
            .zip(known)
            .filter_map(|(r, k)| (!k).then_some(r))
            .collect();
        let skipped = n - fresh.len() as u64;
        report.statements += skipped;
        report.already_known += skipped;
        let r = learner.learn_batch(&mut graph, &fresh, |_| {});
        report.absorb(r);
        let delta = graph.take_delta();
        if !delta.is_empty() {
            store.write_graph(&delta)?;
        }
    }
    let counts = graph.counts();
    let mut out = serde_json::to_value(&report)?;
    if let Some(o) = out.as_object_mut() {
        o.insert("concepts".into(), counts.concepts.into());
        o.insert("associations".into(), counts.associations.into());
    }
    store.finish_run(run_id, true, &out)?;
    Ok(out)
}

#[derive(serde::Serialize)]
struct Example {
    id: String,
    text: String,
    source: String,
}

#[derive(serde::Serialize)]
struct Shown {
    #[serde(flatten)]
    edge: kimera_learn::Edge,
    examples: Vec<Example>,
}

#[derive(serde::Serialize)]
struct ConceptOut {
    term: String,
    count: u32,
    last_seen: i64,
    out: Vec<Shown>,
    inbound: Vec<Shown>,
    omitted: u64,
}

/// `kimera concept TERM --json` (the same structure, so the same numbers).
fn concept(
    store: &Store,
    term: &str,
    per_kind: usize,
    examples: usize,
) -> anyhow::Result<ConceptOut> {
    use kimera_learn::{Graph, concept_view};
    let graph = Graph::load_bounded(store)?;
    if graph.counts().concepts == 0 {
        return Err(NotFound(format!(
            "the concept graph in {} is empty: run `kimera learn` first",
            store.path().display()
        ))
        .into());
    }
    let id = graph
        .find(term)
        .ok_or_else(|| NotFound(format!("no concept {term:?} in the graph")))?;
    let v = concept_view(&graph, id, per_kind, 0);
    let show = |list: Vec<kimera_learn::Edge>| -> anyhow::Result<Vec<Shown>> {
        list.into_iter()
            .map(|edge| {
                let mut ex = Vec::new();
                for gid in store.association_sources(i64::from(edge.id), examples)? {
                    if let Some(row) = store.geoid(&gid)? {
                        ex.push(Example {
                            id: gid.0,
                            text: row.text,
                            source: row.source,
                        });
                    }
                }
                Ok(Shown { edge, examples: ex })
            })
            .collect()
    };
    Ok(ConceptOut {
        term: v.term,
        count: v.count,
        last_seen: v.last_seen,
        out: show(v.out)?,
        inbound: show(v.inbound)?,
        omitted: v.omitted,
    })
}
