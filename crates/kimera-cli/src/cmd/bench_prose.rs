//! `kimera bench prose`: planted recall and false flags per 1,000 statements on real
//! documents.
//!
//! The folder holds text or Markdown documents into which contradictions were planted
//! (scripts/prose-corpus.py) and `planted.jsonl`, the planted pairs. The documents are
//! ingested into a fresh store exactly as `kimera ingest` would (claims only, unless
//! `--keep-all`), embedded, and one reactor cycle runs with the options and defaults of
//! `kimera run`. A flagged pair is an unordered pair of statements with at least one
//! scar, counted once whatever the number of detectors that flagged it; it is a false
//! flag unless it is a planted pair. Planted recall counts every planted pair, including
//! those whose sentences the ingest did not store (reported apart as not stored).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use kimera_core::GeoidId;
use kimera_ingest::{IngestOptions, ingest_paths, supported_files};
use kimera_store::Store;
use serde::{Deserialize, Serialize};

use crate::Global;
use crate::cmd::run::RunArgs;
use crate::output::{ellipsize, print_json, print_table, progress};

#[derive(Debug, Args)]
pub struct ProseArgs {
    /// Folder of .md/.txt documents with planted contradictions (scripts/prose-corpus.py).
    #[arg(long)]
    pub docs: PathBuf,
    /// The planted pairs, one JSON object per line (default: DOCS/planted.jsonl).
    #[arg(long)]
    pub planted: Option<PathBuf>,
    /// Keep every sentence of the documents (as `kimera ingest --keep-all`).
    #[arg(long)]
    pub keep_all: bool,
    /// Build the store here and keep it (a new file; default: a temporary store, removed
    /// at the end). `--db` is not used: the benchmark always starts from an empty store.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// False flags to list, strongest first.
    #[arg(long, default_value_t = 10)]
    pub show: usize,
    #[command(flatten)]
    pub run: RunArgs,
}

/// One line of planted.jsonl.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Planted {
    pub file: String,
    pub kind: String,
    pub original: String,
    pub edited: String,
}

/// A flagged pair that is not planted, for the report.
#[derive(Debug, Clone, Serialize)]
struct FalseFlag {
    a: String,
    b: String,
    score: f64,
    /// Every detector (and rule or route) that flagged the pair.
    by: Vec<String>,
    why: String,
}

/// Recall of one kind of edit.
#[derive(Debug, Clone, Default, Serialize)]
struct KindRecall {
    planted: u64,
    stored: u64,
    found: u64,
}

/// What `kimera bench prose --json` prints.
#[derive(Debug, Serialize)]
struct ProseReport {
    docs: PathBuf,
    documents: usize,
    keep_all: bool,
    statements: u64,
    skipped: kimera_ingest::SkipCounts,
    skipped_total: u64,
    detectors: String,
    planted: u64,
    /// Planted pairs whose two sentences are both in the store.
    planted_stored: u64,
    planted_found: u64,
    recall: f64,
    recall_by_kind: BTreeMap<String, KindRecall>,
    flagged_pairs: u64,
    false_flags: u64,
    false_flags_per_1000: f64,
    /// False flags per detector and rule/route ("lexical:numbers", "model:cross"); a
    /// pair flagged by several counts under each.
    false_flags_by: BTreeMap<String, u64>,
    missed: Vec<Planted>,
    not_stored: Vec<Planted>,
    false_flag_examples: Vec<FalseFlag>,
    reactor: kimera_reactor::RunStats,
    seconds: f64,
}

/// The text a statement is matched by: Markdown's code and emphasis markers removed
/// (the ingest drops backticks and `**`/`__`) and whitespace collapsed.
fn key(text: &str) -> String {
    text.replace(['`', '*'], "")
        .replace("__", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn read_planted(path: &Path) -> anyhow::Result<Vec<Planted>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let p: Planted = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a planted pair", path.display(), i + 1))?;
        out.push(p);
    }
    Ok(out)
}

/// "lexical:numbers", "model:cross", or the detector alone.
fn flagged_by(detector: &str, ev: &serde_json::Value) -> String {
    let part = ev
        .get("route")
        .or_else(|| ev.get("rule"))
        .and_then(|v| v.as_str())
        .filter(|r| *r != detector);
    match part {
        Some(p) => format!("{detector}:{p}"),
        None => detector.to_string(),
    }
}

