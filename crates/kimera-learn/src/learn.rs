//! `learn_batch`: statements in, graph updated; sequential and parallel side by side.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use kimera_core::{Geoid, GeoidId};
use kimera_store::GeoidRow;
use rayon::prelude::*;
use serde::Serialize;

use crate::LearnError;
use crate::extract::{ExtractError, Extraction, ExtractionRef, Link, extract};
use crate::graph::{Graph, Ids, KeyMap, Known, Update, enter_keys};

/// Below this many statements a batch is learned sequentially even with several
/// workers: measured with `cargo bench -p kimera-learn` (`threshold` group), parallel
/// extraction only pays for its thread hand-offs from about this size on.
pub const PARALLEL_THRESHOLD: usize = 64;

/// Anything that can be learned from: an id, a text, a language and a time.
pub trait AsStatement {
    fn id(&self) -> &GeoidId;
    fn text(&self) -> &str;
    fn lang(&self) -> &str;
    /// When the statement was made (its `created_at`); becomes `last_seen`.
    fn seen_at(&self) -> i64;
}

/// A statement to learn from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    pub id: GeoidId,
    pub text: String,
    pub lang: String,
    pub seen_at: i64,
}

impl Statement {
    /// A statement with a derived id (as ingest would give it) and time 0.
    pub fn new(text: impl Into<String>, lang: impl Into<String>) -> Statement {
        let (text, lang) = (text.into(), lang.into());
        Statement {
            id: GeoidId::from_text(&text, &lang),
            text,
            lang,
            seen_at: 0,
        }
    }
}

impl AsStatement for Statement {
    fn id(&self) -> &GeoidId {
        &self.id
    }
    fn text(&self) -> &str {
        &self.text
    }
    fn lang(&self) -> &str {
        &self.lang
    }
    fn seen_at(&self) -> i64 {
        self.seen_at
    }
}

impl AsStatement for GeoidRow {
    fn id(&self) -> &GeoidId {
        &self.id
    }
    fn text(&self) -> &str {
        &self.text
    }
    fn lang(&self) -> &str {
        &self.lang
    }
    fn seen_at(&self) -> i64 {
        self.created_at
    }
}

impl AsStatement for Geoid {
    fn id(&self) -> &GeoidId {
        &self.id
    }
    fn text(&self) -> &str {
        &self.text
    }
    fn lang(&self) -> &str {
        &self.lang
    }
    fn seen_at(&self) -> i64 {
        self.created_at
    }
}

/// How to learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnOptions {
    /// Worker threads; 0 = one per core, 1 = sequential.
    pub workers: usize,
    /// Statements extracted per parallel step; the graph merges one chunk while the
    /// workers extract the next.
    pub chunk: usize,
    /// Smaller batches are learned sequentially.
    pub parallel_threshold: usize,
}

impl Default for LearnOptions {
    fn default() -> Self {
        LearnOptions {
            workers: 0,
            chunk: 4096,
            parallel_threshold: PARALLEL_THRESHOLD,
        }
    }
}

/// A statement that could not be learned; the rest of the batch was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementError {
    pub id: GeoidId,
    /// Position in the batch.
    pub index: usize,
    pub message: String,
}

/// Progress of a batch, reported after each chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub errors: u64,
}

