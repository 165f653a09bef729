//! A fake OpenAI-compatible chat-completions server for tests and benchmarks (feature
//! `test-server`).
//!
//! It listens on 127.0.0.1 (port chosen by the OS), answers `POST /v1/chat/completions`
//! like a model that judges contradictions by a fixed rule ([`oracle`]), and misbehaves
//! on a script: latency, 429 with `Retry-After`, 500, 503, malformed bodies, prose or
//! broken-JSON answers, hung responses and connections dropped mid-answer. It counts
//! what it sees — requests per pair, the most requests in flight at once — so tests can
//! assert a client's concurrency bound and that no request was lost or duplicated.
//! `GET /stats` returns the same counts as JSON (for the command-line benchmark).
//!
//! The server runs on its own thread and tokio runtime, so it works the same under any
//! test runtime (or none) and its latency does not depend on the client's scheduling.
//!
//! Faults are drawn per (pair, attempt number) from a seeded hash, not from a shared
//! random stream: which attempt of which pair fails does not depend on the order requests
//! arrive in, so a sync run and an async run meet exactly the same faults.
//!
//! ```
//! use kimera_llm::testing::{FakeLlm, Script};
//! let server = FakeLlm::start(Script::default()).unwrap();
//! assert!(server.base_url().starts_with("http://127.0.0.1:"));
//! ```

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::json;

/// How long the server waits before answering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    None,
    Fixed(Duration),
    /// Uniform in `lo..=hi`, drawn per (pair, attempt).
    Uniform(Duration, Duration),
}

/// One scripted misbehaviour.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with this `Retry-After` header value (none if `None`).
    TooManyRequests(Option<String>),
    /// This HTTP status with a JSON error body (500, 503...).
    Status(u16),
    /// 200 with a body that is not JSON.
    MalformedBody,
    /// 200 headers, then the connection is cut mid-body.
    Drop,
    /// No answer for [`Script::hang_for`] (the client should time out first).
    Hang,
}

/// How the model words a good answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerStyle {
    /// `{"contradiction": .., "confidence": .., "reasoning": ..}`.
    Json,
    /// The JSON inside a Markdown fence with a sentence before it.
    FencedJson,
    /// A sentence, no JSON.
    Prose,
    /// JSON cut off before its end.
    BrokenJson,
    /// A sentence that says nothing decidable.
    Gibberish,
}

/// What the server does. `Default` answers correctly, at once, in JSON.
#[derive(Debug, Clone)]
pub struct Script {
    pub latency: Latency,
    /// Faults for the first attempts of every pair, in order: attempt 1 meets
    /// `prelude[0]`, attempt 2 `prelude[1]`, ...; later attempts follow the probabilities.
    pub prelude: Vec<Fault>,
    pub p429: f64,
    /// `Retry-After` of the random 429s.
    pub retry_after: Option<String>,
    pub p500: f64,
    pub p503: f64,
    pub p_malformed: f64,
    pub p_drop: f64,
    pub p_hang: f64,
    pub hang_for: Duration,
    pub answer: AnswerStyle,
    /// When set, requests must carry `Authorization: Bearer <key>`; others get a 401 that
    /// echoes the key they sent, as real servers do.
    pub api_key: Option<String>,
    /// Answer 400 to requests asking for `response_format` (servers that lack it).
    pub reject_response_format: bool,
    pub seed: u64,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            latency: Latency::None,
            prelude: Vec::new(),
            p429: 0.0,
            retry_after: Some("1".into()),
            p500: 0.0,
            p503: 0.0,
            p_malformed: 0.0,
            p_drop: 0.0,
            p_hang: 0.0,
            hang_for: Duration::from_secs(3600),
            answer: AnswerStyle::Json,
            api_key: None,
            reject_response_format: false,
            seed: 0,
        }
    }
}

/// The fake model's judgement: the statements contradict when exactly one of them is
/// negated ("not", "no", "never", "n't", ...). Tests compare the client's verdicts with it.
pub fn oracle(a: &str, b: &str) -> bool {
    negated(a) != negated(b)
}

fn negated(s: &str) -> bool {
    s.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(str::to_ascii_lowercase)
        .any(|w| {
            matches!(
                w.as_str(),
                "not" | "no" | "never" | "nobody" | "nothing" | "none"
            ) || w.ends_with("n't")
        })
}

/// What the server has seen so far.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FakeStats {
    /// Requests received (all of them, faults included).
    pub requests: u64,
    /// The most requests being handled at the same moment.
    pub max_in_flight: usize,
    /// Good answers sent.
    pub answered: u64,
    pub too_many_requests: u64,
    pub server_errors: u64,
    pub malformed: u64,
    pub dropped: u64,
    pub hung: u64,
    pub unauthorized: u64,
    pub bad_requests: u64,
    /// Requests per distinct pair (keyed by the user message: "Statement A: ..\nStatement B: ..").
    #[serde(skip)]
    pub per_pair: HashMap<String, u32>,
    /// Number of distinct pairs seen.
    pub pairs: usize,
}

