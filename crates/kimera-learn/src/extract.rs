//! Extraction: one statement in, its concepts and typed associations out.
//!
//! Every cue phrase of every relation ("is a", "is part of", "causes", "has a
//! population of" ...) sits in one Aho-Corasick automaton (leftmost-longest), run once
//! over the statement's token string; the seed ran five regexes one after another.
//! Around each cue the noun phrase on the left and the one on the right (bounded by
//! clause punctuation, function words and the neighbouring cues) become the
//! association's ends. Co-occurrence links the content words that stand within
//! [`COOCCUR_WINDOW`] content words of each other.
//!
//! Extraction is a pure function of (text, language): that is what lets
//! [`crate::Learner`] run it on any number of threads and still build the same graph.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};

use crate::text::{
    TokKind, Tokens, format_number, is_stop_word, multiplier, parse_number, stem, stems, tokenize,
};

/// Longest statement accepted, in bytes (1 MiB): longer input is almost always a file
/// read as one statement by mistake.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// Tokens of a statement that are looked at; the rest is ignored (bounds the work).
pub const MAX_TOKENS: usize = 1024;
/// Content words at most this far apart co-occur.
pub const COOCCUR_WINDOW: usize = 3;
/// Confidence of a co-occurrence at distance 1 (divided by the distance).
pub const COOCCUR_WEIGHT: f32 = 0.3;

/// The type of an association.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    IsA,
    PartOf,
    HasProperty,
    Causes,
    LocatedIn,
    MadeOf,
    UsedFor,
    /// Temporal order; "X after Y" is stored as `Before(Y, X)`.
    Before,
    OppositeOf,
    SimilarTo,
    Equals,
    /// `src` has attribute `attr` with value `dst` ("france" capital "paris").
    Attribute,
    CoOccurs,
}

impl Relation {
    pub const ALL: [Relation; 13] = [
        Relation::IsA,
        Relation::PartOf,
        Relation::HasProperty,
        Relation::Causes,
        Relation::LocatedIn,
        Relation::MadeOf,
        Relation::UsedFor,
        Relation::Before,
        Relation::OppositeOf,
        Relation::SimilarTo,
        Relation::Equals,
        Relation::Attribute,
        Relation::CoOccurs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Relation::IsA => "is-a",
            Relation::PartOf => "part-of",
            Relation::HasProperty => "has-property",
            Relation::Causes => "causes",
            Relation::LocatedIn => "located-in",
            Relation::MadeOf => "made-of",
            Relation::UsedFor => "used-for",
            Relation::Before => "before",
            Relation::OppositeOf => "opposite-of",
            Relation::SimilarTo => "similar-to",
            Relation::Equals => "equals",
            Relation::Attribute => "attribute",
            Relation::CoOccurs => "co-occurs",
        }
    }

    pub fn parse(s: &str) -> Option<Relation> {
        Relation::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Symmetric relations are stored once, with the smaller term first.
    pub fn is_symmetric(self) -> bool {
        matches!(
            self,
            Relation::OppositeOf | Relation::SimilarTo | Relation::Equals | Relation::CoOccurs
        )
    }
}

impl std::fmt::Display for Relation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One association found in a statement; ends are indexes into [`Extraction::terms`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Link {
    pub src: u32,
    pub dst: u32,
    pub rel: Relation,
    /// The attribute's name, for [`Relation::Attribute`].
    pub attr: Option<u32>,
    /// How much one sighting of this pattern is worth, in (0, 1].
    pub confidence: f32,
}

/// Everything learned from one statement.
///
/// The terms are kept one after another in one string: three allocations per
/// statement however many terms it has, and the learner copies them into its
/// per-block buffers in one go.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extraction {
    /// The distinct concepts of the statement, in order of first appearance, one
    /// after another.
    text: String,
    /// End of each term in `text`.
    ends: Vec<usize>,
    /// Distinct associations, sorted by (src, dst, rel, attr).
    pub links: Vec<Link>,
}

