//! `kimera run`: one reactor cycle over the store.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use kimera_reactor::{KnnParams, Pairing, ReactorError, RunConfig, RunStats};
use kimera_store::Store;

use crate::Global;
use crate::output::{print_json, print_table, progress};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Reactor threads (default: all cores; 1 = the sequential path). --mp is the
    /// original Kimera spelling. The scars do not depend on it.
    #[arg(long, visible_alias = "mp")]
    pub workers: Option<usize>,
    /// Geoids read and pairs scored (and committed) per chunk: bounds memory; the scars do
    /// not depend on it.
    #[arg(long, default_value_t = 10_000)]
    pub chunk: usize,
    /// Candidate pairs: ann (each statement's nearest neighbours), random (Kimera's seeded
    /// shuffle into pairs), or pairs (the labelled pairs stored by ingest).
    #[arg(long, default_value = "ann")]
    pub pairing: Pairing,
    /// Neighbours per statement for --pairing ann.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Neighbours below this cosine are not candidates (--pairing ann).
    #[arg(long, default_value_t = KnnParams::default().floor)]
    pub min_sim: f32,
    /// Seed of --pairing random.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Detectors of the cascade, cheapest first: baseline, lexical, model (learned;
    /// model-head / model-cross for one route alone), graph (conflicting learned facts;
    /// run `kimera learn` first).
    #[arg(long, default_value = crate::cmd::DEFAULT_DETECTORS)]
    pub detectors: String,
    /// Read the vectors of this embedding model (default: the only model in the store).
    #[arg(long)]
    pub model_id: Option<String>,
    /// Stores up to this many embedded statements are searched exactly, larger ones with
    /// the IVF index.
    #[arg(long, default_value_t = KnnParams::default().exact_max)]
    pub exact_max: usize,
    /// IVF lists probed per statement: more is slower and finds more true neighbours.
    #[arg(long, default_value_t = KnnParams::default().nprobe)]
    pub nprobe: usize,
    /// Lexical neighbours per statement for --pairing ann: the statements sharing the
    /// most rare words with it (TF-IDF), added to the --k nearest vectors when their
    /// cosine reaches --min-sim. They reach contradictions that paraphrases crowd out of
    /// the vector neighbours, and texts the model reads poorly; 0 = vectors only.
    #[arg(long, default_value_t = KnnParams::default().lexical_k)]
    pub lexical_k: usize,
    /// Where the cycle runs: local (this process) or ray (a Ray cluster, through the
    /// Python package: `python -m kimera.ray`; same scars). With ray, --workers is the
    /// number of detector actors.
    #[arg(long, default_value = "local", value_parser = ["local", "ray"])]
    pub engine: String,
    /// The Ray cluster for --engine ray: auto (the one `ray start` began here), local
    /// (a new one in-process) or an address (host:6379, ray://host:10001).
    #[arg(long, default_value = "auto", requires = "engine")]
    pub ray_address: String,
    /// Read the store as it was at TIME (superseded statements included): a date
    /// (2024-03-01), a date and time (UTC unless an offset is given) or epoch seconds.
    #[arg(long, value_name = "TIME", value_parser = crate::cmd::parse_as_of)]
    pub as_of: Option<i64>,
}

/// `--engine ray`: the same run through `python -m kimera.ray` (the interpreter is
/// $KIMERA_PYTHON, else python3), which prints the stats; its exit status is ours.
fn run_on_ray(a: &RunArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let python = std::env::var("KIMERA_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut cmd = std::process::Command::new(&python);
    cmd.args(["-m", "kimera.ray", "--db"])
        .arg(&g.db)
        .args(["--address", &a.ray_address, "--detectors", &a.detectors])
        .args(["--pairing", a.pairing.as_str()])
        .args(["--k", &a.k.to_string(), "--min-sim", &a.min_sim.to_string()])
        .args([
            "--seed",
            &a.seed.to_string(),
            "--chunk",
            &a.chunk.to_string(),
        ])
        .args(["--exact-max", &a.exact_max.to_string()])
        .args(["--nprobe", &a.nprobe.to_string()])
        .args(["--lexical-k", &a.lexical_k.to_string()]);
    if let Some(m) = &a.model_id {
        cmd.args(["--model-id", m]);
    }
    if let Some(w) = a.workers {
        cmd.args(["--actors", &w.to_string()]);
    }
    if let Some(t) = a.as_of {
        cmd.args(["--as-of", &t.to_string()]);
    }
    if g.json {
        cmd.arg("--json");
    }
    let status = cmd.status().with_context(|| {
        format!(
            "starting {python} -m kimera.ray (install the Python package: pip install ./crates/kimera-py ray; or set KIMERA_PYTHON)"
        )
    })?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => bail!("{python} -m kimera.ray was killed by a signal"),
    })
}

