//! Conflicts you can settle, end to end through the binary: one row per pair, resolve,
//! undo, strategies with known winners (and ties left open), supersession hiding a
//! statement from default reads and `--as-of` showing it again, feedback as training
//! pairs. The store is built through the library with chosen times; `check` and
//! `similar` need the real model (that test skips with a notice without it).

mod common;

use assert_cmd::Command;
use kimera_core::{Geoid, Scar, Source};
use kimera_store::Store;
use serde_json::{Value, json};

/// 2020-01-01T00:00:00Z: statements recorded then, so that "as of 2021" is between
/// their recording and a resolution made now.
const T2020: i64 = 1_577_836_800;

fn kimera(db: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("kimera").unwrap();
    c.arg("--db").arg(db).env_remove("KIMERA_CONFIG");
    c
}

fn json_of(c: &mut Command) -> Value {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn statement(text: &str, file: &str, line: u64, recorded: i64) -> Geoid {
    let mut g = Geoid::new(
        text,
        "en",
        Source::File {
            path: file.into(),
            line,
        },
    );
    g.created_at = recorded;
    g
}

/// Three conflicts with known answers:
/// - bridge: old (2020, old.csv) vs new (2020 + 1 day, new.csv), two detectors;
/// - capital: recorded at the same second (a tie for recency), new.csv vs old.csv;
/// - mayor: validity intervals that do not overlap (both valid under recency).
fn store(db: &std::path::Path) -> [Geoid; 6] {
    let day = 86_400;
    let g = [
        statement("The bridge is 300 m long.", "old.csv", 1, T2020),
        statement("The bridge is 450 m long.", "new.csv", 1, T2020 + day),
        statement("Paris is the capital of France.", "new.csv", 2, T2020),
        statement("Paris is not the capital of France.", "old.csv", 2, T2020),
        statement("Ann is the mayor.", "old.csv", 3, T2020).with_validity(Some(0), Some(T2020)),
        statement("Bob is the mayor.", "new.csv", 3, T2020).with_validity(Some(T2020), None),
    ];
    let mut s = Store::open(db).unwrap();
    s.insert_geoids(&g).unwrap();
    let scar = |a: &Geoid, b: &Geoid, score, det: &str, ev: Value| {
        Scar::new(a.id.clone(), b.id.clone(), score, det, ev)
    };
    s.insert_scars(
        &[
            scar(
                &g[0],
                &g[1],
                0.95,
                "model",
                json!({"rule": "model", "route": "head", "probability": 0.95}),
            ),
            scar(
                &g[0],
                &g[1],
                0.7,
                "lexical",
                json!({"rule": "numbers", "tokens": ["300", "450"]}),
            ),
            scar(
                &g[2],
                &g[3],
                0.9,
                "lexical",
                json!({"rule": "negation", "tokens": ["not"]}),
            ),
            scar(
                &g[4],
                &g[5],
                0.6,
                "lexical",
                json!({"rule": "entity_swap", "tokens": ["ann", "bob"]}),
            ),
        ],
        None,
    )
    .unwrap();
    g
}

/// The conflict of the pair (x, y) in a `--json` listing.
fn find<'a>(list: &'a Value, x: &Geoid, y: &Geoid) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| {
            let (a, b) = (c["a"].as_str().unwrap(), c["b"].as_str().unwrap());
            (a, b) == (x.id.as_str(), y.id.as_str()) || (a, b) == (y.id.as_str(), x.id.as_str())
        })
        .unwrap_or_else(|| panic!("no conflict for {} / {} in {list:#}", x.text, y.text))
}

/// `keep` so that `winner` holds in conflict `c`.
fn keep_for(c: &Value, winner: &Geoid) -> &'static str {
    if c["a"] == winner.id.as_str() {
        "a"
    } else {
        "b"
    }
}

fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn one_row_per_pair_resolve_hides_from_default_reads_and_undo_restores() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let g = store(&db);

    let open = json_of(kimera(&db).args(["--json", "conflicts"]));
    assert_eq!(
        open.as_array().unwrap().len(),
        3,
        "one row per pair: {open:#}"
    );
    let bridge = find(&open, &g[0], &g[1]);
    assert_eq!(bridge["kind"], "number");
    let dets: Vec<&str> = bridge["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["detector"].as_str().unwrap())
        .collect();
    assert_eq!(dets, ["model", "lexical"], "both detectors' evidence");
    assert_eq!(
        bridge["verdicts"][1]["evidence"]["tokens"],
        json!(["300", "450"])
    );
    // scars keep the per-detector view
    let scars = json_of(kimera(&db).args(["--json", "scars"]));
    assert_eq!(scars.as_array().unwrap().len(), 4);
    let negations = json_of(kimera(&db).args(["--json", "conflicts", "--type", "negation"]));
    assert_eq!(negations.as_array().unwrap().len(), 1);
    let typo = kimera(&db)
        .args(["conflicts", "--type", "numbr"])
        .output()
        .unwrap();
    assert!(!typo.status.success());
    assert!(String::from_utf8_lossy(&typo.stderr).contains("expected one of"));

    // keep the new bridge length: the old one is superseded, not deleted
    let id = bridge["id"].to_string();
    let keep = keep_for(bridge, &g[1]);
    kimera(&db)
        .args([
            "-q",
            "resolve",
            &id,
            "--keep",
            keep,
            "--note",
            "2021 survey",
        ])
        .assert()
        .success();
    let resolved = json_of(kimera(&db).args(["--json", "conflicts", "--status", "resolved"]));
    let r = find(&resolved, &g[0], &g[1]);
    assert_eq!(r["resolution"], format!("keep_{keep}"));
    assert_eq!(
        (r["decided_by"].as_str(), r["note"].as_str()),
        (Some("user"), Some("2021 survey"))
    );
    assert_eq!(
        json_of(kimera(&db).args(["--json", "conflicts"]))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // resolving it again is refused, naming what to do
    let again = kimera(&db)
        .args(["resolve", &id, "--keep", "a"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("undo it first"));

    // default export leaves the old statement out; --as-of 2021 (before the decision,
    // after both were recorded) shows it again
    let export = |extra: &[&str]| -> Vec<String> {
        let out = kimera(&db)
            .args(["-q", "export", "geoids", "--format", "jsonl"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let now = export(&[]);
    assert!(
        !now.contains(&g[0].text) && now.contains(&g[1].text),
        "{now:?}"
    );
    let then = export(&["--as-of", "2021-01-01"]);
    assert!(
        then.contains(&g[0].text) && then.contains(&g[1].text),
        "{then:?}"
    );
    let before = export(&["--as-of", "2019-12-31"]);
    assert!(before.is_empty(), "nothing was recorded yet: {before:?}");

    // the resolution survived the process (a new one reads it) and undo restores
    kimera(&db).args(["-q", "undo", &id]).assert().success();
    let now = export(&[]);
    assert!(now.contains(&g[0].text), "{now:?}");
    assert_eq!(
        json_of(kimera(&db).args(["--json", "conflicts"]))
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let undo = kimera(&db).args(["undo", &id]).output().unwrap();
    assert!(String::from_utf8_lossy(&undo.stderr).contains("nothing to undo"));
}

#[test]
fn strategies_settle_known_winners_and_leave_ties_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let g = store(&db);

    // dry run: decisions shown, nothing written
    let dry = json_of(kimera(&db).args([
        "--json",
        "resolve",
        "--auto",
        "--strategy",
        "recency",
        "--dry-run",
    ]));
    assert_eq!(
        (
            dry["examined"].as_u64(),
            dry["resolved"].as_u64(),
            dry["left_open"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(
        json_of(kimera(&db).args(["--json", "conflicts"]))
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // manual settles nothing
    let manual = json_of(kimera(&db).args(["--json", "resolve", "--auto"]));
    assert_eq!(manual["resolved"], 0);

    // recency: the later bridge wins, the mayors are both valid, the capital tie stays open
    kimera(&db)
        .args(["-q", "resolve", "--auto", "--strategy", "recency"])
        .assert()
        .success();
    let all = json_of(kimera(&db).args(["--json", "conflicts", "--status", "all"]));
    let bridge = find(&all, &g[0], &g[1]);
    assert_eq!(
        bridge["resolution"],
        format!("keep_{}", keep_for(bridge, &g[1]))
    );
    assert_eq!(bridge["decided_by"], "strategy:recency");
    assert!(
        bridge["inputs"]["why"].as_str().unwrap().contains("later"),
        "{bridge:#}"
    );
    assert_eq!(find(&all, &g[4], &g[5])["resolution"], "both_valid");
    let capital = find(&all, &g[2], &g[3]);
    assert_eq!(capital["status"], "open", "a tie stays open");

    // source: new.csv outweighs old.csv, so the capital's new.csv statement wins
    kimera(&db)
        .args([
            "-q",
            "resolve",
            "--auto",
            "--strategy",
            "source",
            "--source-weight",
            "new.csv=0.9",
            "--source-weight",
            "old.csv=0.2",
        ])
        .assert()
        .success();
    let all = json_of(kimera(&db).args(["--json", "conflicts", "--status", "all"]));
    let capital = find(&all, &g[2], &g[3]);
    assert_eq!(
        capital["resolution"],
        format!("keep_{}", keep_for(capital, &g[2]))
    );
    assert_eq!(
        capital["inputs"]["a"]["weight"].as_f64().unwrap()
            + capital["inputs"]["b"]["weight"].as_f64().unwrap(),
        1.1
    );
    let bad = kimera(&db)
        .args([
            "resolve",
            "--auto",
            "--strategy",
            "source",
            "--source-weight",
            "x",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("SOURCE=WEIGHT"));

    // feedback: every resolved conflict as a labelled pair train-detector reads
    let fb = dir.path().join("feedback.csv");
    kimera(&db)
        .args(["-q", "export", "feedback", "--out"])
        .arg(&fb)
        .assert()
        .success();
    let examples = kimera_detect::load_examples(&fb).unwrap();
    assert_eq!(examples.len(), 3);
    assert!(
        examples.iter().all(|e| e.is_contradiction()),
        "keep_* and both_valid are positives"
    );
    // a dismissed one is a negative
    let id = find(&all, &g[2], &g[3])["id"].to_string();
    kimera(&db).args(["-q", "undo", &id]).assert().success();
    kimera(&db)
        .args(["-q", "resolve", &id, "--keep", "neither"])
        .assert()
        .success();
    kimera(&db)
        .args(["-q", "export", "feedback", "--out"])
        .arg(&fb)
        .assert()
        .success();
    let examples = kimera_detect::load_examples(&fb).unwrap();
    assert_eq!(examples.iter().filter(|e| !e.is_contradiction()).count(), 1);
}

#[test]
fn confidence_only_settles_strong_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let g = store(&db);
    // bridge 0.95 (settled by recency), capital 0.9 (a tie: open), mayor 0.6 (too weak)
    let r = json_of(kimera(&db).args([
        "--json",
        "resolve",
        "--auto",
        "--strategy",
        "confidence",
        "--min-score",
        "0.8",
    ]));
    assert_eq!(
        (r["resolved"].as_u64(), r["left_open"].as_u64()),
        (Some(1), Some(2))
    );
    let all = json_of(kimera(&db).args(["--json", "conflicts", "--status", "all"]));
    assert_eq!(find(&all, &g[4], &g[5])["status"], "open");
    assert_eq!(find(&all, &g[0], &g[1])["status"], "resolved");
}

#[test]
fn superseded_statements_leave_check_and_similar_until_as_of_or_undo() {
    let Some((model, _dir, db)) = common::real_model_and_store("k.db") else {
        return;
    };
    let g = store(&db);
    let k = |c: &mut Command| -> Value {
        c.env("KIMERA_MODEL_DIR", &model);
        json_of(c)
    };
    kimera(&db)
        .env("KIMERA_MODEL_DIR", &model)
        .args(["-q", "embed"])
        .assert()
        .success();
    let similar = |extra: &[&str]| {
        texts(&k(kimera(&db)
            .args(["--json", "similar", "How long is the bridge?", "-k", "6"])
            .args(extra)))
    };
    let checked = |extra: &[&str]| -> Vec<String> {
        let v = k(kimera(&db)
            .args([
                "--json",
                "check",
                "The bridge is 300 m long.",
                "--detectors",
                "lexical",
            ])
            .args(extra));
        v["contradictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["text"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(similar(&[]).contains(&g[0].text));
    let all = json_of(kimera(&db).args(["--json", "conflicts"]));
    let bridge = find(&all, &g[0], &g[1]);
    let id = bridge["id"].to_string();
    // keep the OLD length this time: the 450 m statement is superseded
    kimera(&db)
        .args(["-q", "resolve", &id, "--keep", keep_for(bridge, &g[0])])
        .assert()
        .success();
    assert!(!similar(&[]).contains(&g[1].text));
    assert!(
        !checked(&[]).contains(&g[1].text),
        "a superseded statement does not answer check"
    );
    assert!(similar(&["--as-of", "2021-01-01"]).contains(&g[1].text));
    assert!(checked(&["--as-of", "2021-01-01"]).contains(&g[1].text));
    kimera(&db).args(["-q", "undo", &id]).assert().success();
    assert!(similar(&[]).contains(&g[1].text));
    assert!(checked(&[]).contains(&g[1].text));
}

#[test]
fn the_store_s_strategy_comes_from_kimera_toml() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let g = store(&db);
    let cfg = dir.path().join("kimera.toml");
    std::fs::write(
        &cfg,
        "[resolve]\nstrategy = \"source\"\nsource_weight = [\"new.csv=0.9\", \"old.csv=0.2\"]\n",
    )
    .unwrap();
    let r = json_of(
        kimera(&db)
            .arg("--config")
            .arg(&cfg)
            .args(["--json", "resolve", "--auto"]),
    );
    assert_eq!(r["strategy"], "source");
    // every conflict has one statement from each file: all three settled for new.csv
    assert_eq!(r["resolved"], 3, "{r:#}");
    let all = json_of(kimera(&db).args(["--json", "conflicts", "--status", "all"]));
    let bridge = find(&all, &g[0], &g[1]);
    assert_eq!(
        bridge["resolution"],
        format!("keep_{}", keep_for(bridge, &g[1]))
    );
}

/// `kimera -q export WHAT --format jsonl [extra]`, one JSON value per row.
fn export_rows(db: &std::path::Path, what: &str, extra: &[&str]) -> Vec<Value> {
    let out = kimera(db)
        .args(["-q", "export", what, "--format", "jsonl"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn export_leaves_superseded_statements_out_and_undo_keeps_the_past_readable() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let g = store(&db);
    // the bridge and the capital as labelled pairs too
    let pair = |x: &Geoid, y: &Geoid, id: &str| kimera_store::PairRef {
        a: kimera_store::PairEnd::Id(x.id.clone()),
        b: kimera_store::PairEnd::Id(y.id.clone()),
        pair_id: Some(id.into()),
        gold: None,
        lang: Some("en".into()),
        kind: None,
        source: Source::Api,
    };
    Store::open(&db)
        .unwrap()
        .insert_batch(
            &[],
            &[pair(&g[0], &g[1], "bridge"), pair(&g[2], &g[3], "capital")],
        )
        .unwrap();
    let pair_ids = |extra: &[&str]| -> Vec<String> {
        export_rows(&db, "pairs", extra)
            .iter()
            .map(|p| p["pair_id"].as_str().unwrap().to_string())
            .collect()
    };
    let scar_texts = |extra: &[&str]| -> Vec<String> {
        export_rows(&db, "scars", extra)
            .iter()
            .flat_map(|s| [s["text_a"].clone(), s["text_b"].clone()])
            .map(|t| t.as_str().unwrap().to_string())
            .collect()
    };
    let geoid_texts = |extra: &[&str]| texts(&Value::Array(export_rows(&db, "geoids", extra)));
    assert_eq!(pair_ids(&[]), ["bridge", "capital"]);
    assert_eq!(export_rows(&db, "scars", &[]).len(), 4);

    // keep the new bridge length: the old one (g[0]) is superseded at t1
    let open = json_of(kimera(&db).args(["--json", "conflicts"]));
    let bridge = find(&open, &g[0], &g[1]);
    let id = bridge["id"].to_string();
    let resolved =
        json_of(kimera(&db).args(["--json", "resolve", &id, "--keep", keep_for(bridge, &g[1])]));
    let t1 = resolved["decided_at"].as_i64().unwrap();

    // default reads leave the superseded statement, its pair and its scars out
    assert_eq!(pair_ids(&[]), ["capital"]);
    let scars = scar_texts(&[]);
    assert_eq!(scars.len(), 2 * 2, "the capital's and the mayors' scars");
    assert!(!scars.contains(&g[0].text), "{scars:?}");
    assert!(!geoid_texts(&[]).contains(&g[0].text));
    // as of 2021 (recorded, not yet superseded) the pair is back; the scars were
    // recorded later (now), so none existed then
    assert_eq!(pair_ids(&["--as-of", "2021-01-01"]), ["bridge", "capital"]);
    assert!(scar_texts(&["--as-of", "2021-01-01"]).is_empty());
    // --all: everything, the superseded statement saying by what and when
    let all = export_rows(&db, "geoids", &["--all"]);
    let old = all
        .iter()
        .find(|r| r["text"] == g[0].text.as_str())
        .unwrap();
    assert_eq!(
        (old["superseded_by"].as_str(), old["superseded_at"].as_i64()),
        (Some(g[1].id.as_str()), Some(t1))
    );
    assert_eq!(export_rows(&db, "pairs", &["--all"]).len(), 2);
    // conflicts and feedback are the record of settling: no --as-of
    let refused = kimera(&db)
        .args(["export", "conflicts", "--as-of", "2021-01-01"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("record of settling"));

    // undo at t2 > t1 (the clock must tick: times are seconds)
    while kimera_core::unix_now() <= t1 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let undone = json_of(kimera(&db).args(["--json", "undo", &id]));
    assert_eq!(undone["status"], "open");
    let at = |t: i64| t.to_string();
    // now and after the undo g[0] is back; as of t1 it was superseded, and still reads so
    assert!(geoid_texts(&[]).contains(&g[0].text));
    assert!(!geoid_texts(&["--as-of", &at(t1)]).contains(&g[0].text));
    assert_eq!(pair_ids(&["--as-of", &at(t1)]), ["capital"]);
    assert_eq!(scar_texts(&["--as-of", &at(t1)]).len(), 2 * 2);
    assert!(geoid_texts(&["--as-of", &at(kimera_core::unix_now())]).contains(&g[0].text));
    assert!(geoid_texts(&["--as-of", &at(t1 - 1)]).contains(&g[0].text));
    assert_eq!(pair_ids(&[]), ["bridge", "capital"]);
    assert_eq!(export_rows(&db, "scars", &[]).len(), 4);
}