impl Extraction {
    /// Term `i` (as a [`Link`] names it).
    pub fn term(&self, i: u32) -> &str {
        self.view().term(i as usize)
    }

    /// The distinct concepts of the statement, in order of first appearance.
    pub fn terms(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.view().terms()
    }

    pub fn term_count(&self) -> usize {
        self.ends.len()
    }

    /// Appends a term (no check that it is new) and returns its index.
    pub fn push_term(&mut self, term: &str) -> u32 {
        self.text.push_str(term);
        self.ends.push(self.text.len());
        (self.ends.len() - 1) as u32
    }

    pub(crate) fn view(&self) -> ExtractionRef<'_> {
        ExtractionRef {
            text: &self.text,
            start: 0,
            ends: &self.ends,
            links: &self.links,
        }
    }
}

/// Serialised as `{"terms": [...], "links": [...]}`.
impl Serialize for Extraction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Extraction", 2)?;
        st.serialize_field("terms", &self.terms().collect::<Vec<_>>())?;
        st.serialize_field("links", &self.links)?;
        st.end()
    }
}

/// One statement's extraction, borrowed: from an [`Extraction`], or from buffers that
/// hold several statements' terms one after another (`start` is where this
/// statement's first term begins, `ends` where each of its terms ends).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExtractionRef<'a> {
    pub text: &'a str,
    pub start: usize,
    pub ends: &'a [usize],
    pub links: &'a [Link],
}

impl<'a> ExtractionRef<'a> {
    pub fn term_count(&self) -> usize {
        self.ends.len()
    }

    pub fn term(&self, i: usize) -> &'a str {
        let a = if i == 0 { self.start } else { self.ends[i - 1] };
        &self.text[a..self.ends[i]]
    }

    pub fn terms(self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let (text, mut a) = (self.text, self.start);
        self.ends.iter().map(move |&b| {
            let t = &text[a..b];
            a = b;
            t
        })
    }
}

/// Why a statement could not be learned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("statement is {0} bytes long, over the limit of {MAX_TEXT_BYTES}")]
    TooLong(usize),
}

