//! `kimera similar "TEXT"`: the stored statements nearest to a text (exact search).

use std::process::ExitCode;

use clap::Args;
use kimera_embed::{Encoder, MiniLmEncoder, MiniLmOptions, Precision, model_dir, nearest_at};
use kimera_store::Store;

use crate::Global;
use crate::output::{ellipsize, print_json, print_table};

#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// The text to compare with the store.
    pub text: String,
    /// How many neighbours to show.
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    /// Precision of the vectors to search (as given to `kimera embed`).
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
    /// Read the store as it was at TIME (superseded statements included): a date
    /// (2024-03-01), a date and time (UTC unless an offset is given) or epoch seconds.
    #[arg(long, value_name = "TIME", value_parser = crate::cmd::parse_as_of)]
    pub as_of: Option<i64>,
}

pub fn run(args: &SimilarArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let enc = MiniLmEncoder::load(
        &model_dir(),
        MiniLmOptions {
            precision: args.precision,
            ..Default::default()
        },
    )?;
    let store = Store::open(&g.db)?;
    let hits = nearest_at(
        &store,
        &enc,
        &args.text,
        args.k,
        crate::cmd::visibility(args.as_of),
    )?;
    if g.json {
        print_json(&hits)?;
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        eprintln!(
            "no stored vectors for {} in {}: run `kimera embed` first",
            enc.model_id(),
            g.db.display()
        );
        return Ok(ExitCode::from(1));
    }
    let rows: Vec<Vec<String>> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| {
            vec![
                (i + 1).to_string(),
                format!("{:.4}", h.score),
                h.lang.clone(),
                ellipsize(&h.text, 90),
                h.id.clone(),
            ]
        })
        .collect();
    print_table(&["#", "cosine", "lang", "text", "id"], &rows);
    Ok(ExitCode::SUCCESS)
}
