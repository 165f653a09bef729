//! Training both routes on a tiny fixture, saving, reloading, and refusing bad input.
//!
//! The fixture (tests/fixtures/tiny_*.csv) has 40 pairs: "X is doing Y" against its
//! negation (contradiction) or against an unrelated sentence (not). Half of the dev pairs
//! are contradictions, so predicting "contradiction" for everything scores F1 0.67; a
//! trainer that works must beat that clearly, hence the 0.8 floor for the head, whose
//! lexical signals (negation asymmetry) separate the fixture perfectly.

mod common;

use kimera_detect::cross::{Base, CrossModel, evaluate};
use kimera_detect::head::HeadModel;
use kimera_detect::train::{WEIGHTS_FILE, embed_pairs, feature_rows, read_meta};
use kimera_detect::{DetectError, ModelDetector, Route, TrainOptions, load_examples, train_to_dir};

fn assert_close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-6, "{x} vs {y}");
    }
}

#[test]
fn head_trains_on_fixture_and_reloads_to_the_same_probabilities() {
    let Some(model_dir) = common::model_dir() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let mut opts = TrainOptions::new(Route::Head, model_dir.clone());
    opts.epochs = Some(30);
    opts.hidden = 16;
    opts.batch_size = Some(8);
    let mut steps = 0;
    let trained = train_to_dir(
        &common::fixture("tiny_train.csv"),
        &common::fixture("tiny_dev.csv"),
        out.path(),
        &opts,
        &mut |_| steps += 1,
    )
    .unwrap();
    assert!(steps > 30);
    let h = &trained.meta.history;
    assert_eq!(h.len(), 30);
    assert!(
        h[29].train_loss < h[0].train_loss * 0.7,
        "loss {} -> {}",
        h[0].train_loss,
        h[29].train_loss
    );
    assert!(trained.meta.dev.f1 >= 0.8, "dev F1 {}", trained.meta.dev.f1);
    assert_eq!(read_meta(&out.path().join("head")).unwrap(), trained.meta);

    // Reload and recompute from scratch: same probabilities.
    let head = HeadModel::load(
        &out.path().join("head").join(WEIGHTS_FILE),
        trained.meta.feature_len,
    )
    .unwrap();
    let enc = kimera_embed::MiniLmEncoder::load(&model_dir, Default::default()).unwrap();
    let dev = load_examples(&common::fixture("tiny_dev.csv")).unwrap();
    let vecs = embed_pairs(&enc, &dev, &mut |_| {}).unwrap();
    let probs = head.p_contradiction(&feature_rows(&dev, &vecs)).unwrap();
    assert_close(&probs, &trained.dev_probs);

    // The detector (head only) agrees, and its verdicts follow the stored threshold.
    let det = ModelDetector::load(out.path(), &model_dir).unwrap();
    let pairs: Vec<kimera_reactor::PairInput<'_>> = dev
        .iter()
        .zip(&vecs)
        .map(|(e, (u, v))| kimera_reactor::PairInput {
            a_id: "a",
            b_id: "b",
            a_text: &e.a,
            b_text: &e.b,
            a_lang: "en",
            b_lang: "en",
            a_vec: u,
            b_vec: v,
            cosine: kimera_core::dot(u, v),
            resonance: kimera_core::dot(u, v),
            a_doc: "",
            b_doc: "",
        })
        .collect();
    let verdicts = kimera_reactor::Detector::score_batch(&det, &pairs);
    for ((v, p), pair) in verdicts.iter().zip(&probs).zip(&pairs) {
        let related = pair.cosine >= kimera_detect::detector::MIN_COSINE;
        assert_eq!(v.contradiction, *p >= trained.meta.threshold && related);
        if v.contradiction {
            assert!((v.evidence["probability"].as_f64().unwrap() as f32 - p).abs() < 1e-6);
        }
    }
    // Batching does not change a verdict: one pair at a time gives the same.
    for (i, p) in pairs.iter().enumerate() {
        assert_eq!(
            kimera_reactor::Detector::score_batch(&det, std::slice::from_ref(p))[0],
            verdicts[i]
        );
    }
}