#[derive(Debug, Clone, Copy)]
enum Cue {
    /// is, are, was, were: is-a, has-property or an attribute, decided by what follows.
    Copula { plural: bool },
    /// has, have: has-property or an attribute.
    Has,
    /// A fixed relation; `reversed` puts the right-hand phrase first.
    Rel {
        rel: Relation,
        reversed: bool,
        confidence: f32,
    },
    /// "was founded in 1850": attribute `<name>-date` or `<name>-place`.
    Event(&'static str),
    /// "boils at 100 degrees": attribute `name` with a quantity.
    Point(&'static str),
}

const fn rel(rel: Relation, confidence: f32) -> Cue {
    Cue::Rel {
        rel,
        reversed: false,
        confidence,
    }
}
const fn rev(rel: Relation, confidence: f32) -> Cue {
    Cue::Rel {
        rel,
        reversed: true,
        confidence,
    }
}

/// The cue table. Longer phrases win over their prefixes (leftmost-longest).
const CUES: &[(&str, Cue)] = {
    use Relation::*;
    &[
        ("is", Cue::Copula { plural: false }),
        ("was", Cue::Copula { plural: false }),
        ("are", Cue::Copula { plural: true }),
        ("were", Cue::Copula { plural: true }),
        ("est", Cue::Copula { plural: false }),
        ("sont", Cue::Copula { plural: true }),
        ("has", Cue::Has),
        ("have", Cue::Has),
        ("possesses", Cue::Has),
        ("is a kind of", rel(IsA, 0.9)),
        ("is a type of", rel(IsA, 0.9)),
        ("is a sort of", rel(IsA, 0.9)),
        ("is a form of", rel(IsA, 0.85)),
        ("are a kind of", rel(IsA, 0.9)),
        ("are a type of", rel(IsA, 0.9)),
        ("is an example of", rel(IsA, 0.85)),
        ("is part of", rel(PartOf, 0.85)),
        ("is a part of", rel(PartOf, 0.85)),
        ("are part of", rel(PartOf, 0.85)),
        ("are parts of", rel(PartOf, 0.85)),
        ("was part of", rel(PartOf, 0.8)),
        ("belongs to", rel(PartOf, 0.8)),
        ("belong to", rel(PartOf, 0.8)),
        ("is a member of", rel(PartOf, 0.85)),
        ("are members of", rel(PartOf, 0.85)),
        ("is a component of", rel(PartOf, 0.85)),
        ("fait partie de", rel(PartOf, 0.85)),
        ("font partie de", rel(PartOf, 0.85)),
        ("contains", rev(PartOf, 0.75)),
        ("contain", rev(PartOf, 0.75)),
        ("includes", rev(PartOf, 0.7)),
        ("include", rev(PartOf, 0.7)),
        ("comprises", rev(PartOf, 0.75)),
        ("contient", rev(PartOf, 0.75)),
        ("causes", rel(Causes, 0.8)),
        ("cause", rel(Causes, 0.8)),
        ("caused", rel(Causes, 0.8)),
        ("leads to", rel(Causes, 0.75)),
        ("lead to", rel(Causes, 0.75)),
        ("led to", rel(Causes, 0.75)),
        ("results in", rel(Causes, 0.75)),
        ("result in", rel(Causes, 0.75)),
        ("resulted in", rel(Causes, 0.75)),
        ("produces", rel(Causes, 0.7)),
        ("produce", rel(Causes, 0.7)),
        ("triggers", rel(Causes, 0.75)),
        ("provoque", rel(Causes, 0.8)),
        ("is caused by", rev(Causes, 0.8)),
        ("are caused by", rev(Causes, 0.8)),
        ("was caused by", rev(Causes, 0.8)),
        ("results from", rev(Causes, 0.75)),
        ("result from", rev(Causes, 0.75)),
        ("is located in", rel(LocatedIn, 0.85)),
        ("are located in", rel(LocatedIn, 0.85)),
        ("is situated in", rel(LocatedIn, 0.85)),
        ("lies in", rel(LocatedIn, 0.8)),
        ("is in", rel(LocatedIn, 0.7)),
        ("are in", rel(LocatedIn, 0.7)),
        ("is found in", rel(LocatedIn, 0.75)),
        ("are found in", rel(LocatedIn, 0.75)),
        ("lives in", rel(LocatedIn, 0.75)),
        ("live in", rel(LocatedIn, 0.75)),
        ("se trouve en", rel(LocatedIn, 0.8)),
        ("se trouve à", rel(LocatedIn, 0.8)),
        ("is made of", rel(MadeOf, 0.85)),
        ("are made of", rel(MadeOf, 0.85)),
        ("is made from", rel(MadeOf, 0.85)),
        ("are made from", rel(MadeOf, 0.85)),
        ("consists of", rel(MadeOf, 0.8)),
        ("consist of", rel(MadeOf, 0.8)),
        ("is composed of", rel(MadeOf, 0.85)),
        ("are composed of", rel(MadeOf, 0.85)),
        ("is used for", rel(UsedFor, 0.8)),
        ("are used for", rel(UsedFor, 0.8)),
        ("is used to", rel(UsedFor, 0.75)),
        ("are used to", rel(UsedFor, 0.75)),
        ("is used in", rel(UsedFor, 0.7)),
        ("are used in", rel(UsedFor, 0.7)),
        ("before", rel(Before, 0.7)),
        ("precedes", rel(Before, 0.75)),
        ("preceded", rel(Before, 0.75)),
        ("after", rev(Before, 0.7)),
        ("follows", rev(Before, 0.75)),
        ("followed", rev(Before, 0.75)),
        ("is the opposite of", rel(OppositeOf, 0.9)),
        ("is opposite to", rel(OppositeOf, 0.85)),
        ("is the antonym of", rel(OppositeOf, 0.9)),
        ("is the contrary of", rel(OppositeOf, 0.85)),
        ("est le contraire de", rel(OppositeOf, 0.9)),
        ("is similar to", rel(SimilarTo, 0.7)),
        ("are similar to", rel(SimilarTo, 0.7)),
        ("resembles", rel(SimilarTo, 0.65)),
        ("is like", rel(SimilarTo, 0.6)),
        ("equals", rel(Equals, 0.9)),
        ("is equal to", rel(Equals, 0.9)),
        ("is the same as", rel(Equals, 0.85)),
        ("is equivalent to", rel(Equals, 0.85)),
        ("was founded in", Cue::Event("founded")),
        ("was founded on", Cue::Event("founded")),
        ("was established in", Cue::Event("established")),
        ("was born in", Cue::Event("born")),
        ("was born on", Cue::Event("born")),
        ("were born in", Cue::Event("born")),
        ("was built in", Cue::Event("built")),
        ("was discovered in", Cue::Event("discovered")),
        ("was invented in", Cue::Event("invented")),
        ("was created in", Cue::Event("created")),
        ("was published in", Cue::Event("published")),
        ("was released in", Cue::Event("released")),
        ("died in", Cue::Event("died")),
        ("died on", Cue::Event("died")),
        ("boils at", Cue::Point("boiling point")),
        ("freezes at", Cue::Point("freezing point")),
        ("melts at", Cue::Point("melting point")),
    ]
};

struct Matcher {
    ac: AhoCorasick,
    cues: Vec<Cue>,
}

static MATCHER: LazyLock<Matcher> = LazyLock::new(|| {
    let pats: Vec<String> = CUES.iter().map(|(p, _)| format!(" {p} ")).collect();
    let ac = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&pats)
        .expect("the cue table compiles");
    Matcher {
        ac,
        cues: CUES.iter().map(|(_, c)| *c).collect(),
    }
});

/// Words that end a noun phrase: verbs, conjunctions, relative pronouns.
fn is_boundary(w: &str) -> bool {
    matches!(
        w,
        "is" | "are"
            | "was"
            | "were"
            | "be"
            | "been"
            | "has"
            | "have"
            | "had"
            | "do"
            | "does"
            | "did"
            | "and"
            | "or"
            | "but"
            | "that"
            | "which"
            | "who"
            | "whom"
            | "whose"
            | "when"
            | "while"
            | "where"
            | "because"
            | "if"
            | "then"
            | "than"
            | "so"
            | "can"
            | "could"
            | "will"
            | "would"
            | "should"
            | "may"
            | "might"
            | "must"
            | "not"
            | "never"
            | "also"
            | "et"
            | "ou"
            | "mais"
            | "qui"
            | "que"
    )
}

/// Prepositions that end a right-hand phrase ("causes cancer *in* mice").
fn is_preposition(w: &str) -> bool {
    matches!(
        w,
        "in" | "on"
            | "at"
            | "with"
            | "by"
            | "from"
            | "to"
            | "for"
            | "during"
            | "since"
            | "into"
            | "through"
            | "over"
            | "under"
            | "about"
            | "without"
            | "within"
            | "near"
            | "per"
            | "dans"
            | "avec"
            | "pour"
            | "sur"
            | "par"
    )
}

/// Verbs skipped between a subject and a temporal cue ("X *happened* before Y").
fn is_event_verb(w: &str) -> bool {
    matches!(
        w,
        "happened"
            | "happens"
            | "occurred"
            | "occurs"
            | "came"
            | "comes"
            | "come"
            | "took"
            | "place"
    )
}

fn is_negation(w: &str) -> bool {
    matches!(w, "not" | "never" | "no" | "pas" | "ne" | "n't" | "cannot")
}

fn dimension(w: &str) -> Option<&'static str> {
    Some(match w {
        "tall" | "high" => "height",
        "long" => "length",
        "old" => "age",
        "wide" => "width",
        "deep" => "depth",
        "heavy" => "weight",
        "thick" => "thickness",
        _ => return None,
    })
}

