//! `kimera check` with several statements (arguments and `--file`): one vector load,
//! per-statement results in input order, latency quantiles, and clear errors on bad input.
//! Needs the real model (skips with a notice without it, fails under CI).

mod common;

use assert_cmd::Command;

fn kimera(model: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("kimera").unwrap();
    c.env("KIMERA_MODEL_DIR", model);
    c
}

#[test]
fn check_many_statements_from_arguments_and_a_file() {
    let Some((model, dir, db)) = common::real_model_and_store("demo.db") else {
        return;
    };
    let demo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/demo/statements.csv"
    );
    kimera(&model)
        .arg("--db")
        .arg(&db)
        .args(["-q", "ingest", demo, "--embed"])
        .assert()
        .success();
    let queries = dir.path().join("queries.txt");
    std::fs::write(
        &queries,
        "Water boils at 50 degrees Celsius at sea level.\n\n  \nKoalas are marsupials native to Australia.\n",
    )
    .unwrap();
    let out = kimera(&model)
        .arg("--db")
        .arg(&db)
        .args([
            "--json",
            "check",
            "Paris is not the capital of France.",
            "--file",
        ])
        .arg(&queries)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    // Arguments first, then the file's non-empty lines, in order.
    let texts: Vec<&str> = results
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Paris is not the capital of France.",
            "Water boils at 50 degrees Celsius at sea level.",
            "Koalas are marsupials native to Australia."
        ]
    );
    let contradicts = |i: usize, text: &str| {
        results[i]["contradictions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["text"] == text)
    };
    assert!(contradicts(0, "Paris is the capital of France."));
    assert!(contradicts(
        1,
        "Water boils at 100 degrees Celsius at sea level."
    ));
    assert_eq!(v["vectors"], 159);
    let lat = &v["latency_ms"];
    let (p50, p99, max) = (
        lat["p50"].as_f64().unwrap(),
        lat["p99"].as_f64().unwrap(),
        lat["max"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p50 <= p99 && p99 <= max, "{lat}");
    for r in results {
        assert_eq!(r["examined"], 10);
    }
}

#[test]
fn check_refuses_bad_input_with_a_clear_error() {
    let Some((model, dir, db)) = common::real_model_and_store("empty.db") else {
        return;
    };
    // No statement at all: clap refuses (usage error).
    kimera(&model)
        .arg("--db")
        .arg(&db)
        .arg("check")
        .assert()
        .code(2);
    // A file that does not exist is named.
    let out = kimera(&model)
        .arg("--db")
        .arg(&db)
        .args(["check", "--file", "/nonexistent/q.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/q.txt"));
    // Non-UTF-8 line: file and line are named.
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, b"fine line\n\xff\xfe broken\n").unwrap();
    let out = kimera(&model)
        .arg("--db")
        .arg(&db)
        .args(["check", "--file"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.txt:2"), "{err}");
    // A store without vectors: told to embed first.
    let out = kimera(&model)
        .arg("--db")
        .arg(&db)
        .args(["check", "anything"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("kimera embed"));
}
