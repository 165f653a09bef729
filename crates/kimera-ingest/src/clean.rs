//! Keeping claims: which parts of a text or Markdown document are statements that can be
//! true or false, and why the rest is skipped.
//!
//! Documents carry much besides claims: headings, badges, link lists, code, tables,
//! changelog lines, license boilerplate, list labels. Stored as statements, these flood
//! the detectors with pairs nobody could call contradictory ("No dependencies" vs
//! "Dependencies", "(#581)" vs "(#481)"). The cleaner keeps a statement only if it
//! passes every rule below, and counts what it skips per [`SkipReason`].
//!
//! **Markdown structure** (line by line): front matter, fenced and indented code,
//! doctest and shell prompts (`>>> `, `$ `), tables (pipe rows and the header above a
//! `---|---` row), HTML blocks and tag-only lines, headings (ATX `#` and setext
//! underlines), link reference definitions (`[x]: https://…`), and lines made only of
//! links or images (badges, tables of contents, "[Docs](…) | [API](…)") are skipped.
//! List items and quotes lose their markers and stay. Inside a kept line, a link keeps
//! its text and loses its target (`[serde](https://serde.rs) is a framework` →
//! `serde is a framework`), images and inline HTML tags are removed, and `**`, `__`
//! and backticks are dropped; everything else is kept byte for byte.
//!
//! **Sentences** (each sentence after splitting, in text and Markdown files):
//! - `changelog`: an issue or pull-request reference (`#123`, `…/pull/581`), a credited
//!   handle (`by @alice`, `@bob made their first contribution`), "Full Changelog", or a
//!   version header made only of versions, dates and release words (`1.2.0 (2023-05-01)`);
//! - `boilerplate`: license and contribution boilerplate ("Licensed under either of",
//!   "at your option", "Unless you explicitly state otherwise, any contribution
//!   intentionally submitted…", "Copyright (c)");
//! - `link_only`: nothing but URLs;
//! - `question`: ends with a question mark;
//! - `too_short`: fewer than two words (a word has a letter; numbers do not count);
//! - `instruction`: an imperative — it starts with a verb's base form ("Add this to
//!   your Cargo.toml", "Use std.", "See the docs") and has no finite verb after it;
//! - `no_verb`: no finite verb — no auxiliary ("is", "has", "can", "doesn't", …), no
//!   third-person or past form of a known verb ("boils", "provided", "wrote") or generic
//!   `-ed` word unless right after an article, possessive, preposition or number ("the
//!   added value"), no base form after a plural subject ("Dogs bark", "we use").
//!
//! The verb rules know English (and the auxiliaries of French, Spanish, German, Italian
//! and Portuguese); they apply when the language is `und` or `en` and the text is
//! mostly ASCII letters. Other languages (a `--lang` other than en/und, or another
//! script such as Arabic) get every rule but `instruction` and `no_verb`. A claim is
//! thus at least two words with a finite verb: "Water boils at 100 °C." and "Dogs
//! bark." stay; "Zero-copy deserialization", "No dependencies", "Easy to use" go.

use std::fmt;

use serde::Serialize;

use crate::verbs::{AUXILIARIES, VERBS};

/// Why a candidate statement was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// YAML front matter between `---` lines at the top of a Markdown file (lines).
    FrontMatter,
    /// Fenced or indented code, doctest and shell prompt lines (lines).
    Code,
    /// Table rows (lines).
    Table,
    /// HTML blocks, comments and tag-only lines (lines).
    Html,
    /// ATX and setext headings.
    Heading,
    /// Link reference definitions: `[label]: https://…`.
    LinkDefinition,
    /// Lines made only of badge images (shields.io, CI status, …), linked or not.
    Badge,
    /// Lines made only of other images.
    Image,
    /// Lines or sentences made only of links, URLs or references.
    LinkOnly,
    /// Changelog lines: issue/PR references, credited handles, version headers.
    Changelog,
    /// License and contribution boilerplate.
    Boilerplate,
    /// Questions.
    Question,
    /// Lead-ins: a sentence ending with a colon introduces what follows ("You can use
    /// bitflags to:") and says nothing true or false by itself.
    LeadIn,
    /// Imperatives: instructions to the reader.
    Instruction,
    /// No finite verb: labels, titles, noun phrases.
    NoVerb,
    /// Fewer than two words.
    TooShort,
}

impl SkipReason {
    /// Every reason, in the order summaries list them.
    pub const ALL: [SkipReason; 16] = [
        SkipReason::FrontMatter,
        SkipReason::Code,
        SkipReason::Table,
        SkipReason::Html,
        SkipReason::Heading,
        SkipReason::LinkDefinition,
        SkipReason::Badge,
        SkipReason::Image,
        SkipReason::LinkOnly,
        SkipReason::Changelog,
        SkipReason::Boilerplate,
        SkipReason::Question,
        SkipReason::LeadIn,
        SkipReason::Instruction,
        SkipReason::NoVerb,
        SkipReason::TooShort,
    ];

