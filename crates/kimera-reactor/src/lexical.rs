//! The lexical channel of the candidate stage: each statement's nearest neighbours by
//! the words it shares with them, beside the vector neighbours of [`crate::knn`].
//!
//! Why a second channel: nearest neighbours by vector miss contradictions in two
//! common places. Where many statements say nearly the same thing (SICK's scenes: "A
//! man is playing a guitar", "A man is playing a flute", …) a statement's ten nearest
//! vectors are its paraphrases, and the one that denies it ranks eleventh or lower; and
//! where the embedding model cannot read the script (all-MiniLM-L6-v2 on Arabic: its
//! vocabulary spells most words letter by letter, so every Arabic sentence lands near
//! every other), a statement and its denial are two arbitrary points of one crowd. Both
//! share their rare words. Measured on SICK train with its sentences pooled in one store
//! (`examples/candidate_recall.rs`): ten vector neighbours reach 0.892 of the labelled
//! contradictions; adding this channel's neighbours brings it to the figure documented
//! at [`DEFAULT_K`].
//!
//! The score is the cosine of binary TF-IDF vectors: words are lowercased runs of
//! alphanumeric characters (any script), each weighted by `ln(n / df)`. Words found in
//! more than [`MAX_DF`] statements still count in a statement's norm but do not propose
//! candidates (their postings would make the search quadratic; with `idf ≤ ln(n/1000)`
//! they weigh little). A lexical neighbour is a candidate only if its vector cosine is
//! at least the vector channel's floor, like any other candidate.
//!
//! Deterministic: token ids are given in first-seen order, each statement's scores are
//! summed in its own token order over postings in statement order, and ties are broken
//! by statement number, so the neighbours do not depend on `parallel`.

use std::collections::HashMap;

use rayon::prelude::*;

/// Lexical neighbours per statement by default. Chosen with the vector floor
/// ([`crate::KnnParams::floor`], 0.4, lowered from 0.5 at the same time) on SICK train
/// alone (4,789 sentences pooled in one store, 641 labelled contradictions), never on
/// what is reported: the setting with the fewest candidate pairs, on the grid lexical
/// `k ∈ {10, 15, 20, 30}` × floor `{0.5, 0.4}` beside the 10 vector neighbours, whose
/// candidate recall is ≥ 0.975 (the goal, 0.97, with a margin of about one standard
/// error). Vectors alone: 0.892 at 5.5 pairs per statement; floor 0.5 tops out at 0.973
/// (17 contradictions have a cosine below 0.5, whatever the k); `k` 20 at 0.4: 0.978 at
/// 10.3 pairs per statement (`examples/candidate_recall.rs`).
pub const DEFAULT_K: usize = 20;

/// Words in more statements than this do not propose candidates (see the module doc).
pub const MAX_DF: usize = 1_000;

