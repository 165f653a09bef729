//! The request and response bodies of the API, shared by the HTTP routes and the MCP
//! tools (one type, two schemas: utoipa's for OpenAPI, schemars' for MCP).
//!
//! Request types reject unknown fields (`deny_unknown_fields`): a misspelt option is an
//! error (422) rather than silently ignored.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn yes() -> bool {
    true
}

/// One statement to store.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementIn {
    /// The statement, any language, at most 64 KiB; kept byte for byte (trimmed).
    pub text: String,
    /// Language code (`en`, `fr`, `ar`...); default `und`.
    #[serde(default)]
    pub lang: Option<String>,
    /// Your own id for it; default: derived from the normalised text and language, so
    /// the same statement sent twice is stored once.
    #[serde(default)]
    pub id: Option<String>,
    /// Where it came from (stored as `api:<source>`).
    #[serde(default)]
    pub source: Option<String>,
    /// Since when it holds: a date (`2024-03-01`), an RFC 3339 time or epoch seconds.
    #[serde(default)]
    pub valid_from: Option<String>,
    /// Until when it holds (exclusive), same forms.
    #[serde(default)]
    pub valid_to: Option<String>,
}

/// `POST /v1/statements`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddStatements {
    /// The statements, stored in order (at most `max_statements` per request).
    pub statements: Vec<StatementIn>,
    /// Check each statement against the store before it is added and record the
    /// contradictions found as scars, in the same commit (default true).
    #[serde(default = "yes")]
    pub check: bool,
    /// Nearest stored statements examined per statement (default: the server's `k`).
    #[serde(default)]
    pub k: Option<usize>,
}

/// A stored statement that a checked statement contradicts, per detector that fired.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct Contradiction {
    /// The stored statement.
    pub id: String,
    pub text: String,
    pub lang: String,
    /// Cosine similarity of the two statements' vectors (an f32, widened: the digits
    /// `kimera check --json` prints and the evidence shows).
    pub cosine: f64,
    /// The detector that found it (`lexical`, `model`...).
    pub detector: String,
    /// Strength in 0..=1 (an f32, widened like `cosine`).
    pub score: f64,
    /// Why: the rule and its tokens, or the model's probability, route and signals.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

impl From<kimera_detect::CheckHit> for Contradiction {
    fn from(h: kimera_detect::CheckHit) -> Contradiction {
        Contradiction {
            id: h.id,
            text: h.text,
            lang: h.lang,
            cosine: f64::from(h.cosine),
            detector: h.detector,
            score: f64::from(h.score),
            evidence: h.evidence,
        }
    }
}

/// What became of one statement of a `POST /v1/statements`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct StatementOut {
    /// The id it is stored under (for a duplicate: the statement stored before).
    pub id: String,
    /// False when the store already held it (same id, or same normalised text and
    /// language): nothing of it was written but the scars of its check.
    pub new: bool,
    /// Neighbours examined by the check (absent when `check` was false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub examined: Option<usize>,
    /// The stored statements it contradicts, strongest first (empty without a check).
    pub contradictions: Vec<Contradiction>,
}

/// Answer to `POST /v1/statements`, sent after the commit: everything listed is durable.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct AddStatementsOut {
    pub statements: Vec<StatementOut>,
    /// Statements that were new / already stored.
    pub inserted: u64,
    pub duplicates: u64,
    /// Scars (contradictions) recorded by this request's checks.
    pub scars: u64,
}

/// `POST /v1/check`: `text` or `texts`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    /// One statement to check.
    #[serde(default)]
    pub text: Option<String>,
    /// Several statements (each checked against the store, not against each other).
    #[serde(default)]
    pub texts: Option<Vec<String>>,
    /// Language of the statements (default `und`).
    #[serde(default)]
    pub lang: Option<String>,
    /// Nearest stored statements examined per statement (default: the server's `k`).
    #[serde(default)]
    pub k: Option<usize>,
    /// Read the store as it was at this time (a date, an RFC 3339 time or epoch
    /// seconds): statements superseded since then are seen again. Default: now, without
    /// superseded statements.
    #[serde(default)]
    pub as_of: Option<String>,
}

