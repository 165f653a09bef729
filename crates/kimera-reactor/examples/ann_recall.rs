//! Recall@k of the IVF index against exact search, and the time of each.
//!
//! ```text
//! cargo run --release -p kimera-reactor --example ann_recall -- [n=100000] [dim=384] [workers=2]
//! ```
//! Exact top-k is computed by brute force for a seeded sample of 2,000 queries (all n
//! vectors scanned for each), which estimates recall@k over the whole set.

use std::time::Instant;

use kimera_reactor::knn::{self, KnnParams, VectorTable};
use kimera_reactor::synth;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numeric arguments"))
        .collect();
    let n = args.first().copied().unwrap_or(100_000);
    let dim = args.get(1).copied().unwrap_or(384);
    let workers = args.get(2).copied().unwrap_or(2);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .unwrap();
    let k = 10;
    for (label, clusters, spread) in [
        ("clustered (n/100 topics, spread 1.0)", n / 100, 1.0),
        ("clustered (n/1000 topics, spread 1.5)", n / 1000, 1.5),
        ("uniform", 0, 1.0),
    ] {
        let data = synth::clustered_vectors(n, dim, clusters, spread, 11);
        let base = VectorTable::new(data.clone(), dim);
        let sample: Vec<u32> = (0..2000u32)
            .map(|i| ((i as u64 * 2_654_435_761) % n as u64) as u32)
            .collect();
        let t = Instant::now();
        let exact: Vec<Vec<u32>> = pool.install(|| {
            use rayon::prelude::*;
            sample
                .par_iter()
                .map(|&q| {
                    let mut all: Vec<(u32, f32)> = (0..n as u32)
                        .filter(|&j| j != q)
                        .map(|j| (j, knn::dot8(base.get(q), base.get(j))))
                        .collect();
                    all.select_nth_unstable_by(k, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                    all.truncate(k);
                    all.into_iter().map(|(j, _)| j).collect()
                })
                .collect()
        });
        let brute_s = t.elapsed().as_secs_f64() * n as f64 / sample.len() as f64;
        println!(
            "{label}: n={n} dim={dim} workers={workers}; exact search (extrapolated from 2,000 queries): {brute_s:.1} s"
        );
        for nprobe in [4, 8, 16, 32] {
            let p = KnnParams {
                k,
                floor: -1.0,
                exact_max: 0,
                nlist: 0,
                nprobe,
                lexical_k: 0,
            };
            let (nlist, _) = knn::plan(n, &p);
            let mut table = VectorTable::new(data.clone(), dim);
            let t = Instant::now();
            let nb = pool.install(|| knn::search(&mut table, &p, true)).unwrap();
            let secs = t.elapsed().as_secs_f64();
            let mut hit = 0usize;
            for (q, e) in sample.iter().zip(&exact) {
                hit += e
                    .iter()
                    .filter(|j| nb.lists[*q as usize].iter().any(|(x, _)| x == *j))
                    .count();
            }
            let recall = hit as f64 / (sample.len() * k) as f64;
            println!(
                "  ivf nlist={nlist} nprobe={nprobe}: recall@{k}={recall:.4} build+search {secs:.1} s ({:.0} vectors/s)",
                n as f64 / secs
            );
        }
    }
}
