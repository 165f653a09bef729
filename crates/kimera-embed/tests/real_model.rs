//! Tests with the real all-MiniLM-L6-v2 weights.
//!
//! They need the model folder (`kimera model fetch` or scripts/fetch-model.sh). Without
//! it they print a notice and pass, except under CI (`CI=true`), where they fail.

use std::path::PathBuf;
use std::sync::OnceLock;

use kimera_core::{Geoid, Source, cosine};
use kimera_embed::provision::check_model_dir;
use kimera_embed::{
    Encoder, MiniLmEncoder, MiniLmOptions, Precision, embed_store, embed_texts_cached, model_dir,
    nearest,
};
use kimera_store::Store;

fn model_or_skip(test: &str) -> Option<PathBuf> {
    let dir = model_dir();
    match check_model_dir(&dir) {
        Ok(()) => Some(dir),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: the model is required under CI: {e}");
            }
            eprintln!("NOTICE: skipping {test}: {e}");
            None
        }
    }
}

/// One encoder shared by the tests of this file (loading costs ~0.3 s).
fn shared() -> Option<&'static MiniLmEncoder> {
    static ENC: OnceLock<Option<MiniLmEncoder>> = OnceLock::new();
    ENC.get_or_init(|| {
        let dir = model_or_skip("real-model tests")?;
        Some(MiniLmEncoder::load(&dir, MiniLmOptions::default()).expect("model loads"))
    })
    .as_ref()
}

