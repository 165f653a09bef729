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
//!
//! Memory: a graph made by [`Graph::new`] (or [`Graph::load`]) keeps its provenance —
//! every learned statement's id and every association's source list — so it grows with
//! the number of statements, which is what [`crate::find_conflicts`] and in-memory
//! queries need. A *bounded* graph ([`Graph::bounded`], [`Graph::load_bounded`]) keeps
//! only what the graph itself is made of (concepts, associations with their strength,
//! count and last seen, adjacency), plus the statements and provenance rows learned
//! since the last [`Graph::take_delta`]: those are handed to the store with each delta
//! and forgotten. It knows only those statements as learned, so a caller learning
//! from a store skips the others with a lookup ([`Store::learned_flags`]), as
//! `kimera learn` does. Both modes write the same rows.

use kimera_core::GeoidId;
use kimera_store::{AssociationRecord, ConceptRecord, GraphRecords, Store};
use std::collections::hash_map::Entry;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry as TableEntry;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::LearnError;
use crate::extract::{Extraction, ExtractionRef, Relation};

pub type ConceptId = u32;
pub type AssocId = u32;
/// Index of a learned statement in [`Graph::sources`].
pub type SourceId = u32;

const NO_ATTR: u32 = u32::MAX;

/// "Not in the graph yet" in [`Ids::resolve`]'s output.
pub(crate) const UNRESOLVED: u32 = u32::MAX;

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
}

type Key = (ConceptId, Relation, u32, ConceptId);

/// Association keys and their ids.
pub(crate) type KeyMap = FxHashMap<Key, AssocId>;

/// What [`Graph::assign`] knows of a statement's ids before it starts.
#[derive(Clone, Copy, Default)]
pub(crate) struct Known<'a> {
    /// The ids [`Ids::resolve`] found, for each term then each link (empty: look
    /// everything up).
    pub ids: &'a [u32],
    /// In the parallel path, the associations the previous chunk created: they are
    /// not in the id map yet (another worker enters them while this chunk is merged,
    /// see [`Graph::take_assoc_ids`]), and the keys this chunk creates are not entered
    /// there either but kept in [`Graph::take_fresh`]'s map.
    pub pending: Option<&'a KeyMap>,
}

/// The concept graph.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    concepts: Vec<Concept>,
    concept_ids: FxHashMap<String, ConceptId>,
    assocs: Vec<Association>,
    /// Each association's source statements, in learning order, when provenance is
    /// kept (else empty): apart from `assocs` so that a bounded graph's associations
    /// are 48 bytes, not 72.
    assoc_sources: Vec<Vec<SourceId>>,
    assoc_ids: FxHashMap<Key, AssocId>,
    /// Associations created by [`Graph::assign`] with [`Known::pending`], not in
    /// `assoc_ids` yet.
    fresh: KeyMap,
    /// Associations created by [`Graph::assign`] with [`Known::pending`], numbered
    /// after `assocs` and appended to it by [`Graph::apply_parallel`], off the thread
    /// that assigns ids (appending grows a large array: reallocation, copying and
    /// first-touch page faults).
    staged: Vec<Association>,
    /// Associations touching each concept, either end, in creation order. The last
    /// `new_ends.len()` associations are not in it yet: they are linked in after a
    /// chunk's ids are assigned ([`Graph::link_new`]), by another worker in the
    /// parallel path, to keep the thread that assigns ids short.
    adj: Vec<Vec<AssocId>>,
    new_ends: Vec<(ConceptId, ConceptId)>,
    /// Learned statements from source id `sources_base` on: all of them (base 0) when
    /// provenance is kept, else those learned since the last delta.
    sources: Vec<GeoidId>,
    /// The same statements by id: their source ids, found by the hash of the id they
    /// index in `sources` (so each id is stored once).
    source_ids: HashTable<SourceId>,
    sources_base: SourceId,
    /// Keep provenance in memory (see the module doc).
    keep_sources: bool,
    dirty: Dirty,
    /// A statement's concept ids while it is learned (kept to save an allocation).
    scratch: Vec<ConceptId>,
    /// A statement's evidence while it is learned (kept to save an allocation).
    updates: Vec<Update>,
    /// Source ids recorded by [`Graph::assign`] without entering them in
    /// `source_ids` yet (see [`Graph::apply_parallel`]).
    unindexed: Vec<SourceId>,
}

