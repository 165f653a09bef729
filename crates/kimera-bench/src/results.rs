//! `results.csv`: one row per (pair, detector), appended as a run goes.
//!
//! The file is the run's memory. A run appends each row as soon as the detector has
//! answered; when it is killed, at most the last line is torn. [`resume`] reads what is
//! there, drops a torn last line, and tells which (pair, detector) are done, so that the
//! next run only does the rest and appends to the same file. If a (pair, detector) is
//! written twice (a failed pair retried), the later row wins.
//!
//! Columns: `pair_key,detector,gold,lang,kind,len_a,len_b,score,verdict,latency_ms,error`.
//! A scored row has `score` and `verdict` and an empty `error`; a failed row the reverse.
//! Floats are written in Rust's shortest round-trip form, so a report rebuilt from the
//! file is bit-for-bit the report of the run that wrote it. Every row is exactly one
//! line (line breaks in error messages are replaced by spaces), so line numbers in
//! errors are the lines an editor shows.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::data::{DetectorOutput, Outcome, PairMeta};
use crate::error::{BenchError, Result};

/// The header line, and the column order.
pub const HEADER: [&str; 11] = [
    "pair_key",
    "detector",
    "gold",
    "lang",
    "kind",
    "len_a",
    "len_b",
    "score",
    "verdict",
    "latency_ms",
    "error",
];

fn header_line() -> String {
    format!("{}\n", HEADER.join(","))
}

/// Appends rows to a `results.csv`.
///
/// Rows are buffered; [`ResultsWriter::flush`] (or drop) writes them out. Flush after
/// each batch of pairs: an interruption then loses at most the batch in flight.
#[derive(Debug)]
pub struct ResultsWriter {
    path: PathBuf,
    csv: csv::Writer<BufWriter<File>>,
}

impl ResultsWriter {
    /// Starts a new file at `path` (replacing any) with the header line.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut file = File::create(&path).map_err(|e| BenchError::io(&path, e))?;
        file.write_all(header_line().as_bytes())
            .map_err(|e| BenchError::io(&path, e))?;
        Ok(Self::wrap(path, file))
    }

    /// Opens `path` to continue a run: reads the rows already there (see [`resume`]),
    /// cuts off a torn last line, and appends after the last complete row. A missing
    /// file is created. Returns the writer and what was already done.
    pub fn resume(path: impl AsRef<Path>) -> Result<(Self, ResumeState)> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Ok((Self::create(&path)?, ResumeState::default()));
        }
        let (state, keep_bytes) = read_state(&path)?;
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| BenchError::io(&path, e))?;
        file.set_len(keep_bytes)
            .map_err(|e| BenchError::io(&path, e))?;
        let mut file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| BenchError::io(&path, e))?;
        if keep_bytes == 0 {
            file.write_all(header_line().as_bytes())
                .map_err(|e| BenchError::io(&path, e))?;
        }
        Ok((Self::wrap(path, file), state))
    }

    fn wrap(path: PathBuf, file: File) -> Self {
        let csv = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(BufWriter::new(file));
        ResultsWriter { path, csv }
    }

    /// Appends one row, after checking it as the report will.
    pub fn write(&mut self, out: &DetectorOutput) -> Result<()> {
        out.validate()?;
        let one_line = |s: &str| s.replace(['\n', '\r'], " ");
        let (score, verdict, error) = match &out.outcome {
            Outcome::Scored { score, verdict } => {
                (score.to_string(), verdict.to_string(), String::new())
            }
            Outcome::Failed { error } => {
                let e = one_line(error);
                let e = if e.trim().is_empty() {
                    "unknown error".to_string()
                } else {
                    e
                };
                (String::new(), String::new(), e)
            }
        };
        let p = &out.pair;
        let record = [
            p.key.clone(),
            out.detector.clone(),
            p.gold.to_string(),
            p.lang.clone().unwrap_or_default(),
            p.kind.clone().unwrap_or_default(),
            p.len_a.to_string(),
            p.len_b.to_string(),
            score,
            verdict,
            out.latency_ms.to_string(),
            error,
        ];
        self.csv.write_record(&record).map_err(|e| self.csv_err(e))
    }

    /// Writes buffered rows to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.csv.flush().map_err(|e| BenchError::io(&self.path, e))
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn csv_err(&self, e: csv::Error) -> BenchError {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => BenchError::io(&self.path, io),
            other => BenchError::io(&self.path, std::io::Error::other(format!("{other:?}"))),
        }
    }
}

