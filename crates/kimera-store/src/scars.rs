//! Scars: recorded contradictions.

use kimera_core::{GeoidId, Scar};
use rusqlite::params;
use serde::Serialize;

use crate::{Result, Store};

/// A stored scar with both texts, for listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScarRow {
    pub seq: i64,
    pub a: GeoidId,
    pub b: GeoidId,
    pub text_a: String,
    pub text_b: String,
    pub score: f64,
    pub detector: String,
    pub evidence: serde_json::Value,
    pub created_at: i64,
    pub run_id: Option<i64>,
}

/// Where a page of [`Store::scars_page`] ended: the score and `seq` of its last scar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScarCursor {
    pub score: f64,
    pub seq: i64,
}

impl ScarCursor {
    /// The cursor after `row`.
    pub fn after(row: &ScarRow) -> ScarCursor {
        ScarCursor {
            score: row.score,
            seq: row.seq,
        }
    }
}

/// Scars joined with both texts, in [`scar_row`]'s column order.
const SCAR_SELECT: &str = "SELECT s.seq, s.a, s.b, ga.text, gb.text, s.score, s.detector,
        s.evidence, s.created_at, s.run_id
     FROM scars s JOIN geoids ga ON ga.id = s.a JOIN geoids gb ON gb.id = s.b";

fn scar_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScarRow> {
    let ev: String = r.get(7)?;
    Ok(ScarRow {
        seq: r.get(0)?,
        a: GeoidId(r.get(1)?),
        b: GeoidId(r.get(2)?),
        text_a: r.get(3)?,
        text_b: r.get(4)?,
        score: r.get(5)?,
        detector: r.get(6)?,
        evidence: serde_json::from_str(&ev).unwrap_or(serde_json::Value::String(ev)),
        created_at: r.get(8)?,
        run_id: r.get(9)?,
    })
}

impl Store {
    /// Records scars in one transaction; a pair already scarred by the same detector is
    /// left alone. Returns how many were new.
    pub fn insert_scars(&mut self, scars: &[Scar], run_id: Option<i64>) -> Result<u64> {
        let run = self.run;
        let tx = crate::write_tx(&mut self.conn)?;
        let n = insert_scars_on(&tx, scars, run_id)?;
        crate::commit(tx, crate::Write::Scars, run, n)?;
        Ok(n)
    }

