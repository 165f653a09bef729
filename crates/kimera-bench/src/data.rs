//! The plain data a benchmark works on: what each detector said about each labelled pair.
//!
//! The harness knows nothing about detectors: the caller runs them and hands over one
//! [`DetectorOutput`] per (pair, detector). That keeps this crate free of models and
//! network code, and lets a run be stopped, resumed and re-reported from `results.csv`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::{BenchError, Result};

/// What is known of a labelled pair, whatever the detector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairMeta {
    /// Stable key of the pair within the dataset (e.g. SICK `pair_ID`); must not be empty.
    pub key: String,
    /// Gold label: `true` when the pair is a contradiction.
    pub gold: bool,
    /// Language code, when known (for error analysis by language).
    pub lang: Option<String>,
    /// Pair type, when known (e.g. `contradiction`/`neutral`/`entailment`).
    pub kind: Option<String>,
    /// Length of the first text in characters (Unicode scalar values).
    pub len_a: u32,
    /// Length of the second text in characters.
    pub len_b: u32,
}

impl PairMeta {
    /// Characters of both texts together: what length buckets are made of.
    pub fn total_len(&self) -> u32 {
        self.len_a.saturating_add(self.len_b)
    }
}

/// What one detector made of one pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// A contradiction score in 0..=1 and the verdict at the detector's own threshold.
    Scored { score: f64, verdict: bool },
    /// The detector failed on this pair (e.g. the LLM timed out); the message says why.
    Failed { error: String },
}

/// One row of a benchmark: one detector on one pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorOutput {
    pub pair: PairMeta,
    /// Detector name, e.g. `baseline`, `lexical`, `model`, `llm`.
    pub detector: String,
    pub outcome: Outcome,
    /// Wall-clock time the detector spent on this pair, in milliseconds.
    pub latency_ms: f64,
}

impl DetectorOutput {
    /// A scored row.
    pub fn scored(
        pair: PairMeta,
        detector: impl Into<String>,
        score: f64,
        verdict: bool,
        latency_ms: f64,
    ) -> Self {
        DetectorOutput {
            pair,
            detector: detector.into(),
            outcome: Outcome::Scored { score, verdict },
            latency_ms,
        }
    }

    /// A failed row.
    pub fn failed(
        pair: PairMeta,
        detector: impl Into<String>,
        error: impl Into<String>,
        latency_ms: f64,
    ) -> Self {
        DetectorOutput {
            pair,
            detector: detector.into(),
            outcome: Outcome::Failed {
                error: error.into(),
            },
            latency_ms,
        }
    }

    /// Checks what the metrics rely on: a key and a detector name that fit on one CSV
    /// line, a finite score in 0..=1 and a finite, non-negative latency.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, message: String| BenchError::InvalidOutput {
            pair: self.pair.key.clone(),
            detector: self.detector.clone(),
            field: field.to_string(),
            message,
        };
        for (field, value) in [("pair_key", &self.pair.key), ("detector", &self.detector)] {
            if value.trim().is_empty() {
                return Err(bad(field, "is empty".into()));
            }
            if value.contains(['\n', '\r']) {
                return Err(bad(field, "contains a line break".into()));
            }
        }
        for (field, value) in [("lang", &self.pair.lang), ("kind", &self.pair.kind)] {
            if value.as_deref().is_some_and(|v| v.contains(['\n', '\r'])) {
                return Err(bad(field, "contains a line break".into()));
            }
        }
        if let Outcome::Scored { score, .. } = self.outcome
            && !(0.0..=1.0).contains(&score)
        {
            return Err(bad("score", format!("{score} is not a number in 0..=1")));
        }
        if !(self.latency_ms.is_finite() && self.latency_ms >= 0.0) {
            return Err(bad(
                "latency_ms",
                format!("{} is not a finite, non-negative number", self.latency_ms),
            ));
        }
        Ok(())
    }
}

/// One detector's scored rows, aligned: index `i` of every vector is the same pair.
#[derive(Debug, Clone, Default)]
pub struct DetectorColumn {
    pub name: String,
    /// Index into [`Dataset::pairs`] of each scored row.
    pub pair_index: Vec<usize>,
    pub gold: Vec<bool>,
    pub scores: Vec<f64>,
    pub verdicts: Vec<bool>,
    /// Latency of every row, failed ones included: their time was spent too.
    pub latency_ms: Vec<f64>,
    /// (pair key, error) of failed rows.
    pub errors: Vec<(String, String)>,
}

/// Outputs gathered into pairs and per-detector columns, in a canonical order.
///
/// Pairs are sorted by key and detectors put in a fixed order, so the summary of a run
/// does not depend on the order in which rows were produced or resumed.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub pairs: Vec<PairMeta>,
    pub detectors: Vec<DetectorColumn>,
    /// Rows that repeated an earlier (pair, detector); the later one was kept.
    pub replaced_rows: usize,
}

