//! The OpenAI-compatible judge client: one pair in, one verdict (or error) out, with the
//! retries that keep a long benchmark alive through rate limits and flaky servers.
//!
//! Retry policy, per pair: 429, 408 and 5xx answers, connect/read errors, timeouts and
//! unreadable response bodies are retried; other 4xx answers and answers the verdict
//! parser cannot read are not (asking again at temperature 0 gets the same answer). The
//! wait before a retry is the server's `Retry-After` when it sends one (seconds or an HTTP
//! date, capped by `max_retry_after`), otherwise exponential backoff with full jitter:
//! uniform in `0..=min(backoff_max, backoff_base * 2^(retry - 1))`, which spreads a herd
//! of clients instead of having them retry in lockstep. Each pair has at most
//! `max_attempts` attempts, and all pairs share one retry budget so that a server that
//! is down costs a bounded number of calls, not `pairs * max_attempts`.
//!
//! The API key is sent only in the `Authorization` header; it is never logged, and every
//! error message is scrubbed of it (servers like to echo a wrong key back).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde_json::json;

use crate::rate::RateLimiter;
use crate::verdict::{PROMPT_VERSION, SYSTEM_PROMPT, Verdict, parse_verdict, snippet, user_prompt};

/// Environment variables read by [`JudgeConfig::from_env`] (and the CLI's flags).
pub const ENV_BASE_URL: &str = "KIMERA_LLM_BASE_URL";
pub const ENV_API_KEY: &str = "KIMERA_LLM_API_KEY";
pub const ENV_MODEL: &str = "KIMERA_LLM_MODEL";

/// An API key. Its `Debug` output is redacted so that printing a config never leaks it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Whether to ask for `response_format: {"type": "json_object"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// Ask for it, and stop asking when the server answers 400 naming `response_format`
    /// (many OpenAI-compatible servers do not support it).
    Auto,
    /// Always ask for it.
    JsonObject,
    /// Never ask; rely on the prompt and the fallback parser.
    Off,
}

/// Everything the judge needs to know. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct JudgeConfig {
    /// Base URL of the API, up to and including `/v1` (e.g. `https://api.openai.com/v1`).
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    pub model: String,
    /// Timeout of one HTTP attempt, connection to last byte (default 30 s).
    pub timeout: Duration,
    /// Attempts per pair, the first included (default 6).
    pub max_attempts: u32,
    /// Retries shared by all pairs of this judge (`None` = only `max_attempts` bounds them).
    pub retry_budget: Option<u64>,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// The longest `Retry-After` honoured; longer ones are cut to this.
    pub max_retry_after: Duration,
    pub response_format: ResponseFormat,
    pub temperature: f32,
    pub max_tokens: u32,
    /// Client-side rate limits (0/`None` = unlimited).
    pub requests_per_min: Option<u32>,
    pub tokens_per_min: Option<u32>,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            base_url: "https://api.openai.com/v1".into(),
            api_key: None,
            model: "gpt-4o-mini".into(),
            timeout: Duration::from_secs(30),
            max_attempts: 6,
            retry_budget: None,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            response_format: ResponseFormat::Auto,
            temperature: 0.0,
            max_tokens: 256,
            requests_per_min: None,
            tokens_per_min: None,
        }
    }
}

impl JudgeConfig {
    /// Defaults overridden by `KIMERA_LLM_BASE_URL`, `KIMERA_LLM_API_KEY` and
    /// `KIMERA_LLM_MODEL` where set and non-empty.
    pub fn from_env() -> JudgeConfig {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let mut c = JudgeConfig::default();
        if let Some(u) = var(ENV_BASE_URL) {
            c.base_url = u;
        }
        if let Some(k) = var(ENV_API_KEY) {
            c.api_key = Some(ApiKey::new(k));
        }
        if let Some(m) = var(ENV_MODEL) {
            c.model = m;
        }
        c
    }
}

/// Why a pair got no verdict.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JudgeError {
    #[error("invalid judge configuration: {0}")]
    Config(String),
    #[error("HTTP {status} from the LLM server: {body}")]
    Status { status: u16, body: String },
    #[error("no answer within the {0:?} timeout")]
    Timeout(Duration),
    #[error("cannot connect to the LLM server: {0}")]
    Connect(String),
    #[error("connection error: {0}")]
    Transport(String),
    #[error("invalid response from the LLM server: {0}")]
    InvalidResponse(String),
    #[error("unreadable verdict: {0}")]
    Unparseable(String),
    #[error("gave up after {attempts} attempts; last error: {last}")]
    GaveUp {
        attempts: u32,
        last: Box<JudgeError>,
    },
    #[error("retry budget exhausted (after {attempts} attempts on this pair); last error: {last}")]
    BudgetExhausted {
        attempts: u32,
        last: Box<JudgeError>,
    },
}

