//! The HTTP API end to end, on a real server on a loopback port with a real HTTP client:
//! every route with good and bad input, the write path with the real model (a statement
//! added is found by the next check; contradictions come back and are recorded), eight
//! concurrent writers, the OpenAPI document.

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use common::*;
use serde_json::{Value, json};

/// One server on the demo statements (learned into a concept graph) with the real
/// model, shared by the tests of this file: each writes statements of its own.
fn demo() -> Option<&'static TestServer> {
    static SERVER: OnceLock<Option<TestServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let models = real_models()?;
            Some(TestServer::seeded(
                models,
                &[demo_statements()],
                true,
                |_| {},
            ))
        })
        .as_ref()
}

/// The routes the API promises, as (method, path template, a path to call).
const ROUTES: &[(&str, &str, &str)] = &[
    ("post", "/v1/statements", "/v1/statements"),
    ("get", "/v1/statements/{id}", "/v1/statements/nobody"),
    ("post", "/v1/check", "/v1/check"),
    ("get", "/v1/similar", "/v1/similar"),
    ("get", "/v1/scars", "/v1/scars"),
    ("get", "/v1/concepts/{term}", "/v1/concepts/paris"),
    ("get", "/v1/conflicts", "/v1/conflicts"),
    ("get", "/v1/conflicts/{id}", "/v1/conflicts/999"),
    (
        "post",
        "/v1/conflicts/{id}/resolve",
        "/v1/conflicts/999/resolve",
    ),
    ("post", "/v1/conflicts/{id}/undo", "/v1/conflicts/999/undo"),
    (
        "post",
        "/v1/conflicts/resolve-auto",
        "/v1/conflicts/resolve-auto",
    ),
    ("post", "/v1/runs", "/v1/runs"),
    ("get", "/v1/runs/{id}", "/v1/runs/999"),
    ("get", "/healthz", "/healthz"),
    ("get", "/readyz", "/readyz"),
    ("get", "/metrics", "/metrics"),
    ("get", "/openapi.json", "/openapi.json"),
    ("post", "/mcp", "/mcp"),
];

