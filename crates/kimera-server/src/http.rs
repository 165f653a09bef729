//! The HTTP API: routes, request parsing, access and the layers around them.
//!
//! Routes are registered with utoipa-axum's `routes!`, which takes each handler's
//! `#[utoipa::path]` description with it: a route cannot be served undocumented, and
//! `/openapi.json` is generated from the same code (OpenAPI 3.1). To add one — say
//! `/v1/conflicts` — write the handler with its `#[utoipa::path]`, call the engine, and
//! add a `.routes(routes!(handler))` line to [`router`]; write routes also take a
//! [`WriteAccess`].
//!
//! Layers, outermost first: request id (`x-request-id`, taken from the client or made
//! here, echoed in the response) → request log (one line per request with the id, route,
//! status and latency; never headers, so never a token) → metrics → CORS (only when
//! origins are configured) → access (bearer token → [`Scope`], 401 without one) →
//! deadline (`/v1` only) → handler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::*;
use crate::auth::Scope;
use crate::config::ServerConfig;
use crate::engine::Engine;
use crate::error::{ApiError, ErrorBody};
use crate::metrics::Metrics;

/// What every handler shares: the configuration, the engine once it is loaded, the
/// metrics.
#[derive(Debug)]
pub struct Shared {
    pub cfg: ServerConfig,
    engine: OnceLock<Arc<Engine>>,
    load_error: OnceLock<String>,
    metrics: Metrics,
    openapi: OnceLock<String>,
    /// Cancelled when the server shuts down (ends MCP streams).
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// The router's state.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<Shared>);

impl AppState {
    pub fn new(cfg: ServerConfig) -> AppState {
        AppState(Arc::new(Shared {
            cfg,
            engine: OnceLock::new(),
            load_error: OnceLock::new(),
            metrics: Metrics::default(),
            openapi: OnceLock::new(),
            shutdown: tokio_util::sync::CancellationToken::new(),
        }))
    }

    /// The server's configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.0.cfg
    }

    /// Makes the server ready.
    pub fn set_engine(&self, engine: Arc<Engine>) {
        let _ = self.0.engine.set(engine);
    }

    /// Records why the engine could not load (`/readyz` says it).
    pub fn set_load_error(&self, why: String) {
        let _ = self.0.load_error.set(why);
    }

    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.0.engine.get()
    }

    /// The engine, or 503 while it loads.
    pub fn ready(&self) -> Result<&Arc<Engine>, ApiError> {
        match (self.0.engine.get(), self.0.load_error.get()) {
            (Some(e), _) => Ok(e),
            (None, Some(why)) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "load_failed",
                format!("the server could not load: {why}"),
            )),
            (None, None) => Err(ApiError::unavailable(
                "not_ready",
                "the model and the index are still loading; poll /readyz",
                1,
            )),
        }
    }
}

/// A JSON body: `application/json`, within the body limit, every field known. Errors
/// name what is wrong: 415 another content type, 413 too large, 400 not JSON (with line
/// and column), 422 a field of the wrong type or unknown (with its path).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json")
                    || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is over the server's limit (1 MiB unless configured); \
                     send fewer statements per request",
                )
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_body", e.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body, naming the field at fault (see [`ApiJson`]). Every body of the
/// API is an object: anything else is refused whole (serde would read an array as the
/// object's fields in order, so `["a"]` could pass for `{"text": "a"}`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    "the body is not the expected object: it must be a JSON object",
                ),
                Err(e) => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    format!("the body is not valid JSON: {e}"),
                ),
            },
        );
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // a key that is the empty string is named as JSON writes it, `""`
        let path = match e.path().to_string() {
            p if p.is_empty() => "\"\"".to_string(),
            p => p,
        };
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                if path == "." {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_body",
                        format!("the body is not the expected object: {inner}"),
                    )
                } else {
                    ApiError::invalid(path, strip_position(&inner.to_string()))
                }
            }
            _ => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the body is not valid JSON: {inner}"),
            ),
        }
    })?;
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    Ok(value)
}

