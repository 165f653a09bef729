//! A small deterministic encoder for tests where the model is beside the point.

use crate::{Encoder, Result};

/// Hashed character-trigram + word features → 384-d, L2-normalised.
///
/// Texts that share many character trigrams and words get a high cosine, so nearest
/// neighbours and caches behave sensibly in tests, at zero cost and with no model files.
/// The output is part of the public contract (other crates' tests depend on it): the
/// hash function (FNV-1a 64) and feature set are fixed; changing them requires a new
/// [`Encoder::model_id`].
#[derive(Debug, Clone)]
pub struct HashEncoder {
    dim: usize,
    id: String,
}

/// Version tag of the feature set; part of the model id.
const HASH_ENCODER_VERSION: u32 = 1;

impl HashEncoder {
    /// 384 dimensions, like all-MiniLM-L6-v2.
    pub fn new() -> Self {
        Self::with_dim(384)
    }

    /// Any dimension ≥ 1 (values below 1 are raised to 1).
    pub fn with_dim(dim: usize) -> Self {
        let dim = dim.max(1);
        HashEncoder {
            dim,
            id: format!("hash-ngram-v{HASH_ENCODER_VERSION}/{dim}"),
        }
    }

    /// The vector of one text.
    pub fn encode_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dim];
        let lower = text.to_lowercase();
        // \u{2} and \u{3} mark the start and end, so even "" has one feature.
        let chars: Vec<char> = std::iter::once('\u{2}')
            .chain(lower.chars())
            .chain(std::iter::once('\u{3}'))
            .collect();
        let mut add = |bytes: &[u8], weight: f32| {
            let h = fnv1a(bytes);
            let idx = (h % self.dim as u64) as usize;
            let sign = if (h >> 63) & 1 == 1 { -1.0 } else { 1.0 };
            v[idx] += sign * weight;
        };
        let mut buf = String::new();
        if chars.len() < 3 {
            buf.extend(chars.iter());
            add(buf.as_bytes(), 1.0);
        } else {
            for w in chars.windows(3) {
                buf.clear();
                buf.push('c');
                buf.extend(w.iter());
                add(buf.as_bytes(), 1.0);
            }
        }
        for word in lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            buf.clear();
            buf.push('w');
            buf.push_str(word);
            add(buf.as_bytes(), 2.0);
        }
        kimera_core::l2_normalise(&mut v);
        if v.iter().all(|x| *x == 0.0) {
            // Features cancelled out exactly (possible in tiny dims): a fixed unit vector.
            v[0] = 1.0;
        }
        v
    }
}

impl Default for HashEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder for HashEncoder {
    fn model_id(&self) -> &str {
        &self.id
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.encode_one(t)).collect())
    }
}

/// FNV-1a, 64 bit: tiny, stable across platforms and Rust versions.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use kimera_core::cosine;

    #[test]
    fn unit_norm_and_deterministic() {
        let e = HashEncoder::new();
        for t in ["", "a", "The cat sits on the mat.", "القط يجلس", "😀😀"] {
            let v = e.encode_one(t);
            let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((n - 1.0).abs() < 1e-5, "{t:?} norm {n}");
            assert_eq!(v, e.encode_one(t));
        }
    }

    #[test]
    fn similar_texts_are_closer_than_unrelated_ones() {
        let e = HashEncoder::new();
        let a = e.encode_one("The cat sits on the mat");
        let b = e.encode_one("The cat is sitting on the mat");
        let c = e.encode_one("Quarterly revenue grew by nine percent");
        assert!(cosine(&a, &b) > cosine(&a, &c) + 0.2);
    }

    #[test]
    fn stable_values_are_part_of_the_contract() {
        // Pinned so that a change of features is noticed (and the model id bumped).
        let v = HashEncoder::new().encode_one("abc");
        let nonzero: Vec<usize> = (0..384).filter(|&i| v[i] != 0.0).collect();
        assert_eq!(nonzero, vec![258, 275, 310, 382]);
        // three trigrams of weight 1 and the word "abc" of weight 2, over sqrt(1+1+1+4)
        let mut mags: Vec<f32> = nonzero.iter().map(|&i| v[i].abs()).collect();
        mags.sort_by(f32::total_cmp);
        let s7 = 7f32.sqrt();
        assert!((mags[3] - 2.0 / s7).abs() < 1e-6 && (mags[0] - 1.0 / s7).abs() < 1e-6);
        assert_eq!(HashEncoder::new().model_id(), "hash-ngram-v1/384");
    }
}
