//! 1 vs. 2 workers on the same generated batch, interleaved so that a load change on
//! a shared machine hits both alike; prints the best and the median of N runs of each
//! and the stage split of the best:
//! `cargo run --release -p kimera-learn --example learn_speed -- 100000 5 [CHUNK] [--bounded]`
//! (`--bounded`: a graph that keeps no provenance in memory, as `kimera learn`'s).
//!
//! Two controls, run in the same rounds, tell what this machine gives to parallel work
//! at that moment (on a shared VM it is often well below 2):
//! - *ceiling*: two 1-worker learners at once on two threads, each on its own graph
//!   (nothing shared, each doing all the work of the 1-worker run): 2 × the 1-worker
//!   time ÷ the time the pair takes is the speed-up two cores give to this very work
//!   with no coordination at all;
//! - *extraction alone* on pools of 1 and 2 threads (no graph, little memory traffic).

// The same allocator as the `kimera` binary, so that these figures are its figures.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use kimera_learn::{Graph, LearnOptions, Learner, extract, synth};
use rayon::prelude::*;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn best(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::MAX, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bounded = std::env::args().any(|a| a == "--bounded");
    let new_graph = || {
        if bounded {
            Graph::bounded()
        } else {
            Graph::new()
        }
    };
    let mut args = std::env::args().skip(1).filter(|a| a != "--bounded");
    let n: usize = args.next().map_or(Ok(100_000), |s| s.parse())?;
    let runs: usize = args.next().map_or(Ok(5), |s| s.parse())?;
    let chunk: usize = args
        .next()
        .map_or(Ok(LearnOptions::default().chunk), |s| s.parse())?;
    let batch = synth::statements(n, 5_000, 1);
    let opts = |workers| LearnOptions {
        workers,
        chunk,
        ..Default::default()
    };
    // the 2-worker learner counts this thread as a worker, as `kimera learn`'s does
    let learners = [Learner::new(opts(1))?, Learner::on_current_thread(opts(2))?];
    // the ceiling's pair: two 1-worker learners (each one thread, the calling one)
    let pair = [Learner::new(opts(1))?, Learner::new(opts(1))?];
    let pools = [1, 2].map(|w| rayon::ThreadPoolBuilder::new().num_threads(w).build());
    let mut control = [f64::MAX; 2];
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut pair_times = Vec::new();
    let mut split = [(0.0, 0.0, 0.0); 2];
    let mut graphs: [Option<Graph>; 2] = [None, None];
    for _ in 0..runs {
        for (k, l) in learners.iter().enumerate() {
            let mut g = new_graph();
            let t = Instant::now();
            let r = l.learn_batch(&mut g, &batch, |_| {});
            let s = t.elapsed().as_secs_f64();
            if s < best(&times[k]) {
                split[k] = (
                    r.times.extract.as_secs_f64(),
                    r.times.graph.as_secs_f64(),
                    r.times.serial.as_secs_f64(),
                );
            }
            times[k].push(s);
            graphs[k] = Some(g);
        }
        // both start together; the pair takes as long as the slower of the two
        let start = std::sync::Barrier::new(2);
        let spans: Vec<f64> = std::thread::scope(|sc| {
            let hs: Vec<_> = pair
                .iter()
                .map(|l| {
                    let (start, batch) = (&start, &batch);
                    sc.spawn(move || {
                        let mut g = new_graph();
                        start.wait();
                        let t = Instant::now();
                        l.learn_batch(&mut g, batch, |_| {});
                        t.elapsed().as_secs_f64()
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("a ceiling learner panicked"))
                .collect()
        });
        pair_times.push(spans.iter().copied().fold(0.0, f64::max));
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
        let all: Vec<String> = times[k].iter().map(|t| format!("{t:.3}")).collect();
        println!("{w} worker(s), run by run: {}", all.join(" "));
    }
    let bests = [best(&times[0]), best(&times[1])];
    let medians = [median(&mut times[0]), median(&mut times[1])];
    for (k, w) in [1, 2].iter().enumerate() {
        println!(
            "{w} worker(s): best of {runs} {:.3} s = {:.0} statements/s, median {:.3} s \
             (best: extract {:.3} s cpu, graph {:.3} s, of which serial {:.3} s)",
            bests[k],
            n as f64 / bests[k],
            medians[k],
            split[k].0,
            split[k].1,
            split[k].2
        );
    }
    println!(
        "speed-up 2 vs 1 workers: {:.2}x best to best, {:.2}x median to median",
        bests[0] / bests[1],
        medians[0] / medians[1],
    );
    let pair_best = best(&pair_times);
    let pair_median = median(&mut pair_times);
    println!(
        "ceiling, two 1-worker learners at once (nothing shared): the pair takes {:.3} s \
         best, {:.3} s median -> {:.2}x best, {:.2}x median",
        pair_best,
        pair_median,
        2.0 * bests[0] / pair_best,
        2.0 * medians[0] / pair_median,
    );
    println!(
        "control, extraction alone (nothing shared): 1 worker {:.3} s, 2 workers {:.3} s, {:.2}x",
        control[0],
        control[1],
        control[0] / control[1]
    );
    Ok(())
}