/// One piece of evidence for an association: statement `sid` saw it with this
/// confidence. See [`Graph::assign`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Update {
    pub aid: AssocId,
    pub sid: SourceId,
    pub confidence: f32,
    pub seen_at: i64,
}

impl Association {
    /// Adds one piece of evidence (the same arithmetic on every path, in the same
    /// order, which is what keeps strengths bit-identical).
    fn update(&mut self, u: &Update) {
        self.strength = 1.0 - (1.0 - self.strength) * (1.0 - f64::from(u.confidence));
        self.confidence = self.confidence.max(u.confidence);
        self.count += 1;
        self.last_seen = self.last_seen.max(u.seen_at);
    }
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
        self.concepts == o.concepts
            && self.assocs == o.assocs
            && self.assoc_sources == o.assoc_sources
            && self.sources_base == o.sources_base
            && self.sources == o.sources
    }
}

impl Graph {
    /// An empty graph that keeps its provenance in memory (see the module doc).
    pub fn new() -> Graph {
        Graph {
            keep_sources: true,
            ..Graph::default()
        }
    }

    /// An empty graph whose memory is bounded by the graph, not by the statements
    /// learned: provenance and learned ids live only until the next
    /// [`Graph::take_delta`] (see the module doc).
    pub fn bounded() -> Graph {
        Graph::default()
    }

    /// Whether provenance is kept in memory ([`Graph::new`]) or only until the next
    /// delta ([`Graph::bounded`]).
    pub fn keeps_sources(&self) -> bool {
        self.keep_sources
    }

    pub fn counts(&self) -> GraphCounts {
        GraphCounts {
            statements: u64::from(self.sources_base) + self.sources.len() as u64,
            concepts: self.concepts.len() as u64,
            associations: self.assocs.len() as u64,
            // one provenance row per (association, distinct statement), as counted
            provenance: self.assocs.iter().map(|a| u64::from(a.count)).sum(),
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

    /// The statements association `id` was learned from, in learning order (empty in
    /// a bounded graph, and in one loaded without provenance: see [`Graph::bounded`]).
    pub fn association_sources(&self, id: AssocId) -> &[SourceId] {
        self.assoc_sources
            .get(id as usize)
            .map_or(&[], Vec::as_slice)
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

    /// The statements learned, by source id (in a bounded graph: only those since the
    /// last delta, from source id `counts().statements - sources().len()` on).
    pub fn sources(&self) -> &[GeoidId] {
        &self.sources
    }

    /// The statement of source id `s`. Panics on an id not in [`Graph::sources`].
    pub fn source(&self, s: SourceId) -> &GeoidId {
        &self.sources[(s - self.sources_base) as usize]
    }

    /// Whether the statement was learned (in a bounded graph: since the last delta;
    /// ask the store about earlier ones).
    pub fn is_learned(&self, id: &GeoidId) -> bool {
        let base = self.sources_base;
        self.source_ids
            .find(id_hash(id), |&s| self.sources[(s - base) as usize] == *id)
            .is_some()
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
                self.dirty.concept_flag.push(false);
                id
            }
        };
        self.touch(id, seen_at)
    }

    /// One more statement mentions concept `id`.
    fn touch(&mut self, id: ConceptId, seen_at: i64) -> ConceptId {
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
        let mut updates = std::mem::take(&mut self.updates);
        updates.clear();
        let learned = self.assign(id, None, seen_at, ex.view(), Known::default(), &mut updates);
        self.link_new();
        for u in &updates {
            self.assocs[u.aid as usize].update(u);
            if self.keep_sources {
                self.assoc_sources[u.aid as usize].push(u.sid);
            }
            let f = &mut self.dirty.assoc_flag[u.aid as usize];
            if !*f {
                *f = true;
                self.dirty.assocs.push(u.aid);
            }
        }
        self.updates = updates;
        learned
    }

    /// The id maps, for [`Ids::resolve`]: a view that can be used while
    /// [`Graph::apply_parallel`] updates the rest of the graph.
    pub(crate) fn ids(&self) -> Ids<'_> {
        Ids {
            concept_ids: &self.concept_ids,
            assoc_ids: &self.assoc_ids,
        }
    }