/// Where the time went (serialised as seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageTimes {
    /// Extraction, summed over statements (CPU time across workers).
    #[serde(serialize_with = "seconds")]
    pub extract: Duration,
    /// Merging extractions into the graph (wall time; with several workers partly
    /// spread over them).
    #[serde(serialize_with = "seconds")]
    pub graph: Duration,
    /// Of `graph`, what only one thread can do: recording statements and numbering new
    /// concepts and associations in order ([`Graph::assign`]'s loop). With several
    /// workers it overlaps the extraction of the next chunk.
    #[serde(serialize_with = "seconds")]
    pub serial: Duration,
    /// Wall time of the batch.
    #[serde(serialize_with = "seconds")]
    pub wall: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl std::ops::AddAssign for StageTimes {
    fn add_assign(&mut self, o: Self) {
        self.extract += o.extract;
        self.graph += o.graph;
        self.serial += o.serial;
        self.wall += o.wall;
    }
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LearnReport {
    pub statements: u64,
    pub learned: u64,
    /// Statements skipped because they had been learned before.
    pub already_known: u64,
    pub errors: Vec<StatementError>,
    pub new_concepts: u64,
    pub new_associations: u64,
    pub parallel: bool,
    pub times: StageTimes,
}

impl LearnReport {
    /// Adds another batch's report.
    pub fn absorb(&mut self, o: LearnReport) {
        self.statements += o.statements;
        self.learned += o.learned;
        self.already_known += o.already_known;
        self.errors.extend(o.errors);
        self.new_concepts += o.new_concepts;
        self.new_associations += o.new_associations;
        self.parallel |= o.parallel;
        self.times += o.times;
    }
}

/// Learns batches of statements into a [`Graph`].
///
/// Extraction is a pure function of each statement, so it runs on any number of
/// threads; merging into the graph is sequential and always in batch order, which is
/// what makes the graph (ids, strengths, provenance order) identical for every worker
/// count.
#[derive(Debug)]
pub struct Learner {
    opts: LearnOptions,
    pool: Option<rayon::ThreadPool>,
}

type Extracted = Option<(Result<Extraction, String>, Duration)>;

impl Learner {
    /// A learner with its own pool of `opts.workers` threads; the thread that calls
    /// [`Learner::learn_batch`] hands each batch to the pool and waits.
    pub fn new(opts: LearnOptions) -> Result<Learner, LearnError> {
        Learner::build(opts, false)
    }

    /// A learner whose pool counts the calling thread as one of its workers (rayon's
    /// `use_current_thread`): a batch learned from this thread runs on it and on
    /// `workers - 1` other threads, with no hand-off to the pool and back. Use it from
    /// this thread only (from another, one worker fewer takes part), for a program's
    /// thread that learns and waits for nothing else, as `kimera learn` does.
    ///
    /// The thread stays a worker of that pool for good: rayon does not tear such a
    /// pool down, so make one per thread. A thread that already belongs to a pool gets
    /// a pool of its own instead, as with [`Learner::new`].
    ///
    /// Why: with a separate pool, `kimera learn` on 2 workers spent some steps with only
    /// one CPU busy (seen as steps whose CPU time equalled their wall time); this way
    /// 100k statements are learned in 0.125 s instead of 0.134 s, 0.135 s instead of
    /// 0.153 s in a slower hour (medians of 8 alternated runs each).
    pub fn on_current_thread(opts: LearnOptions) -> Result<Learner, LearnError> {
        Learner::build(opts, true)
    }

    fn build(opts: LearnOptions, on_current_thread: bool) -> Result<Learner, LearnError> {
        let workers = if opts.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            opts.workers
        };
        let builder = || {
            rayon::ThreadPoolBuilder::new()
                .num_threads(workers)
                .thread_name(|i| format!("kimera-learn-{i}"))
        };
        let pool = if workers > 1 {
            let own = || builder().build();
            let pool = if on_current_thread {
                builder().use_current_thread().build().or_else(|e| {
                    tracing::debug!("learning on a pool of its own: {e}");
                    own()
                })
            } else {
                own()
            };
            Some(pool.map_err(|e| LearnError::Pool(e.to_string()))?)
        } else {
            None
        };
        Ok(Learner {
            opts: LearnOptions { workers, ..opts },
            pool,
        })
    }

    pub fn workers(&self) -> usize {
        self.opts.workers
    }

    /// Learns a batch with the built-in extractor ([`extract`]).
    pub fn learn_batch<S: AsStatement + Sync>(
        &self,
        graph: &mut Graph,
        batch: &[S],
        progress: impl FnMut(&Progress) + Send,
    ) -> LearnReport {
        self.learn_batch_with(graph, batch, &extract, progress)
    }

    /// Learns a batch with the given extractor. An extractor that returns an error or
    /// panics on a statement costs only that statement: it is reported in
    /// [`LearnReport::errors`] and the rest of the batch is learned.
    pub fn learn_batch_with<S, E>(
        &self,
        graph: &mut Graph,
        batch: &[S],
        extractor: &E,
        mut progress: impl FnMut(&Progress) + Send,
    ) -> LearnReport
    where
        S: AsStatement + Sync,
        E: Fn(&str, &str) -> Result<Extraction, ExtractError> + Sync,
    {
        let start = Instant::now();
        let before = graph.counts();
        let mut report = LearnReport {
            statements: batch.len() as u64,
            ..LearnReport::default()
        };
        match &self.pool {
            Some(pool) if batch.len() >= self.opts.parallel_threshold => {
                report.parallel = true;
                learn_parallel(
                    pool,
                    self.opts.chunk,
                    graph,
                    batch,
                    extractor,
                    &mut report,
                    &mut progress,
                )
            }
            _ => learn_sequential(
                self.opts.chunk,
                graph,
                batch,
                extractor,
                &mut report,
                &mut progress,
            ),
        }
        let after = graph.counts();
        report.new_concepts = after.concepts - before.concepts;
        report.new_associations = after.associations - before.associations;
        report.times.wall = start.elapsed();
        report
    }
}

