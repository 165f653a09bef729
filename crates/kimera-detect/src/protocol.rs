//! The evaluation protocol: how thresholds, bands and hyper-parameters are chosen without
//! looking at the pairs a figure is reported on.
//!
//! Everything that is fitted or chosen is chosen by k-fold cross-validation on the
//! training file: each pair is predicted by models that never saw it (out-of-fold
//! predictions), and the decision rule is fitted on those. The dev file (SICK trial) is
//! only scored, once, at the end.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Fold of each example (`0..k`), stratified by label: each fold holds the same share of
/// every class (to one pair), and the assignment is a pure function of the labels, `k`
/// and `seed`.
pub fn stratified_folds(labels: &[usize], k: usize, seed: u64) -> Vec<usize> {
    assert!(k >= 2, "cross-validation needs at least two folds");
    let mut fold = vec![0; labels.len()];
    let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xf01d);
    // classes dealt in turn, continuing the rotation, so folds differ in size by ≤ 1
    let mut next = 0usize;
    for c in 0..classes {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        idx.shuffle(&mut rng);
        for i in idx {
            fold[i] = next % k;
            next += 1;
        }
    }
    fold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_seeded_disjoint_balanced_and_stratified() {
        let labels: Vec<usize> = (0..1003).map(|i| [0, 1, 2, 2, 1, 2][i % 6]).collect();
        let f = stratified_folds(&labels, 5, 42);
        assert_eq!(f, stratified_folds(&labels, 5, 42));
        assert_ne!(f, stratified_folds(&labels, 5, 43));
        // every example in exactly one fold, sizes within one
        let sizes: Vec<usize> = (0..5)
            .map(|k| f.iter().filter(|&&x| x == k).count())
            .collect();
        assert_eq!(sizes.iter().sum::<usize>(), labels.len());
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{sizes:?}"
        );
        // each class spread evenly
        for c in 0..3 {
            let per: Vec<usize> = (0..5)
                .map(|k| {
                    (0..labels.len())
                        .filter(|&i| f[i] == k && labels[i] == c)
                        .count()
                })
                .collect();
            assert!(
                per.iter().max().unwrap() - per.iter().min().unwrap() <= 1,
                "{c}: {per:?}"
            );
        }
    }
}