    /// Makes room for the associations `statements` more new statements will likely
    /// create — as many per statement as so far (4 in an empty graph), and a quarter
    /// more — so that the id map and the association array do not grow in the middle
    /// of a parallel batch: growing copies the whole table at once, on one worker,
    /// while the others wait. Only address space is reserved for the array; the map's
    /// control bytes (one per slot) are written. The learned-statement index gets room
    /// for all of them too (else it is rehashed several times, each id hashed again).
    pub(crate) fn reserve_for(&mut self, statements: usize) {
        let learned = self.sources_base as usize + self.sources.len();
        let per_statement = if learned == 0 || self.assocs.is_empty() {
            4.0
        } else {
            self.assocs.len() as f64 / learned as f64
        };
        let n = (statements as f64 * per_statement * 1.25) as usize;
        self.assocs.reserve(n);
        self.dirty.assoc_flag.reserve(n);
        if self.keep_sources {
            self.assoc_sources.reserve(n);
        }
        self.assoc_ids.reserve(n);
        self.source_ids
            .reserve(statements, source_hash(&self.sources, self.sources_base));
        // The thread that merges appends every statement's id and provenance rows:
        // their memory is touched here for the first time (page faults), on whichever
        // worker runs this, rather than there (room for 8 provenance rows a statement;
        // more are appended as usual).
        touch_room(&mut self.sources, statements, || GeoidId(String::new()));
        touch_room(&mut self.dirty.provenance, statements * 8, || (0, 0));
        touch_room(&mut self.unindexed, statements, || 0);
    }

    /// Takes the association id map out of the graph, for [`enter_keys`] to add the
    /// previous chunk's keys to while [`Graph::assign`] (which does not read it when
    /// given [`Known::pending`]) merges the next chunk. Put it back with
    /// [`Graph::put_assoc_ids`] before anything else uses the graph.
    pub(crate) fn take_assoc_ids(&mut self) -> KeyMap {
        std::mem::take(&mut self.assoc_ids)
    }

    pub(crate) fn put_assoc_ids(&mut self, ids: KeyMap) {
        debug_assert!(self.assoc_ids.is_empty());
        self.assoc_ids = ids;
    }

    /// The keys [`Graph::assign`] created with [`Known::pending`] since the last call
    /// (they are not in the id map: enter them with [`enter_keys`]); `spare` (cleared)
    /// collects the next ones, to reuse its allocation.
    pub(crate) fn take_fresh(&mut self, mut spare: KeyMap) -> KeyMap {
        spare.clear();
        std::mem::replace(&mut self.fresh, spare)
    }