impl FakeStats {
    /// Requests received for the pair (a, b).
    pub fn requests_for(&self, a: &str, b: &str) -> u32 {
        self.per_pair
            .get(&crate::user_prompt(a, b))
            .copied()
            .unwrap_or(0)
    }
}

#[derive(Debug, Default)]
struct Shared {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    requests: AtomicU64,
    stats: Mutex<FakeStats>,
}

/// Decrements the in-flight count however the handler ends (answer, drop, cancellation).
struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running fake server; stops when dropped.
#[derive(Debug)]
pub struct FakeLlm {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeLlm {
    /// Starts the server on 127.0.0.1 with an OS-chosen port.
    pub fn start(script: Script) -> std::io::Result<FakeLlm> {
        FakeLlm::start_on(script, 0)
    }

    /// Starts the server on 127.0.0.1:`port` (0 = any free port).
    pub fn start_on(script: Script, port: u16) -> std::io::Result<FakeLlm> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = (Arc::new(script), shared.clone());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("fake-llm".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("listener on a runtime");
                    let app = Router::new()
                        .route("/v1/chat/completions", post(chat))
                        .route("/stats", get(stats))
                        .with_state(state);
                    tokio::select! {
                        r = axum::serve(listener, app) => { let _ = r; }
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime here cancels hung handlers and open connections.
            })?;
        Ok(FakeLlm {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The base URL to give the client: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// A snapshot of the counts.
    pub fn stats(&self) -> FakeStats {
        snapshot(&self.shared)
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn snapshot(shared: &Shared) -> FakeStats {
    let mut s = shared.stats.lock().expect("stats lock").clone();
    s.requests = shared.requests.load(Ordering::SeqCst);
    s.max_in_flight = shared.max_in_flight.load(Ordering::SeqCst);
    s.pairs = s.per_pair.len();
    s
}

type AppState = (Arc<Script>, Arc<Shared>);

async fn stats(State((_, shared)): State<AppState>) -> Response {
    axum::Json(snapshot(&shared)).into_response()
}

/// A number in [0, 1) fixed by (seed, pair, attempt, purpose).
fn unit(seed: u64, key: &str, attempt: u32, purpose: &str) -> f64 {
    let mut h = DefaultHasher::new();
    (seed, key, attempt, purpose).hash(&mut h);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn bump(shared: &Shared, f: impl FnOnce(&mut FakeStats)) {
    f(&mut shared.stats.lock().expect("stats lock"));
}

fn error_body(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"message": message, "type": "fake_error"}})),
    )
        .into_response()
}

async fn chat(
    State((script, shared)): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(&shared);

    let req: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            bump(&shared, |s| s.bad_requests += 1);
            return error_body(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}"));
        }
    };
    let user = req["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string();
    let attempt = {
        let mut s = shared.stats.lock().expect("stats lock");
        let n = s.per_pair.entry(user.clone()).or_insert(0);
        *n += 1;
        *n
    };

    if let Some(key) = &script.api_key {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim_start_matches("Bearer ")
            .to_string();
        if &sent != key {
            bump(&shared, |s| s.unauthorized += 1);
            return error_body(
                StatusCode::UNAUTHORIZED,
                &format!("Incorrect API key provided: {sent}."),
            );
        }
    }
    if script.reject_response_format && !req["response_format"].is_null() {
        bump(&shared, |s| s.bad_requests += 1);
        return error_body(
            StatusCode::BAD_REQUEST,
            "response_format is not supported by this model",
        );
    }

    let fault = match script.prelude.get(attempt as usize - 1) {
        Some(f) => Some(f.clone()),
        None => random_fault(&script, &user, attempt),
    };
    if let Some(Fault::TooManyRequests(retry_after)) = &fault {
        // Rate limiters answer at once, before any model work.
        bump(&shared, |s| s.too_many_requests += 1);
        let mut resp = error_body(StatusCode::TOO_MANY_REQUESTS, "rate limit reached");
        if let Some(v) = retry_after {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                v.parse().expect("a valid header value"),
            );
        }
        return resp;
    }
    let delay = match script.latency {
        Latency::None => Duration::ZERO,
        Latency::Fixed(d) => d,
        Latency::Uniform(lo, hi) => {
            lo + (hi.saturating_sub(lo)).mul_f64(unit(script.seed, &user, attempt, "latency"))
        }
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(Fault::TooManyRequests(_)) => unreachable!("answered above"),
        Some(Fault::Status(code)) => {
            bump(&shared, |s| s.server_errors += 1);
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error_body(status, "the fake server failed on purpose")
        }
        Some(Fault::MalformedBody) => {
            bump(&shared, |s| s.malformed += 1);
            (
                [(header::CONTENT_TYPE, "application/json")],
                "{\"choices\": [{\"message\": ",
            )
                .into_response()
        }
        Some(Fault::Drop) => {
            bump(&shared, |s| s.dropped += 1);
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(b"{\"id\": \"fake\", \"choices\": [")),
                Err(std::io::Error::other("connection dropped on purpose")),
            ];
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(futures::stream::iter(chunks)))
                .expect("a valid response")
        }
        Some(Fault::Hang) => {
            bump(&shared, |s| s.hung += 1);
            tokio::time::sleep(script.hang_for).await;
            answer(&script, &shared, &req, &user)
        }
        None => answer(&script, &shared, &req, &user),
    }
}

