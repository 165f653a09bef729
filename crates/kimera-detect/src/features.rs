//! Pair features for the head (route a): the sentence vectors and their interactions,
//! plus lexical signals that vectors blur (a negation barely moves a MiniLM vector).

use kimera_reactor::LexicalDetector;

/// Names of the lexical signals, in feature order (after the `4·dim + 1` vector part).
pub const LEXICAL_NAMES: [&str; 12] = [
    "negation_asymmetry",
    "negations_a",
    "negations_b",
    "rule_negation",
    "rule_antonym",
    "rule_exclusive",
    "rule_numbers",
    "rule_entity_swap",
    "lexical_verdict",
    "token_overlap",
    "length_ratio",
    "number_mismatch",
];

/// English negation cues, plus the French/Arabic ones of the Kimera datasets.
const CUES: &[&str] = &[
    "not",
    "no",
    "never",
    "none",
    "nobody",
    "nothing",
    "neither",
    "nor",
    "nowhere",
    "false",
    "incorrect",
    "untrue",
    "pas",
    "jamais",
    "faux",
    "aucun",
    "aucune",
    "لا",
    "ليس",
    "ليست",
    "لم",
    "لن",
    "خطأ",
    "غير",
];

fn words(text: &str) -> Vec<String> {
    let t = text
        .to_lowercase()
        .replace("n't", " not")
        .replace("cannot", "can not");
    t.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The lexical signals of a pair (see [`LEXICAL_NAMES`]). `cosine` feeds the gated
/// lexical detector exactly as the reactor would.
pub fn lexical(a: &str, b: &str, cosine: f32) -> [f32; 12] {
    let wa = words(a);
    let wb = words(b);
    let na = wa.iter().filter(|w| CUES.contains(&w.as_str())).count();
    let nb = wb.iter().filter(|w| CUES.contains(&w.as_str())).count();
    let sa: std::collections::BTreeSet<&str> = wa.iter().map(String::as_str).collect();
    let sb: std::collections::BTreeSet<&str> = wb.iter().map(String::as_str).collect();
    let union = sa.union(&sb).count();
    let overlap = if union == 0 {
        1.0
    } else {
        sa.intersection(&sb).count() as f32 / union as f32
    };
    let (la, lb) = (wa.len().max(1) as f32, wb.len().max(1) as f32);
    let nums = |s: &std::collections::BTreeSet<&str>| -> Vec<String> {
        s.iter()
            .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
            .map(|w| w.to_string())
            .collect()
    };
    let (xa, xb) = (nums(&sa), nums(&sb));
    let number_mismatch = !xa.is_empty() && !xb.is_empty() && xa != xb;
    // The rules without their gates say *which* contradiction cue is present; the gated
    // default says whether the rule detector itself would fire.
    let ungated = LexicalDetector {
        min_cosine: -1.0,
        min_overlap: 0.0,
    }
    .judge(a, b, cosine);
    let rule = ungated
        .evidence
        .get("rule")
        .and_then(|r| r.as_str())
        .unwrap_or("");
    let gated = LexicalDetector::default().judge(a, b, cosine).contradiction;
    let f = |x: bool| if x { 1.0 } else { 0.0 };
    [
        f(na % 2 != nb % 2),
        na as f32,
        nb as f32,
        f(rule == "negation"),
        f(rule == "antonym"),
        f(rule == "exclusive"),
        f(rule == "numbers"),
        f(rule == "entity_swap"),
        f(gated),
        overlap,
        la.min(lb) / la.max(lb),
        f(number_mismatch),
    ]
}

/// Length of [`pair_features`] for vectors of dimension `dim`.
pub fn feature_len(dim: usize) -> usize {
    4 * dim + 1 + LEXICAL_NAMES.len()
}

/// `[u, v, |u−v|, u⊙v, cos, lexical…]` for unit vectors `u`, `v`.
pub fn pair_features(u: &[f32], v: &[f32], a: &str, b: &str) -> Vec<f32> {
    let cos = kimera_core::dot(u, v);
    let mut out = Vec::with_capacity(feature_len(u.len()));
    out.extend_from_slice(u);
    out.extend_from_slice(v);
    out.extend(u.iter().zip(v).map(|(x, y)| (x - y).abs()));
    out.extend(u.iter().zip(v).map(|(x, y)| x * y));
    out.push(cos);
    out.extend(lexical(a, b, cos));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negation_and_numbers_are_seen() {
        let f = lexical(
            "A man is playing a guitar",
            "A man is not playing a guitar",
            0.9,
        );
        assert_eq!(f[0], 1.0, "negation asymmetry");
        assert_eq!(f[3], 1.0, "negation rule");
        assert_eq!(f[8], 1.0, "gated lexical verdict");
        let g = lexical("The bridge is 30 m long", "The bridge is 45 m long", 0.9);
        assert_eq!(g[0], 0.0);
        assert_eq!(g[11], 1.0, "number mismatch");
        let h = lexical("Two dogs run", "Two dogs run", 1.0);
        assert_eq!(h[9], 1.0);
        assert_eq!(h[10], 1.0);
        assert_eq!(feature_len(384), 1549);
    }
}

/// Phrases that deny a whole statement when appended to it ("X is false").
const DENIAL_SUFFIXES: &[&str] = &[
    "is false",
    "is not true",
    "is untrue",
    "is incorrect",
    "this is false",
    "this is not true",
    "est faux",
    "c'est faux",
    "est fausse",
    "est incorrect",
    "est incorrecte",
    "n'est pas vrai",
    "خطأ",
    "غير صحيح",
];

/// Phrases that deny a whole statement when put before it ("It is not true that x").
const DENIAL_PREFIXES: &[&str] = &[
    "it is false that",
    "it is not true that",
    "it is not the case that",
    "it's not true that",
    "not true:",
    "il est faux que",
    "il n'est pas vrai que",
    "ليس صحيحا أن",
    "ليس صحيحاً أن",
];

/// Phrases that deny a whole statement put between them ("The opposite of x is true").
const DENIAL_WRAPS: &[(&str, &str)] = &[
    ("the opposite of", "is true"),
    ("the opposite of", "is the case"),
    ("le contraire de", "est vrai"),
];

/// Sentence-ending punctuation, trimmed where a statement meets its denial phrase.
/// Not brackets or quotes: "… (RAAF)." must keep its ")" to match "… (RAAF). is false".
fn sentence_end(c: char) -> bool {
    c.is_whitespace() || matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '。' | '…')
}

