//! 1 vs. 2 workers on the same generated batch, interleaved so that a load change on
//! a shared machine hits both alike; prints the best of N runs of each and its stage
//! split: `cargo run --release -p kimera-learn --example learn_speed -- 100000 5 [CHUNK]`.
//!
//! As a control it also times extraction alone (no graph, nothing shared) on pools of
//! 1 and 2 threads: the speed-up this machine gives to perfectly parallel work at that
//! moment, which is the ceiling for the learning speed-up (on a shared VM it is often
//! well below 2).

// The same allocator as the `kimera` binary, so that these figures are its figures.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use kimera_learn::{Graph, LearnOptions, Learner, extract, synth};
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(100_000), |s| s.parse())?;
    let runs: usize = args.next().map_or(Ok(5), |s| s.parse())?;
    let chunk: usize = args
        .next()
        .map_or(Ok(LearnOptions::default().chunk), |s| s.parse())?;
    let batch = synth::statements(n, 5_000, 1);
    let learners = [1, 2].map(|w| {
        Learner::new(LearnOptions {
            workers: w,
            chunk,
            ..Default::default()
        })
    });
    let pools = [1, 2].map(|w| rayon::ThreadPoolBuilder::new().num_threads(w).build());
    let mut control = [f64::MAX; 2];
    let mut best = [f64::MAX; 2];
    let mut split = [(0.0, 0.0, 0.0); 2];
    let mut graphs: [Option<Graph>; 2] = [None, None];
    for _ in 0..runs {
        for (k, l) in learners.iter().enumerate() {
            let l = l.as_ref().map_err(|e| e.to_string())?;
            let mut g = Graph::new();
            let t = Instant::now();
            let r = l.learn_batch(&mut g, &batch, |_| {});
            let s = t.elapsed().as_secs_f64();
            if s < best[k] {
                best[k] = s;
                split[k] = (
                    r.times.extract.as_secs_f64(),
                    r.times.graph.as_secs_f64(),
                    r.times.serial.as_secs_f64(),
                );
            }
            graphs[k] = Some(g);
        }
        for (k, p) in pools.iter().enumerate() {
            let p = p.as_ref().map_err(|e| e.to_string())?;
            let t = Instant::now();
            let ex: Vec<_> = p.install(|| {
                batch
                    .par_iter()
                    .map(|s| extract(&s.text, &s.lang))
                    .collect()
            });
            control[k] = control[k].min(t.elapsed().as_secs_f64());
            drop(ex);
        }
    }
    assert!(
        graphs[0] == graphs[1],
        "1 and 2 workers built different graphs"
    );
    let c = graphs[0].as_ref().map(Graph::counts).unwrap_or_default();
    println!(
        "{n} statements -> {} concepts, {} associations, {} provenance rows",
        c.concepts, c.associations, c.provenance
    );
    for (k, w) in [1, 2].iter().enumerate() {
        println!(
            "{w} worker(s): best of {runs} {:.3} s = {:.0} statements/s \
             (extract {:.3} s cpu, graph {:.3} s, of which serial {:.3} s)",
            best[k],
            n as f64 / best[k],
            split[k].0,
            split[k].1,
            split[k].2
        );
    }
    // the merging thread's time in the 2-worker run against the 1-worker time (it
    // overlaps the extraction of the next chunk)
    let f = split[1].2 / best[0];
    println!(
        "speed-up 2 vs 1 workers: {:.2}x (the one-thread part of merging: {:.1}% of the \
         1-worker time, run beside extraction)",
        best[0] / best[1],
        100.0 * f,
    );
    println!(
        "control, extraction alone (nothing shared): 1 worker {:.3} s, 2 workers {:.3} s, {:.2}x",
        control[0],
        control[1],
        control[0] / control[1]
    );
    Ok(())
}
