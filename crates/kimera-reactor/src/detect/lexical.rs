//! Lexical contradiction rules: negation asymmetry, antonyms, mutually exclusive terms,
//! numbers/dates and swapped names in otherwise similar sentences.
//!
//! These rules are cheap and explainable, and only run on pairs that are already about
//! the same thing (cosine above a floor, and most of their words shared): "Fire is hot"
//! and "Ice is cold" share too little for "hot/cold" to mean anything.

use std::collections::{BTreeSet, HashSet};
use std::sync::LazyLock;

use serde_json::json;

use super::{Detector, PairInput, Verdict};

/// Negation cues, counted by parity ("not false" cancels out). "opposite"/"contrary"
/// cover the datasets' "The opposite of X is true". English cues apply to
/// every language because the Kimera datasets append "is false" to statements in any
/// language; the others apply to all too, since a cue word of one language is rarely an
/// ordinary word of another (`no` is both English and Spanish).
const NEGATION_CUES: &[&str] = &[
    // en
    "not",
    "no",
    "never",
    "false",
    "incorrect",
    "untrue",
    "nobody",
    "nothing",
    "none",
    "neither",
    "nor",
    "nowhere",
    "opposite",
    "contrary",
    "contraire",
    "عكس",
    // fr
    "pas",
    "jamais",
    "faux",
    "fausse",
    "aucun",
    "aucune",
    "personne",
    // es / it / pt
    "nunca",
    "falso",
    "ningún",
    "ninguna",
    "non",
    "não",
    // de
    "nicht",
    "kein",
    "keine",
    "keiner",
    "niemals",
    "falsch",
    // ar
    "لا",
    "ليس",
    "ليست",
    "لم",
    "لن",
    "خطأ",
    "خاطئ",
    "غير",
];

/// Antonym pairs (either order), lower case.
const ANTONYMS: &[(&str, &str)] = &[
    ("hot", "cold"),
    ("warm", "cold"),
    ("true", "false"),
    ("alive", "dead"),
    ("open", "closed"),
    ("up", "down"),
    ("high", "low"),
    ("big", "small"),
    ("large", "small"),
    ("tall", "short"),
    ("long", "short"),
    ("fast", "slow"),
    ("increase", "decrease"),
    ("increases", "decreases"),
    ("increased", "decreased"),
    ("rise", "fall"),
    ("rises", "falls"),
    ("wet", "dry"),
    ("light", "dark"),
    ("heavy", "light"),
    ("full", "empty"),
    ("early", "late"),
    ("before", "after"),
    ("above", "below"),
    ("inside", "outside"),
    ("win", "lose"),
    ("won", "lost"),
    ("wins", "loses"),
    ("accept", "reject"),
    ("accepted", "rejected"),
    ("allow", "forbid"),
    ("allowed", "forbidden"),
    ("legal", "illegal"),
    ("possible", "impossible"),
    ("always", "never"),
    ("all", "none"),
    ("everyone", "nobody"),
    ("everything", "nothing"),
    ("more", "less"),
    ("most", "least"),
    ("minimum", "maximum"),
    ("positive", "negative"),
    ("present", "absent"),
    ("visible", "invisible"),
    ("safe", "dangerous"),
    ("healthy", "sick"),
    ("rich", "poor"),
    ("old", "new"),
    ("old", "young"),
    ("north", "south"),
    ("east", "west"),
    ("left", "right"),
    ("first", "last"),
    ("start", "end"),
    ("begin", "end"),
    ("buy", "sell"),
    ("love", "hate"),
    ("loves", "hates"),
    ("happy", "sad"),
    ("good", "bad"),
    ("strong", "weak"),
    ("hard", "soft"),
    ("cheap", "expensive"),
    ("same", "different"),
    ("male", "female"),
    ("man", "woman"),
    ("men", "women"),
    ("boy", "girl"),
    ("boys", "girls"),
    ("day", "night"),
    ("summer", "winter"),
    ("sunrise", "sunset"),
    ("asleep", "awake"),
    ("sleeping", "awake"),
    ("standing", "sitting"),
    ("push", "pull"),
    ("pushing", "pulling"),
    ("enter", "exit"),
    ("arrive", "leave"),
    ("success", "failure"),
    ("succeeded", "failed"),
    ("agree", "disagree"),
    ("include", "exclude"),
    ("includes", "excludes"),
    ("win", "loss"),
    ("entering", "leaving"),
    ("laughing", "crying"),
    ("smiling", "frowning"),
    ("chaud", "froid"),
    ("vrai", "faux"),
    ("grand", "petit"),
    ("caliente", "frío"),
    ("verdadero", "falso"),
    ("heiß", "kalt"),
    ("wahr", "falsch"),
    ("ساخن", "بارد"),
];

