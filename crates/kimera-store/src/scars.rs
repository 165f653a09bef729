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

impl Store {
    /// Records scars in one transaction; a pair already scarred by the same detector is
    /// left alone. Returns how many were new.
    pub fn insert_scars(&mut self, scars: &[Scar], run_id: Option<i64>) -> Result<u64> {
        let run = self.run;
        let tx = crate::write_tx(&mut self.conn)?;
        let mut n = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO scars (a, b, score, detector, evidence, created_at, run_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for s in scars {
                n += stmt.execute(params![
                    s.a.as_str(),
                    s.b.as_str(),
                    f64::from(s.score),
                    s.detector,
                    s.evidence.to_string(),
                    s.created_at,
                    run_id
                ])? as u64;
            }
        }
        crate::commit(tx, crate::Write::Scars, run, n)?;
        Ok(n)
    }

    /// Scars with their texts, strongest first (`limit` 0 = all).
    pub fn scars(&self, limit: usize) -> Result<Vec<ScarRow>> {
        let lim = if limit == 0 { -1 } else { limit as i64 };
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.seq, s.a, s.b, ga.text, gb.text, s.score, s.detector, s.evidence,
                    s.created_at, s.run_id
             FROM scars s JOIN geoids ga ON ga.id = s.a JOIN geoids gb ON gb.id = s.b
             ORDER BY s.score DESC, s.seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([lim], |r| {
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
        })?;
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
}
