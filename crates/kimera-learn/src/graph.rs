//! The in-memory concept graph and its persistence.
//!
//! Ids are dense and given in learning order: concept `n` is the n-th distinct term
//! met, association `n` the n-th distinct (src, relation, attribute, dst). Since
//! statements are always merged in their batch order (see [`crate::Learner`]), the ids
//! do not depend on the number of workers.
//!
//! An association's strength is the noisy-or of the confidences of its *distinct*
//! source statements, `1 − Π(1 − cᵢ)`: it grows with every new piece of evidence,
//! stays below 1, and does not depend on the order the evidence came in. A statement
//! already learned (same geoid id) is skipped whole, which makes learning idempotent.

use kimera_core::GeoidId;
use kimera_store::{AssociationRecord, ConceptRecord, GraphRecords, Store};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::LearnError;
use crate::extract::{Extraction, Relation};

pub type ConceptId = u32;
pub type AssocId = u32;
/// Index of a learned statement in [`Graph::sources`].
pub type SourceId = u32;

const NO_ATTR: u32 = u32::MAX;

/// A concept: a normalised term.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Concept {
    pub term: String,
    /// Statements that mention it.
    pub count: u32,
    /// Latest `seen_at` of those statements.
    pub last_seen: i64,
}

/// A typed, weighted, explainable edge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Association {
    pub src: ConceptId,
    pub dst: ConceptId,
    pub rel: Relation,
    /// Attribute name (a concept) for [`Relation::Attribute`].
    pub attr: Option<ConceptId>,
    /// Noisy-or of the sources' confidences.
    pub strength: f64,
    /// Best single-source confidence.
    pub confidence: f32,
    /// Distinct source statements.
    pub count: u32,
    pub last_seen: i64,
    /// The statements it was learned from, in learning order (may be empty for a
    /// graph loaded without provenance).
    pub sources: Vec<SourceId>,
}

type Key = (ConceptId, Relation, u32, ConceptId);

/// The concept graph.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    concepts: Vec<Concept>,
    concept_ids: FxHashMap<String, ConceptId>,
    assocs: Vec<Association>,
    assoc_ids: FxHashMap<Key, AssocId>,
    /// Associations touching each concept, either end, in creation order.
    adj: Vec<Vec<AssocId>>,
    sources: Vec<GeoidId>,
    source_ids: FxHashMap<GeoidId, SourceId>,
    dirty: Dirty,
}

/// What changed since the last [`Graph::take_delta`].
#[derive(Debug, Default, Clone)]
struct Dirty {
    sources_from: usize,
    concept_flag: Vec<bool>,
    concepts: Vec<ConceptId>,
    assoc_flag: Vec<bool>,
    assocs: Vec<AssocId>,
    provenance: Vec<(AssocId, SourceId)>,
}

/// Graph sizes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GraphCounts {
    pub statements: u64,
    pub concepts: u64,
    pub associations: u64,
    pub provenance: u64,
}

impl PartialEq for Graph {
    /// Same concepts, associations (with strengths and sources) and statements, in the
    /// same order, i.e. with the same ids. Persistence bookkeeping is not compared.
    fn eq(&self, o: &Self) -> bool {
        self.concepts == o.concepts && self.assocs == o.assocs && self.sources == o.sources
    }
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    pub fn counts(&self) -> GraphCounts {
        GraphCounts {
            statements: self.sources.len() as u64,
            concepts: self.concepts.len() as u64,
            associations: self.assocs.len() as u64,
            provenance: self.assocs.iter().map(|a| a.sources.len() as u64).sum(),
        }
    }

    pub fn concepts(&self) -> &[Concept] {
        &self.concepts
    }

    pub fn concept(&self, id: ConceptId) -> &Concept {
        &self.concepts[id as usize]
    }

    pub fn term(&self, id: ConceptId) -> &str {
        &self.concepts[id as usize].term
    }

    /// The id of a concept by its normalised term (see [`crate::concept_term`]).
    pub fn concept_id(&self, term: &str) -> Option<ConceptId> {
        self.concept_ids.get(term).copied()
    }

    /// Looks a user's term up: exactly, then normalised.
    pub fn find(&self, term: &str) -> Option<ConceptId> {
        self.concept_id(term)
            .or_else(|| crate::concept_term(term).and_then(|t| self.concept_id(&t)))
    }

    pub fn associations(&self) -> &[Association] {
        &self.assocs
    }

    pub fn association(&self, id: AssocId) -> &Association {
        &self.assocs[id as usize]
    }

