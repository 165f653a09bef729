//! Access, limits and the write queue, on servers with the hash encoder and the lexical
//! rules (the model is beside the point here): bearer tokens and scopes, refusing to
//! listen openly without a token, a full write queue answered 503 with Retry-After,
//! one reactor run at a time, graceful shutdown committing what was queued.

mod common;

use std::time::{Duration, Instant};

use common::*;
use kimera_server::{Scope, Server, ServerConfig, Tokens};
use serde_json::{Value, json};

const READER: &str = "reader-token-0123456789abcdef";
const WRITER: &str = "writer-token-0123456789abcdef";

fn tokens() -> Tokens {
    let mut t = Tokens::default();
    t.add(READER, Scope::ReadOnly).unwrap();
    t.add(WRITER, Scope::ReadWrite).unwrap();
    t
}

fn send(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = client().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().unwrap_or(Value::Null), headers)
}

#[test]
fn tokens_decide_who_may_read_and_who_may_write() {
    let s = TestServer::seeded(light_models(), &[demo_statements()], false, |c| {
        c.tokens = tokens();
    });
    use reqwest::Method;
    let add = json!({"statements": [{"text": "Tokens guard this store.", "lang": "en"}]});
    // no token, a wrong one: 401 with a Bearer challenge
    let (st, body, h) = send(Method::GET, &s.url("/v1/scars"), None, None);
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (401, Some("missing_token"))
    );
    assert!(
        h["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let (st, body, _) = send(
        Method::GET,
        &s.url("/v1/scars"),
        Some("not-a-token-at-all-x"),
        None,
    );
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (401, Some("invalid_token"))
    );
    let (st, _, _) = send(Method::POST, &s.url("/v1/statements"), None, Some(&add));
    assert_eq!(st, 401);
    let (st, _, _) = send(Method::GET, &s.url("/metrics"), None, None);
    assert_eq!(st, 401);
    let (st, _, _) = send(Method::POST, &s.url("/mcp"), None, Some(&json!({})));
    assert_eq!(st, 401);
    // health, readiness and the API description are open
    for open in ["/healthz", "/readyz", "/openapi.json"] {
        assert_eq!(send(Method::GET, &s.url(open), None, None).0, 200, "{open}");
    }
    // read-only: reads and checks, no writes
    assert_eq!(
        send(Method::GET, &s.url("/v1/scars"), Some(READER), None).0,
        200
    );
    let (st, body, _) = send(
        Method::POST,
        &s.url("/v1/check"),
        Some(READER),
        Some(&json!({"text": "Paris is not the capital of France."})),
    );
    assert_eq!(st, 200, "{body}");
    let (st, body, _) = send(
        Method::POST,
        &s.url("/v1/statements"),
        Some(READER),
        Some(&add),
    );
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (403, Some("read_only_token"))
    );
    let (st, _, _) = send(
        Method::POST,
        &s.url("/v1/runs"),
        Some(READER),
        Some(&json!({})),
    );
    assert_eq!(st, 403);
    // read-write: everything; a 403 wrote nothing
    let store = kimera_store::Store::open(&s.db).unwrap();
    let before = store.counts().unwrap().geoids;
    let (st, body, _) = send(
        Method::POST,
        &s.url("/v1/statements"),
        Some(WRITER),
        Some(&add),
    );
    assert_eq!(st, 200, "{body}");
    assert_eq!(store.counts().unwrap().geoids, before + 1);
}

#[test]
fn listening_openly_without_a_token_is_refused_with_the_way_out() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ServerConfig::new(dir.path().join("k.db"));
    cfg.addr = "0.0.0.0:0".parse().unwrap();
    let err = rt
        .block_on(Server::bind(cfg.clone()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("refusing") && err.contains("KIMERA_API_TOKEN") && err.contains("127.0.0.1"),
        "{err}"
    );
    cfg.tokens = tokens();
    let server = rt
        .block_on(Server::bind_with_models(cfg, light_models()))
        .unwrap();
    assert!(server.local_addr().ip().is_unspecified());
}

/// Reads a gauge from `/metrics`.
fn gauge(s: &TestServer, name: &str) -> i64 {
    let text = client()
        .get(s.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// Polls until `f` holds (a minute at most).
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::yield_now();
    }
}