    /// The snake_case name used in JSON and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::FrontMatter => "front_matter",
            SkipReason::Code => "code",
            SkipReason::Table => "table",
            SkipReason::Html => "html",
            SkipReason::Heading => "heading",
            SkipReason::LinkDefinition => "link_definition",
            SkipReason::Badge => "badge",
            SkipReason::Image => "image",
            SkipReason::LinkOnly => "link_only",
            SkipReason::Changelog => "changelog",
            SkipReason::Boilerplate => "boilerplate",
            SkipReason::Question => "question",
            SkipReason::LeadIn => "lead_in",
            SkipReason::Instruction => "instruction",
            SkipReason::NoVerb => "no_verb",
            SkipReason::TooShort => "too_short",
        }
    }

    /// Whether the reason counts lines of a block (code, tables, HTML, front matter)
    /// rather than statements.
    pub fn counts_lines(self) -> bool {
        matches!(
            self,
            SkipReason::FrontMatter | SkipReason::Code | SkipReason::Table | SkipReason::Html
        )
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many candidates were skipped, per reason. Serialised as a map from every
/// reason's name to its count (zeros included, so the JSON has a fixed shape).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkipCounts([u64; SkipReason::ALL.len()]);

impl SkipCounts {
    pub fn add(&mut self, reason: SkipReason, n: u64) {
        self.0[reason as usize] += n;
    }

    pub fn get(&self, reason: SkipReason) -> u64 {
        self.0[reason as usize]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The reasons with a count, in [`SkipReason::ALL`] order.
    pub fn nonzero(&self) -> impl Iterator<Item = (SkipReason, u64)> + '_ {
        SkipReason::ALL
            .iter()
            .map(|&r| (r, self.get(r)))
            .filter(|&(_, n)| n > 0)
    }
}

impl std::ops::AddAssign for SkipCounts {
    fn add_assign(&mut self, o: SkipCounts) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a += b;
        }
    }
}

impl Serialize for SkipCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(SkipReason::ALL.len()))?;
        for r in SkipReason::ALL {
            m.serialize_entry(r.as_str(), &self.get(r))?;
        }
        m.end()
    }
}

/// What the cleaner made of one candidate statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleaned {
    /// A claim, as it is stored (links reduced to their text).
    Claim(String),
    /// Not a claim, and why.
    Skip(SkipReason),
}

/// Cleans one candidate statement given alone (not split into sentences): the line
/// rules of Markdown (heading, table row, HTML, link definition, links or images only),
/// then its links reduced to their text, then the sentence rules (see the module docs).
/// `lang` is the statement's language (`und` when unknown).
///
/// ```
/// use kimera_ingest::{clean_statement, Cleaned, SkipReason};
/// assert_eq!(
///     clean_statement("[serde](https://serde.rs) is a framework for serializing data.", "und"),
///     Cleaned::Claim("serde is a framework for serializing data.".into())
/// );
/// assert_eq!(clean_statement("Fixed a panic in the parser (#581)", "und"), Cleaned::Skip(SkipReason::Changelog));
/// assert_eq!(clean_statement("## Installation", "und"), Cleaned::Skip(SkipReason::Heading));
/// assert_eq!(clean_statement("Water boils at 100 °C.", "en"), Cleaned::Claim("Water boils at 100 °C.".into()));
/// ```
pub fn clean_statement(text: &str, lang: &str) -> Cleaned {
    let l = text.trim();
    if let Some(reason) = line_debris(l) {
        return Cleaned::Skip(reason);
    }
    let l = strip_block_markers(l);
    let inline = rewrite_inline(l);
    if let Some(reason) = inline.only_links() {
        return Cleaned::Skip(reason);
    }
    let t = inline.text.trim();
    match classify_sentence(t, lang) {
        Ok(()) => Cleaned::Claim(t.to_string()),
        Err(r) => Cleaned::Skip(r),
    }
}

/// Line-level debris recognisable on one line alone (used by [`clean_statement`]; the
/// document cleaner tracks blocks across lines instead).
fn line_debris(l: &str) -> Option<SkipReason> {
    if is_atx_heading(l) {
        return Some(SkipReason::Heading);
    }
    if is_link_definition(l) {
        return Some(SkipReason::LinkDefinition);
    }
    if l.starts_with('|') || is_table_delimiter(l) {
        return Some(SkipReason::Table);
    }
    if l.starts_with(">>> ") || l.starts_with("$ ") {
        return Some(SkipReason::Code);
    }
    if starts_html(l).is_some() {
        return Some(SkipReason::Html);
    }
    None
}

