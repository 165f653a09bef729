//! Request bodies fuzzed with proptest, against a real server: whatever JSON (or not
//! JSON) a client sends, the server never panics or fails (5xx); it answers 200 (202 for
//! a run), or a
//! clear 4xx with the `{"error": {"code", "message"}}` body — and for a value it cannot
//! accept (422 `invalid_field`), the field named.

mod bodies;
mod common;

use std::sync::OnceLock;

use bodies::*;
use common::*;
use proptest::prelude::*;
use serde_json::Value;

/// Cases per property: `KIMERA_FUZZ_CASES`, else 96.
fn fuzz_cases() -> u32 {
    std::env::var("KIMERA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(96)
}

fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| TestServer::seeded(light_models(), &[demo_statements()], false, |_| {}))
}

/// The answer to `body` sent to `path` is 200 or a well-formed 4xx.
fn answered_well(path: &str, body: &str) -> Result<(), TestCaseError> {
    let r = client()
        .post(server().url(path))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
    let status = r.status().as_u16();
    let v: Value = r.json().unwrap_or(Value::Null);
    let ok = status == 200 || (status == 202 && path == "/v1/runs");
    prop_assert!(
        ok || (400..500).contains(&status),
        "{path} {body} -> {status} {v}"
    );
    if !ok {
        let e = &v["error"];
        prop_assert!(e["code"].is_string(), "{status} {v}");
        prop_assert!(
            e["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{status} {v}"
        );
        if e["code"] == "invalid_field" {
            let field = e["field"].as_str().unwrap_or("");
            prop_assert!(!field.is_empty(), "{v}");
            prop_assert!(e["message"].as_str().unwrap().contains(field), "{v}");
        }
    }
    Ok(())
}

proptest! {
    // 96 cases in CI; KIMERA_FUZZ_CASES=N for a long run
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), ..ProptestConfig::default() })]

    #[test]
    fn statement_bodies_get_200_or_a_clear_4xx(body in statements_body()) {
        answered_well("/v1/statements", &body.to_string())?;
    }

    #[test]
    fn check_bodies_get_200_or_a_clear_4xx(body in check_body()) {
        answered_well("/v1/check", &body.to_string())?;
    }

    #[test]
    fn any_json_or_bytes_get_200_or_a_clear_4xx(body in any_json(), junk in ".{0,40}") {
        for path in ["/v1/statements", "/v1/check", "/v1/runs"] {
            answered_well(path, &body.to_string())?;
            answered_well(path, &junk)?;
        }
    }
}
