//! Generators and properties for fuzzing every reader, shared by the short run in CI
//! (`tests/fuzz.rs`) and the long one (`examples/fuzz_readers.rs`, millions of cases).
//!
//! A case is a valid file of one format (its rows known), possibly mutated: truncated,
//! a byte range replaced by junk (structural bytes, invalid UTF-8, NUL, line breaks),
//! or replaced whole by random bytes (with or without a valid header). [`check`] reads
//! it with the real reader and asserts, whatever the bytes:
//!
//! - no panic (the caller catches it), and the reader returns (no hang: readers are
//!   single-pass over the bytes, and the long run reports its slowest case);
//! - counts add up: the reader's row count is the number of records plus errors;
//! - every error names the file and a line of it, and prints as plain text;
//! - every record's text is non-empty, trimmed and within the size limit;
//! - every row of the valid file that lies wholly before the mutation is returned
//!   exactly (byte for byte, same line);
//! - every row wholly after it (when the rest of the file is intact) is returned
//!   exactly at its shifted line, or covered: an error was reported between the
//!   mutation and it, or (CSV) an unclosed quote carried it, bytes intact, into a
//!   text that starts there;
//! - text and Markdown: nothing is invented — the non-blank characters of the kept
//!   sentences are those of the input in order (plain text: all of them, except lines
//!   reported or counted as skipped; see [`TextAccount`]).
//!
//! The row properties hold for the readers' own parse: text and Markdown are read
//! with `keep_all` there (every sentence kept). The same bytes are also read with the
//! defaults of ingest, the cleaner on (claims only: headings, code, link lines and
//! fragments without a verb skipped and counted), and that outcome must pass the
//! checks that do not depend on which sentences are claims: counts add up, errors
//! name a line, texts are sensible, and nothing is invented (its kept characters are
//! in the input, in order).

#![allow(dead_code)]

use std::path::Path;

use kimera_ingest::{
    Format, MAX_FIELD_BYTES, ReadOptions, Record, RowError, read_records_from_bytes_with,
};
use proptest::prelude::*;

/// The readers fuzzed: one per format, Markdown apart from plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Statements,
    Linked,
    Pairs,
    Sick,
    Jsonl,
    Text,
    Markdown,
}

impl Reader {
    pub const ALL: [Reader; 7] = [
        Reader::Statements,
        Reader::Linked,
        Reader::Pairs,
        Reader::Sick,
        Reader::Jsonl,
        Reader::Text,
        Reader::Markdown,
    ];

    pub fn format(self) -> Format {
        match self {
            Reader::Statements => Format::Statements,
            Reader::Linked => Format::Linked,
            Reader::Pairs => Format::Pairs,
            Reader::Sick => Format::Sick,
            Reader::Jsonl => Format::Jsonl,
            Reader::Text | Reader::Markdown => Format::Text,
        }
    }

    /// The name the reader sees (Markdown is told by its extension).
    pub fn file_name(self) -> &'static str {
        match self {
            Reader::Statements => "statements.csv",
            Reader::Linked => "linked.csv",
            Reader::Pairs => "pairs.csv",
            Reader::Sick => "sick.tsv",
            Reader::Jsonl => "rows.jsonl",
            Reader::Text => "notes.txt",
            Reader::Markdown => "notes.md",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Reader::Markdown => "markdown",
            other => other.format().name(),
        }
    }

    fn csv(self) -> bool {
        matches!(self, Reader::Statements | Reader::Linked | Reader::Pairs)
    }

    fn text(self) -> bool {
        matches!(self, Reader::Text | Reader::Markdown)
    }
}

/// A row of a valid file: the texts the reader must return, byte for byte.
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based line the row starts on.
    pub line: u64,
    pub texts: Vec<String>,
    /// Byte range in the file, with its line break (text: its paragraph's, up to the
    /// end of the blank line after it: a paragraph is read when it ends).
    pub span: (usize, usize),
}

#[derive(Debug, Clone)]
pub struct ValidFile {
    pub bytes: Vec<u8>,
    /// End of the header line (0 when the format has none).
    pub header_end: usize,
    pub rows: Vec<Row>,
}

/// What was done to the valid file.
#[derive(Debug, Clone)]
pub enum Mutation {
    None,
    Truncate(usize),
    /// Bytes `start..start+len` replaced by `with` (len 0: inserted).
    Replace {
        start: usize,
        len: usize,
        with: Vec<u8>,
    },
    /// Random bytes instead of the file, after its header line when `keep_header`.
    Random {
        keep_header: bool,
        bytes: Vec<u8>,
    },
}