/// `# Title`, `## Title ##`, `#` alone: an ATX heading (not `#123` or `#[derive]`).
pub(crate) fn is_atx_heading(l: &str) -> bool {
    let hashes = l.bytes().take_while(|&b| b == b'#').count();
    (1..=6).contains(&hashes) && l[hashes..].chars().next().is_none_or(char::is_whitespace)
}

/// `[label]: destination` (not a footnote `[^1]: text`).
pub(crate) fn is_link_definition(l: &str) -> bool {
    if !l.starts_with('[') || l.starts_with("[^") {
        return false;
    }
    match l.find("]:") {
        Some(i) if i > 1 => !l[i + 2..].trim().is_empty() && !l[1..i].contains(']'),
        _ => false,
    }
}

/// A table's delimiter row: `---|---`, `| :-- | --: |`.
pub(crate) fn is_table_delimiter(l: &str) -> bool {
    l.contains('|')
        && l.contains('-')
        && l.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
}

/// HTML at the start of a line: a block (ends at a blank line), a comment (ends at
/// `-->`), or a line holding nothing but tags. `None` for text that merely starts with
/// an inline tag ("<b>Note</b>: it works.") and for autolinks (`<https://…>`).
pub(crate) fn starts_html(l: &str) -> Option<HtmlStart> {
    if !l.starts_with('<') {
        return None;
    }
    if l.starts_with("<!--") {
        return Some(if l.contains("-->") {
            HtmlStart::Line
        } else {
            HtmlStart::Comment
        });
    }
    let name: String = l[1..]
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if name.is_empty() {
        return None;
    }
    if l[1 + name.len()..].starts_with(':') || l.as_bytes().get(1) == Some(&b'!') {
        return None; // an autolink `<https://…>` (or a doctype, rare)
    }
    if BLOCK_TAGS.contains(&name.as_str()) {
        return Some(HtmlStart::Block);
    }
    let rest = strip_tags(l);
    if rest.chars().all(|c| !c.is_alphanumeric()) {
        Some(HtmlStart::Line)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HtmlStart {
    /// An HTML block: this line and the following ones up to a blank line.
    Block,
    /// A comment that goes on past this line, up to `-->`.
    Comment,
    /// This line only.
    Line,
}

/// HTML block tags (CommonMark's type 6 and 1): a line opening with one starts a block.
const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "center",
    "details",
    "dialog",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hr",
    "html",
    "iframe",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "picture",
    "pre",
    "script",
    "section",
    "style",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
    "video",
];

fn strip_tags(l: &str) -> String {
    let mut out = String::with_capacity(l.len());
    let mut rest = l;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        match rest[i..].find('>') {
            Some(j) => rest = &rest[i + j + 1..],
            None => {
                rest = &rest[i..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Removes list, task and quote markers: `- `, `* `, `+ `, `1. `, `1) `, `[ ] `, `> `.
pub(crate) fn strip_block_markers(mut l: &str) -> &str {
    loop {
        let before = l;
        l = l.trim_start();
        if let Some(r) = l.strip_prefix('>') {
            l = r;
        } else if let Some(r) = l
            .strip_prefix("- ")
            .or_else(|| l.strip_prefix("* "))
            .or_else(|| l.strip_prefix("+ "))
        {
            l = r;
        } else if let Some(n) = ordered_marker(l) {
            l = &l[n..];
        } else if let Some(r) = ["[ ] ", "[x] ", "[X] "]
            .iter()
            .find_map(|p| l.strip_prefix(p))
        {
            l = r;
        }
        if l == before {
            return l.trim_start();
        }
    }
}

/// Length of an ordered list marker (`12. ` or `3) `) at the start of `l`.
pub(crate) fn ordered_marker(l: &str) -> Option<usize> {
    let digits = l.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let rest = &l[digits..];
    (rest.starts_with(". ") || rest.starts_with(") ")).then_some(digits + 2)
}

/// Whether `l` starts with a list item marker.
pub(crate) fn is_list_item(l: &str) -> bool {
    l.starts_with("- ")
        || l.starts_with("* ")
        || l.starts_with("+ ")
        || ordered_marker(l).is_some()
        || matches!(l, "-" | "*" | "+")
}

/// A Markdown line with its links reduced to their text.
#[derive(Debug, Default)]
pub(crate) struct Inline {
    /// The readable text.
    pub text: String,
    /// Whether anything but links, images, tags and punctuation is on the line.
    pub words_outside_links: bool,
    pub links: u32,
    pub images: u32,
    pub badges: u32,
}

impl Inline {
    /// The reason to skip a line made only of links or images.
    pub fn only_links(&self) -> Option<SkipReason> {
        if self.words_outside_links {
            return None;
        }
        if self.badges > 0 {
            Some(SkipReason::Badge)
        } else if self.images > 0 && self.links == 0 {
            Some(SkipReason::Image)
        } else if self.links > 0 || self.images > 0 {
            Some(SkipReason::LinkOnly)
        } else {
            None
        }
    }
}

/// Hints that an image is a badge (shields, CI status, coverage, docs.rs badges).
fn is_badge(alt: &str, target: &str) -> bool {
    let t = target.to_ascii_lowercase();
    let a = alt.to_ascii_lowercase();
    [
        "shields.io",
        "badge",
        "travis-ci",
        "codecov",
        "circleci",
        "appveyor",
        "/workflows/",
        "/actions/",
        "coveralls",
        "badgen",
        "deps.rs",
        "shield",
    ]
    .iter()
    .any(|h| t.contains(h))
        || ["badge", "build status", "shield"]
            .iter()
            .any(|h| a.contains(h))
}

/// Index of the `]` closing the `[` at `open`, with nesting.
fn close_bracket(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A link's target after its `]` at `at`: `(url "title")` (possibly unclosed on this
/// line, when the target is on the next one) or `[ref]`. Returns the target and the
/// index after it.
fn link_target(s: &str, at: usize) -> Option<(&str, usize)> {
    let b = s.as_bytes();
    match b.get(at) {
        Some(b'(') => {
            let mut depth = 0usize;
            for (i, &c) in b.iter().enumerate().skip(at) {
                match c {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some((&s[at + 1..i], i + 1));
                        }
                    }
                    _ => {}
                }
            }
            Some((&s[at + 1..], b.len()))
        }
        Some(b'[') => {
            let end = s[at..].find(']')? + at;
            Some((&s[at + 1..end], end + 1))
        }
        _ => None,
    }
}

/// Reduces a Markdown line's inline syntax to readable text (see the module docs).
pub(crate) fn rewrite_inline(s: &str) -> Inline {
    let mut out = Inline::default();
    rewrite_into(s, &mut out, false);
    out
}

fn rewrite_into(s: &str, out: &mut Inline, in_link: bool) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let next = s[i..]
            .find(['!', '[', '<', '`', '*', '_'])
            .map_or(b.len(), |j| i + j);
        if next > i {
            let plain = &s[i..next];
            if !in_link && plain.chars().any(char::is_alphanumeric) {
                out.words_outside_links = true;
            }
            out.text.push_str(plain);
            i = next;
            continue;
        }
        match b[i] {
            b'!' if b.get(i + 1) == Some(&b'[') => {
                if let Some(close) = close_bracket(b, i + 1) {
                    let alt = &s[i + 2..close];
                    let (target, after) = link_target(s, close + 1).unwrap_or((alt, close + 1));
                    out.images += 1;
                    if is_badge(alt, target) {
                        out.badges += 1;
                    }
                    i = after;
                } else {
                    out.text.push('!');
                    i += 1;
                }
            }
            b'[' => match close_bracket(b, i) {
                Some(close) => {
                    let inner = &s[i + 1..close];
                    let target = link_target(s, close + 1);
                    let reference = inner.starts_with('^')
                        || (!inner.is_empty() && inner.bytes().all(|c| c.is_ascii_digit()));
                    if reference && target.is_none() {
                        // a footnote or citation mark: [^1], [3]
                        out.links += 1;
                        i = close + 1;
                        continue;
                    }
                    out.links += 1;
                    rewrite_into(inner, out, true);
                    i = target.map_or(close + 1, |(_, after)| after);
                }
                None => {
                    out.text.push('[');
                    i += 1;
                }
            },
            b'<' => {
                let end = s[i..].find('>').map(|j| i + j);
                let inner = end.map(|e| &s[i + 1..e]);
                match (end, inner) {
                    (Some(e), Some(u)) if is_url(u) => {
                        // an autolink: the URL is the text
                        out.links += 1;
                        out.text.push_str(u);
                        i = e + 1;
                    }
                    (Some(e), Some(tag))
                        if tag
                            .trim_start_matches('/')
                            .starts_with(|c: char| c.is_ascii_alphabetic()) =>
                    {
                        let lower = tag.to_ascii_lowercase();
                        if lower.starts_with("img") {
                            out.images += 1;
                            if is_badge(&lower, &lower) {
                                out.badges += 1;
                            }
                        }
                        i = e + 1;
                    }
                    _ => {
                        out.text.push('<');
                        i += 1;
                    }
                }
            }
            b'`' => i += 1,
            b'*' if b.get(i + 1) == Some(&b'*') => i += 2,
            b'_' if b.get(i + 1) == Some(&b'_') => i += 2,
            c => {
                out.text.push(c as char);
                i += 1;
            }
        }
    }
}

fn is_url(s: &str) -> bool {
    let l = s.trim_start_matches('<');
    l.starts_with("http://")
        || l.starts_with("https://")
        || l.starts_with("ftp://")
        || l.starts_with("mailto:")
        || l.starts_with("www.")
}

/// License and contribution boilerplate (lower case).
const BOILERPLATE: &[&str] = &[
    "licensed under",
    "license, version 2.0",
    "apache license",
    "mit license",
    "at your option",
    "contribution intentionally submitted",
    "dual licensed",
    "dual-licensed",
    "all rights reserved",
    "copyright (c)",
    "copyright ©",
    "permission is hereby granted",
    "provided \"as is\"",
    "without warranties or conditions",
    "without any additional terms or conditions",
    "distributed under the",
    "released under the",
    "under the terms of the",
    "spdx-license-identifier",
    "code of conduct",
    "merchantability",
    "the software is provided",
    "in connection with the software",
];

/// Words after which a verb form is a noun or adjective ("the added value", "of tests",
/// "2 builds").
const BLOCKERS: &[&str] = &[
    "a", "an", "the", "no", "any", "some", "all", "every", "each", "our", "your", "its", "their",
    "my", "his", "her", "these", "those", "many", "few", "several", "other", "such", "of", "for",
    "with", "in", "on", "to", "from", "by", "at", "into", "via", "about", "over", "under",
    "without", "between", "per", "as", "like", "than", "and", "or",
];

/// Subjects after which a base form is finite ("we use", "they need").
const PLURAL_PRONOUNS: &[&str] = &["i", "you", "we", "they", "who", "which", "that"];

/// Subjects after which an unknown word in `-s` is a verb ("it frobnicates").
const SINGULAR_PRONOUNS: &[&str] = &["he", "she", "it", "this", "that", "which", "who", "one"];

/// Adverbs that may stand between a subject and its verb.
const ADVERBS: &[&str] = &[
    "also",
    "often",
    "never",
    "always",
    "still",
    "only",
    "just",
    "even",
    "now",
    "then",
    "already",
    "sometimes",
    "usually",
    "not",
    "rarely",
    "mostly",
    "simply",
];

/// Words after which `'s` is "is" or "has".
const S_CONTRACTIONS: &[&str] = &[
    "it", "that", "there", "here", "what", "who", "he", "she", "this", "where", "let", "how",
];

/// The words of a sentence for the verb rules: whitespace-separated tokens without URLs,
/// trimmed of punctuation, lower case, that hold a letter.
fn words(s: &str) -> Vec<String> {
    s.split_whitespace()
        .filter(|t| !t.contains("://") && !t.starts_with("www.") && !t.contains('@'))
        .map(|t| {
            t.trim_matches(|c: char| !c.is_alphanumeric())
                .replace('’', "'")
                .to_lowercase()
        })
        .filter(|t| t.chars().any(char::is_alphabetic))
        .collect()
}

/// Whether the verb rules apply: English or unknown language, mostly ASCII letters.
fn verb_rules_apply(text: &str, lang: &str) -> bool {
    let l = lang.to_ascii_lowercase();
    if !(l == "und" || l == "en" || l.starts_with("en-") || l.starts_with("en_")) {
        return false;
    }
    let (mut ascii, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if c.is_ascii() {
            ascii += 1;
        }
    }
    letters > 0 && ascii * 10 >= letters * 8
}

/// Whether `words[from..]` holds a finite verb (see the module docs).
fn finite_verb(w: &[String], from: usize) -> bool {
    for i in from..w.len() {
        let x = w[i].as_str();
        if x.ends_with("n't")
            || [("'re"), ("'ve"), ("'ll"), ("'m"), ("'d")]
                .iter()
                .any(|s| x.ends_with(s))
            || x.strip_suffix("'s")
                .is_some_and(|b| S_CONTRACTIONS.contains(&b))
            || AUXILIARIES.contains(&x)
        {
            return true;
        }
        // the subject: the word before, skipping adverbs
        let mut j = i;
        while j > 0 && (ADVERBS.contains(&w[j - 1].as_str()) || w[j - 1].ends_with("ly")) {
            j -= 1;
        }
        let prev = if j > 0 { w[j - 1].as_str() } else { "" };
        let blocked = BLOCKERS.contains(&prev)
            || (!prev.is_empty() && prev.chars().all(|c| c.is_ascii_digit()));
        if VERBS.is_finite(x) && !blocked {
            return true;
        }
        let compound = j >= 2 && w[j - 2] == "and"; // "Condvar, RwLock and Once work"
        if VERBS.is_base(x) && i > 0 && (plural_subject(prev) || compound) {
            return true;
        }
        if ["i", "you", "we", "they"].contains(&prev)
            && x.chars().all(char::is_alphabetic)
            && !BLOCKERS.contains(&x)
        {
            // "we frobnicate": whatever follows a plural pronoun is its verb
            return true;
        }
        if SINGULAR_PRONOUNS.contains(&prev)
            && x.len() > 3
            && x.ends_with('s')
            && !x.ends_with("ss")
            && x.chars().all(char::is_alphabetic)
        {
            return true;
        }
    }
    false
}

/// A plural subject: "we", "they", or a plural noun ("dogs", "users").
fn plural_subject(prev: &str) -> bool {
    if PLURAL_PRONOUNS.contains(&prev) {
        return true;
    }
    prev.len() > 3
        && prev.ends_with('s')
        && !prev.ends_with("ss")
        && !prev.ends_with("us")
        && !prev.ends_with("is")
        && !VERBS.is_finite(prev)
        && !BLOCKERS.contains(&prev)
        && prev.chars().all(char::is_alphabetic)
}

/// Whether `s` is a changelog line (see the module docs).
fn is_changelog(s: &str, lower: &str) -> bool {
    if lower.contains("first contribution")
        || lower
            .trim_start_matches(|c: char| !c.is_alphanumeric())
            .starts_with("full changelog")
        || ["/pull/", "/issues/", "/commit/", "/compare/"]
            .iter()
            .any(|p| lower.contains(p))
        || lower.starts_with('@')
        || [" by @", "(@", "[@", "thanks @", "thanks to @", ", @"]
            .iter()
            .any(|p| lower.contains(p))
    {
        return true;
    }
    has_issue_ref(s) || is_version_header(lower) || is_change_entry(s)
}

/// Past tenses that open changelog entries ("Fixed a panic …", "Bumped MSRV to 1.70").
const CHANGE_VERBS: &[&str] = &[
    "added",
    "fixed",
    "removed",
    "changed",
    "deprecated",
    "updated",
    "bumped",
    "improved",
    "renamed",
    "reverted",
    "merged",
    "refactored",
    "implemented",
    "introduced",
    "upgraded",
    "replaced",
    "moved",
    "dropped",
    "exposed",
    "optimized",
    "optimised",
    "reworked",
    "rewrote",
    "simplified",
    "documented",
    "migrated",
    "switched",
    "relaxed",
    "tightened",
    "stabilized",
    "stabilised",
    "corrected",
    "restored",
    "disabled",
    "enabled",
];

/// Prefixes of conventional commits and keep-a-changelog entries ("fix: …", "breaking: …").
const CHANGE_PREFIXES: &[&str] = &[
    "feat",
    "fix",
    "fixes",
    "chore",
    "docs",
    "refactor",
    "perf",
    "ci",
    "build",
    "test",
    "tests",
    "style",
    "breaking",
    "added",
    "fixed",
    "changed",
    "removed",
    "deprecated",
    "security",
    "internal",
];

/// A changelog entry: it opens with a capitalised past tense and no subject ("Fixed
/// compile error on nightly.", "Added `Vec::drain`"), or with a commit prefix ("fix: …").
fn is_change_entry(s: &str) -> bool {
    let t = s.trim_start_matches(|c: char| !c.is_alphanumeric());
    let first: String = t.chars().take_while(|c| c.is_alphabetic()).collect();
    if first.is_empty() {
        return false;
    }
    let after = &t[first.len()..];
    let low = first.to_lowercase();
    if (after.starts_with(':') || after.starts_with("(")) && CHANGE_PREFIXES.contains(&low.as_str())
    {
        return true;
    }
    first.starts_with(|c: char| c.is_uppercase())
        && CHANGE_VERBS.contains(&low.as_str())
        && after.starts_with(' ')
}

/// Imperatives that open commit-style changelog entries ("Fix validation that all
/// characters are UTF-8"); without a finite verb such a line is an `instruction`.
const CHANGE_IMPERATIVES: &[&str] = &[
    "add",
    "fix",
    "bump",
    "remove",
    "rename",
    "refactor",
    "deprecate",
    "revert",
    "upgrade",
    "implement",
];

/// `#123` standing alone (`(#581)`, `fixes #12`), not `C#`, `&#123;` or `#[derive]`.
fn has_issue_ref(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'#'
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'&'))
            && b.get(i + 1).is_some_and(u8::is_ascii_digit)
            && {
                let end = b[i + 1..]
                    .iter()
                    .position(|c| !c.is_ascii_digit())
                    .map_or(b.len(), |p| i + 1 + p);
                b.get(end).is_none_or(|c| !c.is_ascii_alphanumeric())
            }
    })
}

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

