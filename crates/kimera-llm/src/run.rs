//! Judging a list of pairs: sequential ("sync") or with bounded concurrency ("async"),
//! through the response cache, with one result row per pair and a summary.
//!
//! Both modes return the same [`JudgeResult`] rows in input order and the same
//! [`Summary`]; only `mode` and `concurrency` tell them apart. That is what makes their
//! wall times comparable in a benchmark.

use std::time::{Duration, Instant};

use kimera_core::{GoldLabel, text_hash};
use kimera_store::Store;
use serde::Serialize;

use crate::client::Judge;
use crate::parallel::parallel_map_with_progress;
use crate::verdict::Verdict;

/// A pair to judge. `gold` is used for the summary metrics only; the judge never sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgePair {
    pub pair_id: Option<String>,
    pub a: String,
    pub b: String,
    pub gold: Option<GoldLabel>,
}

/// How many calls go out at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One call at a time, in input order.
    Sync,
    /// At most `n` calls in flight.
    Async(usize),
}

impl Mode {
    /// The CLI's `--async N`: 0 (or absent) is sync.
    pub fn from_async(n: Option<usize>) -> Mode {
        match n {
            None | Some(0) => Mode::Sync,
            Some(n) => Mode::Async(n),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Async(_) => "async",
        }
    }

    pub fn concurrency(self) -> usize {
        match self {
            Mode::Sync => 1,
            Mode::Async(n) => n.max(1),
        }
    }
}

/// The result row of one pair; the same shape in both modes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgeResult {
    /// Position of the pair in the input.
    pub index: usize,
    pub pair_id: Option<String>,
    pub gold: Option<GoldLabel>,
    pub verdict: Option<Verdict>,
    /// Milliseconds from the first attempt to the answer (0 for a cache hit).
    pub latency_ms: u64,
    /// HTTP attempts made (0 for a cache hit).
    pub attempts: u32,
    pub cached: bool,
    pub error: Option<String>,
}

/// Confusion counts and scores of the verdicts against gold labels ("contradiction" is
/// the positive class; entailment and neutral are negatives).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Metrics {
    /// Pairs with both a gold label and a verdict.
    pub n: u64,
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Metrics {
    /// Metrics over the results that have both a gold label and a verdict; `None` if none do.
    pub fn from_results(results: &[JudgeResult]) -> Option<Metrics> {
        let mut m = Metrics::default();
        for r in results {
            let (Some(g), Some(v)) = (r.gold, &r.verdict) else {
                continue;
            };
            m.n += 1;
            match (v.contradiction, g.is_contradiction()) {
                (true, true) => m.tp += 1,
                (true, false) => m.fp += 1,
                (false, false) => m.tn += 1,
                (false, true) => m.fn_ += 1,
            }
        }
        if m.n == 0 {
            return None;
        }
        let ratio = |x: u64, y: u64| if y == 0 { 0.0 } else { x as f64 / y as f64 };
        m.accuracy = ratio(m.tp + m.tn, m.n);
        m.precision = ratio(m.tp, m.tp + m.fp);
        m.recall = ratio(m.tp, m.tp + m.fn_);
        m.f1 = ratio(2 * m.tp, 2 * m.tp + m.fp + m.fn_);
        Some(m)
    }
}

/// What a run did, for the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub mode: &'static str,
    pub concurrency: usize,
    pub model: String,
    pub pairs: usize,
    pub ok: usize,
    pub failed: usize,
    /// Pairs answered from the cache (no call made).
    pub cached: usize,
    /// HTTP attempts over all pairs.
    pub total_attempts: u64,
    /// Attempts beyond the first, over all pairs.
    pub retries: u64,
    pub wall_ms: u64,
    pub pairs_per_sec: f64,
    pub metrics: Option<Metrics>,
    /// Set when writing to the cache failed; the run's results are complete regardless.
    pub cache_error: Option<String>,
}

/// Cache writes are flushed in batches of this many verdicts, so an interrupted run keeps
/// most of what it paid for while a write costs one transaction per batch.
const CACHE_FLUSH: usize = 32;

