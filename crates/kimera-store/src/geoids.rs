//! Geoids and labelled pairs.

use std::collections::HashMap;

use kimera_core::{Geoid, GeoidId, GoldLabel, Source};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Result, Store};

/// What a batch insert did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InsertSummary {
    pub inserted: u64,
    /// Rows already in the store (same id, or same normalised text and language).
    pub duplicates: u64,
}

impl std::ops::AddAssign for InsertSummary {
    fn add_assign(&mut self, o: Self) {
        self.inserted += o.inserted;
        self.duplicates += o.duplicates;
    }
}

/// One end of a pair to insert.
#[derive(Debug, Clone, PartialEq)]
pub enum PairEnd {
    /// The geoid at this index of the same batch.
    Index(usize),
    /// A geoid by id (it may be stored later: pairs are joined to geoids when read).
    Id(GeoidId),
}

/// A pair to insert with [`Store::insert_batch`].
#[derive(Debug, Clone, PartialEq)]
pub struct PairRef {
    pub a: PairEnd,
    pub b: PairEnd,
    pub pair_id: Option<String>,
    pub gold: Option<GoldLabel>,
    pub lang: Option<String>,
    pub kind: Option<String>,
    pub source: Source,
}

/// What [`Store::insert_batch`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BatchSummary {
    pub geoids: InsertSummary,
    pub pairs: InsertSummary,
}

/// Row counts and breakdowns for `kimera stats`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub geoids: u64,
    pub pairs: u64,
    pub embeddings: u64,
    pub scars: u64,
    pub runs: u64,
    pub concepts: u64,
    pub associations: u64,
    pub languages: Vec<(String, u64)>,
    /// Geoids per source file (the part of `source` before the line number).
    pub sources: Vec<(String, u64)>,
    pub scars_by_detector: Vec<(String, u64)>,
    pub embeddings_by_model: Vec<(String, u64)>,
    pub schema_version: i64,
}

/// A stored geoid as the reactor and the CLI read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeoidRow {
    /// Insertion order; stable across runs and the reactor's canonical order.
    pub seq: i64,
    pub id: GeoidId,
    pub text: String,
    pub lang: String,
    pub text_hash: [u8; 32],
    pub source: String,
    pub external_id: Option<String>,
    pub label: Option<String>,
    pub created_at: i64,
}

/// A stored labelled pair with both texts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelledPair {
    pub seq: i64,
    pub pair_id: Option<String>,
    pub a: GeoidId,
    pub b: GeoidId,
    pub text_a: String,
    pub text_b: String,
    pub gold: Option<String>,
    pub lang: Option<String>,
    pub kind: Option<String>,
}

/// The de-duplication key as stored: the first 8 bytes of the BLAKE3 key as an integer
/// (a collision needs ~4 billion distinct statements to become likely).
pub(crate) fn dedupe_int(key: &[u8; 32]) -> i64 {
    i64::from_le_bytes(key[..8].try_into().expect("8 bytes"))
}

const GEOID_COLS: &str = "seq, id, text, lang, text_hash, source, external_id, label, created_at";

/// A geoid from the first nine columns of a row, in [`GEOID_COLS`] order (a short hash
/// reads as zeros).
pub(crate) fn geoid_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GeoidRow> {
    let hash: Vec<u8> = r.get(4)?;
    let mut text_hash = [0u8; 32];
    if hash.len() == 32 {
        text_hash.copy_from_slice(&hash);
    }
    Ok(GeoidRow {
        seq: r.get(0)?,
        id: GeoidId(r.get(1)?),
        text: r.get(2)?,
        lang: r.get(3)?,
        text_hash,
        source: r.get(5)?,
        external_id: r.get(6)?,
        label: r.get(7)?,
        created_at: r.get(8)?,
    })
}

impl Store {
    /// Inserts a batch of geoids in one transaction. A geoid whose id or normalised
    /// text (in the same language) is already stored is counted as a duplicate and
    /// left as it was.
    pub fn insert_geoids(&mut self, geoids: &[Geoid]) -> Result<InsertSummary> {
        Ok(self.insert_batch(geoids, &[])?.geoids)
    }

