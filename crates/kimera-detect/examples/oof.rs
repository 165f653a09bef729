//! Out-of-fold predictions for protocol experiments: trains a route on k−1 folds of a
//! training file and writes the class probabilities of the held-out fold after every
//! epoch (and, with --reverse, of each held-out pair with its sides swapped).
//!
//! cargo run --release -p kimera-detect --example oof -- --train sick_train.tsv \
//!     --route cross --folds 5 --only 0,1 --epochs 4 --rank 8 --layers 6 --out /tmp/oof/r8
//!
//! Writes `OUT/<route>-fold<f>.jsonl`: `{"i": index in the file, "e": epoch, "p": [c, e, n],
//! "r": [c, e, n] (reversed, if asked)}`. Augmented pairs are made from the training
//! folds only.

use std::io::Write;
use std::path::PathBuf;

use kimera_detect::cross::{self, Base, CrossParams};
use kimera_detect::head::{self, HeadParams};
use kimera_detect::protocol::stratified_folds;
use kimera_detect::train::{embed_pairs_cached, feature_rows};
use kimera_detect::{Example, TrainProgress, load_examples};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut train = None;
    let mut out = PathBuf::from("oof");
    let mut route = "cross".to_string();
    let (mut folds, mut only) = (5usize, None::<Vec<usize>>);
    let (mut epochs, mut rank, mut layers, mut lr) = (4usize, 8usize, 6usize, 1e-3f64);
    let (mut subs, mut denials, mut seed, mut fold_seed) = (1000usize, 100usize, 42u64, 42u64);
    let (mut reverse, mut hidden, mut batch) = (false, 256usize, 16usize);
    let mut negations = 0usize;
    let mut cache_db = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut v = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--train" => train = Some(PathBuf::from(v()?)),
            "--out" => out = PathBuf::from(v()?),
            "--route" => route = v()?,
            "--folds" => folds = v()?.parse()?,
            "--only" => only = Some(v()?.split(',').map(str::parse).collect::<Result<_, _>>()?),
            "--epochs" => epochs = v()?.parse()?,
            "--rank" => rank = v()?.parse()?,
            "--layers" => layers = v()?.parse()?,
            "--lr" => lr = v()?.parse()?,
            "--subs" => subs = v()?.parse()?,
            "--denials" => denials = v()?.parse()?,
            "--negations" => negations = v()?.parse()?,
            "--seed" => seed = v()?.parse()?,
            "--fold-seed" => fold_seed = v()?.parse()?,
            "--hidden" => hidden = v()?.parse()?,
            "--batch" => batch = v()?.parse()?,
            "--cache-db" => cache_db = Some(PathBuf::from(v()?)),
            "--reverse" => reverse = true,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let train = train.ok_or("--train FILE is required")?;
    let set = load_examples(&train)?;
    let labels: Vec<usize> = set.iter().map(|e| e.label).collect();
    let fold_of = stratified_folds(&labels, folds, fold_seed);
    std::fs::create_dir_all(&out)?;
    let model_dir = kimera_embed::model_dir();
    if route == "lexical" {
        // the lexical signals of every pair (no training): `{"i", "f": [...], "fold"}`
        let enc = kimera_embed::MiniLmEncoder::load(&model_dir, Default::default())?;
        let mut cache = match &cache_db {
            Some(p) => Some(kimera_store::Store::open(p)?),
            None => None,
        };
        let vecs = embed_pairs_cached(&enc, &set, cache.as_mut(), &mut |_| {})?;
        let mut w = std::io::BufWriter::new(std::fs::File::create(out.join("lexical.jsonl"))?);
        for (i, (e, (u, v))) in set.iter().zip(&vecs).enumerate() {
            let cos = kimera_core::dot(u, v);
            let f = kimera_detect::features::lexical(&e.a, &e.b, cos);
            writeln!(
                w,
                "{{\"i\":{i},\"fold\":{},\"cos\":{cos},\"f\":{f:?}}}",
                fold_of[i]
            )?;
        }
        w.flush()?;
        return Ok(());
    }
    for f in only.unwrap_or_else(|| (0..folds).collect()) {
        let t0 = std::time::Instant::now();
        let held: Vec<usize> = (0..set.len()).filter(|&i| fold_of[i] == f).collect();
        let mut tr: Vec<Example> = (0..set.len())
            .filter(|&i| fold_of[i] != f)
            .map(|i| set[i].clone())
            .collect();
        let extra_d = kimera_detect::data::denial_pairs(&tr, denials, seed);
        let extra_s = kimera_detect::data::substitution_pairs(&tr, subs, seed);
        let extra_n = kimera_detect::data::negation_pairs(&tr, negations, seed);
        eprintln!(
            "fold {f}: {} training pairs (+{} denial, +{} substitution, +{} negation), {} held out",
            tr.len(),
            extra_d.len(),
            extra_s.len(),
            extra_n.len(),
            held.len()
        );
        tr.extend(extra_d);
        tr.extend(extra_s);
        tr.extend(extra_n);
        let mut dev: Vec<Example> = held.iter().map(|&i| set[i].clone()).collect();
        if reverse {
            let rev: Vec<Example> = dev
                .iter()
                .map(|e| Example {
                    a: e.b.clone(),
                    b: e.a.clone(),
                    ..e.clone()
                })
                .collect();
            dev.extend(rev);
        }
        let n = held.len();
        let path = out.join(format!("{route}-fold{f}.jsonl"));
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut rows: Vec<String> = Vec::new();
        let mut progress = |p: TrainProgress| match p {
            TrainProgress::DevProbs { epoch, probs } => {
                for (j, &i) in held.iter().enumerate() {
                    let r = if reverse {
                        format!(",\"r\":{:?}", probs[n + j])
                    } else {
                        String::new()
                    };
                    rows.push(format!(
                        "{{\"i\":{i},\"e\":{epoch},\"p\":{:?}{r}}}",
                        probs[j]
                    ));
                }
            }
            TrainProgress::Epoch(r) => eprintln!(
                "fold {f} epoch {} loss {:.4} held-out F1 {:.3} ({:.0}s)",
                r.epoch, r.train_loss, r.dev.f1, r.seconds
            ),
            _ => {}
        };
        match route.as_str() {
            "cross" => {
                let base = Base::load(&model_dir)?;
                let p = CrossParams {
                    epochs,
                    batch_size: batch,
                    lr,
                    lora: kimera_detect::bert::LoraConfig {
                        rank,
                        alpha: 2.0 * rank as f64,
                        layers,
                    },
                    seed,
                    keep_last: true,
                    ..CrossParams::default()
                };
                cross::train(base, &tr, &dev, &p, &mut progress)?;
            }
            "head" => {
                let enc = kimera_embed::MiniLmEncoder::load(&model_dir, Default::default())?;
                let mut cache = match &cache_db {
                    Some(p) => Some(kimera_store::Store::open(p)?),
                    None => None,
                };
                let tv = embed_pairs_cached(&enc, &tr, cache.as_mut(), &mut |_| {})?;
                let dv = embed_pairs_cached(&enc, &dev, cache.as_mut(), &mut |_| {})?;
                let tx = feature_rows(&tr, &tv);
                let dx = feature_rows(&dev, &dv);
                let ty: Vec<usize> = tr.iter().map(|e| e.label).collect();
                let gold: Vec<bool> = dev.iter().map(Example::is_contradiction).collect();
                let p = HeadParams {
                    hidden,
                    epochs,
                    lr,
                    seed,
                    keep_last: true,
                    ..HeadParams::default()
                };
                head::train(&tx, &ty, &dx, &gold, &p, &mut progress)?;
            }
            other => return Err(format!("unknown route {other}").into()),
        }
        for r in rows {
            writeln!(w, "{r}")?;
        }
        w.flush()?;
        eprintln!(
            "fold {f}: wrote {} in {:.0}s",
            path.display(),
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