const RELEASE_WORDS: &[&str] = &[
    "version",
    "release",
    "released",
    "unreleased",
    "yanked",
    "changes",
    "changelog",
    "in",
    "on",
    "for",
    "v",
    "and",
    "the",
    "latest",
    "initial",
    "beta",
    "alpha",
    "rc",
    "prerelease",
    "pre-release",
    "since",
    "upcoming",
    "tbd",
    "date",
];

/// A line made only of versions, dates and release words, with a version or a date.
fn is_version_header(lower: &str) -> bool {
    let mut dated = false;
    for t in lower
        .split(|c: char| c.is_whitespace() || "()[],:;*_`|".contains(c))
        .map(|t| t.trim_matches(|c: char| c == '.' || c == '-' || c == '–' || c == '—'))
        .filter(|t| !t.is_empty())
    {
        let v = t.strip_prefix('v').unwrap_or(t);
        let versionish = v.starts_with(|c: char| c.is_ascii_digit())
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-+/".contains(c))
            && v.chars().filter(|c| c.is_ascii_digit()).count() >= 1;
        let dotted = versionish && (v.contains('.') || v.matches('-').count() == 2);
        if dotted || MONTHS.contains(&t) {
            dated = true;
        } else if !(versionish || RELEASE_WORDS.contains(&t)) {
            return false;
        }
    }
    dated
}

