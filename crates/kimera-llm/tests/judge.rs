//! The judge against the fake OpenAI-compatible server: answers, faults, retries, the
//! concurrency bound, the cache, and that every request is accounted for.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kimera_llm::testing::{AnswerStyle, FakeLlm, Fault, Latency, Script, oracle};
use kimera_llm::{
    ApiKey, Judge, JudgeConfig, JudgePair, JudgeResult, Mode, ParsedFrom, ResponseFormat, Summary,
    judge_pairs,
};
use kimera_store::Store;

/// Pairs whose oracle verdicts mix true and false.
fn pairs(n: usize) -> Vec<JudgePair> {
    (0..n)
        .map(|i| {
            let a = format!("Statement number {i} says the lamp is on.");
            let b = if i % 3 == 0 {
                format!("Statement number {i} says the lamp is not on.")
            } else {
                format!("Statement number {i} says a lamp is on.")
            };
            let gold = Some(if oracle(&a, &b) {
                kimera_core::GoldLabel::Contradiction
            } else {
                kimera_core::GoldLabel::Neutral
            });
            JudgePair {
                pair_id: Some(format!("p{i}")),
                a,
                b,
                gold,
            }
        })
        .collect()
}

/// A config for tests: short timeout and near-zero backoff, so faults cost milliseconds.
fn config(server: &FakeLlm) -> JudgeConfig {
    JudgeConfig {
        base_url: server.base_url(),
        model: "fake-model".into(),
        timeout: Duration::from_millis(500),
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
        ..JudgeConfig::default()
    }
}

async fn run(cfg: JudgeConfig, ps: &[JudgePair], mode: Mode) -> (Vec<JudgeResult>, Summary) {
    let judge = Judge::new(cfg).unwrap();
    judge_pairs(&judge, ps, mode, None, |_| {}).await
}

/// Every result is in its slot, and the server saw exactly the attempts the client reports.
fn assert_accounted(server: &FakeLlm, ps: &[JudgePair], results: &[JudgeResult]) {
    assert_eq!(results.len(), ps.len());
    let stats = server.stats();
    for (i, (p, r)) in ps.iter().zip(results).enumerate() {
        assert_eq!(r.index, i);
        assert_eq!(r.pair_id, p.pair_id);
        assert_eq!(
            stats.requests_for(&p.a, &p.b),
            r.attempts,
            "pair {i}: server count vs attempts"
        );
    }
    let attempts: u64 = results.iter().map(|r| u64::from(r.attempts)).sum();
    assert_eq!(stats.requests, attempts, "no request lost or duplicated");
}

fn assert_oracle(ps: &[JudgePair], results: &[JudgeResult]) {
    for (p, r) in ps.iter().zip(results) {
        let v = r
            .verdict
            .as_ref()
            .unwrap_or_else(|| panic!("{:?} failed: {:?}", p.pair_id, r.error));
        assert_eq!(v.contradiction, oracle(&p.a, &p.b), "{:?}", p.pair_id);
    }
}

#[tokio::test]
async fn json_answers_async_within_bound() {
    let server = FakeLlm::start(Script {
        latency: Latency::Fixed(Duration::from_millis(40)),
        ..Script::default()
    })
    .unwrap();
    let ps = pairs(30);
    let (results, summary) = run(config(&server), &ps, Mode::Async(4)).await;
    assert_oracle(&ps, &results);
    assert_accounted(&server, &ps, &results);
    assert!(
        results
            .iter()
            .all(|r| r.attempts == 1 && r.error.is_none() && !r.cached)
    );
    let max = server.stats().max_in_flight;
    assert!((2..=4).contains(&max), "max in flight {max}");
    assert_eq!((summary.mode, summary.concurrency), ("async", 4));
    assert_eq!(
        (
            summary.ok,
            summary.failed,
            summary.total_attempts,
            summary.retries
        ),
        (30, 0, 30, 0)
    );
    let m = summary.metrics.unwrap();
    assert_eq!((m.n, m.accuracy, m.f1), (30, 1.0, 1.0));
}

#[tokio::test]
async fn sync_mode_is_sequential() {
    let server = FakeLlm::start(Script::default()).unwrap();
    let ps = pairs(12);
    let (results, summary) = run(config(&server), &ps, Mode::Sync).await;
    assert_oracle(&ps, &results);
    assert_eq!(server.stats().max_in_flight, 1);
    assert_eq!((summary.mode, summary.concurrency), ("sync", 1));
}

