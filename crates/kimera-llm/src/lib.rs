//! Bounded parallel helpers on tokio, and an LLM contradiction judge that is fast, polite
//! to rate limits and never loses a request.
//!
//! * [`parallel_map`] / [`parallel_gather`]: run IO-bound futures with at most N in
//!   flight, results in input order, one item's error kept in its slot.
//! * [`RateLimiter`]: requests/min and tokens/min, shared by every task.
//! * [`Judge`]: an OpenAI-compatible `/v1/chat/completions` client that asks whether two
//!   statements contradict and reads the answer into a [`Verdict`] (JSON, or prose as a
//!   fallback), retrying 429/5xx/connection errors with backoff and a bounded budget.
//! * [`judge_pairs`]: a list of pairs, sequential or concurrent, through the response
//!   cache in the store; one [`JudgeResult`] per pair and a [`Summary`].
//! * `testing` (feature `test-server`): a scripted fake OpenAI-compatible server on
//!   127.0.0.1 for tests and benchmarks.
//!
//! tokio is used for IO only; CPU-bound work in kimera runs on rayon.
//!
//! ```no_run
//! use kimera_llm::{Judge, JudgeConfig, JudgePair, Mode, judge_pairs};
//! # async fn demo() -> Result<(), kimera_llm::JudgeError> {
//! let judge = Judge::new(JudgeConfig::from_env())?;
//! let pairs = vec![JudgePair {
//!     pair_id: None,
//!     a: "The cat is asleep.".into(),
//!     b: "The cat is not asleep.".into(),
//!     gold: None,
//! }];
//! let (results, summary) = judge_pairs(&judge, &pairs, Mode::Async(8), None, |_| {}).await;
//! assert_eq!(results.len(), summary.pairs);
//! # Ok(()) }
//! ```

mod client;
mod parallel;
mod rate;
mod run;
mod verdict;

#[cfg(feature = "test-server")]
pub mod testing;

pub use client::{
    ApiKey, ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, Judge, JudgeConfig, JudgeError, Judged,
    ResponseFormat, parse_retry_after,
};
pub use parallel::{
    Progress, parallel_gather, parallel_gather_bounded, parallel_map, parallel_map_with_progress,
};
pub use rate::RateLimiter;
pub use run::{JudgePair, JudgeResult, Metrics, Mode, Summary, judge_pairs};
pub use verdict::{PROMPT_VERSION, ParsedFrom, Verdict, parse_verdict, user_prompt};
