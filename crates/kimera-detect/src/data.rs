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

/// Most words a mined substitution may replace on either side.
const MAX_SPAN: usize = 3;
/// Most pairs one mined substitution contributes, so that a frequent one (`is` →
/// `isn't`) does not flood the extra pairs.
const PER_SUBSTITUTION: usize = 8;

/// A phrase (words) and what replaces it.
type Substitution = (Vec<String>, Vec<String>);

/// Word tokens of a sentence, lower-cased, commas as their own tokens, without the final
/// stop (`A man, smiling.` → `a man , smiling`).
fn words(s: &str) -> Vec<String> {
    s.replace(',', " , ")
        .trim_end()
        .trim_end_matches('.')
        .split_whitespace()
        .map(str::to_lowercase)
        .collect()
}

/// Where two token lists differ: the span left after removing their longest common
/// prefix and suffix, as `(start, a's span, b's span)`.
fn differing_span<'a>(a: &'a [String], b: &'a [String]) -> (usize, &'a [String], &'a [String]) {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let room = a.len().min(b.len()) - pre;
    let suf = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    (pre, &a[pre..a.len() - suf], &b[pre..b.len() - suf])
}

/// Minimal-pair substitutions mined from the training set, applied to other training
/// sentences as extra pairs.
///
/// Why: most contradictions the models miss are one incompatible phrase in otherwise
/// identical sentences ("hitting" / "missing", "near" / "far from"), and SICK has only a
/// few such pairs of each kind. Every training pair whose sentences differ in one span
/// of at most three words on each side is a substitution with its label; those
/// always labelled contradiction (in either direction) or always entailment (in the
/// mined direction: "man" → "person", not back) are applied to other sentences of the
/// training set, seeded, at most eight times each and to `per_mille` of
/// the distinct sentences. Neutral or mixed substitutions are not used: whether "a man"
/// / "a woman" contradict depends on the scene, and SICK's annotators mostly said
/// neutral. Only the training set is read, so nothing of the dev set leaks in.
pub fn substitution_pairs(set: &[Example], per_mille: usize, seed: u64) -> Vec<Example> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    use std::collections::BTreeMap;
    if per_mille == 0 {
        return Vec::new();
    }
    // substitution (from, to) → labels seen; BTreeMap: a fixed order for the seeded picks
    let mut seen: BTreeMap<Substitution, Vec<usize>> = BTreeMap::new();
    for e in set {
        let (a, b) = (words(&e.a), words(&e.b));
        let (_, da, db) = differing_span(&a, &b);
        if (1..=MAX_SPAN).contains(&da.len()) && (1..=MAX_SPAN).contains(&db.len()) {
            seen.entry((da.to_vec(), db.to_vec()))
                .or_default()
                .push(e.label);
            if e.label == CONTRADICTION {
                seen.entry((db.to_vec(), da.to_vec()))
                    .or_default()
                    .push(e.label);
            }
        }
    }
    let usable: Vec<(Substitution, usize)> = seen
        .into_iter()
        .filter_map(|(k, labels)| {
            let first = labels[0];
            (first != 2 && labels.iter().all(|&l| l == first)).then_some((k, first))
        })
        .collect();
    let known: std::collections::HashSet<(Vec<String>, Vec<String>)> =
        set.iter().map(|e| (words(&e.a), words(&e.b))).collect();
    let mut sentences: Vec<&str> = set.iter().flat_map(|e| [e.a.trim(), e.b.trim()]).collect();
    sentences.sort_unstable();
    sentences.dedup();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5b57);
    sentences.shuffle(&mut rng);
    let take = sentences.len() * per_mille.min(1000) / 1000;
    let mut uses = vec![0usize; usable.len()];
    let mut out = Vec::new();
    let mut order: Vec<usize> = (0..usable.len()).collect();
    for s in sentences {
        if out.len() >= take {
            break;
        }
        let toks = words(s);
        order.shuffle(&mut rng);
        let substituted = |u: usize| -> Option<Vec<String>> {
            let ((from, to), _) = &usable[u];
            let at = toks
                .windows(from.len())
                .position(|w| w == from.as_slice())?;
            // under a negation the substitution's meaning flips ("there is no man
            // riding" / "there is no man standing" do not contradict)
            let mut rest = toks[..at].iter().chain(&toks[at + from.len()..]);
            if rest.any(|w| is_negation(w)) {
                return None;
            }
            let mut changed: Vec<String> = toks[..at].to_vec();
            changed.extend(to.iter().cloned());
            changed.extend(toks[at + from.len()..].iter().cloned());
            // a pair the training set already has adds nothing
            let new = !known.contains(&(toks.clone(), changed.clone()))
                && !known.contains(&(changed.clone(), toks.clone()));
            new.then_some(changed)
        };
        let hit = order
            .iter()
            .filter(|&&u| uses[u] < PER_SUBSTITUTION)
            .find_map(|&u| substituted(u).map(|c| (u, c)));
        let Some((u, changed)) = hit else { continue };
        uses[u] += 1;
        let label = &usable[u].1;
        let original = toks.join(" ").replace(" ,", ",");
        let changed = changed.join(" ").replace(" ,", ",");
        // the substituted sentence is on side b for even pairs, side a for odd ones
        // (entailments keep the mined direction)
        let (a, b) = if *label == CONTRADICTION && out.len() % 2 == 1 {
            (changed, original)
        } else {
            (original, changed)
        };
        out.push(Example {
            a: upper_first(&a),
            b: upper_first(&b),
            label: *label,
            lang: "en".into(),
        });
    }
    out
}

