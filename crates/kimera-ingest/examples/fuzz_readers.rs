//! The long fuzz run: a million cases (or `--cases N`) per reader, with the same
//! generators and properties as CI's short run (`tests/fuzz_support`).
//!
//! ```sh
//! cargo run --release -p kimera-ingest --example fuzz_readers -- --cases 1000000
//! cargo run --release -p kimera-ingest --example fuzz_readers -- --reader sick --cases 5000
//! ```
//!
//! Prints, per reader: cases run, how many were mutated, records and row errors the
//! reader returned, files it refused whole, the slowest case, and the first failure
//! (shrunk by proptest) if any. Exits 1 when a property failed. Seeded: the same
//! `--seed` gives the same cases.

#[path = "../tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use fuzz_support::{Mutation, Reader, case, check_outcome};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

#[derive(Default)]
struct Tally {
    cases: u64,
    mutated: u64,
    records: u64,
    row_errors: u64,
    refused: u64,
    slowest: Duration,
}

fn main() {
    let mut cases: u32 = 1_000_000;
    let mut only: Option<String> = None;
    let mut seed: u8 = 7;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cases" => cases = args.next().and_then(|v| v.parse().ok()).expect("--cases N"),
            "--reader" => only = args.next(),
            "--seed" => {
                seed = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--seed 0-255")
            }
            other => panic!("unknown argument {other} (--cases N, --reader NAME, --seed S)"),
        }
    }
    let mut failed = false;
    println!(
        "reader      cases      mutated    records    row errors  refused  slowest    seconds"
    );
    for reader in Reader::ALL {
        if only.as_deref().is_some_and(|o| o != reader.name()) {
            continue;
        }
        let tally = RefCell::new(Tally::default());
        let t0 = Instant::now();
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases,
                failure_persistence: None,
                max_shrink_iters: 4096,
                ..Config::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
        );
        let result = runner.run(&case(reader), |c| {
            let t = Instant::now();
            let (out, r) = check_outcome(&c);
            let took = t.elapsed();
            let mut s = tally.borrow_mut();
            s.cases += 1;
            if s.cases % 100_000 == 0 {
                // partial figures, for a run stopped before its end
                eprintln!(
                    "{}: {} cases, {} records, {} row errors, {} refused, {:.0} s",
                    reader.name(),
                    s.cases,
                    s.records,
                    s.row_errors,
                    s.refused,
                    t0.elapsed().as_secs_f64()
                );
            }
            s.slowest = s.slowest.max(took);
            if !matches!(c.mutation, Mutation::None) {
                s.mutated += 1;
            }
            s.records += out.records.len() as u64;
            s.row_errors += out.errors.len() as u64;
            s.refused += u64::from(out.file_error.is_some());
            r.map_err(TestCaseError::fail)
        });
        let s = tally.into_inner();
        println!(
            "{:<10} {:>9} {:>12} {:>10} {:>13} {:>8} {:>7.2} ms {:>9.1}",
            reader.name(),
            s.cases,
            s.mutated,
            s.records,
            s.row_errors,
            s.refused,
            s.slowest.as_secs_f64() * 1e3,
            t0.elapsed().as_secs_f64()
        );
        if let Err(e) = result {
            failed = true;
            println!("  FAILED: {e}");
        }
    }
    if failed {
        std::process::exit(1);
    }
}
