//! The `graph` contradiction finder: statements asserting conflicting facts.
//!
//! Three rules, each with the associations as evidence:
//! - **attribute**: the same attribute of the same concept with two values ("the capital
//!   of France is Paris" / "... is Lyon"; two populations; two founding dates);
//! - **opposite**: X is-a (or has-property) A and X is-a B where A opposite-of B, learned
//!   in the graph or from a short built-in list of antonyms;
//! - **order**: X before Y and Y before X.
//!
//! This crate does not know the reactor's detector trait; the reactor wraps
//! [`fact_conflicts`] (one pair) and [`find_conflicts`] (the whole graph).

use kimera_core::GeoidId;
use rustc_hash::FxHashMap;
use serde::Serialize;
use serde_json::json;

use crate::extract::{Extraction, Relation, extract};
use crate::graph::{AssocId, ConceptId, Graph};
use crate::learn::AsStatement;

/// A conflict between two statements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    /// Strength of the contradiction in 0..=1.
    pub score: f32,
    /// Why: the rule, the concept, the attribute, the two values, the associations.
    pub evidence: serde_json::Value,
}

/// Antonyms known without learning them (both directions are checked).
pub const BUILTIN_OPPOSITES: &[(&str, &str)] = &[
    ("hot", "cold"),
    ("alive", "dead"),
    ("true", "false"),
    ("open", "closed"),
    ("wet", "dry"),
    ("male", "female"),
    ("legal", "illegal"),
    ("possible", "impossible"),
    ("visible", "invisible"),
    ("safe", "dangerous"),
    ("empty", "full"),
    ("light", "dark"),
    ("heavy", "light"),
    ("young", "old"),
    ("flat", "round"),
    ("flat", "spherical"),
    ("solid", "liquid"),
    ("mortal", "immortal"),
    ("edible", "poisonous"),
    ("herbivore", "carnivore"),
];

/// Strength of a built-in antonym pair.
const BUILTIN_STRENGTH: f64 = 0.9;
/// Most statement pairs reported for one contested fact by [`find_conflicts`].
pub const MAX_PAIRS_PER_FACT: usize = 100;

fn builtin_opposite(a: &str, b: &str) -> bool {
    BUILTIN_OPPOSITES
        .iter()
        .any(|&(x, y)| (x == a && y == b) || (x == b && y == a))
}

/// How strongly `a` and `b` are opposites: learned association or built-in pair.
fn opposite(g: &Graph, a: &str, b: &str) -> Option<(f64, serde_json::Value)> {
    if let (Some(x), Some(y)) = (g.concept_id(a), g.concept_id(b)) {
        if let Some(id) = g.association_id(x, Relation::OppositeOf, None, y) {
            let s = g.association(id).strength;
            return Some((s, assoc_json(g, id)));
        }
    }
    builtin_opposite(a, b).then(|| (BUILTIN_STRENGTH, json!({"builtin": [a, b]})))
}

fn assoc_json(g: &Graph, id: AssocId) -> serde_json::Value {
    let a = g.association(id);
    json!({
        "id": id,
        "src": g.term(a.src),
        "kind": a.rel.as_str(),
        "attr": a.attr.map(|x| g.term(x)),
        "dst": g.term(a.dst),
        "strength": a.strength,
        "count": a.count,
        "last_seen": a.last_seen,
    })
}

/// The graph's record of a fact stated by one statement, when learned.
fn graph_fact(
    g: &Graph,
    src: &str,
    rel: Relation,
    attr: Option<&str>,
    dst: &str,
) -> serde_json::Value {
    let lookup = || {
        let s = g.concept_id(src)?;
        let d = g.concept_id(dst)?;
        let a = match attr {
            Some(a) => Some(g.concept_id(a)?),
            None => None,
        };
        g.association_id(s, rel, a, d)
    };
    lookup().map_or(serde_json::Value::Null, |id| assoc_json(g, id))
}

struct Facts<'a> {
    ex: &'a Extraction,
}

impl Facts<'_> {
    fn of(&self, rel: Relation) -> impl Iterator<Item = (&str, Option<&str>, &str, f32)> {
        self.ex.links.iter().filter(move |l| l.rel == rel).map(|l| {
            (
                self.ex.term(l.src),
                l.attr.map(|a| self.ex.term(a)),
                self.ex.term(l.dst),
                l.confidence,
            )
        })
    }

    fn classes(&self) -> impl Iterator<Item = (&str, Relation, &str, f32)> {
        self.ex
            .links
            .iter()
            .filter(|l| matches!(l.rel, Relation::IsA | Relation::HasProperty))
            .map(|l| {
                (
                    self.ex.term(l.src),
                    l.rel,
                    self.ex.term(l.dst),
                    l.confidence,
                )
            })
    }
}

