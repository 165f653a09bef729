//! Streaming record readers, one per format.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use kimera_core::{Geoid, GoldLabel, Source};
use serde_json::Value;

use crate::clean::SkipCounts;
use crate::format::Format;
use crate::statement::trunc;
use crate::{IngestError, MAX_FIELD_BYTES, RowError, text};

/// One unit of input.
// A file yields one variant (almost) throughout, so boxing the larger one would add an
// allocation per pair row without making a batch of pairs smaller.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A statement.
    Statement(Geoid),
    /// A statement of the linked format, with the id of the statement it contradicts.
    Linked {
        geoid: Geoid,
        contradicts: Option<String>,
    },
    /// A labelled pair: both statements become geoids.
    Pair {
        a: Geoid,
        b: Geoid,
        pair_id: Option<String>,
        gold: Option<GoldLabel>,
        lang: String,
        kind: Option<String>,
        line: u64,
    },
}

/// A labelled pair as read from a file, for the judge and the benchmark.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PairRecord {
    pub pair_id: Option<String>,
    pub text_a: String,
    pub text_b: String,
    pub gold: Option<GoldLabel>,
    pub lang: String,
    pub kind: Option<String>,
    pub line: u64,
}

/// Every pair of a file, and the rows that could not be read.
#[derive(Debug, Clone, Default)]
pub struct PairsFile {
    pub pairs: Vec<PairRecord>,
    pub errors: Vec<RowError>,
}

/// Reads the labelled pairs of a file (Kimera pairs, SICK, JSONL pairs, or linked
/// statements, whose links become contradiction pairs). Bad rows are returned in
/// `errors`; a file with no pairs at all is an error.
pub fn read_pairs(path: &Path, format: Option<Format>) -> Result<PairsFile, IngestError> {
    let format = match format {
        Some(f) => f,
        None => crate::detect_format(path)?,
    };
    let mut out = PairsFile::default();
    let mut linked: Vec<(Geoid, String)> = Vec::new();
    let mut by_id = std::collections::HashMap::new();
    read_records(path, format, "und", &mut |r| {
        match r {
            Ok(Record::Pair {
                a,
                b,
                pair_id,
                gold,
                lang,
                kind,
                line,
            }) => out.pairs.push(PairRecord {
                pair_id,
                text_a: a.text,
                text_b: b.text,
                gold,
                lang,
                kind,
                line,
            }),
            Ok(Record::Linked { geoid, contradicts }) => {
                by_id.insert(geoid.id.clone(), geoid.text.clone());
                if let Some(c) = contradicts {
                    linked.push((geoid, c));
                }
            }
            Ok(Record::Statement(_)) => {}
            Err(e) => out.errors.push(e),
        }
        Ok(())
    })?;
    for (g, other) in linked {
        // each link is listed from both sides; keep it once
        let other_id = kimera_core::GeoidId(other);
        if g.id > other_id && by_id.contains_key(&other_id) {
            continue;
        }
        if let Some(text_b) = by_id.get(&other_id) {
            let line = match &g.source {
                Source::File { line, .. } => *line,
                Source::Api | Source::Client(_) => 0,
            };
            out.pairs.push(PairRecord {
                pair_id: Some(format!("{}|{}", g.id, other_id)),
                text_a: g.text,
                text_b: text_b.clone(),
                gold: Some(GoldLabel::Contradiction),
                lang: g.lang,
                kind: Some("contradiction".into()),
                line,
            });
        }
    }
    if out.pairs.is_empty() {
        return Err(IngestError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "no labelled pairs found (format {format}; {} bad row(s))",
                out.errors.len()
            ),
        });
    }
    Ok(out)
}

type Sink<'a> = dyn FnMut(Result<Record, RowError>) -> Result<(), IngestError> + 'a;

/// How records are read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Language of rows that give none (text files, CSVs without `lang`).
    pub default_lang: String,
    /// Keep every sentence of text and Markdown files instead of the claims only
    /// (see [`crate::clean`]).
    pub keep_all: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            default_lang: "und".into(),
            keep_all: false,
        }
    }
}

/// What reading a file gave besides its records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Rows read, good and bad (for text files: the sentences kept, and bad lines).
    pub rows: u64,
    /// Candidates of text and Markdown files the cleaner skipped, per reason.
    pub skipped: SkipCounts,
}

