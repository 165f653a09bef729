//! One module per subcommand, each with an `Args` struct and a `run` function.

pub mod bench;
pub mod bench_prose;
pub mod check;
pub mod concept;
pub mod config;
pub mod conflicts;
pub mod demo;
pub mod embed;
pub mod export;
pub mod ingest;
pub mod judge;
pub mod learn;
pub mod model;
pub mod path;
pub mod related;
pub mod resolve;
pub mod run;
pub mod scars;
pub mod serve;
pub mod similar;
pub mod stats;
pub mod train_detector;

/// The detector used when none is given: `model`, the one calibrated decision per pair
/// (rules that decide alone, then the head, then the cross-encoder; see
/// kimera_detect::decision). Every other detector stays available by name.
pub const DEFAULT_DETECTORS: &str = "model";

/// Parses a comma-separated detector list into the cascade (the reactor's detectors
/// plus the learned `model`).
pub fn detectors(list: &str) -> anyhow::Result<Vec<Box<dyn kimera_reactor::Detector>>> {
    Ok(kimera_detect::detectors_from_list(list)?)
}

/// [`detectors`] for a run on `store`: the `graph` detector consults the concept graph
/// learned in that store (`kimera learn`).
pub fn detectors_on(
    list: &str,
    store: &kimera_store::Store,
) -> anyhow::Result<Vec<Box<dyn kimera_reactor::Detector>>> {
    let mut out = detectors(list)?;
    for d in out.iter_mut().filter(|d| d.name() == "graph") {
        let graph = kimera_learn::Graph::load_bounded(store)?;
        *d = Box::new(kimera_learn::GraphDetector::new(graph));
    }
    Ok(out)
}

/// `--as-of TIME`: a date, date and time (UTC unless an offset is given) or seconds
/// since the epoch.
pub fn parse_as_of(s: &str) -> Result<i64, String> {
    kimera_core::parse_time(s).ok_or_else(|| {
        format!("{s:?} is not a time: give 2024-03-01, 2024-03-01T12:00:00Z or seconds since 1970")
    })
}

/// The statements a read sees: current ones, or those of `--as-of`.
pub fn visibility(as_of: Option<i64>) -> kimera_store::Visibility {
    kimera_store::Visibility::at(as_of)
}

/// One detector by name.
pub fn detector(name: &str) -> anyhow::Result<Box<dyn kimera_reactor::Detector>> {
    Ok(kimera_detect::detector_by_name(name)?)
}

/// A one-line reason from a scar's evidence: the rule and its tokens, or the
/// probability of a model, or the reasoning of a judge.
pub fn why(ev: &serde_json::Value) -> String {
    fn flat(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::Array(a) => a.iter().map(flat).collect::<Vec<_>>().join(" / "),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    let mut parts = Vec::new();
    if let Some(rule) = ev.get("rule").and_then(|r| r.as_str()) {
        parts.push(rule.to_string());
    }
    if let Some(t) = ev.get("tokens") {
        parts.push(flat(t));
    }
    if let Some(p) = ev.get("probability").and_then(|p| p.as_f64()) {
        parts.push(format!("p={p:.2}"));
    }
    if let Some(r) = ev.get("reasoning").and_then(|r| r.as_str()) {
        parts.push(r.to_string());
    }
    if parts.is_empty() {
        ev.to_string()
    } else {
        parts.join(": ")
    }
}
