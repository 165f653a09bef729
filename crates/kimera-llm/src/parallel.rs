//! Bounded concurrency for IO-bound futures: results in input order, never more than
//! `max_concurrent` in flight, one item's failure kept in its slot.
//!
//! All futures are polled inside the caller's task (a `buffer_unordered` stream), not
//! spawned. That is deliberate: it needs no `'static` or `Send` bounds, a progress callback
//! can borrow `&mut` state (a store, a progress bar), and dropping the returned future
//! cancels everything at once — in-flight work is dropped and no new item is started.
//! These helpers are for IO (HTTP calls, file reads); CPU-bound work belongs on rayon.

use std::future::Future;

use futures::StreamExt;

/// What the progress callback of [`parallel_map_with_progress`] sees after each item.
#[derive(Debug)]
pub struct Progress<'a, R> {
    /// Position of the finished item in the input.
    pub index: usize,
    /// Items finished so far, this one included.
    pub done: usize,
    pub total: usize,
    /// The finished item's result (already final: it goes into slot `index`).
    pub result: &'a R,
}

/// Runs `f(index, item)` for every item with at most `max_concurrent` futures in flight
/// and returns the outputs in input order.
///
/// `max_concurrent` 0 is taken as 1 (sequential). Failures are values: make `R` a
/// `Result` and an error stays in its slot while the other items go on.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let out = kimera_llm::parallel_map(vec![3, 1, 2], 2, |_, x| async move { x * 10 }).await;
/// assert_eq!(out, vec![30, 10, 20]);
/// # });
/// ```
pub async fn parallel_map<T, R, F, Fut>(items: Vec<T>, max_concurrent: usize, f: F) -> Vec<R>
where
    F: FnMut(usize, T) -> Fut,
    Fut: Future<Output = R>,
{
    parallel_map_with_progress(items, max_concurrent, f, |_| {}).await
}