    /// Inserts a batch of geoids and the pairs between them in one transaction (a
    /// batch of a pairs file). A pair end given by index refers to `geoids[index]` and
    /// resolves to the id the store keeps for that statement, even when it was a
    /// duplicate of one stored earlier under another id.
    pub fn insert_batch(&mut self, geoids: &[Geoid], pairs: &[PairRef]) -> Result<BatchSummary> {
        let mut tx = self.geoid_tx()?;
        let out = tx.insert(geoids, pairs)?;
        tx.commit()?;
        Ok(out)
    }

    /// Opens a write transaction for statements and pairs that several calls of
    /// [`GeoidTx::insert`] fill before one [`GeoidTx::commit`]: a bulk load hands over
    /// its records in small chunks (few in memory at once) but commits them in big
    /// transactions (each commit rewrites every index page it touched).
    pub fn geoid_tx(&mut self) -> Result<GeoidTx<'_>> {
        let run = self.run;
        let nudge = self.checkpoint_nudge();
        if let Some(n) = &nudge {
            n.before_write();
        }
        Ok(GeoidTx {
            tx: crate::write_tx(&mut self.conn)?,
            run,
            written: 0,
            nudge,
        })
    }
}

/// An open write transaction of statements (see [`Store::geoid_tx`]); dropped without
/// [`GeoidTx::commit`] it rolls back.
#[derive(Debug)]
pub struct GeoidTx<'a> {
    tx: rusqlite::Transaction<'a>,
    run: Option<i64>,
    written: u64,
    nudge: Option<crate::checkpoint::Nudge>,
}

impl GeoidTx<'_> {
    /// Commits, counting the rows written in the run's row (crash points
    /// `geoids.before_commit` and `geoids.committed`).
    pub fn commit(self) -> Result<()> {
        crate::commit(self.tx, crate::Write::Geoids, self.run, self.written)?;
        if let Some(n) = &self.nudge {
            n.nudge();
        }
        Ok(())
    }

    /// Inserts geoids and the pairs between them (as [`Store::insert_batch`], without
    /// committing).
    pub fn insert(&mut self, geoids: &[Geoid], pairs: &[PairRef]) -> Result<BatchSummary> {
        let tx = &self.tx;
        let mut out = BatchSummary::default();
        if pairs.is_empty() {
            // nothing refers to the statements: which of them were duplicates need not
            // be known one by one, so many go in one statement (see `insert_rows`)
            let keys: Vec<(i64, String)> = geoids
                .iter()
                .map(|g| (dedupe_int(&g.dedupe_key()), g.source.to_string()))
                .collect();
            let rows: Vec<(&Geoid, &(i64, String))> = geoids.iter().zip(&keys).collect();
            let inserted = crate::insert_rows(
                tx,
                "INSERT OR IGNORE INTO geoids
                 (id, text, lang, text_hash, dedupe_key, source, external_id, label, created_at,
                  valid_from, valid_to)",
                "",
                11,
                &rows,
                |(g, (key, source)), v| {
                    v.push(&g.id.0);
                    v.push(&g.text);
                    v.push(&g.lang);
                    v.push(&g.text_hash);
                    v.push(key);
                    v.push(source);
                    v.push(&g.external_id);
                    v.push(&g.label);
                    v.push(&g.created_at);
                    v.push(&g.valid_from);
                    v.push(&g.valid_to);
                },
            )?;
            out.geoids.inserted = inserted;
            out.geoids.duplicates = geoids.len() as u64 - inserted;
        } else {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO geoids
                 (id, text, lang, text_hash, dedupe_key, source, external_id, label, created_at,
                  valid_from, valid_to)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            let mut existing = tx
                .prepare_cached("SELECT id FROM geoids WHERE id = ?1 OR dedupe_key = ?2 LIMIT 1")?;
            let mut ids: Vec<Option<String>> = Vec::with_capacity(geoids.len());
            for g in geoids {
                let key = dedupe_int(&g.dedupe_key());
                let n = insert.execute(params![
                    g.id.as_str(),
                    g.text,
                    g.lang,
                    &g.text_hash[..],
                    key,
                    g.source.to_string(),
                    g.external_id,
                    g.label,
                    g.created_at,
                    g.valid_from,
                    g.valid_to,
                ])?;
                if n == 1 {
                    out.geoids.inserted += 1;
                    ids.push(None);
                } else {
                    out.geoids.duplicates += 1;
                    if pairs.is_empty() {
                        // nothing refers to it: no need to look up the stored id
                        ids.push(None);
                        continue;
                    }
                    let id: Option<String> = existing
                        .query_row(params![g.id.as_str(), key], |r| r.get(0))
                        .optional()?;
                    ids.push(id);
                }
            }
            let resolve = |end: &PairEnd| -> String {
                match end {
                    PairEnd::Index(i) => ids[*i].clone().unwrap_or_else(|| geoids[*i].id.0.clone()),
                    PairEnd::Id(id) => id.0.clone(),
                }
            };
            let mut pstmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO pairs (pair_id, a, b, gold, lang, kind, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for p in pairs {
                let n = pstmt.execute(params![
                    p.pair_id,
                    resolve(&p.a),
                    resolve(&p.b),
                    p.gold.map(|g| g.as_str()),
                    p.lang,
                    p.kind,
                    p.source.to_string(),
                ])?;
                if n == 1 {
                    out.pairs.inserted += 1
                } else {
                    out.pairs.duplicates += 1
                }
            }
        }
        self.written += out.geoids.inserted + out.pairs.inserted;
        Ok(out)
    }
}