#[derive(Debug, Clone)]
pub struct Case {
    pub reader: Reader,
    pub file: ValidFile,
    pub mutation: Mutation,
}

impl Case {
    pub fn bytes(&self) -> Vec<u8> {
        let b = &self.file.bytes;
        match &self.mutation {
            Mutation::None => b.clone(),
            Mutation::Truncate(n) => b[..(*n).min(b.len())].to_vec(),
            Mutation::Replace { start, len, with } => {
                let s = (*start).min(b.len());
                let e = (s + len).min(b.len());
                let mut out = b[..s].to_vec();
                out.extend_from_slice(with);
                out.extend_from_slice(&b[e..]);
                out
            }
            Mutation::Random { keep_header, bytes } => {
                let mut out = if *keep_header {
                    b[..self.file.header_end].to_vec()
                } else {
                    Vec::new()
                };
                out.extend_from_slice(bytes);
                out
            }
        }
    }
}

// ---------- generators ----------

/// Words for text files: no abbreviations, no initials (they glue sentences).
const WORDS: &[&str] = &[
    "water",
    "boils",
    "Paris",
    "capital",
    "France",
    "the",
    "river",
    "flows",
    "north",
    "cats",
    "are",
    "mammals",
    "Nile",
    "long",
    "été",
    "chaud",
    "القاهرة",
    "مدينة",
    "東京",
    "日本",
    "numbers",
    "2024",
    "über",
    "straße",
    "ελλάδα",
];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_string)
}

/// Sentence starts: capitalised, so that the splitter ends the sentence before (after
/// "x." a lowercase word or a number continues the sentence, by UAX #29).
const FIRST_WORDS: &[&str] = &["Paris", "Water", "The", "Cats", "Über", "Ελλάδα", "Nile"];

/// A trimmed, non-empty text with whatever a CSV or JSON field may carry: commas,
/// quotes, tabs, line breaks (when `breaks`), any script, emoji.
fn field_text(breaks: bool) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        6 => prop::char::range('a', 'z'),
        2 => Just(' '),
        1 => prop::sample::select(vec![',', '"', '\'', ';', '.', '{', '}', '\\', '#', '|']),
        1 => prop::sample::select(vec!['é', 'ß', 'ع', 'ب', '中', '文', '🙂', '\u{a0}', '\u{200b}']),
        1 => any::<char>(),
        1 => prop::sample::select(if breaks { vec!['\n', '\r', '\t'] } else { vec![' '] }),
    ];
    prop::collection::vec(ch, 1..40).prop_map(move |v| {
        // without `breaks` (SICK: no quoting), no character that ends a row or a field
        let s: String = v
            .into_iter()
            .filter(|c| breaks || !matches!(c, '\n' | '\r' | '\t'))
            .collect();
        // a text needs a visible character; no rejection (a million cases would
        // exceed proptest's limit of local rejects)
        match s.trim() {
            "" => "x".to_string(),
            t => t.to_string(),
        }
    })
}

fn lang() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["en", "fr", "ar", "", "pt-BR", "und"]).prop_map(str::to_string)
}

/// Writes one CSV record (quoting only where needed) and returns its bytes.
fn csv_record(fields: &[&str], delimiter: u8, quote: bool) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .quote_style(if quote {
            csv::QuoteStyle::Necessary
        } else {
            csv::QuoteStyle::Never
        })
        .from_writer(Vec::new());
    w.write_record(fields).unwrap();
    w.into_inner().unwrap()
}

struct Builder {
    bytes: Vec<u8>,
    header_end: usize,
    rows: Vec<Row>,
}

impl Builder {
    fn new(header: &[u8]) -> Self {
        Builder {
            bytes: header.to_vec(),
            header_end: header.len(),
            rows: Vec::new(),
        }
    }
    fn line(&self) -> u64 {
        1 + self.bytes.iter().filter(|&&b| b == b'\n').count() as u64
    }
    fn push(&mut self, record: &[u8], texts: Vec<String>) {
        let (line, start) = (self.line(), self.bytes.len());
        self.bytes.extend_from_slice(record);
        self.rows.push(Row {
            line,
            texts,
            span: (start, self.bytes.len()),
        });
    }
    fn done(self) -> ValidFile {
        ValidFile {
            bytes: self.bytes,
            header_end: self.header_end,
            rows: self.rows,
        }
    }
}

