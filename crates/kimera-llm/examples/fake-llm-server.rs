//! Runs the fake OpenAI-compatible server from the command line, for benchmarks:
//!
//! ```text
//! cargo run --release -p kimera-llm --features test-server --example fake-llm-server -- \
//!     --port 8089 --latency-ms 1000 --p429 0.2 --retry-after 1 --p500 0.05
//! ```
//!
//! It prints its base URL on stdout and serves until killed. `GET /stats` on the same
//! port returns what it has seen (requests, max in flight, faults served) as JSON.

use std::process::ExitCode;
use std::time::Duration;

use kimera_llm::testing::{AnswerStyle, FakeLlm, Latency, Script};

const USAGE: &str = "usage: fake-llm-server [--port N] [--latency-ms N] [--jitter-ms N] [--p429 P] \
[--retry-after S] [--p500 P] [--p503 P] [--p-malformed P] [--p-drop P] [--p-hang P] [--seed N] \
[--answer json|fenced|prose|broken|gibberish] [--api-key KEY] [--reject-response-format]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut script = Script::default();
    let mut port = 0u16;
    let (mut latency_ms, mut jitter_ms) = (0u64, 0u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--reject-response-format" {
            script.reject_response_format = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            return Ok(());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: {v:?} is not a number"))
        };
        match flag.as_str() {
            "--port" => port = num(&value)? as u16,
            "--latency-ms" => latency_ms = num(&value)? as u64,
            "--jitter-ms" => jitter_ms = num(&value)? as u64,
            "--p429" => script.p429 = num(&value)?,
            "--retry-after" => script.retry_after = Some(value),
            "--p500" => script.p500 = num(&value)?,
            "--p503" => script.p503 = num(&value)?,
            "--p-malformed" => script.p_malformed = num(&value)?,
            "--p-drop" => script.p_drop = num(&value)?,
            "--p-hang" => script.p_hang = num(&value)?,
            "--seed" => script.seed = num(&value)? as u64,
            "--api-key" => script.api_key = Some(value),
            "--answer" => {
                script.answer = match value.as_str() {
                    "json" => AnswerStyle::Json,
                    "fenced" => AnswerStyle::FencedJson,
                    "prose" => AnswerStyle::Prose,
                    "broken" => AnswerStyle::BrokenJson,
                    "gibberish" => AnswerStyle::Gibberish,
                    other => return Err(format!("unknown answer style {other:?}")),
                }
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    script.latency = match (latency_ms, jitter_ms) {
        (0, 0) => Latency::None,
        (l, 0) => Latency::Fixed(Duration::from_millis(l)),
        (l, j) => Latency::Uniform(Duration::from_millis(l), Duration::from_millis(l + j)),
    };
    let server =
        FakeLlm::start_on(script, port).map_err(|e| format!("cannot start the server: {e}"))?;
    println!("{}", server.base_url());
    loop {
        std::thread::park();
    }
}