/// serde_json's " at line 1 column 42" says nothing once the field is named.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Query parameters, every one known, the one at fault named (422).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if path == "." {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_query",
                        format!("query string: {inner}"),
                    )
                } else {
                    ApiError::invalid(path, inner)
                }
            })
    }
}

/// Proof that the request may write: its token is read-write (403 otherwise).
#[derive(Debug, Clone, Copy)]
pub struct WriteAccess;

impl<S: Send + Sync> FromRequestParts<S> for WriteAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<Scope>() {
            Some(Scope::ReadWrite) => Ok(WriteAccess),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "read_only_token",
                "this token may read but not write; use a read-write token",
            )),
        }
    }
}

/// The token of a request, if it sent one: `Authorization: Bearer`, else the review
/// page's cookie (see [`crate::review`]).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    crate::review::presented_token(headers)
}

/// Access: with tokens configured, a valid bearer token is required (401) and its scope
/// goes into the request's extensions; without tokens (loopback only) everything may
/// read and write.
async fn access(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let tokens = &s.0.cfg.tokens;
    let scope = if tokens.is_empty() {
        Scope::ReadWrite
    } else {
        let Some(token) = bearer(req.headers()) else {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "send `Authorization: Bearer <token>`",
            )
            .into_response();
        };
        match tokens.scope_of(token) {
            Some(scope) => scope,
            None => {
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "the bearer token is not one of this server's",
                )
                .into_response();
            }
        }
    };
    req.extensions_mut().insert(scope);
    next.run(req).await
}

/// The longest a `/v1` request may take (503 `timeout` beyond).
async fn deadline(State(s): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(s.0.cfg.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::unavailable(
            "timeout",
            format!(
                "the request took longer than {} s; a write may still complete, and sending \
                 it again is safe (statements are stored once)",
                s.0.cfg.request_timeout.as_secs_f64()
            ),
            1,
        )
        .into_response(),
    }
}

/// Counts every request by route template, method and status.
async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().clone();
    let resp = next.run(req).await;
    s.0.metrics.observe(
        &route,
        method.as_str(),
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

/// Request ids: a per-process prefix and a counter (`4f1c2a-17`), unless the client
/// sent its own.
#[derive(Debug, Clone)]
struct Ids {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl Ids {
    fn new() -> Ids {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let h = blake3::hash(format!("{nanos}-{}", std::process::id()).as_bytes());
        Ids {
            prefix: h.to_hex()[..6].into(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for Ids {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kimera",
        description = "Keeps a body of knowledge consistent: statements in, contradictions out. \
            Every error is `{\"error\": {\"code\", \"message\", \"field\"?}}`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(mcp_endpoint),
    components(schemas(ErrorBody)),
    modifiers(&Bearer),
    tags(
        (name = "statements", description = "Store statements, checked as they arrive"),
        (name = "check", description = "Check statements against the store without writing"),
        (name = "read", description = "Statements, neighbours, scars, concepts"),
        (name = "runs", description = "Reactor cycles over the whole store"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
        (name = "mcp", description = "Model Context Protocol (streamable HTTP)"),
    )
)]
struct ApiDoc;

/// The `bearer` security scheme the routes refer to.
struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from the server's token file or KIMERA_API_TOKEN \
                         (read-only or read-write); not needed when the server has none",
                    ))
                    .build(),
            ),
        );
    }
}