fn is_numeric(v: &str) -> bool {
    v.split(' ')
        .next()
        .is_some_and(|n| n.parse::<f64>().is_ok())
}

/// Do statements `a` and `b` assert conflicting facts? The strongest conflict found,
/// with the facts as the statements state them and, where the graph has learned them,
/// the associations (strength, count, last seen).
///
/// ```
/// use kimera_learn::{fact_conflicts, Graph, Statement};
/// let g = Graph::new();
/// let a = Statement::new("The capital of France is Paris.", "en");
/// let b = Statement::new("Lyon is the capital of France.", "en");
/// let c = fact_conflicts(&g, &a, &b).unwrap();
/// assert_eq!(c.evidence["rule"], "attribute");
/// assert!(fact_conflicts(&g, &a, &a).is_none());
/// ```
pub fn fact_conflicts<A: AsStatement, B: AsStatement>(g: &Graph, a: &A, b: &B) -> Option<Conflict> {
    let ea = extract(a.text(), a.lang()).ok()?;
    let eb = extract(b.text(), b.lang()).ok()?;
    extraction_conflicts(g, &ea, &eb)
}

/// [`fact_conflicts`] on extractions already made.
pub fn extraction_conflicts(g: &Graph, ea: &Extraction, eb: &Extraction) -> Option<Conflict> {
    let (fa, fb) = (Facts { ex: ea }, Facts { ex: eb });
    let mut best: Option<Conflict> = None;
    let mut offer = |c: Conflict| {
        if best.as_ref().is_none_or(|b| c.score > b.score) {
            best = Some(c);
        }
    };
    // attribute: same entity and attribute, different values
    for (ent, attr, va, ca) in fa.of(Relation::Attribute) {
        for (ent2, attr2, vb, cb) in fb.of(Relation::Attribute) {
            if ent == ent2 && attr == attr2 && va != vb {
                let numeric = is_numeric(va) && is_numeric(vb);
                offer(Conflict {
                    score: ca.min(cb) + if numeric { 0.1 } else { 0.0 },
                    evidence: json!({
                        "rule": "attribute",
                        "concept": ent,
                        "attribute": attr,
                        "values": [va, vb],
                        "numeric": numeric,
                        "associations": [
                            graph_fact(g, ent, Relation::Attribute, attr, va),
                            graph_fact(g, ent, Relation::Attribute, attr, vb),
                        ],
                    }),
                });
            }
        }
    }
    // opposite: X is A, X is B, A opposite-of B
    for (x, ra, ca_, cla) in fa.classes() {
        for (x2, rb, cb_, clb) in fb.classes() {
            if x != x2 || ca_ == cb_ {
                continue;
            }
            if let Some((s, why)) = opposite(g, ca_, cb_) {
                offer(Conflict {
                    score: (0.5 * f64::from(cla.min(clb)) + 0.5 * s) as f32,
                    evidence: json!({
                        "rule": "opposite",
                        "concept": x,
                        "values": [ca_, cb_],
                        "kinds": [ra.as_str(), rb.as_str()],
                        "opposite": why,
                        "associations": [
                            graph_fact(g, x, ra, None, ca_),
                            graph_fact(g, x, rb, None, cb_),
                        ],
                    }),
                });
            }
        }
    }
    // order: X before Y, Y before X
    for (x, _, y, ca) in fa.of(Relation::Before) {
        for (y2, _, x2, cb) in fb.of(Relation::Before) {
            if x == x2 && y == y2 {
                offer(Conflict {
                    score: ca.min(cb),
                    evidence: json!({
                        "rule": "order",
                        "before": [[x, y], [y, x]],
                        "associations": [
                            graph_fact(g, x, Relation::Before, None, y),
                            graph_fact(g, y, Relation::Before, None, x),
                        ],
                    }),
                });
            }
        }
    }
    best.map(|mut c| {
        c.score = c.score.clamp(0.0, 1.0);
        c
    })
}