struct Builder<'a> {
    toks: &'a Tokens,
    stem: bool,
    out: Extraction,
}

type Span = (usize, usize);

impl Builder<'_> {
    fn word(&self, i: usize) -> &str {
        self.toks.text(i)
    }

    fn kind(&self, i: usize) -> TokKind {
        self.toks.toks[i].kind
    }

    fn intern(&mut self, term: &str) -> u32 {
        let known = self.out.terms().position(|t| t == term);
        match known {
            Some(i) => i as u32,
            None => self.out.push_term(term),
        }
    }

    fn norm_word(&self, i: usize) -> String {
        let w = self.word(i);
        if self.stem && self.kind(i) == TokKind::Word {
            stem(w).into_owned()
        } else {
            w.to_string()
        }
    }

    /// The concept a span names: stop words trimmed at both ends, at most four words
    /// (the last four: the head noun ends an English noun phrase).
    fn phrase(&self, (mut a, mut b): Span) -> Option<String> {
        while a < b && (is_stop_word(self.word(a)) || self.kind(a) == TokKind::Punct) {
            a += 1;
        }
        while b > a && (is_stop_word(self.word(b - 1)) || self.kind(b - 1) == TokKind::Punct) {
            b -= 1;
        }
        if a == b {
            return None;
        }
        let a = a.max(b.saturating_sub(4));
        let mut s = String::new();
        for i in a..b {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&self.norm_word(i));
        }
        Some(s)
    }

    /// A value: a quantity (`2.1 million` → `2100000`, `100 degrees` → `100 degree`)
    /// when the span starts with a number, else the phrase. Returns the value, whether
    /// it is numeric, and the index after the quantity's unit.
    fn value(&self, (a, b): Span) -> Option<(String, bool, usize)> {
        let mut a = a;
        while a < b && is_stop_word(self.word(a)) && self.kind(a) != TokKind::Number {
            a += 1;
        }
        if a < b && self.kind(a) == TokKind::Number {
            let mut x = parse_number(self.word(a))?;
            let mut i = a + 1;
            if i < b {
                if let Some(m) = multiplier(self.word(i)) {
                    x *= m;
                    i += 1;
                }
            }
            let mut s = format_number(x);
            let mut units = 0;
            while i < b
                && units < 2
                && self.kind(i) == TokKind::Word
                && !is_stop_word(self.word(i))
                && dimension(self.word(i)).is_none()
            {
                s.push(' ');
                s.push_str(&self.norm_word(i));
                units += 1;
                i += 1;
            }
            return Some((s, true, i));
        }
        self.phrase((a, b)).map(|p| (p, false, b))
    }

    /// Splits "the capital of france" at its `of` (or `de`) into (attribute, entity),
    /// and "france 's capital" at its `s` into the same.
    fn split_of(&self, (a, b): Span) -> Option<(Span, Span)> {
        for i in a..b {
            let w = self.word(i);
            if (w == "of" || w == "de") && i > a && i + 1 < b {
                return Some(((a, i), (i + 1, b)));
            }
            if w == "s" && i > a && i + 1 < b {
                return Some(((i + 1, b), (a, i)));
            }
        }
        None
    }

    /// Splits a right-hand span at `and`/`or`/`et` into at most three items.
    fn items(&self, (a, b): Span) -> Vec<Span> {
        let mut out = Vec::new();
        let mut start = a;
        for i in a..b {
            if matches!(self.word(i), "and" | "or" | "et" | "ou") {
                out.push((start, i));
                start = i + 1;
            }
        }
        out.push((start, b));
        out.truncate(3);
        out
    }

    fn link(&mut self, src: String, dst: String, rel: Relation, attr: Option<String>, c: f32) {
        if src == dst && attr.is_none() {
            return;
        }
        let (src, dst) = if rel.is_symmetric() && dst < src {
            (dst, src)
        } else {
            (src, dst)
        };
        let src = self.intern(&src);
        let dst = self.intern(&dst);
        let attr = attr.map(|a| self.intern(&a));
        self.out.links.push(Link {
            src,
            dst,
            rel,
            attr,
            confidence: c,
        });
    }

    fn attribute(&mut self, entity: Span, attr: Span, value: Span, c: f32) -> bool {
        let (Some(e), Some(a), Some((v, _, _))) =
            (self.phrase(entity), self.phrase(attr), self.value(value))
        else {
            return false;
        };
        self.link(e, v, Relation::Attribute, Some(a), c);
        true
    }

    /// The left-hand phrase of a cue starting at token `ts`, not reaching before `lo`.
    fn left(&self, lo: usize, ts: usize) -> Span {
        let mut b = ts;
        let mut skipped = 0;
        while b > lo && skipped < 2 && is_event_verb(self.word(b - 1)) {
            b -= 1;
            skipped += 1;
        }
        let mut a = b;
        while a > lo && b - a < 6 {
            let w = self.word(a - 1);
            if self.kind(a - 1) == TokKind::Punct || is_boundary(w) {
                break;
            }
            a -= 1;
        }
        (a, b)
    }

    /// The right-hand span of a cue ending at token `te`, not reaching `hi`. `of` and
    /// quantities stay inside; other prepositions and clause ends stop it.
    fn right(&self, te: usize, hi: usize) -> Span {
        let mut b = te;
        while b < hi && b - te < 8 {
            let w = self.word(b);
            if self.kind(b) == TokKind::Punct
                || (is_boundary(w) && !matches!(w, "and" | "or" | "et" | "ou" | "not" | "never"))
                || (is_preposition(w) && b > te)
            {
                break;
            }
            b += 1;
        }
        (te, b)
    }

    fn cue(&mut self, cue: Cue, l: Span, r: Span) {
        if r.0 < r.1 && is_negation(self.word(r.0)) {
            return; // "X is not a Y" asserts no association
        }
        if l.0 < l.1 && is_negation(self.word(l.1 - 1)) {
            return; // "X does not cause Y" (when the cue is "cause")
        }
        match cue {
            Cue::Copula { plural } => self.copula(plural, l, r),
            Cue::Has => self.has(l, r),
            Cue::Rel {
                rel,
                reversed,
                confidence,
            } => {
                let Some(x) = self.phrase(l) else { return };
                for item in self.items(r) {
                    if let Some(y) = self.phrase(item) {
                        let (s, d) = if reversed {
                            (y, x.clone())
                        } else {
                            (x.clone(), y)
                        };
                        self.link(s, d, rel, None, confidence);
                    }
                }
            }
            Cue::Event(name) => {
                let (Some(x), Some((v, numeric, _))) = (self.phrase(l), self.value(r)) else {
                    return;
                };
                let attr = format!("{name}-{}", if numeric { "date" } else { "place" });
                self.link(x, v, Relation::Attribute, Some(attr), 0.85);
            }
            Cue::Point(name) => {
                let (Some(x), Some((v, true, _))) = (self.phrase(l), self.value(r)) else {
                    return;
                };
                self.link(x, v, Relation::Attribute, Some(name.to_string()), 0.85);
            }
        }
    }

    fn copula(&mut self, plural: bool, l: Span, r: Span) {
        if r.0 == r.1 {
            return;
        }
        // "the capital of france is paris", "france's capital is paris"
        let indefinite = matches!(self.word(r.0), "a" | "an" | "un" | "une");
        if let Some((attr, ent)) = self.split_of(l).filter(|_| !indefinite) {
            let mut any = false;
            for item in self.items(r) {
                any |= self.attribute(ent, attr, item, 0.85);
            }
            if any {
                return;
            }
        }
        let Some(x) = self.phrase(l) else { return };
        let first = self.word(r.0);
        let rest = (r.0 + 1, r.1);
        match first {
            "a" | "an" | "un" | "une" => {
                // head before any "of": "a city of france" is-a "city"
                let head = self.split_of(rest).map(|(h, _)| h).unwrap_or(rest);
                if let Some(y) = self.phrase(head) {
                    self.link(x, y, Relation::IsA, None, 0.9);
                }
            }
            "the" | "le" | "la" | "l" => {
                // "paris is the capital of france"
                if let Some((attr, ent)) = self.split_of(rest) {
                    if let (Some(a), Some(e)) = (self.phrase(attr), self.phrase(ent)) {
                        self.link(e, x, Relation::Attribute, Some(a), 0.85);
                        return;
                    }
                }
                if let Some(y) = self.phrase(rest) {
                    self.link(x, y, Relation::IsA, None, 0.7);
                }
            }
            _ if self.kind(r.0) == TokKind::Number => {
                // "the tower is 330 metres tall"
                let Some((v, _, after)) = self.value(r) else {
                    return;
                };
                let attr = (after < r.1)
                    .then(|| dimension(self.word(after)))
                    .flatten()
                    .unwrap_or("measure");
                self.link(x, v, Relation::Attribute, Some(attr.to_string()), 0.8);
            }
            _ => {
                for item in self.items(r) {
                    let Some(y) = self.phrase(item) else { continue };
                    // "cats are mammals": a plural noun after a plural copula is a class
                    let last_raw = self.word(item.1 - 1);
                    let class =
                        plural && self.stem && last_raw.ends_with('s') && last_raw.len() > 3;
                    if class {
                        self.link(x.clone(), y, Relation::IsA, None, 0.6);
                    } else {
                        self.link(x.clone(), y, Relation::HasProperty, None, 0.6);
                    }
                }
            }
        }
    }

    fn has(&mut self, l: Span, r: Span) {
        let Some(x) = self.phrase(l) else { return };
        let mut a = r.0;
        while a < r.1 && matches!(self.word(a), "a" | "an" | "the") {
            a += 1;
        }
        if a >= r.1 {
            return;
        }
        let r = (a, r.1);
        // "has a population of 2.1 million"
        if let Some((attr, val)) = self.split_of(r) {
            if let (Some(at), Some((v, true, _))) = (self.phrase(attr), self.value(val)) {
                self.link(x, v, Relation::Attribute, Some(at), 0.85);
                return;
            }
        }
        // "has population 2.1 million"
        if self.kind(a) == TokKind::Word && a + 1 < r.1 && self.kind(a + 1) == TokKind::Number {
            if let (Some(at), Some((v, _, _))) = (self.phrase((a, a + 1)), self.value((a + 1, r.1)))
            {
                self.link(x, v, Relation::Attribute, Some(at), 0.85);
                return;
            }
        }
        // "has 8 legs"
        if self.kind(a) == TokKind::Number {
            let Some(n) = parse_number(self.word(a)) else {
                return;
            };
            let mut i = a + 1;
            let mut n = n;
            if i < r.1 {
                if let Some(m) = multiplier(self.word(i)) {
                    n *= m;
                    i += 1;
                }
            }
            if let Some(at) = self.phrase((i, r.1)) {
                self.link(x, format_number(n), Relation::Attribute, Some(at), 0.8);
            }
            return;
        }
        for item in self.items(r) {
            if let Some(y) = self.phrase(item) {
                self.link(x.clone(), y, Relation::HasProperty, None, 0.6);
            }
        }
    }

    fn cooccurrence(&mut self) {
        let content: Vec<String> = (0..self.toks.len())
            .filter(|&i| self.kind(i) == TokKind::Word && !is_stop_word(self.word(i)))
            .map(|i| self.norm_word(i))
            .collect();
        let ids: Vec<u32> = content.iter().map(|t| self.intern(t)).collect();
        for i in 0..ids.len() {
            for d in 1..=COOCCUR_WINDOW {
                let Some(&j) = ids.get(i + d) else { break };
                if j == ids[i] {
                    continue;
                }
                let (a, b) = (ids[i], j);
                let (a, b) = if self.out.term(b) < self.out.term(a) {
                    (b, a)
                } else {
                    (a, b)
                };
                self.out.links.push(Link {
                    src: a,
                    dst: b,
                    rel: Relation::CoOccurs,
                    attr: None,
                    confidence: COOCCUR_WEIGHT / d as f32,
                });
            }
        }
    }
}