/// Streams the records of `path` in `format` into `sink`, one at a time. Returns the
/// number of rows read (good and bad). `default_lang` is used where a row gives none.
/// Text and Markdown are cleaned (claims only); see [`read_records_with`].
pub fn read_records(
    path: &Path,
    format: Format,
    default_lang: &str,
    sink: &mut Sink<'_>,
) -> Result<u64, IngestError> {
    let opts = ReadOptions {
        default_lang: default_lang.to_string(),
        ..Default::default()
    };
    Ok(read_records_with(path, format, &opts, sink)?.rows)
}

/// [`read_records`] with options, returning the rows read and what the cleaner skipped.
pub fn read_records_with(
    path: &Path,
    format: Format,
    opts: &ReadOptions,
    sink: &mut Sink<'_>,
) -> Result<ReadStats, IngestError> {
    let meta = std::fs::metadata(path).map_err(|e| IngestError::io(path, e))?;
    if meta.len() == 0 {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    read_from(
        path,
        format,
        opts,
        BufReader::with_capacity(256 * 1024, file),
        sink,
    )
}

/// [`read_records`] on bytes already in memory (a request body, a fuzzing case):
/// the same readers, with `name` standing for the file in records and errors. Text
/// and Markdown are cleaned (claims only); see [`read_records_from_bytes_with`].
pub fn read_records_from_bytes(
    name: &Path,
    format: Format,
    default_lang: &str,
    bytes: &[u8],
    sink: &mut Sink<'_>,
) -> Result<u64, IngestError> {
    let opts = ReadOptions {
        default_lang: default_lang.to_string(),
        ..Default::default()
    };
    Ok(read_records_from_bytes_with(name, format, &opts, bytes, sink)?.rows)
}

/// [`read_records_from_bytes`] with options, returning the rows read and what the
/// cleaner skipped.
pub fn read_records_from_bytes_with(
    name: &Path,
    format: Format,
    opts: &ReadOptions,
    bytes: &[u8],
    sink: &mut Sink<'_>,
) -> Result<ReadStats, IngestError> {
    if bytes.is_empty() {
        return Err(IngestError::Empty {
            path: name.to_path_buf(),
        });
    }
    read_from(name, format, opts, bytes, sink)
}

fn read_from(
    path: &Path,
    format: Format,
    opts: &ReadOptions,
    reader: impl BufRead,
    sink: &mut Sink<'_>,
) -> Result<ReadStats, IngestError> {
    let default_lang = opts.default_lang.as_str();
    let mut reader = reader;
    if let Some(message) = binary(&mut reader) {
        return Err(IngestError::Invalid {
            path: path.to_path_buf(),
            message,
        });
    }
    let ctx = Ctx {
        path: path.to_path_buf(),
        source_path: path.display().to_string(),
        default_lang: default_lang.to_string(),
    };
    let rows = |rows| ReadStats {
        rows,
        ..Default::default()
    };
    match format {
        Format::Jsonl => read_jsonl(&ctx, reader, sink).map(rows),
        Format::Text => read_text(&ctx, reader, opts.keep_all, sink),
        _ => read_delimited(&ctx, format, reader, sink).map(rows),
    }
}

/// Says why the start of the input is not text, like grep and ripgrep: a NUL byte in
/// its first 8 KiB (binary data, or UTF-16 text). Such a file is refused whole rather
/// than read as rows of garbage.
fn binary(reader: &mut impl BufRead) -> Option<String> {
    let head = reader.fill_buf().ok()?;
    let head = &head[..head.len().min(8192)];
    let at = memchr_nul(head)?;
    let line = 1 + head[..at].iter().filter(|&&b| b == b'\n').count();
    Some(format!(
        "not a text file: a NUL byte at line {line} (byte {at}); kimera reads UTF-8 CSV, TSV, \
         JSONL, text and Markdown (binary data? UTF-16 text? save it as UTF-8)"
    ))
}

fn memchr_nul(b: &[u8]) -> Option<usize> {
    b.iter().position(|&x| x == 0)
}

struct Ctx {
    path: PathBuf,
    source_path: String,
    default_lang: String,
}

impl Ctx {
    fn err(&self, line: u64, field: Option<&str>, message: impl Into<String>) -> RowError {
        RowError {
            path: self.path.clone(),
            line,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    fn source(&self, line: u64) -> Source {
        Source::File {
            path: self.source_path.clone(),
            line,
        }
    }

    /// Validates a statement's text: present, not blank, not huge.
    fn text(&self, line: u64, field: &str, raw: Option<&str>) -> Result<String, RowError> {
        let raw = raw.ok_or_else(|| self.err(line, Some(field), "missing"))?;
        crate::statement::clean_text(raw)
            .map(str::to_string)
            .map_err(|why| self.err(line, Some(field), why))
    }

    /// Validates an id (`id`, `label_contradict_id`, `pair_id`): at most 256 bytes and
    /// on one line — an id holding a line break is the rest of the file taken into it
    /// by a quote left open (found by fuzzing).
    fn id<'s>(&self, line: u64, field: &str, id: &'s str) -> Result<&'s str, RowError> {
        if id.len() > 256 {
            return Err(self.err(line, Some(field), "id longer than 256 bytes"));
        }
        if id.chars().any(char::is_control) {
            return Err(self.err(
                line,
                Some(field),
                format!(
                    "`{}` is not an id: it holds a line break or control character (a quote left open?)",
                    trunc(id, 40)
                ),
            ));
        }
        Ok(id)
    }

    /// Reads an optional time (`valid_from`, `valid_to`): empty is none; otherwise a
    /// date, a date and time or epoch seconds ([`kimera_core::parse_time`]).
    fn time(&self, line: u64, field: &str, raw: Option<&str>) -> Result<Option<i64>, RowError> {
        let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        kimera_core::parse_time(raw).map(Some).ok_or_else(|| {
            self.err(
                line,
                Some(field),
                format!(
                    "`{}` is not a time (2024-03-01, 2024-03-01T12:00:00Z or epoch seconds)",
                    trunc(raw, 40)
                ),
            )
        })
    }

    /// A statement's validity, checked: `valid_to` after `valid_from`.
    fn validity(
        &self,
        line: u64,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<(Option<i64>, Option<i64>), RowError> {
        self.validity_named(line, ("valid_from", from), ("valid_to", to))
    }

    /// [`Ctx::validity`] from fields of these names (errors name them).
    fn validity_named(
        &self,
        line: u64,
        (from_name, from): (&str, Option<&str>),
        (to_name, to): (&str, Option<&str>),
    ) -> Result<(Option<i64>, Option<i64>), RowError> {
        let (f, t) = (
            self.time(line, from_name, from)?,
            self.time(line, to_name, to)?,
        );
        if let (Some(f), Some(t)) = (f, t)
            && t <= f
        {
            return Err(self.err(line, Some(to_name), format!("not after {from_name}")));
        }
        Ok((f, t))
    }

    /// The validity of a pair's statement `side` (1 or 2): its own `valid_from1` /
    /// `valid_to1` (`…2`), each falling back to the shared `valid_from` / `valid_to`
    /// when empty or absent. `get` reads a field by name.
    fn pair_validity(
        &self,
        line: u64,
        side: u8,
        get: &dyn Fn(&str) -> Result<Option<String>, RowError>,
    ) -> Result<(Option<i64>, Option<i64>), RowError> {
        let pick = |shared: &'static str| -> Result<(String, Option<String>), RowError> {
            let own = format!("{shared}{side}");
            match get(&own)?.filter(|v| !v.trim().is_empty()) {
                Some(v) => Ok((own, Some(v))),
                None => Ok((shared.to_string(), get(shared)?)),
            }
        };
        let (fname, from) = pick("valid_from")?;
        let (tname, to) = pick("valid_to")?;
        self.validity_named(line, (&fname, from.as_deref()), (&tname, to.as_deref()))
    }

    /// Validates a language code; empty means the default.
    fn lang(&self, line: u64, field: &str, raw: Option<&str>) -> Result<String, RowError> {
        match crate::statement::clean_lang(raw.unwrap_or("")) {
            Ok(l) => Ok(l.unwrap_or_else(|| self.default_lang.clone())),
            Err(why) => Err(self.err(line, Some(field), why)),
        }
    }
}

fn opt(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Column positions of a delimited file.
struct Columns {
    names: Vec<String>,
}

impl Columns {
    fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name))
    }
}

