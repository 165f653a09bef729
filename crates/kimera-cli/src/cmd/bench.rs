//! `kimera bench`: score labelled pairs with several detectors and report which is
//! better, with statistics and plots (the heavy lifting is in kimera-bench).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use kimera_bench::{DetectorOutput, PairMeta, ReportOptions, ResultsWriter, run_report};
use kimera_embed::Encoder;
use kimera_ingest::{Format, PairRecord, read_pairs};
use kimera_reactor::PairInput;
use kimera_store::Store;
use rayon::prelude::*;

use crate::Global;
use crate::output::{print_json, print_table, progress};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    /// Labelled pairs: Kimera pairs CSV, SICK (CONTRADICTION is the positive class), JSONL
    /// pairs, or linked statements.
    #[arg(long, required = true)]
    pub dataset: Option<PathBuf>,
    /// Force the dataset's format instead of detecting it.
    #[arg(long)]
    pub format: Option<Format>,
    /// Detectors to compare: baseline, lexical, model, llm (the LLM judge, configured by
    /// KIMERA_LLM_BASE_URL / KIMERA_LLM_API_KEY / KIMERA_LLM_MODEL).
    #[arg(long, default_value = "baseline,lexical,model")]
    pub detectors: String,
    /// Only the original Kimera detector (same as --detectors baseline).
    #[arg(long, conflicts_with = "detectors")]
    pub kimera_only: bool,
    /// Use the first N pairs of the dataset (0 = all).
    #[arg(long, default_value_t = 0)]
    pub max_pairs: usize,
    /// Threads for the offline detectors and the statistics (default: all cores).
    #[arg(long, visible_alias = "mp")]
    pub workers: Option<usize>,
    /// Concurrent LLM requests (0 = one at a time).
    #[arg(long = "async", default_value_t = 8)]
    pub concurrency: usize,
    /// Output folder for results.csv, summary.json, report.md and the plots.
    #[arg(long, default_value = "bench-out")]
    pub out: PathBuf,
    /// Continue an interrupted run in --out: pairs already scored are not redone.
    #[arg(long)]
    pub resume: bool,
    /// Skip the PNG plots.
    #[arg(long)]
    pub no_plots: bool,
    /// Seed of the bootstrap confidence intervals.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Numeric precision of the sentence vectors (f32 or int8; part of the cache key).
    #[arg(long, default_value = "f32")]
    pub precision: kimera_embed::Precision,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Real prose: ingest a folder of documents with planted contradictions into a fresh
    /// store, run the reactor as `kimera run` does, and report the planted pairs found
    /// and the false flags per 1,000 statements.
    ///
    /// The folder is what scripts/prose-corpus.py writes: .md/.txt documents and
    /// planted.jsonl, one planted pair per line ({"file", "kind", "original", "edited"}).
    ///
    /// Example: scripts/prose-corpus.py cargo /tmp/readmes && kimera bench prose --docs /tmp/readmes
    Prose(crate::cmd::bench_prose::ProseArgs),
}

