//! The API as MCP tools, with the official Rust SDK (rmcp): `remember`, `check`,
//! `recall`, `scars`, `concept`, `conflicts`, `resolve` — each a call to the same [`Engine`] method as its HTTP
//! route, so both give the same answers.
//!
//! Two transports: stdio ([`serve_stdio`], `kimera mcp`, for desktop agents that start
//! the server themselves) and streamable HTTP at `/mcp` on `kimera serve`
//! ([`http_service`]), behind the same bearer tokens as the HTTP API: a read-only token
//! may call every tool but `remember` and `resolve`.
//!
//! To add a tool: an engine method, an argument type deriving `JsonSchema`, and a
//! `#[tool]` method below calling it.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig as McpInfo};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{Json, RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::api::*;
use crate::auth::Scope;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::http::AppState;
use crate::{EngineError, Result};

/// Where the tools find the engine.
#[derive(Debug, Clone)]
enum Source {
    /// Inside `kimera serve`: the engine may still be loading; access by token.
    Http(AppState),
    /// `kimera mcp` over stdio: the local user, full access.
    Local(Arc<Engine>),
}

/// The MCP server: kimera's tools.
#[derive(Debug, Clone)]
pub struct KimeraMcp {
    source: Source,
    tool_router: ToolRouter<Self>,
}

/// `remember`: one `text`, or several `statements`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RememberArgs {
    /// One statement to store.
    #[serde(default)]
    pub text: Option<String>,
    /// Its language (`en`, `fr`...; default `und`).
    #[serde(default)]
    pub lang: Option<String>,
    /// Several statements to store (instead of `text`).
    #[serde(default)]
    pub statements: Option<Vec<StatementIn>>,
    /// Check them against what is stored first and record contradictions (default true).
    #[serde(default)]
    pub check: Option<bool>,
}

/// `recall`: stored statements related to a text.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallArgs {
    /// What to look for.
    pub text: String,
    /// How many statements (default 10).
    #[serde(default)]
    pub k: Option<usize>,
}

/// `resolve`: settle one conflict, or undo its resolution; or, with `auto`, every open
/// conflict by a strategy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveArgs {
    /// The conflict's id (from `conflicts`); not with `auto`.
    #[serde(default)]
    pub id: Option<i64>,
    /// `a`, `b`, `both` (true in different contexts or times), `neither` (not a
    /// contradiction), or `undo` to reopen it; not with `auto`.
    #[serde(default)]
    pub keep: Option<String>,
    /// Why (kept with the decision).
    #[serde(default)]
    pub note: Option<String>,
    /// Settle every open conflict by `strategy` (default: the server's).
    #[serde(default)]
    pub auto: bool,
    /// With `auto`: manual, recency, source, confidence or consensus.
    #[serde(default)]
    pub strategy: Option<String>,
    /// With `auto`: decide without writing anything.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// What `resolve` did: the conflict (one settled or reopened), or under `auto` what the
/// strategy decided.
#[derive(Debug, Clone, serde::Serialize, JsonSchema)]
pub struct ResolveOut {
    #[serde(flatten)]
    pub conflict: Option<ConflictOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto: Option<AutoResolveOut>,
}

/// `concept`: one term of the concept graph.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConceptArgs {
    /// The concept ("Cities" finds "city").
    pub term: String,
}

/// An engine error as the tool's error text: the API's `{"error": {...}}`.
fn tool_error(e: EngineError) -> String {
    let body = ApiError::from(e).body();
    serde_json::to_string(&body).unwrap_or(body.error.message)
}

#[tool_router]
impl KimeraMcp {
    fn new(source: Source) -> KimeraMcp {
        KimeraMcp {
            source,
            tool_router: Self::tool_router(),
        }
    }

    /// The tools on an engine, for the local user (stdio).
    pub fn local(engine: Arc<Engine>) -> KimeraMcp {
        KimeraMcp::new(Source::Local(engine))
    }