/// A store file that is removed when dropped (with its WAL files), unless kept.
struct TempStore {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempStore {
    fn drop(&mut self) {
        if !self.keep {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = self.path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

pub fn run(a: &ProseArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let planted_path = a
        .planted
        .clone()
        .unwrap_or_else(|| a.docs.join("planted.jsonl"));
    let planted = read_planted(&planted_path)?;
    let docs: Vec<PathBuf> = supported_files(std::slice::from_ref(&a.docs))?
        .into_iter()
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                ["md", "markdown", "txt"].contains(&e.to_ascii_lowercase().as_str())
            })
        })
        .collect();
    anyhow::ensure!(
        !docs.is_empty(),
        "{}: no .md or .txt document",
        a.docs.display()
    );
    let tmp = match &a.store {
        Some(p) => {
            anyhow::ensure!(!p.exists(), "{} exists: give a new file", p.display());
            TempStore {
                path: p.clone(),
                keep: true,
            }
        }
        None => TempStore {
            path: std::env::temp_dir().join(format!(
                "kimera-bench-prose-{}-{}.db",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            )),
            keep: false,
        },
    };
    let mut store = Store::open(&tmp.path)?;

    // ingest, as `kimera ingest` does
    let opts = IngestOptions {
        keep_all: a.keep_all,
        ..Default::default()
    };
    let pb = progress(g, 0, "rows");
    let ingested = ingest_paths(&mut store, &docs, &opts, &|rows, _, _| {
        pb.set_position(rows)
    })?;
    pb.finish_and_clear();
    anyhow::ensure!(
        ingested.failed_files == 0,
        "{} document(s) could not be ingested: {}",
        ingested.failed_files,
        ingested
            .files
            .iter()
            .filter_map(|f| f.failed.as_deref())
            .next()
            .unwrap_or("")
    );

    // embed, then one reactor cycle as `kimera run` runs it
    let enc = crate::cmd::demo::load_or_fetch_encoder(g)?;
    let pb = progress(g, 0, "embedded");
    kimera_embed::embed_store(&mut store, &enc, 4096, &|done, total| {
        pb.set_length(total);
        pb.set_position(done);
    })?;
    pb.finish_and_clear();
    let detectors = crate::cmd::detectors_on(&a.run.detectors, &store)?;
    let cfg = crate::cmd::run::config(&a.run, &store, g)?;
    let pb = progress(g, 0, "reactor");
    let stats = kimera_reactor::run(&mut store, &cfg, &detectors, &|p| {
        pb.set_message(p.phase);
        pb.set_length(p.total);
        pb.set_position(p.done);
    })?;
    pb.finish_and_clear();

    // statements by matching text, scars by unordered pair
    let mut ids: HashMap<String, GeoidId> = HashMap::new();
    let mut statements = 0u64;
    store.for_each_geoid(10_000, |rows| {
        for r in rows {
            statements += 1;
            ids.entry(key(&r.text)).or_insert_with(|| r.id.clone());
        }
        Ok(())
    })?;
    let unordered = |x: &GeoidId, y: &GeoidId| {
        if x <= y {
            (x.clone(), y.clone())
        } else {
            (y.clone(), x.clone())
        }
    };
    let mut flagged: HashMap<(GeoidId, GeoidId), FalseFlag> = HashMap::new();
    for s in store.scars(0)? {
        let by = flagged_by(&s.detector, &s.evidence);
        let e = flagged
            .entry(unordered(&s.a, &s.b))
            .or_insert_with(|| FalseFlag {
                a: s.text_a.clone(),
                b: s.text_b.clone(),
                score: s.score,
                by: Vec::new(),
                why: crate::cmd::why(&s.evidence),
            });
        if !e.by.contains(&by) {
            e.by.push(by);
        }
    }