/// Groups of mutually exclusive terms: two different members in otherwise similar
/// sentences contradict ("Snow is white" / "Snow is green").
const EXCLUSIVE: &[(&str, &[&str])] = &[
    (
        "colour",
        &[
            "white", "black", "red", "green", "blue", "yellow", "orange", "purple", "pink",
            "brown", "grey", "gray",
        ],
    ),
    (
        "month",
        &[
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
        ],
    ),
    (
        "weekday",
        &[
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ],
    ),
];

/// Words that are capitalised only because they start a sentence.
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "this", "that", "these", "those", "some", "there", "it", "he", "she", "they",
    "we", "i", "you", "in", "on", "at", "of", "and", "or", "but", "le", "la", "les", "un", "une",
    "des", "el", "los", "las", "der", "die", "das", "ein", "eine",
];

/// The lexical detector. See the module docs for its rules.
#[derive(Debug, Clone)]
pub struct LexicalDetector {
    /// Only pairs with cosine at or above this are considered.
    pub min_cosine: f32,
    /// Minimum Jaccard overlap of the words outside the rule's tokens.
    pub min_overlap: f32,
}

impl Default for LexicalDetector {
    fn default() -> Self {
        LexicalDetector {
            min_cosine: 0.5,
            min_overlap: 0.6,
        }
    }
}

/// One word of a sentence.
#[derive(Debug, Clone, PartialEq)]
struct Token {
    lower: String,
    capitalised: bool,
    /// Digits, or a number word of [`NUMBER_WORDS`] (whose `lower` is then its digits).
    numeric: bool,
    /// A token that names rather than measures: a version (`1.2.3`, `v0.4`), an issue or
    /// pull-request reference (`#581`, `PR 42`), a handle (`@alice`), an identifier with
    /// digits (`u32`, `sha256`), a list index (`1.` opening the sentence), or anything in
    /// a URL, a path or code (`localhost:8080`, `` `x = 5` ``, `github.com/x/pull/7`).
    ident: bool,
    /// A negation cue.
    cue: bool,
    /// A word of [`ANTONYMS`] or [`EXCLUSIVE`]: those rules need one on each side, so a
    /// pair without is skipped without building word sets (most candidate pairs).
    lexicon: bool,
}

static CUES: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| NEGATION_CUES.iter().copied().collect());

/// [`ANTONYMS`] with the comparative and superlative of each pair ("larger" /
/// "smaller", "heaviest" / "lightest"): same degree on both sides.
static ANTONYM_FORMS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    let mut out: Vec<(String, String)> = ANTONYMS
        .iter()
        .map(|&(x, y)| (x.to_string(), y.to_string()))
        .collect();
    for suffix in ["er", "est"] {
        for &(x, y) in ANTONYMS {
            out.push((graded(x, suffix), graded(y, suffix)));
        }
    }
    out
});

/// `word` + `er`/`est` with English spelling: large → larger, heavy → heavier,
/// hot → hotter, small → smaller. Words that take "more"/"most" get a form no text
/// contains, which is harmless.
fn graded(word: &str, suffix: &str) -> String {
    let b = word.as_bytes();
    let vowel = |c: u8| b"aeiou".contains(&c);
    let n = b.len();
    if word.ends_with('e') {
        format!("{word}{}", &suffix[1..])
    } else if n >= 2 && b[n - 1] == b'y' && !vowel(b[n - 2]) {
        format!("{}i{suffix}", &word[..n - 1])
    } else if n >= 3
        && !vowel(b[n - 1])
        && !b"wxy".contains(&b[n - 1])
        && vowel(b[n - 2])
        && !vowel(b[n - 3])
        && b.iter().filter(|&&c| vowel(c)).count() == 1
    {
        format!("{word}{}{suffix}", b[n - 1] as char)
    } else {
        format!("{word}{suffix}")
    }
}

static LEXICON: LazyLock<HashSet<String>> = LazyLock::new(|| {
    ANTONYM_FORMS
        .iter()
        .flat_map(|(x, y)| [x.clone(), y.clone()])
        .chain(
            EXCLUSIVE
                .iter()
                .flat_map(|&(_, words)| words.iter().map(|w| w.to_string())),
        )
        .collect()
});

/// Words before a number that make it a name rather than a quantity: a reference
/// ("issue 12", "PR 581", "RFC 2119") or a release ("version 1.2", "release 3"). Two
/// sentences saying the same of "version 1.2" and of "version 1.3" are read as being
/// about two releases (a changelog's "Version 1.3 adds async support" repeats what
/// another release added, in its own words), not as a contradiction; a requirement
/// stated as a plain number ("requires Rust 1.36 or later") stays a quantity.
const REFERENCE_WORDS: &[&str] = &[
    "issue", "issues", "pr", "prs", "pull", "bug", "ticket", "rfc", "cve", "commit", "gh",
    "version", "versions", "release", "releases", "ver",
];

