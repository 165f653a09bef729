//! A real server on an ephemeral loopback port, for the tests of this crate.
//!
//! The model (MiniLM and the committed detector) is loaded once per test binary and
//! shared by every server it starts; each server has its own store in a temporary
//! folder and runs on a thread of its own with its own runtime, so a test's runtime
//! ending never stops it. Readiness is polled on `/readyz`, never waited for by sleeping.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kimera_embed::{Encoder, HashEncoder};
use kimera_server::{Models, Server, ServerConfig};
use kimera_store::Store;
use serde_json::Value;

/// The real model folder, or `None` (the test skips, with a notice) when it has not been
/// fetched; under CI (`CI=true`) a missing model fails the test instead.
pub fn real_model_dir() -> Option<PathBuf> {
    let dir = kimera_embed::model_dir();
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the embedding model is missing under CI: run scripts/fetch-model.sh");
    }
    eprintln!(
        "notice: model not fetched ({}); skipping. Run scripts/fetch-model.sh",
        dir.display()
    );
    None
}

/// MiniLM and the default cascade (`lexical,model`), loaded once per test binary.
pub fn real_models() -> Option<Arc<Models>> {
    static MODELS: OnceLock<Option<Arc<Models>>> = OnceLock::new();
    MODELS
        .get_or_init(|| {
            real_model_dir()?;
            Some(Arc::new(
                Models::load("lexical,model").expect("loading the model"),
            ))
        })
        .clone()
}

/// The deterministic hash encoder and the lexical rules: for tests where the model is
/// beside the point (access, limits, the write queue).
pub fn light_models() -> Arc<Models> {
    Arc::new(Models::new(
        Box::new(HashEncoder::new()),
        kimera_detect::detectors_from_list("lexical").unwrap(),
        "lexical",
    ))
}

/// The demo statements (`data/demo/statements.csv`).
pub fn demo_statements() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/statements.csv")
}

/// A store at `db` holding `files`, embedded with `enc`, and, with `learn`, the concept
/// graph learned from them.
pub fn seed(db: &Path, files: &[PathBuf], enc: &dyn Encoder, learn: bool) {
    let mut store = Store::open(db).unwrap();
    kimera_ingest::ingest_paths(
        &mut store,
        files,
        &kimera_ingest::IngestOptions::default(),
        &|_, _, _| {},
    )
    .unwrap();
    kimera_embed::embed_store(&mut store, enc, 256, &|_, _| {}).unwrap();
    if learn {
        let rows = store.geoids_after(0, 1_000_000).unwrap();
        let mut graph = kimera_learn::Graph::bounded();
        let learner = kimera_learn::Learner::on_current_thread(Default::default()).unwrap();
        learner.learn_batch(&mut graph, &rows, |_| {});
        store.write_graph(&graph.take_delta()).unwrap();
    }
}

/// A running server and its store.
pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub db: PathBuf,
    _dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<kimera_server::Result<()>>>,
}

impl TestServer {
    /// Starts a server on `db` (in `dir`, kept alive with it) with `models`, after
    /// `configure` has adjusted the defaults, and waits until `/readyz` says ready.
    pub fn start(
        dir: Option<tempfile::TempDir>,
        db: PathBuf,
        models: Arc<Models>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let mut cfg = ServerConfig::new(&db);
        cfg.addr = "127.0.0.1:0".parse().unwrap();
        cfg.workers = 2;
        configure(&mut cfg);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let server = Server::bind_with_models(cfg, models).await?;
                addr_tx.send(server.local_addr()).unwrap();
                server
                    .run(async move {
                        let _ = stopped.await;
                    })
                    .await
            })
        });
        let addr = addr_rx.recv().expect("the server thread bound an address");
        let s = TestServer {
            addr,
            base: format!("http://{addr}"),
            db,
            _dir: dir,
            stop: Some(stop),
            thread: Some(thread),
        };
        s.wait_ready();
        s
    }

    /// A server on a fresh store seeded with `files` (embedded by `models`' encoder).
    pub fn seeded(
        models: Arc<Models>,
        files: &[PathBuf],
        learn: bool,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.db");
        seed(&db, files, models.encoder.as_ref(), learn);
        TestServer::start(Some(dir), db, models, configure)
    }

    /// Polls `/readyz` until 200 (a minute at most: loading a small store takes well
    /// under a second).
    pub fn wait_ready(&self) {
        let client = client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send()
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server at {} never ready",
                self.base
            );
            std::thread::yield_now();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server gracefully and returns what `run` returned, with the temporary
    /// folder of its store (still there until the caller drops it).
    pub fn stop(mut self) -> (kimera_server::Result<()>, Option<tempfile::TempDir>) {
        let _ = self.stop.take().unwrap().send(());
        let ran = self.thread.take().unwrap().join().unwrap();
        (ran, self._dir.take())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// A blocking HTTP client without a timeout surprise.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// POSTs JSON; returns the status and the body as JSON (Null if not JSON).
pub fn post(url: &str, body: &Value) -> (u16, Value) {
    let r = client().post(url).json(body).send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

pub fn get(url: &str) -> (u16, Value) {
    let r = client().get(url).send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

/// Asserts an error response: the status, `{"error": {"code", "message"}}` with this
/// code, and the field when one is given.
#[track_caller]
pub fn assert_error(got: &(u16, Value), status: u16, code: &str, field: Option<&str>) {
    assert_eq!(got.0, status, "{}", got.1);
    let e = &got.1["error"];
    assert_eq!(e["code"], code, "{}", got.1);
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        got.1
    );
    if let Some(f) = field {
        assert_eq!(e["field"], f, "{}", got.1);
        assert!(
            e["message"].as_str().unwrap().contains(f),
            "the message names the field: {}",
            got.1
        );
    }
}