/// The check of one statement, as `kimera check --json` reports it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct CheckResult {
    pub text: String,
    /// Neighbours examined (0: the store has no vectors yet).
    pub examined: usize,
    /// Strongest first.
    pub contradictions: Vec<Contradiction>,
}

/// Answer to `POST /v1/check`: one result per statement, in order. Nothing was written.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct CheckOut {
    pub results: Vec<CheckResult>,
    /// Stored statements a check can find (those with a vector).
    pub vectors: usize,
}

/// A stored statement.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct StatementRow {
    pub id: String,
    pub text: String,
    pub lang: String,
    /// `file:line` for ingested statements, `api` or `api:<source>` for the API's.
    pub source: String,
    pub external_id: Option<String>,
    pub label: Option<String>,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
}

impl From<kimera_store::GeoidRow> for StatementRow {
    fn from(g: kimera_store::GeoidRow) -> StatementRow {
        StatementRow {
            id: g.id.0,
            text: g.text,
            lang: g.lang,
            source: g.source,
            external_id: g.external_id,
            label: g.label,
            created_at: g.created_at,
        }
    }
}

/// `GET /v1/statements/{id}`: the statement, the scars that touch it, and its history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct StatementDetail {
    pub statement: StatementRow,
    /// Strongest first (at most 100).
    pub scars: Vec<ScarOut>,
    /// Since / until when it holds (epoch seconds), when its input said.
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
    /// The statement that superseded it (a resolved conflict), and when.
    pub superseded_by: Option<String>,
    pub superseded_at: Option<i64>,
    /// The resolutions that superseded it or that it won, oldest first.
    pub history: Vec<HistoryOut>,
}

/// One resolution in a statement's history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct HistoryOut {
    pub conflict: i64,
    pub resolution: String,
    pub decided_by: String,
    pub decided_at: i64,
    pub note: Option<String>,
    /// The statement that lost (superseded), for keep_a / keep_b.
    pub superseded: Option<String>,
    pub superseded_text: Option<String>,
    /// The statement that won.
    pub superseded_by: Option<String>,
    pub superseded_by_text: Option<String>,
    /// Set when the resolution was undone.
    pub undone_at: Option<i64>,
}

impl From<kimera_store::HistoryEntry> for HistoryOut {
    fn from(h: kimera_store::HistoryEntry) -> HistoryOut {
        HistoryOut {
            conflict: h.conflict,
            resolution: h.resolution,
            decided_by: h.decided_by,
            decided_at: h.decided_at,
            note: h.note,
            superseded: h.superseded.map(|g| g.0),
            superseded_text: h.superseded_text,
            superseded_by: h.superseded_by.map(|g| g.0),
            superseded_by_text: h.superseded_by_text,
            undone_at: h.undone_at,
        }
    }
}

/// `GET /v1/conflicts` query.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, JsonSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConflictsIn {
    /// `open` (default), `resolved` or `all`.
    #[serde(default)]
    pub status: Option<String>,
    /// Only this type: negation, antonym, exclusive, number, date, entity_swap,
    /// graph_fact, llm, model_only.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Only pairs this detector flagged.
    #[serde(default)]
    pub detector: Option<String>,
    /// Only pairs with a statement whose source starts with this.
    #[serde(default)]
    pub source: Option<String>,
    /// Conflicts per page (default 50, at most 1,000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page; absent for the first.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One detector's verdict on a conflict's pair.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct VerdictOut {
    pub detector: String,
    pub score: f64,
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    pub created_at: i64,
}