    /// The order-dependent part of [`Graph::learn`]: records the statement, counts its
    /// concepts, gives new concepts and associations their ids, and appends the
    /// evidence each association receives to `out`, to be applied by
    /// [`Graph::apply_parallel`] (or in `learn`). `known` holds the ids
    /// [`Ids::resolve`] found (empty: look everything up here) and, in the parallel
    /// path, the keys not yet in the id map (see [`Known::pending`]); there new
    /// associations are staged, for [`Graph::apply_parallel`] to append.
    ///
    /// `unique`: the caller's copy of `id` when it knows the statement is neither
    /// learned nor repeated in its batch; then it is not looked up, and it is entered
    /// in the learned set later, off this thread, by [`Graph::apply_parallel`].
    pub(crate) fn assign(
        &mut self,
        id: &GeoidId,
        unique: Option<GeoidId>,
        seen_at: i64,
        ex: ExtractionRef<'_>,
        known: Known<'_>,
        out: &mut Vec<Update>,
    ) -> bool {
        let sid = self.sources_base + self.sources.len() as SourceId;
        match unique {
            Some(owned) => {
                self.unindexed.push(sid);
                self.sources.push(owned);
            }
            None => {
                let (table, sources, base) =
                    (&mut self.source_ids, &self.sources, self.sources_base);
                let at = |s: SourceId| &sources[(s - base) as usize];
                match table.entry(id_hash(id), |&s| at(s) == id, source_hash(sources, base)) {
                    TableEntry::Occupied(_) => return false,
                    TableEntry::Vacant(e) => {
                        e.insert(sid);
                    }
                }
                self.sources.push(id.clone());
            }
        }
        let resolved = |i: usize| known.ids.get(i).copied().unwrap_or(UNRESOLVED);
        let mut cids = std::mem::take(&mut self.scratch);
        cids.clear();
        for (i, t) in ex.terms().enumerate() {
            let c = match resolved(i) {
                UNRESOLVED => self.intern(t, seen_at),
                c => self.touch(c, seen_at),
            };
            cids.push(c);
        }
        let nt = ex.term_count();
        for (j, l) in ex.links.iter().enumerate() {
            let aid = match resolved(nt + j) {
                UNRESOLVED => {
                    let key = (
                        cids[l.src as usize],
                        l.rel,
                        l.attr.map_or(NO_ATTR, |a| cids[a as usize]),
                        cids[l.dst as usize],
                    );
                    self.find_or_add(key, l.attr.is_some(), seen_at, known.pending)
                }
                a => a,
            };
            self.dirty.provenance.push((aid, sid));
            out.push(Update {
                aid,
                sid,
                confidence: l.confidence,
                seen_at,
            });
        }
        self.scratch = cids;
        true
    }

    /// The id of association `key`, created if new: looked up in the id map, or with
    /// `pending` (see [`Known::pending`]) in it and in the keys created since.
    fn find_or_add(
        &mut self,
        key: Key,
        has_attr: bool,
        seen_at: i64,
        pending: Option<&KeyMap>,
    ) -> AssocId {
        let map = match pending {
            Some(p) => match p.get(&key) {
                Some(&a) => return a,
                None => &mut self.fresh,
            },
            None => &mut self.assoc_ids,
        };
        let next = (self.assocs.len() + self.staged.len()) as AssocId;
        match map.entry(key) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                e.insert(next);
                self.push_association(key, has_attr, seen_at, pending.is_some())
            }
        }
    }

    /// Applies the evidence [`Graph::assign`] collected, on the current rayon pool,
    /// after appending the associations it staged (in parallel: their pages are touched
    /// for the first time here).
    ///
    /// Associations are cut into contiguous id ranges, each range updated by one task
    /// with its updates in their original order, so every association sees its
    /// evidence in the same order as in [`Graph::learn`] and ends with bit-identical
    /// strength and the same source list. These are scattered writes into a large
    /// array (a cache miss each), which is why they are worth spreading over cores.
    ///
    /// Meanwhile other tasks enter the statements [`Graph::assign`] recorded as
    /// unique in the learned set (a hash insert each, taken off the one thread that
    /// assigns ids) and the new associations in the adjacency lists, and the pool also
    /// runs `beside`, which gets the id maps (left
    /// unchanged here): the caller resolves the next chunk with them, so that one
    /// synchronisation per chunk serves both steps. Returns what `beside` returns.
    pub(crate) fn apply_parallel<R: Send>(
        &mut self,
        updates: &[Update],
        beside: impl FnOnce(Ids<'_>) -> R + Send,
    ) -> R {
        // borrowed, and emptied below, so that their memory serves the next chunk
        let (unindexed, ends) = (&self.unindexed, &self.new_ends);
        let (sources, source_ids, base) = (&self.sources, &mut self.source_ids, self.sources_base);
        let na = self.assocs.len() + self.staged.len();
        let (adj, nc) = (&mut self.adj, self.concepts.len());
        // two independent one-thread steps, as two tasks
        let index = || {
            rayon::join(
                || {
                    for &sid in unindexed {
                        index_source(source_ids, sources, base, sid);
                    }
                },
                || link(adj, nc, na, ends),
            );
        };
        let ids = Ids {
            concept_ids: &self.concept_ids,
            assoc_ids: &self.assoc_ids,
        };
        let (assocs, staged) = (&mut self.assocs, &mut self.staged);
        let assoc_sources = &mut self.assoc_sources;
        let dirty = &mut self.dirty;
        let keep = self.keep_sources;
        let ((), ((), r)) = rayon::join(index, || {
            rayon::join(
                || {
                    // in parallel: the array's new pages are touched for the first
                    // time here (page faults), and it may have to grow
                    use rayon::prelude::*;
                    assocs.par_extend(staged.par_drain(..));
                    dirty.assoc_flag.resize(assocs.len(), false);
                    if keep {
                        assoc_sources.resize_with(assocs.len(), Vec::new);
                    }
                    apply_updates(assocs, assoc_sources, dirty, updates)
                },
                || beside(ids),
            )
        });
        self.unindexed.clear();
        self.new_ends.clear();
        r
    }
}

