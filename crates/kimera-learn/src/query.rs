//! Questions to the graph: a concept's associations, explanation paths between two
//! concepts, related concepts.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use kimera_core::GeoidId;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::extract::Relation;
use crate::graph::{AssocId, ConceptId, Graph};

/// Co-occurrence is weak evidence of a relation: its edges count half in paths and
/// relatedness, so that a typed association is preferred when there is one.
pub const COOCCURS_DISCOUNT: f64 = 0.5;

/// Which way an edge points from the concept asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Out,
    In,
}

/// One association as seen from a concept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    pub id: AssocId,
    pub kind: Relation,
    pub attr: Option<String>,
    pub direction: Direction,
    /// The concept at the other end.
    pub other: String,
    pub strength: f64,
    pub confidence: f32,
    pub count: u32,
    pub last_seen: i64,
    /// The first few statements it was learned from.
    pub sources: Vec<GeoidId>,
}

/// A concept and its associations, each direction sorted by kind then strength.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConceptView {
    pub id: ConceptId,
    pub term: String,
    pub count: u32,
    pub last_seen: i64,
    pub out: Vec<Edge>,
    pub inbound: Vec<Edge>,
    /// Edges left out by `per_kind` (per direction and kind).
    pub omitted: u64,
}

fn weight(g: &Graph, a: AssocId) -> f64 {
    let a = g.association(a);
    if a.rel == Relation::CoOccurs {
        a.strength * COOCCURS_DISCOUNT
    } else {
        a.strength
    }
}

/// The associations of concept `c`, at most `per_kind` per direction and kind, with up
/// to `examples` source statements each.
pub fn concept_view(g: &Graph, c: ConceptId, per_kind: usize, examples: usize) -> ConceptView {
    let mut out = Vec::new();
    let mut inbound = Vec::new();
    for &id in g.edges(c) {
        let a = g.association(id);
        let (direction, other) = if a.src == c {
            (Direction::Out, a.dst)
        } else {
            (Direction::In, a.src)
        };
        let e = Edge {
            id,
            kind: a.rel,
            attr: a.attr.map(|x| g.term(x).to_string()),
            direction,
            other: g.term(other).to_string(),
            strength: a.strength,
            confidence: a.confidence,
            count: a.count,
            last_seen: a.last_seen,
            sources: g
                .association_sources(id)
                .iter()
                .take(examples)
                .map(|&s| g.source(s).clone())
                .collect(),
        };
        if direction == Direction::Out || a.rel.is_symmetric() {
            out.push(e);
        } else {
            inbound.push(e);
        }
    }
    let mut omitted = 0;
    for list in [&mut out, &mut inbound] {
        list.sort_by(|x, y| {
            x.kind
                .cmp(&y.kind)
                .then(y.strength.total_cmp(&x.strength))
                .then(x.other.cmp(&y.other))
        });
        let mut kept = Vec::with_capacity(list.len());
        let mut run = 0;
        for e in list.drain(..) {
            if kept.last().is_some_and(|l: &Edge| l.kind == e.kind) {
                run += 1;
            } else {
                run = 1;
            }
            if run <= per_kind {
                kept.push(e);
            } else {
                omitted += 1;
            }
        }
        *list = kept;
    }
    let cc = g.concept(c);
    ConceptView {
        id: c,
        term: cc.term.clone(),
        count: cc.count,
        last_seen: cc.last_seen,
        out,
        inbound,
        omitted,
    }
}

/// One hop of an explanation path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub assoc: AssocId,
    pub from: String,
    pub to: String,
    pub kind: Relation,
    pub attr: Option<String>,
    /// False when the hop walks the association against its direction.
    pub forward: bool,
    pub strength: f64,
}

/// A path from one concept to another; its score is the product of its hops' weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub score: f64,
    pub steps: Vec<Step>,
}

struct Partial {
    score: f64,
    seq: u64,
    node: ConceptId,
    path: Vec<AssocId>,
}

