//! `kimera._kimera`: the Rust half of the `kimera` Python package.
//!
//! The Python package (`python/kimera`) re-exports these classes with docs and stubs;
//! this crate only binds the library crates — it has no logic of its own that the CLI
//! does not share, so a Python call gives what the matching `kimera` command gives:
//!
//! - [`store::PyStore`] — `kimera.Store`: add, ingest, embed, run, check, similar,
//!   scars, learn, concept;
//! - [`encoder`] — `kimera.Encoder` (numpy vectors, the CLI's) and `kimera.Detector`;
//! - [`dist`] — the phases of `kimera run` as separate calls, which `kimera.ray`
//!   schedules on a Ray cluster (snapshot, centroids, probe, one list's search, merge,
//!   detect a batch, write a chunk).
//!
//! Heavy calls release the GIL and run on a helper thread while the calling thread
//! watches for Ctrl-C ([`interruptible`]); errors become `kimera.KimeraError` subclasses
//! carrying the message the CLI prints.

// The classes hold models, stores and detectors without Debug; Python sees `__repr__`.
#![allow(missing_debug_implementations)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pyo3::prelude::*;

mod dist;
mod encoder;
mod store;

pyo3::create_exception!(
    kimera,
    KimeraError,
    pyo3::exceptions::PyException,
    "Base class of every error kimera raises."
);
pyo3::create_exception!(
    kimera,
    StoreError,
    KimeraError,
    "The store could not be opened, read or written."
);
pyo3::create_exception!(
    kimera,
    ModelError,
    KimeraError,
    "The embedding model or the detector weights are missing or failed."
);
pyo3::create_exception!(
    kimera,
    IngestError,
    KimeraError,
    "A file could not be ingested."
);
pyo3::create_exception!(kimera, RunError, KimeraError, "A reactor run failed.");
pyo3::create_exception!(
    kimera,
    NoVectorsError,
    RunError,
    "The store has no vectors for the model: call Store.embed() first."
);
pyo3::create_exception!(
    kimera,
    ConfigError,
    KimeraError,
    "An argument is invalid (unknown detector, pairing, precision...)."
);
pyo3::create_exception!(
    kimera,
    NotFoundError,
    KimeraError,
    "What was asked for is not there (a concept, a learned graph)."
);

/// The message the CLI prints for `e` ([`kimera_store::error_text`]).
fn message(err: &anyhow::Error) -> String {
    kimera_store::error_text(err.as_ref())
}

/// A Rust error as the matching `kimera.KimeraError` subclass, with the CLI's message.
pub(crate) fn to_py(e: anyhow::Error) -> PyErr {
    use kimera_reactor::ReactorError;
    let msg = message(&e);
    if let Some(r) = e.downcast_ref::<ReactorError>() {
        return match r {
            ReactorError::NoVectors { .. } => NoVectorsError::new_err(msg),
            ReactorError::Cancelled => pyo3::exceptions::PyKeyboardInterrupt::new_err(msg),
            ReactorError::UnknownDetector { .. }
            | ReactorError::DuplicateDetector(_)
            | ReactorError::UnknownPairing(_)
            | ReactorError::InvalidConfig(_) => ConfigError::new_err(msg),
            ReactorError::Store(_) | ReactorError::Sqlite(_) => StoreError::new_err(msg),
            _ => RunError::new_err(msg),
        };
    }
    if e.downcast_ref::<kimera_store::StoreError>().is_some() {
        return StoreError::new_err(msg);
    }
    if let Some(d) = e.downcast_ref::<kimera_detect::DetectError>() {
        return match d {
            kimera_detect::DetectError::Reactor(_) | kimera_detect::DetectError::Invalid(_) => {
                ConfigError::new_err(msg)
            }
            _ => ModelError::new_err(msg),
        };
    }
    if let Some(em) = e.downcast_ref::<kimera_embed::EmbedError>() {
        return match em {
            kimera_embed::EmbedError::Store(_) | kimera_embed::EmbedError::Sqlite(_) => {
                StoreError::new_err(msg)
            }
            kimera_embed::EmbedError::Invalid(_) => ConfigError::new_err(msg),
            _ => ModelError::new_err(msg),
        };
    }
    if e.downcast_ref::<kimera_ingest::IngestError>().is_some() {
        return IngestError::new_err(msg);
    }
    if e.downcast_ref::<NotFound>().is_some() {
        return NotFoundError::new_err(msg);
    }
    if e.downcast_ref::<kimera_learn::LearnError>().is_some() {
        return StoreError::new_err(msg);
    }
    KimeraError::new_err(msg)
}

/// Something asked for is not there (maps to `kimera.NotFoundError`).
#[derive(Debug)]
pub(crate) struct NotFound(pub String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotFound {}

/// `anyhow::Result` into `PyResult` through [`to_py`].
pub(crate) trait IntoPy<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T, E: Into<anyhow::Error>> IntoPy<T> for Result<T, E> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(|e| to_py(e.into()))
    }
}

/// Runs `f` on a helper thread without the GIL while this thread watches for signals:
/// on Ctrl-C it sets the flag `f` is given (long loops check it between batches and
/// stop) and raises `KeyboardInterrupt` once `f` has returned. Other Python threads run
/// meanwhile.
pub(crate) fn interruptible<T: Send>(
    py: Python<'_>,
    f: impl FnOnce(&AtomicBool) -> T + Send,
) -> PyResult<T> {
    let cancel = AtomicBool::new(false);
    let main = std::thread::current();
    std::thread::scope(|s| {
        let cancel = &cancel;
        let h = s.spawn(move || {
            let r = f(cancel);
            main.unpark();
            r
        });
        let mut interrupted = None;
        while !h.is_finished() {
            py.detach(|| std::thread::park_timeout(Duration::from_millis(50)));
            if interrupted.is_none()
                && let Err(e) = py.check_signals()
            {
                cancel.store(true, Ordering::Relaxed);
                interrupted = Some(e);
            }
        }
        let r = h
            .join()
            .map_err(|_| KimeraError::new_err("internal error: a kimera thread panicked"))?;
        match interrupted {
            Some(e) => Err(e),
            None => Ok(r),
        }
    })
}

/// Any serialisable value as plain Python objects (dicts, lists, str, int, float),
/// through JSON: exactly what `--json` prints.
pub(crate) fn to_python<T: serde::Serialize>(py: Python<'_>, v: &T) -> PyResult<Py<PyAny>> {
    let s = serde_json::to_string(v).map_err(|e| KimeraError::new_err(e.to_string()))?;
    Ok(py.import("json")?.call_method1("loads", (s,))?.unbind())
}

#[pymodule]
fn _kimera(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("KimeraError", py.get_type::<KimeraError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("IngestError", py.get_type::<IngestError>())?;
    m.add("RunError", py.get_type::<RunError>())?;
    m.add("NoVectorsError", py.get_type::<NoVectorsError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add_class::<store::PyStore>()?;
    m.add_class::<encoder::PyEncoder>()?;
    m.add_class::<encoder::PyDetector>()?;
    dist::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