fn read_delimited(
    ctx: &Ctx,
    format: Format,
    reader: impl Read,
    sink: &mut Sink<'_>,
) -> Result<u64, IngestError> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(if format == Format::Sick { b'\t' } else { b',' })
        .quoting(format != Format::Sick)
        .flexible(true)
        .has_headers(true)
        .from_reader(Tail::new(reader));
    let headers = rdr.byte_headers().map_err(|e| IngestError::Invalid {
        path: ctx.path.clone(),
        message: format!("cannot read the header: {e}"),
    })?;
    let names: Vec<String> = headers
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim()
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .collect();
    if names.iter().all(|n| n.is_empty()) {
        return Err(IngestError::Empty {
            path: ctx.path.clone(),
        });
    }
    // A header with a line break or a control character in a name is damaged (an
    // unclosed quote runs into the rows; a binary file): refused, so that no row is
    // taken for a header. Names are short words; a very long one is a row.
    if let Some(bad) = names
        .iter()
        .find(|n| n.chars().any(char::is_control) || n.len() > 100)
    {
        return Err(IngestError::Invalid {
            path: ctx.path.clone(),
            message: format!(
                "the header has `{}` for a column name: a damaged header (an unclosed quote? \
                 no header line?); the first line must name the columns, e.g. `text,lang`",
                kimera_core::printable(&trunc(bad, 60))
            ),
        });
    }
    let cols = Columns { names };
    let missing: Vec<&str> = format
        .required_columns()
        .iter()
        .copied()
        .filter(|c| cols.find(c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns {
            path: ctx.path.clone(),
            format,
            missing: missing.join(", "),
            // the header may be anything (a binary file): a printable excerpt of it
            found: kimera_core::printable(&trunc(&cols.names.join(", "), 200)).into_owned(),
        });
    }
    let idx = |n: &str| cols.find(n);
    let (c_from, c_to) = (idx("valid_from"), idx("valid_to"));
    let (c_text, c_lang, c_id, c_link) = (
        idx("text"),
        idx("lang"),
        idx("id"),
        idx("label_contradict_id"),
    );
    let (c_t1, c_t2, c_label, c_type, c_pid) = match format {
        Format::Sick => (
            idx("sentence_A"),
            idx("sentence_B"),
            idx("entailment_label"),
            None,
            idx("pair_ID"),
        ),
        _ => (
            idx("text1"),
            idx("text2"),
            idx("label"),
            idx("type"),
            idx("pair_id"),
        ),
    };

    let mut rec = csv::ByteRecord::new();
    let mut rows = 0u64;
    loop {
        let line = rdr.position().line().max(2);
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                rows += 1;
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                sink(Err(ctx.err(line, None, format!("malformed row: {e}"))))?;
                continue;
            }
        }
        rows += 1;
        let line = first_line(&rdr, &rec).unwrap_or(line);
        if rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            rows -= 1; // blank line
            continue;
        }
        let out = parse_row(
            ctx,
            format,
            &rec,
            &cols,
            line,
            Cols {
                text: c_text,
                lang: c_lang,
                id: c_id,
                link: c_link,
                t1: c_t1,
                t2: c_t2,
                label: c_label,
                kind: c_type,
                pair_id: c_pid,
                valid_from: c_from,
                valid_to: c_to,
            },
        );
        sink(out)?;
    }
    Ok(rows)
}

