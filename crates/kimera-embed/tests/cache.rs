//! The persistent embedding cache and exact search, with the deterministic HashEncoder
//! (the model is beside the point here; tests/real_model.rs covers MiniLM).

use kimera_core::{Geoid, Source, text_hash};
use kimera_embed::{EmbedError, Encoder, HashEncoder, embed_store, embed_texts_cached, nearest};
use kimera_store::Store;

fn store_with(texts: &[(&str, &str)]) -> Store {
    let mut s = Store::open_in_memory().unwrap();
    let gs: Vec<Geoid> = texts
        .iter()
        .map(|(t, l)| Geoid::new(*t, *l, Source::Api))
        .collect();
    s.insert_geoids(&gs).unwrap();
    s
}

#[test]
fn second_call_is_all_hits_and_returns_the_same_vectors() {
    let mut s = Store::open_in_memory().unwrap();
    let enc = HashEncoder::new();
    let texts = ["alpha beta", "gamma", "alpha beta", ""];
    let (v1, st1) = embed_texts_cached(&mut s, &enc, &texts).unwrap();
    assert_eq!((st1.hits, st1.misses), (0, 3), "duplicates encoded once");
    assert_eq!(v1[0], v1[2]);
    assert_eq!(v1[1], enc.encode(&["gamma"]).unwrap()[0]);
    let (v2, st2) = embed_texts_cached(&mut s, &enc, &texts).unwrap();
    assert_eq!((st2.hits, st2.misses), (4, 0));
    assert_eq!(v1, v2);
    // a mix: one new text
    let (v3, st3) = embed_texts_cached(&mut s, &enc, &["gamma", "delta"]).unwrap();
    assert_eq!((st3.hits, st3.misses), (1, 1));
    assert_eq!(v3[1], enc.encode_one("delta"));
}

#[test]
fn another_model_never_sees_stale_vectors() {
    let mut s = Store::open_in_memory().unwrap();
    let a = HashEncoder::new();
    let b = HashEncoder::with_dim(128);
    assert_ne!(a.model_id(), b.model_id());
    embed_texts_cached(&mut s, &a, &["same text"]).unwrap();
    let (vb, st) = embed_texts_cached(&mut s, &b, &["same text"]).unwrap();
    assert_eq!((st.hits, st.misses), (0, 1));
    assert_eq!(vb[0].len(), 128);
    assert_eq!(vb[0], b.encode_one("same text"));
}

