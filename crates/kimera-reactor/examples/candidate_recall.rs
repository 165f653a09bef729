//! The candidate stage's recall: of the labelled contradictions stored in a store
//! (`kimera ingest` of a pairs file: SICK, Kimera CSV), how many does the `ann` pairing
//! put among the candidate pairs, for each setting given — and at what cost (candidate
//! pairs per statement, the detectors' work, and the search time).
//!
//! ```text
//! kimera --db sick.db ingest ../shared/data/sick/sick_train.tsv && kimera --db sick.db embed
//! cargo run --release -p kimera-reactor --example candidate_recall -- sick.db [K:LEXICAL_K:MIN_SIM ...]
//! ```
//! Settings default to the grid the lexical channel's default was chosen on
//! (`src/lexical.rs`). The model is the store's only one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use kimera_reactor::{KnnParams, RunConfig, Snapshot, Store};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let db = a
        .first()
        .expect("usage: candidate_recall DB [K:LEXICAL_K:MIN_SIM ...]");
    let store = Store::open(db).unwrap();
    let models = store.counts().unwrap().embeddings_by_model;
    assert_eq!(models.len(), 1, "{db}: want vectors of exactly one model");
    let model_id = models[0].0.clone();
    let mut settings: Vec<(usize, usize, f32)> = a[1..]
        .iter()
        .map(|s| {
            let p: Vec<&str> = s.split(':').collect();
            assert_eq!(p.len(), 3, "a setting is K:LEXICAL_K:MIN_SIM, got {s}");
            (
                p[0].parse().unwrap(),
                p[1].parse().unwrap(),
                p[2].parse().unwrap(),
            )
        })
        .collect();
    if settings.is_empty() {
        settings.push((10, 0, 0.5));
        for floor in [0.5, 0.4] {
            for lk in [10, 15, 20, 30] {
                settings.push((10, lk, floor));
            }
        }
    }
    let base = RunConfig {
        model_id,
        ..RunConfig::default()
    };
    let mut snap = Snapshot::load(&store, &base).unwrap();
    let n = snap.len();
    let index: HashMap<&str, u32> = (0..n as u32).map(|i| (snap.id(i), i)).collect();
    // the labelled contradictions whose two sides have a vector, by language
    let gold: Vec<((u32, u32), String)> = store
        .labelled_pairs(0)
        .unwrap()
        .into_iter()
        .filter(|p| p.gold.as_deref() == Some("contradiction"))
        .filter_map(|p| {
            let (x, y) = (*index.get(p.a.as_str())?, *index.get(p.b.as_str())?);
            (x != y).then(|| ((x.min(y), x.max(y)), p.lang.unwrap_or_default()))
        })
        .collect();
    drop(index);
    println!(
        "{db}: {n} statements, {} labelled contradictions with vectors",
        gold.len()
    );
    println!("k\tlexical_k\tmin_sim\trecall\tby language\tpairs\tper statement\tsearch s");
    for (k, lexical_k, floor) in settings {
        let cfg = RunConfig {
            knn: KnnParams {
                k,
                lexical_k,
                floor,
                ..KnnParams::default()
            },
            ..base.clone()
        };
        let t = Instant::now();
        let pairs: HashSet<(u32, u32)> = snap
            .candidates(&store, &cfg, true)
            .unwrap()
            .into_iter()
            .collect();
        let secs = t.elapsed().as_secs_f64();
        let mut by: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (p, lang) in &gold {
            let e = by.entry(lang.as_str()).or_default();
            e.1 += 1;
            e.0 += usize::from(pairs.contains(p));
        }
        let hit: usize = by.values().map(|v| v.0).sum();
        let langs: Vec<String> = by
            .iter()
            .map(|(l, (h, t))| format!("{l} {h}/{t}"))
            .collect();
        println!(
            "{k}\t{lexical_k}\t{floor}\t{:.3}\t{}\t{}\t{:.1}\t{secs:.2}",
            hit as f64 / gold.len().max(1) as f64,
            langs.join(", "),
            pairs.len(),
            pairs.len() as f64 / n.max(1) as f64
        );
    }
}
