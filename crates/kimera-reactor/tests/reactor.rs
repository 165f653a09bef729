//! Reactor cycles end to end on real (temporary) stores.

use kimera_core::{Geoid, GoldLabel, Source, text_hash};
use kimera_reactor::synth::{self, SynthSpec};
use kimera_reactor::{
    KnnParams, Pairing, RunConfig, Store, detectors_from_list, run_parallel, run_sequential,
};
use kimera_store::{PairEnd, PairRef};
use proptest::prelude::*;

const MODEL: &str = "test-model";

/// (a, b, score bits, detector, evidence) of every stored scar, in insertion order.
fn scar_list(store: &Store) -> Vec<(String, String, u64, String, String)> {
    let mut stmt = store
        .conn()
        .prepare("SELECT a, b, score, detector, evidence FROM scars ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get::<_, f64>(2)?.to_bits(),
            r.get(3)?,
            r.get(4)?,
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn synthetic_store(n: usize, clusters: usize, seed: u64) -> Store {
    let mut s = Store::open_in_memory().unwrap();
    let spec = SynthSpec {
        n,
        dim: 32,
        clusters,
        spread: 0.8,
        twin_every: 7,
        seed,
        model_id: MODEL.into(),
    };
    synth::fill_store(&mut s, &spec, |_| {}).unwrap();
    s
}

fn cfg(pairing: Pairing, chunk: usize, workers: usize) -> RunConfig {
    RunConfig {
        model_id: MODEL.into(),
        pairing,
        knn: KnnParams {
            k: 4,
            floor: 0.2,
            exact_max: 60,
            nlist: 6,
            nprobe: 3,
            lexical_k: 3,
        },
        seed: 7,
        chunk,
        workers,
        args: vec![],
        ..RunConfig::default()
    }
}

fn sequential_scars(
    n: usize,
    seed: u64,
    pairing: Pairing,
) -> Vec<(String, String, u64, String, String)> {
    let mut s = synthetic_store(n, 5, seed);
    let d = detectors_from_list("baseline,lexical").unwrap();
    run_sequential(&mut s, &cfg(pairing, 1000, 1), &d, &|_| {}).unwrap();
    scar_list(&s)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Parallel equals sequential: same scars, same order, for any worker count and chunk
    /// size, with exact search (n ≤ 60) and with the IVF index (n > 60).
    #[test]
    fn parallel_equals_sequential(
        n in 0usize..140,
        seed in 0u64..1000,
        chunk in prop::sample::select(vec![1usize, 3, 17, 64, 1000]),
        pairing in prop::sample::select(vec![Pairing::Ann, Pairing::Random]),
    ) {
        let expect = sequential_scars(n, seed, pairing);
        for workers in [1usize, 2, 4, 8] {
            let mut s = synthetic_store(n, 5, seed);
            let d = detectors_from_list("baseline,lexical").unwrap();
            let stats = run_parallel(&mut s, &cfg(pairing, chunk, workers), &d, &|_| {}).unwrap();
            prop_assert_eq!(stats.workers, workers);
            prop_assert_eq!(&scar_list(&s), &expect, "workers {} chunk {}", workers, chunk);
        }
    }
}

#[test]
fn planted_negations_are_found_and_a_rerun_adds_nothing() {
    let mut s = synthetic_store(300, 10, 1);
    let d = detectors_from_list("lexical").unwrap();
    let mut c = cfg(Pairing::Ann, 50, 2);
    c.knn = KnnParams {
        k: 5,
        floor: 0.5,
        ..KnnParams::default()
    };
    let first = run_parallel(&mut s, &c, &d, &|_| {}).unwrap();
    // every 7th geoid is "<previous> is false", with a vector next to it
    let twins = 300 / 7;
    let found = s.scars(0).unwrap();
    let planted: Vec<_> = found
        .iter()
        .filter(|r| {
            let (x, y) = (&r.text_a, &r.text_b);
            x.trim_end_matches('.') == y.trim_end_matches(" is false")
                || y.trim_end_matches('.') == x.trim_end_matches(" is false")
        })
        .collect();
    assert_eq!(planted.len(), twins, "{found:#?}");
    assert!(planted.iter().all(|r| r.evidence["rule"] == "negation"));
    // the synthetic texts differ only in their numbers, so that rule fires too
    assert!(
        found
            .iter()
            .all(|r| r.evidence["rule"] == "negation" || r.evidence["rule"] == "numbers")
    );
    assert_eq!(first.new_scars, first.scars_found);

    let second = run_parallel(&mut s, &c, &d, &|_| {}).unwrap();
    assert_eq!(second.scars_found, first.scars_found);
    assert_eq!(second.new_scars, 0, "resumable: nothing is scarred twice");
    assert_eq!(s.scars(0).unwrap().len(), found.len());

    // and both runs are recorded with their stats
    let run = s.last_run(Some("run")).unwrap().unwrap();
    assert_eq!(run.status, "ok");
    let stats = run.stats.unwrap();
    assert_eq!(stats["new_scars"], 0);
    assert_eq!(stats["geoids"], 300);
    assert_eq!(stats["mode"], "parallel");
    assert_eq!(stats["pairing"], "ann");
    assert!(stats["mem_mb"].as_f64().unwrap() > 0.0);
}

/// A statement and its denial, each crowded by paraphrases of itself nearer in vector
/// space than the other: the vector channel (k = 2) pairs each with its paraphrases; the
/// lexical channel pairs the two, which share their rare words, and the denial is found.
#[test]
fn the_lexical_channel_reaches_a_denial_crowded_out_of_the_vector_neighbours() {
    let unit = |v: [f32; 3]| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.map(|x| x / n)
    };
    let mut rows: Vec<(&str, [f32; 3])> = vec![
        (
            "The Nile is the longest river of Africa.",
            unit([1.0, 0.0, 0.0]),
        ),
        (
            "The Nile is not the longest river of Africa.",
            unit([0.8, 0.6, 0.0]),
        ),
    ];
    let crowd = [
        ("Alpha shipments arrive weekly.", [1.0, 0.02, 0.03]),
        ("Beta harbours close at dusk.", [1.0, 0.03, 0.02]),
        ("Gamma trains leave hourly.", [0.8, 0.61, 0.02]),
        ("Delta farmers grow barley.", [0.8, 0.61, -0.02]),
    ];
    rows.extend(crowd.iter().map(|&(t, v)| (t, unit(v))));
    let scars_with = |lexical_k: usize| {
        let mut s = Store::open_in_memory().unwrap();
        let geoids: Vec<Geoid> = rows
            .iter()
            .map(|(t, _)| Geoid::new(*t, "en", Source::Api))
            .collect();
        s.insert_geoids(&geoids).unwrap();
        let hashes: Vec<_> = rows.iter().map(|(t, _)| text_hash(t)).collect();
        let vecs: Vec<(_, &[f32])> = hashes
            .iter()
            .zip(&rows)
            .map(|(h, (_, v))| (*h, &v[..]))
            .collect();
        s.put_embeddings(MODEL, &vecs).unwrap();
        let mut c = cfg(Pairing::Ann, 100, 2);
        c.knn = KnnParams {
            k: 2,
            floor: 0.4,
            lexical_k,
            ..KnnParams::default()
        };
        let d = detectors_from_list("lexical").unwrap();
        let stats = run_parallel(&mut s, &c, &d, &|_| {}).unwrap();
        let pairs: Vec<(String, String)> = s
            .scars(0)
            .unwrap()
            .into_iter()
            .map(|r| (r.text_a, r.text_b))
            .collect();
        (stats, pairs)
    };
    let denial = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .any(|(a, b)| a.contains("Nile") && b.contains("Nile"))
    };
    let (vec_only, pairs) = scars_with(0);
    assert!(!denial(&pairs), "crowded out: {pairs:?}");
    assert_eq!(vec_only.lexical_pairs, 0);
    let (both, pairs) = scars_with(3);
    assert!(denial(&pairs), "{pairs:?}");
    assert_eq!(
        both.lexical_pairs, 1,
        "only the two Nile statements share rare words"
    );
    assert_eq!(both.pairs_checked, vec_only.pairs_checked + 1);
}