/// The sentence rules (see the module docs): `Ok` for a claim.
pub(crate) fn classify_sentence(s: &str, lang: &str) -> Result<(), SkipReason> {
    let lower = s.to_lowercase();
    if is_changelog(s, &lower) {
        return Err(SkipReason::Changelog);
    }
    if BOILERPLATE.iter().any(|p| lower.contains(p)) {
        return Err(SkipReason::Boilerplate);
    }
    let w = words(s);
    if w.is_empty() && s.split_whitespace().any(|t| is_url(t) || t.contains("://")) {
        return Err(SkipReason::LinkOnly);
    }
    let end = s
        .trim_end_matches(|c: char| c.is_whitespace() || "\"')]*_”’»".contains(c))
        .chars()
        .next_back();
    if matches!(end, Some('?' | '؟' | '？')) {
        return Err(SkipReason::Question);
    }
    if w.len() < 2 {
        return Err(SkipReason::TooShort);
    }
    // a sentence that would be a claim but ends with a colon introduces what follows
    let lead_in = matches!(end, Some(':' | '：'));
    if !verb_rules_apply(s, lang) {
        return if lead_in {
            Err(SkipReason::LeadIn)
        } else {
            Ok(())
        };
    }
    let first_is_base = VERBS.is_base(&w[0]) || w[0] == "please";
    let capitalised = s
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .starts_with(|c: char| c.is_uppercase());
    if first_is_base && capitalised && !finite_verb(&w, 1) {
        return Err(SkipReason::Instruction);
    }
    if capitalised && CHANGE_IMPERATIVES.contains(&w[0].as_str()) {
        // an imperative with a clause: "Fix validation that all characters are UTF-8"
        return Err(SkipReason::Changelog);
    }
    if !finite_verb(&w, 0) {
        return Err(SkipReason::NoVerb);
    }
    if lead_in {
        return Err(SkipReason::LeadIn);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<SkipReason> {
        match clean_statement(s, "und") {
            Cleaned::Claim(_) => None,
            Cleaned::Skip(r) => Some(r),
        }
    }

    #[test]
    fn claims_stay_with_links_reduced_to_their_text() {
        for (s, kept) in [
            ("Water boils at 100 °C.", "Water boils at 100 °C."),
            ("Dogs bark.", "Dogs bark."),
            ("Snow is white", "Snow is white"),
            (
                "[serde](https://serde.rs) is a framework for serializing data.",
                "serde is a framework for serializing data.",
            ),
            (
                "- Tokio provides a multi-threaded runtime for executing asynchronous code.",
                "Tokio provides a multi-threaded runtime for executing asynchronous code.",
            ),
            (
                "The current `futures-core` requires Rust 1.36 or later.",
                "The current futures-core requires Rust 1.36 or later.",
            ),
            (
                "It **never** allocates, see [the docs][docs].",
                "It never allocates, see the docs.",
            ),
            (
                "We frobnicate the widgets daily.",
                "We frobnicate the widgets daily.",
            ),
            ("It frobnicates widgets.", "It frobnicates widgets."),
            (
                "Note that the API isn't stable yet.",
                "Note that the API isn't stable yet.",
            ),
            (
                "Paris est la capitale de la France.",
                "Paris est la capitale de la France.",
            ),
            ("Le chat mange la souris.", "Le chat mange la souris."),
        ] {
            let lang = if s.starts_with("Le chat") {
                "fr"
            } else {
                "und"
            };
            assert_eq!(clean_statement(s, lang), Cleaned::Claim(kept.into()), "{s}");
        }
    }

    #[test]
    fn every_skip_reason_on_real_looking_lines() {
        for (s, r) in [
            ("## Installation", SkipReason::Heading),
            ("#", SkipReason::Heading),
            ("[docs]: https://docs.rs/serde", SkipReason::LinkDefinition),
            ("| Feature | Default |", SkipReason::Table),
            ("|---|:---:|", SkipReason::Table),
            ("<p align=\"center\">", SkipReason::Html),
            ("<img src=\"logo.png\" width=\"200\"/>", SkipReason::Html),
            ("<!-- cargo-rdme start -->", SkipReason::Html),
            (">>> import requests", SkipReason::Code),
            ("$ cargo install ripgrep", SkipReason::Code),
            (
                "[![Crates.io](https://img.shields.io/crates/v/serde.svg)](https://crates.io/crates/serde)",
                SkipReason::Badge,
            ),
            (
                "[![Build Status](https://github.com/x/y/workflows/CI/badge.svg)](https://github.com/x/y/actions) [![docs](https://docs.rs/y/badge.svg)](https://docs.rs/y)",
                SkipReason::Badge,
            ),
            ("![screenshot](docs/screenshot.png)", SkipReason::Image),
            ("- [Support](#support)", SkipReason::LinkOnly),
            (
                "[Docs](https://docs.rs/x) | [Examples](examples/)",
                SkipReason::LinkOnly,
            ),
            ("https://github.com/serde-rs/serde", SkipReason::LinkOnly),
            ("<https://docs.rs/serde>", SkipReason::LinkOnly),
            ("- Fixed #123 (#581)", SkipReason::Changelog),
            (
                "* @alice made their first contribution in https://github.com/x/y/pull/581",
                SkipReason::Changelog,
            ),
            (
                "**Full Changelog**: https://github.com/x/y/compare/v1.0.0...v1.1.0",
                SkipReason::Changelog,
            ),
            (
                "Fix panic on empty input by @bob in https://github.com/x/y/pull/77",
                SkipReason::Changelog,
            ),
            ("1.2.0 (2023-05-01)", SkipReason::Changelog),
            ("[0.4.1] - 2021-03-09", SkipReason::Changelog),
            ("v0.4", SkipReason::Changelog),
            ("Licensed under either of", SkipReason::Boilerplate),
            ("at your option.", SkipReason::Boilerplate),
            (
                "Unless you explicitly state otherwise, any contribution intentionally submitted for inclusion in the work by you, as defined in the Apache-2.0 license, shall be dual licensed as above, without any additional terms or conditions.",
                SkipReason::Boilerplate,
            ),
            (
                "* MIT license ([LICENSE-MIT](LICENSE-MIT) or http://opensource.org/licenses/MIT)",
                SkipReason::Boilerplate,
            ),
            (
                "Copyright (c) 2019 The Tokio Authors",
                SkipReason::Boilerplate,
            ),
            ("Why not use serde_json?", SkipReason::Question),
            ("You can use bitflags to:", SkipReason::LeadIn),
            (
                "The crate provides the following features:",
                SkipReason::LeadIn,
            ),
            ("Add this to your Cargo.toml:", SkipReason::Instruction),
            ("Use std.", SkipReason::Instruction),
            (
                "See the [documentation](https://docs.rs/x) for details.",
                SkipReason::Instruction,
            ),
            ("- Zero-copy deserialization", SkipReason::NoVerb),
            ("No dependencies", SkipReason::NoVerb),
            ("Easy to use", SkipReason::NoVerb),
            ("Rust bindings for libgit2", SkipReason::NoVerb),
            ("**Note:**", SkipReason::TooShort),
            ("Dependencies", SkipReason::TooShort),
            ("no_std]", SkipReason::TooShort),
        ] {
            assert_eq!(reason(s), Some(r), "{s}");
        }
    }

    #[test]
    fn issue_references_are_told_from_other_hashes() {
        assert!(has_issue_ref("Fixed a bug (#581)"));
        assert!(has_issue_ref("#12 is fixed"));
        assert!(!has_issue_ref("Written in C# 10"));
        assert!(!has_issue_ref("Use #[derive(Debug)] on it"));
        assert!(!has_issue_ref("The entity &#123; is a brace"));
    }

    #[test]
    fn counts_serialise_every_reason() {
        let mut c = SkipCounts::default();
        c.add(SkipReason::Heading, 2);
        let mut d = SkipCounts::default();
        d.add(SkipReason::Code, 5);
        c += d;
        assert_eq!(c.total(), 7);
        let v = serde_json::to_value(c).unwrap();
        assert_eq!(v["heading"], 2);
        assert_eq!(v["code"], 5);
        assert_eq!(v["no_verb"], 0);
        assert_eq!(v.as_object().unwrap().len(), SkipReason::ALL.len());
        assert_eq!(
            c.nonzero().collect::<Vec<_>>(),
            vec![(SkipReason::Code, 5), (SkipReason::Heading, 2)]
        );
        for (i, r) in SkipReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "ALL is in declaration order");
        }
    }
}
