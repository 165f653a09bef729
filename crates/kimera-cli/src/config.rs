//! Configuration for every command: flags > environment > `kimera.toml` > defaults.
//!
//! Clap already puts a flag before an environment variable before a default. This
//! module adds the file in between, generically, before the arguments are parsed: the
//! value a file gives an option becomes that option's default. And it gives every option
//! an environment variable: `KIMERA_<OPTION>` for the options every command takes
//! (`KIMERA_DB`), `KIMERA_<COMMAND>_<OPTION>` for a command's own (`KIMERA_SERVE_ADDR`,
//! `KIMERA_RUN_WORKERS`), unless the option already names one (`KIMERA_LLM_API_KEY`).
//!
//! The file (`--config FILE`, else `$KIMERA_CONFIG`, else `./kimera.toml` when present):
//!
//! ```toml
//! db = "facts.db"            # options every command takes
//! workers = 2                # any command's option of that name...
//!
//! [serve]                    # ...unless its own table says otherwise
//! addr = "127.0.0.1:7878"
//! token_file = "tokens.txt"
//!
//! [run]
//! detectors = "model,graph"
//! min_sim = 0.55
//!
//! [llm]                      # the LLM judge's settings (kimera judge)
//! base_url = "http://127.0.0.1:8000/v1"
//! model = "gpt-4o-mini"
//! ```
//!
//! Keys are option names with `_` or `-`. A key no command knows is an error naming it,
//! not something silently ignored. Relative paths are relative to the working directory,
//! as on the command line.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Arg, ArgAction, Command};

/// Environment variable naming the configuration file.
pub const ENV_CONFIG: &str = "KIMERA_CONFIG";
/// The file read from the working directory when none is named.
pub const DEFAULT_FILE: &str = "kimera.toml";
/// The `[llm]` table's keys: the LLM judge's options.
const LLM_KEYS: &[&str] = &[
    "base_url",
    "api_key",
    "model",
    "timeout_secs",
    "max_attempts",
    "rpm",
    "tpm",
];

/// A parsed `kimera.toml`: (table, key) → value(s), the table `None` for top-level keys.
#[derive(Debug, Clone, Default)]
pub struct FileConfig {
    pub path: PathBuf,
    values: BTreeMap<(Option<String>, String), Vec<String>>,
}

/// Where an option's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env(String),
    File(String),
    Default,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag => f.write_str("flag"),
            Origin::Env(name) => write!(f, "env {name}"),
            Origin::File(at) => write!(f, "file {at}"),
            Origin::Default => f.write_str("default"),
        }
    }
}

fn key(s: &str) -> String {
    s.replace('-', "_")
}

/// The file to read: `--config FILE` among `args`, else `$KIMERA_CONFIG`, else
/// `./kimera.toml` if it exists. `Ok(None)`: no file. A file named explicitly must exist.
pub fn locate(args: &[OsString]) -> anyhow::Result<Option<PathBuf>> {
    let mut named: Option<PathBuf> = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let Some(s) = a.to_str() else { continue };
        if s == "--" {
            break;
        }
        if s == "--config" {
            named = it.next().map(PathBuf::from);
        } else if let Some(v) = s.strip_prefix("--config=") {
            named = Some(PathBuf::from(v));
        }
    }
    let named = named.or_else(|| {
        std::env::var_os(ENV_CONFIG)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    match named {
        Some(p) if p.is_file() => Ok(Some(p)),
        Some(p) => bail!("configuration file {} does not exist", p.display()),
        None => {
            let p = PathBuf::from(DEFAULT_FILE);
            Ok(p.is_file().then_some(p))
        }
    }
}

/// Reads and parses a configuration file; errors name the file (and TOML's line).
pub fn read(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration file {}", path.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("configuration file {}: {e}", path.display()))?;
    let mut values = BTreeMap::new();
    let mut put = |section: Option<&str>, k: &str, v: &toml::Value| -> anyhow::Result<()> {
        let at = || match section {
            Some(s) => format!("[{s}] {k}"),
            None => k.to_string(),
        };
        let list = match v {
            toml::Value::Array(items) => items
                .iter()
                .map(|i| scalar(i).ok_or_else(&at))
                .collect::<Result<Vec<_>, _>>(),
            other => scalar(other).map(|s| vec![s]).ok_or_else(at),
        }
        .map_err(|at| {
            anyhow::anyhow!(
                "configuration file {}: `{at}` must be a string, number or boolean (or a list of them)",
                path.display()
            )
        })?;
        values.insert((section.map(key), key(k)), list);
        Ok(())
    };
    for (k, v) in &table {
        match v {
            toml::Value::Table(t) => {
                for (k2, v2) in t {
                    if matches!(v2, toml::Value::Table(_)) {
                        bail!(
                            "configuration file {}: [{k}.{k2}]: tables go one level deep ([command] then key = value)",
                            path.display()
                        );
                    }
                    put(Some(k), k2, v2)?;
                }
            }
            other => put(None, k, other)?,
        }
    }
    Ok(FileConfig {
        path: path.to_path_buf(),
        values,
    })
}

fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Datetime(d) => Some(d.to_string()),
        _ => None,
    }
}

