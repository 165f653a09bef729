//! `kimera config [COMMAND]`: the effective configuration and where each value came
//! from (see `crate::config`).

use std::process::ExitCode;

use clap::Args;

use crate::Global;
use crate::config::{FileConfig, report};
use crate::output::{print_json, print_table};

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Show every option of this command (default: the options every command takes,
    /// and those the environment or the file set for any command).
    pub command: Option<String>,
}

pub fn run(
    a: &ConfigArgs,
    g: &Global,
    root: &clap::Command,
    matches: &clap::ArgMatches,
    file: Option<&FileConfig>,
) -> anyhow::Result<ExitCode> {
    // secrets that are not options: read from the environment only
    let extra = [("serve", "api_token", crate::cmd::serve::ENV_API_TOKEN)];
    let rows = report(root, matches, file, a.command.as_deref(), &extra)?;
    if g.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| vec![r.option, r.value, r.origin])
        .collect();
    print_table(&["option", "value", "origin"], &table);
    Ok(ExitCode::SUCCESS)
}