impl Store {
    /// The id under which a statement is stored: its own id if present, else the id of
    /// the stored geoid with the same normalised text and language.
    pub fn resolve_id(&self, g: &Geoid) -> Result<Option<GeoidId>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM geoids WHERE id = ?1 OR dedupe_key = ?2 LIMIT 1")?
            .query_row(params![g.id.as_str(), dedupe_int(&g.dedupe_key())], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .map(GeoidId))
    }

    /// One geoid by id.
    pub fn geoid(&self, id: &GeoidId) -> Result<Option<GeoidRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {GEOID_COLS} FROM geoids WHERE id = ?1"))?
            .query_row([id.as_str()], geoid_row)
            .optional()?)
    }

    /// Geoids with `seq > after`, in `seq` order, at most `limit` of them: the way to
    /// stream over a large store in bounded memory. Every geoid, superseded ones
    /// included (see [`Store::geoids_after_at`]).
    pub fn geoids_after(&self, after: i64, limit: usize) -> Result<Vec<GeoidRow>> {
        self.geoids_after_at(after, limit, crate::Visibility::Everything)
    }

    /// [`Store::geoids_after`] with only the geoids visible to `v` (the reads of
    /// `run` and `export` leave superseded statements out).
    pub fn geoids_after_at(
        &self,
        after: i64,
        limit: usize,
        v: crate::Visibility,
    ) -> Result<Vec<GeoidRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {GEOID_COLS} FROM geoids g WHERE seq > ?1 AND {} ORDER BY seq LIMIT ?2",
            v.sql("g")
        ))?;
        let rows = stmt.query_map(params![after, limit as i64], geoid_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Calls `f` for every geoid in `seq` order, reading in pages of `page` rows.
    pub fn for_each_geoid(
        &self,
        page: usize,
        f: impl FnMut(&[GeoidRow]) -> Result<()>,
    ) -> Result<()> {
        self.for_each_geoid_at(page, crate::Visibility::Everything, f)
    }

    /// [`Store::for_each_geoid`] over the geoids visible to `v`.
    pub fn for_each_geoid_at(
        &self,
        page: usize,
        v: crate::Visibility,
        mut f: impl FnMut(&[GeoidRow]) -> Result<()>,
    ) -> Result<()> {
        let mut after = 0;
        loop {
            let rows = self.geoids_after_at(after, page, v)?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            f(&rows)?;
        }
        Ok(())
    }

    /// Labelled pairs with both texts, in insertion order (`limit` 0 = all).
    pub fn labelled_pairs(&self, limit: usize) -> Result<Vec<LabelledPair>> {
        self.labelled_pairs_at(limit, crate::Visibility::Everything)
    }

    /// [`Store::labelled_pairs`] whose two statements are both visible to `v`.
    pub fn labelled_pairs_at(
        &self,
        limit: usize,
        v: crate::Visibility,
    ) -> Result<Vec<LabelledPair>> {
        let lim = if limit == 0 { -1 } else { limit as i64 };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT p.seq, p.pair_id, p.a, p.b, ga.text, gb.text, p.gold, p.lang, p.kind
             FROM pairs p JOIN geoids ga ON ga.id = p.a JOIN geoids gb ON gb.id = p.b
             WHERE {} AND {}
             ORDER BY p.seq LIMIT ?1",
            v.sql("ga"),
            v.sql("gb")
        ))?;
        let rows = stmt.query_map([lim], |r| {
            Ok(LabelledPair {
                seq: r.get(0)?,
                pair_id: r.get(1)?,
                a: GeoidId(r.get(2)?),
                b: GeoidId(r.get(3)?),
                text_a: r.get(4)?,
                text_b: r.get(5)?,
                gold: r.get(6)?,
                lang: r.get(7)?,
                kind: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Counts for `kimera stats`.
    pub fn counts(&self) -> Result<Counts> {
        let one = |sql: &str| -> Result<u64> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        let group = |sql: &str| -> Result<Vec<(String, u64)>> {
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        };
        // Per-language and per-file counts in one streaming pass: a GROUP BY on the
        // file name (an expression) made SQLite sort every row (~140 MB at 1M
        // statements); the maps hold one entry per language and per file.
        let mut langs: HashMap<String, u64> = HashMap::new();
        let mut sources: HashMap<String, u64> = HashMap::new();
        {
            let mut stmt = self.conn.prepare("SELECT lang, source FROM geoids")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let text = |i: usize| -> rusqlite::Result<&str> {
                    r.get_ref(i)?.as_str().map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            i,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })
                };
                let lang = text(0)?;
                match langs.get_mut(lang) {
                    Some(n) => *n += 1,
                    None => {
                        langs.insert(lang.to_string(), 1);
                    }
                }
                let file = source_file(text(1)?);
                match sources.get_mut(file) {
                    Some(n) => *n += 1,
                    None => {
                        sources.insert(file.to_string(), 1);
                    }
                }
            }
        }
        Ok(Counts {
            geoids: one("SELECT count(*) FROM geoids")?,
            pairs: one("SELECT count(*) FROM pairs")?,
            embeddings: one("SELECT count(*) FROM embeddings")?,
            scars: one("SELECT count(*) FROM scars")?,
            runs: one("SELECT count(*) FROM runs")?,
            concepts: one("SELECT count(*) FROM concepts")?,
            associations: one("SELECT count(*) FROM associations")?,
            languages: by_count(langs),
            sources: by_count(sources),
            scars_by_detector: group(
                "SELECT detector, count(*) FROM scars GROUP BY detector ORDER BY detector",
            )?,
            embeddings_by_model: group(
                "SELECT model, count(*) FROM embeddings GROUP BY model ORDER BY model",
            )?,
            schema_version: self
                .conn
                .pragma_query_value(None, "user_version", |r| r.get(0))?,
        })
    }
}