/// Every pair of learned statements that assert conflicting facts, found from the
/// graph alone (it must have been loaded with provenance). Pairs are `(a, b)` with
/// `a < b`, sorted, one per pair (the strongest conflict); at most
/// [`MAX_PAIRS_PER_FACT`] pairs per contested fact.
pub fn find_conflicts(g: &Graph) -> Vec<(GeoidId, GeoidId, Conflict)> {
    let mut found: FxHashMap<(GeoidId, GeoidId), Conflict> = FxHashMap::default();
    let mut add = |x: AssocId, y: AssocId, score: f32, evidence: serde_json::Value| {
        let (sxs, sys) = (g.association_sources(x), g.association_sources(y));
        let mut n = 0;
        'outer: for &sx in sxs {
            for &sy in sys {
                if sx == sy {
                    continue;
                }
                let (p, q) = (g.source(sx).clone(), g.source(sy).clone());
                let key = if p < q { (p, q) } else { (q, p) };
                let c = Conflict {
                    score,
                    evidence: evidence.clone(),
                };
                match found.get(&key) {
                    Some(old) if old.score >= score => {}
                    _ => {
                        found.insert(key, c);
                    }
                }
                n += 1;
                if n >= MAX_PAIRS_PER_FACT {
                    break 'outer;
                }
            }
        }
    };

    // attribute: group by (entity, attribute)
    let mut groups: FxHashMap<(ConceptId, ConceptId), Vec<AssocId>> = FxHashMap::default();
    for (i, a) in g.associations().iter().enumerate() {
        if let (Relation::Attribute, Some(attr)) = (a.rel, a.attr) {
            groups.entry((a.src, attr)).or_default().push(i as AssocId);
        }
    }
    let mut keys: Vec<_> = groups
        .keys()
        .copied()
        .filter(|k| groups[k].len() > 1)
        .collect();
    keys.sort_unstable();
    for k in keys {
        let ids = &groups[&k];
        for (i, &x) in ids.iter().enumerate() {
            for &y in &ids[i + 1..] {
                let (ax, ay) = (g.association(x), g.association(y));
                let (va, vb) = (g.term(ax.dst), g.term(ay.dst));
                let numeric = is_numeric(va) && is_numeric(vb);
                let score = ax.confidence.min(ay.confidence) + if numeric { 0.1 } else { 0.0 };
                add(
                    x,
                    y,
                    score.clamp(0.0, 1.0),
                    json!({
                        "rule": "attribute",
                        "concept": g.term(k.0),
                        "attribute": g.term(k.1),
                        "values": [va, vb],
                        "numeric": numeric,
                        "associations": [assoc_json(g, x), assoc_json(g, y)],
                    }),
                );
            }
        }
    }

    // opposite: pairs (A, B) known opposite, then entities that are both
    let mut opposites: Vec<(ConceptId, ConceptId, f64, serde_json::Value)> = Vec::new();
    for (i, a) in g.associations().iter().enumerate() {
        if a.rel == Relation::OppositeOf {
            opposites.push((a.src, a.dst, a.strength, assoc_json(g, i as AssocId)));
        }
    }
    for &(x, y) in BUILTIN_OPPOSITES {
        if let (Some(cx), Some(cy)) = (g.concept_id(x), g.concept_id(y)) {
            if g.association_id(cx, Relation::OppositeOf, None, cy)
                .is_none()
            {
                opposites.push((cx, cy, BUILTIN_STRENGTH, json!({"builtin": [x, y]})));
            }
        }
    }
    let class_edges = |c: ConceptId| -> FxHashMap<ConceptId, Vec<AssocId>> {
        let mut m: FxHashMap<ConceptId, Vec<AssocId>> = FxHashMap::default();
        for &e in g.edges(c) {
            let a = g.association(e);
            if a.dst == c && matches!(a.rel, Relation::IsA | Relation::HasProperty) {
                m.entry(a.src).or_default().push(e);
            }
        }
        m
    };
    for (ca, cb, s, why) in opposites {
        let (ma, mb) = (class_edges(ca), class_edges(cb));
        let mut ents: Vec<ConceptId> = ma.keys().copied().filter(|e| mb.contains_key(e)).collect();
        ents.sort_unstable();
        for e in ents {
            for &x in &ma[&e] {
                for &y in &mb[&e] {
                    let (ax, ay) = (g.association(x), g.association(y));
                    let score = 0.5 * f64::from(ax.confidence.min(ay.confidence)) + 0.5 * s;
                    add(
                        x,
                        y,
                        score as f32,
                        json!({
                            "rule": "opposite",
                            "concept": g.term(e),
                            "values": [g.term(ca), g.term(cb)],
                            "kinds": [ax.rel.as_str(), ay.rel.as_str()],
                            "opposite": why,
                            "associations": [assoc_json(g, x), assoc_json(g, y)],
                        }),
                    );
                }
            }
        }
    }

    // order: X before Y and Y before X
    for (i, a) in g.associations().iter().enumerate() {
        if a.rel == Relation::Before && a.src < a.dst {
            if let Some(j) = g.association_id(a.dst, Relation::Before, None, a.src) {
                let b = g.association(j);
                add(
                    i as AssocId,
                    j,
                    a.confidence.min(b.confidence),
                    json!({
                        "rule": "order",
                        "before": [[g.term(a.src), g.term(a.dst)], [g.term(a.dst), g.term(a.src)]],
                        "associations": [assoc_json(g, i as AssocId), assoc_json(g, j)],
                    }),
                );
            }
        }
    }

    let mut out: Vec<(GeoidId, GeoidId, Conflict)> =
        found.into_iter().map(|((a, b), c)| (a, b, c)).collect();
    out.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
    out
}
