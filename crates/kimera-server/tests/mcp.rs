//! MCP over streamable HTTP (`/mcp` on the server), through rmcp's own client:
//! initialize, tools/list, a `check` call that answers like `POST /v1/check`, and the
//! token's scope applied to `remember`.

mod common;

use common::*;
use kimera_server::{Scope, Tokens};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

const READER: &str = "mcp-reader-token-0123456789";
const WRITER: &str = "mcp-writer-token-0123456789";

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// `v` with every fractional number at f32 precision: scores and cosines are f32, which
/// the HTTP body writes with f32's shortest digits and rmcp's structured content with
/// f64's (0.81534517 and 0.8153451681137085 are the same f32).
fn at_f32(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => json!(n.as_f64().unwrap() as f32),
        Value::Array(a) => Value::Array(a.iter().map(at_f32).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), at_f32(v))).collect()),
        other => other.clone(),
    }
}

#[test]
fn an_mcp_client_initializes_lists_the_tools_and_checks_a_statement() {
    let Some(models) = real_models() else { return };
    let s = TestServer::seeded(models, &[demo_statements()], false, |c| {
        let mut t = Tokens::default();
        t.add(READER, Scope::ReadOnly).unwrap();
        t.add(WRITER, Scope::ReadWrite).unwrap();
        c.tokens = t;
    });
    let denial = "Paris is not the capital of France.";
    let client = reqwest::blocking::Client::new();
    let http: Value = client
        .post(s.url("/v1/check"))
        .bearer_auth(READER)
        .json(&json!({"text": denial}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let url = s.url("/mcp");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let connect = |token: &str| {
            StreamableHttpClientTransport::from_config(
                StreamableHttpClientTransportConfig::with_uri(url.clone())
                    .auth_header(token.to_string()),
            )
        };
        let mcp = ClientConfig::default()
            .serve(connect(READER))
            .await
            .expect("initialize");
        let info = mcp.peer_info().expect("the server's initialize result");
        assert_eq!(info.server_info.as_ref().unwrap().name, "kimera");
        assert!(info.capabilities.tools.is_some());
        assert!(info.instructions.as_deref().unwrap().contains("remember"));

        let tools = mcp.list_all_tools().await.unwrap();
        let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "check",
                "concept",
                "conflicts",
                "recall",
                "remember",
                "resolve",
                "scars"
            ]
        );
        let check = tools.iter().find(|t| t.name == "check").unwrap();
        let schema = serde_json::to_string(&check.input_schema).unwrap();
        assert!(
            schema.contains("texts") && schema.contains("\"k\""),
            "{schema}"
        );

        let result = mcp
            .call_tool(
                CallToolRequestParams::new("check").with_arguments(args(json!({"text": denial}))),
            )
            .await
            .unwrap();
        assert_ne!(result.is_error, Some(true), "{result:?}");
        let out = result.structured_content.expect("a structured result");
        let hits = out["results"][0]["contradictions"].as_array().unwrap();
        assert!(
            hits.iter()
                .any(|h| h["text"] == "Paris is the capital of France."),
            "{out}"
        );
        // the same answer as the HTTP route
        assert_eq!(at_f32(&out["results"]), at_f32(&http["results"]));

        // a read-only token may not remember; a bad argument is a tool error naming it
        let refused = mcp
            .call_tool(
                CallToolRequestParams::new("remember")
                    .with_arguments(args(json!({"text": "Agents remember this."}))),
            )
            .await
            .unwrap();
        assert_eq!(refused.is_error, Some(true));
        let refused_resolve = mcp
            .call_tool(
                CallToolRequestParams::new("resolve")
                    .with_arguments(args(json!({"id": 1, "keep": "a"}))),
            )
            .await
            .unwrap();
        assert_eq!(refused_resolve.is_error, Some(true));
        let refused_auto = mcp
            .call_tool(
                CallToolRequestParams::new("resolve")
                    .with_arguments(args(json!({"auto": true, "dry_run": true}))),
            )
            .await
            .unwrap();
        assert_eq!(refused_auto.is_error, Some(true), "a reader may not settle");
        assert!(
            format!("{:?}", refused.content).contains("read"),
            "{refused:?}"
        );
        let bad = mcp
            .call_tool(
                CallToolRequestParams::new("check")
                    .with_arguments(args(json!({"k": 0, "text": "x"}))),
            )
            .await
            .unwrap();
        assert_eq!(bad.is_error, Some(true));
        assert!(
            format!("{:?}", bad.content).contains("invalid_field"),
            "{bad:?}"
        );
        mcp.cancel().await.unwrap();

        let writer = ClientConfig::default()
            .serve(connect(WRITER))
            .await
            .unwrap();
        let remembered = writer
            .call_tool(
                CallToolRequestParams::new("remember").with_arguments(args(json!({
                    "text": "Paris is the capital of Germany.",
                    "lang": "en"
                }))),
            )
            .await
            .unwrap();
        assert_ne!(remembered.is_error, Some(true), "{remembered:?}");
        let out = remembered.structured_content.unwrap();
        assert_eq!(out["inserted"], 1, "{out}");
        // settle what it contradicts: resolve and undo through the tool
        let listed = writer
            .call_tool(CallToolRequestParams::new("conflicts").with_arguments(args(json!({}))))
            .await
            .unwrap();
        let listed = listed.structured_content.expect("a structured result");
        assert_eq!(
            listed["open"].as_u64().unwrap(),
            listed["conflicts"].as_array().unwrap().len() as u64
        );
        let missing = writer
            .call_tool(
                CallToolRequestParams::new("resolve")
                    .with_arguments(args(json!({"id": 999_999, "keep": "a"}))),
            )
            .await
            .unwrap();
        assert_eq!(missing.is_error, Some(true));
        assert!(format!("{:?}", missing.content).contains("not_found"));
        if let Some(id) = listed["conflicts"][0]["id"].as_i64() {
            let settled = writer
                .call_tool(
                    CallToolRequestParams::new("resolve")
                        .with_arguments(args(json!({"id": id, "keep": "both"}))),
                )
                .await
                .unwrap();
            let settled = settled.structured_content.expect("a structured result");
            assert_eq!(settled["resolution"], "both_valid", "{settled}");
            assert_eq!(settled["decided_by"], "mcp");
            let undone = writer
                .call_tool(
                    CallToolRequestParams::new("resolve")
                        .with_arguments(args(json!({"id": id, "keep": "undo"}))),
                )
                .await
                .unwrap();
            assert_eq!(undone.structured_content.unwrap()["status"], "open");
        }
        // every open conflict by a strategy: decided (a dry run writes nothing)
        let auto = writer
            .call_tool(CallToolRequestParams::new("resolve").with_arguments(args(
                json!({"auto": true, "strategy": "recency", "dry_run": true}),
            )))
            .await
            .unwrap();
        assert_ne!(auto.is_error, Some(true), "{auto:?}");
        let auto = auto.structured_content.expect("a structured result")["auto"].clone();
        assert_eq!(auto["dry_run"], true, "{auto}");
        assert_eq!(auto["strategy"], "recency");
        assert_eq!(auto["examined"], listed["open"], "{auto}");
        let both = writer
            .call_tool(
                CallToolRequestParams::new("resolve")
                    .with_arguments(args(json!({"auto": true, "id": 1}))),
            )
            .await
            .unwrap();
        assert_eq!(both.is_error, Some(true));
        assert!(format!("{:?}", both.content).contains("auto"), "{both:?}");
        writer.cancel().await.unwrap();
    });
    // what the MCP client stored is in the store, with its source
    let store = kimera_store::Store::open(&s.db).unwrap();
    let id = kimera_core::GeoidId::from_text("Paris is the capital of Germany.", "en");
    assert_eq!(store.geoid(&id).unwrap().unwrap().source, "api:mcp");
}
