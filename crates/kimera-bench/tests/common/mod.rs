//! Synthetic detector outputs with known structure, for tests, the example and benches.
//!
//! Four detectors of increasing quality and cost, as in a real run: a weak `baseline`,
//! a `lexical` one with few distinct scores (so curves have ties), a good `model`, and
//! an `llm` that is best but slow and fails on a few pairs.
#![allow(dead_code)]

use kimera_bench::{DetectorOutput, PairMeta};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const DETECTORS: [&str; 4] = ["baseline", "lexical", "model", "llm"];

pub fn pairs(n: usize, seed: u64) -> Vec<PairMeta> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let gold = rng.random_bool(0.35);
            let lang = match rng.random_range(0..20) {
                0..12 => "en",
                12..17 => "fr",
                _ => "ar",
            };
            let kind = if gold {
                "contradiction"
            } else if rng.random_bool(0.5) {
                "neutral"
            } else {
                "entailment"
            };
            PairMeta {
                key: format!("pair-{i:05}"),
                gold,
                lang: Some(lang.into()),
                kind: Some(kind.into()),
                len_a: rng.random_range(15..110),
                len_b: rng.random_range(15..110),
            }
        })
        .collect()
}

fn noisy(rng: &mut ChaCha8Rng, gold: bool, separation: f64) -> f64 {
    let base = if gold {
        0.5 + separation / 2.0
    } else {
        0.5 - separation / 2.0
    };
    let noise: f64 = (0..4).map(|_| rng.random_range(-0.25..0.25)).sum();
    (base + noise).clamp(0.0, 1.0)
}

pub fn outputs(pairs: &[PairMeta], seed: u64) -> Vec<DetectorOutput> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for p in pairs {
        let short = p.total_len() < 90;
        // baseline: weak
        let s = noisy(&mut rng, p.gold, 0.2);
        out.push(DetectorOutput::scored(
            p.clone(),
            "baseline",
            s,
            s >= 0.5,
            rng.random_range(0.004..0.02),
        ));
        // lexical: three score levels, better on short pairs
        let fires = if p.gold {
            rng.random_bool(if short { 0.75 } else { 0.45 })
        } else {
            rng.random_bool(0.12)
        };
        let s = if fires {
            0.9
        } else if rng.random_bool(0.3) {
            0.4
        } else {
            0.0
        };
        out.push(DetectorOutput::scored(
            p.clone(),
            "lexical",
            s,
            s >= 0.5,
            rng.random_range(0.02..0.08),
        ));
        // model: good
        let s = noisy(&mut rng, p.gold, 0.65);
        out.push(DetectorOutput::scored(
            p.clone(),
            "model",
            s,
            s >= 0.5,
            rng.random_range(2.0..6.0),
        ));
        // llm: best, slow, fails on ~3% of pairs
        let ms = 300.0 * (rng.random_range(0.0..1.5f64)).exp();
        if rng.random_bool(0.03) {
            out.push(DetectorOutput::failed(
                p.clone(),
                "llm",
                "HTTP 429: rate limited",
                ms,
            ));
        } else {
            let s = noisy(&mut rng, p.gold, 0.8);
            out.push(DetectorOutput::scored(p.clone(), "llm", s, s >= 0.5, ms));
        }
    }
    out
}
