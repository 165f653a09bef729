//! `kimera bench` end to end: offline detectors with the real model, the LLM judge
//! against the fake OpenAI-compatible server, resume, and bad input.

mod common;

use common::real_model_dir;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use kimera_llm::testing::{FakeLlm, Script};
use predicates::prelude::*;
use serde_json::Value;

fn kimera(db: &Path, model: &Path, server: &FakeLlm) -> Command {
    let mut c = Command::cargo_bin("kimera").unwrap();
    c.env_remove("RUST_LOG")
        .env("KIMERA_MODEL_DIR", model)
        .env("KIMERA_LLM_BASE_URL", server.base_url())
        .env("KIMERA_LLM_MODEL", "fake")
        .env_remove("KIMERA_LLM_API_KEY")
        .arg("--db")
        .arg(db);
    c
}

fn demo_pairs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/pairs.csv")
}

fn summary(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)))
}

#[test]
fn all_detectors_including_the_llm_judge_are_compared_and_reported() {
    let Some(model) = real_model_dir() else {
        return;
    };
    let server = FakeLlm::start(Script::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("report");
    let out = kimera(&dir.path().join("k.db"), &model, &server)
        .args(["--json", "bench", "--dataset"])
        .arg(demo_pairs())
        .args([
            "--detectors",
            "baseline,lexical,model,llm",
            "--async",
            "4",
            "--out",
        ])
        .arg(&out_dir)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let s = summary(&out);
    let dets: Vec<&str> = s["detectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(dets, vec!["baseline", "lexical", "model", "llm"]);
    for d in s["detectors"].as_array().unwrap() {
        assert_eq!(d["n_scored"], 44, "{}", d["name"]);
        assert_eq!(d["n_errors"], 0);
    }
    let f1 = |name: &str| {
        s["detectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap()["f1"]
            .as_f64()
            .unwrap()
    };
    assert!(
        f1("lexical") > f1("baseline"),
        "the rules beat the cosine baseline on planted contradictions"
    );
    for f in [
        "results.csv",
        "summary.json",
        "report.md",
        "roc.png",
        "pr.png",
    ] {
        assert!(out_dir.join(f).is_file(), "{f} written");
    }
    let rows = std::fs::read_to_string(out_dir.join("results.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(rows, 1 + 44 * 4, "one row per pair and detector");
    assert!(
        std::fs::read_to_string(out_dir.join("report.md"))
            .unwrap()
            .contains("McNemar")
    );
}

#[test]
fn resume_continues_an_interrupted_run_to_the_same_summary() {
    let Some((model, dir, db)) = common::real_model_and_store("k.db") else {
        return;
    };
    let server = FakeLlm::start(Script::default()).unwrap();
    let run = |out: &Path, extra: &[&str]| -> Value {
        let o = kimera(&db, &model, &server)
            .args(["--json", "bench", "--no-plots", "--dataset"])
            .arg(demo_pairs())
            .args(["--detectors", "baseline,lexical", "--out"])
            .arg(out)
            .args(extra)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        summary(&o)
    };
    let fresh = run(&dir.path().join("fresh"), &[]);
    // an "interrupted" run: only the first 10 pairs made it to results.csv
    let resumed_dir = dir.path().join("resumed");
    run(&resumed_dir, &["--max-pairs", "10"]);
    assert_eq!(
        std::fs::read_to_string(resumed_dir.join("results.csv"))
            .unwrap()
            .lines()
            .count(),
        1 + 10 * 2
    );
    let resumed = run(&resumed_dir, &["--resume"]);
    assert_eq!(
        std::fs::read_to_string(resumed_dir.join("results.csv"))
            .unwrap()
            .lines()
            .count(),
        1 + 44 * 2
    );
    for (a, b) in fresh["detectors"]
        .as_array()
        .unwrap()
        .iter()
        .zip(resumed["detectors"].as_array().unwrap())
    {
        for k in [
            "name",
            "n_scored",
            "precision",
            "recall",
            "f1",
            "auc",
            "confusion",
            "ci",
        ] {
            assert_eq!(a[k], b[k], "{k}");
        }
    }
}

#[test]
fn kimera_only_and_bad_datasets() {
    let server = FakeLlm::start(Script::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("no-model");
    let db = dir.path().join("k.db");
    let stmts = dir.path().join("s.csv");
    std::fs::write(&stmts, "text,lang\nNo pairs here,en\n").unwrap();
    kimera(&db, &model, &server)
        .args(["bench", "--dataset"])
        .arg(&stmts)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no labelled pairs"));
    kimera(&db, &model, &server)
        .args(["bench", "--dataset", "/nonexistent.csv"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("/nonexistent.csv"));
    // --kimera-only conflicts with an explicit detector list: a usage error
    kimera(&db, &model, &server)
        .args(["bench", "--dataset"])
        .arg(demo_pairs())
        .args(["--kimera-only", "--detectors", "lexical"])
        .assert()
        .code(2);
    // the LLM judge alone needs no model; failures would be rows, never dropped
    let out_dir = dir.path().join("llm");
    let out = kimera(&db, &model, &server)
        .args([
            "--json",
            "bench",
            "--no-plots",
            "--detectors",
            "llm",
            "--dataset",
        ])
        .arg(demo_pairs())
        .arg("--out")
        .arg(&out_dir)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(summary(&out)["detectors"][0]["n_scored"], 44);
}
