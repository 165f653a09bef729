//! `kimera resolve` and `kimera undo`: settle a conflict by hand, or every open one by
//! the store's strategy, each decision recorded with what it was made from.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use kimera_core::settle::{Resolution, Strategy, StrategyConfig, decide};
use kimera_store::{Settle, Store};

use crate::Global;
use crate::output::{ellipsize, print_json, print_table};

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The conflict to settle (see `kimera conflicts`); omit with --auto.
    #[arg(required_unless_present = "auto", conflicts_with = "auto")]
    pub id: Option<i64>,
    /// Which statement holds: a, b, both (true in different contexts or times) or
    /// neither (not a contradiction). `keep_a`, `both_valid`, `not_a_contradiction`
    /// are accepted too.
    #[arg(long, required_unless_present = "auto", value_parser = parse_keep)]
    pub keep: Option<Resolution>,
    /// Why (kept with the decision).
    #[arg(long)]
    pub note: Option<String>,
    /// Settle every open conflict by the strategy.
    #[arg(long)]
    pub auto: bool,
    /// manual (nothing automatic), recency (later valid_from or recording wins),
    /// source (per-source weights), confidence (recency above --min-score), consensus
    /// (more supporting statements in the learned graph wins). Set it per store in
    /// kimera.toml: `[resolve] strategy = "recency"`.
    #[arg(long, default_value = "manual")]
    pub strategy: Strategy,
    /// Strategy confidence: the detector score a conflict must reach.
    #[arg(long, default_value_t = 0.9)]
    pub min_score: f64,
    /// Strategy source: SOURCE=WEIGHT, repeatable (a file, a folder ending in `/`, a
    /// file name, `api`); the higher weight wins.
    #[arg(long, value_name = "SOURCE=WEIGHT")]
    pub source_weight: Vec<String>,
    /// Strategy source: the weight of sources no --source-weight names.
    #[arg(long, default_value_t = 1.0)]
    pub default_weight: f64,
    /// Show what --auto would decide without writing anything.
    #[arg(long, requires = "auto")]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The conflict whose resolution to undo: it is open again and the statement it
    /// superseded is current again.
    pub id: i64,
}

fn parse_keep(s: &str) -> Result<Resolution, String> {
    Resolution::parse(s).ok_or_else(|| format!("{s:?}: expected a, b, both or neither"))
}

impl ResolveArgs {
    /// The strategy and its parameters as the flags (or kimera.toml) give them.
    pub fn strategy_config(&self) -> anyhow::Result<StrategyConfig> {
        let mut weights = BTreeMap::new();
        for w in &self.source_weight {
            let (k, v) = w
                .rsplit_once('=')
                .with_context(|| format!("--source-weight {w:?}: expected SOURCE=WEIGHT"))?;
            let v: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .with_context(|| format!("--source-weight {w:?}: the weight is not a number"))?;
            weights.insert(k.trim().to_string(), v);
        }
        if !(0.0..=1.0).contains(&self.min_score) {
            bail!("--min-score {}: expected 0 to 1", self.min_score);
        }
        Ok(StrategyConfig {
            strategy: self.strategy,
            min_score: self.min_score,
            source_weights: weights,
            default_weight: self.default_weight,
        })
    }
}

/// What `--auto` did.
#[derive(Debug, Default, serde::Serialize)]
pub struct AutoReport {
    pub strategy: String,
    pub examined: u64,
    pub resolved: u64,
    pub left_open: u64,
    pub by_resolution: BTreeMap<String, u64>,
    pub dry_run: bool,
    /// The first decisions (at most 20), for people to check.
    pub sample: Vec<serde_json::Value>,
}

