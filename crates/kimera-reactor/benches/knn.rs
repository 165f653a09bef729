//! Neighbour search: exact vs IVF on clustered 384-d vectors, one thread vs the pool.
//!
//! `cargo bench -p kimera-reactor --bench knn`

use criterion::{Criterion, criterion_group, criterion_main};
use kimera_reactor::knn::{self, KnnParams, VectorTable};
use kimera_reactor::synth;

fn bench(c: &mut Criterion) {
    let dim = 384;
    let n = 5_000;
    let data = synth::clustered_vectors(n, dim, n / 50, 1.0, 1);
    let mut g = c.benchmark_group("knn_5k_384d");
    g.sample_size(10);
    let exact = KnnParams {
        exact_max: usize::MAX,
        ..KnnParams::default()
    };
    let ivf = KnnParams {
        exact_max: 0,
        ..KnnParams::default()
    };
    for (name, p, par) in [
        ("exact_1thread", &exact, false),
        ("exact_pool", &exact, true),
        ("ivf_1thread", &ivf, false),
        ("ivf_pool", &ivf, true),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut t = VectorTable::new(data.clone(), dim);
                knn::search(&mut t, p, par)
            })
        });
    }
    g.finish();
    let rows: Vec<&[f32]> = data.chunks(dim).take(5).collect();
    c.bench_function("dot4_384d", |b| {
        b.iter(|| knn::dot4(rows[0], [rows[1], rows[2], rows[3], rows[4]]))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
