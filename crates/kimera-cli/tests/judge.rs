//! `kimera judge` end to end against the fake OpenAI-compatible server.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use kimera_llm::testing::{FakeLlm, Latency, Script, oracle};
use serde_json::Value;

fn kimera(server: &FakeLlm, db: &Path) -> Command {
    let mut c = Command::cargo_bin("kimera").unwrap();
    c.env_remove("KIMERA_LLM_API_KEY")
        .env_remove("KIMERA_LLM_BASE_URL")
        .env_remove("KIMERA_LLM_MODEL")
        .env_remove("RUST_LOG")
        .args([
            "--db",
            db.to_str().unwrap(),
            "judge",
            "--base-url",
            &server.base_url(),
        ])
        .args(["--model", "fake", "--timeout-secs", "5"]);
    c
}

/// A Kimera pairs CSV with one unreadable row (no text2) on line 4.
fn pairs_file(dir: &Path) -> PathBuf {
    let p = dir.join("pairs.csv");
    std::fs::write(
        &p,
        "pair_id,text1,text2,label,lang,type\n\
         1,Snow is white,Snow is not white,True,en,contradiction\n\
         2,Mountains are tall,Libraries are quiet,False,en,neutral\n\
         3,The door is open,,False,en,neutral\n\
         4,Birds can fly,No bird can fly,True,en,contradiction\n\
         5,Water is wet,Water is wet indeed,False,en,neutral\n\
         6,The sun is hot,The sun is never hot,False,en,neutral\n",
    )
    .unwrap();
    p
}

