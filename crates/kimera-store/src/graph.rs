//! Concept graph tables (owned by association learning).

/// Migration 3: concepts, typed associations and their source geoids.
pub(crate) const SCHEMA_V3: &str = "
CREATE TABLE concepts (
    id        INTEGER PRIMARY KEY,
    term      TEXT NOT NULL UNIQUE,
    count     INTEGER NOT NULL DEFAULT 0,
    last_seen INTEGER NOT NULL
);
CREATE TABLE associations (
    id        INTEGER PRIMARY KEY,
    src       INTEGER NOT NULL REFERENCES concepts(id),
    dst       INTEGER NOT NULL REFERENCES concepts(id),
    kind      TEXT NOT NULL,
    strength  REAL NOT NULL,
    count     INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    UNIQUE (src, dst, kind)
);
CREATE INDEX associations_dst ON associations(dst);
CREATE TABLE association_sources (
    association INTEGER NOT NULL REFERENCES associations(id),
    geoid       TEXT NOT NULL,
    PRIMARY KEY (association, geoid)
) WITHOUT ROWID;
";
