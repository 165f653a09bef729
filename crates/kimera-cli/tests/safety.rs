//! Nothing silently lost: every writer killed at a chosen point (SIGKILL, through the
//! store's crash points), two processes on one store, interrupted runs, error
//! messages, and an installed binary that needs no source tree.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kimera_store::testing::{
    assert_killed, assert_same_store, integrity_check, kill_at, pause_at, resume, wait_for_pause,
};

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("kimera")
}

/// `kimera --db DB`, with no setting inherited that would change what it does.
fn kimera(db: &Path) -> Command {
    let mut c = Command::new(bin());
    c.arg("--db")
        .arg(db)
        .env_remove("KIMERA_DB")
        .env_remove("RUST_LOG")
        .env_remove("KIMERA_TEST_KILL_AT")
        .env_remove("KIMERA_TEST_PAUSE_AT")
        .env_remove("KIMERA_BUSY_TIMEOUT")
        .stdin(Stdio::null());
    c
}

/// Runs `cmd` to success and returns its stdout.
fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn demo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/demo")
        .join(name)
}

/// The store's recent runs, as `kimera stats --json` shows them (opening the store
/// marks runs whose process is gone).
fn runs(db: &Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(&ok(kimera(db).args(["--json", "stats"]))).unwrap();
    v["recent_runs"].as_array().unwrap().clone()
}

/// A copy of a store (closed, so the WAL is checkpointed into the file).
fn copy_store(from: &Path, to: &Path) {
    drop(kimera_store::Store::open(from).unwrap());
    std::fs::copy(from, to).unwrap();
}

/// Kills `args` at `point`'s `n`th passage, checks the store and that the killed run
/// reads as interrupted with `committed` batches, runs `args` again to the end, and
/// checks the store equals `reference` (the same work done without a kill).
/// `committed` < 0: all the batches the reference run committed.
fn kill_and_resume(
    db: &Path,
    reference: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
    point: &str,
    n: u64,
    committed: i64,
) {
    let mut cmd = kimera(db);
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = kill_at(&mut cmd, point, n).status().unwrap();
    assert_killed(status);
    assert_eq!(integrity_check(db), "ok", "{point}:{n}");
    let committed = if committed < 0 {
        // all of them: as many as the uninterrupted run committed
        runs(reference)[0]["batches"].as_i64().unwrap()
    } else {
        committed
    };
    let last = runs(db)[0].clone();
    assert_eq!(
        (
            last["command"].as_str(),
            last["status"].as_str(),
            last["batches"].as_i64()
        ),
        (Some(args[0]), Some("interrupted"), Some(committed)),
        "the run killed at {point}:{n} reads as interrupted with how far it got: {last}"
    );
    let mut again = kimera(db);
    again.args(args);
    for (k, v) in env {
        again.env(k, v);
    }
    ok(&mut again);
    assert_eq!(integrity_check(db), "ok");
    assert_same_store(db, reference);
    assert_eq!(runs(db)[0]["status"], "ok");
}

