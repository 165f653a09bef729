//! Settling conflicts: what a conflict is (its [`ConflictKind`], derived from the
//! detectors' evidence), how one is settled ([`Resolution`]), and the strategies that
//! settle one without a person ([`decide`]).
//!
//! Everything here is a pure function of the facts handed in, so that every automatic
//! decision can be recorded with exactly the inputs it was made from and replayed.
//!
//! ```
//! use kimera_core::settle::{ConflictFacts, Resolution, Side, Strategy, StrategyConfig, decide};
//! let old = Side { id: "a".into(), source: "facts-2019.csv:3".into(), recorded_at: 100, ..Side::default() };
//! let new = Side { id: "b".into(), source: "facts-2024.csv:9".into(), recorded_at: 200, ..Side::default() };
//! let facts = ConflictFacts { kind: "number".into(), score: 0.9, a: old, b: new };
//! let d = decide(&StrategyConfig::new(Strategy::Recency), &facts).unwrap();
//! assert_eq!(d.resolution, Resolution::KeepB);
//! assert_eq!(d.inputs["b"]["time"], 200);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What kind of contradiction a conflict is, from its evidence. When several
/// detectors flagged one pair, the most specific kind wins (a named rule over a
/// model's probability, see [`ConflictKind::rank`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// One statement negates the other ("is" / "is not").
    Negation,
    /// Opposite words ("hot" / "cold").
    Antonym,
    /// Two members of a mutually exclusive category ("Monday" / "Friday").
    Exclusive,
    /// Two different numbers in the same place.
    Number,
    /// Two different dates or years in the same place.
    Date,
    /// The same relation with its entities swapped or replaced.
    EntitySwap,
    /// The concept graph holds two values of one attribute (or opposite relations).
    GraphFact,
    /// An LLM judged it a contradiction.
    Llm,
    /// Only a model's probability (or a similarity score) says so.
    ModelOnly,
}

impl ConflictKind {
    pub const ALL: [ConflictKind; 9] = [
        ConflictKind::Negation,
        ConflictKind::Antonym,
        ConflictKind::Exclusive,
        ConflictKind::Number,
        ConflictKind::Date,
        ConflictKind::EntitySwap,
        ConflictKind::GraphFact,
        ConflictKind::Llm,
        ConflictKind::ModelOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::Negation => "negation",
            ConflictKind::Antonym => "antonym",
            ConflictKind::Exclusive => "exclusive",
            ConflictKind::Number => "number",
            ConflictKind::Date => "date",
            ConflictKind::EntitySwap => "entity_swap",
            ConflictKind::GraphFact => "graph_fact",
            ConflictKind::Llm => "llm",
            ConflictKind::ModelOnly => "model_only",
        }
    }

    pub fn parse(s: &str) -> Option<ConflictKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }

    /// Lower is more specific: the kind a conflict shows when detectors disagree.
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// The kind one detector's evidence shows. `detector` is the scar's detector name;
    /// `evidence` its JSON (the `rule`, a model's `route` and `substitution`, a judge's
    /// `reasoning`).
    pub fn of_evidence(detector: &str, ev: &Value) -> ConflictKind {
        let rule = ev.get("rule").and_then(Value::as_str).unwrap_or("");
        let by_rule = |rule: &str| match rule {
            "negation" | "negation_only" | "explicit_denial" | "denial" => {
                Some(ConflictKind::Negation)
            }
            "antonym" | "opposite" => Some(ConflictKind::Antonym),
            "exclusive" => Some(ConflictKind::Exclusive),
            "numbers" | "number" => Some(if looks_like_dates(ev) {
                ConflictKind::Date
            } else {
                ConflictKind::Number
            }),
            "entity_swap" => Some(ConflictKind::EntitySwap),
            "attribute" | "order" => Some(ConflictKind::GraphFact),
            _ => None,
        };
        if let Some(k) = by_rule(rule) {
            return k;
        }
        if rule == "model" {
            let route = ev.get("route").and_then(Value::as_str).unwrap_or("");
            let sub = ev.get("substitution").and_then(Value::as_str).unwrap_or("");
            return by_rule(route)
                .or_else(|| by_rule(sub))
                .unwrap_or(ConflictKind::ModelOnly);
        }
        if detector.starts_with("llm") || detector == "judge" || ev.get("reasoning").is_some() {
            return ConflictKind::Llm;
        }
        ConflictKind::ModelOnly
    }
}

