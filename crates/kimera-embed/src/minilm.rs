//! all-MiniLM-L6-v2 (or any BERT-family sentence-transformers folder with mean pooling)
//! on candle.
//!
//! # How a call is computed
//! 1. Every text is tokenised (truncated at `max_seq_length`, 256; *no* padding — the
//!    folder's `tokenizer.json` pads and truncates at a fixed 128, which we override).
//! 2. Texts are grouped by **exact token length** and each group is cut into batches of
//!    at most `batch_size` texts and 4096 tokens. No sequence is ever padded, so no work is wasted on
//!    padding, and a text's vector cannot depend on its neighbours.
//! 3. Batches run in parallel on a rayon pool (`threads`, default all cores), longest
//!    first. Each batch is one forward pass of [`crate::bert`] (candle's gemm for the
//!    matrix products, which may split further over the same pool; everything else on
//!    the calling thread — see that module for why). Mean pooling over the tokens and L2
//!    normalisation finish each vector.
//!
//! # What is guaranteed
//! The vector of a text is bit-identical whatever the other texts of the call, the batch
//! size and the number of threads: a text's computation depends only on its own tokens
//! (no padding, attention per sequence), and the matmul kernels split work over output
//! rows and columns, never along the reduction dimension, so every output element is
//! summed in the same order. The test `determinism` checks this with the real model.
//! Across machines with other SIMD widths the last bits may differ.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationParams};

use crate::bert::{Bert, BertConfig};
use crate::provision::{EXPECTED_SHA256, MODEL_NAME, check_model_dir, sha256_file};
use crate::{EmbedError, Encoder, Result};

/// Numeric precision of the forward pass; part of the model id, so vectors of different
/// precisions never meet in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Full f32: parity with sentence-transformers (cosine ≥ 0.999).
    #[default]
    F32,
    /// The linear layers in int8 (dynamic per-token activation scales, per-column weight
    /// scales, AVX-512 VNNI where the CPU has it; see `int8.rs`); attention, layer norms
    /// and pooling stay f32. Cosine to the f32 vectors ≥ 0.99 on the parity fixture.
    Int8,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Precision {
    type Err = EmbedError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "fp32" => Ok(Precision::F32),
            "int8" | "i8" => Ok(Precision::Int8),
            other => Err(EmbedError::Invalid(format!(
                "unknown precision {other:?} (expected f32 or int8)"
            ))),
        }
    }
}

/// How [`MiniLmEncoder`] runs.
#[derive(Debug, Clone)]
pub struct MiniLmOptions {
    /// Most texts per forward pass (of equal token length). Does not change results.
    pub batch_size: usize,
    /// Worker threads; 0 = all cores. Does not change results.
    pub threads: usize,
    pub precision: Precision,
}

impl Default for MiniLmOptions {
    fn default() -> Self {
        MiniLmOptions {
            batch_size: 64,
            threads: 0,
            precision: Precision::F32,
        }
    }
}

/// A sentence-transformers BERT model with mean pooling, on candle, CPU.
pub struct MiniLmEncoder {
    model: Bert,
    tokenizer: Tokenizer,
    id: String,
    dim: usize,
    max_tokens: usize,
    batch_size: usize,
    pool: rayon::ThreadPool,
    dir: PathBuf,
    sha256: String,
}

impl std::fmt::Debug for MiniLmEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLmEncoder")
            .field("id", &self.id)
            .field("dir", &self.dir)
            .field("dim", &self.dim)
            .field("max_tokens", &self.max_tokens)
            .field("batch_size", &self.batch_size)
            .field("threads", &self.pool.current_num_threads())
            .finish()
    }
}

pub(crate) fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| EmbedError::ModelFile {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| EmbedError::ModelFile {
        path: path.to_path_buf(),
        reason: format!(
            "invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ),
    })
}

/// `max_seq_length` of `sentence_bert_config.json`, 256 if absent (sentence-transformers'
/// value for all-MiniLM-L6-v2).
pub(crate) fn max_seq_length(dir: &Path) -> usize {
    read_json(&dir.join("sentence_bert_config.json"))
        .ok()
        .and_then(|v| v.get("max_seq_length").and_then(|m| m.as_u64()))
        .map(|m| m as usize)
        .unwrap_or(256)
}

/// `<name>@<first 12 hex of the weights' sha256>/<precision>`.
pub(crate) fn model_id_for(dir: &Path, sha256: &str, precision: Precision) -> String {
    let name = if sha256 == EXPECTED_SHA256 {
        MODEL_NAME.to_string()
    } else {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into())
    };
    let mut id = format!(
        "{name}@{}/{}",
        &sha256[..12.min(sha256.len())],
        precision.as_str()
    );
    let max = max_seq_length(dir);
    if max != 256 {
        id.push_str(&format!("/t{max}"));
    }
    id
}