/// MCP over streamable HTTP: JSON-RPC requests by POST (answered as JSON or an SSE
/// stream), GET for a server stream, DELETE to end a session. Tools: remember, check,
/// recall, scars, concept. Speak to it with an MCP client, not by hand.
#[utoipa::path(
    method(get, post, delete),
    path = "/mcp",
    tag = "mcp",
    responses(
        (status = 200, description = "A JSON-RPC response or an SSE stream"),
        (status = 401, description = "No valid token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)] // documents the route served by rmcp's service
async fn mcp_endpoint() {}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Store statements, checking each against the store first (`check`, default true): the
/// statements, their vectors and the scars found are committed together before the
/// answer, so every statement in a 200 answer is durable. Sending the same statements
/// again is safe: they are stored once.
#[utoipa::path(
    post,
    path = "/v1/statements",
    tag = "statements",
    request_body = AddStatements,
    responses(
        (status = 200, description = "Stored (and checked)", body = AddStatementsOut),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Read-only token", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A field is not acceptable", body = ErrorBody),
        (status = 503, description = "Write queue full, not ready, or timeout (see Retry-After)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn add_statements(
    State(s): State<AppState>,
    _: WriteAccess,
    ApiJson(req): ApiJson<AddStatements>,
) -> ApiResult<AddStatementsOut> {
    Ok(Json(s.ready()?.remember(req).await?))
}

/// A stored statement and the scars that touch it.
#[utoipa::path(
    get,
    path = "/v1/statements/{id}",
    tag = "read",
    params(("id" = String, Path, description = "The statement's id")),
    responses(
        (status = 200, body = StatementDetail),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such statement", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn get_statement(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatementDetail> {
    Ok(Json(s.ready()?.statement(id).await?))
}

/// Which stored statements does each text contradict? The same answer as `kimera check`
/// on the same store; nothing is written.
#[utoipa::path(
    post,
    path = "/v1/check",
    tag = "check",
    request_body = CheckIn,
    responses(
        (status = 200, body = CheckOut),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 503, description = "Busy or not ready (see Retry-After)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn check(State(s): State<AppState>, ApiJson(req): ApiJson<CheckIn>) -> ApiResult<CheckOut> {
    Ok(Json(s.ready()?.check(req).await?))
}

/// The stored statements nearest to a text (cosine of MiniLM vectors), nearest first.
#[utoipa::path(
    get,
    path = "/v1/similar",
    tag = "read",
    params(SimilarIn),
    responses(
        (status = 200, body = SimilarOut),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn similar(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<SimilarIn>,
) -> ApiResult<SimilarOut> {
    Ok(Json(s.ready()?.similar(q).await?))
}

/// The contradictions found, strongest first, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/scars",
    tag = "read",
    params(ScarsIn),
    responses(
        (status = 200, body = ScarsOut),
        (status = 401, body = ErrorBody),
        (status = 422, description = "Bad limit or cursor", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn scars(State(s): State<AppState>, ApiQuery(q): ApiQuery<ScarsIn>) -> ApiResult<ScarsOut> {
    Ok(Json(s.ready()?.scars(q).await?))
}

/// The conflicts: one per pair of contradicting statements with every detector's verdict
/// merged, strongest first, a page at a time (open ones by default).
#[utoipa::path(
    get,
    path = "/v1/conflicts",
    tag = "conflicts",
    params(ConflictsIn),
    responses(
        (status = 200, body = ConflictsOut),
        (status = 401, body = ErrorBody),
        (status = 422, description = "Bad status, type, limit or cursor", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list_conflicts(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ConflictsIn>,
) -> ApiResult<ConflictsOut> {
    Ok(Json(s.ready()?.conflicts(q).await?))
}

/// One conflict with both statements and every detector's verdict.
#[utoipa::path(
    get,
    path = "/v1/conflicts/{id}",
    tag = "conflicts",
    params(("id" = i64, Path, description = "The conflict's id")),
    responses(
        (status = 200, body = ConflictOut),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such conflict", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn get_conflict(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<ConflictOut> {
    Ok(Json(s.ready()?.conflict(conflict_id(&id)?).await?))
}

/// Settles a conflict: `keep` a (B is superseded), b (A is superseded), both or
/// neither. Nothing is deleted; the decision is durable before the answer, and checks
/// and similarity leave the superseded statement out from then on.
#[utoipa::path(
    post,
    path = "/v1/conflicts/{id}/resolve",
    tag = "conflicts",
    params(("id" = i64, Path, description = "The conflict's id")),
    request_body = ResolveIn,
    responses(
        (status = 200, description = "Resolved", body = ConflictOut),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Read-only token", body = ErrorBody),
        (status = 404, description = "No such conflict", body = ErrorBody),
        (status = 409, description = "Already resolved (undo it first)", body = ErrorBody),
        (status = 422, description = "Bad `keep`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn resolve_conflict(
    State(s): State<AppState>,
    _: WriteAccess,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ResolveIn>,
) -> ApiResult<ConflictOut> {
    Ok(Json(
        s.ready()?
            .settle(conflict_id(&id)?, Some(req), "api")
            .await?,
    ))
}

/// Undoes a conflict's resolution: it is open again and the statement it superseded is
/// current again.
#[utoipa::path(
    post,
    path = "/v1/conflicts/{id}/undo",
    tag = "conflicts",
    params(("id" = i64, Path, description = "The conflict's id")),
    responses(
        (status = 200, description = "Open again", body = ConflictOut),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Read-only token", body = ErrorBody),
        (status = 404, description = "No such conflict", body = ErrorBody),
        (status = 409, description = "Not resolved", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn undo_conflict(
    State(s): State<AppState>,
    _: WriteAccess,
    Path(id): Path<String>,
) -> ApiResult<ConflictOut> {
    Ok(Json(
        s.ready()?.settle(conflict_id(&id)?, None, "api").await?,
    ))
}

/// Settles every open conflict by a strategy (`strategy`, else the server's), as
/// `kimera resolve --auto` does; `dry_run` decides without writing. Answers the
/// decisions: how many were examined, settled and left open, per resolution, and the
/// first ones with why. Durable before the answer.
#[utoipa::path(
    post,
    path = "/v1/conflicts/resolve-auto",
    tag = "conflicts",
    request_body = AutoResolveIn,
    responses(
        (status = 200, description = "Decided (and written unless a dry run)", body = AutoResolveOut),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Read-only token", body = ErrorBody),
        (status = 422, description = "Bad `strategy`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn resolve_auto(
    State(s): State<AppState>,
    _: WriteAccess,
    ApiJson(req): ApiJson<AutoResolveIn>,
) -> ApiResult<AutoResolveOut> {
    Ok(Json(s.ready()?.auto_resolve(req).await?))
}

/// A conflict id from the path.
fn conflict_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found(format!("no conflict {raw:?} (ids are integers)")))
}

/// What the concept graph (`kimera learn`) knows about a term.
#[utoipa::path(
    get,
    path = "/v1/concepts/{term}",
    tag = "read",
    params(("term" = String, Path, description = "The concept, normalised like statements"), ConceptIn),
    responses(
        (status = 200, body = ConceptOut),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such concept, or no graph yet", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn concept(
    State(s): State<AppState>,
    Path(term): Path<String>,
    ApiQuery(q): ApiQuery<ConceptIn>,
) -> ApiResult<ConceptOut> {
    Ok(Json(s.ready()?.concept(term, q).await?))
}

/// Start a reactor cycle over the whole store in the background (one at a time); poll
/// `GET /v1/runs/{id}` for its progress.
#[utoipa::path(
    post,
    path = "/v1/runs",
    tag = "runs",
    request_body = RunIn,
    responses(
        (status = 202, description = "Started", body = RunOut),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "A run is already going", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn start_run(
    State(s): State<AppState>,
    _: WriteAccess,
    ApiJson(req): ApiJson<RunIn>,
) -> Result<(StatusCode, [(header::HeaderName, String); 1], Json<RunOut>), ApiError> {
    let run = s.ready()?.start_run(req)?;
    let location = format!("/v1/runs/{}", run.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(run),
    ))
}

/// A run's progress and, once finished, its stats.
#[utoipa::path(
    get,
    path = "/v1/runs/{id}",
    tag = "runs",
    params(("id" = u64, Path, description = "The id `POST /v1/runs` gave")),
    responses(
        (status = 200, body = RunOut),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn get_run(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<RunOut> {
    let engine = s.ready()?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("no run {id:?}")))?;
    Ok(Json(engine.run_status(id)?))
}

/// The process is up (it may still be loading).
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        vectors: None,
    })
}

/// The model and the index are loaded: requests will be served (503 until then).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, body = Health),
        (status = 503, description = "Still loading, or the load failed", body = ErrorBody),
    )
)]
async fn readyz(State(s): State<AppState>) -> ApiResult<Health> {
    let e = s.ready()?;
    Ok(Json(Health {
        status: "ok".into(),
        vectors: Some(e.vectors()),
    }))
}

/// Prometheus metrics (OpenMetrics text): requests and latency per route, statements,
/// scars, vectors, the write queue.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")),
    security(("bearer" = []))
)]
async fn metrics(State(s): State<AppState>) -> Response {
    let body = s.0.metrics.render(s.engine().map(Arc::as_ref));
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// This document (OpenAPI 3.1), generated from the code.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
async fn openapi(State(s): State<AppState>) -> Response {
    let doc = s.0.openapi.get().cloned().unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], doc).into_response()
}