/// The line a record starts on. The csv crate gives where its search for the record
/// began, which is before any blank lines it skipped (a row after a blank line was
/// reported one line early: found by fuzzing). Worked out instead from where the
/// record ends: that line, less the line breaks inside its fields, less one if it
/// ended with `\n` (after `\r` or at the end of the input the parser has not yet
/// counted a line).
fn first_line<R: Read>(rdr: &csv::Reader<Tail<R>>, rec: &csv::ByteRecord) -> Option<u64> {
    let end = rdr.position();
    let inner: u64 = rec
        .iter()
        .map(|f| f.iter().filter(|&&b| b == b'\n').count() as u64)
        .sum();
    let tail = rdr.get_ref();
    let last = tail.byte_at(end.byte().checked_sub(1)?)?;
    // a quote left open runs to the end of the input, its last `\n` inside the field
    // (counted in `inner`), not after it as a row's end
    let in_field = last == b'\n'
        && rec.iter().next_back().is_some_and(|f| f.ends_with(b"\n"))
        && end.byte() >= 2
        && tail.byte_at(end.byte() - 2) != Some(b'"');
    let ended = u64::from(last == b'\n' && !in_field);
    Some(end.line().checked_sub(inner + ended)?.max(1))
}

/// A reader that remembers the last bytes it passed on (enough to cover the CSV
/// parser's buffer), so [`first_line`] can look at the byte that ended a record.
struct Tail<R> {
    inner: R,
    total: u64,
    ring: Vec<u8>,
}