/// The maps from terms and association keys to ids, borrowed apart from the rest of the
/// graph (see [`Graph::ids`]).
#[derive(Clone, Copy)]
pub(crate) struct Ids<'a> {
    concept_ids: &'a FxHashMap<String, ConceptId>,
    assoc_ids: &'a FxHashMap<Key, AssocId>,
}

impl Ids<'_> {
    /// Appends to `out`, for each of `ex`'s terms then each of its links, the concept
    /// or association id the graph already has for it, or [`UNRESOLVED`].
    ///
    /// This is the hashing part of [`Graph::learn`], done read-only so that workers can
    /// run it on a chunk in parallel (also while the previous chunk's evidence is
    /// applied, which changes neither map). Ids only ever get added, so an id resolved before
    /// a chunk is merged is still right while it is merged.
    pub(crate) fn resolve(&self, ex: ExtractionRef<'_>, out: &mut Vec<u32>) {
        let start = out.len();
        let nt = ex.term_count();
        out.extend(
            ex.terms()
                .map(|t| self.concept_ids.get(t).copied().unwrap_or(UNRESOLVED)),
        );
        for l in ex.links {
            let cids = &out[start..start + nt];
            let (s, d) = (cids[l.src as usize], cids[l.dst as usize]);
            let attr = l.attr.map_or(NO_ATTR, |a| cids[a as usize]);
            // (NO_ATTR and UNRESOLVED are the same number: test the attribute only
            // when there is one)
            let attr_unknown = l.attr.is_some() && attr == UNRESOLVED;
            let aid = if s == UNRESOLVED || d == UNRESOLVED || attr_unknown {
                UNRESOLVED
            } else {
                self.assoc_ids
                    .get(&(s, l.rel, attr, d))
                    .copied()
                    .unwrap_or(UNRESOLVED)
            };
            out.push(aid);
        }
    }
}

/// The hash [`Graph`]'s learned-statement table files an id under.
fn id_hash(id: &GeoidId) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(id)
}

/// The learned-statement table's hasher: the hash of the id that source id `s` indexes
/// in `sources` (which starts at source id `base`).
fn source_hash(sources: &[GeoidId], base: SourceId) -> impl Fn(&SourceId) -> u64 + '_ {
    move |&s| id_hash(&sources[(s - base) as usize])
}

/// Enters source id `sid`, not in `table` yet, in the learned-statement table.
fn index_source(
    table: &mut HashTable<SourceId>,
    sources: &[GeoidId],
    base: SourceId,
    sid: SourceId,
) {
    let hash = source_hash(sources, base);
    table.insert_unique(hash(&sid), sid, hash);
}

/// Makes room in `v` for `more` elements and writes to the new room once, so that its
/// pages are mapped by the calling thread (when `v` already has the room, nothing).
fn touch_room<T>(v: &mut Vec<T>, more: usize, filler: impl FnMut() -> T) {
    let len = v.len();
    if v.capacity() - len < more {
        v.reserve(more);
        v.resize_with(v.capacity(), filler);
        v.truncate(len);
    }
}

/// Enters keys [`Graph::assign`] created in the parallel path into the graph's id map
/// (taken out with [`Graph::take_assoc_ids`]).
pub(crate) fn enter_keys(ids: &mut KeyMap, keys: &KeyMap) {
    ids.extend(keys.iter().map(|(k, a)| (*k, *a)));
}