/// Options a file or the environment may set: those taking a value or a plain on/off
/// flag (not positional arguments, counters, help or version).
fn configurable(a: &Arg) -> bool {
    !a.is_positional()
        && matches!(
            a.get_action(),
            ArgAction::Set | ArgAction::Append | ArgAction::SetTrue | ArgAction::SetFalse
        )
        && a.get_id() != "config"
}

/// `KIMERA_<COMMAND>_<OPTION>` (or `KIMERA_<OPTION>` for the root's).
fn env_name(command: Option<&str>, id: &str) -> String {
    let mut s = String::from("KIMERA_");
    if let Some(c) = command {
        s.push_str(&c.to_ascii_uppercase().replace('-', "_"));
        s.push('_');
    }
    s.push_str(&id.to_ascii_uppercase().replace('-', "_"));
    s
}

impl FileConfig {
    /// The file's value(s) for `command`'s option `id` and where in the file it is: the
    /// command's table first, then `[llm]` (judge options), then the top level.
    fn lookup(&self, command: Option<&str>, id: &str) -> Option<(&[String], String)> {
        let id = key(id);
        if let Some(c) = command
            && let Some(v) = self.values.get(&(Some(key(c)), id.clone()))
        {
            return Some((v, format!("{} [{c}]", self.path.display())));
        }
        if command.is_some()
            && LLM_KEYS.contains(&id.as_str())
            && let Some(v) = self.values.get(&(Some("llm".into()), id.clone()))
        {
            return Some((v, format!("{} [llm]", self.path.display())));
        }
        self.values
            .get(&(None, id))
            .map(|v| (v.as_slice(), self.path.display().to_string()))
    }
}

/// Gives every configurable option its environment variable and the file's value as its
/// default, and refuses a file with keys no command knows.
pub fn apply(root: Command, file: Option<&FileConfig>) -> anyhow::Result<Command> {
    let mut root = root.mut_args(|a| {
        if !configurable(&a) {
            return a;
        }
        let mut a = a;
        if a.get_env().is_none() {
            let name = env_name(None, a.get_id().as_str());
            a = a.env(name);
        }
        if let Some(f) = file
            && let Some((v, _)) = f.lookup(None, a.get_id().as_str())
        {
            a = a.default_values(v.to_vec());
        }
        a
    });
    let names: Vec<String> = root
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in &names {
        root = root.mut_subcommand(name, |c| {
            c.mut_args(|a| {
                if !configurable(&a) || a.is_global_set() {
                    return a;
                }
                let mut a = a;
                if a.get_env().is_none() {
                    let env = env_name(Some(name), a.get_id().as_str());
                    a = a.env(env);
                }
                if let Some(f) = file
                    && let Some((v, _)) = f.lookup(Some(name), a.get_id().as_str())
                {
                    a = a.default_values(v.to_vec());
                }
                a
            })
        });
    }
    if let Some(f) = file {
        check_keys(&root, f)?;
    }
    Ok(root)
}

