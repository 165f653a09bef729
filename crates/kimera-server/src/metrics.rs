//! `GET /metrics`: requests and latency per route, statements, scars, vectors, the
//! write queue — in the OpenMetrics text format Prometheus scrapes.
//!
//! Routes are labelled by their template (`/v1/statements/{id}`), never by the path a
//! client sent, so the number of series stays fixed.

use std::sync::atomic::{AtomicI64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Every metric the server exports.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    statements: Gauge<i64, AtomicI64>,
    scars: Gauge<i64, AtomicI64>,
    vectors: Gauge<i64, AtomicI64>,
    queue_depth: Gauge<i64, AtomicI64>,
    queue_taken: Gauge<i64, AtomicI64>,
    commits: Gauge<i64, AtomicI64>,
    ready: Gauge<i64, AtomicI64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("kimera");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template, method and status",
            requests.clone(),
        );
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response, by route template",
            latency.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::<i64, AtomicI64>::default();
            registry.register(name, help, g.clone());
            g
        };
        let statements = gauge(&mut registry, "statements", "Statements in the store");
        let scars = gauge(
            &mut registry,
            "scars",
            "Scars (contradictions) in the store",
        );
        let vectors = gauge(
            &mut registry,
            "index_vectors",
            "Statements in the live vector index (those a check can find)",
        );
        let queue_depth = gauge(
            &mut registry,
            "write_queue_depth",
            "Write requests admitted and not yet answered (embedding, queued or being written)",
        );
        let queue_taken = gauge(
            &mut registry,
            "write_queue_taken",
            "Places of the bounded write queue taken (full at its size: 503 beyond)",
        );
        let commits = gauge(
            &mut registry,
            "write_commits",
            "Group commits by the writer since start",
        );
        let ready = gauge(
            &mut registry,
            "ready",
            "1 once the model and the index are loaded",
        );
        Metrics {
            registry,
            requests,
            latency,
            statements,
            scars,
            vectors,
            queue_depth,
            queue_taken,
            commits,
            ready,
        }
    }
}

impl Metrics {
    /// Counts one request.
    pub(crate) fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// The text exposition, with the gauges read now.
    pub(crate) fn render(&self, engine: Option<&crate::Engine>) -> String {
        if let Some(e) = engine {
            let (statements, scars) = e.counts();
            self.statements.set(statements as i64);
            self.scars.set(scars as i64);
            self.vectors.set(e.vectors() as i64);
            self.queue_depth.set(e.queue_depth() as i64);
            self.queue_taken.set(e.queue_taken() as i64);
            self.commits
                .set(e.writer_stats.commits.load(Ordering::Relaxed) as i64);
            self.ready.set(1);
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!("cannot encode the metrics: {e}");
        }
        out
    }
}