fn json_out(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn one_pair() {
    let server = FakeLlm::start(Script::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = kimera(&server, &dir.path().join("k.db"))
        .args(["The cat sleeps.", "The cat does not sleep.", "--no-cache"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("verdict: contradiction (confidence 0.90)"),
        "{stdout}"
    );
    assert!(stdout.contains("1 attempt(s)"), "{stdout}");
    assert!(
        !dir.path().join("k.db").exists(),
        "--no-cache does not touch the store"
    );
}

#[test]
fn pairs_file_async_then_cached_rerun() {
    let server = FakeLlm::start(Script {
        latency: Latency::Fixed(std::time::Duration::from_millis(20)),
        ..Script::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let file = pairs_file(dir.path());
    let out = kimera(&server, &db)
        .args(["--pairs", file.to_str().unwrap(), "--async", "4", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a skipped row makes the exit code 1"
    );
    assert!(
        stderr.contains("pairs.csv:4"),
        "the bad row is named by file and line: {stderr}"
    );
    let v = json_out(&out);
    let results = v["results"].as_array().unwrap();
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["pair_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["1", "2", "4", "5", "6"],
        "one row per readable pair, in file order"
    );
    let texts = [
        ("Snow is white", "Snow is not white"),
        ("Mountains are tall", "Libraries are quiet"),
        ("Birds can fly", "No bird can fly"),
        ("Water is wet", "Water is wet indeed"),
        ("The sun is hot", "The sun is never hot"),
    ];
    for (r, (a, b)) in results.iter().zip(texts) {
        assert_eq!(r["verdict"]["contradiction"], oracle(a, b), "{r}");
        assert_eq!(r["attempts"], 1);
    }
    let s = &v["summary"];
    assert_eq!(
        (s["mode"].as_str(), s["concurrency"].as_u64()),
        (Some("async"), Some(4))
    );
    assert_eq!((s["ok"].as_u64(), s["failed"].as_u64()), (Some(5), Some(0)));
    assert_eq!(v["bad_rows"], 1);
    // gold says pair 6 is neutral, the fake model says contradiction: one false positive
    let m = &s["metrics"];
    assert_eq!(
        (
            m["tp"].as_u64(),
            m["fp"].as_u64(),
            m["tn"].as_u64(),
            m["fn"].as_u64()
        ),
        (Some(2), Some(1), Some(2), Some(0))
    );
    assert!((m["f1"].as_f64().unwrap() - 0.8).abs() < 1e-9);

    // Re-run: everything from the cache, no new calls.
    let out = kimera(&server, &db)
        .args(["--pairs", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let v = json_out(&out);
    assert_eq!(v["summary"]["cached"], 5);
    assert_eq!(v["summary"]["total_attempts"], 0);
    assert_eq!(server.stats().requests, 5);
}

#[test]
fn sync_and_async_print_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let file = pairs_file(dir.path());
    let run = |conc: &str| {
        let server = FakeLlm::start(Script {
            prelude: vec![kimera_llm::testing::Fault::Status(503)],
            ..Script::default()
        })
        .unwrap();
        let out = kimera(&server, &dir.path().join("unused.db"))
            .args([
                "--pairs",
                file.to_str().unwrap(),
                "--async",
                conc,
                "--json",
                "--no-cache",
            ])
            .output()
            .unwrap();
        let mut v = json_out(&out);
        for r in v["results"].as_array_mut().unwrap() {
            r["latency_ms"] = Value::Null;
        }
        v
    };
    let (sync, par) = (run("0"), run("3"));
    assert_eq!(sync["results"], par["results"]);
    assert_eq!(sync["summary"]["mode"], "sync");
    assert_eq!(par["summary"]["mode"], "async");
    assert_eq!(
        sync["summary"]["total_attempts"], 10,
        "every pair: one 503, then an answer"
    );
    assert_eq!(
        sync["summary"]["total_attempts"],
        par["summary"]["total_attempts"]
    );
}

#[test]
fn csv_out_has_one_row_per_pair() {
    let server = FakeLlm::start(Script::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = pairs_file(dir.path());
    let csv_path = dir.path().join("results.csv");
    let out = kimera(&server, &dir.path().join("k.db"))
        .args([
            "--pairs",
            file.to_str().unwrap(),
            "--async",
            "2",
            "--max-pairs",
            "3",
        ])
        .args(["--out", csv_path.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("pairs 3: ok 3, failed 0"), "{stdout}");
    assert!(stdout.contains("mode async (concurrency 2)"), "{stdout}");
    let mut r = csv::Reader::from_path(&csv_path).unwrap();
    let headers = r.headers().unwrap().clone();
    assert_eq!(&headers[3], "contradiction");
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[0][1], "1");
    assert_eq!(&rows[0][3], "true");
    assert_eq!(&rows[1][3], "false");
}

#[test]
fn api_key_is_never_printed_or_stored() {
    let secret = "sk-cli-SECRET-987654321";
    let server = FakeLlm::start(Script {
        api_key: Some("sk-other".into()),
        ..Script::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let file = pairs_file(dir.path());
    let out = kimera(&server, &db)
        .args([
            "--pairs",
            file.to_str().unwrap(),
            "--async",
            "2",
            "--api-key",
            secret,
            "-vvv",
        ])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(all.contains("HTTP 401"), "{all}");
    assert!(!all.contains(secret), "{all}");
    let conn = rusqlite_free_dump(&db);
    assert!(
        conn.contains("<redacted>") && !conn.contains(secret),
        "the run record hides the key"
    );

    // --help never shows the key from the environment.
    let help = Command::cargo_bin("kimera")
        .unwrap()
        .env("KIMERA_LLM_API_KEY", secret)
        .args(["judge", "--help"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains(secret));
}

/// The store file's bytes as text (the run record's args are stored as plain JSON).
fn rusqlite_free_dump(db: &Path) -> String {
    let mut s = String::new();
    for p in [db.to_path_buf(), db.with_extension("db-wal")] {
        if let Ok(b) = std::fs::read(&p) {
            s.push_str(&String::from_utf8_lossy(&b));
        }
    }
    s
}

#[test]
fn usage_errors() {
    let out = Command::cargo_bin("kimera")
        .unwrap()
        .args(["judge"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::cargo_bin("kimera")
        .unwrap()
        .args(["judge", "only A"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("kimera")
        .unwrap()
        .args(["--db", dir.path().join("k.db").to_str().unwrap()])
        .args([
            "judge",
            "--pairs",
            dir.path().join("missing.csv").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.csv"));
}

/// SICK trial pairs through the real loader; needs /work/shared/data.
#[test]
fn sick_trial_pairs() {
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sick/sick_trial.tsv");
    if !data.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is missing under CI",
            data.display()
        );
        eprintln!("skipping: {} not found", data.display());
        return;
    }
    let server = FakeLlm::start(Script::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = kimera(&server, &dir.path().join("k.db"))
        .args([
            "--pairs",
            data.to_str().unwrap(),
            "--max-pairs",
            "60",
            "--async",
            "8",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_out(&out);
    assert_eq!(v["summary"]["pairs"], 60);
    assert_eq!(v["summary"]["ok"], 60);
    assert_eq!(v["summary"]["metrics"]["n"], 60);
    assert_eq!(server.stats().requests, 60);
}