pub fn valid_file(reader: Reader) -> BoxedStrategy<ValidFile> {
    let n = 0..12usize;
    match reader {
        Reader::Statements => prop::collection::vec((field_text(true), lang()), n)
            .prop_map(|rows| {
                let mut b = Builder::new(b"text,lang\n");
                for (t, l) in rows {
                    b.push(&csv_record(&[&t, &l], b',', true), vec![t]);
                }
                b.done()
            })
            .boxed(),
        Reader::Linked => prop::collection::vec((field_text(true), lang(), any::<bool>()), n)
            .prop_map(|rows| {
                let mut b = Builder::new(b"id,lang,text,label_contradict_id\n");
                let count = rows.len();
                for (i, (t, l, link)) in rows.into_iter().enumerate() {
                    let id = format!("s{i}");
                    let other = if link && count > 1 {
                        format!("s{}", (i + 1) % count)
                    } else {
                        String::new()
                    };
                    b.push(&csv_record(&[&id, &l, &t, &other], b',', true), vec![t]);
                }
                b.done()
            })
            .boxed(),
        Reader::Pairs => {
            let label = prop::sample::select(vec!["True", "False", "", "contradiction"]);
            prop::collection::vec((field_text(true), field_text(true), label, lang()), n)
                .prop_map(|rows| {
                    let mut b = Builder::new(b"pair_id,text1,text2,label,lang,type\n");
                    for (i, (a, c, label, l)) in rows.into_iter().enumerate() {
                        let id = i.to_string();
                        let rec = csv_record(&[&id, &a, &c, label, &l, "fuzz"], b',', true);
                        b.push(&rec, vec![a, c]);
                    }
                    b.done()
                })
                .boxed()
        }
        Reader::Sick => {
            let label = prop::sample::select(vec!["CONTRADICTION", "ENTAILMENT", "NEUTRAL"]);
            prop::collection::vec((field_text(false), field_text(false), label), n)
                .prop_map(|rows| {
                    let mut b = Builder::new(
                        b"pair_ID\tsentence_A\tsentence_B\tentailment_label\trelatedness_score\n",
                    );
                    for (i, (a, c, label)) in rows.into_iter().enumerate() {
                        let id = i.to_string();
                        let rec = csv_record(&[&id, &a, &c, label, "3.5"], b'\t', false);
                        b.push(&rec, vec![a, c]);
                    }
                    b.done()
                })
                .boxed()
        }
        Reader::Jsonl => {
            let row = prop_oneof![
                (field_text(true), lang()).prop_map(|(t, l)| {
                    let v = serde_json::json!({ "text": t, "lang": l });
                    (v.to_string(), vec![t])
                }),
                (field_text(true), field_text(true)).prop_map(|(a, b)| {
                    let v = serde_json::json!({ "text1": a, "text2": b, "label": "neutral" });
                    (v.to_string(), vec![a, b])
                }),
            ];
            prop::collection::vec(row, 1..12)
                .prop_map(|rows| {
                    let mut b = Builder::new(b"");
                    for (line, texts) in rows {
                        b.push(format!("{line}\n").as_bytes(), texts);
                    }
                    b.done()
                })
                .boxed()
        }
        Reader::Text | Reader::Markdown => {
            // paragraphs of sentences, one sentence per line, a blank line after each
            // paragraph; Markdown adds headings, list items and code blocks
            let sentence = (
                prop::sample::select(FIRST_WORDS),
                prop::collection::vec(word(), 1..6),
            )
                .prop_map(|(first, w)| format!("{first} {}.", w.join(" ")));
            let md = reader == Reader::Markdown;
            let block = (
                prop::collection::vec(sentence, 1..4),
                0..if md { 4u8 } else { 1 },
            );
            prop::collection::vec(block, 1..8)
                .prop_map(move |blocks| {
                    let mut b = Builder::new(b"");
                    for (sentences, kind) in blocks {
                        let start_of_block = b.rows.len();
                        match kind {
                            // heading: one sentence, its own paragraph
                            1 => {
                                let s = &sentences[0];
                                b.push(format!("# {s}\n").as_bytes(), vec![s.clone()]);
                            }
                            // list: one item per sentence
                            2 => {
                                for s in &sentences {
                                    b.push(format!("- {s}\n").as_bytes(), vec![s.clone()]);
                                }
                            }
                            // code block: skipped, no rows
                            3 => {
                                b.bytes.extend_from_slice(b"```\n");
                                for s in &sentences {
                                    b.bytes.extend_from_slice(format!("{s}\n").as_bytes());
                                }
                                b.bytes.extend_from_slice(b"```\n");
                            }
                            _ => {
                                for s in &sentences {
                                    b.push(format!("{s}\n").as_bytes(), vec![s.clone()]);
                                }
                            }
                        }
                        b.bytes.push(b'\n');
                        // a paragraph is read when it ends: each row's span runs to the
                        // end of the blank line after its block
                        let end = b.bytes.len();
                        for r in &mut b.rows[start_of_block..] {
                            r.span.1 = end;
                        }
                    }
                    b.done()
                })
                .boxed()
        }
    }
}