/// Runs the extractor on one statement, turning a panic into that statement's error.
fn extract_isolated<S, E>(s: &S, extractor: &E) -> (Result<Extraction, String>, Duration)
where
    S: AsStatement,
    E: Fn(&str, &str) -> Result<Extraction, ExtractError>,
{
    let t = Instant::now();
    let r = match catch_unwind(AssertUnwindSafe(|| extractor(s.text(), s.lang()))) {
        Ok(Ok(ex)) => Ok(ex),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!(
            "extraction panicked: {}",
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into())
        )),
    };
    (r, t.elapsed())
}

/// Statements per parallel task when a chunk is extracted and resolved against the
/// graph: one [`Block`] each.
const BLOCK: usize = 64;

/// One statement's place in a [`Block`].
enum Item {
    /// Learned before this batch: not extracted.
    Known,
    Failed(String),
    /// Extracted: this many terms and links, next in the block's buffers.
    Extracted {
        terms: usize,
        links: usize,
    },
}

/// The extractions of up to [`BLOCK`] consecutive statements, flattened into a few
/// buffers (all terms in one string) by the worker that extracted them. Each
/// statement's [`Extraction`] is freed at once on the thread that allocated it (its
/// memory is reused for the next statement), and what crosses to the other threads is
/// a few allocations per block instead of several per statement: with mimalloc a block
/// freed on another thread costs an atomic push and, later, a collection by its owner
/// (when every statement's extraction crossed threads, extracting took 2 workers
/// 10-45% more CPU time than 1).
#[derive(Default)]
struct Block {
    items: Vec<Item>,
    text: String,
    /// End of each term in `text`.
    ends: Vec<usize>,
    links: Vec<Link>,
    /// Per item, a copy of its id when the statement is new and unrepeated in the batch
    /// (see [`Graph::assign`]), made here rather than on the thread that merges.
    unique: Vec<Option<GeoidId>>,
    /// Time spent extracting the block.
    extract: Duration,
}