impl std::fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the tokens a `numbers` rule quoted are years or dates (four-digit numbers
/// from 1000 to 2999, or month names).
fn looks_like_dates(ev: &Value) -> bool {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let mut words = Vec::new();
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.extend(s.split_whitespace().map(str::to_lowercase)),
            Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            Value::Number(n) => out.push(n.to_string()),
            _ => {}
        }
    }
    if let Some(t) = ev.get("tokens") {
        collect(t, &mut words);
    }
    let year = |w: &str| {
        let w = w.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        w.len() == 4 && w.parse::<u16>().is_ok_and(|y| (1000..3000).contains(&y))
    };
    !words.is_empty()
        && words
            .iter()
            .all(|w| year(w) || MONTHS.contains(&w.trim_matches(|c: char| !c.is_alphabetic())))
}

/// How a conflict was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// A holds; B is superseded by A.
    KeepA,
    /// B holds; A is superseded by B.
    KeepB,
    /// Both hold, in different contexts or at different times: nothing is superseded.
    BothValid,
    /// The detectors were wrong: nothing is superseded (a negative training example).
    NotAContradiction,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::KeepA => "keep_a",
            Resolution::KeepB => "keep_b",
            Resolution::BothValid => "both_valid",
            Resolution::NotAContradiction => "not_a_contradiction",
        }
    }

    /// Reads a resolution as stored (`keep_a`…) or as typed (`a`, `b`, `both`,
    /// `neither`, `dismiss`).
    pub fn parse(s: &str) -> Option<Resolution> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "keep_a" | "a" => Resolution::KeepA,
            "keep_b" | "b" => Resolution::KeepB,
            "both_valid" | "both" => Resolution::BothValid,
            "not_a_contradiction" | "neither" | "dismiss" | "none" => Resolution::NotAContradiction,
            _ => return None,
        })
    }

    /// Whether the detectors were right (the pair does contradict, in some context):
    /// the label `kimera export feedback` writes.
    pub fn is_contradiction(self) -> bool {
        self != Resolution::NotAContradiction
    }
}

impl std::fmt::Display for Resolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a store settles conflicts without a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Nothing automatic: conflicts stay open until someone decides.
    #[default]
    Manual,
    /// The statement valid (`valid_from`) or recorded later wins; statements whose
    /// validity intervals do not overlap are both valid.
    Recency,
    /// The statement from the more reliable source wins (per-source weights).
    Source,
    /// Recency, but only for conflicts whose strongest detector score reaches
    /// `min_score`; weaker ones stay open.
    Confidence,
    /// The statement more other statements support (through the learned concept graph,
    /// not counting statements in conflict with it) wins.
    Consensus,
}

impl Strategy {
    pub const ALL: [Strategy; 5] = [
        Strategy::Manual,
        Strategy::Recency,
        Strategy::Source,
        Strategy::Confidence,
        Strategy::Consensus,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Manual => "manual",
            Strategy::Recency => "recency",
            Strategy::Source => "source",
            Strategy::Confidence => "confidence",
            Strategy::Consensus => "consensus",
        }
    }

    pub fn parse(s: &str) -> Option<Strategy> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Strategy::parse(s).ok_or_else(|| {
            let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown strategy {s:?} (one of {})", names.join(", "))
        })
    }
}

/// A strategy with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyConfig {
    pub strategy: Strategy,
    /// `confidence`: the detector score a conflict must reach to be settled.
    pub min_score: f64,
    /// `source`: reliability per source. A key matches a statement's source file when
    /// it is the file, a folder it is in (`data/`), or its file name; `api` and
    /// `api:<client>` match statements sent through the API. The longest matching key
    /// counts; a source no key matches weighs `default_weight`.
    pub source_weights: BTreeMap<String, f64>,
    pub default_weight: f64,
}

impl StrategyConfig {
    /// `strategy` with the default parameters (min score 0.9, no source weights, 1.0).
    pub fn new(strategy: Strategy) -> StrategyConfig {
        StrategyConfig {
            strategy,
            min_score: 0.9,
            source_weights: BTreeMap::new(),
            default_weight: 1.0,
        }
    }

