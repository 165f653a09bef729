//! Speed of the statistics on a run the size of `mixed_5k.csv` (5,000 pairs, 4 detectors).
//! `cargo bench -p kimera-bench`.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use kimera_bench::stats::{BootstrapOptions, bootstrap, bootstrap_sequential};
use kimera_bench::{ReportOptions, metrics, summarize};

fn bench(c: &mut Criterion) {
    let outputs = common::outputs(&common::pairs(5000, 1), 2);
    let model: Vec<_> = outputs.iter().filter(|o| o.detector == "model").collect();
    let gold: Vec<bool> = model.iter().map(|o| o.pair.gold).collect();
    let scores: Vec<f64> = model
        .iter()
        .map(|o| match o.outcome {
            kimera_bench::Outcome::Scored { score, .. } => score,
            _ => 0.0,
        })
        .collect();
    let verdicts: Vec<bool> = scores.iter().map(|&s| s >= 0.5).collect();
    let opts = BootstrapOptions::default();

    c.bench_function("roc_auc 5k", |b| {
        b.iter(|| metrics::roc_auc(&gold, &scores))
    });
    let mut g = c.benchmark_group("bootstrap 5k x 2000");
    g.sample_size(10);
    g.bench_function("parallel", |b| {
        b.iter(|| bootstrap(&gold, &scores, &verdicts, &opts))
    });
    g.bench_function("sequential", |b| {
        b.iter(|| bootstrap_sequential(&gold, &scores, &verdicts, &opts))
    });
    g.bench_function("summarize 5k x 4 detectors", |b| {
        let o = ReportOptions {
            plots: false,
            ..Default::default()
        };
        b.iter(|| summarize(&outputs, &o).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