/// What a [`Block`] holds for one statement.
enum View<'a> {
    Known,
    Failed(&'a str),
    Extracted(ExtractionRef<'a>),
}

impl Block {
    /// Extracts `statements`, the block starting at position `offset` of the batch.
    fn extract<S, E>(
        statements: &[S],
        offset: usize,
        known: &[bool],
        repeated: &[bool],
        extractor: &E,
    ) -> Block
    where
        S: AsStatement,
        E: Fn(&str, &str) -> Result<Extraction, ExtractError>,
    {
        let t = Instant::now();
        let n = statements.len();
        let mut b = Block {
            items: Vec::with_capacity(n),
            unique: Vec::with_capacity(n),
            ..Block::default()
        };
        for (i, s) in statements.iter().enumerate() {
            let new = !known[offset + i];
            b.unique
                .push((new && !repeated[offset + i]).then(|| s.id().clone()));
            if !new {
                b.items.push(Item::Known);
                continue;
            }
            match extract_isolated(s, extractor).0 {
                Ok(ex) => {
                    for t in ex.terms() {
                        b.text.push_str(t);
                        b.ends.push(b.text.len());
                    }
                    b.links.extend_from_slice(&ex.links);
                    b.items.push(Item::Extracted {
                        terms: ex.term_count(),
                        links: ex.links.len(),
                    });
                }
                Err(message) => b.items.push(Item::Failed(message)),
            }
        }
        b.extract = t.elapsed();
        b
    }

    /// The block's statements in order.
    fn views(&self) -> impl Iterator<Item = View<'_>> {
        let (mut t, mut l) = (0, 0);
        self.items.iter().map(move |item| match item {
            Item::Known => View::Known,
            Item::Failed(m) => View::Failed(m),
            &Item::Extracted { terms, links } => {
                let f = ExtractionRef {
                    text: &self.text,
                    start: if t == 0 { 0 } else { self.ends[t - 1] },
                    ends: &self.ends[t..t + terms],
                    links: &self.links[l..l + links],
                };
                t += terms;
                l += links;
                View::Extracted(f)
            }
        })
    }
}

/// The hashing half of merging a chunk, on all workers: for every statement, the ids
/// its terms and links already have (see [`Ids::resolve`]), one flat vector per block.
fn resolve_chunk(ids: Ids<'_>, blocks: &[Block]) -> Vec<Vec<u32>> {
    blocks
        .par_iter()
        .map(|b| {
            let mut out = Vec::new();
            for v in b.views() {
                if let View::Extracted(f) = v {
                    ids.resolve(f, &mut out);
                }
            }
            out
        })
        .collect()
}

/// Merges one chunk's extractions into the graph, in order: only the order-dependent
/// part is done here (with the ids [`resolve_chunk`] found), and the associations'
/// evidence is returned, for [`Graph::apply_parallel`].
fn merge_blocks<S: AsStatement>(
    graph: &mut Graph,
    batch: &[S],
    c: &mut Chunk,
    resolved: &[Vec<u32>],
    pending: &KeyMap,
    report: &mut LearnReport,
    mut updates: Vec<Update>,
) -> Vec<Update> {
    let t = Instant::now();
    updates.clear();
    let offset = c.offset;
    let mut statements = batch[offset..offset + c.len].iter().enumerate();
    for (b, ids) in c.blocks.iter_mut().zip(resolved) {
        report.times.extract += b.extract;
        let unique = std::mem::take(&mut b.unique);
        let mut cursor = 0;
        for ((v, own), (i, s)) in b.views().zip(unique).zip(&mut statements) {
            match v {
                View::Known => report.already_known += 1,
                View::Failed(message) => report.errors.push(StatementError {
                    id: s.id().clone(),
                    index: offset + i,
                    message: message.to_string(),
                }),
                View::Extracted(f) => {
                    let n = f.term_count() + f.links.len();
                    cursor += n;
                    let known = Known {
                        ids: &ids[cursor - n..cursor],
                        pending: Some(pending),
                    };
                    if graph.assign(s.id(), own, s.seen_at(), f, known, &mut updates) {
                        report.learned += 1;
                    } else {
                        report.already_known += 1;
                    }
                }
            }
        }
    }
    let spent = t.elapsed();
    report.times.graph += spent;
    report.times.serial += spent;
    updates
}

