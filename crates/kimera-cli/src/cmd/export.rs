//! `kimera export`: geoids, pairs, scars, conflicts or feedback as CSV or JSONL.
//! Statements, pairs and scars are read like every default read: superseded
//! statements (and the pairs and scars they are in) left out, or as of `--as-of`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use kimera_store::Store;

use crate::Global;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum What {
    Geoids,
    Pairs,
    Scars,
    /// One row per conflict (both statements, type, status, resolution).
    Conflicts,
    /// Resolved conflicts as labelled pairs (a Kimera pairs file: `not_a_contradiction`
    /// → neutral, the others → contradiction), for `kimera train-detector --extra`.
    Feedback,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export.
    pub what: What,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ExportFormat,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Read the store as it was at TIME: the statements recorded by then and not superseded
    /// then (geoids, pairs, scars; by default superseded statements and their pairs and
    /// scars are left out). A date (2024-03-01), a date and time (UTC unless an offset is
    /// given) or epoch seconds. Not for conflicts and feedback, the record of settling.
    #[arg(long, value_name = "TIME", value_parser = crate::cmd::parse_as_of)]
    pub as_of: Option<i64>,
    /// Every statement, superseded ones included (geoids show by what and when): the
    /// whole store, for a backup or an audit.
    #[arg(long, conflicts_with = "as_of")]
    pub all: bool,
}

pub fn run(a: &ExportArgs, g: &Global) -> anyhow::Result<ExitCode> {
    if a.as_of.is_some() && matches!(a.what, What::Conflicts | What::Feedback) {
        anyhow::bail!(
            "--as-of reads statements (geoids, pairs, scars); conflicts and feedback are \
             the record of settling and are exported whole"
        );
    }
    let store = Store::open(&g.db)?;
    let vis = if a.all {
        kimera_store::Visibility::Everything
    } else {
        crate::cmd::visibility(a.as_of)
    };
    let sink: Box<dyn Write> = match &a.out {
        Some(p) => Box::new(File::create(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let header: &[&str] = match a.what {
        What::Geoids => &[
            "id",
            "text",
            "lang",
            "source",
            "external_id",
            "label",
            "created_at",
            "valid_from",
            "valid_to",
            "superseded_by",
            "superseded_at",
        ],
        What::Conflicts => &[
            "id",
            "a",
            "b",
            "text_a",
            "text_b",
            "kind",
            "score",
            "status",
            "resolution",
            "decided_by",
            "decided_at",
            "note",
        ],
        What::Feedback => &["pair_id", "text1", "text2", "label", "lang", "type"],
        What::Pairs => &[
            "pair_id", "a", "b", "text1", "text2", "gold", "lang", "type",
        ],
        What::Scars => &[
            "a",
            "b",
            "text_a",
            "text_b",
            "score",
            "detector",
            "evidence",
            "created_at",
        ],
    };
    let mut w = RowWriter::new(a.format, BufWriter::new(sink), header)?;
    match a.what {
        What::Geoids => {
            // stream page by page; a write error (e.g. a closed pipe) stops the walk
            let mut write_err = None;
            let walk = store.for_each_geoid_at(10_000, vis, |rows| {
                for r in rows {
                    let st = store.statement_state(&r.id)?;
                    let row = w.row(serde_json::json!({
                        "id": r.id, "text": r.text, "lang": r.lang, "source": r.source,
                        "external_id": r.external_id, "label": r.label, "created_at": r.created_at,
                        "valid_from": st.as_ref().and_then(|s| s.valid_from),
                        "valid_to": st.as_ref().and_then(|s| s.valid_to),
                        // empty but with --all: a statement read is not superseded
                        // then (as of the past, a later supersession is not known yet)
                        "superseded_by": st.as_ref().filter(|_| a.as_of.is_none()).and_then(|s| s.superseded_by.clone()),
                        "superseded_at": st.as_ref().filter(|_| a.as_of.is_none()).and_then(|s| s.superseded_at),
                    }));
                    if let Err(e) = row {
                        write_err = Some(e);
                        return Err(kimera_store::StoreError::Corrupt("output closed".into()));
                    }
                }
                Ok(())
            });
            if let Some(e) = write_err {
                return Err(e.into());
            }
            walk?;
        }
        What::Pairs => {
            for p in store.labelled_pairs_at(0, vis)? {
                w.row(serde_json::json!({
                    "pair_id": p.pair_id, "a": p.a, "b": p.b, "text1": p.text_a, "text2": p.text_b,
                    "gold": p.gold, "lang": p.lang, "type": p.kind,
                }))?;
            }
        }
        What::Scars => {
            for s in store.scars_at(0, vis)? {
                w.row(serde_json::to_value(&s)?)?;
            }
        }
        What::Conflicts => {
            for c in store.conflicts(&kimera_store::ConflictFilter::default())? {
                w.row(serde_json::to_value(&c)?)?;
            }
        }
        What::Feedback => {
            for c in store.resolved_conflicts()? {
                let contradiction = c
                    .resolution
                    .as_deref()
                    .and_then(kimera_core::settle::Resolution::parse)
                    .is_none_or(|r| r.is_contradiction());
                w.row(serde_json::json!({
                    "pair_id": format!("conflict-{}", c.id),
                    "text1": c.text_a,
                    "text2": c.text_b,
                    "label": if contradiction { "contradiction" } else { "neutral" },
                    "lang": c.lang,
                    "type": c.kind,
                }))?;
            }
        }
    }
    let n = w.finish()?;
    if !g.quiet {
        eprintln!("exported {n} row(s)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes rows given as JSON objects either as JSONL or as CSV columns of `header`
/// (nested values are written as JSON text).
struct RowWriter<W: Write> {
    csv: Option<csv::Writer<W>>,
    jsonl: Option<W>,
    header: Vec<String>,
    rows: u64,
}

impl<W: Write> RowWriter<W> {
    fn new(f: ExportFormat, w: W, header: &[&str]) -> anyhow::Result<Self> {
        let header: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        Ok(match f {
            ExportFormat::Jsonl => RowWriter {
                csv: None,
                jsonl: Some(w),
                header,
                rows: 0,
            },
            ExportFormat::Csv => {
                let mut c = csv::Writer::from_writer(w);
                c.write_record(&header)?;
                RowWriter {
                    csv: Some(c),
                    jsonl: None,
                    header,
                    rows: 0,
                }
            }
        })
    }

    fn row(&mut self, v: serde_json::Value) -> std::io::Result<()> {
        self.rows += 1;
        if let Some(w) = &mut self.jsonl {
            serde_json::to_writer(&mut *w, &v)?;
            return w.write_all(b"\n");
        }
        let cells: Vec<String> = self
            .header
            .iter()
            .map(|k| match &v[k.as_str()] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        self.csv
            .as_mut()
            .expect("csv or jsonl")
            .write_record(&cells)
            .map_err(|e| match e.into_kind() {
                csv::ErrorKind::Io(io) => io,
                other => std::io::Error::other(format!("{other:?}")),
            })
    }

    fn finish(self) -> anyhow::Result<u64> {
        if let Some(mut w) = self.jsonl {
            w.flush()?;
        }
        if let Some(mut c) = self.csv {
            c.flush()?;
        }
        Ok(self.rows)
    }
}