impl<R> Tail<R> {
    const CAP: usize = 64 * 1024;

    fn new(inner: R) -> Self {
        Tail {
            inner,
            total: 0,
            ring: vec![0; Self::CAP],
        }
    }

    fn byte_at(&self, offset: u64) -> Option<u8> {
        (offset < self.total && self.total - offset <= Self::CAP as u64)
            .then(|| self.ring[(offset % Self::CAP as u64) as usize])
    }
}

impl<R: Read> Read for Tail<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            self.ring[(self.total % Self::CAP as u64) as usize] = b;
            self.total += 1;
        }
        Ok(n)
    }
}

#[derive(Clone, Copy)]
struct Cols {
    text: Option<usize>,
    lang: Option<usize>,
    id: Option<usize>,
    link: Option<usize>,
    t1: Option<usize>,
    t2: Option<usize>,
    label: Option<usize>,
    kind: Option<usize>,
    pair_id: Option<usize>,
    valid_from: Option<usize>,
    valid_to: Option<usize>,
}

fn parse_row(
    ctx: &Ctx,
    format: Format,
    rec: &csv::ByteRecord,
    cols: &Columns,
    line: u64,
    c: Cols,
) -> Result<Record, RowError> {
    // Fetches a field as UTF-8; a column the header has but the row lacks is `None`.
    let field = |i: Option<usize>| -> Result<Option<&str>, RowError> {
        let Some(i) = i else { return Ok(None) };
        match rec.get(i) {
            None => Ok(None),
            Some(b) => std::str::from_utf8(b).map(Some).map_err(|e| {
                ctx.err(
                    line,
                    Some(&cols.names[i]),
                    format!("not valid UTF-8 (byte {})", e.valid_up_to()),
                )
            }),
        }
    };
    if rec.len() > cols.names.len() {
        // Storing the fields the header names and dropping the rest would keep half a
        // sentence: the usual cause is an unquoted comma inside a text.
        return Err(ctx.err(
            line,
            None,
            format!(
                "the row has {} fields, the header {}{}",
                rec.len(),
                cols.names.len(),
                if format == Format::Sick {
                    " (a tab inside a text?)"
                } else {
                    " (an unquoted comma inside a text? quote the field: \"a, b\")"
                }
            ),
        ));
    }
    if rec.len() < cols.names.len() && format != Format::Sick {
        let first_missing = &cols.names[rec.len()];
        return Err(ctx.err(
            line,
            Some(first_missing),
            format!(
                "missing: the row has {} field(s), the header {}",
                rec.len(),
                cols.names.len()
            ),
        ));
    }
    match format {
        Format::Statements | Format::Linked => {
            let text = ctx.text(line, "text", field(c.text)?)?;
            let lang = ctx.lang(line, "lang", field(c.lang)?)?;
            let (from, to) = ctx.validity(line, field(c.valid_from)?, field(c.valid_to)?)?;
            let mut g = Geoid::new(text, lang, ctx.source(line)).with_validity(from, to);
            if format == Format::Linked {
                let id =
                    opt(field(c.id)?).ok_or_else(|| ctx.err(line, Some("id"), "missing id"))?;
                ctx.id(line, "id", &id)?;
                let link = opt(field(c.link)?);
                if let Some(l) = &link {
                    ctx.id(line, "label_contradict_id", l)?;
                }
                g = g.with_external_id(id).with_label(link.clone());
                Ok(Record::Linked {
                    geoid: g,
                    contradicts: link,
                })
            } else {
                Ok(Record::Statement(g))
            }
        }
        Format::Pairs | Format::Sick => {
            let (fa, fb) = if format == Format::Sick {
                ("sentence_A", "sentence_B")
            } else {
                ("text1", "text2")
            };
            let ta = ctx.text(line, fa, field(c.t1)?)?;
            let tb = ctx.text(line, fb, field(c.t2)?)?;
            let lang = if format == Format::Sick && c.lang.is_none() {
                if ctx.default_lang == "und" {
                    "en".to_string()
                } else {
                    ctx.default_lang.clone()
                }
            } else {
                ctx.lang(line, "lang", field(c.lang)?)?
            };
            let label_name = if format == Format::Sick {
                "entailment_label"
            } else {
                "label"
            };
            let gold = match opt(field(c.label)?) {
                None => None,
                Some(l) => Some(GoldLabel::parse(&l).ok_or_else(|| {
                    ctx.err(
                        line,
                        Some(label_name),
                        format!("unknown label `{}`", trunc(&l, 40)),
                    )
                })?),
            };
            let by_name = |name: &str| -> Result<Option<String>, RowError> {
                Ok(field(cols.find(name))?.map(str::to_string))
            };
            let va = ctx.pair_validity(line, 1, &by_name)?;
            let vb = ctx.pair_validity(line, 2, &by_name)?;
            let src = ctx.source(line);
            Ok(Record::Pair {
                a: Geoid::new(ta, lang.clone(), src.clone()).with_validity(va.0, va.1),
                b: Geoid::new(tb, lang.clone(), src).with_validity(vb.0, vb.1),
                pair_id: match opt(field(c.pair_id)?) {
                    Some(id) => Some(ctx.id(line, "pair_id", &id)?.to_string()),
                    None => None,
                },
                gold,
                lang,
                kind: opt(field(c.kind)?),
                line,
            })
        }
        Format::Jsonl | Format::Text => unreachable!("not delimited"),
    }
}

