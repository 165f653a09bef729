//! `kimera learn`, `concept`, `path`, `related` end to end.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn kimera(db: &Path) -> Command {
    let mut c = Command::cargo_bin("kimera").unwrap();
    c.arg("--db")
        .arg(db)
        .env_remove("KIMERA_DB")
        .env_remove("RUST_LOG");
    c
}

const FACTS: &str = "Smoking causes cancer. Cancer is a disease. Tar is part of smoking.
The capital of France is Paris. Paris has a population of 2.1 million.
Hot is the opposite of cold.
";

fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap()
}

#[test]
fn learn_from_files_then_query_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let f = dir.path().join("facts.txt");
    std::fs::write(&f, FACTS).unwrap();

    let out = kimera(&db)
        .args(["--json", "learn", "--workers", "2", "--lang", "en"])
        .arg(&f)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let s = json(&out);
    assert_eq!(s["learned"], 6);
    assert!(s["associations"].as_u64().unwrap() > 6);
    assert!(s["seconds"]["persist"].is_number());

    // learning again (same store, same file) learns nothing new
    let out = kimera(&db)
        .args(["--json", "learn", "--lang", "en"])
        .arg(&f)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let again = json(&out);
    assert_eq!(
        (again["learned"].as_u64(), again["already_known"].as_u64()),
        (Some(0), Some(6))
    );
    assert_eq!(again["associations"], s["associations"]);

    kimera(&db)
        .args(["concept", "Smoking"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("causes → cancer")
                .and(predicate::str::contains("tar part-of →"))
                .and(predicate::str::contains("Smoking causes cancer")),
        );
    let out = kimera(&db)
        .args(["--json", "concept", "france"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    let cap = v["out"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "attribute")
        .unwrap();
    assert_eq!(
        (cap["attr"].as_str(), cap["other"].as_str()),
        (Some("capital"), Some("paris"))
    );
    assert!(
        cap["examples"][0]["source"]
            .as_str()
            .unwrap()
            .ends_with("facts.txt:2")
    );

    kimera(&db)
        .args(["path", "tar", "disease", "--max-hops", "3"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "tar -part-of-> smoking -causes-> cancer -is-a-> disease",
        ));
    kimera(&db)
        .args(["path", "tar", "disease", "--max-hops", "2"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no path"));
    kimera(&db)
        .args(["related", "cancer"])
        .assert()
        .success()
        .stdout(predicate::str::contains("smoking").and(predicate::str::contains("graph")));
}

#[test]
fn unknown_terms_and_empty_graphs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    kimera(&db)
        .args(["concept", "anything"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("run `kimera learn` first"));
    let f = dir.path().join("facts.txt");
    std::fs::write(&f, FACTS).unwrap();
    kimera(&db).arg("learn").arg(&f).assert().success();
    kimera(&db)
        .args(["related", "unicorn"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no concept \"unicorn\""));
    kimera(&db)
        .args(["learn", "/nonexistent/file.txt"])
        .assert()
        .failure();
}