struct Fixture {
    texts: Vec<String>,
    tokens: Vec<usize>,
    vectors: Vec<Vec<f32>>,
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/parity.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let items = v["items"].as_array().unwrap();
    Fixture {
        texts: items
            .iter()
            .map(|i| i["text"].as_str().unwrap().to_string())
            .collect(),
        tokens: items
            .iter()
            .map(|i| i["tokens"].as_u64().unwrap() as usize)
            .collect(),
        vectors: items
            .iter()
            .map(|i| {
                i["vector"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect(),
    }
}

#[test]
fn parity_with_sentence_transformers() {
    let Some(enc) = shared() else { return };
    let fx = fixture();
    assert!(fx.texts.len() >= 50);
    let refs: Vec<&str> = fx.texts.iter().map(String::as_str).collect();
    let got = enc.encode(&refs).unwrap();
    let mut worst = (1.0f32, String::new());
    for (i, t) in fx.texts.iter().enumerate() {
        assert_eq!(
            enc.token_ids(t).unwrap().len(),
            fx.tokens[i],
            "token count of {t:?} (truncation must be 256, not tokenizer.json's 128)"
        );
        assert_eq!(got[i].len(), 384);
        let c = cosine(&got[i], &fx.vectors[i]);
        if c < worst.0 {
            worst = (c, t.clone());
        }
    }
    eprintln!("worst parity cosine {:.7} on {:?}", worst.0, worst.1);
    assert!(worst.0 >= 0.999, "cosine {} on {:?}", worst.0, worst.1);
}

#[test]
fn determinism_across_batch_size_thread_count_and_company() {
    let Some(dir) = model_or_skip("determinism") else {
        return;
    };
    let fx = fixture();
    let refs: Vec<&str> = fx.texts.iter().map(String::as_str).collect();
    let base = MiniLmEncoder::load(
        &dir,
        MiniLmOptions {
            batch_size: 64,
            threads: 2,
            ..Default::default()
        },
    )
    .unwrap()
    .encode(&refs)
    .unwrap();
    for (batch_size, threads) in [(1, 1), (3, 2), (7, 1), (1000, 3)] {
        let enc = MiniLmEncoder::load(
            &dir,
            MiniLmOptions {
                batch_size,
                threads,
                ..Default::default()
            },
        )
        .unwrap();
        let got = enc.encode(&refs).unwrap();
        for i in 0..refs.len() {
            assert!(
                got[i] == base[i],
                "batch {batch_size}, threads {threads}: bits differ for {:?}",
                refs[i]
            );
        }
        // alone and in reverse company
        let alone = enc.encode(&[refs[9]]).unwrap();
        assert!(alone[0] == base[9]);
        let rev: Vec<&str> = refs.iter().rev().copied().collect();
        let got_rev = enc.encode(&rev).unwrap();
        assert!(got_rev.iter().rev().zip(&base).all(|(a, b)| a == b));
    }
}

#[test]
fn empty_and_very_long_texts() {
    let Some(enc) = shared() else { return };
    let long: String = "The committee reviewed the proposal in detail. ".repeat(2000);
    let v = enc.encode(&["", &long, "   "]).unwrap();
    for x in &v {
        assert_eq!(x.len(), 384);
        let n: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-4, "norm {n}");
        assert!(x.iter().all(|a| a.is_finite()));
    }
    assert_eq!(enc.token_ids(&long).unwrap().len(), 256);
    // truncation: everything after token 256 is ignored
    let longer = format!("{long} completely different ending about volcanoes");
    assert!(enc.encode(&[&longer]).unwrap()[0] == v[1]);
    // empty and blank are both just [CLS] [SEP]
    assert!(v[0] == v[2]);
    assert!(enc.encode(&[]).unwrap().is_empty());
}

#[test]
fn model_id_names_weights_and_precision() {
    let Some(enc) = shared() else { return };
    assert_eq!(enc.model_id(), "all-MiniLM-L6-v2@53aa51172d14/f32");
    assert_eq!(enc.dim(), 384);
    assert_eq!(enc.max_tokens(), 256);
}

#[test]
fn semantic_neighbours_and_cache_with_the_real_model() {
    let Some(enc) = shared() else { return };
    let mut s = Store::open_in_memory().unwrap();
    let texts = [
        "A man is playing a guitar.",
        "Someone is playing an instrument.",
        "The stock market fell sharply today.",
        "Le chat est assis sur le tapis.",
    ];
    let gs: Vec<Geoid> = texts
        .iter()
        .map(|t| Geoid::new(*t, "en", Source::Api))
        .collect();
    s.insert_geoids(&gs).unwrap();
    let st = embed_store(&mut s, enc, 3, &|_, _| {}).unwrap();
    assert_eq!((st.misses, st.encoded), (4, 4));
    let again = embed_store(&mut s, enc, 3, &|_, _| {}).unwrap();
    assert_eq!((again.hits, again.encoded), (4, 0));
    let (cached, cs) = embed_texts_cached(&mut s, enc, &texts).unwrap();
    assert_eq!((cs.hits, cs.misses), (4, 0));
    assert!(cached[0] == enc.encode(&[texts[0]]).unwrap()[0]);
    let hits = nearest(&s, enc, "a guitarist performs", 2).unwrap();
    assert_eq!(hits[0].text, "A man is playing a guitar.");
    assert_eq!(hits[1].text, "Someone is playing an instrument.");
}

#[test]
fn unreadable_model_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::write(dir.path().join(f), "not json").unwrap();
    }
    let err = MiniLmEncoder::load(dir.path(), MiniLmOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.json") && err.contains("line 1"),
        "{err}"
    );
    let missing = MiniLmEncoder::load(&dir.path().join("absent"), MiniLmOptions::default())
        .unwrap_err()
        .to_string();
    assert!(missing.contains("kimera model fetch"), "{missing}");
}

/// The int8 encoder of the tests (loading and quantising costs ~0.5 s).
fn shared_int8() -> Option<&'static MiniLmEncoder> {
    static ENC: OnceLock<Option<MiniLmEncoder>> = OnceLock::new();
    ENC.get_or_init(|| {
        let dir = model_or_skip("int8 tests")?;
        let opts = MiniLmOptions {
            precision: Precision::Int8,
            ..Default::default()
        };
        Some(MiniLmEncoder::load(&dir, opts).expect("model loads in int8"))
    })
    .as_ref()
}

