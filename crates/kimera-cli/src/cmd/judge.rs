//! `kimera judge`: ask an OpenAI-compatible LLM whether statements contradict, for one
//! pair or a labelled pairs file, sequentially or with bounded concurrency.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgGroup, Args};
use kimera_ingest::Format;
use kimera_llm::{
    ApiKey, ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, Judge, JudgeConfig, JudgePair, JudgeResult, Mode,
    ResponseFormat, Summary, judge_pairs,
};
use kimera_store::Store;

use crate::Global;
use crate::output::{ellipsize, print_json, print_table, progress};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["a", "pairs"])))]
pub struct JudgeArgs {
    /// First statement (with B: judge one pair).
    #[arg(requires = "b")]
    pub a: Option<String>,
    /// Second statement.
    pub b: Option<String>,
    /// A labelled pairs file (Kimera pairs CSV, SICK, JSONL pairs, linked statements).
    #[arg(long, conflicts_with = "a")]
    pub pairs: Option<PathBuf>,
    /// Force the pairs file's format instead of detecting it: pairs, sick, jsonl, linked.
    #[arg(long, short = 'f', requires = "pairs")]
    pub format: Option<Format>,
    /// Calls in flight at once; 0 (the default) judges one pair at a time ("sync" mode).
    #[arg(long = "async", value_name = "N", default_value_t = 0)]
    pub concurrency: usize,
    /// Judge only the first N pairs of the file.
    #[arg(long)]
    pub max_pairs: Option<usize>,
    /// Write one result row per pair to this CSV file (stdout then shows the summary only).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Neither read nor write the response cache in the store (every pair is asked again).
    #[arg(long)]
    pub no_cache: bool,
    /// API base URL, up to and including /v1.
    #[arg(long, env = ENV_BASE_URL, default_value = "https://api.openai.com/v1")]
    pub base_url: String,
    /// API key (sent as a bearer token; never printed or stored).
    #[arg(long, env = ENV_API_KEY, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Model name.
    #[arg(long, env = ENV_MODEL, default_value = "gpt-4o-mini")]
    pub model: String,
    /// Timeout of one HTTP attempt, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout_secs: f64,
    /// Attempts per pair, the first included.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// Retries shared by all pairs of the run (default: as many as there are pairs).
    #[arg(long)]
    pub retry_budget: Option<u64>,
    /// Client-side limit on requests per minute.
    #[arg(long)]
    pub rpm: Option<u32>,
    /// Client-side limit on tokens per minute (estimated from prompt length).
    #[arg(long)]
    pub tpm: Option<u32>,
    /// Never ask for response_format json_object (for servers that reject it).
    #[arg(long)]
    pub no_response_format: bool,
}

