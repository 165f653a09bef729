//! Fills a store with synthetic geoids and random unit vectors, for benchmarks.
//!
//! ```text
//! cargo run --release -p kimera-reactor --example synth_store -- \
//!     --db /tmp/k100k.db --n 100000 [--dim 384] [--clusters 1000] [--spread 1.0] \
//!     [--twin-every 20] [--seed 42] [--model-id synthetic]
//! ```
//! `--clusters 0` gives uniformly random vectors. Then: `kimera run --db /tmp/k100k.db
//! --model-id synthetic`.

use std::process::ExitCode;

use kimera_reactor::synth::{SynthSpec, fill_store};
use kimera_store::Store;

fn main() -> ExitCode {
    let mut spec = SynthSpec::default();
    let mut db = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.chunks(2);
    for pair in &mut it {
        let [flag, value] = pair else {
            eprintln!("error: {} needs a value", pair[0]);
            return ExitCode::from(2);
        };
        let bad = |what: &str| {
            eprintln!("error: {flag}: {value:?} is not {what}");
            ExitCode::from(2)
        };
        match flag.as_str() {
            "--db" => db = Some(value.clone()),
            "--n" => match value.parse() {
                Ok(v) => spec.n = v,
                Err(_) => return bad("a count"),
            },
            "--dim" => match value.parse() {
                Ok(v) if v > 0 => spec.dim = v,
                _ => return bad("a positive dimension"),
            },
            "--clusters" => match value.parse() {
                Ok(v) => spec.clusters = v,
                Err(_) => return bad("a count"),
            },
            "--spread" => match value.parse() {
                Ok(v) => spec.spread = v,
                Err(_) => return bad("a number"),
            },
            "--twin-every" => match value.parse() {
                Ok(v) => spec.twin_every = v,
                Err(_) => return bad("a count"),
            },
            "--seed" => match value.parse() {
                Ok(v) => spec.seed = v,
                Err(_) => return bad("an integer"),
            },
            "--model-id" => spec.model_id = value.clone(),
            _ => {
                eprintln!("error: unknown flag {flag}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(db) = db else {
        eprintln!("error: --db PATH is required");
        return ExitCode::from(2);
    };
    let t = std::time::Instant::now();
    let mut store = match Store::open(&db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let result = fill_store(&mut store, &spec, |done| {
        if done % 100_000 == 0 || done == spec.n {
            eprintln!("{done}/{} geoids written ({:.0?})", spec.n, t.elapsed());
        }
    });
    match result {
        Ok(()) => {
            eprintln!(
                "{db}: {} geoids with {}-d vectors under model {:?}",
                spec.n, spec.dim, spec.model_id
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