impl MiniLmEncoder {
    /// Loads a sentence-transformers folder (`config.json`, `tokenizer.json`,
    /// `model.safetensors`, optional `sentence_bert_config.json` and
    /// `1_Pooling/config.json`).
    pub fn load(dir: &Path, opts: MiniLmOptions) -> Result<Self> {
        check_model_dir(dir)?;
        let pooling = dir.join("1_Pooling").join("config.json");
        if pooling.is_file() {
            let p = read_json(&pooling)?;
            if p.get("pooling_mode_mean_tokens").and_then(|v| v.as_bool()) != Some(true) {
                return Err(EmbedError::ModelFile {
                    path: pooling,
                    reason:
                        "field pooling_mode_mean_tokens is not true; only mean pooling is supported"
                            .into(),
                });
            }
        }
        let cfg_path = dir.join("config.json");
        let config: BertConfig =
            serde_json::from_value(read_json(&cfg_path)?).map_err(|e| EmbedError::ModelFile {
                path: cfg_path.clone(),
                reason: format!("not a BERT config: {e}"),
            })?;
        let max_tokens = max_seq_length(dir).min(config.max_position_embeddings);

        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| EmbedError::ModelFile {
            path: tok_path.clone(),
            reason: e.to_string(),
        })?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;

        if opts.precision == Precision::Int8 && !crate::int8::has_vnni() {
            tracing::warn!(
                "this CPU lacks AVX-512 VNNI: int8 runs on the portable kernel, same vectors \
                 but slower than f32"
            );
        }
        let weights = dir.join("model.safetensors");
        let sha256 = sha256_file(&weights)?;
        let model = Bert::load(&weights, config, opts.precision)?;
        let dim = model.hidden_size();

        let threads = if opts.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            opts.threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("kimera-embed-{i}"))
            .build()
            .map_err(|e| EmbedError::Invalid(format!("cannot start {threads} threads: {e}")))?;
        Ok(MiniLmEncoder {
            model,
            tokenizer,
            id: model_id_for(dir, &sha256, opts.precision),
            dim,
            max_tokens,
            batch_size: opts.batch_size.max(1),
            pool,
            dir: dir.to_path_buf(),
            sha256,
        })
    }

    /// The model folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Hex sha256 of `model.safetensors`.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Texts are truncated to this many tokens (special tokens included).
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Token ids of `text` as the model sees them (with `[CLS]`/`[SEP]`, truncated).
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// One forward pass over sequences of equal length; returns pooled, normalised rows.
    fn forward_same_length(&self, seqs: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        self.model.embed_same_length(seqs)
    }
}

impl Encoder for MiniLmEncoder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.pool.install(|| {
            let ids: Vec<Vec<u32>> = texts
                .par_iter()
                .map(|t| self.token_ids(t))
                .collect::<Result<_>>()?;
            let lens: Vec<usize> = ids.iter().map(Vec::len).collect();
            let batches = plan_batches(&lens, self.batch_size);
            let outputs: Vec<Vec<Vec<f32>>> = batches
                .par_iter()
                .map(|b| {
                    let seqs: Vec<&[u32]> = b.iter().map(|&i| ids[i].as_slice()).collect();
                    self.forward_same_length(&seqs)
                })
                .collect::<Result<_>>()?;
            let mut out = vec![Vec::new(); texts.len()];
            for (b, vs) in batches.iter().zip(outputs) {
                for (&i, v) in b.iter().zip(vs) {
                    out[i] = v;
                }
            }
            Ok(out)
        })
    }
}

/// Most tokens in one forward pass: bounds the attention buffers (batch · heads · len²
/// floats) for long texts — 64 texts of 256 tokens would need 200 MB of scores per batch
/// in flight. Batch composition never changes results, so this is a memory knob only.
pub(crate) const MAX_BATCH_TOKENS: usize = 4096;

/// Groups text indices by exact token length and cuts each group into batches of at
/// most `batch_size` texts and [`MAX_BATCH_TOKENS`] tokens (at least one text); longest
/// batches first so the slowest work starts earliest.
pub(crate) fn plan_batches(lens: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(lens[i]), i));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for i in order {
        let len = lens[i];
        let cap = batch_size.min(MAX_BATCH_TOKENS / len.max(1)).max(1);
        match batches.last_mut() {
            Some(b) if b.len() < cap && lens[b[0]] == len => b.push(i),
            _ => batches.push(vec![i]),
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_one_length_and_respect_the_size() {
        let b = plan_batches(&[3, 5, 3, 3, 5, 2, 3], 2);
        assert_eq!(b, vec![vec![1, 4], vec![0, 2], vec![3, 6], vec![5]]);
        // long texts: the token budget wins over the batch size
        let b = plan_batches(&[256; 40], 64);
        assert_eq!(b.len(), 3);
        assert!(b.iter().all(|x| x.len() * 256 <= MAX_BATCH_TOKENS));
        assert!(plan_batches(&[], 64).is_empty());
    }

    #[test]
    fn precision_parses() {
        assert_eq!("F32".parse::<Precision>().unwrap(), Precision::F32);
        assert_eq!("int8".parse::<Precision>().unwrap(), Precision::Int8);
        assert_eq!(Precision::Int8.to_string(), "int8");
        assert!("f8".parse::<Precision>().is_err());
    }
}