async fn no_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!(
            "no route {method} {}; the API is described at /openapi.json",
            uri.path()
        ),
    )
}

async fn wrong_method(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}; see /openapi.json", uri.path()),
    )
}

/// The OpenAPI document of the routes (what `/openapi.json` serves).
pub fn openapi_doc() -> utoipa::openapi::OpenApi {
    routes(AppState::new(ServerConfig::new(":memory:"))).1
}

/// Every route with its own layers (access, deadline), and their description: routes
/// and document come from the same `routes!` lines, so they cannot disagree.
fn routes(state: AppState) -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let protected = OpenApiRouter::new()
        .routes(routes!(add_statements))
        .routes(routes!(get_statement))
        .routes(routes!(check))
        .routes(routes!(similar))
        .routes(routes!(scars))
        .routes(routes!(concept))
        .routes(routes!(list_conflicts))
        .routes(routes!(get_conflict))
        .routes(routes!(resolve_conflict))
        .routes(routes!(undo_conflict))
        .routes(routes!(resolve_auto))
        .routes(routes!(start_run))
        .routes(routes!(get_run))
        .route_layer(middleware::from_fn_with_state(state.clone(), deadline))
        .routes(routes!(metrics))
        .nest_service("/mcp", crate::mcp::http_service(state.clone()))
        .route_layer(middleware::from_fn_with_state(state.clone(), access));
    let open = OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(protected)
        .merge(open)
        .split_for_parts()
}

