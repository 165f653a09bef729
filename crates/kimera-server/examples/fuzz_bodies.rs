//! The long fuzz run of the request parsers: a million bodies (or `--cases N`) per
//! request type, from the same generators as the HTTP fuzz tests (`tests/bodies`), with
//! bytes truncated or flipped in some of them, through the parser every JSON route uses
//! ([`kimera_server::http::parse_json`]).
//!
//! ```sh
//! cargo run --release -p kimera-server --example fuzz_bodies -- --cases 1000000
//! ```
//!
//! Property: no panic; a body is either accepted or refused with 400 (not JSON) or 422
//! (not the expected object, or a field not acceptable, the field named in the message).
//! What the engine then checks of an accepted body (text limits, `k`, languages) runs
//! behind HTTP in `tests/fuzz.rs` (`KIMERA_FUZZ_CASES=N` for its long run). Prints, per
//! type: cases, accepted, refused as 400 and as 422, the slowest case; exits 1 on a
//! failure (shrunk by proptest). Seeded: the same `--seed` gives the same cases.

#[path = "../tests/bodies/mod.rs"]
mod bodies;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use kimera_server::api::{AddStatements, CheckIn, RunIn};
use kimera_server::http::parse_json;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Default)]
struct Tally {
    cases: u64,
    accepted: u64,
    malformed: u64,
    refused: u64,
    slowest: Duration,
}

/// A body from `json`, sometimes cut short or with one byte changed.
fn mutated(json: impl Strategy<Value = Value>) -> impl Strategy<Value = Vec<u8>> {
    (json, 0u8..4, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, how, at, byte)| {
        let mut b = v.to_string().into_bytes();
        if !b.is_empty() {
            let i = at.index(b.len());
            match how {
                0 => b.truncate(i),
                1 => b[i] = byte,
                _ => {}
            }
        }
        b
    })
}

/// Parses `body` as `T` and checks the answer is an acceptance or a clear refusal.
fn parse<T: DeserializeOwned>(body: &[u8], tally: &mut Tally) -> Result<(), TestCaseError> {
    match parse_json::<T>(body) {
        Ok(_) => tally.accepted += 1,
        Err(e) => {
            let text = String::from_utf8_lossy(body);
            prop_assert!(!e.message.is_empty(), "no message for {text}");
            match e.status {
                StatusCode::BAD_REQUEST => {
                    prop_assert_eq!(e.code, "malformed_json", "{}", text);
                    tally.malformed += 1;
                }
                StatusCode::UNPROCESSABLE_ENTITY => {
                    if e.code == "invalid_field" {
                        let field = e.field.as_deref().unwrap_or("");
                        prop_assert!(!field.is_empty(), "{} for {}", e.message, text);
                        prop_assert!(e.message.contains(field), "{} for {}", e.message, text);
                    } else {
                        prop_assert_eq!(e.code, "invalid_body", "{}", text);
                    }
                    tally.refused += 1;
                }
                other => prop_assert!(false, "status {other} ({}) for {text}", e.message),
            }
        }
    }
    Ok(())
}

fn run<T: DeserializeOwned>(
    name: &str,
    strategy: impl Strategy<Value = Vec<u8>>,
    cases: u32,
    seed: u8,
) -> bool {
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
    let result = runner.run(&strategy, |body| {
        let t = Instant::now();
        let mut s = tally.borrow_mut();
        let r = parse::<T>(&body, &mut s);
        s.cases += 1;
        s.slowest = s.slowest.max(t.elapsed());
        r
    });
    let s = tally.into_inner();
    println!(
        "{name:<12} {:>9} {:>9} {:>9} {:>9} {:>7.2} ms {:>8.1}",
        s.cases,
        s.accepted,
        s.malformed,
        s.refused,
        s.slowest.as_secs_f64() * 1e3,
        t0.elapsed().as_secs_f64()
    );
    match result {
        Ok(()) => true,
        Err(e) => {
            println!("  FAILED: {e}");
            false
        }
    }
}

fn main() {
    let mut cases: u32 = 1_000_000;
    let mut seed: u8 = 7;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cases" => cases = args.next().and_then(|v| v.parse().ok()).expect("--cases N"),
            "--seed" => {
                seed = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--seed 0-255")
            }
            other => panic!("unknown argument {other} (--cases N, --seed S)"),
        }
    }
    println!("body         cases     accepted  400       422       slowest    seconds");
    let ok = [
        run::<AddStatements>(
            "statements",
            mutated(prop_oneof![bodies::statements_body(), bodies::any_json()]),
            cases,
            seed,
        ),
        run::<CheckIn>(
            "check",
            mutated(prop_oneof![bodies::check_body(), bodies::any_json()]),
            cases,
            seed,
        ),
        run::<RunIn>("runs", mutated(bodies::any_json()), cases, seed),
    ];
    if ok.contains(&false) {
        std::process::exit(1);
    }
}
