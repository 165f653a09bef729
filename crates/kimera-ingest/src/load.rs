//! Writing records into the store: batching, the parse/write pipeline, strict mode.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use kimera_core::{Geoid, GeoidId, GoldLabel};
use kimera_store::{GeoidTx, InsertSummary, PairEnd, PairRef, Store};
use serde::Serialize;

use crate::clean::SkipCounts;
use crate::format::EXTENSIONS;
use crate::read::{ReadOptions, ReadStats, Record, read_records_with};
use crate::{Format, IngestError, RowError, detect_format};

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Force a format instead of detecting it per file.
    pub format: Option<Format>,
    /// Refuse a whole file when any row is bad (checked before anything is written).
    pub strict: bool,
    /// Records per transaction.
    pub batch_size: usize,
    /// Language for rows that give none (text files, CSVs without `lang`).
    pub default_lang: String,
    /// Files read and parsed at the same time (writing is always one at a time).
    pub max_concurrent: usize,
    /// Bad rows kept per file for the report (all are counted).
    pub keep_errors: usize,
    /// Keep every sentence of text and Markdown files, not only the claims.
    pub keep_all: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: None,
            strict: false,
            batch_size: 100_000,
            default_lang: "und".into(),
            max_concurrent: 4,
            keep_errors: 20,
            keep_all: false,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub format: Option<Format>,
    /// Rows read, good and bad.
    pub rows: u64,
    pub geoids: InsertSummary,
    pub pairs: InsertSummary,
    /// Rows skipped because they were malformed.
    pub bad_rows: u64,
    /// Candidates of a text or Markdown file that are not claims, per reason.
    pub skipped: SkipCounts,
    /// The first bad rows (up to `keep_errors`).
    pub errors: Vec<RowError>,
    /// Set when the whole file was refused or could not be read.
    pub failed: Option<String>,
}

/// What an ingest did, file by file and in total.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    pub files: Vec<FileReport>,
    pub rows: u64,
    pub geoids: InsertSummary,
    pub pairs: InsertSummary,
    pub bad_rows: u64,
    /// Candidates of text and Markdown files that are not claims, per reason.
    pub skipped: SkipCounts,
    /// Their total.
    pub skipped_total: u64,
    pub failed_files: u64,
    pub batches: u64,
    pub elapsed_ms: u64,
}

