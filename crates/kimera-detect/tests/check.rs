//! `check_text` on a store built from data/demo finds the planted contradiction
//! ("Paris is the capital of France." vs its negation) and finds nothing in an unrelated
//! store. Uses the committed weights and the real model.

mod common;

use std::path::PathBuf;

use kimera_detect::{ModelDetector, check_text};
use kimera_embed::{MiniLmEncoder, embed_store};
use kimera_ingest::{IngestOptions, ingest_paths};
use kimera_reactor::{Detector, LexicalDetector};
use kimera_store::Store;

fn store_from(path: PathBuf, enc: &MiniLmEncoder) -> Store {
    let mut store = Store::open_in_memory().unwrap();
    ingest_paths(
        &mut store,
        &[path],
        &IngestOptions::default(),
        &|_, _, _| {},
    )
    .unwrap();
    embed_store(&mut store, enc, 64, &|_, _| {}).unwrap();
    store
}

/// The real model folder, its sentence encoder and the committed `model` detector, or
/// `None` when the model is missing (see `common::model_dir`).
fn committed_detector() -> Option<(PathBuf, MiniLmEncoder, ModelDetector)> {
    let model_dir = common::model_dir()?;
    let enc = MiniLmEncoder::load(&model_dir, Default::default()).unwrap();
    let model = ModelDetector::load(&kimera_detect::default_detector_dir(), &model_dir).unwrap();
    Some((model_dir, enc, model))
}

/// The pairs `texts` as examples in `lang`, with both sides' vectors (for
/// `kimera_detect::pair_inputs`).
#[allow(clippy::type_complexity)]
fn embedded(
    enc: &MiniLmEncoder,
    texts: &[(&str, &str)],
    lang: &str,
) -> (Vec<kimera_detect::Example>, Vec<(Vec<f32>, Vec<f32>)>) {
    let set: Vec<kimera_detect::Example> = texts
        .iter()
        .map(|(a, b)| kimera_detect::Example {
            a: a.to_string(),
            b: b.to_string(),
            label: 2,
            lang: lang.into(),
        })
        .collect();
    let vecs = kimera_detect::train::embed_pairs(enc, &set, &mut |_| {}).unwrap();
    (set, vecs)
}

#[test]
fn check_finds_the_planted_contradiction_and_nothing_in_an_unrelated_store() {
    let Some((_, enc, model)) = committed_detector() else {
        return;
    };
    let detectors: Vec<Box<dyn Detector>> =
        vec![Box::new(LexicalDetector::default()), Box::new(model)];
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/statements.csv");
    let store = store_from(demo, &enc);
    let text = "Paris is not the capital of France.";
    let report = check_text(&store, &enc, &detectors, text, "en", 10).unwrap();
    assert_eq!(report.examined, 10);
    let model_hits: Vec<_> = report
        .contradictions
        .iter()
        .filter(|h| h.detector == "model")
        .collect();
    assert!(
        model_hits
            .iter()
            .any(|h| h.text == "Paris is the capital of France."),
        "{:#?}",
        report.contradictions
    );
    let hit = model_hits
        .iter()
        .find(|h| h.text == "Paris is the capital of France.")
        .unwrap();
    let p = hit.evidence["probability"].as_f64().unwrap();
    assert!(p >= hit.evidence["threshold"].as_f64().unwrap() && p <= 1.0);
    // The statement itself (also in the demo data) is not its own contradiction.
    assert!(report.contradictions.iter().all(|h| h.text != text));

    let unrelated = store_from(common::fixture("unrelated.csv"), &enc);
    let report = check_text(&unrelated, &enc, &detectors, text, "en", 10).unwrap();
    assert!(report.examined > 0);
    assert!(
        report.contradictions.is_empty(),
        "{:#?}",
        report.contradictions
    );
}

/// Text the cross-encoder's vocabulary spells letter by letter (Arabic) is left to the
/// head; English and French pairs in the band still go to the cross-encoder.
#[test]
fn pairs_in_scripts_the_vocabulary_lacks_are_left_to_the_head() {
    let Some((model_dir, enc, model)) = committed_detector() else {
        return;
    };
    let base = kimera_detect::cross::Base::load(&model_dir).unwrap();
    let ar = "كاثرين ماهر هي سيدة أعمال أميركية من أصل مصري";
    assert!(base.vocabulary_coverage(ar).unwrap() < 0.2);
    assert!(
        base.vocabulary_coverage("A man is playing a guitar.")
            .unwrap()
            > 0.9
    );
    assert!(
        base.vocabulary_coverage("L'eau bout à cent degrés.")
            .unwrap()
            > 0.5
    );
    assert_eq!(base.vocabulary_coverage("").unwrap(), 1.0);

    let texts = [
        (ar, "جون سايمور هو سياسي أمريكي، ولد في ديسمبر"),
        ("A man is playing a guitar", "A man is not playing a guitar"),
    ];
    let (set, vecs) = embedded(&enc, &texts, "x");
    let pairs = kimera_detect::pair_inputs(&set, &vecs);
    // similar enough to be scored at all (MiniLM finds unrelated Arabic texts alike)
    assert!(pairs[0].cosine >= kimera_detect::detector::MIN_COSINE);
    // the Arabic pair never reaches the cross-encoder; the English one is a negation
    let routes = model.judge(&pairs).unwrap();
    assert_ne!(routes[0].unwrap().route, "cross", "{routes:?}");
    assert_eq!(routes[1].unwrap().route, "negation", "{routes:?}");
}

