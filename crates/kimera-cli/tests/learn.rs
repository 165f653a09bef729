//! `kimera learn`, `concept`, `path`, `related` end to end.

mod common;

use std::path::Path;

use assert_cmd::Command;
use kimera_store::Store;
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

/// Runs `cmd` (a `--json` command), asserts that it succeeds and parses its output.
fn json_ok(cmd: &mut Command) -> serde_json::Value {
    json(&cmd.assert().success().get_output().stdout)
}

#[test]
fn learn_from_files_then_query_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let f = dir.path().join("facts.txt");
    std::fs::write(&f, FACTS).unwrap();

    let s = json_ok(
        kimera(&db)
            .args(["--json", "learn", "--workers", "2", "--lang", "en"])
            .arg(&f),
    );
    assert_eq!(s["learned"], 6);
    assert!(s["associations"].as_u64().unwrap() > 6);
    assert!(s["seconds"]["persist"].is_number());
    assert!(s["times"]["wall"].as_f64().is_some_and(|w| w > 0.0));

    // learning again (same store, same file) learns nothing new
    let again = json_ok(
        kimera(&db)
            .args(["--json", "learn", "--lang", "en"])
            .arg(&f),
    );
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
    let v = json_ok(kimera(&db).args(["--json", "concept", "france"]));
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

/// Generated statements as a text file, one per line.
fn write_statements(path: &Path, n: usize, seed: u64) {
    let text: String = kimera_learn::synth::statements(n, 400, seed)
        .iter()
        .map(|s| format!("{}\n", s.text))
        .collect();
    std::fs::write(path, text).unwrap();
}

/// Gives the stored statements times that do not depend on when they were ingested.
fn fix_times(db: &Path) {
    let store = Store::open(db).unwrap();
    store
        .conn()
        .execute("UPDATE geoids SET created_at = 1000 + seq", [])
        .unwrap();
}

#[test]
fn learning_in_several_invocations_stores_the_same_graph_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let (f1, f2) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    write_statements(&f1, 700, 1);
    write_statements(&f2, 900, 2);
    let ingest = |db: &Path, f: &Path| {
        kimera(db)
            .args(["ingest", "--lang", "en"])
            .arg(f)
            .assert()
            .success();
        fix_times(db);
    };

    // one invocation over everything
    let one = dir.path().join("one.db");
    ingest(&one, &f1);
    ingest(&one, &f2);
    kimera(&one)
        .args(["learn", "--workers", "1"])
        .assert()
        .success();

    // three invocations, small pages, two workers; the last one learns nothing
    let several = dir.path().join("several.db");
    ingest(&several, &f1);
    kimera(&several)
        .args(["learn", "--workers", "2", "--page", "97"])
        .assert()
        .success();
    ingest(&several, &f2);
    kimera(&several)
        .args(["learn", "--workers", "2", "--page", "250", "--chunk", "64"])
        .assert()
        .success();
    let again =
        json_ok(kimera(&several).args(["--json", "learn", "--workers", "2", "--page", "300"]));
    assert_eq!(again["learned"], 0);
    assert_eq!(again["already_known"], again["statements"]);
    assert_eq!(again["provenance_rows_written"], 0);

    let (a, b) = (
        Store::open(&one).unwrap().read_graph(true).unwrap(),
        Store::open(&several).unwrap().read_graph(true).unwrap(),
    );
    assert!(
        a.learned.len() > 500 && a.sources.len() > a.associations.len(),
        "{} statements, {} associations, {} provenance rows",
        a.learned.len(),
        a.associations.len(),
        a.sources.len()
    );
    assert_eq!(a, b);
}