/// A conflict: one pair of contradicting statements, every detector's verdict merged.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ConflictOut {
    pub id: i64,
    pub a: String,
    pub b: String,
    pub text_a: String,
    pub text_b: String,
    /// `file:line` or `api…`.
    pub source_a: String,
    pub source_b: String,
    /// negation, antonym, exclusive, number, date, entity_swap, graph_fact, llm, model_only.
    #[serde(rename = "type")]
    pub kind: String,
    /// The strongest verdict's score.
    pub score: f64,
    /// `open` or `resolved`.
    pub status: String,
    /// keep_a, keep_b, both_valid or not_a_contradiction.
    pub resolution: Option<String>,
    /// `user`, `api`, `strategy:<name>`...
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub note: Option<String>,
    /// What an automatic decision was made from.
    #[schema(value_type = Option<Object>)]
    pub inputs: Option<serde_json::Value>,
    pub created_at: i64,
    /// Strongest first.
    pub verdicts: Vec<VerdictOut>,
}

impl From<kimera_store::ConflictRow> for ConflictOut {
    fn from(c: kimera_store::ConflictRow) -> ConflictOut {
        ConflictOut {
            id: c.id,
            a: c.a.0,
            b: c.b.0,
            text_a: c.text_a,
            text_b: c.text_b,
            source_a: c.source_a,
            source_b: c.source_b,
            kind: c.kind,
            score: c.score,
            status: c.status,
            resolution: c.resolution,
            decided_by: c.decided_by,
            decided_at: c.decided_at,
            note: c.note,
            inputs: c.inputs,
            created_at: c.created_at,
            verdicts: c
                .verdicts
                .into_iter()
                .map(|v| VerdictOut {
                    detector: v.detector,
                    score: v.score,
                    evidence: v.evidence,
                    created_at: v.created_at,
                })
                .collect(),
        }
    }
}

/// A page of conflicts, strongest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ConflictsOut {
    pub conflicts: Vec<ConflictOut>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
    /// Open conflicts in the store (all filters aside).
    pub open: u64,
}

