//! Fuzzing every reader, the short run CI does (the long one:
//! `cargo run --release -p kimera-ingest --example fuzz_readers`). The generators and
//! properties are in `fuzz_support` (see its docs); here each reader gets a few
//! hundred cases, and ingesting whole cases into a store checks that the counts of
//! the summary add up and that every record returned is in the store.

mod fuzz_support;

use fuzz_support::{Case, Reader, case, check, read_cleaned};
use kimera_ingest::{IngestOptions, ingest_paths};
use kimera_store::Store;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per reader in CI: seconds in all (`KIMERA_FUZZ_CASES` raises it).
fn cases() -> u32 {
    std::env::var("KIMERA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn run(reader: Reader, cases: u32, body: impl Fn(&Case) -> Result<(), String>) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case(reader), |c| body(&c).map_err(TestCaseError::fail))
        .unwrap_or_else(|e| panic!("{} reader: {e}", reader.name()));
}

#[test]
fn statements_reader_survives_fuzzing() {
    run(Reader::Statements, cases(), check);
}

#[test]
fn linked_reader_survives_fuzzing() {
    run(Reader::Linked, cases(), check);
}

#[test]
fn pairs_reader_survives_fuzzing() {
    run(Reader::Pairs, cases(), check);
}

#[test]
fn sick_reader_survives_fuzzing() {
    run(Reader::Sick, cases(), check);
}

#[test]
fn jsonl_reader_survives_fuzzing() {
    run(Reader::Jsonl, cases(), check);
}

#[test]
fn text_reader_survives_fuzzing() {
    run(Reader::Text, cases(), check);
}

#[test]
fn markdown_reader_survives_fuzzing() {
    run(Reader::Markdown, cases(), check);
}

/// Through `ingest_paths` into a store: rows = records + bad rows, every statement
/// submitted is inserted or counted a duplicate, the store holds what was inserted,
/// and every record's texts are in it byte for byte.
#[test]
fn ingesting_fuzzed_files_counts_every_row_and_stores_every_record() {
    let dir = tempfile::tempdir().unwrap();
    for reader in Reader::ALL {
        run(reader, cases() / 10, |c| {
            let bytes = c.bytes();
            let path = dir.path().join(reader.file_name());
            std::fs::write(&path, &bytes).unwrap();
            // ingest cleans text and Markdown by default: the cleaned read is expected
            let expected = read_cleaned(reader, &bytes);
            let mut store = Store::open_in_memory().unwrap();
            let opts = IngestOptions {
                format: Some(reader.format()),
                batch_size: 3,
                ..Default::default()
            };
            let s = ingest_paths(&mut store, &[path], &opts, &|_, _, _| {})
                .map_err(|e| format!("ingest failed: {e}"))?;
            let f = &s.files[0];
            if let Some(why) = &f.failed {
                // refused whole (or empty): nothing written, and the reader agrees
                return if expected.file_error.is_some() && store.counts().unwrap().geoids == 0 {
                    Ok(())
                } else {
                    Err(format!(
                        "file failed ({why}) but the reader did not refuse it"
                    ))
                };
            }
            let records = expected.records.len() as u64;
            let bad = expected.errors.len() as u64;
            let texts: u64 = expected.records.iter().map(|r| r.1.len() as u64).sum();
            let stored = store.counts().unwrap().geoids;
            let in_store: std::collections::HashSet<String> = store
                .geoids_after(0, usize::MAX >> 1)
                .unwrap()
                .into_iter()
                .map(|g| g.text)
                .collect();
            let all_in = expected
                .records
                .iter()
                .flat_map(|r| r.1.iter())
                .all(|t| in_store.contains(t));
            if s.rows != records + bad
                || s.bad_rows != bad
                || f.geoids.inserted + f.geoids.duplicates != texts
                || stored != f.geoids.inserted
                || !all_in
            {
                return Err(format!(
                    "counts do not add up: summary rows {} bad {} inserted {} dup {}, reader records {records} bad {bad} texts {texts}, store {stored}, all records in store {all_in}",
                    s.rows, s.bad_rows, f.geoids.inserted, f.geoids.duplicates
                ));
            }
            Ok(())
        });
    }
}
