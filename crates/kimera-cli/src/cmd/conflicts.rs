//! `kimera conflicts`: one row per contradicting pair, every detector's verdict merged,
//! with its kind and whether (and how) it was settled.

use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use kimera_core::settle::ConflictKind;
use kimera_store::{ConflictFilter, ConflictStatus, Store};

use crate::Global;
use crate::output::{ellipsize, print_json, print_table};

#[derive(Debug, Args)]
pub struct ConflictsArgs {
    /// open, resolved or all.
    #[arg(long, default_value = "open")]
    pub status: String,
    /// Only this kind: negation, antonym, exclusive, number, date, entity_swap,
    /// graph_fact, llm, model_only.
    #[arg(long = "type", value_name = "T")]
    pub kind: Option<String>,
    /// Only pairs this detector flagged.
    #[arg(long)]
    pub detector: Option<String>,
    /// Only pairs with a statement whose source starts with this (file, folder, api).
    #[arg(long)]
    pub source: Option<String>,
    /// Most conflicts to show (0 = all).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// The filter `--status` and `--type` ask for, with a clear error for a typo.
pub fn filter(status: &str, kind: Option<&str>) -> anyhow::Result<ConflictFilter> {
    let status = match status {
        "all" => None,
        s => Some(
            ConflictStatus::parse(s)
                .ok_or_else(|| anyhow::anyhow!("--status {s:?}: expected open, resolved or all"))?,
        ),
    };
    if let Some(k) = kind
        && ConflictKind::parse(k).is_none()
    {
        let all: Vec<&str> = ConflictKind::ALL.iter().map(|k| k.as_str()).collect();
        bail!("--type {k:?}: expected one of {}", all.join(", "));
    }
    Ok(ConflictFilter {
        status,
        kind: kind.map(str::to_string),
        ..ConflictFilter::default()
    })
}

pub fn run(a: &ConflictsArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let store = Store::open(&g.db)?;
    let mut f = filter(&a.status, a.kind.as_deref())?;
    f.detector = a.detector.clone();
    f.source = a.source.clone();
    f.limit = a.limit;
    let rows = store.conflicts(&f)?;
    if g.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no {} conflicts in {}", a.status, g.db.display());
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|c| {
            let dets: Vec<&str> = c.verdicts.iter().map(|v| v.detector.as_str()).collect();
            vec![
                c.id.to_string(),
                format!("{:.2}", c.score),
                c.kind.clone(),
                dets.join(","),
                c.resolution.clone().unwrap_or_else(|| "open".into()),
                ellipsize(&c.text_a, 45),
                ellipsize(&c.text_b, 45),
                ellipsize(
                    &c.verdicts
                        .first()
                        .map(|v| crate::cmd::why(&v.evidence))
                        .unwrap_or_default(),
                    40,
                ),
            ]
        })
        .collect();
    print_table(
        &[
            "id",
            "score",
            "type",
            "detectors",
            "status",
            "statement a",
            "statement b",
            "why",
        ],
        &table,
    );
    if !g.quiet {
        let open = store.count_conflicts(Some(ConflictStatus::Open))?;
        let all = store.count_conflicts(None)?;
        eprintln!(
            "{open} open of {all} conflicts; settle one with `kimera resolve ID --keep a|b|both|neither`"
        );
    }
    Ok(ExitCode::SUCCESS)
}