/// Lower case, single spaces, no trailing sentence punctuation: the form denials are
/// matched in.
fn denial_form(s: &str) -> String {
    let lower = s.to_lowercase();
    let joined = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.trim_end_matches(sentence_end).to_string()
}

/// The denial phrase when one text is the other, whole, plus a phrase that denies it
/// ("Paris is in France." / "Paris is in France is false."; "It is not true that paris
/// is in France."), in either order; `None` otherwise.
///
/// This is the most literal contradiction there is, and it is language-independent in
/// structure, but a model trained on English SICK pairs only half recognises it in
/// French or Arabic text; the cascade therefore decides it before the models.
pub fn explicit_denial(a: &str, b: &str) -> Option<&'static str> {
    let (fa, fb) = (denial_form(a), denial_form(b));
    if fa.is_empty() || fb.is_empty() {
        return None;
    }
    for (base, other) in [(&fa, &fb), (&fb, &fa)] {
        if let Some(rest) = other.strip_prefix(base.as_str()) {
            let rest = rest.trim_start_matches(|c: char| {
                c.is_whitespace() || matches!(c, '.' | ',' | ':' | ';' | '-' | '—')
            });
            if let Some(p) = DENIAL_SUFFIXES.iter().find(|p| rest == **p) {
                return Some(p);
            }
        }
        if let Some(rest) = other.strip_suffix(base.as_str()) {
            let rest = rest.trim_end();
            if let Some(p) = DENIAL_PREFIXES.iter().find(|p| rest == **p) {
                return Some(p);
            }
        }
        for (pre, suf) in DENIAL_WRAPS {
            let inner = other
                .strip_prefix(pre)
                .map(str::trim_start)
                .and_then(|m| m.strip_prefix(base.as_str()));
            if let Some(rest) = inner {
                let rest = rest.trim_start_matches(|c: char| {
                    c.is_whitespace() || matches!(c, '.' | ',' | ':' | ';' | '-' | '—')
                });
                if rest == *suf {
                    return Some(pre);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod denial_tests {
    use super::explicit_denial;

    #[test]
    fn whole_statement_denials_in_either_order_and_language() {
        let yes = [
            ("Paris is in France.", "Paris is in France is false."),
            ("Paris is in France.", "paris is in france: this is false"),
            ("A man is playing.", "It is not true that a man is playing."),
            ("Le chat dort.", "Le chat dort est faux."),
            ("Le chat dort.", "Il est faux que le chat dort."),
            (
                "الساقية هي آلة ميكانيكية لرفع المياه.",
                "الساقية هي آلة ميكانيكية لرفع المياه is false.",
            ),
            ("القطة نائمة", "القطة نائمة خطأ"),
            ("Le chat dort.", "Le chat dort. est incorrect"),
            // a statement ending with a bracket or a quote keeps it
            (
                "JORN is operated by the Royal Australian Air Force (RAAF).",
                "JORN is operated by the Royal Australian Air Force (RAAF). is false",
            ),
            (
                "Il est membre du Parti populaire (PP).",
                "Il est membre du Parti populaire (PP). est faux",
            ),
            ("Le mot \"oui\".", "Le mot \"oui\". est incorrect"),
            (
                "قال الله تعالى: [النساء:3].",
                "قال الله تعالى: [النساء:3]. is false",
            ),
            (
                "Streaky Bay is a coastal town.",
                "The opposite of Streaky Bay is a coastal town. is true",
            ),
        ];
        for (a, b) in yes {
            assert!(explicit_denial(a, b).is_some(), "{a} / {b}");
            assert!(explicit_denial(b, a).is_some(), "{b} / {a}");
        }
        let no = [
            ("Paris is in France.", "Paris is in France."),
            ("Paris is in France.", "Paris is in France is true."),
            ("Paris is in France.", "Lyon is in France is false."),
            ("He is a member (PP).", "He is a member (PS). is false"),
            (
                "Paris is in France.",
                "Paris is in France and it is false that Lyon is.",
            ),
            ("It is false.", "It is false."),
            ("", " is false"),
            ("The claim is false.", "The claim is true."),
            (
                "Streaky Bay is a coastal town.",
                "The opposite of Streaky Bay is a coastal town is false.",
            ),
            ("Paris is in France.", "The opposite of Paris is true."),
        ];
        for (a, b) in no {
            assert!(explicit_denial(a, b).is_none(), "{a} / {b}");
        }
    }
}
