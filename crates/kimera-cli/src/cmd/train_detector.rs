//! `kimera train-detector`: trains the learned contradiction detector (`model`) from
//! labelled pairs, seeded, printing dev metrics per epoch.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use kimera_detect::{Route, TrainOptions, TrainProgress, train_to_dir};

use crate::Global;
use crate::output::print_json;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RouteArg {
    /// Feature head on frozen MiniLM vectors (fast).
    Head,
    /// LoRA cross-encoder on MiniLM (accurate).
    Cross,
    /// Fit the decision (decision.json: rules, the head's band, the combined
    /// threshold) on the out-of-fold predictions of both routes, trained first in --out
    /// with the same --train and --folds; then score --dev once.
    Decision,
}

#[derive(Debug, Args)]
pub struct TrainDetectorArgs {
    /// Training pairs (SICK .tsv or Kimera pairs .csv).
    #[arg(long)]
    pub train: PathBuf,
    /// Dev pairs: scored and reported after training (with --folds they choose nothing;
    /// without, the epoch and threshold are chosen on them).
    #[arg(long)]
    pub dev: PathBuf,
    /// Model folder to write (`<out>/head` or `<out>/cross`).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "cross")]
    pub route: RouteArg,
    /// Epochs (default: head 40, cross 1).
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Peak learning rate (default 1e-3).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Batch size (default: head 64, cross 16).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Train on at most N shuffled pairs per epoch (0 = all).
    #[arg(long, default_value_t = 0)]
    pub max_train: usize,
    /// Hidden units of the head (0 = logistic regression).
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    /// LoRA rank of the cross-encoder.
    #[arg(long, default_value_t = 8)]
    pub lora_rank: usize,
    /// Number of top transformer layers the cross-encoder adapts (the rest stay frozen).
    #[arg(long, default_value_t = 3)]
    pub lora_layers: usize,
    /// Per mille of training sentences that also get an explicit-denial pair ("X is
    /// false.", contradiction) and an affirmation pair ("It is true that x.",
    /// entailment): SICK has no such pairs (0 = none).
    #[arg(long, default_value_t = kimera_detect::train::DEFAULT_DENIALS_PER_MILLE)]
    pub denials: usize,
    /// Per mille of training sentences that get an extra pair from a one-phrase
    /// substitution mined from the training pairs themselves ("hitting" → "missing":
    /// contradiction, "slicing" → "cutting": entailment; 0 = none).
    #[arg(long, default_value_t = 0)]
    pub substitutions: usize,
    /// Per mille of the entailment and neutral training pairs that also give a pair with
    /// side b negated (entailment A ⊨ B gives a contradiction A / not-B, a neutral pair
    /// stays neutral; 0 = none).
    #[arg(long, default_value_t = 0)]
    pub negations: usize,
    /// Cross-validation folds: each fold's model predicts the pairs it did not see
    /// (written to <out>/<route>/oof.jsonl, which --route decision fits on), the route
    /// trains for exactly --epochs, and --dev only reports (0 = no cross-validation).
    #[arg(long, default_value_t = 0)]
    pub folds: usize,
    /// Seed of the fold assignment (stratified by label).
    #[arg(long, default_value_t = 42)]
    pub fold_seed: u64,
    /// Head and decision routes: keep sentence vectors in this kimera store between runs (e.g. the
    /// --db of your project); without it every run encodes train and dev again.
    #[arg(long)]
    pub cache_db: Option<PathBuf>,
    /// More labelled pairs to train on (repeatable; not for --route decision), e.g.
    /// the settled conflicts of `kimera export feedback --out feedback.csv`.
    #[arg(long, value_name = "FILE")]
    pub extra: Vec<PathBuf>,
}