/// The file part of a geoid's source: `file:data.csv:12` → `file:data.csv`; sources
/// without a `:` (e.g. `api`) are their own group.
fn source_file(source: &str) -> &str {
    if source.contains(':') {
        source
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .trim_end_matches(':')
    } else {
        source
    }
}

/// Largest count first, then by name.
fn by_count(m: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = m.into_iter().collect();
    v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(text: &str) -> Geoid {
        Geoid::new(text, "en", Source::Api)
    }

    #[test]
    fn duplicates_by_text_or_id_are_stored_once() {
        let mut s = Store::open_in_memory().unwrap();
        let r = s
            .insert_geoids(&[g("Snow is white."), g("snow is  white"), g("Snow is black")])
            .unwrap();
        assert_eq!((r.inserted, r.duplicates), (2, 1));
        let r = s
            .insert_geoids(&[g("Snow is white").with_external_id("x1")])
            .unwrap();
        assert_eq!((r.inserted, r.duplicates), (0, 1));
        let all = s.geoids_after(0, 10).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].text, "Snow is white.", "first spelling wins");
    }

    #[test]
    fn unicode_round_trips_exactly() {
        let mut s = Store::open_in_memory().unwrap();
        let texts = [
            "الأرض مسطحة.",
            "Le chat est assis sur le tapis.",
            "水は100度で沸騰する 🔥",
        ];
        s.insert_geoids(&texts.map(g)).unwrap();
        let back: Vec<String> = s
            .geoids_after(0, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.text)
            .collect();
        assert_eq!(back, texts);
    }

    #[test]
    fn pairs_join_their_texts_and_streaming_pages_cover_everything() {
        let mut s = Store::open_in_memory().unwrap();
        let (a, b) = (g("Fire is hot"), g("Fire is cold"));
        s.insert_geoids(&[g("fire is HOT").with_external_id("hot")])
            .unwrap();
        let pair = PairRef {
            pair_id: Some("4".into()),
            a: PairEnd::Index(0),
            b: PairEnd::Index(1),
            gold: Some(GoldLabel::Contradiction),
            lang: Some("en".into()),
            kind: None,
            source: Source::Api,
        };
        let r = s.insert_batch(&[a, b], &[pair.clone(), pair]).unwrap();
        assert_eq!(
            (
                r.geoids.inserted,
                r.geoids.duplicates,
                r.pairs.inserted,
                r.pairs.duplicates
            ),
            (1, 1, 1, 1)
        );
        let lp = s.labelled_pairs(0).unwrap();
        assert_eq!(lp.len(), 1);
        // the duplicate statement resolves to the id stored first
        assert_eq!(lp[0].a.as_str(), "hot");
        assert_eq!(
            (lp[0].text_a.as_str(), lp[0].gold.as_deref()),
            ("fire is HOT", Some("contradiction"))
        );

        let many: Vec<Geoid> = (0..25).map(|i| g(&format!("statement {i}"))).collect();
        s.insert_geoids(&many).unwrap();
        let mut seen = 0;
        s.for_each_geoid(7, |rows| {
            seen += rows.len();
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, 27);
        let c = s.counts().unwrap();
        assert_eq!((c.geoids, c.pairs), (27, 1));
        assert_eq!(c.sources, vec![("api".to_string(), 27)]);
    }

    #[test]
    fn counts_group_sources_by_file_and_languages_by_count() {
        let mut s = Store::open_in_memory().unwrap();
        let file = |path: &str, line| Source::File {
            path: path.into(),
            line,
        };
        s.insert_geoids(&[
            Geoid::new("a", "en", file("data/b.csv", 2)),
            Geoid::new("b", "fr", file("data/b.csv", 13)),
            Geoid::new("c", "en", file("a2024.csv", 1)),
            Geoid::new("d", "ar", Source::Api),
            Geoid::new("e", "en", file("data/b.csv", 40)),
        ])
        .unwrap();
        let c = s.counts().unwrap();
        let owned = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
            v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        };
        assert_eq!(c.languages, owned(&[("en", 3), ("ar", 1), ("fr", 1)]));
        assert_eq!(
            c.sources,
            owned(&[("data/b.csv", 3), ("a2024.csv", 1), ("api", 1)])
        );
    }
}