/// Words that put what follows under a negation.
fn is_negation(w: &str) -> bool {
    matches!(
        w,
        "no" | "not" | "nobody" | "none" | "never" | "nothing" | "nowhere" | "without"
    ) || w.ends_with("n't")
}

/// `a man is…` → `A man is…`: the extra pairs look like the sentences they came from.
fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
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
    fn substitution_pairs_apply_unanimous_minimal_pairs_to_other_sentences() {
        let set = vec![
            ex(
                "A ball is hitting a potato",
                "A ball is missing a potato",
                0,
            ),
            ex("A man is slicing a tomato", "A man is cutting a tomato", 1),
            ex("A man is cooking", "A woman is cooking", 2),
            // "near" / "far from": contradiction once, neutral once → not used
            ex("A dog is near the door", "A dog is far from the door", 0),
            ex("A cat is near the door", "A cat is far from the door", 2),
            ex("A boy is hitting a drum.", "The boy plays.", 2),
            ex("A girl is slicing bread, smiling.", "A girl eats.", 2),
            ex("A man is sitting near a car", "A cat sleeps", 2),
            ex("There is no ball hitting a can", "A can falls", 2),
            ex("Nobody is slicing cheese", "A can falls", 2),
        ];
        let extra = substitution_pairs(&set, 1000, 3);
        let texts: Vec<(&str, &str, usize)> = extra
            .iter()
            .map(|e| (e.a.as_str(), e.b.as_str(), e.label))
            .collect();
        // contradiction: either side may carry the substitute
        assert!(
            texts.iter().any(|&(a, b, l)| l == 0
                && [a, b].contains(&"A boy is hitting a drum")
                && [a, b].contains(&"A boy is missing a drum")),
            "{texts:?}"
        );
        // entailment keeps its direction and the comma
        assert!(
            texts.contains(&(
                "A girl is slicing bread, smiling",
                "A girl is cutting bread, smiling",
                1
            )),
            "{texts:?}"
        );
        // neutral and mixed substitutions are never applied
        assert!(
            texts.iter().all(|&(a, b, _)| !a.contains("woman")
                && !b.contains("woman")
                && !a.contains("far from")
                && !b.contains("far from")),
            "{texts:?}"
        );
        assert!(extra.iter().all(|e| e.label != 2 && e.a != e.b));
        // nor under a negation, where their meaning flips
        assert!(
            texts.iter().all(|&(a, b, _)| ![a, b]
                .iter()
                .any(|t| t.contains("no ball") || t.contains("Nobody"))),
            "{texts:?}"
        );
        assert_eq!(extra, substitution_pairs(&set, 1000, 3));
        assert!(substitution_pairs(&set, 0, 3).is_empty());
    }

    #[test]
    fn differing_span_is_what_remains_after_common_prefix_and_suffix() {
        let w = |s: &str| words(s);
        let (a, b) = (
            w("A man is near the door."),
            w("A man is far from the door"),
        );
        let (at, da, db) = differing_span(&a, &b);
        assert_eq!((at, da, db), (3, &a[3..4], &b[3..5]));
        let same = w("x y");
        assert_eq!(differing_span(&same, &same).1.len(), 0);
        // a repeated word does not make the spans overlap
        let (a, b) = (w("a a a"), w("a a"));
        let (_, da, db) = differing_span(&a, &b);
        assert_eq!((da.len(), db.len()), (1, 0));
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

/// Determiners and numerals that a "There is no …" negation drops from the subject.
const DETERMINERS: &[&str] = &[
    "a", "an", "the", "some", "one", "two", "three", "four", "five", "several", "many",
];

/// Subject nouns for which "Nobody is …" denies "A man is …".
const PERSONS: &[&str] = &[
    "man", "woman", "boy", "girl", "person", "child", "kid", "lady", "guy", "someone", "somebody",
    "people", "men", "women", "boys", "girls", "children", "kids", "persons",
];

/// The sentence with its one clause negated, in one of three styles (`style % 3`: "is
/// not", "There is no …", "Nobody is …" / "isn't"), or `None` when the sentence is not a
/// simple one-clause statement this can negate safely.
///
/// Only sentences with exactly one `is`/`are` and no negation are negated: with two
/// verbs ("A dog is running and is holding a ball") negating one of them is not the
/// negation of the sentence, and a second negation would cancel out. The result keeps
/// the sentence's words and order apart from the negation (and, for "There is no", the
/// subject's determiner or numeral).
pub fn negate(sentence: &str, style: usize) -> Option<String> {
    let body = sentence.trim().trim_end_matches(['.', '!', ' ']);
    let toks: Vec<&str> = body.split(' ').filter(|t| !t.is_empty()).collect();
    let lower: Vec<String> = toks.iter().map(|t| t.to_lowercase()).collect();
    if lower
        .iter()
        .any(|w| is_negation(w) || w == "nobody" || w == "no")
    {
        return None;
    }
    let aux: Vec<usize> = (0..lower.len())
        .filter(|&i| lower[i] == "is" || lower[i] == "are")
        .collect();
    let [at] = aux.as_slice() else { return None };
    let at = *at;
    if at == 0 || at + 1 >= toks.len() || lower.iter().any(|w| w.contains(',')) {
        return None;
    }
    let subject = &lower[..at];
    let rest = toks[at + 1..].join(" ");
    let out = if subject == ["there"] {
        // "There is a dog in the yard" → "There is no dog in the yard"
        let mut r: Vec<&str> = toks[at + 1..].to_vec();
        if DETERMINERS.contains(&r[0].to_lowercase().as_str()) {
            r.remove(0);
        }
        if r.is_empty() {
            return None;
        }
        format!("{} {} no {}", toks[0], toks[at], r.join(" "))
    } else {
        match style % 3 {
            0 => format!("{} {} not {rest}", toks[..at].join(" "), toks[at]),
            1 if DETERMINERS.contains(&subject[0].as_str()) && subject.len() >= 2 => {
                // "A man is playing a guitar" → "There is no man playing a guitar"
                let noun = toks[1..at].join(" ");
                format!("There {} no {noun} {rest}", lower[at])
            }
            _ if subject.len() <= 2 && PERSONS.contains(&subject[subject.len() - 1].as_str()) => {
                format!("Nobody is {rest}")
            }
            _ => format!("{} {}n't {rest}", toks[..at].join(" "), toks[at]),
        }
    };
    Some(format!("{}.", upper_first(&out)))
}

/// Pairs made by negating one side of training pairs ([`negate`]), labelled by logic:
///
/// * an **entailment** A ⊨ B gives (A, ¬B): a **contradiction** — "A boy is standing in
///   the cold water" / "There is no boy standing in the water";
/// * a **neutral** pair gives (A, ¬B): still **neutral** — neither B nor ¬B follows from
///   A. These are the hard negatives: a negated sentence beside a related one that it
///   does not contradict, SICK's most common false alarm.
///
/// Contradiction pairs and pairs whose side B cannot be negated safely are not used.
/// `per_mille` of the usable pairs are taken (seeded); the negated sentence is on side b
/// for even picks and side a for odd ones (contradiction is symmetric, and so is
/// "neither follows").
pub fn negation_pairs(set: &[Example], per_mille: usize, seed: u64) -> Vec<Example> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    if per_mille == 0 {
        return Vec::new();
    }
    let mut usable: Vec<(usize, String)> = set
        .iter()
        .enumerate()
        .filter(|(_, e)| e.label != CONTRADICTION)
        .filter_map(|(i, e)| negate(&e.b, i).map(|nb| (i, nb)))
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x4e6a);
    usable.shuffle(&mut rng);
    let take = usable.len() * per_mille.min(1000) / 1000;
    usable
        .into_iter()
        .take(take)
        .enumerate()
        .map(|(k, (i, nb))| {
            let e = &set[i];
            let label = if e.label == 1 { CONTRADICTION } else { 2 };
            let (a, b) = if k % 2 == 0 {
                (e.a.clone(), nb)
            } else {
                (nb, e.a.clone())
            };
            Example {
                a,
                b,
                label,
                lang: e.lang.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod negation_tests {
    use super::*;

    #[test]
    fn negate_simple_statements_in_three_styles() {
        let s = "A man is playing a guitar";
        assert_eq!(negate(s, 0).unwrap(), "A man is not playing a guitar.");
        assert_eq!(negate(s, 1).unwrap(), "There is no man playing a guitar.");
        assert_eq!(negate(s, 2).unwrap(), "Nobody is playing a guitar.");
        assert_eq!(
            negate("The dog is snapping at some water.", 2).unwrap(),
            "The dog isn't snapping at some water."
        );
        assert_eq!(
            negate("There is a dog in the yard", 0).unwrap(),
            "There is no dog in the yard."
        );
        assert_eq!(
            negate("Two dogs are fighting", 1).unwrap(),
            "There are no dogs fighting."
        );
    }

    #[test]
    fn negate_refuses_what_it_cannot_negate_safely() {
        for s in [
            "A dog is running and is holding a ball",
            "A man is not playing",
            "There is no dog",
            "Nobody is riding",
            "A man who is playing is running",
            "A man plays",
            "Is",
            "A man, smiling, is waving",
        ] {
            assert_eq!(negate(s, 0), None, "{s}");
        }
    }

    #[test]
    fn negation_pairs_follow_the_logic_of_their_source_label() {
        let ex = |a: &str, b: &str, label| Example {
            a: a.into(),
            b: b.into(),
            label,
            lang: "en".into(),
        };
        let set = vec![
            ex(
                "A boy is standing in the cold water",
                "A boy is standing in the water",
                1,
            ),
            ex("A man is cooking", "A woman is dancing", 2),
            ex("A cat is sleeping", "A cat is running", 0),
        ];
        let out = negation_pairs(&set, 1000, 1);
        assert_eq!(out.len(), 2, "{out:?}");
        for e in &out {
            let negated = if e.a.contains("cold") || e.a.contains("cooking") {
                &e.b
            } else {
                &e.a
            };
            assert!(
                negated.contains("not")
                    || negated.contains("no ")
                    || negated.contains("n't")
                    || negated.contains("Nobody"),
                "{e:?}"
            );
            if e.a.contains("water") {
                assert_eq!(e.label, CONTRADICTION, "entailment → contradiction: {e:?}");
            } else {
                assert_eq!(e.label, 2, "neutral stays neutral: {e:?}");
            }
        }
        assert_eq!(out, negation_pairs(&set, 1000, 1));
        assert!(negation_pairs(&set, 0, 1).is_empty());
    }
}
