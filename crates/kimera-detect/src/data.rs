//! Labelled pairs for training and evaluation, read with `kimera_ingest::read_pairs` (SICK
//! and Kimera pairs files), and the three NLI classes the models predict.

use std::path::Path;

use kimera_core::GoldLabel;

use crate::{DetectError, Result};

/// Class index of "contradiction" in every model's output (the one the detector reports).
pub const CONTRADICTION: usize = 0;
/// Class names, in output order. Binary datasets (Kimera pairs) use only 0 and 2.
pub const CLASSES: [&str; 3] = ["contradiction", "entailment", "neutral"];

/// One labelled pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub a: String,
    pub b: String,
    /// Index into [`CLASSES`].
    pub label: usize,
    pub lang: String,
}

impl Example {
    pub fn is_contradiction(&self) -> bool {
        self.label == CONTRADICTION
    }
}

fn class_of(g: GoldLabel) -> usize {
    match g {
        GoldLabel::Contradiction => 0,
        GoldLabel::Entailment => 1,
        GoldLabel::Neutral => 2,
    }
}

/// Reads every labelled pair of `path`. Refuses a file with unreadable rows or unlabelled
/// pairs, naming the first bad line: training on a silently truncated file would give
/// weights that are not reproducible from the repo.
pub fn load_examples(path: &Path) -> Result<Vec<Example>> {
    let file = kimera_ingest::read_pairs(path, None).map_err(|e| DetectError::Data {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if let Some(err) = file.errors.first() {
        return Err(DetectError::Data {
            path: path.to_path_buf(),
            reason: format!("{} unreadable row(s); first: {err}", file.errors.len()),
        });
    }
    let mut out = Vec::with_capacity(file.pairs.len());
    for p in file.pairs {
        let Some(g) = p.gold else {
            return Err(DetectError::Data {
                path: path.to_path_buf(),
                reason: format!(
                    "line {}: field label is missing; training needs labelled pairs",
                    p.line
                ),
            });
        };
        out.push(Example {
            a: p.text_a,
            b: p.text_b,
            label: class_of(g),
            lang: p.lang,
        });
    }
    Ok(out)
}