/// Expands directories (recursively, sorted) into the supported files below them,
/// skipping hidden files and README/LICENSE/CHANGELOG files. Paths given explicitly
/// are kept whatever their name.
pub fn supported_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, IngestError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| IngestError::io(p, e))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), IngestError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| IngestError::io(dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| IngestError::io(dir, e))?;
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || is_project_doc(name) {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// README, LICENSE and CHANGELOG files describe a folder of data; they are not data.
/// Walking a directory skips them (name them explicitly to ingest them).
fn is_project_doc(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["README", "LICENSE", "LICENCE", "CHANGELOG", "COPYING"]
        .iter()
        .any(|p| upper.starts_with(p))
}

/// Records a parser thread sends at a time: a transaction of `batch_size` records
/// reaches the writer in chunks, so that few records are in memory at once whatever
/// the transaction size.
const CHUNK: usize = 4_096;

/// What a parser thread sends the writer.
enum Event {
    Format(Format),
    /// Records of the batch under way.
    Chunk(Vec<Record>),
    /// The batch is complete: commit it.
    EndBatch,
    Bad(RowError),
    Done(Result<ReadStats, IngestError>),
}

/// Ingests `paths` (files or directories) into `store`.
///
/// Files are parsed on up to `max_concurrent` threads while this thread writes, in the
/// order of the (sorted) file list, so the store ends up the same whatever the
/// concurrency. Each file streams through a small bounded channel, so memory holds at
/// most a few batches per file in flight. A file that cannot be read or is refused is
/// reported in its [`FileReport`] and the other files still load; only a store error
/// stops the ingest. `progress(rows_written, files_done, files_total)` is called after
/// each batch.
pub fn ingest_paths(
    store: &mut Store,
    paths: &[PathBuf],
    opts: &IngestOptions,
    progress: &(dyn Fn(u64, usize, usize) + Sync),
) -> Result<IngestSummary, IngestError> {
    let start = Instant::now();
    let files = supported_files(paths)?;
    let n = files.len();
    let mut summary = IngestSummary::default();
    let channels: Vec<(SyncSender<Event>, Receiver<Event>)> =
        (0..n).map(|_| sync_channel(1)).collect();
    let (senders, receivers): (Vec<_>, Vec<_>) = channels.into_iter().unzip();
    let senders: Vec<Mutex<Option<SyncSender<Event>>>> =
        senders.into_iter().map(|s| Mutex::new(Some(s))).collect();
    let next = AtomicUsize::new(0);
    let workers = opts.max_concurrent.clamp(1, n.max(1));

    // the WAL is copied into the database file by a thread of its own while this one
    // writes the next batch (see kimera_store's `checkpoint` module)
    store.checkpoint_in_background()?;
    let loaded = std::thread::scope(|s| -> Result<(), IngestError> {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let tx = senders[i]
                        .lock()
                        .expect("sender lock")
                        .take()
                        .expect("each file taken once");
                    parse_file(&files[i], opts, &tx);
                }
            });
        }
        let mut receivers = receivers;
        for (i, rx) in receivers.drain(..).enumerate() {
            let mut report = FileReport {
                path: files[i].clone(),
                ..Default::default()
            };
            let mut events = rx.iter();
            while let Some(ev) = events.next() {
                let Event::Chunk(records) = ev else {
                    other_event(ev, &mut report, &mut summary, opts);
                    continue;
                };
                // a batch begins: one transaction takes its chunks up to its end
                let mut tx = store.geoid_tx()?;
                let mut next = Some(records);
                loop {
                    if let Some(records) = next.take() {
                        summary.rows += records.len() as u64;
                        let (g, p) = write_chunk(&mut tx, records)?;
                        report.geoids += g;
                        report.pairs += p;
                    }
                    match events.next() {
                        Some(Event::Chunk(records)) => next = Some(records),
                        Some(Event::EndBatch) | None => break,
                        Some(ev) => other_event(ev, &mut report, &mut summary, opts),
                    }
                }
                tx.commit()?;
                summary.batches += 1;
                tracing::info!(file = %files[i].display(), rows = summary.rows, "batch committed");
                progress(summary.rows + summary.bad_rows, i, n);
            }
            summary.geoids += report.geoids;
            summary.pairs += report.pairs;
            summary.skipped += report.skipped;
            summary.files.push(report);
            progress(summary.rows + summary.bad_rows, i + 1, n);
        }
        Ok(())
    });
    let foreground = store.checkpoint_in_foreground();
    loaded?;
    foreground?;
    summary.rows += summary.bad_rows;
    summary.skipped_total = summary.skipped.total();
    summary.elapsed_ms = start.elapsed().as_millis() as u64;
    Ok(summary)
}

/// Takes in an event other than a batch's records.
fn other_event(
    ev: Event,
    report: &mut FileReport,
    summary: &mut IngestSummary,
    opts: &IngestOptions,
) {
    match ev {
        Event::Format(f) => report.format = Some(f),
        Event::Chunk(_) | Event::EndBatch => {}
        Event::Bad(e) => {
            report.bad_rows += 1;
            summary.bad_rows += 1;
            if report.errors.len() < opts.keep_errors {
                report.errors.push(e);
            }
        }
        Event::Done(Ok(stats)) => {
            report.rows = stats.rows;
            report.skipped = stats.skipped;
        }
        Event::Done(Err(e)) => {
            report.failed = Some(e.to_string());
            summary.failed_files += 1;
        }
    }
}

