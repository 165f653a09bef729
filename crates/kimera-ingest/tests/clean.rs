//! The cleaner on whole documents: what a README or a package description keeps, with
//! the line of each claim and the skips counted per reason.

use kimera_ingest::{Claim, SkipReason, clean_document};

fn claims(doc: &str, markdown: bool) -> Vec<(String, u64)> {
    clean_document(doc, markdown, "und", false)
        .claims
        .into_iter()
        .map(|Claim { text, line }| (text, line))
        .collect()
}

fn own(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(t, l)| (t.to_string(), *l)).collect()
}

/// A README as crates ship them: badges, a table of contents, headings, code, a table,
/// a changelog, license boilerplate — and a handful of claims.
const README: &str = r#"<div align="center">
  <h1>fastjson</h1>
  <strong>A fast JSON library.</strong>
</div>

[![Crates.io](https://img.shields.io/crates/v/fastjson.svg)](https://crates.io/crates/fastjson)
[![docs.rs](https://docs.rs/fastjson/badge.svg)](https://docs.rs/fastjson)

- [Installation](#installation)
- [Support](#support)

Fastjson
========

[fastjson](https://github.com/x/fastjson) is a JSON parser written in Rust.
It parses 2 GB of JSON per second on one core,
which is faster than most parsers.

## Installation

Add this to your `Cargo.toml`:

```toml
[dependencies]
fastjson = "1.2"
```

    let v = fastjson::parse(s)?;

## Features

- Zero-copy deserialization
- The parser never allocates for borrowed strings.
- Supports `no_std`
  with the `alloc` feature.

Feature | Default
--- | ---
`std` | yes

![diagram](docs/diagram.png)

> **Note:** the API is not stable yet.

Why not use serde_json?

## Changelog

### 1.2.0 (2023-05-01)

- Fixed #123 (#581)
- Fixed a panic on empty input.
* @alice made their first contribution in https://github.com/x/fastjson/pull/581

**Full Changelog**: https://github.com/x/fastjson/compare/v1.1.0...v1.2.0

## License

Licensed under either of

* Apache License, Version 2.0, ([LICENSE-APACHE](LICENSE-APACHE) or http://www.apache.org/licenses/LICENSE-2.0)
* MIT license ([LICENSE-MIT](LICENSE-MIT) or http://opensource.org/licenses/MIT)

at your option.

[docs]: https://docs.rs/fastjson
"#;

#[test]
fn a_readme_keeps_its_claims_with_their_lines() {
    assert_eq!(
        claims(README, true),
        own(&[
            ("fastjson is a JSON parser written in Rust.", 15),
            (
                "It parses 2 GB of JSON per second on one core, which is faster than most parsers.",
                16
            ),
            ("The parser never allocates for borrowed strings.", 33),
            ("Supports no_std with the alloc feature.", 34),
            ("Note: the API is not stable yet.", 43),
        ])
    );
}

#[test]
fn a_readme_counts_its_skips_per_reason() {
    let c = clean_document(README, true, "und", false).skipped;
    let got: Vec<(SkipReason, u64)> = c.nonzero().collect();
    assert_eq!(
        got,
        vec![
            (SkipReason::Code, 5),  // the fences, the toml, the indented line
            (SkipReason::Table, 3), // header, delimiter and one row
            (SkipReason::Html, 4),
            (SkipReason::Heading, 6), // setext "Fastjson" and five ATX headings
            (SkipReason::LinkDefinition, 1),
            (SkipReason::Badge, 2),
            (SkipReason::Image, 1),
            (SkipReason::LinkOnly, 2),
            (SkipReason::Changelog, 4),
            (SkipReason::Boilerplate, 4),
            (SkipReason::Question, 1),
            (SkipReason::Instruction, 1),
            (SkipReason::NoVerb, 1),
        ]
    );
}

#[test]
fn keep_all_keeps_every_sentence_as_before() {
    let doc = "# Facts\n\n- The Nile is long.\n- No dependencies\n\n```\ncode here.\n```\n";
    let all = clean_document(doc, true, "und", true);
    assert_eq!(
        all.claims
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>(),
        ["Facts", "The Nile is long.", "No dependencies"]
    );
    let clean = clean_document(doc, true, "und", false);
    assert_eq!(
        clean
            .claims
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>(),
        ["The Nile is long."]
    );
    assert_eq!(clean.skipped.get(SkipReason::Heading), 1);
    assert_eq!(clean.skipped.get(SkipReason::NoVerb), 1);
    assert_eq!(clean.skipped.get(SkipReason::Code), 3);
}

#[test]
fn plain_text_goes_through_the_sentence_rules_only() {
    let doc = "Water boils at 100 °C.\nSee https://example.org/boiling\n\
               # not a heading in a text file\nDogs bark.\nFull Changelog: v1...v2\n";
    let c = clean_document(doc, false, "und", false);
    assert_eq!(
        c.claims
            .iter()
            .map(|c| (c.text.as_str(), c.line))
            .collect::<Vec<_>>(),
        [("Water boils at 100 °C.", 1), ("Dogs bark.", 4)]
    );
    assert_eq!(c.skipped.get(SkipReason::TooShort), 1); // "See <url>": one word
    assert_eq!(c.skipped.get(SkipReason::NoVerb), 1); // "# not a heading …"
    assert_eq!(c.skipped.get(SkipReason::Changelog), 1);
}

#[test]
fn list_items_that_are_sentences_stay_and_wrap() {
    let doc = "Highlights:\n\n\
               1. The cache is persistent and\n   survives restarts.\n\
               2. [Tokio](https://tokio.rs) runs the server.\n\
               3. Fast\n\
               * [ ] Queries are cached.\n";
    assert_eq!(
        claims(doc, true),
        own(&[
            ("The cache is persistent and survives restarts.", 3),
            ("Tokio runs the server.", 5),
            ("Queries are cached.", 7),
        ])
    );
}

#[test]
fn other_languages_skip_only_what_the_structure_says() {
    let doc = "# Titre\n\nLe chat mange la souris.\n\nالأرض كروية\n";
    let c = clean_document(doc, true, "fr", false);
    assert_eq!(
        c.claims.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(),
        ["Le chat mange la souris.", "الأرض كروية"]
    );
    assert_eq!(c.skipped.get(SkipReason::Heading), 1);
}