/// Enters the last `ends.len()` of `assocs` associations (given by their ends) in the
/// adjacency lists, one list per concept.
fn link(
    adj: &mut Vec<Vec<AssocId>>,
    concepts: usize,
    assocs: usize,
    ends: &[(ConceptId, ConceptId)],
) {
    adj.resize_with(concepts, Vec::new);
    let first = assocs - ends.len();
    for (i, &(s, d)) in ends.iter().enumerate() {
        let a = (first + i) as AssocId;
        adj[s as usize].push(a);
        if d != s {
            adj[d as usize].push(a);
        }
    }
}

/// [`Graph::apply_parallel`]'s evidence part.
/// `sources` is empty when provenance is not kept.
fn apply_updates(
    assocs: &mut [Association],
    sources: &mut [Vec<SourceId>],
    dirty: &mut Dirty,
    updates: &[Update],
) {
    use rayon::prelude::*;
    {
        let n = assocs.len();
        if n == 0 || updates.is_empty() {
            return;
        }
        let tasks = 4 * rayon::current_num_threads();
        let span = n.div_ceil(tasks).max(1024);
        let mut buckets: Vec<Vec<Update>> = vec![Vec::new(); n.div_ceil(span)];
        for u in updates {
            buckets[u.aid as usize / span].push(*u);
        }
        let mut source_spans: Vec<&mut [Vec<SourceId>]> = sources.chunks_mut(span).collect();
        source_spans.resize_with(buckets.len(), || &mut []);
        let flagged: Vec<Vec<AssocId>> = assocs
            .par_chunks_mut(span)
            .zip(dirty.assoc_flag.par_chunks_mut(span))
            .zip(source_spans.par_iter_mut())
            .zip(buckets.par_iter())
            .enumerate()
            .map(|(k, (((assocs, flags), sources), bucket))| {
                let base = k * span;
                let mut dirty = Vec::new();
                for u in bucket {
                    let i = u.aid as usize - base;
                    assocs[i].update(u);
                    if let Some(s) = sources.get_mut(i) {
                        s.push(u.sid);
                    }
                    if !flags[i] {
                        flags[i] = true;
                        dirty.push(u.aid);
                    }
                }
                dirty
            })
            .collect();
        dirty.assocs.extend(flagged.into_iter().flatten());
    }
}

impl Graph {
    /// Appends a new association (already entered in an id map), to `staged` when
    /// `stage`.
    fn push_association(&mut self, key: Key, has_attr: bool, seen_at: i64, stage: bool) -> AssocId {
        let a = (self.assocs.len() + self.staged.len()) as AssocId;
        let assoc = Association {
            src: key.0,
            dst: key.3,
            rel: key.1,
            attr: has_attr.then_some(key.2),
            strength: 0.0,
            confidence: 0.0,
            count: 0,
            last_seen: seen_at,
        };
        if stage {
            self.staged.push(assoc);
        } else {
            self.assocs.push(assoc);
            self.dirty.assoc_flag.push(false);
            if self.keep_sources {
                self.assoc_sources.push(Vec::new());
            }
        }
        self.new_ends.push((key.0, key.3));
        a
    }

    /// Enters the associations created since the last call in the adjacency lists.
    fn link_new(&mut self) {
        let ends = std::mem::take(&mut self.new_ends);
        link(&mut self.adj, self.concepts.len(), self.assocs.len(), &ends);
        self.new_ends = ends;
        self.new_ends.clear();
    }

