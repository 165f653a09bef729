//! Measures the detectors on labelled pairs files: contradiction P/R/F1 and pairs/s with
//! vectors precomputed (as in the reactor, whose vectors come from the store's cache).
//!
//! cargo run --release -p kimera-detect --example evaluate -- DETECTOR_DIR FILE [FILE...]
//! Per-language rows are printed for files with more than one language.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use kimera_detect::train::embed_pairs;
use kimera_detect::{ModelDetector, Route, load_examples, pair_inputs, prf};
use kimera_reactor::{BaselineDetector, Detector, LexicalDetector};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: evaluate DETECTOR_DIR FILE...")?);
    let model_dir = kimera_embed::model_dir();
    let enc = kimera_embed::MiniLmEncoder::load(&model_dir, Default::default())?;
    let full = ModelDetector::load(&dir, &model_dir)?;
    let mut dets: Vec<(String, Box<dyn Detector>)> = vec![
        ("baseline".into(), Box::new(BaselineDetector::default())),
        ("lexical".into(), Box::new(LexicalDetector::default())),
        (
            "model:head".into(),
            Box::new(ModelDetector::load(&dir, &model_dir)?.only(Route::Head)),
        ),
    ];
    if full.cross_meta().is_some() {
        dets.push((
            "model:cross".into(),
            Box::new(ModelDetector::load(&dir, &model_dir)?.only(Route::Cross)),
        ));
        if full.decision().is_some() {
            dets.push(("model:decision".into(), Box::new(full)));
        }
    }
    for file in args {
        let set = load_examples(std::path::Path::new(&file))?;
        let t0 = Instant::now();
        // KIMERA_EVAL_CACHE names a store file used as the embedding cache between runs.
        let vecs = match std::env::var_os("KIMERA_EVAL_CACHE") {
            Some(path) => {
                let mut store = kimera_store::Store::open(PathBuf::from(path))?;
                let texts: Vec<&str> = set
                    .iter()
                    .flat_map(|e| [e.a.as_str(), e.b.as_str()])
                    .collect();
                let (v, _) = kimera_embed::embed_texts_cached(&mut store, &enc, &texts)?;
                let mut it = v.into_iter();
                let mut out = Vec::with_capacity(set.len());
                while let (Some(a), Some(b)) = (it.next(), it.next()) {
                    out.push((a, b));
                }
                out
            }
            None => embed_pairs(&enc, &set, &mut |_| {})?,
        };
        eprintln!(
            "{file}: {} pairs embedded in {:.1}s",
            set.len(),
            t0.elapsed().as_secs_f64()
        );
        let pairs = pair_inputs(&set, &vecs);
        let gold: Vec<bool> = set.iter().map(|e| e.is_contradiction()).collect();
        for (name, d) in &dets {
            // The cross-encoder alone runs at tens of pairs/s on 2 busy cores; on big
            // files only the cascade is measured.
            if name == "model:cross" && set.len() > 1000 {
                continue;
            }
            let t = Instant::now();
            let mut verdicts = Vec::with_capacity(pairs.len());
            for chunk in pairs.chunks(256) {
                verdicts.extend(d.score_batch(chunk));
            }
            let secs = t.elapsed().as_secs_f64();
            let pred: Vec<f32> = verdicts
                .iter()
                .map(|v| if v.contradiction { 1.0 } else { 0.0 })
                .collect();
            let m = prf(&pred, &gold, 0.5);
            println!(
                "{file}\t{name}\tall\tn={}\tP={:.3}\tR={:.3}\tF1={:.3}\tpairs/s={:.0}",
                set.len(),
                m.precision,
                m.recall,
                m.f1,
                pairs.len() as f64 / secs
            );
            let mut langs: BTreeMap<&str, (Vec<f32>, Vec<bool>)> = BTreeMap::new();
            for ((e, p), g) in set.iter().zip(&pred).zip(&gold) {
                let l = langs.entry(e.lang.as_str()).or_default();
                l.0.push(*p);
                l.1.push(*g);
            }
            if langs.len() > 1 {
                for (lang, (p, g)) in &langs {
                    let m = prf(p, g, 0.5);
                    println!(
                        "{file}\t{name}\t{lang}\tn={}\tP={:.3}\tR={:.3}\tF1={:.3}",
                        p.len(),
                        m.precision,
                        m.recall,
                        m.f1
                    );
                }
            }
        }
    }
    Ok(())
}