/// [`parallel_map`] with a callback run after each item finishes (in completion order),
/// e.g. to advance a progress bar or persist results as they arrive.
pub async fn parallel_map_with_progress<T, R, F, Fut, P>(
    items: Vec<T>,
    max_concurrent: usize,
    mut f: F,
    mut progress: P,
) -> Vec<R>
where
    F: FnMut(usize, T) -> Fut,
    Fut: Future<Output = R>,
    P: FnMut(Progress<'_, R>),
{
    let total = items.len();
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(total).collect();
    let futs = items.into_iter().enumerate().map(|(i, item)| {
        let fut = f(i, item);
        async move { (i, fut.await) }
    });
    let mut stream = futures::stream::iter(futs).buffer_unordered(max_concurrent.max(1));
    let mut done = 0;
    while let Some((i, r)) = stream.next().await {
        done += 1;
        progress(Progress {
            index: i,
            done,
            total,
            result: &r,
        });
        slots[i] = Some(r);
    }
    slots
        .into_iter()
        .map(|r| r.expect("buffer_unordered yields every item exactly once"))
        .collect()
}

/// Awaits all `futures` concurrently and returns their outputs in input order (like
/// Python's `asyncio.gather`). For a bound on concurrency use [`parallel_gather_bounded`].
pub async fn parallel_gather<Fut, I>(futures: I) -> Vec<Fut::Output>
where
    I: IntoIterator<Item = Fut>,
    Fut: Future,
{
    let futs: Vec<Fut> = futures.into_iter().collect();
    let n = futs.len();
    parallel_gather_bounded(futs, n).await
}

/// Awaits `futures` with at most `max_concurrent` in flight; outputs in input order.
pub async fn parallel_gather_bounded<Fut, I>(futures: I, max_concurrent: usize) -> Vec<Fut::Output>
where
    I: IntoIterator<Item = Fut>,
    Fut: Future,
{
    let futs: Vec<Fut> = futures.into_iter().collect();
    parallel_map(futs, max_concurrent, |_, fut| fut).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Tracks how many futures run at once.
    #[derive(Default)]
    struct Gauge {
        now: AtomicUsize,
        max: AtomicUsize,
        started: AtomicUsize,
    }

    impl Gauge {
        async fn work(&self, ms: u64) {
            self.started.fetch_add(1, Ordering::SeqCst);
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.max.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    // Virtual time: sleeps complete instantly in order, so these tests wait for nothing.
    #[tokio::test(start_paused = true)]
    async fn results_in_input_order_and_bound_respected() {
        let gauge = Arc::new(Gauge::default());
        let items: Vec<u64> = (0..40).map(|i| (i * 7919) % 13).collect();
        let g = gauge.clone();
        let out = parallel_map(items.clone(), 4, move |i, ms| {
            let g = g.clone();
            async move {
                g.work(ms).await;
                (i, ms * 2)
            }
        })
        .await;
        let want: Vec<(usize, u64)> = items.iter().enumerate().map(|(i, m)| (i, m * 2)).collect();
        assert_eq!(out, want);
        assert_eq!(gauge.max.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn errors_stay_in_their_slot_and_others_complete() {
        let out: Vec<Result<u32, String>> =
            parallel_map((0..10u32).collect(), 3, |_, x| async move {
                tokio::time::sleep(Duration::from_millis(u64::from(10 - x))).await;
                if x % 4 == 1 {
                    Err(format!("item {x} failed"))
                } else {
                    Ok(x)
                }
            })
            .await;
        for (i, r) in out.iter().enumerate() {
            if i % 4 == 1 {
                assert_eq!(r, &Err(format!("item {i} failed")));
            } else {
                assert_eq!(r, &Ok(i as u32));
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn zero_bound_means_sequential() {
        let gauge = Arc::new(Gauge::default());
        let g = gauge.clone();
        let out = parallel_map(vec![5u64; 6], 0, move |i, ms| {
            let g = g.clone();
            async move {
                g.work(ms).await;
                i
            }
        })
        .await;
        assert_eq!(out, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(gauge.max.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn progress_sees_every_item_once() {
        let mut seen = Vec::new();
        let out = parallel_map_with_progress(
            (0..20u64).collect(),
            5,
            |_, x| async move {
                tokio::time::sleep(Duration::from_millis(20 - x)).await;
                x + 100
            },
            |p| {
                assert_eq!(*p.result, p.index as u64 + 100);
                assert_eq!(p.total, 20);
                seen.push((p.done, p.index));
            },
        )
        .await;
        assert_eq!(out, (100..120).collect::<Vec<_>>());
        assert_eq!(
            seen.iter().map(|s| s.0).collect::<Vec<_>>(),
            (1..=20).collect::<Vec<_>>()
        );
        let mut idx: Vec<usize> = seen.iter().map(|s| s.1).collect();
        idx.sort_unstable();
        assert_eq!(idx, (0..20).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_future_starts_no_new_work() {
        let gauge = Arc::new(Gauge::default());
        let g = gauge.clone();
        let run = parallel_map((0..100).collect::<Vec<u32>>(), 4, move |_, _| {
            let g = g.clone();
            async move { g.work(1000).await }
        });
        // Let the first wave start, then cancel by dropping.
        let r = tokio::time::timeout(Duration::from_millis(1500), run).await;
        assert!(r.is_err(), "the run cannot finish in 1.5 s of virtual time");
        let started = gauge.started.load(Ordering::SeqCst);
        assert_eq!(started, 8, "two waves of 4 started before cancellation");
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(gauge.started.load(Ordering::SeqCst), started);
        assert_eq!(
            gauge.now.load(Ordering::SeqCst),
            4,
            "in-flight futures were dropped mid-way"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn gather_keeps_order_and_runs_all_at_once() {
        let gauge = Arc::new(Gauge::default());
        let futs: Vec<_> = (0..10u64)
            .map(|i| {
                let g = gauge.clone();
                async move {
                    g.work(100 - i).await;
                    i
                }
            })
            .collect();
        assert_eq!(parallel_gather(futs).await, (0..10).collect::<Vec<_>>());
        assert_eq!(gauge.max.load(Ordering::SeqCst), 10);
        let empty: Vec<std::future::Ready<u8>> = Vec::new();
        assert!(parallel_gather(empty).await.is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Parallel equals sequential for any delays and any bound.
        #[test]
        fn parallel_equals_sequential(delays in proptest::collection::vec(0u64..50, 0..60), bound in 0usize..12) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
            let f = |i: usize, d: u64| async move {
                tokio::time::sleep(Duration::from_millis(d)).await;
                if d % 7 == 3 { Err(i) } else { Ok(d * 3 + i as u64) }
            };
            let par = rt.block_on(parallel_map(delays.clone(), bound, f));
            let seq = rt.block_on(parallel_map(delays, 1, f));
            proptest::prop_assert_eq!(par, seq);
        }
    }
}