#[test]
fn empty_store_one_geoid_and_more_workers_than_geoids() {
    let d = detectors_from_list("baseline,lexical").unwrap();
    let mut s = Store::open_in_memory().unwrap();
    let st = run_parallel(&mut s, &cfg(Pairing::Ann, 10, 8), &d, &|_| {}).unwrap();
    assert_eq!((st.geoids, st.pairs_checked, st.new_scars), (0, 0, 0));

    let g = Geoid::new("Alone", "en", Source::Api);
    s.insert_geoids(std::slice::from_ref(&g)).unwrap();
    s.put_embeddings(MODEL, &[(text_hash(&g.text), &[1.0f32, 0.0][..])])
        .unwrap();
    for pairing in [Pairing::Ann, Pairing::Random, Pairing::Pairs] {
        let st = run_parallel(&mut s, &cfg(pairing, 10, 8), &d, &|_| {}).unwrap();
        assert_eq!((st.geoids, st.vectors, st.pairs_checked), (1, 1, 0));
    }

    let mut s = synthetic_store(3, 0, 5);
    let st = run_parallel(&mut s, &cfg(Pairing::Random, 10, 8), &d, &|_| {}).unwrap();
    assert_eq!(
        (st.workers, st.pairs_checked),
        (8, 1),
        "3 geoids make one random pair"
    );
}

