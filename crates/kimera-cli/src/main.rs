//! `kimera`: keep a body of knowledge consistent.
//!
//! This binary only parses arguments, wires the library crates together and prints.
//! Each subcommand lives in `cmd/<name>.rs` with one `run` entry point.

mod cmd;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Kimera finds the statements in a body of knowledge that contradict each other.
///
/// Statements ("geoids") are ingested into one SQLite file, embedded with a real
/// sentence-embedding model, and compared by a parallel reactor whose detectors record
/// each contradiction found ("scar") with an explanation.
#[derive(Debug, Parser)]
#[command(
    name = "kimera",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(after_help = "Start with `kimera demo`; see `kimera <COMMAND> --help` for each command.")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The store (an SQLite file; created if missing).
    #[arg(long, global = true, env = "KIMERA_DB", default_value = "kimera.db")]
    pub db: PathBuf,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print only errors (no progress bars, no summaries on stderr).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load statements and labelled pairs from files or directories into the store.
    ///
    /// Formats are detected from the file's extension and header: Kimera statements
    /// (text,lang), Kimera linked statements (id,lang,text,label_contradict_id), Kimera
    /// pairs (pair_id,text1,text2,label,lang,type), SICK (tab-separated), JSONL, and plain
    /// text or Markdown (one statement per sentence). Directories are walked recursively
    /// (hidden files and README/LICENSE/CHANGELOG files are skipped).
    ///
    /// A malformed row is reported with its file, line and field and skipped (counted in
    /// the summary); with --strict the whole file is refused instead. Each batch is one
    /// transaction, so an interrupted ingest loses nothing that was committed.
    ///
    /// Example: kimera ingest data/demo/ --db facts.db
    Ingest(cmd::ingest::IngestArgs),
    /// Show what the store holds: counts per table, languages, sources, scars per detector.
    ///
    /// Example: kimera stats --db facts.db --json
    Stats(cmd::stats::StatsArgs),
    /// Write geoids, pairs or scars as CSV or JSONL (to stdout or --out).
    ///
    /// Example: kimera export scars --format jsonl --out scars.jsonl
    Export(cmd::export::ExportArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version are successes; everything else is a usage error
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    output::init_logging(&cli.global);
    match try_main(cli) {
        Ok(code) => code,
        Err(err) => {
            if output::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn try_main(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match &cli.command {
        Command::Ingest(a) => cmd::ingest::run(a, g),
        Command::Stats(a) => cmd::stats::run(a, g),
        Command::Export(a) => cmd::export::run(a, g),
    }
}
