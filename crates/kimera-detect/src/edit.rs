//! How two statements differ, word by word: the *edit* that turns one into the other.
//!
//! A contradiction written into a body of knowledge is most often a minimal edit of a
//! true statement: a negation added or removed ("Penguins can fly." / "Penguins cannot
//! fly."), a number changed, one word swapped for its antonym or for another name.
//! Natural pairs of related statements differ in more than that. The edit is therefore
//! both a feature of the decision and, for a negation that is the *only* difference, a
//! rule precise enough to decide alone (see [`Edit::is_negation_only`]).

/// Negation cues (after contractions are expanded: "isn't" → "is not").
const CUES: &[&str] = &[
    "not", "no", "never", "nobody", "none", "nothing", "nowhere", "neither", "nor",
];

/// Words a negation brings or removes with it: the auxiliary of "does not support",
/// the article "no" replaces ("There is no man" / "There is a man"), the indefinite
/// pronoun "nobody" replaces.
const NEGATION_COMPANIONS: &[&str] = &[
    "do",
    "does",
    "did",
    "a",
    "an",
    "some",
    "any",
    "someone",
    "somebody",
    "something",
    "anyone",
    "anybody",
    "anything",
    "somewhere",
    "anywhere",
    "either",
    "or",
    "at",
    "all",
];

/// Fewest words the two statements must share around the edit for it to count as a
/// minimal edit (a two-word statement negated is not evidence of much).
const MIN_SHARED: usize = 3;

/// The words of a statement as the edit compares them: lower case, contractions
/// expanded, numbers kept whole (`3.5`, `1,612`), punctuation dropped.
pub fn words(text: &str) -> Vec<String> {
    let t = text
        .to_lowercase()
        .replace('’', "'")
        .replace("can't", "can not")
        .replace("won't", "will not")
        .replace("cannot", "can not")
        .replace("n't", " not");
    let chars: Vec<char> = t.chars().collect();
    let mut out = Vec::new();
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
        out.push(chars[start..i].iter().collect());
    }
    out
}

/// The edit between two statements: the words left on each side after their longest
/// common beginning and end are taken away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Words of side a that side b does not have at that place.
    pub a: Vec<String>,
    /// Words of side b that side a does not have at that place.
    pub b: Vec<String>,
    /// Words the two sides share (common beginning plus common end).
    pub shared: usize,
}

/// Which side a negation-only edit negates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

impl Edit {
    /// The edit between `a` and `b`.
    pub fn between(a: &str, b: &str) -> Edit {
        let (wa, wb) = (words(a), words(b));
        let pre = wa.iter().zip(&wb).take_while(|(x, y)| x == y).count();
        let room = wa.len().min(wb.len()) - pre;
        let suf = wa
            .iter()
            .rev()
            .zip(wb.iter().rev())
            .take(room)
            .take_while(|(x, y)| x == y)
            .count();
        Edit {
            a: wa[pre..wa.len() - suf].to_vec(),
            b: wb[pre..wb.len() - suf].to_vec(),
            shared: pre + suf,
        }
    }

    /// Words changed, on both sides together.
    pub fn size(&self) -> usize {
        self.a.len() + self.b.len()
    }

    /// The side that is negated when the *only* difference between the two statements
    /// is a negation (with the auxiliary or article that comes with it, and the verb's
    /// inflection: "It supports X" / "It does not support X"), and they share at least
    /// [`MIN_SHARED`] words; `None` otherwise.
    ///
    /// Measured on SICK train (4,439 pairs, see `weights/PROVENANCE.md`): such pairs are
    /// contradictions 162 times out of 164 (precision 0.99), so this rule decides alone.
    pub fn is_negation_only(&self) -> Option<Side> {
        if self.shared < MIN_SHARED || self.size() == 0 {
            return None;
        }
        let cues = |w: &[String]| w.iter().filter(|x| CUES.contains(&x.as_str())).count();
        let (ca, cb) = (cues(&self.a), cues(&self.b));
        if (ca + cb) % 2 == 0 {
            return None;
        }
        let rest = |w: &[String]| -> Vec<String> {
            w.iter()
                .filter(|x| {
                    !CUES.contains(&x.as_str()) && !NEGATION_COMPANIONS.contains(&x.as_str())
                })
                .map(|x| stem(x).to_string())
                .collect()
        };
        if rest(&self.a) != rest(&self.b) {
            return None;
        }
        Some(if ca % 2 == 1 { Side::A } else { Side::B })
    }
}

/// A verb's stem for comparing "supports" with "support": drops a final `es`/`s`.
fn stem(w: &str) -> &str {
    if w.len() > 4 && w.ends_with("es") && !w.ends_with("ses") {
        &w[..w.len() - 2]
    } else if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
        &w[..w.len() - 1]
    } else {
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edit_is_what_remains_around_the_common_beginning_and_end() {
        let e = Edit::between(
            "Paris is the capital of France.",
            "Paris is not the capital of France",
        );
        assert_eq!(e.a, Vec::<String>::new());
        assert_eq!(e.b, ["not"]);
        assert_eq!(e.shared, 6);
        let e = Edit::between("It weighs 1.2 kg.", "It weighs 3,5 kg.");
        assert_eq!(
            (e.a, e.b),
            (vec!["1.2".to_string()], vec!["3,5".to_string()])
        );
    }

    #[test]
    fn negation_only_edits_in_their_usual_forms() {
        let yes = [
            ("Penguins cannot fly.", "Penguins can fly.", Side::A),
            (
                "Tea contains caffeine.",
                "Tea contains no caffeine.",
                Side::B,
            ),
            (
                "Antibiotics do not work against viruses.",
                "Antibiotics work against viruses.",
                Side::A,
            ),
            (
                "The crate supports async IO.",
                "The crate does not support async IO.",
                Side::B,
            ),
            (
                "William Shakespeare wrote Hamlet.",
                "William Shakespeare never wrote Hamlet.",
                Side::B,
            ),
            (
                "There is a man playing a guitar",
                "There is no man playing a guitar",
                Side::B,
            ),
            (
                "The dog isn't snapping at some water",
                "The dog is snapping at some water",
                Side::A,
            ),
        ];
        for (a, b, side) in yes {
            assert_eq!(
                Edit::between(a, b).is_negation_only(),
                Some(side),
                "{a} / {b}"
            );
        }
    }

    #[test]
    fn other_edits_are_not_negation_only() {
        let no = [
            // something else changed too
            (
                "Paris is the capital of France.",
                "Rome is not the capital of France.",
            ),
            (
                "A man is playing a guitar",
                "A woman is not playing a flute",
            ),
            // double negation, or none
            (
                "It is not true that it is not raining here",
                "It is raining here",
            ),
            ("Paris is in France.", "Paris is in France."),
            // too little shared
            ("No dependencies", "Dependencies"),
            ("Not yet.", "Yet."),
        ];
        for (a, b) in no {
            assert_eq!(Edit::between(a, b).is_negation_only(), None, "{a} / {b}");
        }
    }
}
