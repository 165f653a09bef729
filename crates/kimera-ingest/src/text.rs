//! Plain text and Markdown: paragraphs, then sentences.

use unicode_segmentation::UnicodeSegmentation;

use crate::clean::{
    HtmlStart, SkipReason, classify_sentence, is_atx_heading, is_link_definition, is_list_item,
    is_table_delimiter, rewrite_inline, starts_html, strip_block_markers,
};

/// Abbreviations after which a full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "jr.", "sr.", "vs.", "etc.", "e.g.", "i.e.",
    "no.", "fig.", "approx.", "inc.", "ltd.", "co.", "mt.", "u.s.", "u.k.", "jan.", "feb.", "mar.",
    "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "oct.", "nov.", "dec.",
];

/// Splits text into sentences (Unicode UAX #29 boundaries, with common abbreviations
/// and single initials kept inside their sentence). Returns each sentence trimmed, with
/// its byte offset in `text`.
pub fn split_sentences(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut glue = false;
    for (off, s) in text.split_sentence_bound_indices() {
        let t = s.trim();
        if t.is_empty() {
            continue;
        }
        if glue && let Some(last) = out.last_mut() {
            last.1.push(' ');
            last.1.push_str(t);
        } else {
            let lead = s.len() - s.trim_start().len();
            out.push((off + lead, t.to_string()));
        }
        let last_word = out
            .last()
            .and_then(|(_, s)| s.split_whitespace().last())
            .unwrap_or("")
            .to_lowercase();
        let initial = last_word.chars().count() == 2
            && last_word.ends_with('.')
            && last_word.chars().next().is_some_and(char::is_alphabetic);
        glue = ABBREVIATIONS.contains(&last_word.as_str()) || initial;
    }
    out
}

/// A language guess good enough for metadata: Arabic script is `ar`, anything else
/// takes the default.
pub(crate) fn guess_lang(text: &str, default: &str) -> String {
    let arabic = text
        .chars()
        .filter(|c| ('\u{0600}'..='\u{06FF}').contains(c))
        .count();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    if letters > 0 && arabic * 2 > letters {
        "ar".into()
    } else {
        default.into()
    }
}

/// A sentence found in a text file, a candidate the cleaner skipped, or a problem on a
/// line.
pub(crate) enum Piece {
    Sentence {
        text: String,
        line: u64,
    },
    Skipped {
        reason: SkipReason,
        line: u64,
        /// The candidate: the sentence, or the raw line of a block.
        text: String,
    },
    Error {
        line: u64,
        message: String,
    },
}

/// Collects lines into paragraphs (blank-line separated) and splits each into
/// sentences, remembering the line each sentence starts on.
///
/// With `clean` (the default of ingest), Markdown structure that holds no claims is
/// skipped line by line, links are reduced to their text, and every sentence goes
/// through the sentence rules of [`crate::clean`]; each skipped candidate comes out as
/// a [`Piece::Skipped`]. Without it (`--keep-all`), the behaviour is the one before the
/// cleaner: in Markdown, code blocks, tables, HTML and front matter are skipped and
/// heading/list/quote markers removed, a heading or list item being a paragraph of its
/// own; every sentence is kept.
pub(crate) struct Paragraphs {
    markdown: bool,
    clean: bool,
    /// Language given for the file (`und` when unknown): the verb rules are English.
    lang: String,
    in_code: bool,
    in_front_matter: bool,
    /// The fence that opened the current code block (clean mode): its character and length.
    fence: Option<(u8, usize)>,
    html: Option<HtmlStart>,
    in_table: bool,
    /// A list item was seen and no unindented paragraph has followed it since.
    in_list: bool,
    text: String,
    /// (byte offset in `text`, line number) for each line added.
    lines: Vec<(usize, u64)>,
}

impl Paragraphs {
    /// The splitter of today's ingest (`--keep-all`): every sentence kept.
    #[cfg(test)]
    pub(crate) fn new(markdown: bool) -> Self {
        Paragraphs::with(markdown, false, "und")
    }

    pub(crate) fn with(markdown: bool, clean: bool, lang: &str) -> Self {
        Paragraphs {
            markdown,
            clean,
            lang: lang.to_string(),
            in_code: false,
            in_front_matter: false,
            fence: None,
            html: None,
            in_table: false,
            in_list: false,
            text: String::new(),
            lines: Vec::new(),
        }
    }