    fn engine(&self) -> std::result::Result<Arc<Engine>, String> {
        match &self.source {
            Source::Local(e) => Ok(e.clone()),
            Source::Http(state) => state.ready().cloned().map_err(|e| {
                serde_json::to_string(&e.body()).unwrap_or_else(|_| e.message.clone())
            }),
        }
    }

    /// The caller's scope: the token's over HTTP, full over stdio.
    fn scope(&self, ctx: &RequestContext<RoleServer>) -> Scope {
        match &self.source {
            Source::Local(_) => Scope::ReadWrite,
            Source::Http(_) => ctx
                .extensions
                .get::<axum::http::request::Parts>()
                .and_then(|p| p.extensions.get::<Scope>().copied())
                .unwrap_or(Scope::ReadOnly),
        }
    }

    #[tool(
        description = "Store statements in kimera's memory. Each is first checked against \
            what is stored: the answer lists, per statement, the stored statements it \
            contradicts (with score, detector and evidence), and those contradictions are \
            recorded. Statements are stored once: sending one again is harmless."
    )]
    async fn remember(
        &self,
        Parameters(a): Parameters<RememberArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<Json<AddStatementsOut>, String> {
        if self.scope(&ctx) != Scope::ReadWrite {
            return Err(tool_error(EngineError::Other(
                "this token may read but not write; use a read-write token".into(),
            )));
        }
        let statements = match (a.text, a.statements) {
            (Some(text), None) => vec![StatementIn {
                text,
                lang: a.lang,
                id: None,
                source: Some("mcp".into()),
                valid_from: None,
                valid_to: None,
            }],
            (None, Some(list)) => list,
            _ => {
                return Err(tool_error(EngineError::invalid(
                    "text",
                    "give `text` or `statements`, not both",
                )));
            }
        };
        let req = AddStatements {
            statements,
            check: a.check.unwrap_or(true),
            k: None,
        };
        self.engine()?
            .remember(req)
            .await
            .map(Json)
            .map_err(tool_error)
    }

    #[tool(
        description = "Check statements against kimera's memory without storing them: for \
            each, the stored statements it contradicts, strongest first, with the detector \
            and its evidence. Give `text` (one) or `texts` (several)."
    )]
    async fn check(
        &self,
        Parameters(a): Parameters<CheckIn>,
    ) -> std::result::Result<Json<CheckOut>, String> {
        self.engine()?.check(a).await.map(Json).map_err(tool_error)
    }

    #[tool(
        description = "Recall the stored statements most related to a text (semantic \
            similarity), nearest first."
    )]
    async fn recall(
        &self,
        Parameters(a): Parameters<RecallArgs>,
    ) -> std::result::Result<Json<SimilarOut>, String> {
        self.engine()?
            .similar(SimilarIn {
                text: a.text,
                k: a.k,
                as_of: None,
            })
            .await
            .map(Json)
            .map_err(tool_error)
    }

    #[tool(
        description = "List the contradictions (scars) recorded in kimera's memory, \
            strongest first, a page at a time (pass `next_cursor` as `cursor`)."
    )]
    async fn scars(
        &self,
        Parameters(a): Parameters<ScarsIn>,
    ) -> std::result::Result<Json<ScarsOut>, String> {
        self.engine()?.scars(a).await.map(Json).map_err(tool_error)
    }

    #[tool(
        description = "List the conflicts in kimera's memory: one per pair of contradicting \
            statements, every detector's verdict merged, strongest first, with its type \
            (negation, number, date...) and status (open by default; `status`: resolved, all)."
    )]
    async fn conflicts(
        &self,
        Parameters(a): Parameters<ConflictsIn>,
    ) -> std::result::Result<Json<ConflictsOut>, String> {
        self.engine()?
            .conflicts(a)
            .await
            .map(Json)
            .map_err(tool_error)
    }

    #[tool(
        description = "Settle a conflict: keep `a` (B is superseded), keep `b` (A is \
            superseded), `both` (true in different contexts or times) or `neither` (not a \
            contradiction); `undo` reopens it. Nothing is deleted: a superseded statement \
            is left out of checks and recall, and comes back on undo. With `auto: true` \
            (and no `id`), every open conflict is settled by `strategy` (recency, source, \
            confidence, consensus; default the server's) and the answer's `auto` says what \
            was decided; `dry_run` only decides."
    )]
    async fn resolve(
        &self,
        Parameters(a): Parameters<ResolveArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<Json<ResolveOut>, String> {
        if self.scope(&ctx) != Scope::ReadWrite {
            return Err(tool_error(EngineError::Other(
                "this token may read but not write; use a read-write token".into(),
            )));
        }
        let engine = self.engine()?;
        if a.auto {
            if a.id.is_some() || a.keep.is_some() {
                return Err(tool_error(EngineError::invalid(
                    "auto",
                    "settles every open conflict: give no `id` or `keep` with it",
                )));
            }
            let req = AutoResolveIn {
                strategy: a.strategy,
                dry_run: a.dry_run,
            };
            let out = engine.auto_resolve(req).await.map_err(tool_error)?;
            return Ok(Json(ResolveOut {
                conflict: None,
                auto: Some(out),
            }));
        }
        let (Some(id), Some(keep)) = (a.id, a.keep) else {
            return Err(tool_error(EngineError::invalid(
                if a.id.is_none() { "id" } else { "keep" },
                "give the conflict's `id` and `keep`, or `auto: true`",
            )));
        };
        let req = (keep.trim() != "undo").then_some(ResolveIn { keep, note: a.note });
        let out = engine.settle(id, req, "mcp").await.map_err(tool_error)?;
        Ok(Json(ResolveOut {
            conflict: Some(out),
            auto: None,
        }))
    }

    #[tool(
        description = "What kimera's concept graph knows about a term: its associations \
            (is-a, part-of, causes, attributes...) with their strength and the statements \
            they were learned from."
    )]
    async fn concept(
        &self,
        Parameters(a): Parameters<ConceptArgs>,
    ) -> std::result::Result<Json<ConceptOut>, String> {
        self.engine()?
            .concept(a.term, ConceptIn::default())
            .await
            .map(Json)
            .map_err(tool_error)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for KimeraMcp {
    fn get_info(&self) -> McpInfo {
        McpInfo::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("kimera", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "kimera keeps a body of knowledge consistent. `remember` stores statements \
                 and tells which stored ones each contradicts; `check` does the same without \
                 storing; `recall` finds related stored statements; `scars` lists the \
                 contradictions recorded; `concept` shows what the concept graph knows.",
            )
    }
}

/// `/mcp`: the tools over streamable HTTP, on the server's state (the routes' access
/// layer has put the token's scope into each request).
pub fn http_service(state: AppState) -> StreamableHttpService<KimeraMcp, LocalSessionManager> {
    let cfg = &state.0.cfg;
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    if !cfg.addr.ip().is_unspecified() {
        hosts.push(cfg.addr.ip().to_string());
    }
    hosts.extend(cfg.allowed_hosts.iter().cloned());
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_max_request_body_bytes(cfg.body_limit)
        .with_cancellation_token(state.0.shutdown.child_token());
    StreamableHttpService::new(
        move || Ok(KimeraMcp::new(Source::Http(state.clone()))),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// `kimera mcp`: serves the tools on stdin/stdout until the client closes them, then
/// lets the writer commit what is queued.
pub async fn serve_stdio(engine: Arc<Engine>) -> Result<()> {
    let service = KimeraMcp::local(engine.clone())
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| EngineError::Other(format!("MCP over stdio: {e}")))?;
    let ended = service.waiting().await;
    let e = engine.clone();
    tokio::task::spawn_blocking(move || e.shutdown())
        .await
        .map_err(|e| EngineError::Other(e.to_string()))?;
    ended
        .map(|_| ())
        .map_err(|e| EngineError::Other(format!("MCP over stdio: {e}")))
}