/// Extracts the concepts and associations of one statement.
///
/// ```
/// use kimera_learn::{extract, Relation};
/// let ex = extract("The capital of France is Paris.", "en").unwrap();
/// let l = ex.links.iter().find(|l| l.rel == Relation::Attribute).unwrap();
/// assert_eq!((ex.term(l.src), ex.term(l.attr.unwrap()), ex.term(l.dst)), ("france", "capital", "paris"));
/// ```
pub fn extract(text: &str, lang: &str) -> Result<Extraction, ExtractError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(ExtractError::TooLong(text.len()));
    }
    let toks = tokenize(text, MAX_TOKENS);
    let mut b = Builder {
        toks: &toks,
        stem: stems(lang),
        out: Extraction::default(),
    };
    // content words first, so that term order follows the text
    b.cooccurrence();

    let m = &*MATCHER;
    let cues: Vec<(usize, usize, Cue)> =
        m.ac.find_iter(&toks.joined)
            .map(|mat| {
                let ts = toks.token_at_or_after(mat.start());
                let te = toks.token_at_or_after(mat.end());
                (ts, te, m.cues[mat.pattern().as_usize()])
            })
            .collect();
    for (k, &(ts, te, cue)) in cues.iter().enumerate() {
        let lo = if k > 0 { cues[k - 1].1 } else { 0 };
        let hi = cues.get(k + 1).map_or(toks.len(), |c| c.0);
        let l = b.left(lo, ts);
        let r = b.right(te, hi);
        b.cue(cue, l, r);
    }

    let mut out = b.out;
    // one link per (src, dst, rel, attr), keeping the strongest sighting
    out.links.sort_by(|x, y| {
        (x.src, x.dst, x.rel, x.attr)
            .cmp(&(y.src, y.dst, y.rel, y.attr))
            .then(y.confidence.total_cmp(&x.confidence))
    });
    out.links.dedup_by(|later, first| {
        (later.src, later.dst, later.rel, later.attr)
            == (first.src, first.dst, first.rel, first.attr)
    });
    Ok(out)
}

/// The concept a user's term names, normalised as extraction normalises it
/// (`"The Cities"` → `"city"`), or `None` when it has only stop words.
pub fn concept_term(term: &str) -> Option<String> {
    let toks = tokenize(term, MAX_TOKENS);
    let b = Builder {
        toks: &toks,
        stem: true,
        out: Extraction::default(),
    };
    let words: Vec<usize> = (0..toks.len())
        .filter(|&i| b.kind(i) != TokKind::Punct)
        .collect();
    if words.is_empty() {
        return None;
    }
    // a bare number or quantity is a value concept
    if b.kind(words[0]) == TokKind::Number {
        return b.value((0, toks.len())).map(|v| v.0);
    }
    let mut s = String::new();
    let (mut a, mut z) = (0, toks.len());
    while a < z && (is_stop_word(b.word(a)) || b.kind(a) == TokKind::Punct) {
        a += 1;
    }
    while z > a && (is_stop_word(b.word(z - 1)) || b.kind(z - 1) == TokKind::Punct) {
        z -= 1;
    }
    for i in a..z {
        if b.kind(i) == TokKind::Punct {
            continue;
        }
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&b.norm_word(i));
    }
    (!s.is_empty()).then_some(s)
}