#[test]
fn cached_vector_of_wrong_dimension_is_an_error_not_a_result() {
    let mut s = Store::open_in_memory().unwrap();
    let enc = HashEncoder::new();
    let bad = vec![0.5f32; 3];
    s.put_embeddings(enc.model_id(), &[(text_hash("x"), &bad)])
        .unwrap();
    let err = embed_texts_cached(&mut s, &enc, &["x"]).unwrap_err();
    assert!(
        matches!(
            err,
            EmbedError::DimMismatch {
                expected: 384,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn embed_store_fills_what_is_missing_then_hits() {
    let mut s = store_with(&[
        ("The cat sits on the mat.", "en"),
        ("Le chat est assis sur le tapis.", "fr"),
        ("Water boils at 100 °C.", "en"),
        ("Water boils at 100 °C.", "fr"), // same exact text, other language: one vector
        ("", "und"),
    ]);
    let enc = HashEncoder::new();
    let calls = std::cell::RefCell::new(Vec::new());
    let st = embed_store(&mut s, &enc, 2, &|d, t| calls.borrow_mut().push((d, t))).unwrap();
    assert_eq!((st.geoids, st.hits, st.misses, st.encoded), (5, 0, 5, 4));
    assert_eq!(calls.borrow().last(), Some(&(5, 5)));
    assert_eq!(s.count_missing_embeddings(enc.model_id()).unwrap(), 0);
    let got = s
        .get_embeddings(
            enc.model_id(),
            &[text_hash("Le chat est assis sur le tapis.")],
        )
        .unwrap();
    assert_eq!(
        got[0].as_deref(),
        Some(&enc.encode_one("Le chat est assis sur le tapis.")[..])
    );

    let again = embed_store(&mut s, &enc, 2, &|_, _| {}).unwrap();
    assert_eq!((again.hits, again.misses, again.encoded), (5, 0, 0));

    // a new model id starts from zero
    let other = HashEncoder::with_dim(64);
    let st = embed_store(&mut s, &other, 100, &|_, _| {}).unwrap();
    assert_eq!((st.hits, st.misses, st.encoded), (0, 5, 4));
}

#[test]
fn embed_store_results_do_not_depend_on_batch_size() {
    let texts: Vec<String> = (0..37).map(|i| format!("statement number {i}")).collect();
    let pairs: Vec<(&str, &str)> = texts.iter().map(|t| (t.as_str(), "en")).collect();
    let enc = HashEncoder::new();
    let hashes: Vec<[u8; 32]> = texts.iter().map(|t| text_hash(t)).collect();
    let mut results = Vec::new();
    for batch in [1, 5, 37, 1000] {
        let mut s = store_with(&pairs);
        let st = embed_store(&mut s, &enc, batch, &|_, _| {}).unwrap();
        assert_eq!(st.encoded, 37);
        results.push(s.get_embeddings(enc.model_id(), &hashes).unwrap());
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn nearest_finds_the_closest_statements_best_first() {
    let mut s = store_with(&[
        ("The cat sits on the mat.", "en"),
        ("Quarterly revenue grew by nine percent.", "en"),
        ("A cat is sitting on a mat.", "en"),
        ("Not embedded yet but stored.", "en"),
    ]);
    let enc = HashEncoder::new();
    // embed only the first three
    let texts = [
        "The cat sits on the mat.",
        "Quarterly revenue grew by nine percent.",
        "A cat is sitting on a mat.",
    ];
    embed_texts_cached(&mut s, &enc, &texts).unwrap();
    let hits = nearest(&s, &enc, "The cat sits on the mat.", 2).unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].text, "The cat sits on the mat.");
    assert!((hits[0].score - 1.0).abs() < 1e-5);
    assert_eq!(hits[1].text, "A cat is sitting on a mat.");
    assert!(hits[0].score >= hits[1].score);
    let all = nearest(&s, &enc, "cat", 10).unwrap();
    assert_eq!(
        all.len(),
        3,
        "only geoids with a vector for this model are searched"
    );
    assert!(nearest(&s, &enc, "cat", 0).unwrap().is_empty());
}

#[test]
fn empty_inputs_are_fine() {
    let mut s = Store::open_in_memory().unwrap();
    let enc = HashEncoder::new();
    let (v, st) = embed_texts_cached(&mut s, &enc, &[]).unwrap();
    assert!(v.is_empty());
    assert_eq!((st.hits, st.misses), (0, 0));
    let st = embed_store(&mut s, &enc, 10, &|_, _| {}).unwrap();
    assert_eq!((st.geoids, st.encoded), (0, 0));
    assert!(nearest(&s, &enc, "anything", 5).unwrap().is_empty());
}

#[test]
fn vector_index_agrees_with_the_store_scan_for_any_thread_count() {
    use kimera_embed::VectorIndex;
    // More rows than one scan block (4096); every text twice.
    let texts: Vec<String> = (0..9000)
        .map(|i| format!("statement {} about topic {}", i % 4500, (i % 4500) % 37))
        .collect();
    let pairs: Vec<(&str, &str)> = texts.iter().map(|t| (t.as_str(), "en")).collect();
    let mut s = store_with(&pairs);
    let enc = HashEncoder::new();
    embed_store(&mut s, &enc, 512, &|_, _| {}).unwrap();
    let index = VectorIndex::load(&s, enc.model_id()).unwrap();
    assert_eq!(index.len(), 4500, "duplicate texts are one geoid");
    assert_eq!(index.dim(), enc.dim());
    for query in ["statement 7 about topic 7", "topic 3", "unrelated words"] {
        let q = enc.encode_one(query);
        let scan = nearest(&s, &enc, query, 12).unwrap();
        let mut answers = Vec::new();
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            answers.push(pool.install(|| index.nearest(&q, 12).unwrap()));
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]));
        let ids: Vec<&str> = answers[0].iter().map(|&(r, _)| index.id(r)).collect();
        let scan_ids: Vec<&str> = scan.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, scan_ids, "query {query:?}");
        for (&(r, score), n) in answers[0].iter().zip(&scan) {
            assert_eq!(score, n.score);
            assert_eq!(index.vector(r), enc.encode_one(&n.text).as_slice());
        }
    }
}

#[test]
fn vector_index_edge_cases() {
    use kimera_embed::VectorIndex;
    let s = Store::open_in_memory().unwrap();
    let enc = HashEncoder::new();
    let empty = VectorIndex::load(&s, enc.model_id()).unwrap();
    assert!(empty.is_empty());
    assert!(empty.nearest(&enc.encode_one("x"), 5).unwrap().is_empty());
    let mut s = store_with(&[("one", "en"), ("two", "en")]);
    embed_store(&mut s, &enc, 8, &|_, _| {}).unwrap();
    let index = VectorIndex::load(&s, enc.model_id()).unwrap();
    assert_eq!(index.nearest(&enc.encode_one("one"), 10).unwrap().len(), 2);
    assert!(index.nearest(&enc.encode_one("one"), 0).unwrap().is_empty());
    assert!(matches!(
        index.nearest(&[1.0, 0.0], 1),
        Err(EmbedError::DimMismatch { .. })
    ));
}