    /// The rows changed since the last call (or since loading), and forgets them.
    pub fn take_delta(&mut self) -> GraphRecords {
        // the change lists are emptied, not dropped: their memory (already touched)
        // serves the next batch
        let mut d = std::mem::take(&mut self.dirty);
        d.concepts.sort_unstable();
        d.assocs.sort_unstable();
        // in primary-key order, as the store reads them back: inserting them so into
        // its (association, source) index is ~10% faster than in learning order
        d.provenance.sort_unstable();
        let base = i64::from(self.sources_base);
        let learned = if self.keep_sources {
            (d.sources_from..self.sources.len())
                .map(|i| (base + i as i64, self.sources[i].clone()))
                .collect()
        } else {
            // a bounded graph forgets them: moved out, not copied
            self.sources_base += self.sources.len() as SourceId;
            self.source_ids.clear();
            self.sources
                .drain(..)
                .enumerate()
                .map(|(i, id)| (base + i as i64, id))
                .collect()
        };
        let out = GraphRecords {
            learned,
            concepts: d
                .concepts
                .iter()
                .map(|&id| {
                    let c = &self.concepts[id as usize];
                    ConceptRecord {
                        id: i64::from(id),
                        term: c.term.clone(),
                        count: i64::from(c.count),
                        last_seen: c.last_seen,
                    }
                })
                .collect(),
            associations: d.assocs.iter().map(|&id| self.record(id)).collect(),
            sources: d
                .provenance
                .iter()
                .map(|&(a, s)| (i64::from(a), i64::from(s)))
                .collect(),
        };
        for &c in &d.concepts {
            d.concept_flag[c as usize] = false;
        }
        for &a in &d.assocs {
            d.assoc_flag[a as usize] = false;
        }
        d.concept_flag.resize(self.concepts.len(), false);
        d.assoc_flag.resize(self.assocs.len(), false);
        d.concepts.clear();
        d.assocs.clear();
        d.provenance.clear();
        d.sources_from = self.sources.len();
        self.dirty = d;
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

    /// Rebuilds a graph that keeps provenance from stored rows (as
    /// [`Store::read_graph`] returns them). Ids must be dense from 0, as this crate
    /// writes them.
    pub fn from_records(r: GraphRecords) -> Result<Graph, LearnError> {
        Graph::from_records_into(Graph::new(), r)
    }

    fn from_records_into(mut g: Graph, r: GraphRecords) -> Result<Graph, LearnError> {
        let corrupt = |what: String| LearnError::CorruptGraph(what);
        for (i, (id, geoid)) in r.learned.into_iter().enumerate() {
            if id != i as i64 {
                return Err(corrupt(format!("learned.id {id} where {i} was expected")));
            }
            g.sources.push(geoid);
            let sid = g.sources_base + i as SourceId;
            index_source(&mut g.source_ids, &g.sources, g.sources_base, sid);
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
            });
            if g.keep_sources {
                g.assoc_sources.push(Vec::new());
            }
        }
        let (na, ns) = (
            g.assocs.len() as i64,
            i64::from(g.sources_base) + g.sources.len() as i64,
        );
        for (a, s) in r.sources {
            if !(0..na).contains(&a) || !(0..ns).contains(&s) {
                return Err(corrupt(format!("association_sources ({a}, {s})")));
            }
            if let Some(list) = g.assoc_sources.get_mut(a as usize) {
                list.push(s as SourceId);
            }
        }
        g.dirty = Dirty {
            sources_from: g.sources.len(),
            concept_flag: vec![false; g.concepts.len()],
            assoc_flag: vec![false; g.assocs.len()],
            ..Dirty::default()
        };
        Ok(g)
    }

    /// Loads the graph kept in a store, with the ids of the statements learned (and
    /// with each association's sources when `with_sources`). Its memory grows with the
    /// statements learned: to learn more, prefer [`Graph::load_bounded`].
    pub fn load(store: &Store, with_sources: bool) -> Result<Graph, LearnError> {
        Graph::from_records(store.read_graph(with_sources)?)
    }

    /// Loads the graph kept in a store as a [`Graph::bounded`] one: concepts and
    /// associations, and only the number of statements learned (new ones are
    /// numbered after them), not their ids nor any provenance.
    pub fn load_bounded(store: &Store) -> Result<Graph, LearnError> {
        let learned = store.learned_count()?;
        let r = store.read_graph_core()?;
        let mut g = Graph::bounded();
        g.sources_base = SourceId::try_from(learned)
            .map_err(|_| LearnError::CorruptGraph(format!("{learned} learned statements")))?;
        Graph::from_records_into(g, r)
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