/// Same faults (they are drawn per pair and attempt), same results in both modes.
#[tokio::test]
async fn sync_and_async_give_identical_results() {
    let script = Script {
        p429: 0.2,
        retry_after: Some("0".into()),
        p500: 0.1,
        p503: 0.05,
        p_malformed: 0.05,
        p_drop: 0.05,
        answer: AnswerStyle::FencedJson,
        seed: 11,
        ..Script::default()
    };
    let ps = pairs(80);
    let s1 = FakeLlm::start(script.clone()).unwrap();
    let (sync, sum_sync) = run(config(&s1), &ps, Mode::Sync).await;
    let s2 = FakeLlm::start(script).unwrap();
    let (par, sum_par) = run(config(&s2), &ps, Mode::Async(8)).await;
    assert_accounted(&s1, &ps, &sync);
    assert_accounted(&s2, &ps, &par);
    assert!(sum_sync.retries > 0, "the script made some calls fail");
    let strip = |rs: &[JudgeResult]| -> Vec<JudgeResult> {
        rs.iter()
            .map(|r| JudgeResult {
                latency_ms: 0,
                ..r.clone()
            })
            .collect()
    };
    assert_eq!(strip(&sync), strip(&par));
    assert_eq!(
        (
            sum_sync.ok,
            sum_sync.failed,
            sum_sync.total_attempts,
            sum_sync.metrics
        ),
        (
            sum_par.ok,
            sum_par.failed,
            sum_par.total_attempts,
            sum_par.metrics
        )
    );
}

#[tokio::test]
async fn retries_429_500_503_then_answers() {
    let server = FakeLlm::start(Script {
        prelude: vec![
            Fault::TooManyRequests(Some("0".into())),
            Fault::Status(500),
            Fault::Status(503),
            Fault::TooManyRequests(None),
        ],
        ..Script::default()
    })
    .unwrap();
    let ps = pairs(5);
    let (results, summary) = run(config(&server), &ps, Mode::Async(5)).await;
    assert_oracle(&ps, &results);
    assert_accounted(&server, &ps, &results);
    assert!(results.iter().all(|r| r.attempts == 5));
    assert_eq!((summary.total_attempts, summary.retries), (25, 20));
    let st = server.stats();
    assert_eq!(
        (st.too_many_requests, st.server_errors, st.answered),
        (10, 10, 5)
    );
}

/// Backoff is a few milliseconds here, so a wait of a second can only come from Retry-After.
#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_as_a_date() {
    let date = httpdate_in(Duration::from_secs(3));
    let server = FakeLlm::start(Script {
        prelude: vec![
            Fault::TooManyRequests(Some("1".into())),
            Fault::TooManyRequests(Some(date)),
        ],
        ..Script::default()
    })
    .unwrap();
    let ps = pairs(1);
    let (results, _) = run(config(&server), &ps, Mode::Sync).await;
    assert_eq!(results[0].attempts, 3);
    assert!(results[0].verdict.is_some());
    // one second, then until a date at least 3 s after the test started
    assert!(
        results[0].latency_ms >= 2000,
        "{} ms",
        results[0].latency_ms
    );
}

fn httpdate_in(d: Duration) -> String {
    // Format by hand to avoid a dev-dependency: IMF-fixdate in GMT.
    let t = std::time::SystemTime::now() + d;
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1;
    let days = secs / 86400;
    let (h, m, s) = ((secs % 86400) / 3600, (secs % 3600) / 60, secs % 60);
    // civil-from-days (Howard Hinnant)
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][month as usize - 1];
    format!("{wd}, {day:02} {mon} {year} {h:02}:{m:02}:{s:02} GMT")
}

#[tokio::test]
async fn hung_dropped_and_malformed_responses_are_retried() {
    let server = FakeLlm::start(Script {
        prelude: vec![Fault::Hang, Fault::Drop, Fault::MalformedBody],
        ..Script::default()
    })
    .unwrap();
    let ps = pairs(4);
    let cfg = JudgeConfig {
        timeout: Duration::from_millis(200),
        ..config(&server)
    };
    let (results, _) = run(cfg, &ps, Mode::Async(4)).await;
    assert_oracle(&ps, &results);
    assert_accounted(&server, &ps, &results);
    assert!(results.iter().all(|r| r.attempts == 4), "{results:?}");
    let st = server.stats();
    assert_eq!((st.hung, st.dropped, st.malformed), (4, 4, 4));
}

