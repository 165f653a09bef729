//! LLM judge response cache (owned by the LLM judge work).

/// Migration 2: responses keyed by (model, prompt version, text hashes of a and b).
pub(crate) const SCHEMA_V2: &str = "
CREATE TABLE llm_cache (
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    a_hash         BLOB NOT NULL,
    b_hash         BLOB NOT NULL,
    response       TEXT NOT NULL,         -- JSON verdict
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (model, prompt_version, a_hash, b_hash)
) WITHOUT ROWID;
";
