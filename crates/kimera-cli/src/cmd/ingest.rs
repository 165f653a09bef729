//! `kimera ingest`: load files and directories into the store.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use kimera_ingest::{Format, IngestOptions, IngestSummary, ingest_paths};
use kimera_store::Store;

use crate::Global;
use crate::output::{print_json, progress};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files or directories (walked recursively for .csv .tsv .jsonl .ndjson .txt .md).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Force the format instead of detecting it: statements, linked, pairs, sick, jsonl, text.
    #[arg(long, short = 'f')]
    pub format: Option<Format>,
    /// Refuse a whole file if any row is malformed (nothing of it is written).
    #[arg(long)]
    pub strict: bool,
    /// Language for rows that give none (text files, CSVs without a lang column).
    #[arg(long, default_value = "und")]
    pub lang: String,
    /// Rows per transaction. The rows reach the writer in chunks of 4,096 whatever
    /// this is, so bigger transactions cost little memory and commit less often.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// Files read and parsed at the same time (the store is written by one thread).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub max_concurrent: u64,
    /// Embed the new statements right after loading them (as `kimera embed` would).
    #[arg(long)]
    pub embed: bool,
    /// Keep every sentence of text and Markdown files. By default only claims are kept:
    /// headings, badges, link lists, code, tables, changelog and license lines, questions,
    /// instructions and fragments without a verb are skipped and counted per reason.
    #[arg(long)]
    pub keep_all: bool,
}

pub fn run(a: &IngestArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let mut store = Store::open(&g.db)?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run_id = store.start_run("ingest", &args)?;
    let summary = ingest(&mut store, a, g)?;
    store.finish_run(
        run_id,
        summary.failed_files == 0,
        &serde_json::to_value(&summary)?,
    )?;
    // with --json --embed, one JSON object holds both summaries (printed below)
    if !(a.embed && g.json) {
        report(&summary, g)?;
    }
    if a.embed {
        let enc = crate::cmd::demo::load_or_fetch_encoder(g)?;
        let pb = progress(g, 0, "embedded");
        let e = kimera_embed::embed_store(&mut store, &enc, 4096, &|done, total| {
            pb.set_length(total);
            pb.set_position(done);
        })?;
        pb.finish_and_clear();
        if g.json {
            print_json(&serde_json::json!({ "ingest": summary, "embed": e }))?;
        } else if !g.quiet {
            println!(
                "embedded {} texts ({} already cached) with {} in {:.2} s: {:.1} sentences/s",
                e.encoded, e.hits, e.model_id, e.seconds, e.texts_per_sec
            );
        }
    }
    Ok(if summary.failed_files > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs the ingest with a progress spinner; shared with `kimera demo`.
pub fn ingest(store: &mut Store, a: &IngestArgs, g: &Global) -> anyhow::Result<IngestSummary> {
    let opts = IngestOptions {
        format: a.format,
        strict: a.strict,
        batch_size: a.batch as usize,
        default_lang: a.lang.clone(),
        max_concurrent: a.max_concurrent as usize,
        keep_all: a.keep_all,
        ..Default::default()
    };
    let pb = progress(g, 0, "rows");
    let summary = ingest_paths(store, &a.paths, &opts, &|rows, _, _| pb.set_position(rows))?;
    pb.finish_and_clear();
    Ok(summary)
}

/// Prints the summary: JSON on stdout with --json, else a few lines, bad rows on stderr.
pub fn report(s: &IngestSummary, g: &Global) -> anyhow::Result<()> {
    if g.json {
        return print_json(s);
    }
    for f in &s.files {
        if let Some(why) = &f.failed {
            eprintln!("error: {}", kimera_core::printable(why));
        }
        for e in &f.errors {
            eprintln!("skipped: {e}");
        }
        if f.bad_rows > f.errors.len() as u64 {
            eprintln!(
                "skipped: {} more bad row(s) in {}",
                f.bad_rows - f.errors.len() as u64,
                f.path.display()
            );
        }
    }
    if g.quiet {
        return Ok(());
    }
    let secs = (s.elapsed_ms as f64 / 1000.0).max(1e-3);
    println!(
        "ingested {} file(s): {} rows, {} new geoids, {} duplicates, {} new pairs, {} bad rows skipped, {} file(s) failed",
        s.files.len(),
        s.rows,
        s.geoids.inserted,
        s.geoids.duplicates,
        s.pairs.inserted,
        s.bad_rows,
        s.failed_files
    );
    if let Some(line) = skipped_line(&s.skipped) {
        println!("{line}");
    }
    println!("{:.2} s, {:.0} rows/s", secs, s.rows as f64 / secs);
    Ok(())
}

/// "skipped 42 candidate(s) that are not claims: heading 12, code 30 (lines), …", or
/// `None` when nothing was skipped.
pub fn skipped_line(c: &kimera_ingest::SkipCounts) -> Option<String> {
    if c.total() == 0 {
        return None;
    }
    let parts: Vec<String> = c
        .nonzero()
        .map(|(r, n)| {
            if r.counts_lines() {
                format!("{r} {n} (lines)")
            } else {
                format!("{r} {n}")
            }
        })
        .collect();
    Some(format!(
        "skipped {} candidate(s) that are not claims (--keep-all keeps them): {}",
        c.total(),
        parts.join(", ")
    ))
}