impl JudgeError {
    fn is_retryable(&self) -> bool {
        match self {
            JudgeError::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            JudgeError::Timeout(_)
            | JudgeError::Connect(_)
            | JudgeError::Transport(_)
            | JudgeError::InvalidResponse(_) => true,
            JudgeError::Config(_)
            | JudgeError::Unparseable(_)
            | JudgeError::GaveUp { .. }
            | JudgeError::BudgetExhausted { .. } => false,
        }
    }
}

/// The outcome of judging one pair.
#[derive(Debug, Clone)]
pub struct Judged {
    pub verdict: Result<Verdict, JudgeError>,
    /// HTTP attempts made (1 when the first one succeeded).
    pub attempts: u32,
    /// From the first attempt to the final answer, waits between retries included.
    pub latency: Duration,
}

/// An OpenAI-compatible contradiction judge. Cheap to share by reference between tasks:
/// it holds one connection pool, one rate limiter and one retry budget.
#[derive(Debug)]
pub struct Judge {
    cfg: JudgeConfig,
    url: String,
    http: reqwest::Client,
    limiter: RateLimiter,
    /// Retries left; `u64::MAX` when unbounded.
    retries_left: AtomicU64,
    /// Cleared when the server turns `response_format` down (ResponseFormat::Auto).
    send_response_format: AtomicBool,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

/// One attempt's failure, with the server's requested wait if any.
struct Failure {
    error: JudgeError,
    retry_after: Option<Duration>,
}

impl Judge {
    /// Builds the client. Fails on an empty model or a base URL that is not http(s).
    pub fn new(cfg: JudgeConfig) -> Result<Judge, JudgeError> {
        let base = cfg.base_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(JudgeError::Config(format!(
                "base URL {base:?} must start with http:// or https:// (set {ENV_BASE_URL} or --base-url)"
            )));
        }
        if cfg.model.trim().is_empty() {
            return Err(JudgeError::Config(format!(
                "no model given (set {ENV_MODEL} or --model)"
            )));
        }
        if cfg.max_attempts == 0 {
            return Err(JudgeError::Config("max_attempts must be at least 1".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("kimera/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| JudgeError::Config(error_chain(&e)))?;
        let url = format!("{base}/chat/completions");
        Ok(Judge {
            limiter: RateLimiter::new(cfg.requests_per_min, cfg.tokens_per_min),
            retries_left: AtomicU64::new(cfg.retry_budget.unwrap_or(u64::MAX)),
            send_response_format: AtomicBool::new(cfg.response_format != ResponseFormat::Off),
            url,
            http,
            cfg,
        })
    }

    pub fn model(&self) -> &str {
        &self.cfg.model
    }

    /// The prompt version, part of the response-cache key.
    pub fn prompt_version(&self) -> &'static str {
        PROMPT_VERSION
    }

    pub fn config(&self) -> &JudgeConfig {
        &self.cfg
    }

    /// Retries left in the shared budget (`None` when unbounded).
    pub fn retries_left(&self) -> Option<u64> {
        let n = self.retries_left.load(Ordering::Relaxed);
        (n != u64::MAX).then_some(n)
    }

    /// Asks whether `a` and `b` contradict, retrying as described in the module docs.
    pub async fn judge(&self, a: &str, b: &str) -> Judged {
        let start = Instant::now();
        let user = user_prompt(a, b);
        let est_tokens = ((SYSTEM_PROMPT.len() + user.len()) / 4) as u32 + self.cfg.max_tokens;
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.limiter.acquire(est_tokens).await;
            let failure = match self.attempt(&user).await {
                Ok(content) => {
                    let verdict = parse_verdict(&content)
                        .map_err(|e| JudgeError::Unparseable(self.redact(&e)));
                    return Judged {
                        verdict,
                        attempts,
                        latency: start.elapsed(),
                    };
                }
                Err(f) => f,
            };
            let error = failure.error;
            if self.cfg.response_format == ResponseFormat::Auto
                && matches!(&error, JudgeError::Status { status: 400, body } if body.contains("response_format"))
                && self.send_response_format.swap(false, Ordering::Relaxed)
            {
                tracing::info!("server does not support response_format; asking without it");
                continue;
            }
            let give_up = |error: JudgeError| {
                tracing::debug!(attempts, error = %error, "LLM call failed");
                Judged {
                    verdict: Err(error),
                    attempts,
                    latency: start.elapsed(),
                }
            };
            if !error.is_retryable() {
                return give_up(error);
            }
            if attempts >= self.cfg.max_attempts {
                return give_up(JudgeError::GaveUp {
                    attempts,
                    last: Box::new(error),
                });
            }
            if !self.take_retry() {
                return give_up(JudgeError::BudgetExhausted {
                    attempts,
                    last: Box::new(error),
                });
            }
            let wait = match failure.retry_after {
                Some(d) => d.min(self.cfg.max_retry_after),
                None => self.backoff(attempts),
            };
            tracing::debug!(attempt = attempts, ?wait, error = %error, "retrying LLM call");
            tokio::time::sleep(wait).await;
        }
    }

    fn take_retry(&self) -> bool {
        self.retries_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| match n {
                u64::MAX => Some(n),
                0 => None,
                n => Some(n - 1),
            })
            .is_ok()
    }