/// Writes all `outputs` to `path` at once, through a temporary file and a rename, so a
/// reader never sees half a file.
pub fn write_results(path: impl AsRef<Path>, outputs: &[DetectorOutput]) -> Result<()> {
    let path = path.as_ref();
    let tmp = path.with_extension("csv.tmp");
    let mut w = ResultsWriter::create(&tmp)?;
    for out in outputs {
        w.write(out)?;
    }
    w.flush()?;
    drop(w);
    fs::rename(&tmp, path).map_err(|e| BenchError::io(path, e))
}

/// What a `results.csv` already holds.
#[derive(Debug, Clone, Default)]
pub struct ResumeState {
    outputs: Vec<DetectorOutput>,
    /// (pair key, detector) → the latest row for it scored (true) or failed (false).
    done: HashMap<(String, String), bool>,
    /// The file ended in a torn line (the run was killed mid-write); it was ignored.
    pub torn_tail: bool,
}

impl ResumeState {
    /// Whether `detector` already has a row for pair `key`, scored or failed.
    pub fn is_done(&self, key: &str, detector: &str) -> bool {
        self.done
            .contains_key(&(key.to_string(), detector.to_string()))
    }

    /// Whether `detector` already *scored* pair `key`: use this instead of
    /// [`ResumeState::is_done`] to retry failed pairs.
    pub fn is_scored(&self, key: &str, detector: &str) -> bool {
        self.done
            .get(&(key.to_string(), detector.to_string()))
            .copied()
            .unwrap_or(false)
    }

    /// (pair key, detector) whose latest row is a failure, sorted.
    pub fn failed(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self
            .done
            .iter()
            .filter(|(_, ok)| !**ok)
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }

    /// Number of distinct (pair, detector) with a row.
    pub fn done_count(&self) -> usize {
        self.done.len()
    }

    /// Every row read, in file order (repeats included; later ones win in the report).
    pub fn outputs(&self) -> &[DetectorOutput] {
        &self.outputs
    }

    /// The rows read, to pass on to [`crate::run_report`] with the new ones.
    pub fn into_outputs(self) -> Vec<DetectorOutput> {
        self.outputs
    }
}

/// Reads `path` for resuming; a missing file is an empty state.
pub fn resume(path: impl AsRef<Path>) -> Result<ResumeState> {
    let path = path.as_ref();
    if !path.exists() {
        return Ok(ResumeState::default());
    }
    Ok(read_state(path)?.0)
}

/// Reads every row of a complete or torn `results.csv`.
pub fn read_results(path: impl AsRef<Path>) -> Result<Vec<DetectorOutput>> {
    Ok(read_state(path.as_ref())?.0.outputs)
}

