//! Labelled pairs for training and evaluation, read with `kimera_ingest::read_pairs` (SICK
//! and Kimera pairs files), and the three NLI classes the models predict.

use std::path::Path;

use kimera_core::GoldLabel;

use crate::{DetectError, Result};

/// Class index of "contradiction" in every model's output (the one the detector reports).
pub const CONTRADICTION: usize = 0;
/// Class names, in output order. Binary datasets (Kimera pairs) use only 0 and 2.
pub const CLASSES: [&str; 3] = ["contradiction", "entailment", "neutral"];

/// One labelled pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub a: String,
    pub b: String,
    /// Index into [`CLASSES`].
    pub label: usize,
    pub lang: String,
}

impl Example {
    pub fn is_contradiction(&self) -> bool {
        self.label == CONTRADICTION
    }
}

fn class_of(g: GoldLabel) -> usize {
    match g {
        GoldLabel::Contradiction => 0,
        GoldLabel::Entailment => 1,
        GoldLabel::Neutral => 2,
    }
}

/// Reads every labelled pair of `path`. Refuses a file with unreadable rows or unlabelled
/// pairs, naming the first bad line: training on a silently truncated file would give
/// weights that are not reproducible from the repo.
pub fn load_examples(path: &Path) -> Result<Vec<Example>> {
    let file = kimera_ingest::read_pairs(path, None).map_err(|e| DetectError::Data {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if let Some(err) = file.errors.first() {
        return Err(DetectError::Data {
            path: path.to_path_buf(),
            reason: format!("{} unreadable row(s); first: {err}", file.errors.len()),
        });
    }
    let mut out = Vec::with_capacity(file.pairs.len());
    for p in file.pairs {
        let Some(g) = p.gold else {
            return Err(DetectError::Data {
                path: path.to_path_buf(),
                reason: format!(
                    "line {}: field label is missing; training needs labelled pairs",
                    p.line
                ),
            });
        };
        out.push(Example {
            a: p.text_a,
            b: p.text_b,
            label: class_of(g),
            lang: p.lang,
        });
    }
    Ok(out)
}

/// Explicit denials ("X is false.", "It is not true that x.") and affirmations ("It is true
/// that x.") of training sentences, as extra pairs.
///
/// Why: SICK has no pair where one side denies the other as a whole, so models trained
/// on it alone miss the most literal contradiction users write ("… is false") and
/// knowledge bases generate. The templates below are ours (written for this purpose, not
/// taken from any evaluation set); each chosen sentence gives one denial pair
/// (contradiction) and one affirmation pair (entailment), so a suffix alone is not a
/// contradiction signal. `per_mille` of the distinct first sentences are chosen (seeded);
/// the sentence that denies is on side b for even picks and side a for odd ones.
pub fn denial_pairs(set: &[Example], per_mille: usize, seed: u64) -> Vec<Example> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    const DENY: [&str; 6] = [
        "{S} is false.",
        "It is not true that {s}.",
        "It is false that {s}.",
        "{S} is not true.",
        "It is not the case that {s}.",
        "{S}: this is false.",
    ];
    const AFFIRM: [&str; 3] = ["It is true that {s}.", "{S} is true.", "Indeed, {s}."];
    let mut sentences: Vec<&str> = set.iter().map(|e| e.a.trim()).collect();
    sentences.sort_unstable();
    sentences.dedup();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xde41);
    sentences.shuffle(&mut rng);
    let take = sentences.len() * per_mille.min(1000) / 1000;
    let mut out = Vec::with_capacity(take * 2);
    for (i, s) in sentences.into_iter().take(take).enumerate() {
        let body = s.trim_end_matches(['.', '!', '?', ';', ' ']);
        if body.is_empty() {
            continue;
        }
        let lower = lower_first(body);
        let fill = |t: &str| t.replace("{S}", body).replace("{s}", &lower);
        let deny = fill(DENY[i % DENY.len()]);
        let affirm = fill(AFFIRM[i % AFFIRM.len()]);
        let (a, b) = if i % 2 == 0 {
            (s.to_string(), deny)
        } else {
            (deny, s.to_string())
        };
        out.push(Example {
            a,
            b,
            label: CONTRADICTION,
            lang: "en".into(),
        });
        out.push(Example {
            a: s.to_string(),
            b: affirm,
            label: 1,
            lang: "en".into(),
        });
    }
    out
}

/// `A man is…` → `a man is…` (proper nouns are rare at the start of SICK sentences; a
/// wrong lower-case there does not change the meaning).
fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(a: &str, b: &str, label: usize) -> Example {
        Example {
            a: a.into(),
            b: b.into(),
            label,
            lang: "en".into(),
        }
    }

    #[test]
    fn denial_pairs_deny_and_affirm_each_chosen_sentence() {
        let set: Vec<Example> = (0..40)
            .map(|i| ex(&format!("A man number {i} is playing a guitar."), "x", 2))
            .collect();
        let extra = denial_pairs(&set, 250, 7);
        // 25% of 40 distinct sentences, two pairs each.
        assert_eq!(extra.len(), 20);
        for pair in extra.chunks(2) {
            let (deny, affirm) = (&pair[0], &pair[1]);
            assert_eq!(deny.label, CONTRADICTION);
            assert_eq!(affirm.label, 1, "affirmations are entailments");
            let original = &affirm.a;
            assert!(deny.a == *original || deny.b == *original);
            let denial = if deny.a == *original {
                &deny.b
            } else {
                &deny.a
            };
            assert!(
                denial.contains("false") || denial.contains("not"),
                "{denial}"
            );
            assert!(denial.contains("an number") || denial.contains("man number"));
            assert!(!affirm.b.contains("false") && !affirm.b.contains(" not "));
        }
        // Both sides carry the denial sometimes: it is not a side-b-only signal.
        assert!(extra.iter().any(|e| e.label == 0 && e.a.contains("false")));
        assert!(extra.iter().any(|e| e.label == 0 && e.b.contains("false")));
    }

    #[test]
    fn denial_pairs_are_seeded_and_optional() {
        let set: Vec<Example> = (0..30)
            .map(|i| ex(&format!("Statement {i}."), "y", 1))
            .collect();
        assert_eq!(denial_pairs(&set, 100, 1), denial_pairs(&set, 100, 1));
        assert_ne!(denial_pairs(&set, 300, 1), denial_pairs(&set, 300, 2));
        assert!(denial_pairs(&set, 0, 1).is_empty());
        assert_eq!(lower_first("Émile is here"), "émile is here");
        assert_eq!(lower_first(""), "");
    }
}