    pub(crate) fn push_line(&mut self, raw: &str, line: u64) -> Vec<Piece> {
        if self.clean && self.markdown {
            return self.push_markdown_clean(raw, line);
        }
        let mut out = Vec::new();
        let mut l = raw.trim();
        if self.markdown {
            if line == 1 && l == "---" {
                self.in_front_matter = true;
                return out;
            }
            if self.in_front_matter {
                if l == "---" || l == "..." {
                    self.in_front_matter = false;
                }
                return out;
            }
            if l.starts_with("```") || l.starts_with("~~~") {
                self.in_code = !self.in_code;
                out.extend(self.flush());
                return out;
            }
            if self.in_code || l.starts_with('|') || l.starts_with('<') || raw.starts_with("    ") {
                return out;
            }
            let block = l.starts_with('#')
                || l.starts_with("- ")
                || l.starts_with("* ")
                || l.starts_with("+ ")
                || numbered(l);
            if block {
                out.extend(self.flush());
            }
            l = l
                .trim_start_matches('#')
                .trim_start_matches('>')
                .trim_start();
            if let Some(rest) = l
                .strip_prefix("- ")
                .or_else(|| l.strip_prefix("* "))
                .or_else(|| l.strip_prefix("+ "))
            {
                l = rest;
            } else if numbered(l) {
                l = l.split_once(". ").map(|x| x.1).unwrap_or(l);
            }
            if l.chars().all(|c| matches!(c, '-' | '=' | '*' | '_')) {
                // rule or setext underline
                out.extend(self.flush());
                return out;
            }
            let l = l.replace("**", "").replace("__", "").replace('`', "");
            if !l.is_empty() {
                out.extend(self.add(&l, line));
            }
            if block {
                out.extend(self.flush());
            }
            return out;
        }
        if l.is_empty() {
            out.extend(self.flush());
        } else {
            out.extend(self.add(l, line));
        }
        out
    }

    /// A Markdown line in clean mode (see [`crate::clean`] for the rules).
    fn push_markdown_clean(&mut self, raw: &str, line: u64) -> Vec<Piece> {
        let mut out = Vec::new();
        let skip = |out: &mut Vec<Piece>, reason| {
            out.push(Piece::Skipped {
                reason,
                line,
                text: raw.to_string(),
            })
        };
        let l = raw.trim();
        if line == 1 && l == "---" {
            self.in_front_matter = true;
            skip(&mut out, SkipReason::FrontMatter);
            return out;
        }
        if self.in_front_matter {
            if l == "---" || l == "..." {
                self.in_front_matter = false;
            }
            skip(&mut out, SkipReason::FrontMatter);
            return out;
        }
        if let Some((c, n)) = self.fence {
            let run = l.bytes().take_while(|&b| b == c).count();
            if run >= n && l[run..].trim().is_empty() {
                self.fence = None;
            }
            skip(&mut out, SkipReason::Code);
            return out;
        }
        if let Some(h) = self.html {
            match h {
                HtmlStart::Comment if l.contains("-->") => self.html = None,
                HtmlStart::Block if l.is_empty() => {
                    self.html = None;
                    return out;
                }
                _ => {}
            }
            skip(&mut out, SkipReason::Html);
            return out;
        }
        // a quote's content is Markdown too
        let l = if l.starts_with('>') && !l.starts_with(">>>") {
            l.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
        } else {
            l
        };
        if l.is_empty() {
            out.extend(self.flush());
            self.in_table = false;
            return out;
        }
        let indent = &raw[..raw.len() - raw.trim_start().len()];
        let indented = indent.contains('\t') || indent.chars().filter(|&c| c == ' ').count() >= 4;
        let fence = ["```", "~~~"].iter().find(|f| l.starts_with(**f));
        if let (Some(f), false) = (fence, indented && self.text.is_empty() && !self.in_list) {
            let c = f.as_bytes()[0];
            self.fence = Some((c, l.bytes().take_while(|&b| b == c).count()));
            out.extend(self.flush());
            skip(&mut out, SkipReason::Code);
            return out;
        }
        if self.in_table && l.contains('|') {
            skip(&mut out, SkipReason::Table);
            return out;
        }
        self.in_table = false;
        if is_table_delimiter(l) {
            // the table's header row is the line just added to the paragraph
            if self.text_of_last_line().is_some_and(|h| h.contains('|')) {
                self.pop_last_line();
                skip(&mut out, SkipReason::Table);
            }
            out.extend(self.flush());
            self.in_table = true;
            skip(&mut out, SkipReason::Table);
            return out;
        }
        if l.starts_with('|') {
            out.extend(self.flush());
            self.in_table = true;
            skip(&mut out, SkipReason::Table);
            return out;
        }
        let item = is_list_item(l);
        if indented && !item && self.text.is_empty() && !self.in_list {
            skip(&mut out, SkipReason::Code);
            return out;
        }
        if l.starts_with(">>> ") || l.starts_with("$ ") {
            out.extend(self.flush());
            skip(&mut out, SkipReason::Code);
            return out;
        }
        if let Some(h) = starts_html(l) {
            out.extend(self.flush());
            if h != HtmlStart::Line {
                self.html = Some(h);
            }
            skip(&mut out, SkipReason::Html);
            return out;
        }
        if is_atx_heading(l) {
            out.extend(self.flush());
            self.in_list = false;
            skip(&mut out, SkipReason::Heading);
            return out;
        }
        if l.chars().all(|c| c == '=') || (l.len() >= 2 && l.chars().all(|c| c == '-')) {
            // a setext underline turns the paragraph above into a heading
            if !self.text.is_empty() {
                self.text.clear();
                self.lines.clear();
                skip(&mut out, SkipReason::Heading);
            }
            return out;
        }
        if l.len() >= 3 && l.chars().all(|c| matches!(c, '-' | '*' | '_' | ' ')) {
            out.extend(self.flush()); // thematic break
            return out;
        }
        if is_link_definition(l) {
            skip(&mut out, SkipReason::LinkDefinition);
            return out;
        }
        if item {
            out.extend(self.flush());
            self.in_list = true;
        } else if !indented && self.text.is_empty() {
            self.in_list = false;
        }
        let mut content = strip_block_markers(l);
        if let Some(rest) = content.strip_prefix("[^").and_then(|r| r.split_once("]:")) {
            content = rest.1.trim_start(); // a footnote's text
        }
        let inline = rewrite_inline(content);
        if let Some(reason) = inline.only_links() {
            out.extend(self.flush());
            skip(&mut out, reason);
            return out;
        }
        let t = inline.text.trim();
        if !t.is_empty() {
            out.extend(self.add(t, line));
        }
        out
    }