    /// The association (src, rel, attr, dst), if learned.
    pub fn association_id(
        &self,
        src: ConceptId,
        rel: Relation,
        attr: Option<ConceptId>,
        dst: ConceptId,
    ) -> Option<AssocId> {
        let (src, dst) = if rel.is_symmetric() && self.term(dst) < self.term(src) {
            (dst, src)
        } else {
            (src, dst)
        };
        self.assoc_ids
            .get(&(src, rel, attr.unwrap_or(NO_ATTR), dst))
            .copied()
    }

    /// Associations whose src or dst is concept `c`, in creation order.
    pub fn edges(&self, c: ConceptId) -> &[AssocId] {
        &self.adj[c as usize]
    }

    /// The statements learned, by source id.
    pub fn sources(&self) -> &[GeoidId] {
        &self.sources
    }

    pub fn source(&self, s: SourceId) -> &GeoidId {
        &self.sources[s as usize]
    }

    pub fn is_learned(&self, id: &GeoidId) -> bool {
        self.source_ids.contains_key(id)
    }

    fn intern(&mut self, term: &str, seen_at: i64) -> ConceptId {
        let id = match self.concept_ids.get(term) {
            Some(&id) => id,
            None => {
                let id = self.concepts.len() as ConceptId;
                self.concepts.push(Concept {
                    term: term.to_string(),
                    count: 0,
                    last_seen: seen_at,
                });
                self.concept_ids.insert(term.to_string(), id);
                self.adj.push(Vec::new());
                self.dirty.concept_flag.push(false);
                id
            }
        };
        let c = &mut self.concepts[id as usize];
        c.count += 1;
        c.last_seen = c.last_seen.max(seen_at);
        self.mark_concept(id);
        id
    }

    fn mark_concept(&mut self, id: ConceptId) {
        let f = &mut self.dirty.concept_flag[id as usize];
        if !*f {
            *f = true;
            self.dirty.concepts.push(id);
        }
    }

    /// Adds one statement's extraction. Returns `false` (and changes nothing) when the
    /// statement was learned before: that is what makes learning idempotent.
    pub fn learn(&mut self, id: &GeoidId, seen_at: i64, ex: &Extraction) -> bool {
        if self.source_ids.contains_key(id) {
            return false;
        }
        let sid = self.sources.len() as SourceId;
        self.sources.push(id.clone());
        self.source_ids.insert(id.clone(), sid);
        let cids: Vec<ConceptId> = ex.terms.iter().map(|t| self.intern(t, seen_at)).collect();
        for l in &ex.links {
            let key = (
                cids[l.src as usize],
                l.rel,
                l.attr.map_or(NO_ATTR, |a| cids[a as usize]),
                cids[l.dst as usize],
            );
            let aid = match self.assoc_ids.get(&key) {
                Some(&a) => a,
                None => {
                    let a = self.assocs.len() as AssocId;
                    self.assocs.push(Association {
                        src: key.0,
                        dst: key.3,
                        rel: key.1,
                        attr: l.attr.map(|_| key.2),
                        strength: 0.0,
                        confidence: 0.0,
                        count: 0,
                        last_seen: seen_at,
                        sources: Vec::new(),
                    });
                    self.assoc_ids.insert(key, a);
                    self.adj[key.0 as usize].push(a);
                    if key.3 != key.0 {
                        self.adj[key.3 as usize].push(a);
                    }
                    self.dirty.assoc_flag.push(false);
                    a
                }
            };
            let a = &mut self.assocs[aid as usize];
            a.strength = 1.0 - (1.0 - a.strength) * (1.0 - f64::from(l.confidence));
            a.confidence = a.confidence.max(l.confidence);
            a.count += 1;
            a.last_seen = a.last_seen.max(seen_at);
            a.sources.push(sid);
            self.dirty.provenance.push((aid, sid));
            let f = &mut self.dirty.assoc_flag[aid as usize];
            if !*f {
                *f = true;
                self.dirty.assocs.push(aid);
            }
        }
        true
    }

    /// The rows changed since the last call (or since loading), and forgets them.
    pub fn take_delta(&mut self) -> GraphRecords {
        let d = std::mem::take(&mut self.dirty);
        let mut concepts = d.concepts;
        concepts.sort_unstable();
        let mut assocs = d.assocs;
        assocs.sort_unstable();
        let out = GraphRecords {
            learned: (d.sources_from..self.sources.len())
                .map(|i| (i as i64, self.sources[i].clone()))
                .collect(),
            concepts: concepts
                .into_iter()
                .map(|id| {
                    let c = &self.concepts[id as usize];
                    ConceptRecord {
                        id: i64::from(id),
                        term: c.term.clone(),
                        count: i64::from(c.count),
                        last_seen: c.last_seen,
                    }
                })
                .collect(),
            associations: assocs.into_iter().map(|id| self.record(id)).collect(),
            sources: d
                .provenance
                .into_iter()
                .map(|(a, s)| (i64::from(a), i64::from(s)))
                .collect(),
        };
        self.dirty = Dirty {
            sources_from: self.sources.len(),
            concept_flag: vec![false; self.concepts.len()],
            assoc_flag: vec![false; self.assocs.len()],
            ..Dirty::default()
        };
        out
    }

