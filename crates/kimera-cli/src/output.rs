//! Printing helpers shared by the commands: logging set-up, progress bars, tables.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::Global;

/// Logs go to stderr through `tracing`, as text or JSON lines (`--log-format`);
/// `RUST_LOG` wins over -v/-q. `chatty`: info by default (the server's request log).
pub fn init_logging(g: &Global, chatty: bool) {
    let level = match (g.quiet, g.verbose + u8::from(chatty)) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match g.log_format {
        crate::LogFormat::Text => fmt.try_init(),
        crate::LogFormat::Json => fmt.json().flatten_event(true).try_init(),
    };
}

/// A progress bar on stderr when it is a terminal and not --quiet; hidden otherwise.
/// `len` 0 gives a spinner.
pub fn progress(g: &Global, len: u64, what: &str) -> ProgressBar {
    if g.quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = if len == 0 {
        ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} {pos} {per_sec} [{elapsed_precise}]")
                .expect("valid template"),
        )
    } else {
        ProgressBar::new(len).with_style(
            ProgressStyle::with_template(
                "{msg:>10} [{bar:40}] {pos}/{len} {per_sec} eta {eta} [{elapsed_precise}]",
            )
            .expect("valid template")
            .progress_chars("=> "),
        )
    };
    pb.set_message(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Prints a plain text table: a header row and rows, columns padded to width.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let pad = widths[i].saturating_sub(c.chars().count());
            s.push_str(c);
            if i + 1 < cells.len() {
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        println!("{s}");
    };
    line(headers.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

/// Shortens `s` to at most `n` characters, marking the cut with `…`.
pub fn ellipsize(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// True when the error chain ends in a broken pipe (e.g. `kimera export | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error as one line, as `main` prints it: each message of the chain once (a
/// library error that already quotes its cause is not followed by that cause again;
/// SQLite's errors read as kimera explains them), printable only (see
/// [`kimera_core::printable`]).
pub fn error_text(err: &anyhow::Error) -> String {
    kimera_store::error_text(err.as_ref())
}