/// Number words read as the numbers they name ("Spiders have eight legs" / "six legs"),
/// so `eight` and `8` are the same quantity. "zero" and "one" are left out: they are
/// mostly not counts in prose ("zero-cost", "one of the", "no one").
const NUMBER_WORDS: &[(&str, &str)] = &[
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("eleven", "11"),
    ("twelve", "12"),
    ("twenty", "20"),
    ("thirty", "30"),
    ("forty", "40"),
    ("fifty", "50"),
    ("sixty", "60"),
    ("seventy", "70"),
    ("eighty", "80"),
    ("ninety", "90"),
];

/// For each char, whether it is in code or a URL: a backtick span, or a
/// whitespace-separated chunk holding `://`, `www.`, `::`, `()`, `=`, `_`, a `/` or `:`
/// next to a letter (`src/lib.rs`, `localhost:8080`), or three dots (`127.0.0.1`).
fn code_mask(chars: &[char]) -> Vec<bool> {
    let mut mask = vec![false; chars.len()];
    let mut tick = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == '`' {
            tick = !tick;
        }
        mask[i] = tick;
    }
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        let chunk = &chars[start..i];
        let has = |pat: &str| {
            let p: Vec<char> = pat.chars().collect();
            chunk.windows(p.len()).any(|w| w == p.as_slice())
        };
        let next_to_letter = |sep: char| {
            chunk.windows(2).any(|w| {
                (w[0] == sep && w[1].is_alphabetic()) || (w[1] == sep && w[0].is_alphabetic())
            })
        };
        let code = has("://")
            || has("www.")
            || has("::")
            || has("()")
            || chunk.contains(&'=')
            || chunk.contains(&'_')
            || next_to_letter('/')
            || chunk
                .windows(3)
                .any(|w| w[0].is_alphabetic() && w[1] == ':' && w[2].is_ascii_digit())
            || chunk.iter().filter(|&&c| c == '.').count() >= 3;
        if code {
            mask[start..i].iter_mut().for_each(|m| *m = true);
        }
    }
    mask
}