/// Parses one file and sends its events; never panics on bad input.
fn parse_file(path: &Path, opts: &IngestOptions, tx: &SyncSender<Event>) {
    let format = match opts.format.map(Ok).unwrap_or_else(|| detect_format(path)) {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.send(Event::Done(Err(e)));
            return;
        }
    };
    let _ = tx.send(Event::Format(format));
    let read_opts = ReadOptions {
        default_lang: opts.default_lang.clone(),
        keep_all: opts.keep_all,
    };
    if opts.strict {
        // First pass: validate everything, write nothing.
        let mut bad = 0u64;
        let mut first: Option<RowError> = None;
        let r = read_records_with(path, format, &read_opts, &mut |r| {
            if let Err(e) = r {
                bad += 1;
                first.get_or_insert(e);
            }
            Ok(())
        });
        if let Err(e) = r {
            let _ = tx.send(Event::Done(Err(e)));
            return;
        }
        if let Some(first) = first {
            let _ = tx.send(Event::Done(Err(IngestError::Refused {
                path: path.to_path_buf(),
                count: bad,
                first,
            })));
            return;
        }
    }
    let batch_size = opts.batch_size.max(1);
    let chunk = batch_size.min(CHUNK);
    let mut records = Vec::with_capacity(chunk);
    // records of the batch under way already sent
    let mut sent_in_batch = 0usize;
    let mut gone = false;
    let r = read_records_with(path, format, &read_opts, &mut |r| {
        let sent = match r {
            Ok(rec) => {
                records.push(rec);
                let in_batch = sent_in_batch + records.len();
                if records.len() >= chunk || in_batch >= batch_size {
                    let full = std::mem::replace(&mut records, Vec::with_capacity(chunk));
                    sent_in_batch = in_batch;
                    let mut sent = tx.send(Event::Chunk(full));
                    if sent.is_ok() && in_batch >= batch_size {
                        sent_in_batch = 0;
                        sent = tx.send(Event::EndBatch);
                    }
                    sent
                } else {
                    Ok(())
                }
            }
            Err(e) => tx.send(Event::Bad(e)),
        };
        if sent.is_err() {
            // the writer stopped (store error): stop reading
            gone = true;
            return Err(IngestError::Invalid {
                path: path.to_path_buf(),
                message: "ingest stopped".into(),
            });
        }
        Ok(())
    });
    if gone {
        return;
    }
    if !records.is_empty() {
        let _ = tx.send(Event::Chunk(records));
    }
    // the file's last batch (a no-op when it ended exactly on a batch)
    let _ = tx.send(Event::EndBatch);
    let _ = tx.send(Event::Done(r));
}

/// Turns a chunk of records into geoids and pairs and writes them into the batch's
/// transaction. The records are moved, not copied: they exist once in memory.
fn write_chunk(
    tx: &mut GeoidTx<'_>,
    records: Vec<Record>,
) -> Result<(InsertSummary, InsertSummary), IngestError> {
    let mut geoids: Vec<Geoid> = Vec::with_capacity(records.len());
    let mut pairs: Vec<PairRef> = Vec::new();
    for r in records {
        match r {
            Record::Statement(g) => geoids.push(g),
            Record::Linked { geoid, contradicts } => {
                if let Some(other) = contradicts {
                    // the link is usually listed from both sides: store it once, a < b
                    let (a, b) = canonical(geoid.id.clone(), GeoidId(other.clone()));
                    pairs.push(PairRef {
                        a: PairEnd::Id(a),
                        b: PairEnd::Id(b),
                        pair_id: None,
                        gold: Some(GoldLabel::Contradiction),
                        lang: Some(geoid.lang.clone()),
                        kind: Some("linked".into()),
                        source: geoid.source.clone(),
                    });
                }
                geoids.push(geoid);
            }
            Record::Pair {
                a,
                b,
                pair_id,
                gold,
                lang,
                kind,
                line: _,
            } => {
                let i = geoids.len();
                pairs.push(PairRef {
                    a: PairEnd::Index(i),
                    b: PairEnd::Index(i + 1),
                    pair_id,
                    gold,
                    lang: Some(lang),
                    kind,
                    source: a.source.clone(),
                });
                geoids.push(a);
                geoids.push(b);
            }
        }
    }
    let r = tx.insert(&geoids, &pairs)?;
    Ok((r.geoids, r.pairs))
}

fn canonical(x: GeoidId, y: GeoidId) -> (GeoidId, GeoidId) {
    if x <= y { (x, y) } else { (y, x) }
}