impl PartialEq for Partial {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Partial {}
impl PartialOrd for Partial {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Partial {
    /// Highest score first; among equals, the one found first.
    fn cmp(&self, o: &Self) -> Ordering {
        self.score.total_cmp(&o.score).then(o.seq.cmp(&self.seq))
    }
}

/// Most edges followed out of one concept (the strongest ones).
pub const PATH_FANOUT: usize = 64;
/// Most partial paths expanded by one query.
pub const PATH_BUDGET: usize = 200_000;

/// The `k` strongest simple paths from `a` to `b` of at most `max_hops` hops, strongest
/// first. Best-first search: since every hop's weight is ≤ 1, a path's score never
/// grows as it extends, so complete paths come off the queue in score order. Each node
/// follows its [`PATH_FANOUT`] strongest edges and the search stops after
/// [`PATH_BUDGET`] expansions, which bounds it on hub concepts.
pub fn paths(g: &Graph, a: ConceptId, b: ConceptId, max_hops: usize, k: usize) -> Vec<Explanation> {
    let mut found = Vec::new();
    if a == b || k == 0 || max_hops == 0 {
        return found;
    }
    let mut sorted: FxHashMap<ConceptId, Vec<AssocId>> = FxHashMap::default();
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    heap.push(Partial {
        score: 1.0,
        seq,
        node: a,
        path: Vec::new(),
    });
    let mut pops = 0;
    while let Some(p) = heap.pop() {
        pops += 1;
        if pops > PATH_BUDGET {
            break;
        }
        if p.node == b {
            found.push(explain(g, a, &p));
            if found.len() == k {
                break;
            }
            continue;
        }
        if p.path.len() >= max_hops {
            continue;
        }
        // the nodes on the path so far, to keep paths simple
        let mut on_path = vec![a];
        let mut cur = a;
        for &e in &p.path {
            cur = other_end(g, e, cur);
            on_path.push(cur);
        }
        let edges = sorted.entry(p.node).or_insert_with(|| {
            let mut v = g.edges(p.node).to_vec();
            v.sort_by(|x, y| weight(g, *y).total_cmp(&weight(g, *x)).then(x.cmp(y)));
            v.truncate(PATH_FANOUT);
            v
        });
        for &e in edges.iter() {
            let next = other_end(g, e, p.node);
            if on_path.contains(&next) {
                continue;
            }
            seq += 1;
            let mut path = p.path.clone();
            path.push(e);
            heap.push(Partial {
                score: p.score * weight(g, e),
                seq,
                node: next,
                path,
            });
        }
    }
    found
}

fn other_end(g: &Graph, e: AssocId, from: ConceptId) -> ConceptId {
    let a = g.association(e);
    if a.src == from { a.dst } else { a.src }
}

fn explain(g: &Graph, start: ConceptId, p: &Partial) -> Explanation {
    let mut cur = start;
    let steps = p
        .path
        .iter()
        .map(|&e| {
            let a = g.association(e);
            let next = other_end(g, e, cur);
            let s = Step {
                assoc: e,
                from: g.term(cur).to_string(),
                to: g.term(next).to_string(),
                kind: a.rel,
                attr: a.attr.map(|x| g.term(x).to_string()),
                forward: a.src == cur,
                strength: a.strength,
            };
            cur = next;
            s
        })
        .collect();
    Explanation {
        score: p.score,
        steps,
    }
}

/// A concept related to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Neighbour {
    pub term: String,
    /// Noisy-or of the weights of the edges between the two.
    pub score: f64,
    pub kinds: Vec<Relation>,
    /// Where the neighbour comes from: `graph` (an association) or `embedding` (a
    /// statement near the term in vector space mentions it).
    pub via: &'static str,
    /// For `embedding` neighbours, the nearest statement that mentions it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

/// The graph neighbours of `c`, strongest first (ties by term), at most `limit`.
pub fn related(g: &Graph, c: ConceptId, limit: usize) -> Vec<Neighbour> {
    let mut by: FxHashMap<ConceptId, (f64, Vec<Relation>)> = FxHashMap::default();
    for &e in g.edges(c) {
        let n = other_end(g, e, c);
        let w = weight(g, e);
        let entry = by.entry(n).or_insert((0.0, Vec::new()));
        entry.0 = 1.0 - (1.0 - entry.0) * (1.0 - w);
        let k = g.association(e).rel;
        if !entry.1.contains(&k) {
            entry.1.push(k);
        }
    }
    let mut out: Vec<Neighbour> = by
        .into_iter()
        .map(|(n, (score, mut kinds))| {
            kinds.sort();
            Neighbour {
                term: g.term(n).to_string(),
                score,
                kinds,
                via: "graph",
                example: None,
            }
        })
        .collect();
    out.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.term.cmp(&y.term)));
    out.truncate(limit);
    out
}

/// Neighbours of concept `c` by embedding: the concepts mentioned by the statements
/// nearest to the term in vector space, `hits` as (text, language, cosine) in any
/// order. A concept scores the cosine of the nearest statement that mentions it;
/// `c` itself and the concepts in `skip` (say, those already listed as graph
/// neighbours) are left out, and so are terms the graph does not know. Best first
/// (ties by term), at most `limit`.
///
/// The store keeps vectors per statement, not per concept, so this is how a concept
/// reaches the ones that are *said about the same things* without sharing an
/// association: synonyms, paraphrases, other languages.
pub fn embedding_neighbours<'a>(
    g: &Graph,
    c: ConceptId,
    hits: impl IntoIterator<Item = (&'a str, &'a str, f32)>,
    skip: &[&str],
    limit: usize,
) -> Vec<Neighbour> {
    let mut best: FxHashMap<ConceptId, (f32, &'a str)> = FxHashMap::default();
    for (text, lang, cosine) in hits {
        let Ok(ex) = crate::extract(text, lang) else {
            continue;
        };
        for t in ex.terms() {
            let Some(n) = g.concept_id(t) else { continue };
            if n == c || skip.contains(&t) {
                continue;
            }
            let e = best.entry(n).or_insert((cosine, text));
            if cosine > e.0 || (cosine == e.0 && text < e.1) {
                *e = (cosine, text);
            }
        }
    }
    let mut out: Vec<Neighbour> = best
        .into_iter()
        .map(|(n, (cosine, text))| Neighbour {
            term: g.term(n).to_string(),
            score: f64::from(cosine),
            kinds: Vec::new(),
            via: "embedding",
            example: Some(text.to_string()),
        })
        .collect();
    out.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.term.cmp(&y.term)));
    out.truncate(limit);
    out
}