    /// Scars with their texts, strongest first (`limit` 0 = all).
    pub fn scars(&self, limit: usize) -> Result<Vec<ScarRow>> {
        let lim = if limit == 0 { -1 } else { limit as i64 };
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SCAR_SELECT} ORDER BY s.score DESC, s.seq LIMIT ?1"
        ))?;
        let rows = stmt.query_map([lim], scar_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// [`Store::scars`] as a read with `v` sees them: both statements visible (a
    /// superseded statement's scars are left out by default) and, with `AsOf(t)`,
    /// recorded by `t`.
    pub fn scars_at(&self, limit: usize, v: crate::Visibility) -> Result<Vec<ScarRow>> {
        let lim = if limit == 0 { -1 } else { limit as i64 };
        let recorded = match v {
            crate::Visibility::AsOf(t) => format!("s.created_at <= {t}"),
            _ => "1".to_string(),
        };
        let mut stmt = self.conn.prepare(&format!(
            "{SCAR_SELECT} WHERE {recorded} AND {} AND {}
             ORDER BY s.score DESC, s.seq LIMIT ?1",
            v.sql("ga"),
            v.sql("gb")
        ))?;
        let rows = stmt.query_map([lim], scar_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One page of scars with their texts, strongest first (score descending, then
    /// oldest first): the `limit` scars after `after` (the last row of the previous page;
    /// `None` = from the top). Keyset pagination, so a page costs the same wherever it is
    /// and scars recorded meanwhile never shift a page: a new scar appears on a later page
    /// if it is weaker than the cursor, and not at all if stronger.
    pub fn scars_page(&self, after: Option<ScarCursor>, limit: usize) -> Result<Vec<ScarRow>> {
        let (score, seq) = after.map_or((None, 0), |c| (Some(c.score), c.seq));
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SCAR_SELECT}
             WHERE ?1 IS NULL OR (s.score <= ?1 AND (s.score < ?1 OR s.seq > ?2))
             ORDER BY s.score DESC, s.seq LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![score, seq, limit as i64], scar_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The scars that touch statement `id` (on either side), strongest first, at most
    /// `limit`.
    pub fn scars_of(&self, id: &GeoidId, limit: usize) -> Result<Vec<ScarRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SCAR_SELECT}
             WHERE s.a = ?1 OR s.b = ?1
             ORDER BY s.score DESC, s.seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![id.as_str(), limit as i64], scar_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every (a, b, score) scar, for building resonance weights.
    pub fn scar_weights(&self) -> Result<kimera_core::ScarWeights> {
        let mut w = kimera_core::ScarWeights::new();
        let mut stmt = self.conn.prepare_cached("SELECT a, b, score FROM scars")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            w.add(
                &GeoidId(r.get(0)?),
                &GeoidId(r.get(1)?),
                r.get::<_, f64>(2)? as f32,
            );
        }
        Ok(w)
    }
}

/// Inserts scars on `conn` (inside the caller's transaction); returns how many were new.
pub(crate) fn insert_scars_on(
    conn: &rusqlite::Connection,
    scars: &[Scar],
    run_id: Option<i64>,
) -> Result<u64> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO scars (a, b, score, detector, evidence, created_at, run_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut n = 0;
    for s in scars {
        let new = stmt.execute(params![
            s.a.as_str(),
            s.b.as_str(),
            f64::from(s.score),
            s.detector,
            s.evidence.to_string(),
            s.created_at,
            run_id
        ])? as u64;
        if new == 1 {
            // the pair's conflict, in the same transaction
            crate::conflicts::merge_scar(
                conn,
                s.a.as_str(),
                s.b.as_str(),
                &s.detector,
                &s.evidence,
                f64::from(s.score),
                s.created_at,
            )?;
        }
        n += new;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use kimera_core::{Geoid, Source};

    use super::*;

    #[test]
    fn a_pair_is_scarred_once_per_detector() {
        let mut s = Store::open_in_memory().unwrap();
        let a = Geoid::new("Fire is hot", "en", Source::Api);
        let b = Geoid::new("Fire is cold", "en", Source::Api);
        s.insert_geoids(&[a.clone(), b.clone()]).unwrap();
        let ev = serde_json::json!({"rule": "antonym", "tokens": ["hot", "cold"]});
        let x = Scar::new(a.id.clone(), b.id.clone(), 0.9, "lexical", ev.clone());
        let y = Scar::new(b.id.clone(), a.id.clone(), 0.8, "lexical", ev.clone());
        let z = Scar::new(a.id.clone(), b.id.clone(), 0.7, "baseline", ev.clone());
        assert_eq!(s.insert_scars(&[x, y, z], None).unwrap(), 2);
        let rows = s.scars(0).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].detector, "lexical");
        assert_eq!(rows[0].evidence, ev);
        let w = s.scar_weights().unwrap();
        assert!((w.mean_touching(&a.id, &b.id, None) - 0.8).abs() < 1e-6);
    }

    #[test]
    fn pages_cover_every_scar_once_strongest_first_and_scars_of_finds_both_sides() {
        let mut s = Store::open_in_memory().unwrap();
        let g: Vec<Geoid> = (0..6)
            .map(|i| Geoid::new(format!("statement {i}"), "en", Source::Api))
            .collect();
        s.insert_geoids(&g).unwrap();
        // ties on score (0.5 three times) are ordered oldest first
        let scores = [0.5f32, 0.9, 0.5, 0.1, 0.5, 0.7, 0.3];
        let pairs = [(0, 1), (0, 2), (1, 2), (2, 3), (3, 4), (4, 5), (0, 5)];
        let scars: Vec<Scar> = pairs
            .iter()
            .zip(scores)
            .map(|(&(x, y), sc)| {
                Scar::new(
                    g[x].id.clone(),
                    g[y].id.clone(),
                    sc,
                    "t",
                    serde_json::json!({}),
                )
            })
            .collect();
        s.insert_scars(&scars, None).unwrap();
        let all = s.scars(0).unwrap();
        for size in 1..=8 {
            let mut got = Vec::new();
            let mut cursor = None;
            loop {
                let page = s.scars_page(cursor, size).unwrap();
                assert!(page.len() <= size);
                let Some(last) = page.last() else { break };
                cursor = Some(ScarCursor::after(last));
                got.extend(page);
            }
            assert_eq!(got, all, "page size {size}");
        }
        let scores: Vec<f64> = all.iter().map(|r| (r.score * 10.0).round()).collect();
        assert_eq!(scores, [9.0, 7.0, 5.0, 5.0, 5.0, 3.0, 1.0]);
        let tied: Vec<i64> = all[2..5].iter().map(|r| r.seq).collect();
        assert!(tied.windows(2).all(|w| w[0] < w[1]), "{tied:?}");

        let of2 = s.scars_of(&g[2].id, 10).unwrap();
        let mut others: Vec<&str> = of2
            .iter()
            .map(|r| {
                if r.a == g[2].id {
                    r.b.as_str()
                } else {
                    r.a.as_str()
                }
            })
            .collect();
        others.sort();
        let mut want = vec![g[0].id.as_str(), g[1].id.as_str(), g[3].id.as_str()];
        want.sort();
        assert_eq!(others, want);
        assert!(of2.windows(2).all(|w| w[0].score >= w[1].score));
        assert_eq!(s.scars_of(&g[2].id, 1).unwrap().len(), 1);
        assert!(
            s.scars_of(&GeoidId("nobody".into()), 10)
                .unwrap()
                .is_empty()
        );
    }
}