#[test]
fn a_full_write_queue_is_refused_at_once_with_retry_after_and_nothing_is_lost() {
    let s = TestServer::seeded(light_models(), &[], false, |c| c.write_queue = 1);
    // Another connection holds the store's write lock: the writer will wait on it.
    let mut blocker = rusqlite::Connection::open(&s.db).unwrap();
    let tx = blocker
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let body = |t: &str| json!({"statements": [{"text": t, "lang": "en"}]});
    let url = s.url("/v1/statements");
    let (u1, b1) = (url.clone(), body("First statement waits for the lock."));
    let first = std::thread::spawn(move || post(&u1, &b1));
    // the writer has taken it: one job in flight, the queue's place free again
    until("the writer holds the first job", || {
        gauge(&s, "kimera_write_queue_depth") == 1 && gauge(&s, "kimera_write_queue_taken") == 0
    });
    let (u2, b2) = (
        url.clone(),
        body("Second statement takes the queue's one place."),
    );
    let second = std::thread::spawn(move || post(&u2, &b2));
    until("the second job holds the queue's place", || {
        gauge(&s, "kimera_write_queue_taken") == 1
    });
    let r = client()
        .post(&url)
        .json(&body("Third statement finds the queue full."))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.json::<Value>().unwrap()["error"]["code"], "queue_full");
    // the lock goes: both queued writes commit and are acknowledged
    tx.rollback().unwrap();
    let (st1, w1) = first.join().unwrap();
    let (st2, w2) = second.join().unwrap();
    assert_eq!((st1, st2), (200, 200), "{w1} {w2}");
    let store = kimera_store::Store::open(&s.db).unwrap();
    let texts: Vec<String> = store
        .geoids_after(0, 10)
        .unwrap()
        .into_iter()
        .map(|g| g.text)
        .collect();
    assert_eq!(
        texts,
        [
            "First statement waits for the lock.",
            "Second statement takes the queue's one place."
        ]
    );
}

#[test]
fn one_reactor_run_at_a_time_with_its_progress_and_stats() {
    let s = TestServer::seeded(light_models(), &[demo_statements()], false, |_| {});
    let mut blocker = rusqlite::Connection::open(&s.db).unwrap();
    // the run cannot record its start while another connection holds the write lock
    let tx = blocker
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let r = client()
        .post(s.url("/v1/runs"))
        .json(&json!({"k": 5}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    assert_eq!(r.headers()["location"], "/v1/runs/1");
    let run: Value = r.json().unwrap();
    assert_eq!(
        (run["id"].as_u64(), run["status"].as_str()),
        (Some(1), Some("running"))
    );
    assert_error(&post(&s.url("/v1/runs"), &json!({})), 409, "conflict", None);
    assert_error(
        &post(&s.url("/v1/runs"), &json!({"k": 5, "min_sim": 7.0})),
        422,
        "invalid_field",
        Some("min_sim"),
    );
    tx.rollback().unwrap();
    let mut done = Value::Null;
    until("the run finishes", || {
        done = get(&s.url("/v1/runs/1")).1;
        done["status"] != "running"
    });
    assert_eq!(done["status"], "ok", "{done}");
    let stats = &done["stats"];
    assert!(stats["pairs_checked"].as_u64().unwrap() > 0, "{done}");
    assert!(
        stats["new_scars"].as_u64().unwrap() > 0,
        "the demo has planted contradictions: {done}"
    );
    assert!(done["finished_at"].as_i64().is_some());
    // the scars are there, and another run may start now
    let (_, scars) = get(&s.url("/v1/scars?limit=1000"));
    assert_eq!(
        scars["scars"].as_array().unwrap().len() as u64,
        stats["new_scars"].as_u64().unwrap()
    );
    let (st, second) = post(&s.url("/v1/runs"), &json!({}));
    assert_eq!(st, 202, "{second}");
    assert_eq!(second["id"], 2);
}

#[test]
fn graceful_shutdown_answers_what_is_in_flight_and_commits_it() {
    let s = TestServer::seeded(light_models(), &[], false, |_| {});
    let mut blocker = rusqlite::Connection::open(&s.db).unwrap();
    let tx = blocker
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let url = s.url("/v1/statements");
    let writer = std::thread::spawn(move || {
        post(
            &url,
            &json!({"statements": [{"text": "Written while the server stops."}]}),
        )
    });
    until("the write is with the writer", || {
        gauge(&s, "kimera_write_queue_depth") == 1
    });
    let db = s.db.clone();
    let health = s.url("/healthz");
    let stopping = std::thread::spawn(move || s.stop());
    // shutting down: new connections are refused, the request in flight goes on
    until("the server stops accepting", || {
        client().get(&health).send().is_err()
    });
    tx.rollback().unwrap();
    let (st, body) = writer.join().unwrap();
    assert_eq!(st, 200, "{body}");
    let (ran, _dir) = stopping.join().unwrap();
    ran.unwrap();
    let store = kimera_store::Store::open(&db).unwrap();
    assert_eq!(store.counts().unwrap().geoids, 1);
}
