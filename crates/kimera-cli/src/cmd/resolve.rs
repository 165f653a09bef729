//! `kimera resolve` and `kimera undo`: settle a conflict by hand, or every open one by
//! the store's strategy, each decision recorded with what it was made from.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use kimera_core::settle::{Resolution, Strategy, StrategyConfig};
use kimera_store::Store;

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
    #[command(flatten)]
    pub strategy: StrategyArgs,
    /// Show what --auto would decide without writing anything.
    #[arg(long, requires = "auto")]
    pub dry_run: bool,
}

/// The store's resolution strategy and its parameters (`kimera resolve --auto`, and
/// `kimera serve` / `kimera mcp` for automatic resolution through the API and MCP).
#[derive(Debug, Args)]
pub struct StrategyArgs {
    /// manual (nothing automatic), recency (later valid_from or recording wins),
    /// source (per-source weights), confidence (recency above --min-score), consensus
    /// (more supporting statements in the learned graph wins). Set it per store at the
    /// top of kimera.toml (`strategy = "recency"`: resolve, serve and mcp all use it).
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

impl StrategyArgs {
    /// The strategy and its parameters as the flags (or kimera.toml) give them.
    pub fn config(&self) -> anyhow::Result<StrategyConfig> {
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

pub fn run(a: &ResolveArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let mut store = Store::open(&g.db)?;
    let now = kimera_core::unix_now();
    if a.auto {
        let cfg = a.strategy.config()?;
        let r = store.auto_resolve(&cfg, a.dry_run, now)?;
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