    /// The weight of `source` (a geoid's source, `file:line` or `api…`).
    pub fn weight(&self, source: &str) -> f64 {
        let file = source_file(source);
        let name = file.rsplit('/').next().unwrap_or(file);
        self.source_weights
            .iter()
            .filter(|(k, _)| {
                let k = k.as_str();
                k == file
                    || k == name
                    || (k.ends_with('/') && file.starts_with(k))
                    || file.ends_with(&format!("/{k}"))
            })
            .max_by_key(|(k, _)| k.len())
            .map_or(self.default_weight, |(_, w)| *w)
    }
}

/// The file part of a geoid's source: `data/x.csv:12` → `data/x.csv`.
pub fn source_file(source: &str) -> &str {
    match source.rsplit_once(':') {
        Some((file, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => file,
        _ => source,
    }
}

/// One side of a conflict, as the strategies see it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Side {
    pub id: String,
    /// `file:line` or `api…`.
    pub source: String,
    /// When the store recorded it (seconds since the epoch).
    pub recorded_at: i64,
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
    /// `consensus`: statements supporting it (`None`: not computed).
    pub support: Option<u64>,
}

impl Side {
    /// The time `recency` compares: when it became valid, else when it was recorded.
    pub fn time(&self) -> i64 {
        self.valid_from.unwrap_or(self.recorded_at)
    }
}

/// What a strategy knows about one conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictFacts {
    pub kind: String,
    /// The strongest detector score.
    pub score: f64,
    pub a: Side,
    pub b: Side,
}

/// An automatic decision and what it was made from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub resolution: Resolution,
    /// `strategy:<name>`.
    pub decided_by: String,
    /// One sentence a person can check.
    pub why: String,
    /// The inputs the decision was made from (recorded with it).
    pub inputs: Value,
}

/// What `cfg`'s strategy decides for a conflict: `None` leaves it open (strategy
/// `manual`, a tie, a score below `min_score`).
pub fn decide(cfg: &StrategyConfig, f: &ConflictFacts) -> Option<Decision> {
    let made = |resolution, why: String, inputs: Value| Decision {
        resolution,
        decided_by: format!("strategy:{}", cfg.strategy),
        why,
        inputs,
    };
    let winner = |x: f64, y: f64| {
        if x > y {
            Some(Resolution::KeepA)
        } else if y > x {
            Some(Resolution::KeepB)
        } else {
            None
        }
    };
    match cfg.strategy {
        Strategy::Manual => None,
        Strategy::Recency => recency(f).map(|(r, why, inputs)| made(r, why, inputs)),
        Strategy::Confidence => {
            if f.score < cfg.min_score {
                return None;
            }
            recency(f).map(|(r, why, mut inputs)| {
                inputs["score"] = json!(f.score);
                inputs["min_score"] = json!(cfg.min_score);
                made(
                    r,
                    format!("score {:.2} ≥ {:.2}; {why}", f.score, cfg.min_score),
                    inputs,
                )
            })
        }
        Strategy::Source => {
            let (wa, wb) = (cfg.weight(&f.a.source), cfg.weight(&f.b.source));
            let r = winner(wa, wb)?;
            Some(made(
                r,
                format!(
                    "source {} weighs {wa} against {} at {wb}",
                    source_file(&f.a.source),
                    source_file(&f.b.source)
                ),
                json!({
                    "a": {"source": f.a.source, "weight": wa},
                    "b": {"source": f.b.source, "weight": wb},
                }),
            ))
        }
        Strategy::Consensus => {
            let (sa, sb) = (f.a.support.unwrap_or(0), f.b.support.unwrap_or(0));
            let r = winner(sa as f64, sb as f64)?;
            Some(made(
                r,
                format!("{sa} statement(s) support A, {sb} support B"),
                json!({"a": {"support": sa}, "b": {"support": sb}}),
            ))
        }
    }
}