    /// Full jitter: uniform in `0..=min(max, base * 2^(attempt - 1))`.
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .cfg
            .backoff_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.cfg.backoff_max);
        let ms = cap.as_millis() as u64;
        Duration::from_millis(if ms == 0 {
            0
        } else {
            rand::random_range(0..=ms)
        })
    }

    /// One HTTP call; `Ok` is the message content.
    async fn attempt(&self, user: &str) -> Result<String, Failure> {
        let mut body = json!({
            "model": self.cfg.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user},
            ],
            "temperature": self.cfg.temperature,
            "max_tokens": self.cfg.max_tokens,
        });
        if self.send_response_format.load(Ordering::Relaxed) {
            body["response_format"] = json!({"type": "json_object"});
        }
        let mut req = self.http.post(&self.url).json(&body);
        if let Some(k) = &self.cfg.api_key {
            req = req.bearer_auth(k.expose());
        }
        let fail = |error| Failure {
            error,
            retry_after: None,
        };
        let resp = req
            .send()
            .await
            .map_err(|e| fail(self.transport_error(&e)))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| fail(self.transport_error(&e)))?;
        let text = String::from_utf8_lossy(&bytes);
        if !status.is_success() {
            return Err(Failure {
                error: JudgeError::Status {
                    status: status.as_u16(),
                    body: self.redact(&snippet(text.trim(), 300)),
                },
                retry_after,
            });
        }
        let parsed: ChatResponse = serde_json::from_slice(&bytes).map_err(|e| {
            fail(JudgeError::InvalidResponse(
                self.redact(&format!("{e} in body {:?}", snippet(&text, 200))),
            ))
        })?;
        let content = parsed
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| {
                fail(JudgeError::InvalidResponse(
                    "no choices in the response".into(),
                ))
            })?
            .message
            .content
            .unwrap_or_default();
        Ok(content)
    }

    fn transport_error(&self, e: &reqwest::Error) -> JudgeError {
        if e.is_timeout() {
            JudgeError::Timeout(self.cfg.timeout)
        } else if e.is_connect() {
            JudgeError::Connect(self.redact(&error_chain(e)))
        } else {
            JudgeError::Transport(self.redact(&error_chain(e)))
        }
    }

    /// Removes the API key from a message.
    fn redact(&self, s: &str) -> String {
        match &self.cfg.api_key {
            Some(k) if !k.expose().is_empty() => s.replace(k.expose(), "<redacted>"),
            _ => s.to_string(),
        }
    }
}

/// An error and its sources, joined by `: ` (reqwest's own Display omits the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// `Retry-After` as delta-seconds (decimals tolerated) or an HTTP date; a date in the
/// past means "now".
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 0.25 "),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_retry_after("-3"), None);
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let d = parse_retry_after(&later).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
    }

    #[test]
    fn backoff_is_full_jitter_within_the_cap() {
        let j = Judge::new(JudgeConfig {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            ..JudgeConfig::default()
        })
        .unwrap();
        for attempt in 1..12 {
            let cap = (100u64 << (attempt - 1)).min(1000);
            let draws: Vec<u64> = (0..200)
                .map(|_| j.backoff(attempt).as_millis() as u64)
                .collect();
            assert!(draws.iter().all(|&d| d <= cap), "attempt {attempt}");
            // Full jitter: draws spread over the whole range, not clustered at the cap.
            assert!(draws.iter().any(|&d| d < cap / 2), "attempt {attempt}");
        }
    }

    #[test]
    fn config_errors_are_clear() {
        let e = Judge::new(JudgeConfig {
            base_url: "localhost:8080".into(),
            ..JudgeConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("must start with http"), "{e}");
        let e = Judge::new(JudgeConfig {
            model: " ".into(),
            ..JudgeConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("KIMERA_LLM_MODEL"), "{e}");
    }

    #[test]
    fn debug_output_hides_the_key() {
        let cfg = JudgeConfig {
            api_key: Some(ApiKey::new("sk-secret-123")),
            ..JudgeConfig::default()
        };
        let judge = Judge::new(cfg.clone()).unwrap();
        for s in [format!("{cfg:?}"), format!("{judge:?}")] {
            assert!(!s.contains("sk-secret-123"), "{s}");
        }
        assert_eq!(
            judge.redact("bad key sk-secret-123!"),
            "bad key <redacted>!"
        );
    }

    #[test]
    fn budget_is_shared_and_bounded() {
        let j = Judge::new(JudgeConfig {
            retry_budget: Some(2),
            ..JudgeConfig::default()
        })
        .unwrap();
        assert!(j.take_retry() && j.take_retry());
        assert!(!j.take_retry());
        assert_eq!(j.retries_left(), Some(0));
        let unbounded = Judge::new(JudgeConfig::default()).unwrap();
        assert!((0..1000).all(|_| unbounded.take_retry()));
        assert_eq!(unbounded.retries_left(), None);
    }
}