fn random_fault(script: &Script, user: &str, attempt: u32) -> Option<Fault> {
    let u = unit(script.seed, user, attempt, "fault");
    let table = [
        (
            script.p429,
            Fault::TooManyRequests(script.retry_after.clone()),
        ),
        (script.p500, Fault::Status(500)),
        (script.p503, Fault::Status(503)),
        (script.p_malformed, Fault::MalformedBody),
        (script.p_drop, Fault::Drop),
        (script.p_hang, Fault::Hang),
    ];
    let mut acc = 0.0;
    for (p, f) in table {
        acc += p;
        if u < acc {
            return Some(f);
        }
    }
    None
}

/// Splits the client's user message back into the two statements.
fn statements(user: &str) -> (&str, &str) {
    let rest = user.strip_prefix("Statement A: ").unwrap_or(user);
    match rest.split_once("\nStatement B: ") {
        Some((a, b)) => (a, b),
        None => (rest, ""),
    }
}

fn answer(script: &Script, shared: &Shared, req: &serde_json::Value, user: &str) -> Response {
    let (a, b) = statements(user);
    let contradiction = oracle(a, b);
    let confidence = if contradiction { 0.9 } else { 0.8 };
    let reasoning = if contradiction {
        "Exactly one statement is negated."
    } else {
        "Both statements can hold together."
    };
    let verdict =
        json!({"contradiction": contradiction, "confidence": confidence, "reasoning": reasoning});
    let content = match script.answer {
        AnswerStyle::Json => verdict.to_string(),
        AnswerStyle::FencedJson => format!("Here is my verdict:\n```json\n{verdict:#}\n```"),
        AnswerStyle::Prose if contradiction => {
            format!("Yes, the statements contradict each other. Confidence: {confidence}")
        }
        AnswerStyle::Prose => {
            format!("The statements do not contradict; both can be true. Confidence: {confidence}")
        }
        AnswerStyle::BrokenJson => {
            let s = verdict.to_string();
            s[..s.len() - 8].to_string()
        }
        AnswerStyle::Gibberish => "I would rather talk about the weather.".to_string(),
    };
    bump(shared, |s| s.answered += 1);
    axum::Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": req["model"],
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": user.len() / 4, "completion_tokens": 20, "total_tokens": user.len() / 4 + 20},
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_rule() {
        assert!(oracle("The cat sleeps.", "The cat does not sleep."));
        assert!(oracle("Nobody is here.", "A man is here."));
        assert!(!oracle("The cat sleeps.", "A cat is sleeping."));
        assert!(!oracle("It isn't red.", "It is not blue."));
    }

    #[test]
    fn statements_round_trip_the_prompt() {
        assert_eq!(
            statements(&crate::user_prompt("a b", "c\nd")),
            ("a b", "c\nd")
        );
    }

    #[test]
    fn fault_draws_are_deterministic_and_near_their_rates() {
        let script = Script {
            p429: 0.2,
            p500: 0.05,
            seed: 7,
            ..Script::default()
        };
        let draws: Vec<Option<Fault>> = (0..4000)
            .map(|i| random_fault(&script, &format!("pair {i}"), 1))
            .collect();
        let again: Vec<Option<Fault>> = (0..4000)
            .map(|i| random_fault(&script, &format!("pair {i}"), 1))
            .collect();
        assert_eq!(draws, again);
        let n429 = draws
            .iter()
            .filter(|f| matches!(f, Some(Fault::TooManyRequests(_))))
            .count();
        let n500 = draws
            .iter()
            .filter(|f| matches!(f, Some(Fault::Status(500))))
            .count();
        assert!((700..900).contains(&n429), "{n429}");
        assert!((140..260).contains(&n500), "{n500}");
    }
}