/// Unrelated Arabic statements sharing a template ("X is a football player from …")
/// were flagged through the head's band once lexical candidates brought them to the
/// detector (contradictions_2k): where the cross-encoder cannot read, a pair in the
/// band is answered no (`route: letters`, at the head's ceiling); a denial still is one.
#[test]
fn unreadable_pairs_in_the_band_are_not_contradictions() {
    let Some((_, enc, model)) = committed_detector() else {
        return;
    };
    let texts = [
        (
            "رضا محمدي هو لاعب كرة قدم إيراني في مركز حراسة المرمى. is false",
            "ريان ماييرا هو لاعب كرة قدم أمريكي في مركز حراسة المرمى.",
        ),
        (
            "شيبوكي كينيدي اجبواناننيك هو لاعب كرة قدم نيجيري في مركز الهجوم. is false",
            "خوان رامون مارتينيز هو لاعب كرة قدم سلفادوري في مركز الهجوم.",
        ),
        (
            "غلين ألن هي مدينة أمريكية تقع في ولاية ألاباما. is false",
            "فاربر هي مدينة أمريكية تقع في ولاية ميزوري. خطأ",
        ),
        (
            "فاربر هي مدينة أمريكية تقع في ولاية ميزوري.",
            "فاربر هي مدينة أمريكية تقع في ولاية ميزوري. خطأ",
        ),
    ];
    let (set, vecs) = embedded(&enc, &texts, "ar");
    let pairs = kimera_detect::pair_inputs(&set, &vecs);
    let routes = model.judge(&pairs).unwrap();
    for (j, (a, b)) in routes.iter().zip(&texts).take(3) {
        let j = j.unwrap();
        assert!(!j.contradiction(), "{a} / {b}: {j:?}");
        if j.route == "letters" {
            assert!(j.probability < j.threshold, "{j:?}");
        }
    }
    let denial = routes[3].unwrap();
    assert!(
        denial.contradiction() && denial.route == "denial",
        "{denial:?}"
    );
}

/// Within one document (or when the documents are unknown) a number swapped in a
/// requirement decides alone; across two documents the subject left implicit is each
/// document's own, so no rule decides and the models weigh the pair.
#[test]
fn rules_decide_alone_only_within_one_document() {
    let Some((_, enc, model)) = committed_detector() else {
        return;
    };
    let set = vec![kimera_detect::Example {
        a: "The minimum supported Rust version is 1.58.".into(),
        b: "The minimum supported Rust version is 1.85.".into(),
        label: 2,
        lang: "en".into(),
    }];
    let vecs = kimera_detect::train::embed_pairs(&enc, &set, &mut |_| {}).unwrap();
    let unknown = kimera_detect::pair_inputs(&set, &vecs)[0];
    let same = kimera_reactor::PairInput {
        a_doc: "docs/serde.md",
        b_doc: "docs/serde.md",
        ..unknown
    };
    let different = kimera_reactor::PairInput {
        b_doc: "docs/tokio.md",
        ..same
    };
    let routes = model.judge(&[unknown, same, different]).unwrap();
    let route = |i: usize| routes[i].unwrap().route;
    assert_eq!(route(0), "substitution", "{routes:?}");
    assert_eq!(route(1), "substitution", "{routes:?}");
    assert_ne!(route(2), "substitution", "{routes:?}");
    assert!(different.different_documents() && !same.different_documents());
    assert_eq!(
        kimera_reactor::document_of("docs/serde.md:12"),
        "docs/serde.md"
    );
    assert_eq!(kimera_reactor::document_of("wiki"), "wiki");
    assert_eq!(kimera_reactor::document_of("C:\\notes.md"), "C:\\notes.md");
}

/// The decision sends the band's pairs to the cross-encoder in one call, both orders
/// together: a batch gets the judgement each pair gets alone (the cross-encoder's
/// probabilities bit for bit).
#[test]
fn a_batch_is_judged_as_each_pair_alone() {
    let Some((_, enc, model)) = committed_detector() else {
        return;
    };
    // SICK trial pairs in the cross-encoder's band (of different lengths), among pairs
    // the head or a rule decides
    let texts = [
        ("A man is playing a guitar.", "A woman is playing a violin."),
        (
            "A man is sitting near a bike and is writing a note",
            "A man is standing near a bike and is writing on a piece paper",
        ),
        (
            "The lady is slicing a tomato",
            "There is no one cutting a tomato",
        ),
        (
            "The company Kalomi is located in France.",
            "The company Kalomi is located in Peru.",
        ),
        ("There is no man eating food", "A man is eating a pizza"),
        (
            "A man is trekking in the woods",
            "The man is not hiking in the woods",
        ),
        (
            "The cat sleeps on the sofa.",
            "The cat is running in the garden.",
        ),
        (
            "A child is running in and out of the waves of the ocean",
            "A child is running in and out of the ocean waves",
        ),
    ];
    let (set, vecs) = embedded(&enc, &texts, "en");
    let pairs = kimera_detect::pair_inputs(&set, &vecs);
    let together = model.judge(&pairs).unwrap();
    let crossed = together
        .iter()
        .filter(|j| j.is_some_and(|j| j.route == "cross"))
        .count();
    assert!(crossed >= 4, "{together:#?}");
    for (i, p) in pairs.iter().enumerate() {
        let alone = model.judge(std::slice::from_ref(p)).unwrap()[0].unwrap();
        let with = together[i].unwrap();
        // the cross-encoder's probabilities bit for bit; the head's (candle's matrix
        // product, whose kernel depends on the number of rows) to float rounding
        assert_eq!(
            (alone.route, alone.threshold, alone.cross),
            (with.route, with.threshold, with.cross),
            "{:?}",
            texts[i]
        );
        assert!((alone.probability - with.probability).abs() < 1e-5);
        assert!((alone.head.unwrap() - with.head.unwrap()).abs() < 1e-5);
    }
}
