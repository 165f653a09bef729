//! Tokens, stop words, light stemming and quantities.
//!
//! Extraction works on one lowercased string per statement in which every token is
//! separated by exactly one space and clause punctuation is the token `|`; the cue
//! phrases of [`crate::extract`] are matched on it in one Aho-Corasick pass, and the
//! space padding makes every match a whole-word match. Tokens are Unicode-aware
//! (`char::is_alphanumeric`), so French and Arabic text tokenises sensibly; stemming is
//! only applied to ASCII words of English (or undetermined) statements.

use std::borrow::Cow;
use std::sync::LazyLock;

use rustc_hash::FxHashSet;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokKind {
    Word,
    Number,
    /// Clause punctuation (`, ; : . ! ? ( ) ...`), written as `|`.
    Punct,
}

/// A token: a byte range of [`Tokens::joined`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tok {
    pub start: u32,
    pub end: u32,
    pub kind: TokKind,
}

/// A statement as lowercased, space-separated tokens.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    /// `" tok tok | tok "`: a leading and a trailing space, one space between tokens.
    pub joined: String,
    pub toks: Vec<Tok>,
}

impl Tokens {
    pub fn text(&self, i: usize) -> &str {
        let t = self.toks[i];
        &self.joined[t.start as usize..t.end as usize]
    }

    pub fn len(&self) -> usize {
        self.toks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.toks.is_empty()
    }

    /// Index of the token starting at byte `pos` of `joined`, or the first after it.
    pub fn token_at_or_after(&self, pos: usize) -> usize {
        self.toks.partition_point(|t| (t.start as usize) < pos)
    }
}

fn is_clause_punct(c: char) -> bool {
    matches!(
        c,
        ',' | ';'
            | ':'
            | '.'
            | '!'
            | '?'
            | '('
            | ')'
            | '['
            | ']'
            | '{'
            | '}'
            | '"'
            | '“'
            | '”'
            | '«'
            | '»'
            | '،'
            | '؛'
            | '؟'
            | '。'
            | '、'
            | '—'
            | '–'
    )
}

/// Splits `text` into lowercased tokens; at most `max_tokens` are kept.
pub fn tokenize(text: &str, max_tokens: usize) -> Tokens {
    let mut joined = String::with_capacity(text.len() + 8);
    let mut toks: Vec<Tok> = Vec::with_capacity(text.len() / 5 + 2);
    joined.push(' ');
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() && toks.len() < max_tokens {
        let c = chars[i];
        if c.is_alphanumeric() {
            let start = joined.len();
            let number = c.is_ascii_digit();
            let mut all_digits = number;
            while i < chars.len() {
                let c = chars[i];
                let next_alnum = chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
                let next_digit = chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
                if c.is_alphanumeric() {
                    all_digits &= c.is_ascii_digit();
                    joined.extend(c.to_lowercase());
                } else if number && all_digits && matches!(c, '.' | ',') && next_digit {
                    // 2.1 and 2,100,000 stay one number
                    joined.push(c);
                } else if c == '-' && next_alnum && !number {
                    // well-known, state-of-the-art
                    joined.push(c);
                } else {
                    break;
                }
                i += 1;
            }
            let kind = if number && all_digits_or_sep(&joined[start..]) {
                TokKind::Number
            } else {
                TokKind::Word
            };
            toks.push(Tok {
                start: start as u32,
                end: joined.len() as u32,
                kind,
            });
            joined.push(' ');
        } else {
            if is_clause_punct(c) && toks.last().is_some_and(|t| t.kind != TokKind::Punct) {
                let start = joined.len();
                joined.push('|');
                toks.push(Tok {
                    start: start as u32,
                    end: joined.len() as u32,
                    kind: TokKind::Punct,
                });
                joined.push(' ');
            }
            i += 1;
        }
    }
    Tokens { joined, toks }
}

fn all_digits_or_sep(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
}

static STOP_WORDS: LazyLock<FxHashSet<&'static str>> = LazyLock::new(|| {
    const EN: &str = "a an the this that these those some any each every all both either neither \
        no not nor never of in on at by for with from to into onto upon over under about above below \
        between among through during before after since until than as like and or but if then else \
        so because while when where whereas which who whom whose what why how is are was were be been \
        being am has have had having do does did doing done can could will would shall should may \
        might must it its it's he him his she her hers they them their theirs we us our ours you your \
        yours i me my mine one also very too quite rather just only even still yet again more most \
        less least much many few several such other another same own there here s t d ll re ve";
    const FR: &str = "le la les l un une des du de d et ou mais est sont était étaient être a ont \
        en dans au aux à que qui quoi dont ce cet cette ces son sa ses leur leurs pour par sur avec \
        sans ne pas plus il elle ils elles on nous vous je se";
    const AR: &str =
        "في من على إلى الى عن أن ان هو هي هم و أو او لا ما هذا هذه ذلك تلك التي الذي كان كانت مع";
    EN.split_whitespace()
        .chain(FR.split_whitespace())
        .chain(AR.split_whitespace())
        .collect()
});

