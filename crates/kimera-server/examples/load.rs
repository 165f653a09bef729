//! A small load generator for `kimera serve`: N clients on loopback, each sending its
//! next request as soon as the previous one is answered, for a duration; then latency
//! percentiles (p50, p90, p99, max), requests/s and statuses.
//!
//! ```text
//! # checks: one statement per request, cycling through the lines of FILE
//! cargo run --release -p kimera-server --example load -- \
//!     --url http://127.0.0.1:7878 --mode check --queries queries.txt -c 8 --secs 30
//! # writes: batches of B new statements (lines of FILE, each sent once), check on write
//! cargo run --release -p kimera-server --example load -- \
//!     --url http://127.0.0.1:7878 --mode write --queries new.txt -c 8 --batch 32
//! ```
//! A write run stops when the file's lines are used up (or at --secs) and reports
//! statements/s as well.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

#[derive(Debug)]
struct Opts {
    url: String,
    mode: String,
    queries: String,
    concurrency: usize,
    secs: f64,
    batch: usize,
    k: Option<usize>,
    warmup: usize,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        url: "http://127.0.0.1:7878".into(),
        mode: "check".into(),
        queries: String::new(),
        concurrency: 1,
        secs: 20.0,
        batch: 32,
        k: None,
        warmup: 5,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let num = |v: String| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: not a count"))
        };
        match flag.as_str() {
            "--url" => o.url = value()?,
            "--mode" => o.mode = value()?,
            "--queries" => o.queries = value()?,
            "-c" | "--concurrency" => o.concurrency = num(value()?)?,
            "--secs" => o.secs = value()?.parse().map_err(|_| "--secs: not a number")?,
            "--batch" => o.batch = num(value()?)?,
            "-k" => o.k = Some(num(value()?)?),
            "--warmup" => o.warmup = num(value()?)?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.queries.is_empty() {
        return Err("--queries FILE is required".into());
    }
    if !matches!(o.mode.as_str(), "check" | "write") {
        return Err("--mode is check or write".into());
    }
    Ok(o)
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let lines: Vec<String> = match std::fs::read_to_string(&o.queries) {
        Ok(t) => t
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        Err(e) => {
            eprintln!("error: {}: {e}", o.queries);
            return ExitCode::from(2);
        }
    };
    if lines.is_empty() {
        eprintln!("error: {} has no lines", o.queries);
        return ExitCode::from(2);
    }
    let lines = Arc::new(lines);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency)
        .build()
        .unwrap();
    let path = if o.mode == "check" {
        "/v1/check"
    } else {
        "/v1/statements"
    };
    let url = format!("{}{path}", o.url.trim_end_matches('/'));
    let next = Arc::new(AtomicUsize::new(0));
    let body = {
        let lines = lines.clone();
        let (mode, batch, k) = (o.mode.clone(), o.batch, o.k);
        move |i: usize| -> Option<(serde_json::Value, usize)> {
            if mode == "check" {
                let mut b = json!({"text": lines[i % lines.len()]});
                if let Some(k) = k {
                    b["k"] = json!(k);
                }
                Some((b, 1))
            } else {
                let start = i * batch;
                if start >= lines.len() {
                    return None;
                }
                let end = (start + batch).min(lines.len());
                let st: Vec<_> = lines[start..end]
                    .iter()
                    .map(|t| json!({"text": t, "lang": "en"}))
                    .collect();
                Some((json!({"statements": st, "check": true}), end - start))
            }
        }
    };
    // warm-up requests (not counted): the first requests pay for lazy set-up
    if o.mode == "check" {
        for i in 0..o.warmup {
            let (b, _) = body(lines.len() - 1 - (i % lines.len())).unwrap();
            let _ = client.post(&url).json(&b).send().await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs_f64(o.secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.concurrency {
        let (client, url, next, body) = (client.clone(), url.clone(), next.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut statuses: std::collections::BTreeMap<u16, usize> = Default::default();
            let mut items = 0usize;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((b, n)) = body(i) else { break };
                let t = Instant::now();
                let status = match client.post(&url).json(&b).send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
                };
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                *statuses.entry(status).or_default() += 1;
                if status == 200 {
                    items += n;
                }
            }
            (lat, statuses, items)
        }));
    }
    let mut lat = Vec::new();
    let mut statuses: std::collections::BTreeMap<u16, usize> = Default::default();
    let mut items = 0;
    for t in tasks {
        let (l, s, n) = t.await.unwrap();
        lat.extend(l);
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
        items += n;
    }
    let wall = start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let out = json!({
        "mode": o.mode,
        "concurrency": o.concurrency,
        "requests": lat.len(),
        "seconds": wall,
        "requests_per_s": lat.len() as f64 / wall,
        "items_per_s": items as f64 / wall,
        "latency_ms": {
            "p50": quantile(&lat, 0.5),
            "p90": quantile(&lat, 0.9),
            "p99": quantile(&lat, 0.99),
            "max": lat.last().copied().unwrap_or(0.0),
        },
        "statuses": statuses,
    });
    println!("{}", serde_json::to_string(&out).unwrap());
    ExitCode::SUCCESS
}