/// `recency`: disjoint validity → both valid; else the later time wins; equal → open.
fn recency(f: &ConflictFacts) -> Option<(Resolution, String, Value)> {
    let side = |s: &Side| {
        json!({"time": s.time(), "valid_from": s.valid_from, "valid_to": s.valid_to,
               "recorded_at": s.recorded_at})
    };
    let inputs = json!({"a": side(&f.a), "b": side(&f.b)});
    let before = |x: &Side, y: &Side| matches!((x.valid_to, y.valid_from), (Some(to), Some(from)) if to <= from);
    if before(&f.a, &f.b) || before(&f.b, &f.a) {
        return Some((
            Resolution::BothValid,
            "their validity intervals do not overlap: each holds in its own time".into(),
            inputs,
        ));
    }
    let (ta, tb) = (f.a.time(), f.b.time());
    let what = |s: &Side| {
        if s.valid_from.is_some() {
            "valid from"
        } else {
            "recorded"
        }
    };
    let (r, why) = if ta > tb {
        (
            Resolution::KeepA,
            format!(
                "A ({} {}) is later than B ({} {})",
                what(&f.a),
                crate::format_time(ta),
                what(&f.b),
                crate::format_time(tb)
            ),
        )
    } else if tb > ta {
        (
            Resolution::KeepB,
            format!(
                "B ({} {}) is later than A ({} {})",
                what(&f.b),
                crate::format_time(tb),
                what(&f.a),
                crate::format_time(ta)
            ),
        )
    } else {
        return None;
    };
    Some((r, why, inputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(id: &str, source: &str, recorded_at: i64) -> Side {
        Side {
            id: id.into(),
            source: source.into(),
            recorded_at,
            ..Side::default()
        }
    }

    fn facts(a: Side, b: Side, score: f64) -> ConflictFacts {
        ConflictFacts {
            kind: "number".into(),
            score,
            a,
            b,
        }
    }

    fn res(cfg: &StrategyConfig, f: &ConflictFacts) -> Option<Resolution> {
        decide(cfg, f).map(|d| d.resolution)
    }

    #[test]
    fn manual_never_decides() {
        let f = facts(side("a", "x:1", 1), side("b", "y:1", 2), 1.0);
        assert_eq!(res(&StrategyConfig::new(Strategy::Manual), &f), None);
    }

    #[test]
    fn recency_prefers_validity_then_recording_and_leaves_ties_open() {
        let cfg = StrategyConfig::new(Strategy::Recency);
        let f = facts(side("a", "x:1", 100), side("b", "x:2", 200), 0.5);
        assert_eq!(res(&cfg, &f), Some(Resolution::KeepB));
        let f = facts(side("a", "x:1", 300), side("b", "x:2", 200), 0.5);
        assert_eq!(res(&cfg, &f), Some(Resolution::KeepA));
        // valid_from wins over the recording time
        let mut a = side("a", "x:1", 300);
        a.valid_from = Some(50);
        let f = facts(a, side("b", "x:2", 200), 0.5);
        let d = decide(&cfg, &f).unwrap();
        assert_eq!(d.resolution, Resolution::KeepB);
        assert_eq!(d.inputs["a"]["time"], 50);
        assert_eq!(d.decided_by, "strategy:recency");
        // a tie stays open
        let f = facts(side("a", "x:1", 200), side("b", "x:2", 200), 0.5);
        assert_eq!(res(&cfg, &f), None);
        // disjoint validity: both hold
        let (mut a, mut b) = (side("a", "x:1", 1), side("b", "x:2", 2));
        (a.valid_from, a.valid_to) = (Some(0), Some(100));
        (b.valid_from, b.valid_to) = (Some(100), None);
        assert_eq!(res(&cfg, &facts(a, b, 0.5)), Some(Resolution::BothValid));
    }

    #[test]
    fn confidence_settles_only_strong_conflicts() {
        let mut cfg = StrategyConfig::new(Strategy::Confidence);
        cfg.min_score = 0.8;
        let strong = facts(side("a", "x:1", 1), side("b", "x:2", 2), 0.8);
        let weak = facts(side("a", "x:1", 1), side("b", "x:2", 2), 0.79);
        let d = decide(&cfg, &strong).unwrap();
        assert_eq!(d.resolution, Resolution::KeepB);
        assert_eq!(d.inputs["min_score"], 0.8);
        assert_eq!(res(&cfg, &weak), None);
        // strong but tied in time: open
        let tie = facts(side("a", "x:1", 2), side("b", "x:2", 2), 0.99);
        assert_eq!(res(&cfg, &tie), None);
    }

    #[test]
    fn source_weights_match_files_folders_and_names_longest_first() {
        let mut cfg = StrategyConfig::new(Strategy::Source);
        cfg.source_weights = [
            ("data/".to_string(), 0.5),
            ("data/wiki.csv".to_string(), 0.9),
            ("rumours.txt".to_string(), 0.1),
            ("api".to_string(), 0.7),
        ]
        .into();
        assert_eq!(cfg.weight("data/wiki.csv:3"), 0.9);
        assert_eq!(cfg.weight("data/other.csv:3"), 0.5);
        assert_eq!(cfg.weight("/home/x/rumours.txt:40"), 0.1);
        assert_eq!(cfg.weight("api"), 0.7);
        assert_eq!(cfg.weight("elsewhere.csv:1"), 1.0);
        let f = facts(
            side("a", "data/wiki.csv:1", 1),
            side("b", "rumours.txt:2", 2),
            0.5,
        );
        assert_eq!(res(&cfg, &f), Some(Resolution::KeepA));
        let f = facts(
            side("a", "rumours.txt:1", 9),
            side("b", "data/x.csv:2", 1),
            0.5,
        );
        assert_eq!(res(&cfg, &f), Some(Resolution::KeepB));
        // same weight: open
        let f = facts(
            side("a", "data/a.csv:1", 1),
            side("b", "data/b.csv:2", 2),
            0.5,
        );
        assert_eq!(res(&cfg, &f), None);
    }

    #[test]
    fn consensus_counts_support_and_leaves_ties_open() {
        let cfg = StrategyConfig::new(Strategy::Consensus);
        let (mut a, mut b) = (side("a", "x:1", 1), side("b", "x:2", 2));
        (a.support, b.support) = (Some(3), Some(1));
        let d = decide(&cfg, &facts(a.clone(), b.clone(), 0.5)).unwrap();
        assert_eq!(d.resolution, Resolution::KeepA);
        assert_eq!(d.inputs["a"]["support"], 3);
        b.support = Some(3);
        assert_eq!(res(&cfg, &facts(a.clone(), b.clone(), 0.5)), None);
        a.support = None;
        assert_eq!(
            res(&cfg, &facts(a, b, 0.5)),
            Some(Resolution::KeepB),
            "no support counts as none"
        );
    }

    #[test]
    fn kinds_come_from_rules_routes_and_judges() {
        let k = |d: &str, v: Value| ConflictKind::of_evidence(d, &v);
        assert_eq!(
            k("lexical", json!({"rule": "negation"})),
            ConflictKind::Negation
        );
        assert_eq!(
            k(
                "lexical",
                json!({"rule": "numbers", "tokens": ["300", "450"]})
            ),
            ConflictKind::Number
        );
        assert_eq!(
            k(
                "lexical",
                json!({"rule": "numbers", "tokens": ["1989", "1991"]})
            ),
            ConflictKind::Date
        );
        assert_eq!(
            k(
                "model",
                json!({"rule": "model", "route": "substitution", "substitution": "entity_swap"})
            ),
            ConflictKind::EntitySwap
        );
        assert_eq!(
            k("model", json!({"rule": "model", "route": "negation"})),
            ConflictKind::Negation
        );
        assert_eq!(
            k(
                "model",
                json!({"rule": "model", "route": "head", "probability": 0.9})
            ),
            ConflictKind::ModelOnly
        );
        assert_eq!(
            k("graph", json!({"rule": "attribute"})),
            ConflictKind::GraphFact
        );
        assert_eq!(k("llm", json!({"reasoning": "no"})), ConflictKind::Llm);
        assert_eq!(
            k("baseline", json!({"rule": "low_resonance"})),
            ConflictKind::ModelOnly
        );
        assert!(ConflictKind::Negation.rank() < ConflictKind::ModelOnly.rank());
        for kind in ConflictKind::ALL {
            assert_eq!(ConflictKind::parse(kind.as_str()), Some(kind));
        }
        for r in ["a", "keep_b", "both", "neither", "dismiss"] {
            let parsed = Resolution::parse(r).unwrap();
            assert_eq!(Resolution::parse(parsed.as_str()), Some(parsed));
        }
        assert!(!Resolution::NotAContradiction.is_contradiction());
    }
}