#[test]
fn a_dry_run_rebuild_leaves_the_stored_graph_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let f = dir.path().join("facts.txt");
    std::fs::write(&f, FACTS).unwrap();
    kimera(&db)
        .args(["learn", "--lang", "en"])
        .arg(&f)
        .assert()
        .success();
    let before = Store::open(&db).unwrap().read_graph(true).unwrap();
    assert_eq!(before.learned.len(), 6);

    let s = json_ok(kimera(&db).args([
        "--json",
        "learn",
        "--rebuild",
        "--dry-run",
        "--workers",
        "2",
    ]));
    // everything learned again in memory, nothing written, nothing cleared
    assert_eq!(
        (s["learned"].as_u64(), s["already_known"].as_u64()),
        (Some(6), Some(0))
    );
    assert_eq!(
        s["associations"].as_u64(),
        Some(before.associations.len() as u64)
    );
    assert_eq!(s["provenance_rows_written"], 0);
    assert_eq!(Store::open(&db).unwrap().read_graph(true).unwrap(), before);
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

/// Statements with planted conflicts (two capitals, two populations, is-a A vs is-a B
/// where the graph learned A opposite-of B) and statements about the same entities that
/// do not conflict.
const PLANTED: &str = "Glorp is the opposite of blim.
The capital of Veldia is Orsk.
The capital of Veldia is Marn.
Tumia has a population of 2.1 million.
Tumia has a population of 3.4 million.
A zarn is a glorp.
A zarn is a blim.
The capital of Pemia is Marn.
A zarn is a mammal.
Tumia was founded in 1820.
";

/// The conflicting pairs among [`PLANTED`], texts sorted within a pair, with the rule.
fn planted_conflicts() -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = [
        (
            "The capital of Veldia is Orsk.",
            "The capital of Veldia is Marn.",
            "attribute",
        ),
        (
            "Tumia has a population of 2.1 million.",
            "Tumia has a population of 3.4 million.",
            "attribute",
        ),
        ("A zarn is a glorp.", "A zarn is a blim.", "opposite"),
    ]
    .iter()
    .map(|(a, b, r)| {
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        (a.to_string(), b.to_string(), r.to_string())
    })
    .collect();
    v.sort();
    v
}

