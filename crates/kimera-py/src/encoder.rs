//! `kimera.Encoder` and `kimera.Detector`.

use std::sync::atomic::{AtomicBool, Ordering};

use kimera_embed::{Encoder, MiniLmEncoder, MiniLmOptions, Precision, model_dir};
use kimera_reactor::{Detector, PairInput};
use numpy::{IntoPyArray, PyArray2, ndarray::Array2};
use pyo3::prelude::*;

use crate::{ConfigError, IntoPy, interruptible, to_python};

/// Texts per call of the model between two looks at Ctrl-C: the vectors do not depend on
/// it (the encoder batches texts of equal length and each vector depends on its text
/// only).
const ENCODE_STEP: usize = 512;

/// Encodes `texts` in steps of [`ENCODE_STEP`], stopping between steps once `cancel` is set.
pub(crate) fn encode_all(
    enc: &dyn Encoder,
    texts: &[String],
    cancel: &AtomicBool,
) -> anyhow::Result<Option<Vec<f32>>> {
    let mut out = Vec::with_capacity(texts.len() * enc.dim());
    for step in texts.chunks(ENCODE_STEP) {
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let refs: Vec<&str> = step.iter().map(String::as_str).collect();
        for v in enc.encode(&refs)? {
            out.extend_from_slice(&v);
        }
    }
    Ok(Some(out))
}

/// The sentence encoder (all-MiniLM-L6-v2, the CLI's): unit-length float32 vectors.
#[pyclass(name = "Encoder", module = "kimera._kimera", frozen)]
pub struct PyEncoder {
    pub(crate) enc: MiniLmEncoder,
}

#[pymethods]
impl PyEncoder {
    #[new]
    #[pyo3(signature = (precision = "f32", batch_size = 64, threads = 0))]
    fn new(py: Python<'_>, precision: &str, batch_size: usize, threads: usize) -> PyResult<Self> {
        let precision: Precision = precision
            .parse()
            .map_err(|e: kimera_embed::EmbedError| ConfigError::new_err(e.to_string()))?;
        let enc = py
            .detach(|| {
                MiniLmEncoder::load(
                    &model_dir(),
                    MiniLmOptions {
                        batch_size,
                        threads,
                        precision,
                    },
                )
            })
            .py_err()?;
        Ok(PyEncoder { enc })
    }

    /// The model id vectors are stored under, e.g. `all-MiniLM-L6-v2@53aa51172d14/f32`.
    #[getter]
    fn model_id(&self) -> String {
        self.enc.model_id().to_string()
    }

    /// Length of every vector (384).
    #[getter]
    fn dim(&self) -> usize {
        self.enc.dim()
    }

    /// `len(texts) × dim` float32 array, one unit vector per text.
    fn encode<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let dim = self.enc.dim();
        let n = texts.len();
        let out = interruptible(py, |cancel| encode_all(&self.enc, &texts, cancel))?.py_err()?;
        let data = out.unwrap_or_default();
        let arr = Array2::from_shape_vec((n, dim), data)
            .map_err(|e| crate::KimeraError::new_err(e.to_string()))?;
        Ok(arr.into_pyarray(py))
    }

    fn __repr__(&self) -> String {
        format!("kimera.Encoder({:?})", self.enc.model_id())
    }
}

/// One contradiction detector by name (`model`, `lexical`, `baseline`, ...).
#[pyclass(name = "Detector", module = "kimera._kimera", frozen)]
pub struct PyDetector {
    det: Box<dyn Detector>,
    enc: Option<MiniLmEncoder>,
}

#[pymethods]
impl PyDetector {
    #[new]
    #[pyo3(signature = (name = "model"))]
    fn new(py: Python<'_>, name: &str) -> PyResult<Self> {
        let det = py
            .detach(|| kimera_detect::detector_by_name(name))
            .py_err()?;
        // the pairs are embedded with the CLI's encoder when the model is there; the
        // rules need no vectors
        let enc = py
            .detach(|| MiniLmEncoder::load(&model_dir(), MiniLmOptions::default()))
            .ok();
        Ok(PyDetector { det, enc })
    }

    #[getter]
    fn name(&self) -> String {
        self.det.name().to_string()
    }

    /// Scores `(a, b)` text pairs: one dict per pair with `contradiction` (bool),
    /// `score` (0..1) and `evidence` (why).
    fn score(&self, py: Python<'_>, pairs: Vec<(String, String)>) -> PyResult<Vec<Py<PyAny>>> {
        let verdicts = interruptible(py, |cancel| -> anyhow::Result<_> {
            let vecs: Vec<Vec<f32>> = match &self.enc {
                Some(enc) => {
                    let texts: Vec<String> = pairs
                        .iter()
                        .flat_map(|(a, b)| [a.clone(), b.clone()])
                        .collect();
                    let flat = encode_all(enc, &texts, cancel)?.unwrap_or_default();
                    flat.chunks_exact(enc.dim().max(1))
                        .map(<[f32]>::to_vec)
                        .collect()
                }
                None => Vec::new(),
            };
            let inputs: Vec<PairInput<'_>> = pairs
                .iter()
                .enumerate()
                .map(|(i, (a, b))| {
                    let (av, bv): (&[f32], &[f32]) = match (vecs.get(2 * i), vecs.get(2 * i + 1)) {
                        (Some(x), Some(y)) => (x, y),
                        _ => (&[], &[]),
                    };
                    let cosine = if av.is_empty() {
                        1.0
                    } else {
                        kimera_core::cosine(av, bv)
                    };
                    PairInput {
                        a_vec: av,
                        b_vec: bv,
                        ..PairInput::texts(a, b, cosine)
                    }
                })
                .collect();
            Ok(self.det.score_batch(&inputs))
        })?
        .py_err()?;
        verdicts
            .iter()
            .map(|v| {
                to_python(
                    py,
                    &serde_json::json!({
                        "contradiction": v.contradiction,
                        "score": v.score,
                        "evidence": v.evidence,
                    }),
                )
            })
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("kimera.Detector({:?})", self.det.name())
    }
}