    let mut by_kind: BTreeMap<String, KindRecall> = BTreeMap::new();
    let (mut stored, mut found) = (0u64, 0u64);
    let (mut missed, mut not_stored) = (Vec::new(), Vec::new());
    let mut planted_pairs: HashSet<(GeoidId, GeoidId)> = HashSet::new();
    for p in &planted {
        let k = by_kind.entry(p.kind.clone()).or_default();
        k.planted += 1;
        match (ids.get(&key(&p.original)), ids.get(&key(&p.edited))) {
            (Some(x), Some(y)) => {
                stored += 1;
                k.stored += 1;
                let pair = unordered(x, y);
                if flagged.contains_key(&pair) {
                    found += 1;
                    k.found += 1;
                } else {
                    missed.push(p.clone());
                }
                planted_pairs.insert(pair);
            }
            _ => not_stored.push(p.clone()),
        }
    }
    let mut false_flags: Vec<FalseFlag> = flagged
        .iter()
        .filter(|(pair, _)| !planted_pairs.contains(pair))
        .map(|(_, f)| f.clone())
        .collect();
    false_flags.sort_by(|x, y| y.score.total_cmp(&x.score).then_with(|| x.a.cmp(&y.a)));
    let mut false_by: BTreeMap<String, u64> = BTreeMap::new();
    for f in &false_flags {
        for b in &f.by {
            *false_by.entry(b.clone()).or_default() += 1;
        }
    }
    let n_false = false_flags.len() as u64;
    let report = ProseReport {
        docs: a.docs.clone(),
        documents: docs.len(),
        keep_all: a.keep_all,
        statements,
        skipped: ingested.skipped,
        skipped_total: ingested.skipped_total,
        detectors: a.run.detectors.clone(),
        planted: planted.len() as u64,
        planted_stored: stored,
        planted_found: found,
        recall: if planted.is_empty() {
            0.0
        } else {
            found as f64 / planted.len() as f64
        },
        recall_by_kind: by_kind,
        flagged_pairs: flagged.len() as u64,
        false_flags: n_false,
        false_flags_per_1000: if statements == 0 {
            0.0
        } else {
            n_false as f64 * 1000.0 / statements as f64
        },
        false_flags_by: false_by,
        missed,
        not_stored,
        false_flag_examples: false_flags.into_iter().take(a.show).collect(),
        reactor: stats,
        seconds: started.elapsed().as_secs_f64(),
    };
    drop(store);
    if g.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &ProseReport) {
    let rows: Vec<Vec<String>> = [
        ("documents", r.documents.to_string()),
        (
            "statements",
            format!(
                "{} ({})",
                r.statements,
                if r.keep_all {
                    "--keep-all: every sentence".to_string()
                } else {
                    format!("{} candidates skipped as not claims", r.skipped_total)
                }
            ),
        ),
        ("detectors", r.detectors.clone()),
        (
            "planted found",
            format!(
                "{}/{} (recall {:.3}; {} not stored by the ingest)",
                r.planted_found,
                r.planted,
                r.recall,
                r.planted - r.planted_stored
            ),
        ),
        ("flagged pairs", r.flagged_pairs.to_string()),
        (
            "false flags",
            format!(
                "{} ({:.1} per 1,000 statements)",
                r.false_flags, r.false_flags_per_1000
            ),
        ),
        (
            "false flags by",
            r.false_flags_by
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("time", format!("{:.1} s", r.seconds)),
    ]
    .into_iter()
    .map(|(k, v)| vec![k.to_string(), v])
    .collect();
    print_table(&["prose benchmark", "value"], &rows);
    let kinds: Vec<Vec<String>> = r
        .recall_by_kind
        .iter()
        .map(|(k, v)| {
            vec![
                k.clone(),
                v.planted.to_string(),
                v.stored.to_string(),
                v.found.to_string(),
            ]
        })
        .collect();
    println!();
    print_table(&["planted edit", "planted", "stored", "found"], &kinds);
    if !r.false_flag_examples.is_empty() {
        println!("\nstrongest false flags:");
        let rows: Vec<Vec<String>> = r
            .false_flag_examples
            .iter()
            .map(|f| {
                vec![
                    format!("{:.2}", f.score),
                    f.by.join(","),
                    ellipsize(&f.a, 45),
                    ellipsize(&f.b, 45),
                ]
            })
            .collect();
        print_table(&["score", "flagged by", "statement", "other"], &rows);
    }
}