/// Junk for mutations: mostly the bytes that mean something to some reader.
fn junk() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b",\"\n\r\t{}[]:\\#-|`<>*_ ".to_vec()),
        3 => prop::num::u8::ANY.prop_map(|b| b'a' + b % 26),
        1 => prop::sample::select(vec![0u8, 0xff, 0xc3, 0xe2, 0x80, 0xef, 0xbb, 0xbf]),
        2 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..24)
}

fn mutation(file: &ValidFile) -> BoxedStrategy<Mutation> {
    let len = file.bytes.len();
    prop_oneof![
        1 => Just(Mutation::None),
        2 => (0..=len).prop_map(Mutation::Truncate),
        6 => (0..=len, 0..6usize, junk())
            .prop_map(|(start, n, with)| Mutation::Replace { start, len: n, with }),
        1 => (any::<bool>(), prop::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(keep_header, bytes)| Mutation::Random { keep_header, bytes }),
    ]
    .boxed()
}

/// Valid files of `reader`, mutated or not.
pub fn case(reader: Reader) -> BoxedStrategy<Case> {
    valid_file(reader)
        .prop_flat_map(move |file| {
            mutation(&file).prop_map(move |mutation| Case {
                reader,
                file: file.clone(),
                mutation,
            })
        })
        .boxed()
}

// ---------- the properties ----------

/// What the reader returned for a case.
#[derive(Debug, Default)]
pub struct Outcome {
    /// (line, texts) per record, in order.
    pub records: Vec<(u64, Vec<String>)>,
    pub errors: Vec<RowError>,
    /// The reader's own row count; `None` when it refused the whole file.
    pub rows: Option<u64>,
    pub file_error: Option<String>,
}

/// What the reader returns for `bytes`, every sentence of text and Markdown kept
/// (`keep_all`): the reader's own parse, which the row properties check exactly.
pub fn read(reader: Reader, bytes: &[u8]) -> Outcome {
    read_with(reader, bytes, true)
}

/// What the reader returns with the defaults of ingest: text and Markdown cleaned
/// (claims only; see `kimera_ingest::clean`).
pub fn read_cleaned(reader: Reader, bytes: &[u8]) -> Outcome {
    read_with(reader, bytes, false)
}

fn read_with(reader: Reader, bytes: &[u8], keep_all: bool) -> Outcome {
    let mut out = Outcome::default();
    let name = Path::new(reader.file_name());
    let opts = ReadOptions {
        keep_all,
        ..ReadOptions::default()
    };
    let r = read_records_from_bytes_with(name, reader.format(), &opts, bytes, &mut |r| {
        match r {
            Ok(rec) => out.records.push(texts_of(&rec)),
            Err(e) => out.errors.push(e),
        }
        Ok(())
    });
    match r {
        Ok(stats) => out.rows = Some(stats.rows),
        Err(e) => out.file_error = Some(e.to_string()),
    }
    out
}

fn texts_of(r: &Record) -> (u64, Vec<String>) {
    let line = |g: &kimera_core::Geoid| match &g.source {
        kimera_core::Source::File { line, .. } => *line,
        kimera_core::Source::Api | kimera_core::Source::Client(_) => 0,
    };
    match r {
        Record::Statement(g) => (line(g), vec![g.text.clone()]),
        Record::Linked { geoid, .. } => (line(geoid), vec![geoid.text.clone()]),
        Record::Pair { a, b, line, .. } => (*line, vec![a.text.clone(), b.text.clone()]),
    }
}

