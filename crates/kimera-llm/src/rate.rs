//! A rate limiter for requests per minute and tokens per minute, shared by all tasks.
//!
//! Each limit is a token bucket holding at most one minute's allowance and refilled
//! continuously, so a burst of up to the per-minute limit goes out at once and the
//! steady rate never exceeds it. Waiting happens on tokio's clock, which tests can pause.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Limits requests/min and tokens/min; `None` leaves that dimension unlimited.
#[derive(Debug)]
pub struct RateLimiter {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    capacity: f64,
    per_sec: f64,
}

#[derive(Debug)]
struct State {
    requests: f64,
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// A limiter allowing `requests_per_min` requests and `tokens_per_min` tokens per
    /// minute (0 or `None` = unlimited). Both buckets start full.
    pub fn new(requests_per_min: Option<u32>, tokens_per_min: Option<u32>) -> RateLimiter {
        let bucket = |n: Option<u32>| {
            n.filter(|&n| n > 0).map(|n| Bucket {
                capacity: f64::from(n),
                per_sec: f64::from(n) / 60.0,
            })
        };
        let (requests, tokens) = (bucket(requests_per_min), bucket(tokens_per_min));
        RateLimiter {
            state: Mutex::new(State {
                requests: requests.map_or(0.0, |b| b.capacity),
                tokens: tokens.map_or(0.0, |b| b.capacity),
                at: Instant::now(),
            }),
            requests,
            tokens,
        }
    }

    /// True when neither dimension is limited.
    pub fn is_unlimited(&self) -> bool {
        self.requests.is_none() && self.tokens.is_none()
    }

    /// Waits until one request costing `tokens` may go out, and takes its allowance.
    ///
    /// A request costing more than a whole minute's tokens is charged the whole minute
    /// (it could otherwise never be sent). Callers are served in arrival order: the lock
    /// is held while waiting, which is what keeps a stream of small requests from
    /// starving a large one.
    pub async fn acquire(&self, tokens: u32) {
        if self.is_unlimited() {
            return;
        }
        let mut st = self.state.lock().await;
        loop {
            let now = Instant::now();
            let dt = now.saturating_duration_since(st.at).as_secs_f64();
            st.at = now;
            let mut wait: f64 = 0.0;
            if let Some(b) = self.requests {
                st.requests = (st.requests + dt * b.per_sec).min(b.capacity);
                if st.requests < 1.0 {
                    wait = wait.max((1.0 - st.requests) / b.per_sec);
                }
            }
            let cost = self
                .tokens
                .map_or(0.0, |b| f64::from(tokens).min(b.capacity));
            if let Some(b) = self.tokens {
                st.tokens = (st.tokens + dt * b.per_sec).min(b.capacity);
                if st.tokens < cost {
                    wait = wait.max((cost - st.tokens) / b.per_sec);
                }
            }
            if wait <= 0.0 {
                if self.requests.is_some() {
                    st.requests -= 1.0;
                }
                if self.tokens.is_some() {
                    st.tokens -= cost;
                }
                return;
            }
            // Round up to whole milliseconds so the next pass has the allowance for sure.
            tokio::time::sleep(Duration::from_millis((wait * 1000.0).ceil() as u64)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_burst_then_steady_rate() {
        let rl = RateLimiter::new(Some(60), None);
        let t0 = Instant::now();
        for _ in 0..60 {
            rl.acquire(1).await;
        }
        assert_eq!(
            Instant::now(),
            t0,
            "a full bucket lets a minute's burst through"
        );
        rl.acquire(1).await;
        let waited = Instant::now() - t0;
        assert!(
            waited >= Duration::from_secs(1) && waited < Duration::from_millis(1100),
            "{waited:?}"
        );
        for _ in 0..10 {
            rl.acquire(1).await;
        }
        let waited = Instant::now() - t0;
        assert!(
            waited >= Duration::from_secs(11) && waited < Duration::from_millis(11_100),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_limit_and_oversized_requests() {
        let rl = RateLimiter::new(None, Some(600));
        let t0 = Instant::now();
        rl.acquire(500).await;
        rl.acquire(100).await;
        assert_eq!(Instant::now(), t0);
        rl.acquire(300).await; // 300 tokens at 10/s: 30 s
        let w = Instant::now() - t0;
        assert!(
            w >= Duration::from_secs(30) && w < Duration::from_millis(30_100),
            "{w:?}"
        );
        // Bigger than a minute's allowance: charged one full minute, not stuck forever.
        rl.acquire(10_000).await;
        let w = Instant::now() - t0;
        assert!(
            w >= Duration::from_secs(90) && w < Duration::from_millis(90_100),
            "{w:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn shared_between_tasks_never_exceeds_rate() {
        let rl = Arc::new(RateLimiter::new(Some(120), None));
        let t0 = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..8 {
            let rl = rl.clone();
            handles.push(tokio::spawn(async move {
                let mut at = Vec::new();
                for _ in 0..40 {
                    rl.acquire(1).await;
                    at.push(Instant::now() - t0);
                }
                at
            }));
        }
        let mut all: Vec<Duration> = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        all.sort();
        assert_eq!(all.len(), 320);
        // In any window [t, t + 60 s) at most capacity + rate * 60 = 240 requests start.
        for (i, &t) in all.iter().enumerate() {
            let n = all[i..]
                .iter()
                .take_while(|&&u| u < t + Duration::from_secs(60))
                .count();
            assert!(n <= 240, "{n} requests in the minute from {t:?}");
        }
        // 320 requests: 120 at once, then 200 at 2/s = 100 s.
        let last = *all.last().unwrap();
        assert!(
            last >= Duration::from_secs(100) && last < Duration::from_secs(101),
            "{last:?}"
        );
    }

    #[tokio::test]
    async fn unlimited_never_waits() {
        let rl = RateLimiter::new(None, Some(0));
        assert!(rl.is_unlimited());
        for _ in 0..1000 {
            rl.acquire(1_000_000).await;
        }
    }
}