/// The lowercased words of `text`: maximal runs of alphanumeric characters, each once,
/// in order of first appearance.
pub fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let w = w.to_lowercase();
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// Each statement's `k` best lexical neighbours `(j, score)`, best first (ties by `j`);
/// statements sharing no proposing word with any other have none.
pub fn neighbours<'a>(
    n: usize,
    text: impl Fn(u32) -> &'a str + Sync,
    k: usize,
    parallel: bool,
) -> Vec<Vec<(u32, f32)>> {
    if n < 2 || k == 0 {
        return vec![Vec::new(); n];
    }
    // each statement's words as ids in first-seen order, one statement at a time: only
    // the vocabulary is held as strings (at 1M statements, holding every statement's
    // words first would cost ~400 MB)
    let mut vocab: HashMap<String, u32> = HashMap::new();
    let mut df: Vec<u32> = Vec::new();
    let docs: Vec<Vec<u32>> = (0..n as u32)
        .map(|i| {
            words(text(i))
                .into_iter()
                .map(|w| {
                    let next = vocab.len() as u32;
                    let id = *vocab.entry(w).or_insert(next);
                    if id as usize == df.len() {
                        df.push(0);
                    }
                    df[id as usize] += 1;
                    id
                })
                .collect()
        })
        .collect();
    drop(vocab);
    let idf2: Vec<f32> = df
        .iter()
        .map(|&d| {
            let idf = (n as f32 / d as f32).ln();
            idf * idf
        })
        .collect();
    let norm: Vec<f32> = docs
        .iter()
        .map(|d| d.iter().map(|&t| idf2[t as usize]).sum::<f32>().sqrt())
        .collect();
    // postings (CSR) of the words that can propose: 2 ≤ df ≤ MAX_DF
    let proposes = |t: u32| (2..=MAX_DF as u32).contains(&df[t as usize]);
    let mut start = vec![0usize; df.len() + 1];
    for (t, &d) in df.iter().enumerate() {
        start[t + 1] = start[t] + if proposes(t as u32) { d as usize } else { 0 };
    }
    let mut fill = start.clone();
    let mut post = vec![0u32; start[df.len()]];
    for (i, d) in docs.iter().enumerate() {
        for &t in d {
            if proposes(t) {
                post[fill[t as usize]] = i as u32;
                fill[t as usize] += 1;
            }
        }
    }
    drop(fill);

    // per thread: the score of each statement, the statements touched, their scores
    let one = |scratch: &mut (Vec<f32>, Vec<u32>, Vec<(u32, f32)>), i: usize| -> Vec<(u32, f32)> {
        let (acc, touched, scored) = scratch;
        for &t in &docs[i] {
            let w = idf2[t as usize];
            if w == 0.0 {
                continue; // a word in every statement tells nothing (and would not mark j)
            }
            for &j in &post[start[t as usize]..start[t as usize + 1]] {
                if j as usize != i {
                    if acc[j as usize] == 0.0 {
                        touched.push(j);
                    }
                    acc[j as usize] += w;
                }
            }
        }
        scored.clear();
        scored.extend(touched.drain(..).map(|j| {
            let s = acc[j as usize] / (norm[i] * norm[j as usize]).max(f32::MIN_POSITIVE);
            acc[j as usize] = 0.0;
            (j, s)
        }));
        let by = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if scored.len() > k {
            scored.select_nth_unstable_by(k, by);
            scored.truncate(k);
        }
        scored.sort_unstable_by(by);
        // a list of its own size: the scratch may have held thousands
        scored.to_vec()
    };
    let init = || (vec![0f32; n], Vec::new(), Vec::new());
    if parallel {
        (0..n)
            .into_par_iter()
            .map_init(init, |s, i| one(s, i))
            .collect()
    } else {
        let mut s = init();
        (0..n).map(|i| one(&mut s, i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(texts: &[&str], k: usize, parallel: bool) -> Vec<Vec<(u32, f32)>> {
        neighbours(texts.len(), |i| texts[i as usize], k, parallel)
    }

    #[test]
    fn words_are_lowercased_alphanumeric_runs_of_any_script_each_once() {
        assert_eq!(
            words("The cat, the CAT and 3 dogs."),
            ["the", "cat", "and", "3", "dogs"]
        );
        assert_eq!(
            words("القطة سوداء، القطة"),
            ["القطة", "سوداء"],
            "Arabic words split on spaces and punctuation"
        );
        assert!(words(" --- ").is_empty());
    }

    #[test]
    fn the_denial_that_shares_the_rare_words_ranks_first() {
        let texts = [
            "A man is playing a guitar.",
            "A man is playing a flute.",
            "A woman is slicing an onion.",
            "Nobody is playing a guitar.",
            "The guitar is being played by a man.",
        ];
        let nb = run(&texts, 2, false);
        let first: Vec<u32> = nb[3].iter().map(|&(j, _)| j).collect();
        assert!(first.contains(&0), "{:?}", nb[3]);
        assert!(
            !first.contains(&2),
            "nothing shared but function words: {:?}",
            nb[3]
        );
        assert!(nb[0][0].1 > 0.0 && nb[0][0].1 <= 1.0 + 1e-6);
        // scores are sorted, best first
        for l in &nb {
            assert!(l.windows(2).all(|w| w[0].1 >= w[1].1));
        }
    }

    #[test]
    fn identical_texts_score_one_and_unrelated_ones_are_not_neighbours() {
        let nb = run(&["red apples", "red apples", "blue sky"], 5, false);
        assert_eq!(nb[0].len(), 1);
        assert_eq!(nb[0][0].0, 1);
        assert!((nb[0][0].1 - 1.0).abs() < 1e-5, "{}", nb[0][0].1);
        assert!(nb[2].is_empty());
    }

    #[test]
    fn parallel_equals_sequential_and_k_bounds_each_list() {
        let texts: Vec<String> = (0..400)
            .map(|i| {
                format!(
                    "entity{} is in region{} and likes colour{} number {}",
                    i % 37,
                    i % 11,
                    i % 5,
                    i
                )
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let a = run(&refs, 7, false);
        let b = run(&refs, 7, true);
        assert_eq!(a, b);
        assert!(a.iter().all(|l| l.len() <= 7));
        assert!(a.iter().all(|l| l.iter().all(|&(j, _)| j < 400)));
        assert!(
            a.iter()
                .enumerate()
                .all(|(i, l)| l.iter().all(|&(j, _)| j as usize != i))
        );
    }

    #[test]
    fn nothing_for_k_zero_or_a_single_statement() {
        assert_eq!(run(&["a b", "a b"], 0, false), vec![vec![], vec![]]);
        assert_eq!(run(&["a b"], 5, true), vec![vec![]]);
    }
}