/// Lines of `bytes` as the readers count them (a last line without a break counts).
fn line_count(bytes: &[u8]) -> u64 {
    1 + bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

fn line_at(bytes: &[u8], offset: usize) -> u64 {
    1 + bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
}

/// No control characters but tab in what a user is shown.
pub fn printable(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\t')
}

/// How a text reader accounted for the input's lines, for the "kept, reported or
/// counted as skipped" property. A reader that skips lines on purpose (Markdown code,
/// tables, headings...) and counts them fills `skipped_lines`; today the Markdown
/// reader does not count them, so only plain text gets the exact property.
#[derive(Debug, Default)]
pub struct TextAccount {
    /// Lines whose characters the reader dropped on purpose and counted.
    pub skipped_lines: Vec<u64>,
}

/// Checks every property of the module docs; `Err` says which failed.
pub fn check(case: &Case) -> Result<(), String> {
    check_outcome(case).1
}

/// [`check`], also returning what the reader returned.
pub fn check_outcome(case: &Case) -> (Outcome, Result<(), String>) {
    let bytes = case.bytes();
    let out = read(case.reader, &bytes);
    let r = check_read(case, &bytes, &out);
    (out, r)
}

fn check_read(case: &Case, bytes: &[u8], out: &Outcome) -> Result<(), String> {
    check_common(case.reader, bytes, out)?;
    if case.reader.text() {
        check_text(case, bytes, out)?;
        // the cleaner on the same bytes: the same checks, and nothing invented
        let cleaned = read_cleaned(case.reader, bytes);
        check_common(case.reader, bytes, &cleaned).map_err(|e| format!("cleaned: {e}"))?;
        check_kept_in_order(bytes, &cleaned).map_err(|e| format!("cleaned: {e}"))?;
    }
    check_rows(case, bytes, out)
}

/// The properties every outcome has: counts add up, errors name the file and a line
/// of it printably, records are sensible texts on lines of the file.
fn check_common(reader: Reader, bytes: &[u8], out: &Outcome) -> Result<(), String> {
    let lines = line_count(bytes);
    let name = reader.file_name();

    // counts add up
    if let Some(n) = out.rows {
        let seen = (out.records.len() + out.errors.len()) as u64;
        if n != seen {
            return Err(format!(
                "row count {n} but {seen} records and errors were passed on"
            ));
        }
    } else if !out.records.is_empty() || !out.errors.is_empty() {
        // a refused file passes on nothing (the header is checked first)
        return Err("the file was refused after passing rows on".into());
    }
    if let Some(e) = &out.file_error {
        if !e.contains(name) || !printable(e) {
            return Err(format!(
                "file error without the file or with control characters: {e:?}"
            ));
        }
    }
    // errors name the file and a line of it, printably
    for e in &out.errors {
        let shown = e.to_string();
        if e.path != Path::new(name) || e.line == 0 || e.line > lines {
            return Err(format!(
                "error names no line of the file ({lines} lines): {shown}"
            ));
        }
        if !printable(&shown) {
            return Err(format!("error is not printable: {shown:?}"));
        }
    }
    // records: sensible texts on lines of the file
    for (line, texts) in &out.records {
        if *line == 0 || *line > lines {
            return Err(format!("record on line {line} of a {lines}-line file"));
        }
        for t in texts {
            if t.is_empty() || t.trim() != t || t.len() > MAX_FIELD_BYTES {
                return Err(format!("bad record text {t:?}"));
            }
        }
    }
    Ok(())
}

/// The non-blank characters of the kept texts appear in the input, in order (of the
/// lines not reported as errors).
fn check_kept_in_order(bytes: &[u8], out: &Outcome) -> Result<(), String> {
    let reported: std::collections::HashSet<u64> = out.errors.iter().map(|e| e.line).collect();
    let mut input = String::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        if !reported.contains(&(i as u64 + 1)) {
            input.extend(
                String::from_utf8_lossy(raw)
                    .chars()
                    .filter(|c| !c.is_whitespace()),
            );
        }
    }
    let kept: String = out
        .records
        .iter()
        .flat_map(|(_, t)| t[0].chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    if !is_subsequence(&kept, &input) {
        return Err(format!(
            "kept characters that are not in the input, in order\n kept {kept:?}\ninput {input:?}"
        ));
    }
    Ok(())
}

/// Rows before the mutation returned exactly; rows after it exactly (shifted) or covered.
fn check_rows(case: &Case, bytes: &[u8], out: &Outcome) -> Result<(), String> {
    if out.file_error.is_some() {
        // the whole file refused with a message: nothing of it was passed on
        return Ok(());
    }
    let file = &case.file;
    let (start, end, delta_lines): (usize, Option<usize>, i64) = match &case.mutation {
        Mutation::None => (file.bytes.len(), Some(file.bytes.len()), 0),
        Mutation::Truncate(n) => (*n, None, 0),
        Mutation::Replace { start, len, with } => {
            let s = (*start).min(file.bytes.len());
            let e = (s + len).min(file.bytes.len());
            let removed = file.bytes[s..e].iter().filter(|&&b| b == b'\n').count() as i64;
            let added = with.iter().filter(|&&b| b == b'\n').count() as i64;
            (s, Some(e), added - removed)
        }
        Mutation::Random { keep_header, .. } => {
            (if *keep_header { file.header_end } else { 0 }, None, 0)
        }
    };
    // the row the mutation falls in starts the damage: a reader reports the row
    // (record) at the line it starts on
    let mutation_line = file
        .rows
        .iter()
        .find(|r| r.span.0 <= start && start < r.span.1)
        .map_or_else(|| line_at(bytes, start), |r| r.line);
    // A damaged header is refused when it is plainly not one (see the readers), but a
    // header that still names the columns can take the next line into it unseen: the
    // header is the file's say on what its rows are, so only rows before it count.
    let header_hit = start < file.header_end;
    let has = |line: u64, texts: &Vec<String>| {
        out.records
            .iter()
            .any(|(l, t)| *l == line && (t == texts || case.reader.text() && t.contains(&texts[0])))
    };
    for row in &file.rows {
        if row.span.1 <= start {
            if !has(row.line, &row.texts) {
                return Err(format!(
                    "row at line {} ({:?}), before the mutation at byte {start}, was not returned exactly; got {:?}",
                    row.line, row.texts, out.records
                ));
            }
        } else if let Some(end) = end
            && row.span.0 >= end
            && !case.reader.text()
            && !header_hit
        {
            let line = (row.line as i64 + delta_lines) as u64;
            // the row's own last line (its texts may hold line breaks): damage to it
            // may be reported on any of its lines
            let last = line
                + (file.bytes[row.span.0..row.span.1]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64)
                    .saturating_sub(1);
            let reported = out
                .errors
                .iter()
                .any(|e| e.line >= mutation_line.min(line) && e.line <= last);
            // an unclosed quote carries the rows after it, bytes intact, into one text
            // (CSV's own ambiguity: the stray quote pairs with the next one, so what
            // lies between is one quoted field, kept whole in a text that spans the
            // row's line; its own quotes may read differently there)
            let carried = case.reader.csv()
                && out.records.iter().any(|(l, t)| {
                    // the record runs over the line breaks of all its fields
                    let breaks: u64 = t.iter().map(|x| x.matches('\n').count() as u64).sum();
                    *l >= mutation_line && *l <= last && *l + breaks >= line
                });
            if !has(line, &row.texts) && !reported && !carried {
                return Err(format!(
                    "row at line {} ({:?}), after the mutation (line {mutation_line}), was neither returned at line {line} nor reported; got {:?}, errors {:?}",
                    row.line, row.texts, out.records, out.errors
                ));
            }
        }
    }
    Ok(())
}

/// Text and Markdown: nothing invented; plain text keeps every character.
fn check_text(case: &Case, bytes: &[u8], out: &Outcome) -> Result<(), String> {
    let account = TextAccount::default();
    let reported: std::collections::HashSet<u64> = out.errors.iter().map(|e| e.line).collect();
    let mut input = String::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i as u64 + 1;
        if reported.contains(&line) || account.skipped_lines.contains(&line) {
            continue;
        }
        // a reader reports the lines it cannot decode; what it keeps is UTF-8
        let s = String::from_utf8_lossy(raw);
        input.extend(s.chars().filter(|c| !c.is_whitespace()));
    }
    let kept: String = out
        .records
        .iter()
        .flat_map(|(_, t)| t[0].chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    if case.reader == Reader::Text {
        if out.file_error.is_none() && kept != input {
            return Err(format!(
                "plain text: kept characters differ from the input's\n kept {kept:?}\ninput {input:?}"
            ));
        }
    } else if !is_subsequence(&kept, &input) {
        return Err(format!(
            "markdown: kept characters that are not in the input, in order\n kept {kept:?}\ninput {input:?}"
        ));
    }
    Ok(())
}

fn is_subsequence(needle: &str, hay: &str) -> bool {
    let mut h = hay.chars();
    needle.chars().all(|c| h.any(|x| x == c))
}