#[test]
fn ingest_killed_at_each_point_resumes_to_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rows.csv");
    let mut text = String::from("text,lang\n");
    for i in 0..1_000 {
        text.push_str(&format!("statement number {i} about the world,en\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let reference = dir.path().join("ref.db");
    let args = ["ingest", "--batch", "100", csv.to_str().unwrap()];
    ok(kimera(&reference).args(args));
    for (i, (point, n, committed)) in [
        ("run.started", 1, 0),
        ("geoids.before_commit", 3, 2),
        ("geoids.committed", 4, 4),
        ("run.finishing", 1, -1),
    ]
    .into_iter()
    .enumerate()
    {
        let db = dir.path().join(format!("k{i}.db"));
        kill_and_resume(&db, &reference, &args, &[], point, n, committed);
    }
}

#[test]
fn learn_killed_at_each_point_resumes_to_the_same_graph() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.db");
    ok(kimera(&base).arg("ingest").arg(demo("statements.csv")));
    let reference = dir.path().join("ref.db");
    copy_store(&base, &reference);
    let args = ["learn", "--page", "40", "--workers", "2"];
    ok(kimera(&reference).args(args));
    let graph: i64 = kimera_store::Store::open(&reference)
        .unwrap()
        .counts()
        .unwrap()
        .associations as i64;
    assert!(graph > 0, "the demo statements teach associations");
    for (i, (point, n, committed)) in [
        ("graph.before_commit", 2, 1),
        ("graph.committed", 3, 3),
        ("run.finishing", 1, -1),
    ]
    .into_iter()
    .enumerate()
    {
        let db = dir.path().join(format!("k{i}.db"));
        copy_store(&base, &db);
        kill_and_resume(&db, &reference, &args, &[], point, n, committed);
    }
}

#[test]
fn embed_and_run_killed_at_each_point_resume_to_the_same_store() {
    let Some((model, dir, base)) = common::real_model_and_store("base.db") else {
        return;
    };
    let env: [(&str, &Path); 1] = [("KIMERA_MODEL_DIR", &model)];
    ok(kimera(&base).arg("ingest").arg(demo("statements.csv")));

    // embed: 159 statements in chunks of 40 = 4 transactions
    let reference = dir.path().join("embed-ref.db");
    copy_store(&base, &reference);
    let embed = ["embed", "--chunk", "40"];
    ok(kimera(&reference)
        .args(embed)
        .env("KIMERA_MODEL_DIR", &model));
    for (i, (point, n, committed)) in [
        ("embeddings.before_commit", 2, 1),
        ("embeddings.committed", 3, 3),
    ]
    .into_iter()
    .enumerate()
    {
        let db = dir.path().join(format!("e{i}.db"));
        copy_store(&base, &db);
        kill_and_resume(&db, &reference, &embed, &env, point, n, committed);
    }

    // run: scars written chunk by chunk, 159 statements in chunks of 30
    let embedded = reference;
    let reference = dir.path().join("run-ref.db");
    copy_store(&embedded, &reference);
    let run = [
        "run",
        "--chunk",
        "30",
        "--detectors",
        "lexical",
        "--workers",
        "2",
    ];
    ok(kimera(&reference).args(run).env("KIMERA_MODEL_DIR", &model));
    let scars = kimera_store::Store::open(&reference)
        .unwrap()
        .counts()
        .unwrap()
        .scars;
    assert!(
        scars > 0,
        "the demo has contradictions the lexical rules find"
    );
    for (i, (point, n, committed)) in [
        ("scars.before_commit", 2, 1),
        ("scars.committed", 3, 3),
        ("run.finishing", 1, -1),
    ]
    .into_iter()
    .enumerate()
    {
        let db = dir.path().join(format!("r{i}.db"));
        copy_store(&embedded, &db);
        kill_and_resume(&db, &reference, &run, &env, point, n, committed);
    }
}

/// A store with `n` conflicts the `recency` strategy settles: "bridge i is 300 m"
/// (recorded in 2020) against "bridge i is 450 m" (a day later), scarred by `lexical`.
fn conflicts_store(db: &Path, n: usize) {
    use kimera_core::{Geoid, Scar, Source};
    let t2020 = 1_577_836_800;
    let mut s = kimera_store::Store::open(db).unwrap();
    let mut geoids = Vec::new();
    let mut scars = Vec::new();
    for i in 0..n {
        let mut old = Geoid::new(format!("Bridge {i} is 300 m long."), "en", Source::Api);
        let mut new = Geoid::new(format!("Bridge {i} is 450 m long."), "en", Source::Api);
        (old.created_at, new.created_at) = (t2020, t2020 + 86_400);
        let ev = serde_json::json!({"rule": "numbers", "tokens": ["300", "450"]});
        scars.push(Scar::new(
            old.id.clone(),
            new.id.clone(),
            0.9,
            "lexical",
            ev,
        ));
        geoids.extend([old, new]);
    }
    s.insert_geoids(&geoids).unwrap();
    s.insert_scars(&scars, None).unwrap();
}

/// What a store's settling holds, without the times: each conflict's status and
/// decision, who superseded whom, and the resolution log.
fn settled(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT id || ' ' || status || ' ' || coalesce(resolution, '-') || ' '
                || coalesce(decided_by, '-') || ' ' || coalesce(inputs, '-')
         FROM conflicts ORDER BY id",
        "SELECT id || ' superseded by ' || superseded_by FROM geoids
         WHERE superseded_by IS NOT NULL ORDER BY id",
        "SELECT conflict || ' ' || resolution || ' ' || superseded || ' undone: '
                || (undone_at IS NOT NULL) FROM resolutions ORDER BY seq",
    ] {
        let mut stmt = c.prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

/// `kimera resolve ID`, `resolve --auto` and `undo` are one transaction each: killed
/// before the commit, the store is as it was; killed just after it, it holds all of
/// the decision — the same as a run that was not killed — and passes integrity_check.
#[test]
fn resolve_and_undo_killed_at_their_commit_change_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.db");
    conflicts_store(&base, 6);
    let resolved_one = dir.path().join("one.db");
    copy_store(&base, &resolved_one);
    ok(kimera(&resolved_one).args(["-q", "resolve", "3", "--keep", "b"]));
    let steps: [(&str, &Path, &[&str]); 3] = [
        ("resolve", &base, &["-q", "resolve", "3", "--keep", "b"]),
        (
            "auto",
            &base,
            &["-q", "resolve", "--auto", "--strategy", "recency"],
        ),
        ("undo", &resolved_one, &["-q", "undo", "3"]),
    ];
    for (name, from, args) in steps {
        let reference = dir.path().join(format!("{name}-ref.db"));
        copy_store(from, &reference);
        ok(kimera(&reference).args(args));
        assert_ne!(
            settled(&reference),
            settled(from),
            "{name} changes the store"
        );
        for point in ["conflicts.before_commit", "conflicts.committed"] {
            let db = dir.path().join(format!("{name}-{point}.db"));
            copy_store(from, &db);
            let mut cmd = kimera(&db);
            cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
            assert_killed(kill_at(&mut cmd, point, 1).status().unwrap());
            assert_eq!(integrity_check(&db), "ok", "{name} killed at {point}");
            if point == "conflicts.before_commit" {
                assert_same_store(&db, from);
            } else {
                assert_eq!(
                    settled(&db),
                    settled(&reference),
                    "{name} killed at {point}"
                );
            }
        }
    }
    // --auto killed after its commit has settled all six: run again, nothing is left
    let db = dir.path().join("auto-conflicts.committed.db");
    let again: serde_json::Value = serde_json::from_str(&ok(kimera(&db).args([
        "--json",
        "resolve",
        "--auto",
        "--strategy",
        "recency",
    ])))
    .unwrap();
    assert_eq!(
        (again["examined"].as_u64(), again["resolved"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        settled(&db)
            .iter()
            .filter(|r| r.contains(" resolved keep_"))
            .count(),
        6
    );
}

/// Reads `child`'s stderr on a thread until a line contains `needle`; returns every
/// line read by the time the child exits.
fn watch_stderr(
    child: &mut std::process::Child,
    needle: &'static str,
) -> (
    std::sync::mpsc::Receiver<()>,
    std::thread::JoinHandle<String>,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    let err = BufReader::new(child.stderr.take().unwrap());
    let h = std::thread::spawn(move || {
        let mut all = String::new();
        for line in err.lines() {
            let line = line.unwrap();
            if line.contains(needle) {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    (rx, h)
}

/// One process holds the store's write lock (paused inside a write transaction);
/// a second one that writes waits for it, saying so, and both finish with all their
/// rows. With a short wait allowed, the second gives up with a clear message instead
/// of "database is locked".
#[test]
fn a_second_writer_waits_for_the_first_and_both_finish() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    std::fs::write(
        &a,
        "text,lang\nFirst file one,en\nFirst file two,en\nFirst file three,en\n",
    )
    .unwrap();
    std::fs::write(&b, "text,lang\nSecond file one,en\nSecond file two,en\n").unwrap();
    ok(kimera(&db).arg("stats")); // the store exists: both only write rows below
    let pause = dir.path().join("paused");

    // writer A stops inside its second batch's transaction, holding the write lock
    let mut first = kimera(&db);
    first
        .args(["ingest", "--batch", "1"])
        .arg(&a)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut first = pause_at(&mut first, "geoids.before_commit", 2, &pause)
        .spawn()
        .unwrap();
    wait_for_pause(&mut first, &pause);

    // B (here `learn`, which ingests then learns) waits, and says so
    let mut second = kimera(&db)
        .args(["learn"])
        .arg(&b)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (waiting, stderr) = watch_stderr(&mut second, "waiting for it");
    waiting
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the second writer says it waits");
    assert!(
        second.try_wait().unwrap().is_none(),
        "it waits, it did not fail"
    );
    resume(&pause);
    assert!(first.wait().unwrap().success());
    let status = second.wait().unwrap();
    let said = stderr.join().unwrap();
    assert!(status.success(), "{said}");
    assert!(!said.contains("database is locked"), "{said}");
    let store = kimera_store::Store::open(&db).unwrap();
    assert_eq!(store.counts().unwrap().geoids, 5, "every row of both files");
    drop(store);

    // the same with a wait too short: a clear error, and the first still finishes
    let c = dir.path().join("c.csv");
    std::fs::write(&c, "text,lang\nThird file one,en\nThird file two,en\n").unwrap();
    let mut first = kimera(&db);
    first
        .args(["ingest", "--batch", "1"])
        .arg(&c)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut first = pause_at(&mut first, "geoids.before_commit", 1, &pause)
        .spawn()
        .unwrap();
    wait_for_pause(&mut first, &pause);
    let out = kimera(&db)
        .args(["ingest"])
        .arg(&b)
        .env("KIMERA_BUSY_TIMEOUT", "0.2")
        .output()
        .unwrap();
    resume(&pause);
    assert!(first.wait().unwrap().success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("locked by another process") && err.contains("KIMERA_BUSY_TIMEOUT"),
        "{err}"
    );
    assert!(!err.contains("database is locked"), "{err}");
    assert_eq!(
        kimera_store::Store::open(&db)
            .unwrap()
            .counts()
            .unwrap()
            .geoids,
        7
    );
}

/// The error line names what went wrong once, says what to do, and shows no raw bytes.
#[test]
fn errors_say_each_thing_once_with_what_to_do_and_print_no_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let err = |cmd: &mut Command| -> String {
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        let e = String::from_utf8(out.stderr).unwrap();
        assert!(
            !e.chars().any(|c| c.is_control() && c != '\n'),
            "control characters in {e:?}"
        );
        e
    };
    let e = err(kimera(&db).args(["ingest", "/nonexistent"]));
    assert_eq!(
        e.trim(),
        "error: /nonexistent: No such file or directory (os error 2)"
    );

    let e = err(kimera(Path::new("/nonexistent-dir/y.db")).arg("stats"));
    assert_eq!(
        e.trim(),
        "error: cannot open store /nonexistent-dir/y.db: the folder /nonexistent-dir does not exist (create it, or pass another --db)"
    );

    let not_db = dir.path().join("notes.txt");
    std::fs::write(
        &not_db,
        "just some text, not a database at all, long enough to have a header page\n".repeat(20),
    )
    .unwrap();
    let e = err(kimera(&not_db).arg("stats"));
    assert!(
        e.contains("is not an SQLite database") && e.matches("database").count() <= 2,
        "{e}"
    );

    // a binary file: one clear line, no bytes of it
    let bin_csv = dir.path().join("data.csv");
    std::fs::write(
        &bin_csv,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x1b[31m\xff\xfe",
    )
    .unwrap();
    let e = err(kimera(&db).arg("ingest").arg(&bin_csv));
    assert!(e.contains("data.csv: not a text file: a NUL byte"), "{e}");
    assert!(!e.contains("PNG") && !e.contains("IHDR"), "{e}");

    // a bad field quoting an escape sequence is shown escaped
    let esc = dir.path().join("esc.csv");
    std::fs::write(&esc, "text,lang\nHello,\x1b[31mred\n").unwrap();
    let out = kimera(&db).arg("ingest").arg(&esc).output().unwrap();
    let e = String::from_utf8(out.stderr).unwrap();
    assert!(
        e.contains("esc.csv:2: field `lang`: `\\u{1b}[31mred` is not a language code"),
        "{e}"
    );
}

/// `cargo install` copies the binary out of the clone; it must carry the detector's
/// weights. The copy runs from a temporary folder with its kimera home there, and —
/// where a mount namespace can be had — with the whole clone hidden behind an empty
/// folder at its compiled-in path, so reading any file of it would fail.
#[test]
fn an_installed_binary_needs_no_source_tree() {
    let dir = tempfile::tempdir().unwrap();
    let installed = dir.path().join("bin/kimera");
    std::fs::create_dir_all(installed.parent().unwrap()).unwrap();
    std::fs::copy(bin(), &installed).unwrap();
    let clone = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let weights = clone.join("crates/kimera-detect/weights");

    // the binary does not even name the weights folder of the clone
    let bytes = std::fs::read(&installed).unwrap();
    let needle = weights.to_str().unwrap().as_bytes();
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle),
        "the binary holds the path {}",
        weights.display()
    );

    let home = dir.path().join("home");
    let hide = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount -t tmpfs none \"$0\" && test ! -e \"$0/crates\"",
            clone.to_str().unwrap(),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !hide {
        eprintln!(
            "notice: no mount namespace here (unshare -m); running the copy without hiding the clone"
        );
    }
    // `installed ARGS` in a folder outside the clone, the clone hidden when possible
    let run = |args: &[&str], model: Option<&Path>| -> std::process::Output {
        let mut c = if hide {
            let mut c = Command::new("unshare");
            c.args([
                "-m",
                "sh",
                "-c",
                "mount -t tmpfs none \"$0\" && exec \"$@\"",
                clone.to_str().unwrap(),
            ])
            .arg(&installed);
            c
        } else {
            Command::new(&installed)
        };
        c.args(args)
            .current_dir(dir.path())
            .env("KIMERA_HOME", &home)
            .env_remove("KIMERA_DETECTOR_DIR")
            .env_remove("KIMERA_DB")
            .env_remove("KIMERA_TEST_KILL_AT");
        match model {
            Some(m) => c.env("KIMERA_MODEL_DIR", m),
            None => c.env("KIMERA_MODEL_DIR", dir.path().join("no-model")),
        };
        c.output().unwrap()
    };
    let out = run(&["--json", "model", "info"], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let det = &v["detector"];
    assert_eq!(det["source"], "embedded");
    let det_dir = PathBuf::from(det["dir"].as_str().unwrap());
    assert!(det_dir.starts_with(&home), "{}", det_dir.display());
    // written out whole and byte for byte
    for f in [
        "head/weights.safetensors",
        "head/meta.json",
        "cross/weights.safetensors",
        "cross/meta.json",
        "decision.json",
    ] {
        assert_eq!(
            std::fs::read(det_dir.join(f)).unwrap(),
            std::fs::read(weights.join(f)).unwrap(),
            "{f}"
        );
    }
    // KIMERA_DETECTOR_DIR still wins
    let out = Command::new(&installed)
        .args(["--json", "model", "info"])
        .env("KIMERA_HOME", &home)
        .env("KIMERA_DETECTOR_DIR", &weights)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["detector"]["source"], "KIMERA_DETECTOR_DIR");
    assert_eq!(v["detector"]["dir"], weights.to_str().unwrap());

    // and the learned detector scores pairs with them
    let Some(model) = common::real_model_dir() else {
        return;
    };
    let facts = dir.path().join("facts.csv");
    std::fs::write(&facts, "text,lang\nParis is the capital of France.,en\nParis is not the capital of France.,en\nWater boils at 100 degrees.,en\n").unwrap();
    for args in [
        vec!["--db", "k.db", "ingest", "facts.csv"],
        vec!["--db", "k.db", "embed"],
        vec!["--db", "k.db", "--json", "run", "--detectors", "model"],
    ] {
        let out = run(&args, Some(&model));
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = kimera_store::Store::open(dir.path().join("k.db")).unwrap();
    let scars = store.scars(10).unwrap();
    assert!(
        scars.iter().any(|s| s.detector == "model"),
        "the embedded model found the planted contradiction: {scars:?}"
    );
}