#[test]
fn every_route_is_described_and_every_described_route_is_served() {
    let Some(s) = demo() else { return };
    let (status, doc) = get(&s.url("/openapi.json"));
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let described: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    for (method, template, _) in ROUTES {
        assert!(
            described.contains(&(method.to_string(), template.to_string())),
            "{method} {template} is not described"
        );
    }
    let client = client();
    for (method, path) in &described {
        let concrete = ROUTES
            .iter()
            .find(|(m, t, _)| m == method && t == path)
            .map_or(path.as_str(), |r| r.2);
        let req = match method.as_str() {
            "get" => client.get(s.url(concrete)),
            "post" => client.post(s.url(concrete)).json(&json!({})),
            "delete" => client.delete(s.url(concrete)),
            other => panic!("unexpected method {other}"),
        };
        let r = req.send().unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().unwrap_or(Value::Null);
        assert!(
            status != 405 && body["error"]["code"] != "no_route",
            "{method} {path} is described but not served: {status} {body}"
        );
    }
    // every schema a route refers to is in the document
    let text = doc.to_string();
    for schema in [
        "AddStatements",
        "CheckIn",
        "CheckOut",
        "ErrorBody",
        "ScarsOut",
        "AutoResolveIn",
        "AutoResolveOut",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    assert!(text.contains("\"bearer\""));
}

#[test]
fn a_statement_added_is_found_by_the_next_check_and_its_contradictions_are_recorded() {
    let Some(s) = demo() else { return };
    let fact = "The Zorblax river flows into the Quenby sea.";
    let denial = "The Zorblax river does not flow into the Quenby sea.";
    // before: nothing about the Zorblax river contradicts the denial
    let (status, before) = post(&s.url("/v1/check"), &json!({"text": denial, "lang": "en"}));
    assert_eq!(status, 200, "{before}");
    assert!(
        before["results"][0]["contradictions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["text"] != fact),
        "{before}"
    );

    let (status, added) = post(
        &s.url("/v1/statements"),
        &json!({"statements": [{"text": fact, "lang": "en", "source": "atlas"}]}),
    );
    assert_eq!(status, 200, "{added}");
    assert_eq!(
        (added["inserted"].as_u64(), added["duplicates"].as_u64()),
        (Some(1), Some(0))
    );
    let fact_id = added["statements"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(added["statements"][0]["new"], true);

    // the next check finds it, and says it is contradicted
    let (_, after) = post(&s.url("/v1/check"), &json!({"text": denial, "lang": "en"}));
    let hits = after["results"][0]["contradictions"].as_array().unwrap();
    let hit = hits
        .iter()
        .find(|h| h["id"] == fact_id.as_str())
        .unwrap_or_else(|| panic!("the added statement is not found: {after}"));
    assert_eq!(hit["text"], fact);
    assert!(hit["score"].as_f64().unwrap() > 0.0 && hit["evidence"].is_object());

    // writing the denial with check: its contradiction comes back and is a scar
    let (status, w) = post(
        &s.url("/v1/statements"),
        &json!({"statements": [{"text": denial, "lang": "en"}], "check": true}),
    );
    assert_eq!(status, 200, "{w}");
    let denial_id = w["statements"][0]["id"].as_str().unwrap().to_string();
    assert!(w["scars"].as_u64().unwrap() >= 1, "{w}");
    assert!(
        w["statements"][0]["contradictions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == fact_id.as_str()),
        "{w}"
    );
    let (status, detail) = get(&s.url(&format!("/v1/statements/{denial_id}")));
    assert_eq!(status, 200);
    assert_eq!(detail["statement"]["text"], denial);
    assert_eq!(detail["statement"]["source"], "api");
    let scar = detail["scars"]
        .as_array()
        .unwrap()
        .iter()
        .find(|sc| sc["a"] == fact_id.as_str() || sc["b"] == fact_id.as_str())
        .unwrap_or_else(|| panic!("no scar with the fact: {detail}"));
    assert!(scar["run_id"].is_null());
    let (_, fact_detail) = get(&s.url(&format!("/v1/statements/{fact_id}")));
    assert_eq!(fact_detail["statement"]["source"], "api:atlas");

    // the same statement again: a duplicate under the same id, nothing new
    let (status, again) = post(
        &s.url("/v1/statements"),
        &json!({"statements": [{"text": "the zorblax river flows into the quenby sea", "lang": "EN"}]}),
    );
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["statements"][0]["id"], fact_id.as_str());
    assert_eq!(again["statements"][0]["new"], false);
    assert_eq!(again["inserted"], 0);
}

#[test]
fn statements_of_one_request_are_checked_against_each_other_in_order() {
    let Some(s) = demo() else { return };
    let (status, w) = post(
        &s.url("/v1/statements"),
        &json!({"statements": [
            {"text": "Glimmerton is the capital of Vondaria.", "lang": "en"},
            {"text": "Glimmerton is not the capital of Vondaria.", "lang": "en"},
        ]}),
    );
    assert_eq!(status, 200, "{w}");
    let first = w["statements"][0]["id"].as_str().unwrap();
    assert!(
        w["statements"][1]["contradictions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == first),
        "the second statement contradicts the first of the same request: {w}"
    );
    // the first was checked before the second existed
    assert!(
        w["statements"][0]["contradictions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["text"] != "Glimmerton is not the capital of Vondaria."),
        "{w}"
    );
}

#[test]
fn reads_similar_scars_pages_concepts_and_statements() {
    let Some(s) = demo() else { return };
    let (status, sim) = get(&s.url("/v1/similar?text=capital%20of%20France&k=3"));
    assert_eq!(status, 200, "{sim}");
    let res = sim["results"].as_array().unwrap();
    assert_eq!(res.len(), 3);
    assert!(res[0]["text"].as_str().unwrap().contains("France"), "{sim}");
    let scores: Vec<f64> = res.iter().map(|r| r["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    // scars: make sure there are a few, then page through them two at a time
    post(
        &s.url("/v1/statements"),
        &json!({"statements": [
            {"text": "Water does not boil at 100 degrees Celsius at sea level.", "lang": "en"},
            {"text": "Berlin is not the capital of Germany.", "lang": "en"},
        ]}),
    );
    let (_, all) = get(&s.url("/v1/scars?limit=1000"));
    let all = all["scars"].as_array().unwrap().clone();
    assert!(all.len() >= 2, "{all:?}");
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => s.url(&format!("/v1/scars?limit=2&cursor={c}")),
            None => s.url("/v1/scars?limit=2"),
        };
        let (status, page) = get(&url);
        assert_eq!(status, 200, "{page}");
        paged.extend(page["scars"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    // other tests may add scars meanwhile; the pages hold at least what was there
    let key = |v: &Value| {
        (
            v["a"].to_string(),
            v["b"].to_string(),
            v["detector"].to_string(),
        )
    };
    let paged_keys: BTreeSet<_> = paged.iter().map(key).collect();
    assert_eq!(paged_keys.len(), paged.len(), "no scar twice");
    assert!(all.iter().all(|sc| paged_keys.contains(&key(sc))));
    let scores: Vec<f64> = paged.iter().map(|r| r["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "strongest first");

    let (status, c) = get(&s.url("/v1/concepts/Paris"));
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["term"], "paris");
    let edges: Vec<&Value> = c["out"]
        .as_array()
        .unwrap()
        .iter()
        .chain(c["inbound"].as_array().unwrap())
        .collect();
    assert!(
        edges.iter().any(|e| e["other"] == "france"),
        "paris is linked to france: {c}"
    );
    assert!(
        edges
            .iter()
            .all(|e| !e["examples"].as_array().unwrap().is_empty())
    );
    assert_error(
        &get(&s.url("/v1/concepts/xyzzyplugh")),
        404,
        "not_found",
        None,
    );
}

#[test]
fn bad_input_gets_a_clear_error_naming_the_field() {
    let Some(s) = demo() else { return };
    let client = client();
    let raw = |path: &str, body: &str, ct: &str| -> (u16, Value) {
        let r = client
            .post(s.url(path))
            .header("content-type", ct)
            .body(body.to_string())
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    };
    let json_ct = "application/json";
    assert_error(
        &raw("/v1/statements", "{\"statements\": [", json_ct),
        400,
        "malformed_json",
        None,
    );
    assert_error(
        &raw("/v1/check", "{\"text\": \"a\"} trailing", json_ct),
        400,
        "malformed_json",
        None,
    );
    assert_error(
        &raw("/v1/check", "{\"text\": \"a\"}", "text/plain"),
        415,
        "unsupported_media_type",
        None,
    );
    let st = s.url("/v1/statements");
    assert_error(
        &post(&st, &json!({"statements": [{"text": 42}]})),
        422,
        "invalid_field",
        Some("statements[0].text"),
    );
    assert_error(
        &post(
            &st,
            &json!({"statements": [{"text": "ok", "colour": "red"}]}),
        ),
        422,
        "invalid_field",
        Some("statements[0].colour"),
    );
    assert_error(
        &post(&st, &json!({"statements": [], "chek": true})),
        422,
        "invalid_field",
        None,
    );
    assert_error(
        &post(&st, &json!({"statements": []})),
        422,
        "invalid_field",
        Some("statements"),
    );
    assert_error(
        &post(
            &st,
            &json!({"statements": [{"text": "fine"}, {"text": "   "}]}),
        ),
        422,
        "invalid_field",
        Some("statements[1].text"),
    );
    assert_error(
        &post(
            &st,
            &json!({"statements": [{"text": "fine", "lang": "en glish"}]}),
        ),
        422,
        "invalid_field",
        Some("statements[0].lang"),
    );
    assert_error(
        &post(&st, &json!({"statements": [{"text": "fine"}], "k": 0})),
        422,
        "invalid_field",
        Some("k"),
    );
    assert_error(
        &post(&s.url("/v1/check"), &json!({"texts": ["a"], "text": "b"})),
        422,
        "invalid_field",
        Some("texts"),
    );
    assert_error(
        &post(&s.url("/v1/check"), &json!({})),
        422,
        "invalid_field",
        Some("text"),
    );
    assert_error(
        &post(&s.url("/v1/check"), &json!([1, 2])),
        422,
        "invalid_body",
        None,
    );
    // a body over the 1 MiB limit
    let big = "x".repeat(1024 * 1024 + 10);
    assert_error(
        &post(&st, &json!({"statements": [{"text": big}]})),
        413,
        "body_too_large",
        None,
    );
    // a text over the 64 KiB limit within the body limit
    let long = "word ".repeat(14_000);
    assert_error(
        &post(&st, &json!({"statements": [{"text": long}]})),
        422,
        "invalid_field",
        Some("statements[0].text"),
    );
    assert_error(
        &get(&s.url("/v1/similar?text=x&k=abc")),
        422,
        "invalid_field",
        Some("k"),
    );
    assert_error(
        &get(&s.url("/v1/similar?text=x&colour=red")),
        422,
        "invalid_field",
        Some("colour"),
    );
    assert_error(
        &get(&s.url("/v1/scars?cursor=nonsense")),
        422,
        "invalid_field",
        Some("cursor"),
    );
    assert_error(
        &get(&s.url("/v1/scars?limit=0")),
        422,
        "invalid_field",
        Some("limit"),
    );
    assert_error(
        &get(&s.url("/v1/statements/no-such-id")),
        404,
        "not_found",
        None,
    );
    assert_error(&get(&s.url("/v1/runs/12345")), 404, "not_found", None);
    assert_error(&get(&s.url("/v1/runs/abc")), 404, "not_found", None);
    assert_error(&get(&s.url("/v2/anything")), 404, "no_route", None);
    let r = client.delete(s.url("/v1/check")).send().unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(
        r.json::<Value>().unwrap()["error"]["code"],
        "method_not_allowed"
    );
}

#[test]
fn eight_concurrent_clients_store_every_statement_once() {
    // the hash encoder and the lexical rules: what is tested is the writer (every
    // statement checked and stored once), not the model's speed
    let s = TestServer::seeded(light_models(), &[], false, |_| {});
    // client c sends statements c*10 .. c*10+12: the last two overlap the next client's
    let threads: Vec<_> = (0..8)
        .map(|c| {
            let url = s.url("/v1/statements");
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for batch in [c * 10..c * 10 + 6, c * 10 + 6..c * 10 + 12] {
                    let statements: Vec<Value> = batch
                        .map(|i| json!({"text": format!("Sensor {i} reads {i} degrees."), "lang": "en"}))
                        .collect();
                    let (status, body) = post(&url, &json!({"statements": statements}));
                    assert_eq!(status, 200, "{body}");
                    for st in body["statements"].as_array().unwrap() {
                        ids.push(st["id"].as_str().unwrap().to_string());
                    }
                }
                ids
            })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for t in threads {
        ids.extend(t.join().unwrap());
    }
    // 8 clients × 12 statements, 80 distinct (the overlaps are duplicates)
    assert_eq!(ids.len(), 82, "ids: {}", ids.len());
    let store = kimera_store::Store::open(&s.db).unwrap();
    assert_eq!(store.counts().unwrap().geoids, 82);
    for id in &ids {
        let (status, d) = get(&s.url(&format!("/v1/statements/{id}")));
        assert_eq!(status, 200, "{id}: {d}");
    }
    let (_, m) = get(&s.url("/readyz"));
    assert_eq!(m["vectors"], 82, "every statement is in the index");
}

#[test]
fn metrics_count_requests_per_route_and_show_the_store() {
    let Some(s) = demo() else { return };
    get(&s.url("/v1/statements/nobody"));
    let text = client()
        .get(s.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        text.contains("kimera_http_requests_total{route=\"/v1/statements/{id}\",method=\"GET\",status=\"404\"}"),
        "{text}"
    );
    assert!(text.contains("kimera_http_request_duration_seconds_bucket"));
    let gauge = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    assert!(gauge("kimera_statements") >= 150.0);
    assert!(gauge("kimera_index_vectors") >= 150.0);
    assert_eq!(gauge("kimera_ready"), 1.0);
    assert!(gauge("kimera_write_queue_depth") >= 0.0);
    assert!(text.trim_end().ends_with("# EOF"));
}

#[test]
fn responses_carry_a_request_id_and_keep_the_clients() {
    let Some(s) = demo() else { return };
    let r = client().get(s.url("/healthz")).send().unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(!id.is_empty());
    let r2 = client().get(s.url("/healthz")).send().unwrap();
    assert_ne!(r2.headers()["x-request-id"].to_str().unwrap(), id);
    let r3 = client()
        .get(s.url("/healthz"))
        .header("x-request-id", "client-chosen-7")
        .send()
        .unwrap();
    assert_eq!(r3.headers()["x-request-id"], "client-chosen-7");
    // CORS is off: no Access-Control headers, even for a browser's origin
    let r4 = client()
        .get(s.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .unwrap();
    assert!(r4.headers().get("access-control-allow-origin").is_none());
}