/// Merges one chunk's extractions into the graph, in order, each statement whole
/// ([`Graph::learn`]).
fn merge<S: AsStatement>(
    graph: &mut Graph,
    offset: usize,
    chunk: &[S],
    extracted: &[Extracted],
    report: &mut LearnReport,
) {
    let t = Instant::now();
    for (i, (s, e)) in chunk.iter().zip(extracted).enumerate() {
        match e {
            None => report.already_known += 1,
            Some((r, d)) => {
                report.times.extract += *d;
                match r {
                    Ok(ex) => {
                        if graph.learn(s.id(), s.seen_at(), ex) {
                            report.learned += 1;
                        } else {
                            report.already_known += 1;
                        }
                    }
                    Err(message) => report.errors.push(StatementError {
                        id: s.id().clone(),
                        index: offset + i,
                        message: message.clone(),
                    }),
                }
            }
        }
    }
    let spent = t.elapsed();
    report.times.graph += spent;
    report.times.serial += spent;
}

/// For each statement, whether its id occurs more than once in the batch (or shares a
/// 64-bit hash with another: such statements only take the slower, checked path).
fn repeated_ids<S: AsStatement + Sync>(batch: &[S]) -> Vec<bool> {
    use std::hash::BuildHasher;
    let h = rustc_hash::FxBuildHasher;
    let hashes: Vec<u64> = batch.par_iter().map(|s| h.hash_one(s.id())).collect();
    let mut sorted = hashes.clone();
    sorted.par_sort_unstable();
    let mut twice: Vec<u64> = sorted
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    if twice.is_empty() {
        return vec![false; batch.len()];
    }
    twice.dedup();
    hashes
        .par_iter()
        .map(|x| twice.binary_search(x).is_ok())
        .collect()
}

/// One statement at a time on the calling thread: extract, merge.
fn learn_sequential<S, E>(
    chunk: usize,
    graph: &mut Graph,
    batch: &[S],
    extractor: &E,
    report: &mut LearnReport,
    progress: &mut (impl FnMut(&Progress) + Send),
) where
    S: AsStatement + Sync,
    E: Fn(&str, &str) -> Result<Extraction, ExtractError> + Sync,
{
    for (ci, c) in batch.chunks(chunk.max(1)).enumerate() {
        let extracted: Vec<Extracted> = c
            .iter()
            .map(|s| (!graph.is_learned(s.id())).then(|| extract_isolated(s, extractor)))
            .collect();
        merge(graph, ci * chunk.max(1), c, &extracted, report);
        progress(&Progress {
            done: (ci * chunk.max(1) + c.len()) as u64,
            total: batch.len() as u64,
            errors: report.errors.len() as u64,
        });
    }
}

/// A chunk on its way through [`learn_parallel`]'s pipeline.
struct Chunk {
    /// Position of its first statement in the batch.
    offset: usize,
    /// Statements in the chunk.
    len: usize,
    blocks: Vec<Block>,
}

