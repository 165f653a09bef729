//! Shows what the cleaner keeps and skips in text or Markdown files, line by line.
//!
//! `cargo run -p kimera-ingest --example clean -- README.md [--lang en] [--skipped] [--counts]`
//! prints `KEEP line: text` for each claim (and `SKIP reason line: text` with
//! `--skipped`), or only the counts per reason with `--counts`.

use std::path::PathBuf;

fn main() {
    let mut files = Vec::new();
    let (mut lang, mut skipped, mut counts) = ("und".to_string(), false, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--lang" => lang = args.next().expect("--lang LANG"),
            "--skipped" => skipped = true,
            "--counts" => counts = true,
            _ => files.push(PathBuf::from(a)),
        }
    }
    let mut total = kimera_ingest::SkipCounts::default();
    let mut kept = 0usize;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let doc = kimera_ingest::clean_document(&text, kimera_ingest::is_markdown(f), &lang, false);
        kept += doc.claims.len();
        total += doc.skipped;
        if counts {
            continue;
        }
        let mut lines: Vec<(u64, String)> = doc
            .claims
            .iter()
            .map(|c| {
                (
                    c.line,
                    format!("KEEP {}:{}: {}", f.display(), c.line, c.text),
                )
            })
            .collect();
        if skipped {
            lines.extend(doc.skipped_items.iter().map(|s| {
                (
                    s.line,
                    format!("SKIP {} {}:{}: {}", s.reason, f.display(), s.line, s.text),
                )
            }));
        }
        lines.sort_by_key(|l| l.0);
        for (_, l) in lines {
            println!("{l}");
        }
    }
    println!("kept {kept}");
    for (r, n) in total.nonzero() {
        println!("skipped {r}: {n}");
    }
}
