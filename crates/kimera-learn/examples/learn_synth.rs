//! Writes generated statements into a store, or one per line into a `.txt` file, for
//! benchmarking `kimera learn`:
//! `cargo run --release -p kimera-learn --example learn_synth -- bench.db 100000`.

use kimera_core::{Geoid, Source};
use kimera_store::Store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: learn_synth DB [N] [VOCAB] [SEED]")?;
    let n: usize = args.next().map_or(Ok(100_000), |s| s.parse())?;
    let vocab: usize = args.next().map_or(Ok(5_000), |s| s.parse())?;
    let seed: u64 = args.next().map_or(Ok(1), |s| s.parse())?;
    if path.ends_with(".txt") {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        for s in kimera_learn::synth::statements(n, vocab, seed) {
            writeln!(out, "{}", s.text)?;
        }
        out.flush()?;
        eprintln!("{path}: {n} statements");
        return Ok(());
    }
    let mut store = Store::open(&path)?;
    let mut added = 0;
    for chunk in kimera_learn::synth::statements(n, vocab, seed).chunks(20_000) {
        let geoids: Vec<Geoid> = chunk
            .iter()
            .map(|s| {
                let mut g = Geoid::new(s.text.clone(), "en", Source::Api);
                g.id = s.id.clone();
                g
            })
            .collect();
        added += store.insert_geoids(&geoids)?.inserted;
    }
    eprintln!("{path}: {added} new statements ({n} generated; duplicates by text are stored once)");
    Ok(())
}
