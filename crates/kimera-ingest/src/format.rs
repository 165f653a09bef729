//! Format detection from extension and header.

use std::fmt;
use std::io::{BufReader, Read};
use std::path::Path;
use std::str::FromStr;

use crate::IngestError;

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// CSV `text,lang`.
    Statements,
    /// CSV `id,lang,text,label_contradict_id`.
    Linked,
    /// CSV `pair_id,text1,text2,label,lang,type`.
    Pairs,
    /// SICK tab-separated pairs.
    Sick,
    /// One JSON object per line.
    Jsonl,
    /// Plain text or Markdown, one statement per sentence.
    Text,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Statements,
        Format::Linked,
        Format::Pairs,
        Format::Sick,
        Format::Jsonl,
        Format::Text,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Statements => "statements",
            Format::Linked => "linked",
            Format::Pairs => "pairs",
            Format::Sick => "sick",
            Format::Jsonl => "jsonl",
            Format::Text => "text",
        }
    }

    /// Columns a delimited format needs in its header.
    pub(crate) fn required_columns(self) -> &'static [&'static str] {
        match self {
            Format::Statements => &["text"],
            Format::Linked => &["id", "text"],
            Format::Pairs => &["text1", "text2"],
            Format::Sick => &["sentence_A", "sentence_B"],
            Format::Jsonl | Format::Text => &[],
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s) || (s == "md" && *f == Format::Text))
            .ok_or_else(|| {
                format!(
                    "unknown format `{s}` (expected one of: {})",
                    Format::ALL.map(Format::name).join(", ")
                )
            })
    }
}

/// Extensions `ingest` picks up when walking a directory.
pub(crate) const EXTENSIONS: &[&str] = &["csv", "tsv", "txt", "jsonl", "ndjson", "md", "markdown"];

/// Detects the format of `path` from its extension and first line.
pub fn detect_format(path: &Path) -> Result<Format, IngestError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "jsonl" | "ndjson" => return Ok(Format::Jsonl),
        "md" | "markdown" => return Ok(Format::Text),
        _ => {}
    }
    let file = std::fs::File::open(path).map_err(|e| IngestError::io(path, e))?;
    let mut head = Vec::new();
    BufReader::new(file)
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(|e| IngestError::io(path, e))?;
    // like grep and ripgrep: a NUL byte near the start means binary (or UTF-16)
    if let Some(at) = head[..head.len().min(8192)].iter().position(|&b| b == 0) {
        return Err(IngestError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "not a text file: a NUL byte at byte {at}; kimera reads UTF-8 CSV, TSV, \
                 JSONL, text and Markdown (binary data? UTF-16 text? save it as UTF-8)"
            ),
        });
    }
    let first = match head.iter().position(|&b| b == b'\n') {
        Some(i) => &head[..=i],
        None => &head[..],
    };
    if first.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    let header = String::from_utf8_lossy(first);
    let header = header.trim_start_matches('\u{feff}').trim_end();
    let lower = header.to_ascii_lowercase();
    if lower.starts_with("pair_id\tsentence_a\tsentence_b")
        || (lower.contains('\t') && lower.contains("sentence_a"))
    {
        return Ok(Format::Sick);
    }
    let cols: Vec<&str> = lower
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    let has = |c: &str| cols.contains(&c);
    if has("text1") && has("text2") {
        return Ok(Format::Pairs);
    }
    if has("id") && has("text") && has("label_contradict_id") {
        return Ok(Format::Linked);
    }
    if has("text") {
        return Ok(if has("id") {
            Format::Linked
        } else {
            Format::Statements
        });
    }
    if ext == "txt" {
        return Ok(Format::Text);
    }
    if header.starts_with('{') {
        return Ok(Format::Jsonl);
    }
    Err(IngestError::UnknownFormat {
        path: path.to_path_buf(),
        why: format!(
            "header `{}` matches no known format",
            kimera_core::printable(&truncate(header, 80))
        ),
    })
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(name: &str, content: &str) -> Result<Format, IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        detect_format(&p)
    }

    #[test]
    fn headers_pick_the_format() {
        assert_eq!(
            detect("a.csv", "text,lang\nx,en\n").unwrap(),
            Format::Statements
        );
        assert_eq!(
            detect("a.csv", "id,lang,text,label_contradict_id\n").unwrap(),
            Format::Linked
        );
        assert_eq!(
            detect("a.csv", "pair_id,text1,text2,label,lang,type\n").unwrap(),
            Format::Pairs
        );
        assert_eq!(
            detect(
                "a.tsv",
                "pair_ID\tsentence_A\tsentence_B\tentailment_label\n"
            )
            .unwrap(),
            Format::Sick
        );
        assert_eq!(detect("a.txt", "Hello world. Bye.").unwrap(), Format::Text);
        assert_eq!(detect("a.md", "# Title").unwrap(), Format::Text);
        assert_eq!(detect("a.jsonl", "").unwrap(), Format::Jsonl);
        assert_eq!(
            detect("a.csv", "\u{feff}text,lang\n").unwrap(),
            Format::Statements
        );
    }

    #[test]
    fn unknown_and_empty_files_get_clear_errors() {
        let e = detect("a.csv", "foo,bar\n1,2\n").unwrap_err().to_string();
        assert!(
            e.contains("cannot tell the format") && e.contains("foo,bar"),
            "{e}"
        );
        let e = detect("a.csv", "").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        assert_eq!("SICK".parse::<Format>().unwrap(), Format::Sick);
        assert!("xml".parse::<Format>().unwrap_err().contains("statements"));
    }
}