/// True for function words that never become concepts on their own.
pub fn is_stop_word(w: &str) -> bool {
    STOP_WORDS.contains(w)
}

/// True when statements in `lang` get English stemming.
pub fn stems(lang: &str) -> bool {
    lang.is_empty() || lang.starts_with("en") || lang == "und"
}

/// Lemma-light English stemming of one lowercased word: regular plurals only
/// (`cities` → `city`, `boxes` → `box`, `cats` → `cat`), leaving `glass`, `virus`,
/// `analysis` and every non-ASCII word alone. Deliberately timid: a wrong merge of two
/// concepts is worse than two spellings of one.
pub fn stem(word: &str) -> Cow<'_, str> {
    let b = word.as_bytes();
    if b.len() <= 3 || !word.is_ascii() || !b[b.len() - 1].eq_ignore_ascii_case(&b's') {
        return Cow::Borrowed(word);
    }
    if let Some(s) = word.strip_suffix("ies") {
        if s.len() >= 2 {
            return Cow::Owned(format!("{s}y"));
        }
    }
    for suf in ["sses", "ches", "shes", "xes", "zzes"] {
        if word.ends_with(suf) {
            return Cow::Borrowed(&word[..word.len() - 2]);
        }
    }
    if word.ends_with("ss") || word.ends_with("us") || word.ends_with("is") || word.ends_with("'s")
    {
        return Cow::Borrowed(word);
    }
    Cow::Borrowed(&word[..word.len() - 1])
}

/// Parses a number token (`2.1`, `2,100,000`, `1850`).
pub fn parse_number(tok: &str) -> Option<f64> {
    let has_comma = tok.contains(',');
    let has_dot = tok.contains('.');
    let cleaned: Cow<'_, str> = if has_comma && !has_dot {
        // 2,100,000 (thousands) — or 2,5 (French decimal) when one group of 1-2 digits
        let parts: Vec<&str> = tok.split(',').collect();
        if parts.len() == 2 && parts[1].len() != 3 {
            Cow::Owned(format!("{}.{}", parts[0], parts[1]))
        } else {
            Cow::Owned(tok.replace(',', ""))
        }
    } else if has_comma {
        Cow::Owned(tok.replace(',', ""))
    } else {
        Cow::Borrowed(tok)
    };
    cleaned.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Multiplier words after a number.
pub fn multiplier(w: &str) -> Option<f64> {
    Some(match w {
        "hundred" => 1e2,
        "thousand" | "k" => 1e3,
        "million" | "millions" | "m" => 1e6,
        "billion" | "billions" | "bn" | "milliard" | "milliards" => 1e9,
        "trillion" => 1e12,
        _ => return None,
    })
}

/// Canonical spelling of a number, so that `2.1 million` and `2,100,000` are the same
/// concept.
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_numbers_and_mark_clauses() {
        let t = tokenize("The population is 2,100,000; Paris' area: 105.4 km².", 100);
        let words: Vec<&str> = (0..t.len()).map(|i| t.text(i)).collect();
        assert_eq!(
            words,
            [
                "the",
                "population",
                "is",
                "2,100,000",
                "|",
                "paris",
                "area",
                "|",
                "105.4",
                "km²",
                "|"
            ]
        );
        assert_eq!(t.toks[3].kind, TokKind::Number);
        assert_eq!(
            t.joined,
            " the population is 2,100,000 | paris area | 105.4 km² | "
        );
    }

    #[test]
    fn unicode_text_tokenises_without_panics() {
        let t = tokenize("الأرض مسطحة، والقمر كروي. L'été est très chaud!", 100);
        let words: Vec<&str> = (0..t.len()).map(|i| t.text(i)).collect();
        assert_eq!(
            words,
            [
                "الأرض",
                "مسطحة",
                "|",
                "والقمر",
                "كروي",
                "|",
                "l",
                "été",
                "est",
                "très",
                "chaud",
                "|"
            ]
        );
        assert!(tokenize("", 10).is_empty());
        assert_eq!(tokenize("a b c d", 2).len(), 2);
    }

    #[test]
    fn stemming_is_light() {
        for (w, s) in [
            ("cities", "city"),
            ("boxes", "box"),
            ("cats", "cat"),
            ("glass", "glass"),
            ("virus", "virus"),
            ("analysis", "analysis"),
            ("gas", "gas"),
            ("churches", "church"),
            ("mammals", "mammal"),
            ("chats", "chats".strip_suffix('s').unwrap()),
        ] {
            assert_eq!(stem(w), s, "{w}");
        }
        assert_eq!(stem("très"), "très");
    }

    #[test]
    fn numbers_parse_in_several_spellings() {
        assert_eq!(parse_number("2,100,000"), Some(2_100_000.0));
        assert_eq!(parse_number("2.1"), Some(2.1));
        assert_eq!(parse_number("2,5"), Some(2.5));
        assert_eq!(parse_number("1850"), Some(1850.0));
        assert_eq!(format_number(2.1 * 1e6), "2100000");
        assert_eq!(format_number(0.25), "0.25");
    }
}