/// Splits into words (letters/digits; `3.5` and `1,612` stay one number), expanding
/// English contractions so that "isn't" carries the cue `not`, and marks the tokens
/// that are identifiers rather than quantities or names (see [`Token::ident`]).
fn tokenise(text: &str) -> Vec<Token> {
    // most statements have no apostrophe and no "cannot": skip eight copies of them
    let needs_expansion = text.contains(['\'', '’']) || text.contains("annot");
    let expanded = if !needs_expansion {
        text.to_string()
    } else {
        text.replace('’', "'")
            .replace("can't", "can not")
            .replace("Can't", "Can not")
            .replace("won't", "will not")
            .replace("Won't", "Will not")
            .replace("cannot", "can not")
            .replace("Cannot", "Can not")
            .replace("n't", " not")
    };
    let chars: Vec<char> = expanded.chars().collect();
    let code = code_mask(&chars);
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len()
            && (chars[i].is_alphanumeric()
                || ((chars[i] == '.' || chars[i] == ',')
                    && i > start
                    && chars[i - 1].is_ascii_digit()
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
        {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let mut lower = word.to_lowercase();
        let digits = word.chars().any(|c| c.is_ascii_digit());
        let mut numeric = digits;
        if let Some(&(_, n)) = NUMBER_WORDS.iter().find(|(w, _)| *w == lower) {
            lower = n.to_string();
            numeric = true;
        }
        let before = start.checked_sub(1).map(|j| chars[j]);
        let ident = code[start]
            || matches!(before, Some('#' | '@'))
            || (numeric
                && ((digits && word.starts_with(char::is_alphabetic))
                    || word.matches('.').count() >= 2
                    || out
                        .last()
                        .is_some_and(|t| REFERENCE_WORDS.contains(&t.lower.as_str()))));
        out.push(Token {
            capitalised: word.chars().next().is_some_and(char::is_uppercase),
            numeric,
            ident,
            cue: CUES.contains(lower.as_str()),
            lexicon: LEXICON.contains(lower.as_str()),
            lower,
        });
        if out.len() == 1 && numeric {
            // "1. Install …", "2) …": a list index
            let after: String = chars[i..].iter().take(2).collect();
            if after.starts_with(['.', ')']) && after[1..].chars().all(char::is_whitespace) {
                out[0].ident = true;
            }
        }
    }
    out
}

/// The nearest words (not numbers) left and right of each occurrence of `w` in `ts`.
fn contexts<'a>(ts: &'a [Token], w: &str) -> Vec<(Option<&'a str>, Option<&'a str>)> {
    let word = |t: &&Token| !t.numeric;
    ts.iter()
        .enumerate()
        .filter(|(_, t)| t.lower == w)
        .map(|(p, _)| {
            (
                ts[..p].iter().rev().find(word).map(|t| t.lower.as_str()),
                ts[p + 1..].iter().find(word).map(|t| t.lower.as_str()),
            )
        })
        .collect()
}

/// Whether `x` (in `ta`) and `y` (in `tb`) stand in the same slot: the same word just
/// before them, or the same word just after ("is 300 m" / "is 450 m").
fn same_slot(ta: &[Token], x: &str, tb: &[Token], y: &str) -> bool {
    let (ca, cb) = (contexts(ta, x), contexts(tb, y));
    ca.iter().any(|(la, ra)| {
        cb.iter()
            .any(|(lb, rb)| (la.is_some() && la == lb) || (ra.is_some() && ra == rb))
    })
}

fn set(tokens: &[Token], keep: impl Fn(&Token) -> bool) -> BTreeSet<&str> {
    tokens
        .iter()
        .filter(|t| keep(t))
        .map(|t| t.lower.as_str())
        .collect()
}

fn jaccard(a: &BTreeSet<&str>, b: &BTreeSet<&str>) -> f32 {
    let union = a.union(b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(b).count() as f32 / union as f32
}

impl LexicalDetector {
    fn verdict(&self, rule: &str, base: f32, overlap: f32, evidence: serde_json::Value) -> Verdict {
        let mut ev = json!({ "rule": rule, "overlap": overlap });
        if let (Some(o), serde_json::Value::Object(extra)) = (ev.as_object_mut(), evidence) {
            o.extend(extra);
        }
        Verdict {
            contradiction: true,
            score: (base * (0.5 + 0.5 * overlap)).clamp(0.0, 1.0),
            evidence: ev,
        }
    }

    /// Applies the rules in order of reliability; the first that fires gives the verdict.
    pub fn judge(&self, a_text: &str, b_text: &str, cosine: f32) -> Verdict {
        if cosine < self.min_cosine {
            return Verdict::none();
        }
        self.judge_tokens(&tokenise(a_text), &tokenise(b_text))
    }

    fn judge_tokens(&self, ta: &[Token], tb: &[Token]) -> Verdict {
        if let Some(v) = self.negation(ta, tb) {
            return v;
        }
        if ta.iter().any(|t| t.lexicon) && tb.iter().any(|t| t.lexicon) {
            if let Some(v) = self.antonym(ta, tb) {
                return v;
            }
            if let Some(v) = self.exclusive(ta, tb) {
                return v;
            }
        }
        if let Some(v) = self.numbers(ta, tb) {
            return v;
        }
        if let Some(v) = self.entity_swap(ta, tb) {
            return v;
        }
        Verdict::none()
    }

    /// One side negated (odd number of cues), the other not, the rest shared.
    fn negation(&self, ta: &[Token], tb: &[Token]) -> Option<Verdict> {
        let cues_a: Vec<&str> = ta
            .iter()
            .filter(|t| t.cue)
            .map(|t| t.lower.as_str())
            .collect();
        let cues_b: Vec<&str> = tb
            .iter()
            .filter(|t| t.cue)
            .map(|t| t.lower.as_str())
            .collect();
        if cues_a.len() % 2 == cues_b.len() % 2 {
            return None;
        }
        let overlap = jaccard(&set(ta, |t| !t.cue), &set(tb, |t| !t.cue));
        if overlap < self.min_overlap {
            return None;
        }
        let (side, cues) = if cues_a.len() % 2 == 1 {
            ("a", cues_a)
        } else {
            ("b", cues_b)
        };
        Some(self.verdict(
            "negation",
            0.9,
            overlap,
            json!({ "negated": side, "tokens": cues }),
        ))
    }

    /// An antonym pair split across the two sentences.
    fn antonym(&self, ta: &[Token], tb: &[Token]) -> Option<Verdict> {
        let sa = set(ta, |_| true);
        let sb = set(tb, |_| true);
        for (x, y) in ANTONYM_FORMS.iter() {
            for (p, q) in [(x.as_str(), y.as_str()), (y.as_str(), x.as_str())] {
                if sa.contains(p) && sb.contains(q) && !sa.contains(q) && !sb.contains(p) {
                    let overlap = jaccard(&set(ta, |t| t.lower != p), &set(tb, |t| t.lower != q));
                    if overlap >= self.min_overlap {
                        return Some(self.verdict(
                            "antonym",
                            0.85,
                            overlap,
                            json!({ "tokens": [p, q] }),
                        ));
                    }
                }
            }
        }
        None
    }

    /// Two different members of an exclusive group (colours, months, weekdays).
    fn exclusive(&self, ta: &[Token], tb: &[Token]) -> Option<Verdict> {
        let sa = set(ta, |_| true);
        let sb = set(tb, |_| true);
        for &(group, words) in EXCLUSIVE {
            let only_a: Vec<&str> = words
                .iter()
                .copied()
                .filter(|w| sa.contains(w) && !sb.contains(w))
                .collect();
            let only_b: Vec<&str> = words
                .iter()
                .copied()
                .filter(|w| sb.contains(w) && !sa.contains(w))
                .collect();
            if only_a.is_empty() || only_b.is_empty() {
                continue;
            }
            let overlap = jaccard(
                &set(ta, |t| !words.contains(&t.lower.as_str())),
                &set(tb, |t| !words.contains(&t.lower.as_str())),
            );
            if overlap >= self.min_overlap {
                return Some(self.verdict(
                    "exclusive",
                    0.8,
                    overlap,
                    json!({ "group": group, "tokens": [only_a, only_b] }),
                ));
            }
        }
        None
    }

    /// Different quantities of the same thing (amounts, years, days) in otherwise similar
    /// sentences. Only quantities are compared, never identifiers ([`Token::ident`]:
    /// versions, issue numbers, handles, list indices, numbers in URLs or code), and
    /// sentences naming different identifiers are about different things ("1.2.0 -
    /// 2023-05-01" / "1.3.0 - 2023-06-01"). A differing pair must stand in the same slot:
    /// the same word just before or just after both ("is 300 m" / "is 450 m").
    fn numbers(&self, ta: &[Token], tb: &[Token]) -> Option<Verdict> {
        if !ta.iter().any(|t| t.numeric) || !tb.iter().any(|t| t.numeric) {
            return None;
        }
        let na = set(ta, |t| t.numeric && !t.ident);
        let nb = set(tb, |t| t.numeric && !t.ident);
        if na.is_empty() || nb.is_empty() || na == nb {
            return None;
        }
        if set(ta, |t| t.numeric && t.ident) != set(tb, |t| t.numeric && t.ident) {
            return None;
        }
        let overlap = jaccard(&set(ta, |t| !t.numeric), &set(tb, |t| !t.numeric));
        if overlap < self.min_overlap {
            return None;
        }
        let only_a: Vec<&str> = na.difference(&nb).copied().collect();
        let only_b: Vec<&str> = nb.difference(&na).copied().collect();
        let aligned = only_a
            .iter()
            .any(|x| only_b.iter().any(|y| same_slot(ta, x, tb, y)));
        if !aligned {
            return None;
        }
        Some(self.verdict(
            "numbers",
            0.8,
            overlap,
            json!({ "tokens": [only_a, only_b] }),
        ))
    }

    /// Exactly one capitalised name swapped for another (places, people, organisations),
    /// in the same role: the two sentences share at least two other words, and the names
    /// stand after the same word or before the same word ("Paris is the capital" /
    /// "Lyon is the capital"). Handles, anchors and words in URLs or code are not names,
    /// and two one-word headings ("Support" / "Example") share nothing to swap in.
    fn entity_swap(&self, ta: &[Token], tb: &[Token]) -> Option<Verdict> {
        let sa = set(ta, |_| true);
        let sb = set(tb, |_| true);
        let only_a: Vec<&str> = sa.difference(&sb).copied().collect();
        let only_b: Vec<&str> = sb.difference(&sa).copied().collect();
        if only_a.len() != 1 || only_b.len() != 1 || sa.intersection(&sb).count() < 2 {
            return None;
        }
        let name = |ts: &[Token], w: &str| {
            !STOPWORDS.contains(&w)
                && w.chars().count() >= 2
                && ts
                    .iter()
                    .any(|t| t.lower == w && t.capitalised && !t.numeric && !t.ident)
        };
        if !name(ta, only_a[0]) || !name(tb, only_b[0]) {
            return None;
        }
        let neighbours = |ts: &[Token], w: &str| -> Vec<(Option<String>, Option<String>)> {
            ts.iter()
                .enumerate()
                .filter(|(_, t)| t.lower == w)
                .map(|(p, _)| {
                    (
                        p.checked_sub(1).map(|q| ts[q].lower.clone()),
                        ts.get(p + 1).map(|t| t.lower.clone()),
                    )
                })
                .collect()
        };
        let (na, nb) = (neighbours(ta, only_a[0]), neighbours(tb, only_b[0]));
        let same_role = na.iter().any(|(la, ra)| {
            nb.iter()
                .any(|(lb, rb)| (la.is_some() && la == lb) || (ra.is_some() && ra == rb))
        });
        if !same_role {
            return None;
        }
        let overlap = jaccard(
            &set(ta, |t| t.lower != only_a[0]),
            &set(tb, |t| t.lower != only_b[0]),
        );
        if overlap < self.min_overlap {
            return None;
        }
        Some(self.verdict(
            "entity_swap",
            0.7,
            overlap,
            json!({ "tokens": [only_a[0], only_b[0]] }),
        ))
    }
}

impl Detector for LexicalDetector {
    fn name(&self) -> &str {
        "lexical"
    }

    fn score_batch(&self, pairs: &[PairInput<'_>]) -> Vec<Verdict> {
        // candidate pairs come sorted by their first geoid: tokenise it once for its run
        let mut last: Option<(&str, Vec<Token>)> = None;
        pairs
            .iter()
            .map(|p| {
                if p.cosine < self.min_cosine {
                    return Verdict::none();
                }
                if last.as_ref().is_none_or(|(t, _)| *t != p.a_text) {
                    last = Some((p.a_text, tokenise(p.a_text)));
                }
                let ta = &last.as_ref().expect("set above").1;
                self.judge_tokens(ta, &tokenise(p.b_text))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(a: &str, b: &str) -> Verdict {
        LexicalDetector::default().judge(a, b, 0.8)
    }

    fn rule(v: &Verdict) -> &str {
        v.evidence["rule"].as_str().unwrap_or("")
    }

    #[test]
    fn tokeniser_keeps_numbers_and_expands_contractions() {
        let t: Vec<String> = tokenise("It isn't 3.5 km, it's 1,612!")
            .into_iter()
            .map(|t| t.lower)
            .collect();
        assert_eq!(t, ["it", "is", "not", "3.5", "km", "it", "s", "1,612"]);
        let t: Vec<String> = tokenise("He can't; she won't.")
            .into_iter()
            .map(|t| t.lower)
            .collect();
        assert_eq!(t, ["he", "can", "not", "she", "will", "not"]);
    }

    #[test]
    fn negation_fires_on_asymmetry_and_names_the_cue() {
        for (a, b, cue) in [
            ("The sky is blue.", "The sky is not blue.", "not"),
            (
                "Emma Spool is a character in Psycho II.",
                "Emma Spool is a character in Psycho II. is false",
                "false",
            ),
            (
                "Osa Massen was a Danish actress.",
                "Osa Massen was a Danish actress is incorrect.",
                "incorrect",
            ),
            ("Cats eat fish.", "Cats never eat fish.", "never"),
            (
                "There is a dog in the park",
                "There is no dog in the park",
                "no",
            ),
            ("The door isn't open", "The door is open", "not"),
            (
                "الساقية هي آلة ميكانيكية لرفع المياه.",
                "الساقية هي آلة ميكانيكية لرفع المياه is false.",
                "false",
            ),
        ] {
            let v = judge(a, b);
            assert!(v.contradiction, "{a} / {b}");
            assert_eq!(rule(&v), "negation");
            assert!(
                v.evidence["tokens"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t == cue),
                "{v:?}"
            );
        }
        let v = judge("The door isn't open", "The door is open");
        assert_eq!(v.evidence["negated"], "a");
    }

    #[test]
    fn negation_does_not_fire_on_symmetric_or_unrelated_pairs() {
        assert!(!judge("The sky is not blue.", "The sky is not blue today.").contradiction);
        assert!(
            !judge("It is not false that snow is white", "Snow is white").contradiction,
            "double negation cancels"
        );
        assert!(
            !judge("Cats never sleep.", "Dogs chase cars in the city at noon.").contradiction,
            "too little shared"
        );
        assert!(!judge("The sky is blue", "The sky is blue").contradiction);
    }

    #[test]
    fn graded_antonyms_fire_in_the_same_degree() {
        for (a, b, tokens) in [
            (
                "Jupiter is the largest planet in the solar system.",
                "Jupiter is the smallest planet in the solar system.",
                ["largest", "smallest"],
            ),
            (
                "Light travels faster than sound.",
                "Light travels slower than sound.",
                ["faster", "slower"],
            ),
            (
                "Helium is heavier than air.",
                "Helium is lighter than air.",
                ["heavier", "lighter"],
            ),
            (
                "This summer was hotter than the last.",
                "This summer was colder than the last.",
                ["hotter", "colder"],
            ),
        ] {
            let v = judge(a, b);
            assert!(v.contradiction, "{a} / {b}");
            assert_eq!(v.evidence["tokens"], json!(tokens), "{a} / {b}");
        }
        // different degrees are not an antonym pair
        assert!(!judge("The tree is taller than the house", "The tree is short").contradiction);
        assert_eq!(graded("large", "est"), "largest");
        assert_eq!(graded("heavy", "er"), "heavier");
        assert_eq!(graded("big", "er"), "bigger");
        assert_eq!(graded("slow", "er"), "slower");
        assert_eq!(graded("light", "est"), "lightest");
    }

    #[test]
    fn antonyms_fire_only_when_split_across_similar_sentences() {
        let v = judge("Fire is hot", "Fire is cold");
        assert!(v.contradiction);
        assert_eq!(
            (rule(&v), v.evidence["tokens"].clone()),
            ("antonym", json!(["hot", "cold"]))
        );
        let v = judge("A man is playing a guitar", "A woman is playing a guitar");
        assert_eq!(v.evidence["tokens"], json!(["man", "woman"]));
        assert!(!judge("Fire is hot and ice is cold", "Ice is cold and fire is hot").contradiction);
        assert!(
            !judge(
                "Fire is hot",
                "The old library on the hill is cold in winter"
            )
            .contradiction
        );
    }

    #[test]
    fn exclusive_terms_numbers_and_dates() {
        let v = judge("Snow is white", "Snow is black");
        assert!(
            v.contradiction,
            "white/black is an antonym or exclusive colour"
        );
        let v = judge("Snow is white", "Snow is green");
        assert_eq!(
            (rule(&v), v.evidence["group"].as_str()),
            ("exclusive", Some("colour"))
        );
        let v = judge(
            "Apollo 11 landed on July 20, 1969.",
            "Apollo 11 landed on July 21, 1969.",
        );
        assert_eq!(rule(&v), "numbers");
        assert_eq!(v.evidence["tokens"], json!([["20"], ["21"]]));
        let v = judge("He was born in March 1980.", "He was born in May 1980.");
        assert_eq!(
            (rule(&v), v.evidence["group"].as_str()),
            ("exclusive", Some("month"))
        );
        let v = judge(
            "The town is 303 km from Adelaide.",
            "The town is 727 km from Adelaide.",
        );
        assert_eq!(rule(&v), "numbers");
        assert!(
            !judge(
                "The town is 303 km from Adelaide.",
                "The town is 303 km from Adelaide!"
            )
            .contradiction
        );
        assert!(
            !judge(
                "Route 66 is long.",
                "In 1999 many new songs and films came out."
            )
            .contradiction
        );
    }

    #[test]
    fn numbers_compare_quantities_of_the_same_thing() {
        // ordinary prose contradictions stay flagged
        for (a, b, tokens) in [
            (
                "The bridge is 300 m long",
                "The bridge is 450 m long",
                json!([["300"], ["450"]]),
            ),
            (
                "This crate requires Rust 1.36 or later.",
                "This crate requires Rust 1.40 or later.",
                json!([["1.36"], ["1.40"]]),
            ),
            (
                "It parses 2 GB of JSON per second on one core.",
                "It parses 7 GB of JSON per second on one core.",
                json!([["2"], ["7"]]),
            ),
            (
                "The bridge is 300 m long.",
                "The bridge is 500 m long.",
                json!([["300"], ["500"]]),
            ),
            // number words are numbers
            (
                "Spiders have eight legs.",
                "Spiders have six legs.",
                json!([["8"], ["6"]]),
            ),
            (
                "Spiders have 8 legs.",
                "Spiders have six legs.",
                json!([["8"], ["6"]]),
            ),
        ] {
            let v = judge(a, b);
            assert_eq!(rule(&v), "numbers", "{a} / {b}");
            assert_eq!(v.evidence["tokens"], tokens);
        }
        // identifiers are not quantities: issue and PR numbers, versions, handles, list
        // indices, numbers in URLs, paths and code
        for (a, b) in [
            (
                "Fix a crash when parsing empty input (#581)",
                "Fix a crash when parsing empty input (#481)",
            ),
            (
                "Fixed in PR 581 by the maintainers.",
                "Fixed in PR 482 by the maintainers.",
            ),
            (
                "[@alice](https://github.com/alice) made their first contribution in https://github.com/x/y/pull/581",
                "[@bob](https://github.com/bob) made their first contribution in https://github.com/x/y/pull/482",
            ),
            (
                "Fix a crash when parsing empty input (#581).",
                "Fix a crash when parsing empty input (#481).",
            ),
            (
                "[@alice] made their first contribution",
                "[@bob] made their first contribution",
            ),
            (
                "[@alice](https://github.com/alice) made their first contribution.",
                "[@bob](https://github.com/bob) made their first contribution.",
            ),
            // a number named as a version is a release, not a quantity (see
            // REFERENCE_WORDS): two releases of the same crate each doing something
            (
                "Version 1.2 of the crate adds async support.",
                "Version 1.3 of the crate adds async support.",
            ),
            (
                "The parser was rewritten in release 4.",
                "The parser was rewritten in release 5.",
            ),
            (
                "Upgrade to 1.2.3 to get the fix.",
                "Upgrade to 1.2.4 to get the fix.",
            ),
            (
                "Version v0.4 adds async support.",
                "Version v0.5 adds async support.",
            ),
            (
                "The function returns a u32 on every platform.",
                "The function returns a u64 on every platform.",
            ),
            (
                "1. Install the crate with cargo",
                "2. Install the crate with cargo",
            ),
            (
                "The server listens on localhost:8080 by default.",
                "The server listens on localhost:3000 by default.",
            ),
            (
                "Set `max_connections = 16` in the config file.",
                "Set `max_connections = 64` in the config file.",
            ),
            ("## [1.2.0] - 2023-05-01", "## [1.3.0] - 2023-06-01"),
            (
                "Released 2023-05-01 with the fix for (#581).",
                "Released 2023-06-01 with the fix for (#590).",
            ),
            (
                "See https://github.com/x/y/issues/12 for the details.",
                "See https://github.com/x/y/issues/13 for the details.",
            ),
        ] {
            let v = judge(a, b);
            assert!(!v.contradiction, "{a} / {b}: {v:?}");
        }
        // different quantities of different things
        assert!(
            !judge(
                "The table has 3 columns.",
                "The table has columns of 4 bytes."
            )
            .contradiction
        );
        let t = tokenise("1. See #12, @bob7, v0.4, 1.2.3, u32 and `x = 5` or 3.5 km");
        let ident: Vec<&str> = t
            .iter()
            .filter(|t| t.ident)
            .map(|t| t.lower.as_str())
            .collect();
        assert_eq!(ident, ["1", "12", "bob7", "v0.4", "1.2.3", "u32", "x", "5"]);
        // the same quantity written twice ways is no contradiction; "one" is no count
        assert!(!judge("Spiders have 8 legs.", "Spiders have eight legs.").contradiction);
        assert!(
            !judge(
                "It is one of the fastest parsers.",
                "It is 2 of the fastest parsers."
            )
            .contradiction
        );
        let t = tokenise("Two cats, version 2 and Eight");
        let num: Vec<(&str, bool)> = t
            .iter()
            .filter(|t| t.numeric)
            .map(|t| (t.lower.as_str(), t.ident))
            .collect();
        assert_eq!(num, [("2", false), ("2", true), ("8", false)]);
    }

    #[test]
    fn entity_swap_needs_real_names_in_the_same_role() {
        for (a, b) in [
            ("[Support](#support)", "[Example](#example)"),
            ("Support", "Example"),
            (
                "Thanks to @Alice for the report.",
                "Thanks to @Bob for the report.",
            ),
            (
                "Paris is the capital of France",
                "France is the capital of Lyon",
            ),
            (
                "See the Tokio docs at https://docs.rs/Tokio for more",
                "See the Tokio docs at https://docs.rs/Hyper for more",
            ),
        ] {
            let v = judge(a, b);
            assert!(!v.contradiction, "{a} / {b}: {v:?}");
        }
        let v = judge(
            "The project was started by Mozilla in 2010.",
            "The project was started by Google in 2010.",
        );
        assert_eq!(
            (rule(&v), v.evidence["tokens"].clone()),
            ("entity_swap", json!(["mozilla", "google"]))
        );
    }

    #[test]
    fn swapped_names_fire_but_articles_do_not() {
        let v = judge(
            "Paris is the capital of France",
            "Lyon is the capital of France",
        );
        assert_eq!(
            (rule(&v), v.evidence["tokens"].clone()),
            ("entity_swap", json!(["paris", "lyon"]))
        );
        assert!(!judge("A dog runs in the park", "The dog runs in the park").contradiction);
        assert!(
            !judge(
                "Paris is the capital of France",
                "Paris is the capital city of France"
            )
            .contradiction
        );
    }

    #[test]
    fn nothing_fires_below_the_similarity_floor() {
        let d = LexicalDetector::default();
        assert!(!d.judge("Fire is hot", "Fire is cold", 0.2).contradiction);
        assert!(d.judge("Fire is hot", "Fire is cold", 0.5).contradiction);
        let v = d.score_batch(&[
            PairInput::texts("The sky is blue", "The sky is not blue", 0.9),
            PairInput::texts("The sky is blue", "The sky is not blue", 0.1),
        ]);
        assert_eq!((v[0].contradiction, v[1].contradiction), (true, false));
        assert!(v[0].score > 0.8 && v[0].score <= 1.0);
    }
}