/// The model whose vectors to read: the one asked for, or the only one stored.
fn pick_model(store: &Store, asked: Option<&str>, g: &Global) -> anyhow::Result<String> {
    if let Some(m) = asked {
        return Ok(m.to_string());
    }
    let counts = store.counts()?;
    if counts.geoids == 0 {
        // nothing to compare: the cycle runs (and records an empty run) with any model
        return Ok(counts
            .embeddings_by_model
            .first()
            .map_or_else(|| "-".to_string(), |(m, _)| m.clone()));
    }
    let models = counts.embeddings_by_model;
    match models.as_slice() {
        [] => bail!(
            "no embeddings in {}; run `kimera embed` first (or pass --model-id)",
            g.db.display()
        ),
        [(m, _)] => Ok(m.clone()),
        many => bail!(
            "{} holds vectors of several models ({}); choose one with --model-id",
            g.db.display(),
            many.iter()
                .map(|(m, n)| format!("{m}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The reactor configuration `a` asks for on `store` (shared with `kimera bench prose`).
pub fn config(a: &RunArgs, store: &Store, g: &Global) -> anyhow::Result<RunConfig> {
    Ok(RunConfig {
        model_id: pick_model(store, a.model_id.as_deref(), g)?,
        pairing: a.pairing,
        knn: KnnParams {
            k: a.k,
            floor: a.min_sim,
            exact_max: a.exact_max,
            nprobe: a.nprobe,
            lexical_k: a.lexical_k,
            ..KnnParams::default()
        },
        seed: a.seed,
        chunk: a.chunk,
        workers: a.workers.unwrap_or(0),
        args: std::env::args().skip(1).collect(),
        visibility: crate::cmd::visibility(a.as_of),
    })
}

pub fn run(a: &RunArgs, g: &Global) -> anyhow::Result<ExitCode> {
    if a.engine == "ray" {
        return run_on_ray(a, g);
    }
    let mut store = Store::open(&g.db)?;
    let detectors = crate::cmd::detectors_on(&a.detectors, &store)?;
    let cfg = config(a, &store, g)?;
    let pb = progress(g, 0, "reactor");
    let result = kimera_reactor::run(&mut store, &cfg, &detectors, &|p| {
        pb.set_message(p.phase);
        pb.set_length(p.total);
        pb.set_position(p.done);
    });
    pb.finish_and_clear();
    let stats = match result {
        Err(e @ ReactorError::NoVectors { .. }) => {
            return Err(e).context("run `kimera embed` first");
        }
        other => other.with_context(|| format!("reactor run on {}", g.db.display()))?,
    };
    if g.json {
        print_json(&stats)?;
    } else {
        print_stats(&stats);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_stats(s: &RunStats) {
    let by_det = s
        .scars_by_detector
        .iter()
        .map(|(d, n)| format!("{d} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<Vec<String>> = [
        ("run", s.run_id.to_string()),
        ("mode", format!("{} ({} workers)", s.mode, s.workers)),
        ("pairing", format!("{} [{}]", s.pairing, s.index)),
        ("detectors", s.detectors.join(",")),
        ("model", s.model_id.clone()),
        (
            "geoids",
            format!("{} ({} without a vector)", s.geoids, s.missing_vectors),
        ),
        (
            "pairs checked",
            if s.lexical_pairs > 0 {
                format!(
                    "{} ({} proposed by shared words only)",
                    s.pairs_checked, s.lexical_pairs
                )
            } else {
                s.pairs_checked.to_string()
            },
        ),
        ("scars found", format!("{} ({by_det})", s.scars_found)),
        ("new scars", s.new_scars.to_string()),
        ("chunks", s.chunks.to_string()),
        (
            "time",
            format!(
                "{} ms (load {}, candidates {}, detect {}); {} geoids/s",
                s.latency_ms, s.load_ms, s.candidates_ms, s.detect_ms, s.geoids_per_s
            ),
        ),
        ("peak memory", format!("{:.1} MB", s.mem_mb)),
    ]
    .into_iter()
    .map(|(k, v)| vec![k.to_string(), v])
    .collect();
    print_table(&["stat", "value"], &rows);
    if s.new_scars > 0 {
        println!("\nsee them with `kimera scars`");
    }
}