pub fn run(a: &BenchArgs, g: &Global) -> anyhow::Result<ExitCode> {
    if let Some(BenchCommand::Prose(p)) = &a.command {
        return crate::cmd::bench_prose::run(p, g);
    }
    let dataset = a.dataset.as_ref().context("--dataset is required")?;
    let file = read_pairs(dataset, a.format)?;
    for e in file.errors.iter().take(5) {
        eprintln!("skipped: {e}");
    }
    let mut pairs: Vec<PairRecord> = file
        .pairs
        .into_iter()
        .filter(|p| p.gold.is_some())
        .collect();
    anyhow::ensure!(
        !pairs.is_empty(),
        "{}: no pair has a gold label",
        dataset.display()
    );
    if a.max_pairs > 0 {
        pairs.truncate(a.max_pairs);
    }
    let metas = pair_metas(&pairs);
    let names: Vec<String> = if a.kimera_only {
        vec!["baseline".into()]
    } else {
        a.detectors
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    anyhow::ensure!(!names.is_empty(), "no detector given");

    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let results = a.out.join("results.csv");
    let (mut writer, done) = if a.resume && results.is_file() {
        ResultsWriter::resume(&results)?
    } else {
        (
            ResultsWriter::create(&results)?,
            kimera_bench::ResumeState::default(),
        )
    };
    let todo = |det: &str| -> Vec<usize> {
        (0..pairs.len())
            .filter(|&i| !done.is_done(&metas[i].key, det))
            .collect()
    };
    let workers = a.workers.unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()?;

    // Offline detectors share the sentence vectors, cached in the store.
    let offline: Vec<&String> = names.iter().filter(|n| n.as_str() != "llm").collect();
    let need_vectors = offline.iter().any(|n| !todo(n).is_empty());
    let mut vectors: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
    if need_vectors {
        let enc = crate::cmd::demo::load_or_fetch_encoder_at(g, a.precision)?;
        let mut store = Store::open(&g.db)?;
        let pb = progress(g, pairs.len() as u64, "embedded");
        for chunk in pairs.chunks(512) {
            let texts: Vec<&str> = chunk
                .iter()
                .flat_map(|p| [p.text_a.as_str(), p.text_b.as_str()])
                .collect();
            let (vecs, _) =
                kimera_embed::embed_texts_cached(&mut store, &enc as &dyn Encoder, &texts)?;
            let mut it = vecs.into_iter();
            while let (Some(u), Some(v)) = (it.next(), it.next()) {
                vectors.push((u, v));
            }
            pb.inc(chunk.len() as u64);
        }
        pb.finish_and_clear();
    }

    // Pairs per second of each offline detector scored in this run, vectors already in
    // memory (what the reactor sees): wall time of its scoring loop, model load excluded.
    let mut throughput: std::collections::HashMap<String, f64> = Default::default();
    for name in &offline {
        let idx = todo(name);
        if idx.is_empty() {
            continue;
        }
        let det = crate::cmd::detector(name)?;
        let pb = progress(g, idx.len() as u64, name);
        let started = Instant::now();
        let mut busy = 0f64;
        // Blocks and batches as the reactor cuts them (its default chunk, `sub_chunk`),
        // so pairs/s is what a `kimera run` sees; each batch's time is shared by its pairs.
        let chunk = kimera_reactor::RunConfig::default().chunk;
        let workers = pool.current_num_threads();
        for block in idx.chunks(chunk) {
            let t_block = Instant::now();
            let sub = kimera_reactor::sub_chunk(chunk, block.len(), workers);
            let scored: Vec<(usize, kimera_reactor::Verdict, f64)> = pool.install(|| {
                block
                    .par_chunks(sub)
                    .flat_map_iter(|batch| {
                        let inputs: Vec<PairInput<'_>> = batch
                            .iter()
                            .map(|&i| pair_input(&pairs[i], &vectors[i]))
                            .collect();
                        let t = Instant::now();
                        let verdicts = det.score_batch(&inputs);
                        let ms = t.elapsed().as_secs_f64() * 1e3 / batch.len() as f64;
                        batch
                            .iter()
                            .copied()
                            .zip(verdicts)
                            .map(move |(i, v)| (i, v, ms))
                            .collect::<Vec<_>>()
                    })
                    .collect()
            });
            busy += t_block.elapsed().as_secs_f64();
            for (i, v, ms) in scored {
                writer.write(&DetectorOutput::scored(
                    metas[i].clone(),
                    name.as_str(),
                    f64::from(v.score),
                    v.contradiction,
                    ms,
                ))?;
            }
            writer.flush()?;
            pb.inc(block.len() as u64);
        }
        pb.finish_and_clear();
        tracing::debug!(
            "{name}: scored {} pairs in {:.3}s ({:.3}s scoring)",
            idx.len(),
            started.elapsed().as_secs_f64(),
            busy
        );
        throughput.insert(name.to_string(), idx.len() as f64 / busy.max(1e-9));
    }

    if names.iter().any(|n| n == "llm") {
        let idx = todo("llm");
        if !idx.is_empty() {
            judge_with_llm(a, g, &pairs, &metas, &idx, &mut writer)?;
        }
    }
    drop(writer);

    let outputs = kimera_bench::read_results(&results)?;
    let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
    let keys: HashSet<&str> = metas.iter().map(|m| m.key.as_str()).collect();
    let outputs: Vec<DetectorOutput> = outputs
        .into_iter()
        .filter(|o| wanted.contains(o.detector.as_str()) && keys.contains(o.pair.key.as_str()))
        .collect();
    let mut opts = ReportOptions {
        dataset: dataset
            .file_name()
            .map(|f| f.to_string_lossy().into_owned()),
        plots: !a.no_plots,
        ..Default::default()
    };
    opts.bootstrap.seed = a.seed;
    let summary = pool.install(|| run_report(&outputs, &a.out, &opts))?;
    if g.json {
        let mut v = serde_json::to_value(&summary)?;
        v["pairs_per_sec"] = serde_json::json!(throughput);
        print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = summary
        .detectors
        .iter()
        .map(|d| {
            let ci = |f: fn(&kimera_bench::stats::BootstrapCis) -> (f64, f64)| {
                d.ci.as_ref()
                    .map(|c| {
                        let (lo, hi) = f(c);
                        format!(" [{lo:.3}, {hi:.3}]")
                    })
                    .unwrap_or_default()
            };
            vec![
                d.name.clone(),
                d.n_scored.to_string(),
                d.n_errors.to_string(),
                format!("{:.3}", d.precision),
                format!("{:.3}", d.recall),
                format!("{:.3}{}", d.f1, ci(|c| (c.f1.low, c.f1.high))),
                format!("{:.3}", d.accuracy),
                d.auc
                    .map(|x| format!("{x:.3}"))
                    .unwrap_or_else(|| "-".into()),
                d.latency_ms
                    .as_ref()
                    .map(|l| format!("{:.3}", l.p50))
                    .unwrap_or_else(|| "-".into()),
                throughput
                    .get(&d.name)
                    .map(|t| format!("{t:.0}"))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print_table(
        &[
            "detector",
            "pairs",
            "errors",
            "precision",
            "recall",
            "F1 [95% CI]",
            "accuracy",
            "AUC",
            "p50 ms",
            "pairs/s",
        ],
        &rows,
    );
    println!(
        "\npairs/s: offline detectors scored in this run on {} thread(s), vectors in memory \
         (\"-\": resumed or LLM)",
        pool.current_num_threads()
    );
    println!("report: {}", a.out.join("report.md").display());
    Ok(ExitCode::SUCCESS)
}

/// Pair keys for results.csv: the dataset's pair id, made unique with the line number.
fn pair_metas(pairs: &[PairRecord]) -> Vec<PairMeta> {
    let mut seen = HashSet::new();
    pairs
        .iter()
        .map(|p| {
            let mut key = p
                .pair_id
                .clone()
                .unwrap_or_else(|| format!("line{}", p.line));
            if !seen.insert(key.clone()) {
                key = format!("{key}@{}", p.line);
                seen.insert(key.clone());
            }
            PairMeta {
                key,
                gold: p.gold.is_some_and(|g| g.is_contradiction()),
                lang: Some(p.lang.clone()),
                kind: p.kind.clone(),
                len_a: p.text_a.chars().count() as u32,
                len_b: p.text_b.chars().count() as u32,
            }
        })
        .collect()
}

fn pair_input<'a>(p: &'a PairRecord, v: &'a (Vec<f32>, Vec<f32>)) -> PairInput<'a> {
    let cos = kimera_core::cosine(&v.0, &v.1);
    PairInput {
        a_id: "a",
        b_id: "b",
        a_text: &p.text_a,
        b_text: &p.text_b,
        a_lang: &p.lang,
        b_lang: &p.lang,
        a_vec: &v.0,
        b_vec: &v.1,
        cosine: cos,
        // no scars between benchmark pairs: resonance is the cosine
        resonance: cos,
        a_doc: "",
        b_doc: "",
    }
}

/// Asks the LLM judge about the pairs at `idx` (through the response cache) and writes a
/// row per pair; failures are rows too, never dropped.
fn judge_with_llm(
    a: &BenchArgs,
    g: &Global,
    pairs: &[PairRecord],
    metas: &[PairMeta],
    idx: &[usize],
    writer: &mut ResultsWriter,
) -> anyhow::Result<()> {
    let judge = kimera_llm::Judge::new(kimera_llm::JudgeConfig::from_env())?;
    let jp: Vec<kimera_llm::JudgePair> = idx
        .iter()
        .map(|&i| kimera_llm::JudgePair {
            pair_id: Some(metas[i].key.clone()),
            a: pairs[i].text_a.clone(),
            b: pairs[i].text_b.clone(),
            gold: pairs[i].gold,
        })
        .collect();
    let mut store = Store::open(&g.db)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let pb = progress(g, jp.len() as u64, "llm");
    let mode = kimera_llm::Mode::from_async(Some(a.concurrency));
    let (results, summary) = rt.block_on(kimera_llm::judge_pairs(
        &judge,
        &jp,
        mode,
        Some(&mut store),
        |_| pb.inc(1),
    ));
    pb.finish_and_clear();
    for r in &results {
        let meta = metas[idx[r.index]].clone();
        let out = match (&r.verdict, &r.error) {
            (Some(v), _) => {
                // confidence is about the verdict; as a score, P(contradiction)
                let p = if v.contradiction {
                    v.confidence
                } else {
                    1.0 - v.confidence
                };
                DetectorOutput::scored(
                    meta,
                    "llm",
                    f64::from(p),
                    v.contradiction,
                    r.latency_ms as f64,
                )
            }
            (None, e) => DetectorOutput::failed(
                meta,
                "llm",
                e.clone().unwrap_or_else(|| "no verdict".into()),
                r.latency_ms as f64,
            ),
        };
        writer.write(&out)?;
    }
    writer.flush()?;
    if !g.quiet {
        eprintln!(
            "llm: {} ok, {} failed, {} attempts, {:.1} pairs/s ({} mode, concurrency {})",
            summary.ok,
            summary.failed,
            summary.total_attempts,
            summary.pairs_per_sec,
            summary.mode,
            summary.concurrency
        );
    }
    Ok(())
}
