//! Neighbour search: exact vs IVF on clustered 384-d vectors, one thread vs the pool;
//! the matrix product one search task does.
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
                knn::search(&mut t, p, par).unwrap()
            })
        });
    }
    g.finish();
    // one search task: 256 queries × a 2,048-row segment
    let q = knn::matrix(data[..256 * dim].to_vec(), dim).unwrap();
    let r = knn::matrix(data[..2048 * dim].to_vec(), dim).unwrap();
    c.bench_function("products_256x2048x384", |b| {
        b.iter(|| knn::products(&q, &r).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
