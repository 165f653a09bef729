//! `kimera embed`: give every stored geoid a vector (cached in the store).

use std::process::ExitCode;

use clap::Args;
use kimera_embed::{MiniLmEncoder, MiniLmOptions, Precision, embed_store, model_dir};
use kimera_store::Store;

use crate::Global;
use crate::output::{print_json, progress};

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Most texts per forward pass (texts of equal token length are batched together).
    /// Does not change the vectors.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Geoids read, embedded and written per store transaction.
    #[arg(long, default_value_t = 4096)]
    pub chunk: usize,
    /// Numeric precision of the model (part of the cache key): f32, or int8 (the linear
    /// layers in int8 with AVX-512 VNNI; cosine ≥ 0.99 to the f32 vectors).
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
    /// Worker threads (default: all cores). Does not change the vectors.
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
}

pub fn run(args: &EmbedArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let enc = MiniLmEncoder::load(
        &model_dir(),
        MiniLmOptions {
            batch_size: args.batch,
            threads: args.workers,
            precision: args.precision,
        },
    )?;
    let mut store = Store::open(&g.db)?;
    let run_id = store.start_run("embed", &std::env::args().skip(1).collect::<Vec<_>>())?;
    let pb = progress(g, 0, "embedding");
    let result = embed_store(&mut store, &enc, args.chunk, &|done, total| {
        if pb.length() != Some(total) {
            pb.set_length(total);
        }
        pb.set_position(done);
    });
    pb.finish_and_clear();
    let stats = match result {
        Ok(s) => {
            store.finish_run(run_id, true, &serde_json::to_value(&s)?)?;
            s
        }
        Err(e) => {
            let _ = store.finish_run(
                run_id,
                false,
                &serde_json::json!({ "error": e.to_string() }),
            );
            return Err(e.into());
        }
    };
    if g.json {
        print_json(&stats)?;
    } else {
        println!(
            "embedded {} texts ({} geoids already had a vector, {} lacked one) with {} in {:.2} s: {:.1} sentences/s ({} threads)",
            stats.encoded,
            stats.hits,
            stats.misses,
            stats.model_id,
            stats.seconds,
            stats.texts_per_sec,
            enc.threads(),
        );
    }
    Ok(ExitCode::SUCCESS)
}
