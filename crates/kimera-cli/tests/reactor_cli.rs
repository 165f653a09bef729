//! `kimera run` and `kimera scars` on synthetic stores (no model needed: the vectors are
//! written under a test model id).

use assert_cmd::Command;
use kimera_reactor::synth::{SynthSpec, fill_store};
use kimera_store::Store;

fn kimera() -> Command {
    Command::cargo_bin("kimera").unwrap()
}

fn synthetic(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let db = dir.join(name);
    let mut s = Store::open(&db).unwrap();
    let spec = SynthSpec {
        n: 300,
        dim: 16,
        clusters: 6,
        twin_every: 10,
        model_id: "test-model".into(),
        ..SynthSpec::default()
    };
    fill_store(&mut s, &spec, |_| {}).unwrap();
    db
}

fn run_json(db: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let out = kimera()
        .arg("--db")
        .arg(db)
        .args(["run", "--json"])
        // the synthetic vectors are not MiniLM's: use the rules unless told otherwise
        .args(if extra.contains(&"--detectors") {
            &[][..]
        } else {
            &["--detectors", "lexical"][..]
        })
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn run_finds_planted_negations_once_and_scars_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = synthetic(dir.path(), "k.db");
    let first = run_json(&db, &["--mp", "2", "--chunk", "37"]);
    assert_eq!(first["workers"], 2);
    assert_eq!(first["mode"], "parallel");
    assert_eq!(first["new_scars"], 30, "{first}");
    let again = run_json(&db, &["--workers", "2"]);
    assert_eq!(
        again["new_scars"], 0,
        "a second run adds no duplicate scars"
    );

    let out = kimera()
        .arg("--db")
        .arg(&db)
        .args(["scars", "--json", "--limit", "5"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let scars: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(scars.len(), 5);
    for s in &scars {
        assert_eq!(s["detector"], "lexical");
        assert_eq!(s["evidence"]["rule"], "negation");
        assert!(
            s["text_a"].is_string()
                && s["text_b"].is_string()
                && s["score"].as_f64().unwrap() > 0.5
        );
    }
    let table = kimera()
        .arg("--db")
        .arg(&db)
        .args(["scars", "--limit", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("negation: false"), "{text}");
}

/// The lexical candidates (statements sharing rare words) come on top of the vector
/// neighbours: `--lexical-k 0` turns them off, and the run says how many pairs they added.
#[test]
fn lexical_candidates_add_to_the_vector_neighbours_and_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let off = run_json(&synthetic(dir.path(), "off.db"), &["--lexical-k", "0"]);
    let on = run_json(&synthetic(dir.path(), "on.db"), &["--lexical-k", "20"]);
    assert_eq!(off["lexical_pairs"], 0);
    let added = on["lexical_pairs"].as_u64().unwrap();
    assert!(added > 0, "{on}");
    assert_eq!(
        on["pairs_checked"].as_u64().unwrap(),
        off["pairs_checked"].as_u64().unwrap() + added
    );
    // the planted negations are found either way; more candidates never lose a scar
    assert!(
        on["new_scars"].as_u64() >= off["new_scars"].as_u64(),
        "{on} {off}"
    );
    assert_eq!(off["new_scars"], 30, "{off}");
}

#[test]
fn one_worker_and_many_give_the_same_scars() {
    let dir = tempfile::tempdir().unwrap();
    let list = |db: &std::path::Path| {
        let s = Store::open(db).unwrap();
        s.scars(0)
            .unwrap()
            .into_iter()
            .map(|r| (r.a, r.b, r.detector, r.evidence.to_string()))
            .collect::<Vec<_>>()
    };
    let one = synthetic(dir.path(), "one.db");
    let many = synthetic(dir.path(), "many.db");
    let s1 = run_json(
        &one,
        &[
            "--workers",
            "1",
            "--detectors",
            "baseline,lexical",
            "--pairing",
            "random",
            "--seed",
            "3",
        ],
    );
    let s8 = run_json(
        &many,
        &[
            "--workers",
            "8",
            "--chunk",
            "5",
            "--detectors",
            "baseline,lexical",
            "--pairing",
            "random",
            "--seed",
            "3",
        ],
    );
    assert_eq!(s1["mode"], "sequential");
    assert_eq!(s1["pairs_checked"], 150);
    assert_eq!(s1["new_scars"], s8["new_scars"]);
    assert_eq!(list(&one), list(&many));
}

#[test]
fn empty_store_runs_and_unembedded_store_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.db");
    let st = run_json(&empty, &[]);
    assert_eq!(
        (st["geoids"].as_u64(), st["new_scars"].as_u64()),
        (Some(0), Some(0))
    );
    kimera()
        .arg("--db")
        .arg(&empty)
        .arg("scars")
        .assert()
        .success();

    let db = dir.path().join("raw.db");
    let mut s = Store::open(&db).unwrap();
    s.insert_geoids(&[kimera_core::Geoid::new(
        "Fire is hot",
        "en",
        kimera_core::Source::Api,
    )])
    .unwrap();
    drop(s);
    let out = kimera().arg("--db").arg(&db).arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `kimera embed` first"));
    let out = kimera()
        .arg("--db")
        .arg(&db)
        .args(["run", "--model-id", "test-model"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no embeddings for model \"test-model\"") && err.contains("kimera embed"),
        "{err}"
    );
    kimera()
        .arg("--db")
        .arg(&db)
        .args(["run", "--pairing", "bogus"])
        .assert()
        .code(2);
    kimera()
        .arg("--db")
        .arg(&db)
        .args(["run", "--detectors", "oracle"])
        .assert()
        .code(1);
}
