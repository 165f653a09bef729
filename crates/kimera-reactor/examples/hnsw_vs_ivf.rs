//! HNSW (the `hnsw_rs` crate) against our IVF index, on the vectors of a synthetic store:
//! build time, time to answer every vector's top-k query, recall@k against exact search,
//! and whether two builds on the same threads give the same neighbour lists — the
//! property the reactor needs (its scars must not depend on the worker count).
//!
//! ```text
//! cargo run --release -p kimera-reactor --example hnsw_vs_ivf -- \
//!     [--n 100000] [--workers 2] [--db STORE --model-id synthetic] [--m 16] [--ef-c 200] [--ef 32,64,128]
//! ```
//! Without `--db` the vectors are generated as `synth_store --n N --clusters N/100` makes
//! them (384-d, spread 1.0, a negated twin every 20th, seed 42), in memory.

use std::time::Instant;

use hnsw_rs::prelude::{Distance, Hnsw};
use kimera_reactor::knn::{self, KnnParams, Neighbours, VectorTable};
use kimera_reactor::synth::{SynthSpec, fill_store};
use kimera_store::{Store, StoreError};

const K: usize = 10;

/// `1 − cos` of unit vectors with the reactor's dot kernel. (hnsw_rs's `DistDot` asserts
/// `dot ≤ 1`, which rounding breaks for near-duplicates; its `DistCosine` is scalar f64
/// and would make HNSW look slower than it is.)
#[derive(Debug, Clone, Copy)]
struct UnitDot;

impl Distance<f32> for UnitDot {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - knn::dot8(a, b)).max(0.0)
    }
}

fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn num(args: &[String], flag: &str, default: usize) -> usize {
    value(args, flag).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{flag}: {v:?} is not a number"))
    })
}

/// Every vector of `model` in the store, in geoid order, as one row-major buffer.
fn load(store: &Store, model: &str) -> (Vec<f32>, usize) {
    let (mut data, mut dim) = (Vec::new(), 0);
    store
        .for_each_geoid_with_embedding::<StoreError>(model, |_, v| {
            if let Some(v) = v {
                dim = v.len();
                data.extend_from_slice(v);
            }
            Ok(())
        })
        .unwrap();
    (data, dim)
}

/// Neighbour ids per query, self excluded, at most K.
type Lists = Vec<Vec<u32>>;

fn ids(nb: &Neighbours) -> Lists {
    nb.lists
        .iter()
        .map(|l| l.iter().map(|&(i, _)| i).collect())
        .collect()
}

fn recall(exact: &Lists, got: &Lists) -> f64 {
    let (mut hit, mut total) = (0usize, 0usize);
    for (e, g) in exact.iter().zip(got) {
        total += e.len();
        hit += e.iter().filter(|i| g.contains(i)).count();
    }
    hit as f64 / total.max(1) as f64
}

/// Queries whose neighbour *sets* differ (the reactor's pairs depend on the sets only).
fn differing(a: &Lists, b: &Lists) -> usize {
    let sorted = |l: &Vec<u32>| {
        let mut l = l.clone();
        l.sort_unstable();
        l
    };
    a.iter()
        .zip(b)
        .filter(|(x, y)| sorted(x) != sorted(y))
        .count()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = num(&args, "--n", 100_000);
    let workers = num(&args, "--workers", 2);
    let m = num(&args, "--m", 16);
    let ef_c = num(&args, "--ef-c", 200);
    let efs: Vec<usize> = value(&args, "--ef")
        .unwrap_or("32,64,128")
        .split(',')
        .map(|e| e.parse().expect("--ef: numbers separated by commas"))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .unwrap();

    let t = Instant::now();
    let (data, dim) = match value(&args, "--db") {
        Some(db) => load(
            &Store::open(db).unwrap(),
            value(&args, "--model-id").unwrap_or("synthetic"),
        ),
        None => {
            let mut store = Store::open_in_memory().unwrap();
            let spec = SynthSpec {
                n,
                clusters: n / 100,
                ..SynthSpec::default()
            };
            fill_store(&mut store, &spec, |_| {}).unwrap();
            load(&store, &spec.model_id)
        }
    };
    let table = VectorTable::new(data, dim);
    let n = table.len();
    println!(
        "{n} vectors of {dim} dimensions ({:.1} s to make); {workers} threads; recall@{K} over all {n} queries",
        t.elapsed().as_secs_f64()
    );
    // unit vectors, in the caller's order, for HNSW
    let rows: Vec<Vec<f32>> = (0..n as u32).map(|i| table.get(i).to_vec()).collect();

    let exact_params = KnnParams {
        k: K,
        floor: -1.0,
        exact_max: usize::MAX,
        ..KnnParams::default()
    };
    let t = Instant::now();
    let exact = ids(&pool
        .install(|| knn::search(&mut table.clone(), &exact_params, true))
        .unwrap());
    println!(
        "exact (blocked products): {:.1} s",
        t.elapsed().as_secs_f64()
    );

    println!("| index | build s | query s (all {n}) | recall@{K} | 2 builds identical |");
    println!("| --- | ---: | ---: | ---: | --- |");
    for nprobe in [8, 16] {
        let p = KnnParams {
            exact_max: 0,
            nprobe,
            ..exact_params.clone()
        };
        let t = Instant::now();
        let a = ids(&pool
            .install(|| knn::search(&mut table.clone(), &p, true))
            .unwrap());
        let secs = t.elapsed().as_secs_f64();
        let b = ids(&pool
            .install(|| knn::search(&mut table.clone(), &p, true))
            .unwrap());
        let (nlist, _) = knn::plan(n, &p);
        println!(
            "| IVF nlist {nlist} nprobe {nprobe} | (build + query) | {secs:.1} | {:.4} | {} |",
            recall(&exact, &a),
            if differing(&a, &b) == 0 { "yes" } else { "no" }
        );
    }

    let build = || {
        let t = Instant::now();
        let h = Hnsw::<f32, UnitDot>::new(m, n, 16, ef_c, UnitDot);
        let items: Vec<(&[f32], usize)> = rows
            .iter()
            .enumerate()
            .map(|(i, v)| (v.as_slice(), i))
            .collect();
        pool.install(|| h.parallel_insert_slice(&items));
        (h, t.elapsed().as_secs_f64())
    };
    let query = |h: &Hnsw<f32, UnitDot>, ef: usize| -> (Lists, f64) {
        let t = Instant::now();
        let found = pool.install(|| h.parallel_search(&rows, K + 1, ef));
        let lists = found
            .into_iter()
            .enumerate()
            .map(|(q, l)| {
                l.into_iter()
                    .map(|nb| nb.d_id as u32)
                    .filter(|&i| i != q as u32)
                    .take(K)
                    .collect()
            })
            .collect();
        (lists, t.elapsed().as_secs_f64())
    };
    let (h1, b1) = build();
    let (h2, b2) = build();
    for &ef in &efs {
        let (l1, q1) = query(&h1, ef);
        let (l2, _) = query(&h2, ef);
        let diff = differing(&l1, &l2);
        println!(
            "| HNSW M {m} ef_c {ef_c} ef {ef} | {b1:.1} / {b2:.1} | {q1:.1} | {:.4} | {} |",
            recall(&exact, &l1),
            if diff == 0 {
                "yes".to_string()
            } else {
                format!("no: {diff} of {n} lists differ")
            }
        );
    }
}