/// Every key of the file must set an option of some command.
fn check_keys(root: &Command, f: &FileConfig) -> anyhow::Result<()> {
    let ids = |c: &Command| -> Vec<String> {
        c.get_arguments()
            .filter(|a| configurable(a))
            .map(|a| key(a.get_id().as_str()))
            .collect()
    };
    let global = ids(root);
    for (section, k) in f.values.keys() {
        let known = match section.as_deref() {
            None => global.contains(k) || root.get_subcommands().any(|c| ids(c).contains(k)),
            Some("llm") => LLM_KEYS.contains(&k.as_str()),
            Some(s) => match root.get_subcommands().find(|c| key(c.get_name()) == s) {
                Some(c) => ids(c).contains(k) || global.contains(k),
                None => bail!(
                    "configuration file {}: [{s}] is not a command (commands: {})",
                    f.path.display(),
                    root.get_subcommands()
                        .map(|c| c.get_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        };
        if !known {
            let at = match section {
                Some(s) => format!("[{s}] {k}"),
                None => k.clone(),
            };
            let options = match section.as_deref() {
                Some("llm") => LLM_KEYS.join(", "),
                Some(s) => root
                    .get_subcommands()
                    .find(|c| key(c.get_name()) == s)
                    .map(|c| ids(c).join(", "))
                    .unwrap_or_default(),
                None => global.join(", "),
            };
            bail!(
                "configuration file {}: unknown option `{at}` (known here: {options})",
                f.path.display()
            );
        }
    }
    Ok(())
}

/// True for options whose values are secrets: shown as `(set)`.
fn secret(id: &str) -> bool {
    let id = id.to_ascii_lowercase();
    (id.contains("key") || id.contains("token") || id.contains("secret") || id.contains("password"))
        && !id.ends_with("_file")
}

/// One row of `kimera config`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Effective {
    pub option: String,
    pub value: String,
    pub origin: String,
}

/// The effective value of `command`'s option `arg` (or the root's when `command` is
/// `None`) and where it came from, given the environment and the file. `flagged`: it
/// was given on the command line (known for the root's options only).
fn effective(
    command: Option<&str>,
    arg: &Arg,
    file: Option<&FileConfig>,
    flagged: Option<String>,
) -> Effective {
    let id = arg.get_id().as_str();
    let option = match command {
        Some(c) => format!("{c}.{id}"),
        None => id.to_string(),
    };
    let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
    let from_env = env
        .as_ref()
        .and_then(|e| std::env::var(e).ok().map(|v| (e.clone(), v)));
    let builtin = || {
        arg.get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(",")
    };
    let (value, origin) = if let Some(v) = flagged {
        (v, Origin::Flag)
    } else if let Some((name, v)) = from_env {
        (v, Origin::Env(name))
    } else if let Some((v, at)) = file.and_then(|f| f.lookup(command, id)) {
        (v.join(","), Origin::File(at))
    } else {
        (builtin(), Origin::Default)
    };
    let value = if secret(id) && !value.is_empty() {
        "(set)".to_string()
    } else if value.is_empty() {
        "(none)".to_string()
    } else {
        value
    };
    Effective {
        option,
        value,
        origin: origin.to_string(),
    }
}

/// `kimera config [COMMAND]`'s rows: the options every command takes (with the flags of
/// this invocation), then the command's own — or, without a command, the options the
/// environment or the file set for any command.
pub fn report(
    root: &Command,
    matches: &clap::ArgMatches,
    file: Option<&FileConfig>,
    command: Option<&str>,
    extra: &[(&str, &str, &str)],
) -> anyhow::Result<Vec<Effective>> {
    let mut rows = Vec::new();
    rows.push(Effective {
        option: "config".into(),
        value: file.map_or("(none)".into(), |f| f.path.display().to_string()),
        origin: "--config, KIMERA_CONFIG or ./kimera.toml".into(),
    });
    for a in root.get_arguments().filter(|a| configurable(a)) {
        let id = a.get_id().as_str();
        let flagged = (matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
            .then(|| {
                matches
                    .get_raw(id)
                    .map(|vs| {
                        vs.map(|v| v.to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default()
            });
        rows.push(effective(None, a, file, flagged));
    }
    let commands: Vec<&Command> = match command {
        Some(name) => vec![
            root.find_subcommand(name)
                .ok_or_else(|| anyhow::anyhow!("no command {name:?}; see `kimera --help`"))?,
        ],
        None => root.get_subcommands().collect(),
    };
    for c in commands {
        for a in c
            .get_arguments()
            .filter(|a| configurable(a) && !a.is_global_set())
        {
            let row = effective(Some(c.get_name()), a, file, None);
            if command.is_some() || row.origin != "default" {
                rows.push(row);
            }
        }
        for (cmd, option, env) in extra {
            if *cmd == c.get_name() {
                let set = std::env::var(env).is_ok_and(|v| !v.is_empty());
                if command.is_some() || set {
                    rows.push(Effective {
                        option: format!("{cmd}.{option}"),
                        value: if set { "(set)" } else { "(none)" }.into(),
                        origin: if set {
                            format!("env {env}")
                        } else {
                            "default".into()
                        },
                    });
                }
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli() -> Command {
        Command::new("k")
            .arg(
                Arg::new("db")
                    .long("db")
                    .global(true)
                    .default_value("kimera.db"),
            )
            .subcommand(
                Command::new("serve")
                    .arg(
                        Arg::new("addr")
                            .long("addr")
                            .default_value("127.0.0.1:7878"),
                    )
                    .arg(Arg::new("workers").long("workers"))
                    .arg(Arg::new("api_key").long("api-key")),
            )
            .subcommand(
                Command::new("run")
                    .arg(Arg::new("workers").long("workers").default_value("0"))
                    .arg(Arg::new("paths").num_args(0..)),
            )
    }

    fn file(text: &str) -> (tempfile::TempDir, FileConfig) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kimera.toml");
        std::fs::write(&p, text).unwrap();
        let f = read(&p).unwrap();
        (dir, f)
    }

    #[test]
    fn a_file_sits_between_flags_and_defaults_and_tables_beat_the_top_level() {
        let (_d, f) = file("db = \"f.db\"\nworkers = 3\n[serve]\nworkers = 5\n");
        let cmd = apply(cli(), Some(&f)).unwrap();
        let m = cmd.clone().try_get_matches_from(["k", "serve"]).unwrap();
        assert_eq!(m.get_one::<String>("db").unwrap(), "f.db");
        let s = m.subcommand_matches("serve").unwrap();
        assert_eq!(s.get_one::<String>("workers").unwrap(), "5");
        assert_eq!(s.get_one::<String>("addr").unwrap(), "127.0.0.1:7878");
        let m = cmd.clone().try_get_matches_from(["k", "run"]).unwrap();
        let r = m.subcommand_matches("run").unwrap();
        assert_eq!(r.get_one::<String>("workers").unwrap(), "3");
        let m = cmd
            .try_get_matches_from(["k", "--db", "x.db", "serve", "--workers", "1"])
            .unwrap();
        assert_eq!(m.get_one::<String>("db").unwrap(), "x.db");
        let s = m.subcommand_matches("serve").unwrap();
        assert_eq!(s.get_one::<String>("workers").unwrap(), "1");
    }

    #[test]
    fn unknown_keys_and_commands_are_refused_by_name() {
        let (_d, f) = file("[serve]\nadress = \"0.0.0.0:1\"\n");
        let err = apply(cli(), Some(&f)).unwrap_err().to_string();
        assert!(
            err.contains("`[serve] adress`") && err.contains("addr"),
            "{err}"
        );
        let (_d, f) = file("[serv]\naddr = \"x\"\n");
        let err = apply(cli(), Some(&f)).unwrap_err().to_string();
        assert!(err.contains("[serv] is not a command"), "{err}");
        let (_d, f) = file("colour = 1\n");
        assert!(
            apply(cli(), Some(&f))
                .unwrap_err()
                .to_string()
                .contains("colour")
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, "db = \n").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("bad.toml"));
    }

    #[test]
    fn origins_are_reported_and_secrets_masked() {
        let (_d, f) = file("[serve]\nworkers = 4\napi_key = \"sk-live-123\"\n");
        let cmd = apply(cli(), Some(&f)).unwrap();
        let m = cmd
            .clone()
            .try_get_matches_from(["k", "--db", "x.db", "serve"])
            .unwrap();
        let rows = report(&cmd, &m, Some(&f), Some("serve"), &[]).unwrap();
        let get = |o: &str| rows.iter().find(|r| r.option == o).unwrap().clone();
        assert_eq!(
            (get("db").value.as_str(), get("db").origin.as_str()),
            ("x.db", "flag")
        );
        assert_eq!(get("serve.workers").value, "4");
        assert!(
            get("serve.workers").origin.starts_with("file ")
                && get("serve.workers").origin.ends_with("[serve]")
        );
        assert_eq!(get("serve.api_key").value, "(set)");
        assert_eq!(
            (
                get("serve.addr").value.as_str(),
                get("serve.addr").origin.as_str()
            ),
            ("127.0.0.1:7878", "default")
        );
        assert_eq!(
            cmd.find_subcommand("serve")
                .unwrap()
                .get_arguments()
                .find(|a| a.get_id() == "addr")
                .unwrap()
                .get_env()
                .unwrap(),
            "KIMERA_SERVE_ADDR"
        );
        // without a command: only what the file or the environment set
        let rows = report(&cmd, &m, Some(&f), None, &[]).unwrap();
        assert!(rows.iter().any(|r| r.option == "serve.workers"));
        assert!(!rows.iter().any(|r| r.option == "serve.addr"));
    }
}