    /// The text of the line added last to the paragraph.
    fn text_of_last_line(&self) -> Option<&str> {
        self.lines.last().map(|&(off, _)| &self.text[off..])
    }

    fn pop_last_line(&mut self) {
        if let Some((off, _)) = self.lines.pop() {
            self.text.truncate(off);
            let t = self.text.trim_end().len();
            self.text.truncate(t);
        }
    }

    fn add(&mut self, l: &str, line: u64) -> Vec<Piece> {
        let mut out = Vec::new();
        if !self.text.is_empty() && !continues(&self.text, l) {
            out = self.flush();
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.lines.push((self.text.len(), line));
        self.text.push_str(l);
        if self.text.len() > 4 * crate::MAX_FIELD_BYTES {
            // a "paragraph" this long is a file without blank lines: split what we have
            out.extend(self.flush());
        }
        out
    }

    fn flush(&mut self) -> Vec<Piece> {
        let mut out = Vec::new();
        for (off, s) in split_sentences(&self.text) {
            let line = self
                .lines
                .iter()
                .take_while(|(o, _)| *o <= off)
                .last()
                .map(|x| x.1)
                .unwrap_or(0);
            if self.clean {
                let lang = guess_lang(&s, &self.lang);
                if let Err(reason) = classify_sentence(&s, &lang) {
                    out.push(Piece::Skipped {
                        reason,
                        line,
                        text: s,
                    });
                    continue;
                }
            }
            out.push(Piece::Sentence { text: s, line });
        }
        self.text.clear();
        self.lines.clear();
        out
    }

    pub(crate) fn finish(&mut self) -> Vec<Piece> {
        self.flush()
    }
}

/// Whether `next` line continues the sentence `text` (the paragraph so far) left open.
/// After a sentence end anything may follow (the sentence splitter cuts there). Else
/// the line break ends the statement — files of one statement per line often have no
/// full stops — unless the next line starts with a lowercase letter (hard-wrapped
/// prose: "The Nile flows / north.") or the text ends in `,` `;` `:` or a dash.
/// Scripts without case (Arabic) have no lowercase: there a line without a final
/// full stop is a statement of its own.
fn continues(text: &str, next: &str) -> bool {
    let end = text
        .trim_end_matches(['"', '\'', '”', '’', '»', ')', ']'])
        .chars()
        .next_back();
    if matches!(end, Some('.' | '!' | '?' | '…' | '؟' | '。' | '！' | '？')) {
        return true;
    }
    if matches!(end, Some(',' | ';' | ':' | '-' | '–' | '—' | '،' | '؛')) {
        return true;
    }
    next.chars().next().is_some_and(char::is_lowercase)
}

fn numbered(l: &str) -> bool {
    let digits = l.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && l[digits..].starts_with(". ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(t: &str) -> Vec<String> {
        split_sentences(t).into_iter().map(|x| x.1).collect()
    }

    #[test]
    fn splits_on_sentence_ends_but_not_abbreviations() {
        assert_eq!(
            sentences("Dr. Smith lives in Paris. He was born in 1970! Is he French? Yes."),
            vec![
                "Dr. Smith lives in Paris.",
                "He was born in 1970!",
                "Is he French?",
                "Yes."
            ]
        );
        assert_eq!(
            sentences("J. R. R. Tolkien wrote books."),
            vec!["J. R. R. Tolkien wrote books."]
        );
        assert_eq!(
            sentences("Pi is 3.14 approx. It is irrational."),
            vec!["Pi is 3.14 approx. It is irrational."]
        );
        assert_eq!(
            sentences("الأرض كروية. الماء يغلي."),
            vec!["الأرض كروية.", "الماء يغلي."]
        );
    }

    fn text_sentences(t: &str, markdown: bool) -> Vec<(String, u64)> {
        let mut p = Paragraphs::new(markdown);
        let mut got = Vec::new();
        for (i, l) in t.lines().enumerate() {
            got.extend(p.push_line(l, i as u64 + 1));
        }
        got.extend(p.finish());
        got.into_iter()
            .filter_map(|x| match x {
                Piece::Sentence { text, line } => Some((text, line)),
                Piece::Error { .. } | Piece::Skipped { .. } => None,
            })
            .collect()
    }

    #[test]
    fn a_line_without_a_full_stop_is_a_statement_unless_the_next_one_continues_it() {
        let s = |t: &str| text_sentences(t, false);
        let own = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
            v.iter().map(|(t, l)| (t.to_string(), *l)).collect()
        };
        // one statement per line, no full stops
        assert_eq!(
            s("Paris is the capital of France\nBerlin is in Germany\n"),
            own(&[
                ("Paris is the capital of France", 1),
                ("Berlin is in Germany", 2)
            ])
        );
        assert_eq!(
            s("الأرض كروية\nالماء يغلي\n"),
            own(&[("الأرض كروية", 1), ("الماء يغلي", 2)])
        );
        // hard-wrapped prose: the next line starts lowercase, or the line ends in a comma
        assert_eq!(
            s("The Nile flows\nnorth to the sea.\nCats are mammals,\nDogs too.\n"),
            own(&[
                ("The Nile flows north to the sea.", 1),
                ("Cats are mammals, Dogs too.", 3)
            ])
        );
        // after a full stop, the sentence splitter decides as before
        assert_eq!(
            s("Dr.\nSmith lives in Paris. He\nwas born in 1970.\n"),
            own(&[
                ("Dr. Smith lives in Paris.", 1),
                ("He was born in 1970.", 2)
            ])
        );
        // a file of sentences without blank lines, longer than a paragraph may grow:
        // every sentence is kept, with its line
        let long: String = (1..=30_000)
            .map(|i| format!("Statement number {i} is here.\n"))
            .collect();
        assert!(long.len() > 4 * crate::MAX_FIELD_BYTES);
        let got = s(&long);
        assert_eq!(got.len(), 30_000);
        assert!(got.iter().enumerate().all(|(i, (t, l))| *l == i as u64 + 1
            && *t == format!("Statement number {} is here.", i + 1)));
        // a blank line still ends a paragraph
        assert_eq!(
            s("It rains\n\nand it pours\n"),
            own(&[("It rains", 1), ("and it pours", 3)])
        );
    }

    #[test]
    fn markdown_skips_code_and_keeps_lines() {
        let md = "# Facts\n\nThe Nile is long.\nIt flows\nnorth.\n\n```\nlet x = 1.\n```\n- Paris is in France.\n";
        assert_eq!(
            text_sentences(md, true),
            vec![
                ("Facts".to_string(), 1),
                ("The Nile is long.".to_string(), 3),
                ("It flows north.".to_string(), 4),
                ("Paris is in France.".to_string(), 10)
            ]
        );
        assert_eq!(guess_lang("الأرض مسطحة", "en"), "ar");
        assert_eq!(guess_lang("Le chat", "und"), "und");
    }
}