/// Judges every pair and returns one result per pair, in input order, and a summary.
///
/// With `cache`, pairs already answered by the same model and prompt version are taken
/// from the store, and new verdicts are written back as they arrive (in batches). The
/// store is used from inside the async run; its writes are short transactions, which is
/// why doing them on the runtime thread is acceptable. `on_result` is called once per
/// pair as it finishes (completion order), e.g. for a progress bar.
pub async fn judge_pairs(
    judge: &Judge,
    pairs: &[JudgePair],
    mode: Mode,
    cache: Option<&mut Store>,
    mut on_result: impl FnMut(&JudgeResult),
) -> (Vec<JudgeResult>, Summary) {
    let start = Instant::now();
    let mut cache = CacheWriter::new(cache, judge);
    let hits = cache.lookup(pairs);
    let mut results: Vec<Option<JudgeResult>> = vec![None; pairs.len()];
    let mut todo = Vec::new();
    for (i, (p, hit)) in pairs.iter().zip(hits).enumerate() {
        match hit {
            Some(v) => {
                let r = JudgeResult {
                    index: i,
                    pair_id: p.pair_id.clone(),
                    gold: p.gold,
                    verdict: Some(v),
                    latency_ms: 0,
                    attempts: 0,
                    cached: true,
                    error: None,
                };
                on_result(&r);
                results[i] = Some(r);
            }
            None => todo.push(i),
        }
    }
    let mut finished = |r: &JudgeResult| {
        cache.record(&pairs[r.index], r);
        on_result(r);
    };
    let fresh = match mode {
        Mode::Sync => judge_sequential(judge, pairs, todo, &mut finished).await,
        Mode::Async(n) => judge_concurrent(judge, pairs, todo, n, &mut finished).await,
    };
    for r in fresh {
        let i = r.index;
        results[i] = Some(r);
    }
    cache.flush();
    let results: Vec<JudgeResult> = results
        .into_iter()
        .map(|r| r.expect("every pair is either cached or judged"))
        .collect();
    let summary = summarise(judge, mode, &results, start.elapsed(), cache.error);
    (results, summary)
}

/// Sync mode: one call at a time, in input order.
async fn judge_sequential(
    judge: &Judge,
    pairs: &[JudgePair],
    todo: Vec<usize>,
    finished: &mut impl FnMut(&JudgeResult),
) -> Vec<JudgeResult> {
    let mut out = Vec::with_capacity(todo.len());
    for i in todo {
        let r = judge_one(judge, &pairs[i], i).await;
        finished(&r);
        out.push(r);
    }
    out
}

/// Async mode: at most `n` calls in flight (see [`crate::parallel_map`]); results come
/// back in input order whatever order the calls finish in.
async fn judge_concurrent(
    judge: &Judge,
    pairs: &[JudgePair],
    todo: Vec<usize>,
    n: usize,
    finished: &mut impl FnMut(&JudgeResult),
) -> Vec<JudgeResult> {
    parallel_map_with_progress(
        todo,
        n,
        |_, i| judge_one(judge, &pairs[i], i),
        |p| finished(p.result),
    )
    .await
}

async fn judge_one(judge: &Judge, p: &JudgePair, index: usize) -> JudgeResult {
    let j = judge.judge(&p.a, &p.b).await;
    let (verdict, error) = match j.verdict {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e.to_string())),
    };
    JudgeResult {
        index,
        pair_id: p.pair_id.clone(),
        gold: p.gold,
        verdict,
        latency_ms: j.latency.as_millis() as u64,
        attempts: j.attempts,
        cached: false,
        error,
    }
}

fn summarise(
    judge: &Judge,
    mode: Mode,
    results: &[JudgeResult],
    wall: Duration,
    cache_error: Option<String>,
) -> Summary {
    let ok = results.iter().filter(|r| r.verdict.is_some()).count();
    let cached = results.iter().filter(|r| r.cached).count();
    let total_attempts: u64 = results.iter().map(|r| u64::from(r.attempts)).sum();
    let called = (results.len() - cached) as u64;
    let secs = wall.as_secs_f64();
    Summary {
        mode: mode.name(),
        concurrency: mode.concurrency(),
        model: judge.model().to_string(),
        pairs: results.len(),
        ok,
        failed: results.len() - ok,
        cached,
        total_attempts,
        retries: total_attempts.saturating_sub(called),
        wall_ms: wall.as_millis() as u64,
        pairs_per_sec: if secs > 0.0 {
            results.len() as f64 / secs
        } else {
            0.0
        },
        metrics: Metrics::from_results(results),
        cache_error,
    }
}

