//! One reactor cycle on a store, as `kimera run` does it, printing the stats as JSON:
//! the benchmark driver (measure it with `/usr/bin/time -v`).
//!
//! ```text
//! cargo run --release -p kimera-reactor --example run_store -- DB WORKERS [CHUNK] [DETECTORS] [MODEL_ID]
//! ```

use kimera_reactor::{RunConfig, Store, detectors_from_list, run};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let db = a
        .first()
        .expect("usage: run_store DB WORKERS [CHUNK] [DETECTORS] [MODEL_ID]");
    let workers: usize = a
        .get(1)
        .map_or(0, |w| w.parse().expect("WORKERS is a number"));
    let chunk: usize = a
        .get(2)
        .map_or(10_000, |c| c.parse().expect("CHUNK is a number"));
    let detectors =
        detectors_from_list(a.get(3).map_or("baseline,lexical", String::as_str)).unwrap();
    let model_id = a.get(4).cloned().unwrap_or_else(|| "synthetic".into());
    let mut store = Store::open(db).unwrap();
    let cfg = RunConfig {
        model_id,
        workers,
        chunk,
        args: a.clone(),
        ..RunConfig::default()
    };
    let stats = run(&mut store, &cfg, &detectors, &|_| {}).unwrap();
    println!("{}", serde_json::to_string(&stats).unwrap());
}