/// The state and the byte length of the complete lines (where appending must start).
fn read_state(path: &Path) -> Result<(ResumeState, u64)> {
    let bytes = fs::read(path).map_err(|e| BenchError::io(path, e))?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let torn_tail = complete < bytes.len();
    let text = std::str::from_utf8(&bytes[..complete]).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64
            + 1;
        csv_error(path, line, "", "is not valid UTF-8".into())
    })?;
    if complete == 0 {
        // Empty, or a header torn before its newline: nothing was done yet.
        let head = String::from_utf8_lossy(&bytes);
        if !header_line().starts_with(head.as_ref()) {
            return Err(csv_error(
                path,
                1,
                "header",
                format!("expected `{}`", HEADER.join(",")),
            ));
        }
        return Ok((
            ResumeState {
                torn_tail,
                ..Default::default()
            },
            0,
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut state = ResumeState {
        torn_tail,
        ..Default::default()
    };
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 1;
        let record = record.map_err(|e| csv_error(path, line, "", e.to_string()))?;
        if i == 0 {
            if record.iter().ne(HEADER) {
                return Err(csv_error(
                    path,
                    1,
                    "header",
                    format!(
                        "expected `{}`, found `{}`",
                        HEADER.join(","),
                        record.iter().collect::<Vec<_>>().join(",")
                    ),
                ));
            }
            continue;
        }
        let out = parse_row(path, line, &record)?;
        state.done.insert(
            (out.pair.key.clone(), out.detector.clone()),
            matches!(out.outcome, Outcome::Scored { .. }),
        );
        state.outputs.push(out);
    }
    Ok((state, complete as u64))
}

fn csv_error(path: &Path, line: u64, field: &str, message: String) -> BenchError {
    BenchError::Csv {
        path: path.to_path_buf(),
        line,
        field: field.to_string(),
        message,
    }
}

fn parse_row(path: &Path, line: u64, r: &csv::StringRecord) -> Result<DetectorOutput> {
    if r.len() != HEADER.len() {
        return Err(csv_error(
            path,
            line,
            "",
            format!("expected {} fields, found {}", HEADER.len(), r.len()),
        ));
    }
    let field = |i: usize| r.get(i).unwrap_or("");
    let err = |i: usize, message: String| csv_error(path, line, HEADER[i], message);
    let parse_bool = |i: usize| match field(i) {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(err(
            i,
            format!("expected `true` or `false`, found `{other}`"),
        )),
    };
    let parse_u32 = |i: usize| {
        field(i).parse::<u32>().map_err(|_| {
            err(
                i,
                format!("expected a character count, found `{}`", field(i)),
            )
        })
    };
    let parse_f64 = |i: usize| {
        field(i)
            .parse::<f64>()
            .map_err(|_| err(i, format!("expected a number, found `{}`", field(i))))
    };
    let opt = |i: usize| Some(field(i).to_string()).filter(|s| !s.is_empty());
    let pair = PairMeta {
        key: field(0).to_string(),
        gold: parse_bool(2)?,
        lang: opt(3),
        kind: opt(4),
        len_a: parse_u32(5)?,
        len_b: parse_u32(6)?,
    };
    let outcome = if field(10).is_empty() {
        Outcome::Scored {
            score: parse_f64(7)?,
            verdict: parse_bool(8)?,
        }
    } else {
        for i in [7, 8] {
            if !field(i).is_empty() {
                return Err(err(i, "must be empty on a row with an error".into()));
            }
        }
        Outcome::Failed {
            error: field(10).to_string(),
        }
    };
    let out = DetectorOutput {
        pair,
        detector: field(1).to_string(),
        outcome,
        latency_ms: parse_f64(9)?,
    };
    out.validate().map_err(|e| match e {
        BenchError::InvalidOutput { field, message, .. } => csv_error(path, line, &field, message),
        other => other,
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(key: &str) -> PairMeta {
        PairMeta {
            key: key.into(),
            gold: key.len() % 2 == 0,
            lang: Some("fr".into()),
            kind: Some("neutral".into()),
            len_a: 40,
            len_b: 41,
        }
    }

    fn rows() -> Vec<DetectorOutput> {
        vec![
            DetectorOutput::scored(pair("p1"), "baseline", 0.1 + 0.2, true, 0.012_345),
            DetectorOutput::failed(pair("p,\"2\""), "llm", "HTTP 500:\nserver, sad", 1234.5),
            DetectorOutput::scored(
                PairMeta {
                    lang: None,
                    kind: None,
                    ..pair("p3")
                },
                "baseline",
                1.0 / 3.0,
                false,
                0.0,
            ),
        ]
    }

    #[test]
    fn round_trips_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        write_results(&path, &rows()).unwrap();
        let back = read_results(&path).unwrap();
        let mut want = rows();
        want[1].outcome = Outcome::Failed {
            error: "HTTP 500: server, sad".into(),
        };
        assert_eq!(back, want);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 4, "one line per row: {text}");
    }

    #[test]
    fn resume_drops_torn_tail_and_appends_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        let mut w = ResultsWriter::create(&path).unwrap();
        w.write(&rows()[0]).unwrap();
        w.flush().unwrap();
        drop(w);
        // A killed run: half a row, no newline.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"p9,baseline,tr").unwrap();
        drop(f);

        let state = resume(&path).unwrap();
        assert!(state.torn_tail);
        assert!(state.is_done("p1", "baseline"));
        assert!(!state.is_done("p9", "baseline"));

        let (mut w, state) = ResultsWriter::resume(&path).unwrap();
        assert_eq!(state.done_count(), 1);
        w.write(&rows()[1]).unwrap();
        w.flush().unwrap();
        drop(w);
        let state = resume(&path).unwrap();
        assert!(!state.torn_tail);
        assert_eq!(state.done_count(), 2);
        assert_eq!(state.failed(), [("p,\"2\"".to_string(), "llm".to_string())]);
        assert!(state.is_done("p,\"2\"", "llm") && !state.is_scored("p,\"2\"", "llm"));
    }

    #[test]
    fn resume_of_missing_or_torn_header_file_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        assert_eq!(resume(&path).unwrap().done_count(), 0);
        fs::write(&path, "pair_key,detec").unwrap();
        let (mut w, state) = ResultsWriter::resume(&path).unwrap();
        assert!(state.torn_tail);
        w.write(&rows()[0]).unwrap();
        drop(w);
        assert_eq!(read_results(&path).unwrap(), rows()[..1]);
    }

    fn write_raw(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn bad_files_name_line_and_field() {
        let h = HEADER.join(",");
        let cases = [
            ("a,b\n".to_string(), 1, "header"),
            (format!("{h}\np,m,yes,,,1,2,0.5,true,1,\n"), 2, "gold"),
            (
                format!("{h}\np,m,true,,,1,2,0.5,true,1,\np,m,true,,,x,2,0.5,true,1,\n"),
                3,
                "len_a",
            ),
            (format!("{h}\np,m,true,,,1,2,1.5,true,1,\n"), 2, "score"),
            (format!("{h}\np,m,true,,,1,2,abc,true,1,\n"), 2, "score"),
            (format!("{h}\np,m,true,,,1,2,0.5,maybe,1,\n"), 2, "verdict"),
            (
                format!("{h}\np,m,true,,,1,2,0.5,true,-3,\n"),
                2,
                "latency_ms",
            ),
            (format!("{h}\np,m,true,,,1,2,0.5,true,1,boom\n"), 2, "score"),
            (format!("{h}\n,m,true,,,1,2,0.5,true,1,\n"), 2, "pair_key"),
        ];
        for (text, want_line, want_field) in cases {
            let (_dir, path) = write_raw(&text);
            match read_results(&path).unwrap_err() {
                BenchError::Csv { line, field, .. } => {
                    assert_eq!((line, field.as_str()), (want_line, want_field), "{text}")
                }
                other => panic!("{other}"),
            }
        }
        let (_dir, path) = write_raw(&format!("{h}\np,m,true,,,1,2\n"));
        let e = read_results(&path).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("expected 11 fields"), "{e}");
    }

    #[test]
    fn a_bad_file_is_left_untouched_by_resume() {
        let (_dir, path) = write_raw("not,a,results,file\nrow\n");
        assert!(ResultsWriter::resume(&path).is_err());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "not,a,results,file\nrow\n"
        );
    }
}