/// `POST /v1/conflicts/{id}/resolve`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveIn {
    /// `a`, `b`, `both` (true in different contexts or times) or `neither` (not a
    /// contradiction); `keep_a`, `keep_b`, `both_valid`, `not_a_contradiction` too.
    pub keep: String,
    /// Why (kept with the decision).
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /v1/conflicts/resolve-auto`: settle every open conflict by a strategy.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoResolveIn {
    /// manual, recency, source, confidence or consensus; default: the server's
    /// (`kimera serve --strategy`, or `strategy` in kimera.toml). Its parameters (source
    /// weights, minimum score) are the server's.
    #[serde(default)]
    pub strategy: Option<String>,
    /// Decide without writing anything (default false).
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// What an automatic resolution decided: as `kimera resolve --auto --json`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct AutoResolveOut {
    pub strategy: String,
    /// Open conflicts looked at.
    pub examined: u64,
    /// Settled (or, on a dry run, that would be).
    pub resolved: u64,
    /// Left open: a tie, or `manual`.
    pub left_open: u64,
    /// Decisions per resolution (`keep_a`, `keep_b`, `both_valid`...).
    pub by_resolution: std::collections::BTreeMap<String, u64>,
    pub dry_run: bool,
    /// The first decisions (at most 20): `id`, `resolution`, `why`.
    #[schema(value_type = Vec<Object>)]
    pub sample: Vec<serde_json::Value>,
}

impl From<kimera_store::AutoReport> for AutoResolveOut {
    fn from(r: kimera_store::AutoReport) -> AutoResolveOut {
        AutoResolveOut {
            strategy: r.strategy,
            examined: r.examined,
            resolved: r.resolved,
            left_open: r.left_open,
            by_resolution: r.by_resolution,
            dry_run: r.dry_run,
            sample: r.sample,
        }
    }
}

/// `GET /v1/similar` query.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, JsonSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SimilarIn {
    /// The text to compare with the store.
    pub text: String,
    /// How many neighbours (default 10).
    #[serde(default)]
    pub k: Option<usize>,
    /// Read the store as it was at this time (a date, an RFC 3339 time or epoch
    /// seconds): statements superseded since then are seen again. Default: now, without
    /// superseded statements.
    #[serde(default)]
    pub as_of: Option<String>,
}

/// A stored statement near a text.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct Similar {
    pub id: String,
    pub text: String,
    pub lang: String,
    /// Cosine similarity with the text (an f32, widened).
    pub score: f64,
}

/// Answer to `GET /v1/similar`: nearest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct SimilarOut {
    pub results: Vec<Similar>,
}

/// `GET /v1/scars` query.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, JsonSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScarsIn {
    /// Scars per page (default 50, at most 1,000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page; absent for the first.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A recorded contradiction between two stored statements.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ScarOut {
    pub a: String,
    pub b: String,
    pub text_a: String,
    pub text_b: String,
    pub score: f64,
    pub detector: String,
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    pub created_at: i64,
    /// The reactor run that found it (none for a check-on-write).
    pub run_id: Option<i64>,
}

impl From<kimera_store::ScarRow> for ScarOut {
    fn from(s: kimera_store::ScarRow) -> ScarOut {
        ScarOut {
            a: s.a.0,
            b: s.b.0,
            text_a: s.text_a,
            text_b: s.text_b,
            score: s.score,
            detector: s.detector,
            evidence: s.evidence,
            created_at: s.created_at,
            run_id: s.run_id,
        }
    }
}

/// A page of scars, strongest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ScarsOut {
    pub scars: Vec<ScarOut>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// `GET /v1/concepts/{term}` query.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, JsonSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConceptIn {
    /// Associations shown per kind and direction, strongest first (default 8).
    #[serde(default)]
    pub per_kind: Option<usize>,
    /// Example statements per association (default 1).
    #[serde(default)]
    pub examples: Option<usize>,
}

/// A statement an association was learned from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ConceptExample {
    pub id: String,
    pub text: String,
    pub source: String,
}

/// One association of a concept.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ConceptEdge {
    /// `is-a`, `part-of`, `causes`, `attribute`, `co-occurs`...
    pub kind: String,
    /// The attribute's name, for `attribute` associations.
    pub attr: Option<String>,
    /// The concept at the other end.
    pub other: String,
    pub strength: f64,
    pub count: u32,
    pub examples: Vec<ConceptExample>,
}

/// What the concept graph (`kimera learn`) knows about a term.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ConceptOut {
    pub term: String,
    /// Statements that mention it.
    pub count: u32,
    pub last_seen: i64,
    /// Associations from it, and to it.
    pub out: Vec<ConceptEdge>,
    pub inbound: Vec<ConceptEdge>,
    /// Weaker associations not shown.
    pub omitted: u64,
}

/// `POST /v1/runs`: a reactor cycle over the whole store, in the background.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunIn {
    /// Neighbours per statement (default 10).
    #[serde(default)]
    pub k: Option<usize>,
    /// Neighbours below this cosine are not candidates (default 0.4).
    #[serde(default)]
    pub min_sim: Option<f32>,
    /// Reactor threads (default: the server's workers).
    #[serde(default)]
    pub workers: Option<usize>,
}

/// A reactor run started by the server, and how far it got.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct RunOut {
    /// The server's id of the run (counted from 1 in each server process).
    pub id: u64,
    /// `running`, `ok` or `failed`.
    pub status: String,
    /// The current phase (`load`, `candidates`, `detect`...).
    pub phase: String,
    pub done: u64,
    pub total: u64,
    /// Seconds since the Unix epoch.
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// The reactor's stats (as `kimera run --json` prints them), once finished.
    #[schema(value_type = Option<Object>)]
    pub stats: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// `GET /healthz`, `GET /readyz`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct Health {
    /// `ok`, or `loading` while the model and the index load.
    pub status: String,
    /// Stored statements with a vector (readyz, once ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vectors: Option<usize>,
}
