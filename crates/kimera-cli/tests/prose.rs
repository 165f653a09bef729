//! `kimera bench prose` on the shipped fixture (tests/data/prose: two small READMEs with
//! badges, a table of contents, code, a table, a changelog, license lines, and one
//! planted contradiction). The lexical rules alone, so the counts do not depend on the
//! learned detector's weights; the real embedding model picks the candidate pairs
//! (skips with a notice without it, fails under CI).

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/prose")
}

fn bench(model: &Path, extra: &[&str]) -> Value {
    let out = Command::cargo_bin("kimera")
        .unwrap()
        .env("KIMERA_MODEL_DIR", model)
        .env_remove("RUST_LOG")
        .args(["--json", "bench", "prose", "--docs"])
        .arg(fixture())
        .args(["--detectors", "lexical"])
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

fn texts(flags: &Value) -> Vec<(String, String)> {
    flags
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["a"].as_str().unwrap().to_string(),
                f["b"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn prose_bench_counts_planted_pairs_and_false_flags() {
    let Some((model, _dir, db)) = common::real_model_and_store("prose.db") else {
        return;
    };
    let r = bench(&model, &["--store", db.to_str().unwrap()]);
    assert_eq!(r["documents"], 2);
    // 6 claims in widget.md, 4 in gauge.md (see the fixture)
    assert_eq!(r["statements"], 10, "{r:#}");
    assert_eq!(r["skipped"]["heading"], 10);
    assert_eq!(r["skipped"]["changelog"], 4);
    assert_eq!(r["skipped"]["link_only"], 3);
    assert_eq!(r["skipped"]["badge"], 2);
    assert_eq!(r["skipped"]["instruction"], 3);
    assert_eq!(r["skipped"]["table"], 3);
    assert_eq!(
        (&r["planted"], &r["planted_stored"], &r["planted_found"]),
        (&Value::from(1), &Value::from(1), &Value::from(1))
    );
    assert_eq!(r["recall"], 1.0);
    assert_eq!(r["recall_by_kind"]["negation_removed"]["found"], 1);
    // one false flag: the numbers rule on two different subjects ("It renders 60
    // frames…" in widget.md, "Gauge renders 30 frames…" in gauge.md), which it cannot
    // tell apart
    assert_eq!(r["false_flags"], 1, "{:#}", r["false_flag_examples"]);
    assert_eq!(r["flagged_pairs"], 2);
    assert_eq!(r["false_flags_per_1000"], 100.0);
    assert_eq!(r["false_flags_by"]["lexical:numbers"], 1);
    let (a, b) = &texts(&r["false_flag_examples"])[0];
    assert!(a.contains("frames per second") && b.contains("frames per second"));
    // --store keeps the store it built, and never reuses one
    assert!(db.is_file());
    let out = Command::cargo_bin("kimera")
        .unwrap()
        .env("KIMERA_MODEL_DIR", &model)
        .args(["bench", "prose", "--store"])
        .arg(&db)
        .arg("--docs")
        .arg(fixture())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));

    // Everything kept: headings, badges, changelog lines become statements. The
    // rules stay quiet on issue numbers, versions, handles and headings.
    let all = bench(&model, &["--keep-all"]);
    assert_eq!(all["keep_all"], true);
    assert_eq!(all["skipped_total"], 0);
    let n = all["statements"].as_u64().unwrap();
    assert!(n > 20, "{n}");
    assert_eq!(all["planted_found"], 1);
    for (a, b) in texts(&all["false_flag_examples"]) {
        for debris in ["#581", "@alice", "(#", "0.4.1", "[Support]", "Installation"] {
            assert!(
                !a.contains(debris) && !b.contains(debris),
                "false flag on debris: {a} / {b}"
            );
        }
    }
}

#[test]
fn prose_bench_refuses_a_bad_manifest_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.md"), "Snow is white.\n").unwrap();
    std::fs::write(
        dir.path().join("planted.jsonl"),
        "{\"file\": \"a.md\", \"kind\": \"negation\", \"original\": \"Snow is white.\", \"edited\": \"Snow is not white.\"}\n{\"file\": \"a.md\"}\n",
    )
    .unwrap();
    let out = Command::cargo_bin("kimera")
        .unwrap()
        .args(["bench", "prose", "--docs"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("planted.jsonl:2"), "{err}");
}