impl Dataset {
    /// Validates and gathers outputs. Detectors come in the order of `order`, then any
    /// others alphabetically. When a (pair, detector) appears twice the later row wins
    /// (a retried pair appended to `results.csv`). Pair facts (gold, lang, kind, lengths)
    /// must agree across detectors.
    pub fn from_outputs(outputs: &[DetectorOutput], order: &[String]) -> Result<Self> {
        let mut pairs: BTreeMap<&str, (&PairMeta, &str)> = BTreeMap::new();
        let mut latest: HashMap<(&str, &str), &DetectorOutput> = HashMap::new();
        let mut replaced_rows = 0;
        for out in outputs {
            out.validate()?;
            match pairs.get(out.pair.key.as_str()) {
                Some((known, det)) => check_same_pair(known, det, &out.pair, &out.detector)?,
                None => {
                    pairs.insert(&out.pair.key, (&out.pair, &out.detector));
                }
            }
            if latest.insert((&out.pair.key, &out.detector), out).is_some() {
                replaced_rows += 1;
            }
        }
        let index: HashMap<&str, usize> = pairs.keys().enumerate().map(|(i, k)| (*k, i)).collect();
        let mut names: Vec<&str> = latest.keys().map(|(_, d)| *d).collect();
        names.sort_unstable();
        names.dedup();
        let rank = |name: &str| order.iter().position(|o| o == name).unwrap_or(order.len());
        names.sort_by_key(|n| (rank(n), n.to_string()));

        let mut rows: Vec<&DetectorOutput> = latest.into_values().collect();
        rows.sort_by(|a, b| index[a.pair.key.as_str()].cmp(&index[b.pair.key.as_str()]));
        let mut detectors: Vec<DetectorColumn> = names
            .iter()
            .map(|n| DetectorColumn {
                name: n.to_string(),
                ..Default::default()
            })
            .collect();
        let column: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        for row in rows {
            let col = &mut detectors[column[row.detector.as_str()]];
            col.latency_ms.push(row.latency_ms);
            match &row.outcome {
                Outcome::Scored { score, verdict } => {
                    col.pair_index.push(index[row.pair.key.as_str()]);
                    col.gold.push(row.pair.gold);
                    col.scores.push(*score);
                    col.verdicts.push(*verdict);
                }
                Outcome::Failed { error } => col.errors.push((row.pair.key.clone(), error.clone())),
            }
        }
        Ok(Dataset {
            pairs: pairs.into_values().map(|(p, _)| p.clone()).collect(),
            detectors,
            replaced_rows,
        })
    }
}

fn check_same_pair(known: &PairMeta, known_det: &str, new: &PairMeta, new_det: &str) -> Result<()> {
    let fields: [(&str, String, String); 5] = [
        ("gold", known.gold.to_string(), new.gold.to_string()),
        (
            "lang",
            format!("{:?}", known.lang),
            format!("{:?}", new.lang),
        ),
        (
            "kind",
            format!("{:?}", known.kind),
            format!("{:?}", new.kind),
        ),
        ("len_a", known.len_a.to_string(), new.len_a.to_string()),
        ("len_b", known.len_b.to_string(), new.len_b.to_string()),
    ];
    for (field, first, second) in fields {
        if first != second {
            return Err(BenchError::InconsistentPair {
                pair: known.key.clone(),
                field: field.to_string(),
                detail: format!(
                    "`{first}` for detector `{known_det}`, `{second}` for detector `{new_det}`"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(key: &str, gold: bool) -> PairMeta {
        PairMeta {
            key: key.into(),
            gold,
            lang: Some("en".into()),
            kind: None,
            len_a: 10,
            len_b: 12,
        }
    }

    #[test]
    fn gathers_in_canonical_order_and_later_rows_win() {
        let outs = vec![
            DetectorOutput::scored(pair("b", true), "zeta", 0.9, true, 1.0),
            DetectorOutput::scored(pair("a", false), "zeta", 0.2, false, 1.0),
            DetectorOutput::failed(pair("a", false), "llm", "timeout", 5.0),
            DetectorOutput::scored(pair("a", false), "alpha", 0.1, false, 1.0),
            DetectorOutput::scored(pair("a", false), "llm", 0.3, false, 2.0),
        ];
        let d = Dataset::from_outputs(&outs, &["llm".to_string()]).unwrap();
        assert_eq!(
            d.pairs.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let names: Vec<_> = d.detectors.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["llm", "alpha", "zeta"]);
        assert_eq!(d.replaced_rows, 1);
        assert_eq!(d.detectors[0].scores, [0.3]);
        assert!(d.detectors[0].errors.is_empty());
        assert_eq!(d.detectors[2].pair_index, [0, 1]);
        assert_eq!(d.detectors[2].gold, [false, true]);
    }

    #[test]
    fn rejects_bad_rows_naming_pair_detector_and_field() {
        let err = Dataset::from_outputs(
            &[DetectorOutput::scored(
                pair("p1", true),
                "model",
                1.5,
                true,
                1.0,
            )],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("p1") && err.contains("model") && err.contains("score"),
            "{err}"
        );
        for bad in [
            DetectorOutput::scored(pair("p", true), "m", f64::NAN, true, 1.0),
            DetectorOutput::scored(pair("p", true), "m", 0.5, true, -1.0),
            DetectorOutput::scored(pair("p", true), "m", 0.5, true, f64::INFINITY),
            DetectorOutput::scored(pair("", true), "m", 0.5, true, 1.0),
            DetectorOutput::scored(pair("p", true), " ", 0.5, true, 1.0),
            DetectorOutput::scored(pair("p\nq", true), "m", 0.5, true, 1.0),
        ] {
            assert!(
                Dataset::from_outputs(std::slice::from_ref(&bad), &[]).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_pairs_that_disagree_between_detectors() {
        let err = Dataset::from_outputs(
            &[
                DetectorOutput::scored(pair("p", true), "a", 0.5, true, 1.0),
                DetectorOutput::scored(pair("p", false), "b", 0.5, true, 1.0),
            ],
            &[],
        )
        .unwrap_err();
        assert!(matches!(err, BenchError::InconsistentPair { ref field, .. } if field == "gold"));
    }
}