/// The graph scars in `db`, texts sorted within a pair, with the rule; asserts each
/// carries the associations behind both facts as evidence.
fn graph_scars(db: &Path) -> Vec<(String, String, String)> {
    let store = Store::open(db).unwrap();
    let mut out: Vec<(String, String, String)> = store
        .scars(0)
        .unwrap()
        .into_iter()
        .map(|s| {
            assert_eq!(s.detector, "graph");
            let assocs = s.evidence["associations"].as_array().unwrap();
            assert_eq!(assocs.len(), 2, "{}", s.evidence);
            for a in assocs {
                assert!(
                    a["strength"].as_f64().unwrap() > 0.0 && a["count"].as_u64().unwrap() >= 1,
                    "a learned association as evidence: {}",
                    s.evidence
                );
            }
            let rule = s.evidence["rule"].as_str().unwrap().to_string();
            let (a, b) = if s.text_a < s.text_b {
                (s.text_a, s.text_b)
            } else {
                (s.text_b, s.text_a)
            };
            (a, b, rule)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn graph_detector_scars_exactly_the_planted_conflicts_of_labelled_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let facts = dir.path().join("facts.txt");
    std::fs::write(&facts, "Glorp is the opposite of blim.\n").unwrap();
    // every planted statement paired with every other: the detector must pick the three
    let lines: Vec<&str> = PLANTED.lines().skip(1).collect();
    let mut csv = String::from("pair_id,text1,text2,label,lang,type\n");
    let mut id = 0;
    for (i, a) in lines.iter().enumerate() {
        for b in &lines[i + 1..] {
            id += 1;
            csv.push_str(&format!("{id},{a},{b},False,en,unknown\n"));
        }
    }
    let pairs = dir.path().join("pairs.csv");
    std::fs::write(&pairs, csv).unwrap();
    kimera(&db)
        .args(["learn", "--lang", "en"])
        .arg(&facts)
        .arg(&pairs)
        .assert()
        .success();
    // the reactor reads vectors even for given pairs: any will do for this detector
    {
        let mut store = Store::open(&db).unwrap();
        let rows = store.geoids_after(0, 1000).unwrap();
        assert_eq!(rows.len(), 10);
        let v = [1.0f32, 0.0, 0.0, 0.0];
        let items: Vec<([u8; 32], &[f32])> = rows
            .iter()
            .map(|r| (kimera_core::text_hash(&r.text), &v[..]))
            .collect();
        store.put_embeddings("test-model", &items).unwrap();
    }
    let s = json_ok(
        kimera(&db)
            .args([
                "--json",
                "run",
                "--pairing",
                "pairs",
                "--detectors",
                "graph",
            ])
            .args(["--model-id", "test-model", "--workers", "2"]),
    );
    assert_eq!(s["new_scars"], 3, "{s}");
    assert_eq!(graph_scars(&db), planted_conflicts());
}

/// Writes `text` to `name` beside the store and learns it (English).
fn learn_text(db: &Path, name: &str, text: &str) {
    let f = db.with_file_name(name);
    std::fs::write(&f, text).unwrap();
    kimera(db)
        .args(["learn", "--lang", "en"])
        .arg(&f)
        .assert()
        .success();
}

/// Embeds the store's statements with the real model.
fn embed(db: &Path, model: &Path) {
    kimera(db)
        .env("KIMERA_MODEL_DIR", model)
        .arg("embed")
        .assert()
        .success();
}

#[test]
fn graph_detector_on_nearest_neighbours_with_the_real_model() {
    let Some((model, _dir, db)) = common::real_model_and_store("k.db") else {
        return;
    };
    learn_text(&db, "planted.txt", PLANTED);
    embed(&db, &model);
    kimera(&db)
        .args(["run", "--pairing", "ann", "--detectors", "graph"])
        .args(["--k", "9", "--min-sim", "0.0"])
        .assert()
        .success();
    assert_eq!(graph_scars(&db), planted_conflicts());
}

#[test]
fn related_adds_embedding_neighbours_when_the_store_has_vectors() {
    let Some((model, _dir, db)) = common::real_model_and_store("k.db") else {
        return;
    };
    learn_text(
        &db,
        "facts.txt",
        "Smoking causes cancer.\nCancer is a disease.\n\
         A malignant tumour is an abnormal growth of tissue.\nBicycles have two wheels.\n",
    );
    // no vectors yet: graph neighbours and a one-line notice
    let out = kimera(&db)
        .env("KIMERA_MODEL_DIR", &model)
        .args(["--json", "related", "cancer"])
        .assert()
        .success()
        .stderr(predicate::str::contains("graph neighbours only"))
        .get_output()
        .stdout
        .clone();
    let rows = json(&out);
    let rows = rows.as_array().unwrap();
    assert!(rows.iter().all(|r| r["via"] == "graph"), "{rows:?}");
    assert!(rows.iter().any(|r| r["term"] == "smoking"));

    embed(&db, &model);
    let out = kimera(&db)
        .env("KIMERA_MODEL_DIR", &model)
        .args(["--json", "related", "cancer"])
        .assert()
        .success()
        .stderr(predicate::str::contains("notice").not())
        .get_output()
        .stdout
        .clone();
    let rows = json(&out);
    let rows = rows.as_array().unwrap();
    let score = |term: &str, via: &str| {
        rows.iter()
            .find(|r| r["term"] == term && r["via"] == via)
            .map(|r| r["score"].as_f64().unwrap())
    };
    assert!(score("smoking", "graph").is_some(), "{rows:?}");
    // the tumour statement shares no association with cancer, only meaning
    let tumour = score("tumour", "embedding").expect("tumour by embedding");
    let wheel = score("wheel", "embedding").unwrap_or(0.0);
    assert!(tumour > wheel, "tumour {tumour} vs wheel {wheel}: {rows:?}");
    let t = rows.iter().find(|r| r["term"] == "tumour").unwrap();
    assert!(t["example"].as_str().unwrap().contains("malignant tumour"));
    // graph neighbours are not repeated as embedding neighbours
    assert!(score("smoking", "embedding").is_none());
    kimera(&db)
        .env("KIMERA_MODEL_DIR", &model)
        .args(["related", "cancer"])
        .assert()
        .success()
        .stdout(predicate::str::contains("embedding").and(predicate::str::contains("graph")));
}