    fn record(&self, id: AssocId) -> AssociationRecord {
        let a = &self.assocs[id as usize];
        AssociationRecord {
            id: i64::from(id),
            src: i64::from(a.src),
            dst: i64::from(a.dst),
            kind: a.rel.as_str().to_string(),
            attr: a.attr.map(i64::from),
            strength: a.strength,
            confidence: f64::from(a.confidence),
            count: i64::from(a.count),
            last_seen: a.last_seen,
        }
    }

    /// Rebuilds a graph from stored rows (as [`Store::read_graph`] returns them).
    /// Ids must be dense from 0, as this crate writes them.
    pub fn from_records(r: GraphRecords) -> Result<Graph, LearnError> {
        let corrupt = |what: String| LearnError::CorruptGraph(what);
        let mut g = Graph::new();
        for (i, (id, geoid)) in r.learned.into_iter().enumerate() {
            if id != i as i64 {
                return Err(corrupt(format!("learned.id {id} where {i} was expected")));
            }
            g.source_ids.insert(geoid.clone(), i as SourceId);
            g.sources.push(geoid);
        }
        for (i, c) in r.concepts.into_iter().enumerate() {
            if c.id != i as i64 {
                return Err(corrupt(format!(
                    "concepts.id {} where {i} was expected",
                    c.id
                )));
            }
            g.concept_ids.insert(c.term.clone(), i as ConceptId);
            g.concepts.push(Concept {
                term: c.term,
                count: c.count as u32,
                last_seen: c.last_seen,
            });
            g.adj.push(Vec::new());
        }
        let n = g.concepts.len() as i64;
        for (i, a) in r.associations.into_iter().enumerate() {
            if a.id != i as i64 {
                return Err(corrupt(format!(
                    "associations.id {} where {i} was expected",
                    a.id
                )));
            }
            let rel = Relation::parse(&a.kind)
                .ok_or_else(|| corrupt(format!("associations.kind {:?} (id {i})", a.kind)))?;
            for (field, v) in [("src", Some(a.src)), ("dst", Some(a.dst)), ("attr", a.attr)] {
                if let Some(v) = v {
                    if !(0..n).contains(&v) {
                        return Err(corrupt(format!("associations.{field} {v} (id {i})")));
                    }
                }
            }
            let (src, dst) = (a.src as ConceptId, a.dst as ConceptId);
            let attr = a.attr.map(|x| x as ConceptId);
            g.assoc_ids
                .insert((src, rel, attr.unwrap_or(NO_ATTR), dst), i as AssocId);
            g.adj[src as usize].push(i as AssocId);
            if dst != src {
                g.adj[dst as usize].push(i as AssocId);
            }
            g.assocs.push(Association {
                src,
                dst,
                rel,
                attr,
                strength: a.strength,
                confidence: a.confidence as f32,
                count: a.count as u32,
                last_seen: a.last_seen,
                sources: Vec::new(),
            });
        }
        let (na, ns) = (g.assocs.len() as i64, g.sources.len() as i64);
        for (a, s) in r.sources {
            if !(0..na).contains(&a) || !(0..ns).contains(&s) {
                return Err(corrupt(format!("association_sources ({a}, {s})")));
            }
            g.assocs[a as usize].sources.push(s as SourceId);
        }
        g.dirty = Dirty {
            sources_from: g.sources.len(),
            concept_flag: vec![false; g.concepts.len()],
            assoc_flag: vec![false; g.assocs.len()],
            ..Dirty::default()
        };
        Ok(g)
    }

    /// Loads the graph kept in a store (`with_sources`: with provenance).
    pub fn load(store: &Store, with_sources: bool) -> Result<Graph, LearnError> {
        Graph::from_records(store.read_graph(with_sources)?)
    }

    /// Writes what changed since loading (or the last save) in one transaction. If the
    /// write fails the change list is gone: reload the graph before saving again.
    pub fn save(&mut self, store: &mut Store) -> Result<(), LearnError> {
        let d = self.take_delta();
        if !d.is_empty() {
            store.write_graph(&d)?;
        }
        Ok(())
    }
}
