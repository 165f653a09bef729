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