#[tokio::test]
async fn a_server_that_always_hangs_ends_in_a_timeout_error() {
    let server = FakeLlm::start(Script {
        p_hang: 1.0,
        ..Script::default()
    })
    .unwrap();
    let ps = pairs(3);
    let cfg = JudgeConfig {
        timeout: Duration::from_millis(100),
        max_attempts: 2,
        ..config(&server)
    };
    let (results, summary) = run(cfg, &ps, Mode::Async(3)).await;
    assert_accounted(&server, &ps, &results);
    for r in &results {
        let e = r.error.as_deref().unwrap();
        assert!(
            e.contains("gave up after 2 attempts") && e.contains("timeout"),
            "{e}"
        );
        assert!(r.verdict.is_none());
    }
    assert_eq!((summary.ok, summary.failed), (0, 3));
    assert_eq!(summary.metrics, None);
}

#[tokio::test]
async fn persistent_500_gives_up_after_max_attempts() {
    let server = FakeLlm::start(Script {
        p500: 1.0,
        ..Script::default()
    })
    .unwrap();
    let ps = pairs(4);
    let cfg = JudgeConfig {
        max_attempts: 3,
        ..config(&server)
    };
    let (results, _) = run(cfg, &ps, Mode::Async(2)).await;
    assert_accounted(&server, &ps, &results);
    for r in &results {
        assert_eq!(r.attempts, 3);
        let e = r.error.as_deref().unwrap();
        assert!(
            e.contains("gave up after 3 attempts") && e.contains("HTTP 500"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn retry_budget_bounds_total_calls() {
    let server = FakeLlm::start(Script {
        p503: 1.0,
        ..Script::default()
    })
    .unwrap();
    let ps = pairs(10);
    let cfg = JudgeConfig {
        max_attempts: 4,
        retry_budget: Some(5),
        ..config(&server)
    };
    let (results, summary) = run(cfg, &ps, Mode::Async(3)).await;
    assert_accounted(&server, &ps, &results);
    assert_eq!(
        summary.total_attempts,
        10 + 5,
        "one attempt per pair plus the budget"
    );
    assert_eq!(summary.failed, 10);
    assert!(results.iter().any(|r| {
        r.error
            .as_deref()
            .unwrap()
            .contains("retry budget exhausted")
    }));
}

#[tokio::test]
async fn prose_fenced_and_broken_answers_are_read() {
    for (style, how) in [
        (AnswerStyle::Prose, ParsedFrom::Prose),
        (AnswerStyle::FencedJson, ParsedFrom::Json),
        (AnswerStyle::BrokenJson, ParsedFrom::Lenient),
    ] {
        let server = FakeLlm::start(Script {
            answer: style,
            ..Script::default()
        })
        .unwrap();
        let ps = pairs(9);
        let (results, _) = run(config(&server), &ps, Mode::Async(3)).await;
        assert_oracle(&ps, &results);
        for r in &results {
            let v = r.verdict.as_ref().unwrap();
            assert_eq!(v.parsed_from, how, "{style:?}");
            assert!(
                v.confidence == 0.8 || v.confidence == 0.9,
                "{style:?}: {}",
                v.confidence
            );
        }
    }
}

#[tokio::test]
async fn undecidable_answers_fail_without_retry() {
    let server = FakeLlm::start(Script {
        answer: AnswerStyle::Gibberish,
        ..Script::default()
    })
    .unwrap();
    let ps = pairs(3);
    let (results, _) = run(config(&server), &ps, Mode::Sync).await;
    assert_accounted(&server, &ps, &results);
    for r in &results {
        assert_eq!(r.attempts, 1);
        assert!(
            r.error.as_deref().unwrap().contains("unreadable verdict"),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn response_format_is_dropped_when_the_server_refuses_it() {
    let server = FakeLlm::start(Script {
        reject_response_format: true,
        ..Script::default()
    })
    .unwrap();
    let ps = pairs(4);
    let (results, _) = run(config(&server), &ps, Mode::Sync).await;
    assert_oracle(&ps, &results);
    let attempts: Vec<u32> = results.iter().map(|r| r.attempts).collect();
    assert_eq!(
        attempts,
        vec![2, 1, 1, 1],
        "one refusal, then never asked again"
    );

    let server = FakeLlm::start(Script {
        reject_response_format: true,
        ..Script::default()
    })
    .unwrap();
    let cfg = JudgeConfig {
        response_format: ResponseFormat::JsonObject,
        ..config(&server)
    };
    let (results, _) = run(cfg, &ps[..1], Mode::Sync).await;
    assert!(results[0].error.as_deref().unwrap().contains("HTTP 400"));
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = JudgeConfig {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        model: "m".into(),
        max_attempts: 3,
        backoff_base: Duration::from_millis(1),
        ..JudgeConfig::default()
    };
    let (results, _) = run(cfg, &pairs(2), Mode::Sync).await;
    for r in &results {
        assert_eq!(r.attempts, 3);
        assert!(
            r.error.as_deref().unwrap().contains("cannot connect"),
            "{r:?}"
        );
    }
}

/// Captures all log output at TRACE level (this crate, reqwest, hyper).
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn api_key_never_appears_in_errors_results_or_logs() {
    let logs = LogBuf::default();
    let w = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || w.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let secret = "sk-test-SECRET-0123456789";
    let server = FakeLlm::start(Script {
        api_key: Some("sk-the-right-one".into()),
        p500: 0.5,
        ..Script::default()
    })
    .unwrap();
    let ps = pairs(6);
    let cfg = JudgeConfig {
        api_key: Some(ApiKey::new(secret)),
        ..config(&server)
    };
    let judge = Judge::new(cfg.clone()).unwrap();
    let (results, summary) = judge_pairs(&judge, &ps, Mode::Async(3), None, |_| {}).await;
    let report = format!(
        "{}{}{:?}{:?}{:?}",
        serde_json::to_string(&results).unwrap(),
        serde_json::to_string(&summary).unwrap(),
        results,
        cfg,
        judge
    );
    assert!(
        results
            .iter()
            .all(|r| r.error.as_deref().unwrap().contains("HTTP 401"))
    );
    assert!(
        report.contains("<redacted>"),
        "the server echoed the key and it was scrubbed"
    );
    assert!(
        !report.contains(secret),
        "key leaked into results or config output"
    );
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("LLM call failed"),
        "trace logs were captured: {logs}"
    );
    assert!(!logs.contains(secret), "key leaked into logs");

    // With the right key it works.
    let server = FakeLlm::start(Script {
        api_key: Some("sk-the-right-one".into()),
        ..Script::default()
    })
    .unwrap();
    let cfg = JudgeConfig {
        api_key: Some(ApiKey::new("sk-the-right-one")),
        ..config(&server)
    };
    let (results, _) = run(cfg, &ps, Mode::Async(3)).await;
    assert_oracle(&ps, &results);
}

#[tokio::test]
async fn cache_makes_reruns_free_and_keeps_failures_out() {
    let server = FakeLlm::start(Script::default()).unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let judge = Judge::new(config(&server)).unwrap();
    let ps = pairs(40);
    let mut seen = 0;
    let (first, s1) =
        judge_pairs(&judge, &ps, Mode::Async(4), Some(&mut store), |_| seen += 1).await;
    assert_eq!(seen, 40);
    assert_eq!((s1.cached, s1.total_attempts), (0, 40));
    assert_eq!(store.llm_cache_len().unwrap(), 40);
    let (second, s2) = judge_pairs(&judge, &ps, Mode::Sync, Some(&mut store), |_| {}).await;
    assert_eq!(server.stats().requests, 40, "the re-run made no calls");
    assert_eq!((s2.cached, s2.total_attempts, s2.ok), (40, 0, 40));
    assert!(second.iter().all(|r| r.cached && r.attempts == 0));
    let verdicts = |rs: &[JudgeResult]| rs.iter().map(|r| r.verdict.clone()).collect::<Vec<_>>();
    assert_eq!(verdicts(&first), verdicts(&second));
    // Without the cache (--no-cache) the calls are made again.
    let (_, s3) = judge_pairs(&judge, &ps[..5], Mode::Sync, None, |_| {}).await;
    assert_eq!((s3.cached, s3.total_attempts), (0, 5));
    assert_eq!(server.stats().requests, 45);

    // A different model or an undecidable answer is not taken from / put in the cache.
    let bad = FakeLlm::start(Script {
        answer: AnswerStyle::Gibberish,
        ..Script::default()
    })
    .unwrap();
    let judge = Judge::new(JudgeConfig {
        model: "other-model".into(),
        ..config(&bad)
    })
    .unwrap();
    let (rs, s4) = judge_pairs(&judge, &ps[..3], Mode::Sync, Some(&mut store), |_| {}).await;
    assert_eq!((s4.cached, s4.failed), (0, 3));
    assert!(rs.iter().all(|r| r.error.is_some()));
    assert_eq!(store.llm_cache_len().unwrap(), 40);
}

#[tokio::test]
async fn empty_input_gives_an_empty_report() {
    let server = FakeLlm::start(Script::default()).unwrap();
    let (results, summary) = run(config(&server), &[], Mode::Async(8)).await;
    assert!(results.is_empty());
    assert_eq!(
        (
            summary.pairs,
            summary.ok,
            summary.failed,
            summary.total_attempts
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(summary.metrics, None);
    assert_eq!(server.stats().requests, 0);
}