#[test]
fn cross_encoder_trains_on_fixture_and_reloads_to_the_same_probabilities() {
    let Some(model_dir) = common::model_dir() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let mut opts = TrainOptions::new(Route::Cross, model_dir.clone());
    opts.epochs = Some(3);
    opts.lora_rank = 4;
    opts.lora_layers = 1;
    opts.batch_size = Some(7);
    opts.lr = Some(3e-3);
    let trained = train_to_dir(
        &common::fixture("tiny_train.csv"),
        &common::fixture("tiny_dev.csv"),
        out.path(),
        &opts,
        &mut |_| {},
    )
    .unwrap();
    let h = &trained.meta.history;
    assert!(h.iter().all(|r| r.train_loss.is_finite()));
    assert!(
        h[2].train_loss < h[0].train_loss,
        "loss {:?}",
        h.iter().map(|r| r.train_loss).collect::<Vec<_>>()
    );
    // The adapter file is small: only LoRA (1 layer, rank 4) and the head.
    let size = std::fs::metadata(out.path().join("cross").join(WEIGHTS_FILE))
        .unwrap()
        .len();
    assert!(size < 1_000_000, "{size} bytes");

    let meta = read_meta(&out.path().join("cross")).unwrap();
    let base = Base::load(&model_dir).unwrap();
    let model = CrossModel::load(
        base,
        meta.cross.unwrap().lora,
        &out.path().join("cross").join(WEIGHTS_FILE),
    )
    .unwrap();
    let dev = load_examples(&common::fixture("tiny_dev.csv")).unwrap();
    let (prf, probs) = evaluate(&model, &dev).unwrap();
    assert_close(&probs, &trained.dev_probs);
    assert_eq!(prf.f1, trained.meta.dev.f1);
    // A pair's probability does not depend on the other pairs of the call (the reactor's
    // batching contract): one at a time gives the same numbers.
    for (e, p) in dev.iter().zip(&probs) {
        let one = model
            .p_contradiction(&[(e.a.as_str(), e.b.as_str())])
            .unwrap();
        assert_eq!(one[0].to_bits(), p.to_bits(), "{} vs {p}", one[0]);
    }
}

#[test]
fn bad_input_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    // Missing file.
    let err = load_examples(&dir.path().join("nope.csv")).unwrap_err();
    assert!(
        matches!(err, DetectError::Data { .. }) && err.to_string().contains("nope.csv"),
        "{err}"
    );
    // A bad label row.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "pair_id,text1,text2,label,lang,type\n1,a b,a not b,True,en,c\n2,x,y,maybe,en,c\n",
    )
    .unwrap();
    let err = load_examples(&bad).unwrap_err().to_string();
    assert!(err.contains("bad.csv:3") && err.contains("label"), "{err}");
    // No model folder in the detector dir.
    let err = ModelDetector::load(dir.path(), &dir.path().join("m")).unwrap_err();
    assert!(matches!(err, DetectError::Missing { .. }), "{err}");
    // A corrupt weights file.
    std::fs::create_dir_all(dir.path().join("head")).unwrap();
    std::fs::write(
        dir.path().join("head").join(WEIGHTS_FILE),
        b"not safetensors",
    )
    .unwrap();
    let err = HeadModel::load(&dir.path().join("head").join(WEIGHTS_FILE), 1549).unwrap_err();
    assert!(
        matches!(err, DetectError::Format { .. }) && err.to_string().contains(WEIGHTS_FILE),
        "{err}"
    );
    // Weights without their meta.json.
    let err = ModelDetector::load(dir.path(), &dir.path().join("m")).unwrap_err();
    assert!(err.to_string().contains("meta.json"), "{err}");
}