/// Reads lines of at most `cap` bytes; a longer line is consumed and reported as
/// `Err(len)` so one runaway line never takes the memory of the whole file.
pub(crate) fn next_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Option<Result<(), usize>>> {
    buf.clear();
    let n = reader
        .by_ref()
        .take(cap as u64 + 1)
        .read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > cap && buf.last() != Some(&b'\n') {
        let mut len = buf.len();
        loop {
            let chunk = reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    len += i + 1;
                    reader.consume(i + 1);
                    break;
                }
                None => {
                    let l = chunk.len();
                    len += l;
                    reader.consume(l);
                }
            }
        }
        buf.clear();
        return Ok(Some(Err(len)));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(Some(Ok(())))
}

fn read_jsonl(
    ctx: &Ctx,
    mut reader: impl BufRead,
    sink: &mut Sink<'_>,
) -> Result<u64, IngestError> {
    let cap = 4 * MAX_FIELD_BYTES;
    let mut buf = Vec::new();
    let (mut line, mut rows) = (0u64, 0u64);
    while let Some(r) =
        next_line(&mut reader, &mut buf, cap).map_err(|e| IngestError::io(&ctx.path, e))?
    {
        line += 1;
        if let Err(len) = r {
            rows += 1;
            sink(Err(ctx.err(
                line,
                None,
                format!("line of {len} bytes is over the {cap} byte limit"),
            )))?;
            continue;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        rows += 1;
        let rec = std::str::from_utf8(&buf)
            .map_err(|e| {
                ctx.err(
                    line,
                    None,
                    format!("not valid UTF-8 (byte {})", e.valid_up_to()),
                )
            })
            .and_then(|s| {
                serde_json::from_str::<Value>(s)
                    .map_err(|e| ctx.err(line, None, format!("invalid JSON: {e}")))
            })
            .and_then(|v| json_record(ctx, line, v));
        sink(rec)?;
    }
    if rows == 0 {
        return Err(IngestError::Empty {
            path: ctx.path.clone(),
        });
    }
    Ok(rows)
}

fn json_record(ctx: &Ctx, line: u64, v: Value) -> Result<Record, RowError> {
    let Value::Object(obj) = v else {
        return Err(ctx.err(line, None, "expected a JSON object"));
    };
    let s = |k: &str| -> Result<Option<String>, RowError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) if k != "text" && !k.starts_with("text") => {
                Ok(Some(n.to_string()))
            }
            Some(Value::Bool(b)) if k == "label" => Ok(Some(b.to_string())),
            Some(other) => Err(ctx.err(
                line,
                Some(k),
                format!("expected a string, found {}", kind(other)),
            )),
        }
    };
    let first = |keys: &[&'static str]| -> Result<(Option<String>, &'static str), RowError> {
        for k in keys {
            if let Some(v) = s(k)? {
                return Ok((Some(v), k));
            }
        }
        Ok((None, keys[0]))
    };
    let lang = ctx.lang(line, "lang", s("lang")?.as_deref())?;
    let (t1, f1) = first(&["text1", "text_a", "sentence_A", "premise"])?;
    if t1.is_some() || obj.contains_key("text2") {
        let (t2, f2) = first(&["text2", "text_b", "sentence_B", "hypothesis"])?;
        let ta = ctx.text(line, f1, t1.as_deref())?;
        let tb = ctx.text(line, f2, t2.as_deref())?;
        let (label, lf) = first(&["label", "gold", "entailment_label"])?;
        let gold = match label {
            None => None,
            Some(l) => Some(GoldLabel::parse(&l).ok_or_else(|| {
                ctx.err(line, Some(lf), format!("unknown label `{}`", trunc(&l, 40)))
            })?),
        };
        let va = ctx.pair_validity(line, 1, &s)?;
        let vb = ctx.pair_validity(line, 2, &s)?;
        let src = ctx.source(line);
        return Ok(Record::Pair {
            a: Geoid::new(ta, lang.clone(), src.clone()).with_validity(va.0, va.1),
            b: Geoid::new(tb, lang.clone(), src).with_validity(vb.0, vb.1),
            pair_id: first(&["pair_id", "id"])?.0,
            gold,
            lang,
            kind: s("type")?,
            line,
        });
    }
    let text = ctx.text(line, "text", s("text")?.as_deref())?;
    let (from, to) = ctx.validity(line, s("valid_from")?.as_deref(), s("valid_to")?.as_deref())?;
    let mut g = Geoid::new(text, lang, ctx.source(line)).with_validity(from, to);
    if let Some(id) = s("id")? {
        g = g.with_external_id(id);
    }
    g = g.with_label(s("label")?);
    Ok(Record::Statement(g))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn read_text(
    ctx: &Ctx,
    mut reader: impl BufRead,
    keep_all: bool,
    sink: &mut Sink<'_>,
) -> Result<ReadStats, IngestError> {
    let mut buf = Vec::new();
    let mut para =
        text::Paragraphs::with(crate::is_markdown(&ctx.path), !keep_all, &ctx.default_lang);
    let mut line = 0u64;
    let mut stats = ReadStats::default();
    let mut emit = |stats: &mut ReadStats, items: Vec<text::Piece>| -> Result<(), IngestError> {
        for p in items {
            if let text::Piece::Skipped { reason, .. } = p {
                stats.skipped.add(reason, 1);
                continue;
            }
            stats.rows += 1;
            let r = match p {
                text::Piece::Sentence { text, line } => {
                    ctx.text(line, "text", Some(&text)).map(|t| {
                        Record::Statement(Geoid::new(
                            t,
                            text::guess_lang(&text, &ctx.default_lang),
                            ctx.source(line),
                        ))
                    })
                }
                text::Piece::Error { line, message } => Err(ctx.err(line, None, message)),
                text::Piece::Skipped { .. } => unreachable!("counted above"),
            };
            sink(r)?;
        }
        Ok(())
    };
    while let Some(r) = next_line(&mut reader, &mut buf, MAX_FIELD_BYTES)
        .map_err(|e| IngestError::io(&ctx.path, e))?
    {
        line += 1;
        let pieces = match r {
            Err(len) => vec![text::Piece::Error {
                line,
                message: format!("line of {len} bytes is over the {MAX_FIELD_BYTES} byte limit"),
            }],
            Ok(()) => match std::str::from_utf8(&buf) {
                Ok(s) => para.push_line(s, line),
                Err(e) => vec![text::Piece::Error {
                    line,
                    message: format!("not valid UTF-8 (byte {})", e.valid_up_to()),
                }],
            },
        };
        emit(&mut stats, pieces)?;
    }
    emit(&mut stats, para.finish())?;
    if stats.rows == 0 && stats.skipped.total() == 0 {
        // a file of debris only is not empty: it loads nothing, with its skips counted
        return Err(IngestError::Empty {
            path: ctx.path.clone(),
        });
    }
    Ok(stats)
}
