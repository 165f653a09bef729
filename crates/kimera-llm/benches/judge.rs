//! Client-side cost of the judge: pairs per second against the in-process fake server with
//! no latency (so the figure is HTTP + JSON + bookkeeping, not the model), sequential and
//! with 16 calls in flight; and the overhead of `parallel_map` itself on ready futures.
//!
//! `cargo bench -p kimera-llm --bench judge`

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kimera_llm::testing::{FakeLlm, Script};
use kimera_llm::{Judge, JudgeConfig, JudgePair, Mode, judge_pairs, parallel_map};

fn pairs(n: usize) -> Vec<JudgePair> {
    (0..n)
        .map(|i| JudgePair {
            pair_id: None,
            a: format!("Lamp {i} is on."),
            b: format!("Lamp {i} is not on."),
            gold: None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = FakeLlm::start(Script::default()).unwrap();
    let judge = Judge::new(JudgeConfig {
        base_url: server.base_url(),
        model: "fake".into(),
        ..JudgeConfig::default()
    })
    .unwrap();
    let ps = pairs(200);
    let mut g = c.benchmark_group("judge_200_pairs_no_latency");
    g.throughput(Throughput::Elements(ps.len() as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for (name, mode) in [("sync", Mode::Sync), ("async16", Mode::Async(16))] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let (rs, _) = rt.block_on(judge_pairs(&judge, &ps, mode, None, |_| {}));
                assert!(rs.iter().all(|r| r.verdict.is_some()));
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("parallel_map_10k_ready");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("bound32", |b| {
        b.iter(|| {
            rt.block_on(parallel_map(
                (0..10_000u64).collect(),
                32,
                |_, x| async move { x * 2 },
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
