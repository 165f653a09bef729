//! kimera's learned contradiction detector.
//!
//! Two models, one detector (`model`):
//!
//! * **route a — [`head`]**: a small network on *frozen* MiniLM sentence vectors
//!   (`[u, v, |u−v|, u⊙v, cos]`) plus lexical signals (negation asymmetry, antonyms,
//!   number mismatch, overlap, length ratio). Microseconds per pair once vectors exist,
//!   because the reactor already holds them.
//! * **route b — [`cross`]**: a cross-encoder — the pair packed as `[CLS] a [SEP] b [SEP]`
//!   through MiniLM with LoRA adapters and a 3-way NLI head. It reads both sentences
//!   together, which is what separates "A man is playing" from "A man is not playing".
//!
//! [`train_to_dir`] trains either route from labelled pairs (SICK or Kimera pairs files),
//! seeded, and writes `weights.safetensors` + `meta.json` (threshold chosen on the dev
//! set, base-model sha256, dev metrics per epoch). [`ModelDetector`] loads such folders
//! and implements the reactor's [`Detector`](kimera_reactor::Detector); with both routes
//! present it runs the head first and sends only pairs it cannot rule out to the
//! cross-encoder. [`detector_by_name`] extends the reactor's registry with `model`.
//!
//! The weights committed in `crates/kimera-detect/weights/` were produced by
//! `kimera train-detector` from SICK (CC BY-NC-SA 3.0); see `weights/PROVENANCE.md`.

pub mod antonyms;
pub mod bert;
pub mod check;
pub mod cross;
pub mod data;
pub mod decision;
pub mod detector;
pub mod edit;
pub mod embedded;
pub mod features;
pub mod head;
pub mod logistic;
pub mod metrics;
pub mod protocol;
pub mod train;

use std::path::PathBuf;

pub use check::{
    Candidate, CheckHit, CheckReport, Checker, Query, check_text, check_texts, check_vectors,
};
pub use data::{CLASSES, CONTRADICTION, Example, load_examples};
pub use detector::{
    DETECTOR_NAMES, DetectorInfo, Judgement, ModelDetector, default_detector_dir, detector_by_name,
    detector_info, detectors_from_list, pair_inputs,
};
pub use metrics::{Prf, best_threshold, prf};
pub use train::{Meta, Route, TrainOptions, fit_decision_dir, train_to_dir};

/// Errors of the detector crate.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// A training or evaluation file could not be used.
    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },
    /// A model file is malformed or does not match its metadata.
    #[error("model file {path}: {reason}")]
    Format { path: PathBuf, reason: String },
    /// No trained detector where one was expected.
    #[error(
        "no trained detector in {dir} (missing {missing}): run `kimera train-detector` or set \
         KIMERA_DETECTOR_DIR"
    )]
    Missing { dir: PathBuf, missing: String },
    #[error("model error: {0}")]
    Model(String),
    #[error("invalid option: {0}")]
    Invalid(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Embed(#[from] kimera_embed::EmbedError),
    #[error(transparent)]
    Reactor(#[from] kimera_reactor::ReactorError),
    #[error("io error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = DetectError> = std::result::Result<T, E>;

/// Dev metrics after one training epoch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub train_loss: f64,
    /// Contradiction P/R/F1 on the dev set at that epoch's best threshold.
    pub dev: Prf,
    pub seconds: f64,
}

/// Progress of a training run, reported through a callback (libraries do not print).
#[derive(Debug, Clone)]
pub enum TrainProgress {
    /// Embedding the sentences of train and dev (route a).
    Embedding {
        done: usize,
        total: usize,
    },
    /// One optimiser step; `loss` is the running mean of the epoch.
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        loss: f64,
    },
    Epoch(EpochReport),
    /// The class probabilities `[contradiction, entailment, neutral]` of every dev pair
    /// after an epoch (for out-of-fold predictions in cross-validation).
    DevProbs {
        epoch: usize,
        probs: Vec<[f32; 3]>,
    },
    /// Starting cross-validation fold `fold` (of `folds`): out-of-fold predictions.
    Fold {
        fold: usize,
        folds: usize,
    },
}