#[test]
fn missing_vectors_are_a_clear_error_or_skipped() {
    let d = detectors_from_list("baseline").unwrap();
    let mut s = Store::open_in_memory().unwrap();
    let a = Geoid::new("Fire is hot", "en", Source::Api);
    let b = Geoid::new("Fire is cold", "en", Source::Api);
    s.insert_geoids(&[a.clone(), b.clone()]).unwrap();
    let err = run_sequential(&mut s, &cfg(Pairing::Ann, 10, 1), &d, &|_| {}).unwrap_err();
    assert!(
        err.to_string()
            .contains("no embeddings for model \"test-model\""),
        "{err}"
    );
    assert_eq!(s.last_run(Some("run")).unwrap().unwrap().status, "failed");

    s.put_embeddings(MODEL, &[(text_hash(&a.text), &[1.0f32, 0.0][..])])
        .unwrap();
    let st = run_sequential(&mut s, &cfg(Pairing::Ann, 10, 1), &d, &|_| {}).unwrap();
    assert_eq!((st.vectors, st.missing_vectors), (1, 1));

    s.put_embeddings(MODEL, &[(text_hash(&b.text), &[1.0f32, 0.0, 0.0][..])])
        .unwrap();
    let err = run_sequential(&mut s, &cfg(Pairing::Ann, 10, 1), &d, &|_| {}).unwrap_err();
    assert!(
        err.to_string().contains("3 dimensions, expected 2"),
        "{err}"
    );

    let mut c = cfg(Pairing::Ann, 10, 1);
    c.chunk = 0;
    assert!(run_sequential(&mut s, &c, &d, &|_| {}).is_err());
    assert!("graph".parse::<Pairing>().is_err());
}

#[test]
fn labelled_pairs_with_resonance_and_baseline() {
    let mut s = Store::open_in_memory().unwrap();
    let g = |t: &str| Geoid::new(t, "en", Source::Api);
    let (a, b, c) = (
        g("Snow is white"),
        g("Snow is black"),
        g("Libraries are quiet"),
    );
    let pair = |x: &Geoid, y: &Geoid, gold| PairRef {
        pair_id: None,
        a: PairEnd::Id(x.id.clone()),
        b: PairEnd::Id(y.id.clone()),
        gold: Some(gold),
        lang: Some("en".into()),
        kind: None,
        source: Source::Api,
    };
    s.insert_batch(
        &[a.clone(), b.clone(), c.clone()],
        &[
            pair(&a, &b, GoldLabel::Contradiction),
            pair(&a, &c, GoldLabel::Neutral),
            pair(&b, &a, GoldLabel::Contradiction),
        ],
    )
    .unwrap();
    let v = |x: f32, y: f32| vec![x, y];
    let (va, vb, vc) = (v(1.0, 0.0), v(0.8, 0.6), v(0.0, 1.0));
    s.put_embeddings(
        MODEL,
        &[
            (text_hash(&a.text), &va[..]),
            (text_hash(&b.text), &vb[..]),
            (text_hash(&c.text), &vc[..]),
        ],
    )
    .unwrap();
    let d = detectors_from_list("baseline,lexical").unwrap();
    let st = run_sequential(&mut s, &cfg(Pairing::Pairs, 10, 1), &d, &|_| {}).unwrap();
    assert_eq!(st.pairs_checked, 2, "b–a repeats a–b");
    let scars = s.scars(0).unwrap();
    let mut got: Vec<(String, String)> = scars
        .iter()
        .map(|r| (r.detector.clone(), r.text_b.clone() + "|" + &r.text_a))
        .collect();
    got.sort();
    // a–c: cosine 0 < 0.3 → baseline (weight 1); a–b: cosine 0.8 → lexical colour rule
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        scars
            .iter()
            .any(|r| r.detector == "baseline" && (r.score - 1.0).abs() < 1e-6)
    );
    assert!(
        scars
            .iter()
            .any(|r| r.detector == "lexical" && r.evidence["rule"] == "exclusive")
    );

    // second run: a–b is now damped by scars touching a or b → resonance
    // 0.8 * (1 - mean(0.x lexical, 1.0 baseline)) falls under 0.3 and baseline fires
    let st = run_sequential(&mut s, &cfg(Pairing::Pairs, 10, 1), &d, &|_| {}).unwrap();
    assert_eq!(st.new_scars, 1);
    let damped = s.scars(0).unwrap().into_iter().find(|r| {
        r.detector == "baseline" && (r.text_b.contains("black") || r.text_a.contains("black"))
    });
    let damped = damped.unwrap();
    let res = damped.evidence["resonance"].as_f64().unwrap();
    assert!(
        res < 0.3 && damped.evidence["cosine"].as_f64().unwrap() > 0.79,
        "{damped:?}"
    );
}