pub fn run(args: &TrainDetectorArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let quiet = g.quiet;
    let route = match args.route {
        RouteArg::Head => Route::Head,
        RouteArg::Cross => Route::Cross,
        RouteArg::Decision => {
            anyhow::ensure!(
                args.extra.is_empty(),
                "--extra trains a route (head or cross); the decision is fitted on their out-of-fold predictions"
            );
            let cfg = kimera_detect::fit_decision_dir(
                &args.train,
                &args.dev,
                &args.out,
                &kimera_embed::model_dir(),
                args.cache_db.as_deref(),
                &mut |_| {},
            )?;
            if g.json {
                print_json(&cfg)?;
            } else {
                let p = &cfg.protocol;
                println!(
                    "decision: cross-validated ({} folds) on {} pairs of {}: P {:.3} R {:.3} F1 {:.3} \
                     (L2 {}, {:.0}% of scored pairs to the cross-encoder); head band [{:.4}, {:.4}), \
                     threshold {:.4}; wrote {}",
                    p.folds,
                    p.pairs,
                    p.train_file,
                    p.cv.precision,
                    p.cv.recall,
                    p.cv.f1,
                    p.l2,
                    100.0 * p.cv_band_share,
                    cfg.floor,
                    cfg.ceiling,
                    cfg.threshold,
                    args.out
                        .join(kimera_detect::decision::DECISION_FILE)
                        .display()
                );
                for (rule, fired, right) in &p.rules {
                    println!(
                        "  rule {rule}: {right} of {fired} training pairs it decides are contradictions"
                    );
                }
                if let Some(d) = &p.dev {
                    println!(
                        "dev ({}), scored once: P {:.3} R {:.3} F1 {:.3}",
                        p.dev_file, d.precision, d.recall, d.f1
                    );
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let mut opts = TrainOptions::new(route, kimera_embed::model_dir());
    opts.epochs = args.epochs;
    opts.seed = args.seed;
    opts.lr = args.lr;
    opts.batch_size = args.batch_size;
    opts.max_train = args.max_train;
    opts.hidden = args.hidden;
    opts.lora_rank = args.lora_rank;
    opts.lora_layers = args.lora_layers;
    opts.denials_per_mille = args.denials;
    opts.substitutions_per_mille = args.substitutions;
    opts.negations_per_mille = args.negations;
    opts.folds = args.folds;
    opts.fold_seed = args.fold_seed;
    opts.cache_db = args.cache_db.clone();
    opts.extra = args.extra.clone();
    let mut progress = |p: TrainProgress| match p {
        TrainProgress::Epoch(r) => {
            if !quiet {
                eprintln!(
                    "epoch {:>3}  loss {:.4}  dev P {:.3} R {:.3} F1 {:.3} @ {:.3}  ({:.1}s)",
                    r.epoch,
                    r.train_loss,
                    r.dev.precision,
                    r.dev.recall,
                    r.dev.f1,
                    r.dev.threshold,
                    r.seconds
                );
            }
        }
        TrainProgress::Step {
            epoch,
            step,
            steps,
            loss,
        } => {
            if !quiet && (step % 20 == 0 || step == steps) && steps > 20 {
                eprint!("\repoch {epoch} step {step}/{steps} loss {loss:.4}   ");
                if step == steps {
                    eprintln!();
                }
                let _ = std::io::stderr().flush();
            }
        }
        TrainProgress::Embedding { done, total } => {
            if !quiet {
                eprint!("\rembedding pairs {done}/{total}   ");
                if done == total {
                    eprintln!();
                }
            }
        }
        TrainProgress::DevProbs { .. } => {}
        TrainProgress::Fold { fold, folds } => {
            if !quiet {
                eprintln!("fold {}/{folds}: training on the other folds", fold + 1);
            }
        }
    };
    let trained = train_to_dir(&args.train, &args.dev, &args.out, &opts, &mut progress)?;
    let m = &trained.meta;
    if g.json {
        print_json(m)?;
    } else {
        println!(
            "{} route: dev ({}) contradiction P {:.3} R {:.3} F1 {:.3} at threshold {:.4}; wrote {}",
            route.dir_name(),
            m.dev_file,
            m.dev.precision,
            m.dev.recall,
            m.dev.f1,
            m.threshold,
            args.out.join(route.dir_name()).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
