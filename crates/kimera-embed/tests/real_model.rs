//! Tests with the real all-MiniLM-L6-v2 weights.
//!
//! They need the model folder (`kimera model fetch` or scripts/fetch-model.sh). Without
//! it they print a notice and pass, except under CI (`CI=true`), where they fail.

use std::path::PathBuf;
use std::sync::OnceLock;

use kimera_core::{Geoid, Source, cosine};
use kimera_embed::provision::check_model_dir;
use kimera_embed::{
    Encoder, MiniLmEncoder, MiniLmOptions, embed_store, embed_texts_cached, model_dir, nearest,
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
