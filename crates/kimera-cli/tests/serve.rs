//! `kimera serve` and `kimera mcp` as processes: kill -9 under write load loses no
//! acknowledged statement and leaves a sound store; SIGTERM commits what is in flight
//! and exits 0; `POST /v1/check` answers exactly what `kimera check` prints; MCP over
//! stdio through rmcp's client; `kimera config` and the file/environment precedence.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kimera"))
}

fn kimera(db: &Path) -> Command {
    let mut c = Command::new(bin());
    c.arg("--db")
        .arg(db)
        .env_remove("KIMERA_DB")
        .env_remove("KIMERA_API_TOKEN")
        .env_remove("KIMERA_CONFIG")
        .env_remove("RUST_LOG");
    c
}

/// A `kimera serve` process on a free loopback port, ready.
struct Serving {
    child: Child,
    base: String,
}

impl Serving {
    fn start(db: &Path, model: &Path) -> Serving {
        let mut child = kimera(db)
            .env("KIMERA_MODEL_DIR", model)
            .args(["serve", "--addr", "127.0.0.1:0", "--workers", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let s = Serving { child, base };
        let deadline = Instant::now() + Duration::from_secs(120);
        let client = reqwest::blocking::Client::new();
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", s.base)).send()
                && r.status() == 200
            {
                return s;
            }
            assert!(Instant::now() < deadline, "kimera serve never became ready");
            std::thread::yield_now();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then the exit code.
    fn terminate(mut self) -> i32 {
        // SAFETY: sending a signal to our own child process.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn post(url: &str, body: &Value) -> reqwest::Result<(u16, Value)> {
    let r = reqwest::blocking::Client::new()
        .post(url)
        .json(body)
        .send()?;
    let status = r.status().as_u16();
    Ok((status, r.json().unwrap_or(Value::Null)))
}

#[test]
fn kill_9_under_write_load_loses_no_acknowledged_statement() {
    let Some((model, _dir, db)) = common::real_model_and_store("k.db") else {
        return;
    };
    let server = Serving::start(&db, &model);
    // four clients write batches of five until the server dies; each keeps what was
    // acknowledged (a 200 answer)
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let dead = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (acked, count, dead) = (acked.clone(), count.clone(), dead.clone());
            let url = server.url("/v1/statements");
            std::thread::spawn(move || {
                for n in 0.. {
                    let texts: Vec<String> = (0..5)
                        .map(|i| format!("Probe {c} wrote entry {n}-{i} before the crash."))
                        .collect();
                    let body = json!({
                        "statements": texts.iter().map(|t| json!({"text": t, "lang": "en"})).collect::<Vec<_>>(),
                        "check": n % 4 == 0,
                    });
                    match post(&url, &body) {
                        Ok((200, v)) => {
                            let mut a = acked.lock().unwrap();
                            for (t, s) in texts.iter().zip(v["statements"].as_array().unwrap()) {
                                a.push((s["id"].as_str().unwrap().to_string(), t.clone()));
                            }
                            count.fetch_add(5, Ordering::SeqCst);
                        }
                        Ok((status, v)) => {
                            // a 503 (queue full) is an answer too: nothing acknowledged
                            assert!(status == 503 || dead.load(Ordering::SeqCst), "{status} {v}");
                        }
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    while count.load(Ordering::SeqCst) < 150 {
        assert!(Instant::now() < deadline, "writes too slow");
        std::thread::yield_now();
    }
    let mut server = server;
    dead.store(true, Ordering::SeqCst);
    server.child.kill().unwrap(); // SIGKILL, mid-write
    server.child.wait().unwrap();
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 150);

    let again = Serving::start(&db, &model);
    let client = reqwest::blocking::Client::new();
    for (id, text) in &acked {
        let r = client
            .get(again.url(&format!("/v1/statements/{id}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged statement {id} is lost");
        let v: Value = r.json().unwrap();
        assert_eq!(v["statement"]["text"], text.as_str());
    }
    let (_, ready) = (
        0,
        client
            .get(again.url("/readyz"))
            .send()
            .unwrap()
            .json::<Value>()
            .unwrap(),
    );
    assert!(
        ready["vectors"].as_u64().unwrap() >= acked.len() as u64,
        "every acknowledged statement has its vector: {ready}"
    );
    assert_eq!(again.terminate(), 0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn sigterm_finishes_the_writes_in_flight_and_exits_0() {
    let Some((model, _dir, db)) = common::real_model_and_store("k.db") else {
        return;
    };
    let server = Serving::start(&db, &model);
    let url = server.url("/v1/statements");
    let writers: Vec<_> = (0..3)
        .map(|c| {
            let url = url.clone();
            std::thread::spawn(move || {
                let statements: Vec<Value> = (0..40)
                    .map(|i| json!({"text": format!("Shutdown probe {c}-{i} is stored."), "lang": "en"}))
                    .collect();
                post(&url, &json!({"statements": statements}))
            })
        })
        .collect();
    // wait until the server has the writes in hand, then ask it to stop
    let metrics = server.url("/metrics");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = reqwest::blocking::get(&metrics).unwrap().text().unwrap();
        let taken = text
            .lines()
            .find(|l| l.starts_with("kimera_write_queue_depth "))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0);
        if taken > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the writes never arrived");
        std::thread::yield_now();
    }
    assert_eq!(server.terminate(), 0);
    let store = kimera_store::Store::open(&db).unwrap();
    let stored = store.counts().unwrap().geoids;
    let mut acked = 0;
    for w in writers {
        if let Ok((200, v)) = w.join().unwrap() {
            acked += v["inserted"].as_u64().unwrap();
        }
    }
    assert!(acked > 0, "at least the write in hand was answered");
    assert!(stored >= acked, "stored {stored} < acknowledged {acked}");
}

#[test]
fn post_check_answers_exactly_what_kimera_check_prints() {
    let Some((model, dir, db)) = common::real_model_and_store("k.db") else {
        return;
    };
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/statements.csv");
    let out = kimera(&db)
        .env("KIMERA_MODEL_DIR", &model)
        .args(["-q", "ingest", "--embed"])
        .arg(&demo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let texts = [
        "Paris is not the capital of France.",
        "Water boils at 50 degrees Celsius at sea level.",
        "The violin is a string instrument.",
    ];
    let file = dir.path().join("q.txt");
    std::fs::write(&file, texts.join("\n")).unwrap();
    let out = kimera(&db)
        .env("KIMERA_MODEL_DIR", &model)
        .args(["--json", "check", "-k", "7", "--lang", "en", "--file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();

    let server = Serving::start(&db, &model);
    let (status, http) = post(
        &server.url("/v1/check"),
        &json!({"texts": texts, "k": 7, "lang": "en"}),
    )
    .unwrap();
    assert_eq!(status, 200, "{http}");
    let cli_results = cli["results"].as_array().unwrap();
    let http_results = http["results"].as_array().unwrap();
    assert_eq!(cli_results.len(), 3);
    let mut found = 0;
    for (c, h) in cli_results.iter().zip(http_results) {
        assert_eq!(c["text"], h["text"]);
        assert_eq!(c["examined"], h["examined"]);
        assert_eq!(c["contradictions"], h["contradictions"], "{}", c["text"]);
        found += c["contradictions"].as_array().unwrap().len();
    }
    assert!(found > 0, "the comparison covers real contradictions");
    assert_eq!(http["vectors"], cli["vectors"]);
}

#[test]
fn kimera_mcp_over_stdio_answers_an_rmcp_client() {
    use rmcp::ServiceExt;
    use rmcp::model::{CallToolRequestParams, ClientConfig};
    use rmcp::transport::TokioChildProcess;

    let Some((model, _dir, db)) = common::real_model_and_store("k.db") else {
        return;
    };
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/statements.csv");
    let out = kimera(&db)
        .env("KIMERA_MODEL_DIR", &model)
        .args(["-q", "ingest", "--embed"])
        .arg(&demo)
        .output()
        .unwrap();
    assert!(out.status.success());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut cmd = tokio::process::Command::new(bin());
        cmd.arg("--db")
            .arg(&db)
            .arg("mcp")
            .env("KIMERA_MODEL_DIR", &model)
            .env_remove("KIMERA_CONFIG")
            .env_remove("RUST_LOG");
        let transport = TokioChildProcess::new(cmd).unwrap();
        let client = ClientConfig::default()
            .serve(transport)
            .await
            .expect("initialize");
        assert_eq!(
            client
                .peer_info()
                .unwrap()
                .server_info
                .as_ref()
                .unwrap()
                .name,
            "kimera"
        );
        let tools = client.list_all_tools().await.unwrap();
        assert_eq!(
            tools.len(),
            7,
            "remember, check, recall, scars, concept, conflicts, resolve"
        );
        let args = json!({"text": "Paris is not the capital of France."});
        let r = client
            .call_tool(
                CallToolRequestParams::new("check")
                    .with_arguments(args.as_object().unwrap().clone()),
            )
            .await
            .unwrap();
        let out = r.structured_content.unwrap();
        assert!(
            out["results"][0]["contradictions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["text"] == "Paris is the capital of France."),
            "{out}"
        );
        let args = json!({"text": "Lisbon is the capital of Spain.", "lang": "en"});
        let r = client
            .call_tool(
                CallToolRequestParams::new("remember")
                    .with_arguments(args.as_object().unwrap().clone()),
            )
            .await
            .unwrap();
        assert_eq!(r.structured_content.unwrap()["inserted"], 1);
        client.cancel().await.unwrap();
    });
    // the process committed before it exited
    let store = kimera_store::Store::open(&db).unwrap();
    let id = kimera_core::GeoidId::from_text("Lisbon is the capital of Spain.", "en");
    assert!(store.geoid(&id).unwrap().is_some());
}

#[test]
fn config_shows_each_value_with_its_origin_flags_beat_env_beat_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kimera.toml"),
        "db = \"from-file.db\"\nworkers = 3\n\n[serve]\naddr = \"127.0.0.1:9999\"\n\n[check]\nk = 4\n\n[llm]\napi_key = \"sk-secret-value\"\n",
    )
    .unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(bin());
        c.current_dir(dir.path())
            .env_remove("KIMERA_DB")
            .env_remove("KIMERA_CONFIG")
            .env_remove("KIMERA_API_TOKEN")
            .env_remove("KIMERA_LLM_API_KEY")
            .args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = run(
        &["--json", "config", "serve"],
        &[
            ("KIMERA_SERVE_WORKERS", "5"),
            ("KIMERA_API_TOKEN", "tok-0123456789abcdef"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let row = |o: &str| -> (String, String) {
        let r = rows
            .iter()
            .find(|r| r["option"] == o)
            .unwrap_or_else(|| panic!("no {o} in {rows:?}"));
        (
            r["value"].as_str().unwrap().into(),
            r["origin"].as_str().unwrap().into(),
        )
    };
    assert_eq!(
        row("db"),
        ("from-file.db".into(), "file kimera.toml".into())
    );
    assert_eq!(
        row("serve.addr"),
        ("127.0.0.1:9999".into(), "file kimera.toml [serve]".into())
    );
    assert_eq!(
        row("serve.workers"),
        ("5".into(), "env KIMERA_SERVE_WORKERS".into())
    );
    assert_eq!(row("serve.body_limit").1, "default");
    assert_eq!(
        row("serve.api_token"),
        ("(set)".into(), "env KIMERA_API_TOKEN".into())
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("tok-0123456789abcdef") && !text.contains("sk-secret"));
    // a flag beats them all; the judge's key from [llm] is masked
    let out = run(&["--db", "flag.db", "--json", "config", "judge"], &[]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let find = |o: &str| rows.iter().find(|r| r["option"] == o).unwrap().clone();
    assert_eq!(find("db")["value"], "flag.db");
    assert_eq!(find("db")["origin"], "flag");
    assert_eq!(find("judge.api_key")["value"], "(set)");
    assert_eq!(find("judge.api_key")["origin"], "file kimera.toml [llm]");
    // the file's values reach the commands themselves: `check -k` from [check]
    let out = run(&["config", "check"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("check.k") && l.contains(" 4 ")),
        "{text}"
    );

    // an unknown key is refused by name, with exit code 2
    std::fs::write(dir.path().join("bad.toml"), "[serve]\nadress = \"x\"\n").unwrap();
    let out = run(&["--config", "bad.toml", "stats"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("adress"), "{err}");
    let out = run(&["--config", "missing.toml", "stats"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn serve_refuses_an_open_address_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = kimera(&dir.path().join("k.db"))
        .args(["serve", "--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0") && err.contains("KIMERA_API_TOKEN"),
        "{err}"
    );
}