/// Chunks are extracted by all workers while the previous chunk is merged into the
/// graph: `rayon::join` runs the merge on this thread and the extraction of the next
/// chunk on the others (and on this one once the merge is done), so the sequential
/// merge hides behind the parallel extraction instead of adding to it.
///
/// The merge itself is cut in three so that only what depends on order stays on one
/// thread: all workers look the chunk's terms and links up in the graph (read-only,
/// [`resolve_chunk`]); one thread then records the statements and gives new concepts
/// and associations their ids ([`Graph::assign`]), while the others extract the next
/// chunk; then all workers apply the evidence to the associations, each to a range of
/// ids, in order ([`Graph::apply_parallel`]). Merging whole on one thread took longer
/// than extracting (hash lookups and cache misses in a large graph), and 2 workers
/// were slower than 1.
///
/// What stays on the one thread is kept small: the associations a chunk creates are
/// found and numbered with two small maps (the previous chunk's new keys, `new_keys`,
/// and this chunk's, [`Graph::take_fresh`]) instead of the large id map, which another
/// worker updates meanwhile ([`enter_keys`]); and the new associations are appended to
/// the graph's array later by a worker ([`Graph::apply_parallel`]), so growing that
/// array is not on this thread either.
///
/// Each step waits for the previous one, so a chunk costs two synchronisations of the
/// pool: (merge chunk k ‖ extract chunk k+1 ‖ enter chunk k-1's new keys in the id
/// map), then (apply chunk k's evidence ‖ resolve chunk k+1 ‖ free chunk k's
/// extractions). Resolving k+1 beside the evidence of k is sound because applying
/// evidence changes no id map; it sees every id up to chunk k-1 in the id map, and
/// merging k+1 finds chunk k's in `new_keys`.
fn learn_parallel<S, E>(
    pool: &rayon::ThreadPool,
    chunk: usize,
    graph: &mut Graph,
    batch: &[S],
    extractor: &E,
    report: &mut LearnReport,
    progress: &mut (impl FnMut(&Progress) + Send),
) where
    S: AsStatement + Sync,
    E: Fn(&str, &str) -> Result<Extraction, ExtractError> + Sync,
{
    // Statements learned before this batch are skipped without extraction; a
    // statement repeated inside the batch is caught by `Graph::learn` at merge time.
    let known: Vec<bool> =
        pool.install(|| batch.par_iter().map(|s| graph.is_learned(s.id())).collect());
    let repeated = pool.install(|| repeated_ids(batch));
    let new = known.iter().filter(|&&k| !k).count();
    // small batches still get a few chunks, so that merging overlaps extraction
    let chunk = chunk.min(batch.len().div_ceil(4)).max(16);
    let total = batch.len() as u64;
    let extract_chunk = |ci: usize, c: &[S]| {
        let offset = ci * chunk;
        let blocks = c
            .par_chunks(BLOCK)
            .enumerate()
            .map(|(bi, b)| Block::extract(b, offset + bi * BLOCK, &known, &repeated, extractor))
            .collect();
        Chunk {
            offset,
            len: c.len(),
            blocks,
        }
    };
    pool.install(|| {
        // the chunk extracted and resolved, waiting to be merged
        let mut pending: Option<(Chunk, Vec<Vec<u32>>)> = None;
        // the associations the last merged chunk created, not in the id map yet
        let mut new_keys = KeyMap::default();
        // a chunk's evidence (kept to reuse its allocation)
        let mut spare = Vec::new();
        let mut chunks = batch.chunks(chunk).enumerate();
        // room for the batch's new associations, made while the first chunk is
        // extracted (nothing is merged yet)
        let first = chunks
            .next()
            .map(|(ci, c)| rayon::join(|| extract_chunk(ci, c), || graph.reserve_for(new)).0);
        let mut first = Some(first);
        loop {
            let mut ids = graph.take_assoc_ids();
            let (merged, (extracted, ())) = rayon::join(
                || {
                    pending.take().map(|(mut c, resolved)| {
                        let updates = merge_blocks(
                            graph,
                            batch,
                            &mut c,
                            &resolved,
                            &new_keys,
                            report,
                            std::mem::take(&mut spare),
                        );
                        (c.offset + c.len, updates, c.blocks)
                    })
                },
                || {
                    rayon::join(
                        || match first.take() {
                            Some(c) => c,
                            None => chunks.next().map(|(ci, c)| extract_chunk(ci, c)),
                        },
                        || enter_keys(&mut ids, &new_keys),
                    )
                },
            );
            graph.put_assoc_ids(ids);
            new_keys = graph.take_fresh(new_keys);
            let t = Instant::now();
            let resolve = |ids: Ids<'_>| extracted.as_ref().map(|c| resolve_chunk(ids, &c.blocks));
            let resolved = match merged {
                Some((done, updates, ex)) => {
                    // the extractions are freed by the workers, off the merging thread
                    let resolved = graph.apply_parallel(&updates, |ids| {
                        rayon::join(|| resolve(ids), || ex.into_par_iter().for_each(drop)).0
                    });
                    spare = updates;
                    progress(&Progress {
                        done: done as u64,
                        total,
                        errors: report.errors.len() as u64,
                    });
                    resolved
                }
                None => resolve(graph.ids()),
            };
            report.times.graph += t.elapsed();
            match (extracted, resolved) {
                (Some(c), Some(r)) => pending = Some((c, r)),
                _ => break,
            }
        }
        let mut ids = graph.take_assoc_ids();
        enter_keys(&mut ids, &new_keys);
        graph.put_assoc_ids(ids);
    });
}