pub fn run(a: &JudgeArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let (pairs, bad_rows) = load_pairs(a)?;
    if !(a.timeout_secs.is_finite() && a.timeout_secs > 0.0) {
        anyhow::bail!("--timeout-secs must be a positive number of seconds");
    }
    let cfg = JudgeConfig {
        base_url: a.base_url.clone(),
        api_key: a.api_key.clone().filter(|k| !k.is_empty()).map(ApiKey::new),
        model: a.model.clone(),
        timeout: Duration::from_secs_f64(a.timeout_secs),
        max_attempts: a.max_attempts,
        retry_budget: Some(a.retry_budget.unwrap_or(pairs.len().max(10) as u64)),
        response_format: if a.no_response_format {
            ResponseFormat::Off
        } else {
            ResponseFormat::Auto
        },
        requests_per_min: a.rpm,
        tokens_per_min: a.tpm,
        ..JudgeConfig::default()
    };
    let judge = Judge::new(cfg)?;
    let mode = Mode::from_async(Some(a.concurrency));

    let mut store = if a.no_cache {
        None
    } else {
        Some(Store::open(&g.db)?)
    };
    let run_id = match store.as_mut() {
        Some(s) => Some(s.start_run("judge", &redacted_args())?),
        None => None,
    };
    let pb = progress(g, pairs.len() as u64, "judge");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (results, summary) = rt.block_on(judge_pairs(&judge, &pairs, mode, store.as_mut(), |_| {
        pb.inc(1)
    }));
    pb.finish_and_clear();
    if let Some(e) = &summary.cache_error {
        eprintln!("warning: the response cache was disabled during the run: {e}");
    }
    if let (Some(s), Some(id)) = (store.as_mut(), run_id) {
        s.finish_run(id, summary.failed == 0, &serde_json::to_value(&summary)?)?;
    }

    if let Some(out) = &a.out {
        write_csv(out, &pairs, &results)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    report(a, g, &pairs, &results, &summary, bad_rows)?;
    Ok(if summary.failed > 0 || bad_rows > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The pairs to judge and the number of unreadable rows (reported on stderr).
fn load_pairs(a: &JudgeArgs) -> anyhow::Result<(Vec<JudgePair>, usize)> {
    if let (Some(x), Some(y)) = (&a.a, &a.b) {
        return Ok((
            vec![JudgePair {
                pair_id: None,
                a: x.clone(),
                b: y.clone(),
                gold: None,
            }],
            0,
        ));
    }
    let path = a.pairs.as_deref().expect("clap requires A B or --pairs");
    let file = kimera_ingest::read_pairs(path, a.format)?;
    for e in &file.errors {
        eprintln!("skipped: {e}");
    }
    let take = a.max_pairs.unwrap_or(usize::MAX);
    let pairs = file
        .pairs
        .into_iter()
        .take(take)
        .map(|p| JudgePair {
            pair_id: p.pair_id.or_else(|| Some(format!("line {}", p.line))),
            a: p.text_a,
            b: p.text_b,
            gold: p.gold,
        })
        .collect();
    Ok((pairs, file.errors.len()))
}

/// The command line for the run record, with the value of --api-key replaced.
fn redacted_args() -> Vec<String> {
    let mut out = Vec::new();
    let mut hide_next = false;
    for arg in std::env::args().skip(1) {
        if hide_next {
            out.push("<redacted>".to_string());
            hide_next = false;
        } else if arg == "--api-key" {
            out.push(arg);
            hide_next = true;
        } else if arg.starts_with("--api-key=") {
            out.push("--api-key=<redacted>".to_string());
        } else {
            out.push(arg);
        }
    }
    out
}

const CSV_HEADER: [&str; 13] = [
    "index",
    "pair_id",
    "gold",
    "contradiction",
    "confidence",
    "reasoning",
    "parsed_from",
    "latency_ms",
    "attempts",
    "cached",
    "error",
    "text_a",
    "text_b",
];

fn write_csv(path: &Path, pairs: &[JudgePair], results: &[JudgeResult]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(CSV_HEADER)?;
    for (p, r) in pairs.iter().zip(results) {
        let v = r.verdict.as_ref();
        w.write_record([
            r.index.to_string(),
            r.pair_id.clone().unwrap_or_default(),
            r.gold.map(|g| g.as_str().to_string()).unwrap_or_default(),
            v.map(|v| v.contradiction.to_string()).unwrap_or_default(),
            v.map(|v| format!("{:.3}", v.confidence))
                .unwrap_or_default(),
            v.map(|v| v.reasoning.clone()).unwrap_or_default(),
            v.map(|v| v.parsed_from.as_str().to_string())
                .unwrap_or_default(),
            r.latency_ms.to_string(),
            r.attempts.to_string(),
            r.cached.to_string(),
            r.error.clone().unwrap_or_default(),
            p.a.clone(),
            p.b.clone(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn report(
    a: &JudgeArgs,
    g: &Global,
    pairs: &[JudgePair],
    results: &[JudgeResult],
    s: &Summary,
    bad_rows: usize,
) -> anyhow::Result<()> {
    if g.json {
        let mut v = serde_json::json!({ "summary": s, "bad_rows": bad_rows });
        if a.out.is_none() {
            v["results"] = serde_json::to_value(results)?;
        }
        return print_json(&v);
    }
    if a.out.is_none() {
        if let ([p], [r]) = (pairs, results) {
            print_one(p, r);
            return Ok(());
        }
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|r| {
                let v = r.verdict.as_ref();
                vec![
                    r.pair_id.clone().unwrap_or_else(|| r.index.to_string()),
                    r.gold.map(|g| g.as_str().to_string()).unwrap_or_default(),
                    v.map_or("-".into(), |v| {
                        if v.contradiction {
                            "contradiction"
                        } else {
                            "no"
                        }
                        .into()
                    }),
                    v.map(|v| format!("{:.2}", v.confidence))
                        .unwrap_or_default(),
                    r.latency_ms.to_string(),
                    if r.cached {
                        "cache".into()
                    } else {
                        r.attempts.to_string()
                    },
                    ellipsize(
                        r.error
                            .as_deref()
                            .or(v.map(|v| v.reasoning.as_str()))
                            .unwrap_or(""),
                        60,
                    ),
                ]
            })
            .collect();
        print_table(
            &[
                "pair",
                "gold",
                "verdict",
                "conf",
                "ms",
                "attempts",
                "reasoning / error",
            ],
            &rows,
        );
        println!();
    }
    if g.quiet {
        return Ok(());
    }
    println!(
        "mode {} (concurrency {}), model {}",
        s.mode, s.concurrency, s.model
    );
    println!(
        "pairs {}: ok {}, failed {}, from cache {}{}",
        s.pairs,
        s.ok,
        s.failed,
        s.cached,
        if bad_rows > 0 {
            format!(", {bad_rows} unreadable row(s) skipped")
        } else {
            String::new()
        }
    );
    println!(
        "attempts {} ({} retries), wall {:.2} s, {:.2} pairs/s",
        s.total_attempts,
        s.retries,
        s.wall_ms as f64 / 1000.0,
        s.pairs_per_sec
    );
    if let Some(m) = &s.metrics {
        println!(
            "vs gold (n={}): accuracy {:.3}, precision {:.3}, recall {:.3}, F1 {:.3} (tp {}, fp {}, tn {}, fn {})",
            m.n, m.accuracy, m.precision, m.recall, m.f1, m.tp, m.fp, m.tn, m.fn_
        );
    }
    if let Some(out) = &a.out {
        println!("results written to {}", out.display());
    }
    Ok(())
}

fn print_one(p: &JudgePair, r: &JudgeResult) {
    println!("A: {}", p.a);
    println!("B: {}", p.b);
    match (&r.verdict, &r.error) {
        (Some(v), _) => {
            println!(
                "verdict: {} (confidence {:.2})",
                if v.contradiction {
                    "contradiction"
                } else {
                    "no contradiction"
                },
                v.confidence
            );
            println!("reasoning: {}", v.reasoning);
        }
        (None, e) => println!("error: {}", e.as_deref().unwrap_or("no verdict")),
    }
    if r.cached {
        println!("(from the cache)");
    } else {
        println!("{} ms, {} attempt(s)", r.latency_ms, r.attempts);
    }
}