#[test]
fn the_decision_is_fitted_on_out_of_fold_predictions_and_decides_as_documented() {
    let Some(model_dir) = common::model_dir() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let (train, dev_path) = (
        common::fixture("tiny_train.csv"),
        common::fixture("tiny_dev.csv"),
    );
    let mut head = TrainOptions::new(Route::Head, model_dir.clone());
    (head.epochs, head.hidden, head.batch_size) = (Some(20), 16, Some(8));
    (head.folds, head.fold_seed) = (2, 9);
    train_to_dir(&train, &dev_path, out.path(), &head, &mut |_| {}).unwrap();
    let mut cross = TrainOptions::new(Route::Cross, model_dir.clone());
    (cross.epochs, cross.lora_rank, cross.lora_layers) = (Some(2), 4, 1);
    (cross.batch_size, cross.lr) = (Some(7), Some(3e-3));
    (cross.folds, cross.fold_seed) = (2, 9);
    train_to_dir(&train, &dev_path, out.path(), &cross, &mut |_| {}).unwrap();

    // every training pair predicted once, by the fold model that did not see it
    let n = load_examples(&train).unwrap().len();
    for route in ["head", "cross"] {
        let oof = kimera_detect::train::read_oof(&out.path().join(route)).unwrap();
        assert_eq!(oof.len(), n, "{route}");
        assert!(oof.iter().enumerate().all(|(k, l)| l.i == k && l.fold < 2));
        assert!(oof.iter().any(|l| l.fold == 0) && oof.iter().any(|l| l.fold == 1));
    }
    assert_eq!(read_meta(&out.path().join("cross")).unwrap().folds, 2);

    let cfg = kimera_detect::fit_decision_dir(
        &train,
        &dev_path,
        out.path(),
        &model_dir,
        None,
        &mut |_| {},
    )
    .unwrap();
    assert!(out.path().join("decision.json").is_file());
    assert!(cfg.floor <= cfg.ceiling, "{cfg:?}");
    assert_eq!(cfg.protocol.pairs, n);
    assert!(cfg.protocol.dev.is_some(), "dev scored once");

    // the detector decides each dev pair as the documented rule says
    let enc = kimera_embed::MiniLmEncoder::load(&model_dir, Default::default()).unwrap();
    let dev = load_examples(&dev_path).unwrap();
    let vecs = embed_pairs(&enc, &dev, &mut |_| {}).unwrap();
    let pairs = kimera_detect::pair_inputs(&dev, &vecs);
    let det = ModelDetector::load(out.path(), &model_dir).unwrap();
    assert_eq!(det.decision(), Some(&cfg));
    let judged = det.judge(&pairs).unwrap();
    let verdicts = kimera_reactor::Detector::score_batch(&det, &pairs);
    for ((p, j), v) in pairs.iter().zip(&judged).zip(&verdicts) {
        let j = j.expect("every dev pair has vectors");
        if p.cosine < kimera_detect::detector::MIN_COSINE {
            assert!(!v.contradiction);
            continue;
        }
        match kimera_detect::decision::rule_alone(p.a_text, p.b_text) {
            Some(_) => assert!(
                v.contradiction && ["denial", "negation", "substitution"].contains(&j.route)
            ),
            None if kimera_detect::decision::content_coverage(p.a_text, p.b_text)
                < kimera_detect::decision::MIN_CONTENT_COVERAGE =>
            {
                // the content gate: too few shared content words, no model asked
                assert_eq!(j.route, "unrelated");
                assert!(!v.contradiction);
            }
            None => {
                let h = det.head_classes(std::slice::from_ref(p)).unwrap()[0].unwrap();
                let (q, stage1) = cfg.stage1(h, p.cosine);
                match stage1 {
                    Some(yes) => {
                        assert_eq!(j.route, "head");
                        assert_eq!(v.contradiction, yes);
                        assert!((j.probability as f64 - q).abs() < 1e-6);
                    }
                    None => {
                        assert_eq!(j.route, "cross");
                        assert_eq!(v.contradiction, j.probability as f64 >= cfg.threshold);
                    }
                }
            }
        }
    }
}