/// Text hashes of (A, B): the pair part of the cache key.
type CacheKey = ([u8; 32], [u8; 32]);

/// The response cache as seen by a run: batched reads up front, batched writes as
/// verdicts arrive. A failing cache is reported once and then bypassed, never fatal:
/// losing the cache costs calls, losing results would cost the run.
struct CacheWriter<'s> {
    store: Option<&'s mut Store>,
    model: String,
    prompt_version: &'static str,
    pending: Vec<(CacheKey, String)>,
    error: Option<String>,
}

impl<'s> CacheWriter<'s> {
    fn new(store: Option<&'s mut Store>, judge: &Judge) -> Self {
        CacheWriter {
            store,
            model: judge.model().to_string(),
            prompt_version: judge.prompt_version(),
            pending: Vec::new(),
            error: None,
        }
    }

    fn lookup(&mut self, pairs: &[JudgePair]) -> Vec<Option<Verdict>> {
        let Some(store) = self.store.as_deref() else {
            return vec![None; pairs.len()];
        };
        let keys: Vec<_> = pairs
            .iter()
            .map(|p| (text_hash(&p.a), text_hash(&p.b)))
            .collect();
        match store.llm_cache_get(&self.model, self.prompt_version, &keys) {
            Ok(hits) => hits
                .into_iter()
                // An entry that no longer decodes (older format) is a miss, not an error.
                .map(|h| h.and_then(|s| serde_json::from_str(&s).ok()))
                .collect(),
            Err(e) => {
                self.fail(e.to_string());
                vec![None; pairs.len()]
            }
        }
    }

    fn record(&mut self, p: &JudgePair, r: &JudgeResult) {
        if self.store.is_none() {
            return;
        }
        if let Some(v) = &r.verdict {
            let json = serde_json::to_string(v).expect("a verdict serialises");
            self.pending
                .push(((text_hash(&p.a), text_hash(&p.b)), json));
            if self.pending.len() >= CACHE_FLUSH {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        let Some(store) = self.store.as_deref_mut() else {
            return;
        };
        if self.pending.is_empty() {
            return;
        }
        let items: Vec<_> = self.pending.iter().map(|(k, s)| (*k, s.as_str())).collect();
        match store.llm_cache_put(&self.model, self.prompt_version, &items) {
            Ok(_) => self.pending.clear(),
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn fail(&mut self, msg: String) {
        tracing::warn!(error = %msg, "LLM response cache disabled for this run");
        self.error.get_or_insert(msg);
        self.store = None;
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::ParsedFrom;

    fn r(gold: Option<GoldLabel>, said: Option<bool>) -> JudgeResult {
        JudgeResult {
            index: 0,
            pair_id: None,
            gold,
            verdict: said.map(|c| Verdict {
                contradiction: c,
                confidence: 0.5,
                reasoning: String::new(),
                parsed_from: ParsedFrom::Json,
            }),
            latency_ms: 0,
            attempts: 1,
            cached: false,
            error: None,
        }
    }

    #[test]
    fn metrics_count_only_labelled_answered_pairs() {
        use GoldLabel::*;
        let rs = vec![
            r(Some(Contradiction), Some(true)),  // tp
            r(Some(Contradiction), Some(true)),  // tp
            r(Some(Contradiction), Some(false)), // fn
            r(Some(Neutral), Some(true)),        // fp
            r(Some(Entailment), Some(false)),    // tn
            r(Some(Neutral), Some(false)),       // tn
            r(None, Some(true)),                 // no gold: skipped
            r(Some(Contradiction), None),        // failed: skipped
        ];
        let m = Metrics::from_results(&rs).unwrap();
        assert_eq!((m.n, m.tp, m.fp, m.tn, m.fn_), (6, 2, 1, 2, 1));
        // sklearn: accuracy_score=4/6, precision_score=2/3, recall_score=2/3, f1_score=2/3
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(Metrics::from_results(&[r(None, Some(true))]), None);
    }

    #[test]
    fn mode_from_async_flag() {
        assert_eq!(Mode::from_async(None), Mode::Sync);
        assert_eq!(Mode::from_async(Some(0)), Mode::Sync);
        assert_eq!(Mode::from_async(Some(8)), Mode::Async(8));
        assert_eq!(Mode::Sync.concurrency(), 1);
    }
}
