//! Invariants of the metrics and statistics, on random data.

use kimera_bench::metrics::{
    Confusion, average_precision, best_f1_threshold, pr_curve, roc_auc, roc_curve,
};
use kimera_bench::stats::{
    BootstrapOptions, agreement, bootstrap, bootstrap_sequential, cohens_h, mcnemar, percentile,
};
use kimera_bench::{DetectorOutput, PairMeta, ResultsWriter, read_results};
use proptest::prelude::*;

/// Labels and scores; scores drawn from a small set so that ties are common.
fn labelled(max: usize) -> impl Strategy<Value = (Vec<bool>, Vec<f64>)> {
    prop::collection::vec((any::<bool>(), 0u8..=20), 0..max).prop_map(|v| {
        let gold = v.iter().map(|x| x.0).collect();
        let scores = v.iter().map(|x| f64::from(x.1) / 20.0).collect();
        (gold, scores)
    })
}

fn confusion() -> impl Strategy<Value = Confusion> {
    (0u64..200, 0u64..200, 0u64..200, 0u64..200).prop_map(|(tp, fp, tn, fn_)| Confusion {
        tp,
        fp,
        tn,
        fn_,
    })
}

proptest! {
    #[test]
    fn auc_and_ap_are_probabilities((gold, scores) in labelled(60)) {
        if let Some(auc) = roc_auc(&gold, &scores) {
            prop_assert!((0.0..=1.0).contains(&auc));
            // Reversing the scores mirrors the AUC (ties stay ties).
            let flipped: Vec<f64> = scores.iter().map(|s| 1.0 - s).collect();
            let mirrored = roc_auc(&gold, &flipped).unwrap();
            prop_assert!((auc + mirrored - 1.0).abs() < 1e-9);
            // Swapping the classes and the score order gives the same AUC.
            let swapped: Vec<bool> = gold.iter().map(|g| !g).collect();
            prop_assert!((roc_auc(&swapped, &flipped).unwrap() - auc).abs() < 1e-9);
        } else {
            prop_assert!(gold.iter().all(|&g| g) || gold.iter().all(|&g| !g));
        }
        if let Some(ap) = average_precision(&gold, &scores) {
            prop_assert!((0.0..=1.0 + 1e-12).contains(&ap));
        }
    }

    #[test]
    fn curves_are_monotone_and_end_at_one((gold, scores) in labelled(60)) {
        if let Some(c) = roc_curve(&gold, &scores) {
            prop_assert!(c.x.windows(2).all(|w| w[0] <= w[1]));
            prop_assert!(c.y.windows(2).all(|w| w[0] <= w[1]));
            prop_assert_eq!((c.x[0], c.y[0]), (0.0, 0.0));
            prop_assert_eq!((*c.x.last().unwrap(), *c.y.last().unwrap()), (1.0, 1.0));
            prop_assert!(c.thresholds.windows(2).all(|w| w[0] > w[1]));
        }
        if let Some(c) = pr_curve(&gold, &scores) {
            prop_assert!(c.x.windows(2).all(|w| w[0] <= w[1]));
            prop_assert_eq!(*c.x.last().unwrap(), 1.0);
        }
    }

    #[test]
    fn best_f1_is_no_worse_than_any_threshold((gold, scores) in labelled(40), t in 0u8..=20) {
        if let Some(best) = best_f1_threshold(&gold, &scores) {
            let t = f64::from(t) / 20.0;
            let verdicts: Vec<bool> = scores.iter().map(|&s| s >= t).collect();
            prop_assert!(Confusion::from_verdicts(&gold, &verdicts).f1() <= best.f1 + 1e-12);
            let at_best: Vec<bool> = scores.iter().map(|&s| s >= best.threshold).collect();
            prop_assert!((Confusion::from_verdicts(&gold, &at_best).f1() - best.f1).abs() < 1e-12);
        }
    }

    #[test]
    fn f1_symmetries(c in confusion()) {
        // F1 ignores true negatives and treats the two kinds of error alike.
        let swapped = Confusion { fp: c.fn_, fn_: c.fp, ..c };
        prop_assert!((c.f1() - swapped.f1()).abs() < 1e-12);
        prop_assert_eq!(c.f1(), Confusion { tn: c.tn + 17, ..c }.f1());
        // It is the harmonic mean of precision and recall where both are defined.
        let (p, r) = (c.precision(), c.recall());
        if p + r > 0.0 {
            prop_assert!((c.f1() - 2.0 * p * r / (p + r)).abs() < 1e-12);
        }
        // Swapping precision and recall roles (fp <-> fn) swaps P and R.
        prop_assert!((swapped.precision() - r).abs() < 1e-12 || c.tp == 0);
        for v in [c.accuracy(), p, r, c.f1(), c.specificity()] {
            prop_assert!((0.0..=1.0).contains(&v));
        }
        prop_assert!((-1.0..=1.0).contains(&c.mcc()));
        // MCC is symmetric in the classes: relabelling positives as negatives keeps it.
        let relabelled = Confusion { tp: c.tn, tn: c.tp, fp: c.fn_, fn_: c.fp };
        prop_assert!((c.mcc() - relabelled.mcc()).abs() < 1e-12);
    }

    #[test]
    fn bootstrap_is_deterministic_and_parallel_equals_sequential(
        (gold, scores) in labelled(80), seed in any::<u64>(), threads in 1usize..4,
    ) {
        let verdicts: Vec<bool> = scores.iter().map(|&s| s >= 0.5).collect();
        let opts = BootstrapOptions { resamples: 1000, seed, confidence: 0.95 };
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let par = pool.install(|| bootstrap(&gold, &scores, &verdicts, &opts));
        let again = bootstrap(&gold, &scores, &verdicts, &opts);
        let seq = bootstrap_sequential(&gold, &scores, &verdicts, &opts);
        prop_assert_eq!(&par, &seq);
        prop_assert_eq!(&par, &again);
        if let Some(b) = par {
            for ci in [Some(b.accuracy), Some(b.f1), b.auc].into_iter().flatten() {
                prop_assert!(ci.low <= ci.high);
                prop_assert!((0.0..=1.0).contains(&ci.low) && (0.0..=1.0).contains(&ci.high));
            }
        }
    }

    #[test]
    fn mcnemar_is_a_symmetric_probability(b in 0u64..400, c in 0u64..400) {
        let m = mcnemar(b, c);
        prop_assert!((0.0..=1.0).contains(&m.p_value));
        prop_assert!((m.p_value - mcnemar(c, b).p_value).abs() < 1e-12);
        if b == c {
            prop_assert!(m.p_value > 0.5);
        }
    }

    #[test]
    fn agreement_and_h_bounds(pairs in prop::collection::vec((any::<bool>(), any::<bool>()), 1..60),
                              p1 in 0.0f64..=1.0, p2 in 0.0f64..=1.0) {
        let a: Vec<bool> = pairs.iter().map(|p| p.0).collect();
        let b: Vec<bool> = pairs.iter().map(|p| p.1).collect();
        let g = agreement(&a, &b);
        prop_assert!((0.0..=1.0).contains(&g.raw));
        if let Some(k) = g.kappa {
            prop_assert!((-1.0 - 1e-12..=1.0 + 1e-12).contains(&k));
            prop_assert!((agreement(&b, &a).kappa.unwrap() - k).abs() < 1e-12);
        }
        prop_assert!((cohens_h(p1, p2) + cohens_h(p2, p1)).abs() < 1e-12);
        prop_assert!(cohens_h(p1, p2).abs() <= std::f64::consts::PI + 1e-12);
    }

    #[test]
    fn percentile_lies_between_min_and_max(v in prop::collection::vec(-1e6f64..1e6, 1..50), q in 0.0f64..=100.0) {
        let p = percentile(&v, q).unwrap();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        prop_assert!(lo <= p && p <= hi);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn results_csv_round_trips_any_text(
        key in "[^\r\n]{1,20}", detector in "[a-z,\" é]{1,10}", lang in proptest::option::of("[a-zé,\"]{0,4}"),
        score in 0.0f64..=1.0, verdict in any::<bool>(), latency in 0.0f64..1e6, error in proptest::option::of("[^\r\n]{1,30}"),
    ) {
        prop_assume!(!key.trim().is_empty() && !detector.trim().is_empty());
        prop_assume!(error.as_deref().is_none_or(|e| !e.trim().is_empty()));
        let pair = PairMeta { key, gold: verdict, lang: lang.filter(|l| !l.is_empty()), kind: None, len_a: 3, len_b: 4 };
        let out = match error {
            Some(e) => DetectorOutput::failed(pair, detector, e, latency),
            None => DetectorOutput::scored(pair, detector, score, verdict, latency),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        let mut w = ResultsWriter::create(&path).unwrap();
        w.write(&out).unwrap();
        drop(w);
        prop_assert_eq!(read_results(&path).unwrap(), vec![out]);
    }
}
