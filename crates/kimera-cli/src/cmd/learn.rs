//! `kimera learn [PATH...]`: learn the concept graph from the statements in the store
//! (after ingesting PATHs, when given).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use kimera_learn::{Graph, LearnOptions, LearnReport, Learner};
use kimera_store::{GeoidRow, Store};
use serde::Serialize;

use crate::Global;
use crate::cmd::ingest::{IngestArgs, ingest};
use crate::output::{print_json, progress};

#[derive(Debug, Args)]
pub struct LearnArgs {
    /// Files or directories to ingest first; without them, the statements already in
    /// the store are learned.
    pub paths: Vec<PathBuf>,
    /// Worker threads for extraction (0 = one per core, 1 = sequential).
    #[arg(long, short = 'w', default_value_t = 0)]
    pub workers: usize,
    /// Statements extracted per parallel step.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk: u64,
    /// Statements read from the store, learned and saved per transaction.
    /// Larger pages make `learn` faster and use more memory (100k statements on 2
    /// workers: 1.3 s and 225 MB at 100,000, 1.4 s and 200 MB at 50,000).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub page: u64,
    /// Forget the stored graph and learn everything again.
    #[arg(long)]
    pub rebuild: bool,
    /// Learn but do not write the graph (measures learning alone). With `--rebuild`,
    /// learns everything again in memory and leaves the stored graph as it is.
    #[arg(long)]
    pub dry_run: bool,
    /// Language for ingested rows that give none.
    #[arg(long, default_value = "und")]
    pub lang: String,
}

#[derive(Debug, Serialize)]
struct Summary {
    #[serde(flatten)]
    report: LearnReport,
    workers: usize,
    concepts: u64,
    associations: u64,
    provenance_rows_written: u64,
    seconds: Seconds,
    statements_per_second: f64,
}

/// Where the time went, in seconds.
#[derive(Debug, Serialize)]
struct Seconds {
    ingest: f64,
    /// Deleting the stored graph (`--rebuild`).
    clear: f64,
    load_graph: f64,
    read: f64,
    extract_cpu: f64,
    graph: f64,
    learn_wall: f64,
    persist: f64,
    total: f64,
}