/// The whole application: the API, `/mcp`, and the layers (see the module docs).
pub fn router(state: AppState) -> axum::Router {
    let cfg = &state.0.cfg;
    let (app, doc) = routes(state.clone());
    let _ = state.0.openapi.set(
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")),
    );
    let mut app = app
        .merge(crate::review::router(state.clone()))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::extract::DefaultBodyLimit::max(cfg.body_limit));
    if !cfg.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = cfg
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    let app = app
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state);
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &axum::http::Request<axum::body::Body>| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or_else(|| req.uri().path(), |m| m.as_str());
            tracing::info_span!("request", id, method = %req.method(), route)
        })
        .on_response(
            tower_http::trace::DefaultOnResponse::new()
                .level(tracing::Level::INFO)
                .latency_unit(tower_http::LatencyUnit::Millis),
        );
    app.layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(SetRequestIdLayer::x_request_id(Ids::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CheckIn;

    #[test]
    fn an_unknown_empty_key_is_named_as_json_writes_it() {
        // found by examples/fuzz_bodies.rs: the field at fault was named as nothing
        for body in [&br#"{"": 1}"#[..], br#"{"text": "x", "": 1}"#, br#"{"""#] {
            let e = parse_json::<CheckIn>(body).unwrap_err();
            if e.code == "invalid_field" {
                assert_eq!(e.field.as_deref(), Some("\"\""), "{}", e.message);
                assert!(e.message.contains("`\"\"`"), "{}", e.message);
            } else {
                assert_eq!(e.code, "malformed_json", "{}", e.message);
            }
        }
        let e = parse_json::<CheckIn>(br#"{"txt": "x"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("txt"));
    }
}
