//! Learning throughput: `cargo bench -p kimera-learn`.
//!
//! - `learn_100k/{1,2}`: 100,000 generated statements into an empty graph with 1 and 2
//!   workers (extraction + graph update, no store);
//! - `stages`: extraction alone vs. merging alone on 20,000 statements;
//! - `threshold/<n>/{1,2}`: small batches, to place `PARALLEL_THRESHOLD`.

// The same allocator as the `kimera` binary, so that these figures are its figures.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kimera_learn::{Graph, LearnOptions, Learner, extract, synth};

fn learner(workers: usize, threshold: usize) -> Learner {
    Learner::new(LearnOptions {
        workers,
        parallel_threshold: threshold,
        ..Default::default()
    })
    .unwrap()
}

fn learn_100k(c: &mut Criterion) {
    let batch = synth::statements(100_000, 5_000, 1);
    let mut g = c.benchmark_group("learn_100k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(batch.len() as u64));
    for workers in [1, 2] {
        let l = learner(workers, 1);
        g.bench_with_input(BenchmarkId::from_parameter(workers), &batch, |b, batch| {
            b.iter(|| {
                let mut graph = Graph::new();
                l.learn_batch(&mut graph, batch, |_| {});
                graph
            })
        });
    }
    g.finish();
}

fn stages(c: &mut Criterion) {
    let batch = synth::statements(20_000, 5_000, 2);
    let extracted: Vec<_> = batch
        .iter()
        .map(|s| extract(&s.text, &s.lang).unwrap())
        .collect();
    let mut g = c.benchmark_group("stages");
    g.sample_size(10);
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("extract", |b| {
        b.iter(|| {
            batch
                .iter()
                .map(|s| extract(&s.text, &s.lang).unwrap().links.len())
                .sum::<usize>()
        })
    });
    g.bench_function("graph_update", |b| {
        b.iter(|| {
            let mut graph = Graph::new();
            for (s, e) in batch.iter().zip(&extracted) {
                graph.learn(&s.id, s.seen_at, e);
            }
            graph
        })
    });
    g.finish();
}

fn threshold(c: &mut Criterion) {
    let mut g = c.benchmark_group("threshold");
    g.sample_size(20);
    for n in [16usize, 32, 64, 128, 256] {
        let batch = synth::statements(n, 500, 3);
        g.throughput(Throughput::Elements(n as u64));
        for workers in [1, 2] {
            let l = learner(workers, 1);
            g.bench_with_input(
                BenchmarkId::new(n.to_string(), workers),
                &batch,
                |b, batch| {
                    b.iter(|| {
                        let mut graph = Graph::new();
                        l.learn_batch(&mut graph, batch, |_| {});
                        graph
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, learn_100k, stages, threshold);
criterion_main!(benches);