pub fn run(a: &LearnArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let t0 = Instant::now();
    let mut store = Store::open(&g.db)?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run_id = store.start_run("learn", &args)?;

    let mut ingest_s = 0.0;
    let mut ingest_failed = false;
    if !a.paths.is_empty() {
        let t = Instant::now();
        let ia = IngestArgs {
            paths: a.paths.clone(),
            format: None,
            strict: false,
            lang: a.lang.clone(),
            batch: 100_000,
            max_concurrent: 4,
            embed: false,
            keep_all: false,
        };
        let s = ingest(&mut store, &ia, g)?;
        for f in &s.files {
            if let Some(why) = &f.failed {
                eprintln!("error: {}", kimera_core::printable(why));
                ingest_failed = true;
            }
            for e in &f.errors {
                eprintln!("skipped: {e}");
            }
        }
        if !g.quiet && !g.json {
            eprintln!(
                "ingested {} file(s): {} rows, {} new geoids, {} bad rows skipped",
                s.files.len(),
                s.rows,
                s.geoids.inserted,
                s.bad_rows
            );
        }
        ingest_s = t.elapsed().as_secs_f64();
    }

    // a dry run never changes the store: `--rebuild --dry-run` starts from an empty
    // graph in memory instead of clearing the stored one
    let t = Instant::now();
    if a.rebuild && !a.dry_run {
        store.clear_graph()?;
    }
    let clear_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    // Memory stays bounded by the graph, not by the statements: provenance and the ids
    // of learned statements go to the store with each page and are not kept; a page's
    // statements learned before are found by a lookup in the store.
    let mut graph = if a.rebuild {
        Graph::bounded()
    } else {
        Graph::load_bounded(&store)?
    };
    let load_s = t.elapsed().as_secs_f64();

    let learner = Learner::on_current_thread(LearnOptions {
        workers: a.workers,
        chunk: a.chunk as usize,
        ..Default::default()
    })?;
    let total = store.statements_to_learn()?;
    let pb = progress(g, total, "learn");
    let mut report = LearnReport::default();
    let mut sources = Vec::new();
    let (mut read, mut persist) = (Duration::ZERO, Duration::ZERO);
    let mut written = 0u64;
    let mut after = 0i64;
    loop {
        let t = Instant::now();
        let rows = store.geoids_after(after, a.page as usize)?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        let known = if a.rebuild {
            vec![false; rows.len()]
        } else {
            store.learned_flags(rows.iter().map(|r| &r.id))?
        };
        read += t.elapsed();
        let n = rows.len() as u64;
        let fresh: Vec<GeoidRow> = rows
            .into_iter()
            .zip(known)
            .filter_map(|(r, k)| (!k).then_some(r))
            .collect();
        let skipped = n - fresh.len() as u64;
        report.statements += skipped;
        report.already_known += skipped;
        let base = report.statements;
        let r = learner.learn_batch(&mut graph, &fresh, |p| pb.set_position(base + p.done));
        for e in &r.errors {
            sources.push(fresh[e.index].source.clone());
        }
        report.absorb(r);
        let t = Instant::now();
        let delta = graph.take_delta();
        if !a.dry_run && !delta.is_empty() {
            written += delta.sources.len() as u64;
            store.write_graph(&delta)?;
        }
        persist += t.elapsed();
    }
    pb.finish_and_clear();

    let counts = graph.counts();
    let total_s = t0.elapsed().as_secs_f64();
    let learn_wall = report.times.wall.as_secs_f64();
    let summary = Summary {
        workers: learner.workers(),
        concepts: counts.concepts,
        associations: counts.associations,
        provenance_rows_written: written,
        seconds: Seconds {
            ingest: ingest_s,
            clear: clear_s,
            load_graph: load_s,
            read: read.as_secs_f64(),
            extract_cpu: report.times.extract.as_secs_f64(),
            graph: report.times.graph.as_secs_f64(),
            learn_wall,
            persist: persist.as_secs_f64(),
            total: total_s,
        },
        // statements learned, not those skipped as known (0 when none was learned)
        statements_per_second: if report.learned == 0 {
            0.0
        } else {
            report.learned as f64 / learn_wall.max(1e-9)
        },
        report,
    };
    store.finish_run(
        run_id,
        summary.report.errors.is_empty() && !ingest_failed,
        &serde_json::to_value(&summary)?,
    )?;

    for (e, src) in summary.report.errors.iter().zip(&sources) {
        eprintln!("error: statement {} ({src}): {}", e.id, e.message);
    }
    if g.json {
        print_json(&summary)?;
    } else if !g.quiet {
        let r = &summary.report;
        let s = &summary.seconds;
        println!(
            "learned {} statement(s) ({} already known, {} failed) with {} worker(s): \
             {} new concepts, {} new associations; graph now {} concepts, {} associations",
            r.learned,
            r.already_known,
            r.errors.len(),
            summary.workers,
            r.new_concepts,
            r.new_associations,
            summary.concepts,
            summary.associations
        );
        println!(
            "{:.0} statements/s (extraction + graph update); time: {}read {:.2} s, extract {:.2} s cpu, \
             graph {:.2} s, learn {:.2} s wall, persist {:.2} s ({} provenance rows), total {:.2} s",
            summary.statements_per_second,
            if a.rebuild && !a.dry_run {
                format!("clear {:.2} s, ", s.clear)
            } else {
                String::new()
            },
            s.read,
            s.extract_cpu,
            s.graph,
            s.learn_wall,
            s.persist,
            summary.provenance_rows_written,
            s.total
        );
        if a.dry_run {
            println!("dry run: nothing written");
        }
    }
    Ok(if summary.report.errors.is_empty() && !ingest_failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