/// `--precision int8` keeps every vector of the parity fixture within cosine 0.99 of
/// the f32 one (the bound for making it a default, issue #22), and of
/// sentence-transformers' too; it is not the f32 model under another name.
#[test]
fn int8_vectors_stay_close_to_f32_on_the_parity_fixture() {
    let (Some(f32_enc), Some(int8)) = (shared(), shared_int8()) else {
        return;
    };
    let fx = fixture();
    let refs: Vec<&str> = fx.texts.iter().map(String::as_str).collect();
    let full = f32_enc.encode(&refs).unwrap();
    let got = int8.encode(&refs).unwrap();
    let (mut worst, mut worst_st, mut sum) = ((1.0f32, ""), (1.0f32, ""), 0.0f32);
    for (i, t) in refs.iter().enumerate() {
        assert_eq!(got[i].len(), 384);
        let n: f32 = got[i].iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-4, "norm {n} for {t:?}");
        let c = cosine(&got[i], &full[i]);
        sum += c;
        if c < worst.0 {
            worst = (c, t);
        }
        let c = cosine(&got[i], &fx.vectors[i]);
        if c < worst_st.0 {
            worst_st = (c, t);
        }
    }
    eprintln!(
        "int8 vs f32: worst cosine {:.5} on {:?}, mean {:.5}; vs sentence-transformers: worst {:.5} on {:?}",
        worst.0,
        worst.1,
        sum / refs.len() as f32,
        worst_st.0,
        worst_st.1
    );
    assert!(worst.0 >= 0.99, "cosine {} on {:?}", worst.0, worst.1);
    assert!(
        worst_st.0 >= 0.99,
        "cosine {} on {:?}",
        worst_st.0,
        worst_st.1
    );
    // Really reduced: no vector is bit-identical to the f32 one.
    assert!(got.iter().zip(&full).all(|(a, b)| a != b));
}

#[test]
fn int8_is_deterministic_across_batch_size_thread_count_and_company() {
    let (Some(dir), Some(base_enc)) = (model_or_skip("int8 determinism"), shared_int8()) else {
        return;
    };
    let fx = fixture();
    let refs: Vec<&str> = fx.texts.iter().map(String::as_str).collect();
    let base = base_enc.encode(&refs).unwrap();
    for (batch_size, threads) in [(1, 1), (5, 2), (1000, 3)] {
        let enc = MiniLmEncoder::load(
            &dir,
            MiniLmOptions {
                batch_size,
                threads,
                precision: Precision::Int8,
            },
        )
        .unwrap();
        let got = enc.encode(&refs).unwrap();
        for i in 0..refs.len() {
            assert!(
                got[i] == base[i],
                "int8, batch {batch_size}, threads {threads}: bits differ for {:?}",
                refs[i]
            );
        }
        let rev: Vec<&str> = refs.iter().rev().copied().collect();
        let got_rev = enc.encode(&rev).unwrap();
        assert!(got_rev.iter().rev().zip(&base).all(|(a, b)| a == b));
    }
}

/// Vectors of another precision never meet in the cache: the model id differs, and a
/// store holding f32 vectors misses every text for the int8 encoder.
#[test]
fn int8_has_its_own_model_id_and_cache_entries() {
    let (Some(f32_enc), Some(int8)) = (shared(), shared_int8()) else {
        return;
    };
    assert_eq!(int8.model_id(), "all-MiniLM-L6-v2@53aa51172d14/int8");
    assert_ne!(int8.model_id(), f32_enc.model_id());
    let mut s = Store::open_in_memory().unwrap();
    let texts = ["A man is playing a guitar.", "The market fell."];
    let (_, st) = embed_texts_cached(&mut s, f32_enc, &texts).unwrap();
    assert_eq!((st.hits, st.misses), (0, 2));
    let (v, st) = embed_texts_cached(&mut s, int8, &texts).unwrap();
    assert_eq!((st.hits, st.misses), (0, 2));
    assert!(v[0] == int8.encode(&[texts[0]]).unwrap()[0]);
    let (_, st) = embed_texts_cached(&mut s, int8, &texts).unwrap();
    assert_eq!((st.hits, st.misses), (2, 0));
}