/// Decides every open conflict of `store` by `cfg`, page by page; writes each page's
/// decisions in one transaction unless `dry_run`.
pub fn auto_resolve(
    store: &mut Store,
    cfg: &StrategyConfig,
    dry_run: bool,
    now: i64,
) -> anyhow::Result<AutoReport> {
    const PAGE: usize = 10_000;
    let mut report = AutoReport {
        strategy: cfg.strategy.to_string(),
        dry_run,
        ..AutoReport::default()
    };
    let mut after = 0;
    loop {
        let mut page = store.open_conflict_facts(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.0;
        let mut settle = Vec::new();
        for (id, facts) in &mut page {
            report.examined += 1;
            if cfg.strategy == Strategy::Consensus {
                facts.a.support = Some(store.support(&facts.a.id)?);
                facts.b.support = Some(store.support(&facts.b.id)?);
            }
            let Some(d) = decide(cfg, facts) else {
                report.left_open += 1;
                continue;
            };
            *report
                .by_resolution
                .entry(d.resolution.to_string())
                .or_default() += 1;
            if report.sample.len() < 20 {
                report.sample.push(serde_json::json!({
                    "id": id, "resolution": d.resolution, "why": d.why,
                }));
            }
            let mut inputs = d.inputs;
            inputs["why"] = serde_json::json!(d.why);
            settle.push(Settle {
                conflict: *id,
                resolution: d.resolution,
                decided_by: d.decided_by,
                note: None,
                inputs: Some(inputs),
            });
        }
        report.resolved += settle.len() as u64;
        if !dry_run && !settle.is_empty() {
            store.resolve_conflicts(&settle, now)?;
        }
    }
    Ok(report)
}

pub fn run(a: &ResolveArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let mut store = Store::open(&g.db)?;
    let now = kimera_core::unix_now();
    if a.auto {
        let cfg = a.strategy_config()?;
        let r = auto_resolve(&mut store, &cfg, a.dry_run, now)?;
        if g.json {
            print_json(&r)?;
            return Ok(ExitCode::SUCCESS);
        }
        let rows: Vec<Vec<String>> = r
            .sample
            .iter()
            .map(|s| {
                vec![
                    s["id"].to_string(),
                    s["resolution"].as_str().unwrap_or("").to_string(),
                    ellipsize(s["why"].as_str().unwrap_or(""), 90),
                ]
            })
            .collect();
        if !rows.is_empty() {
            print_table(&["id", "decision", "why"], &rows);
        }
        let by: Vec<String> = r
            .by_resolution
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        println!(
            "strategy {}: {} of {} open conflicts {}{}; {} left open",
            r.strategy,
            r.resolved,
            r.examined,
            if a.dry_run {
                "would be settled"
            } else {
                "settled"
            },
            if by.is_empty() {
                String::new()
            } else {
                format!(" ({})", by.join(", "))
            },
            r.left_open
        );
        if cfg.strategy == Strategy::Manual && !g.quiet {
            eprintln!(
                "strategy manual settles nothing: pass --strategy or set `[resolve] strategy` in kimera.toml"
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(id), Some(keep)) = (a.id, a.keep) else {
        bail!("give a conflict ID and --keep a|b|both|neither, or --auto");
    };
    store.resolve_conflict(id, keep, "user", a.note.as_deref(), None, now)?;
    let c = store
        .conflict(id)?
        .with_context(|| format!("conflict {id} vanished"))?;
    if g.json {
        print_json(&c)?;
    } else {
        let superseded = match keep {
            Resolution::KeepA => format!(": superseded {}", ellipsize(&c.text_b, 70)),
            Resolution::KeepB => format!(": superseded {}", ellipsize(&c.text_a, 70)),
            _ => String::new(),
        };
        println!("conflict {id} resolved as {keep}{superseded} (undo: kimera undo {id})");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_undo(a: &UndoArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let mut store = Store::open(&g.db)?;
    store.undo_conflict(a.id, "user", kimera_core::unix_now())?;
    if g.json {
        print_json(&store.conflict(a.id)?)?;
    } else {
        println!("conflict {} is open again", a.id);
    }
    Ok(ExitCode::SUCCESS)
}
