//! The server's settings. `kimera serve` fills them from its flags, the environment and
//! `kimera.toml` (in that order of precedence); tests build them directly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::Tokens;

/// Everything [`crate::Server`] and [`crate::Engine`] need to know.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (port 0: any free port).
    pub addr: SocketAddr,
    /// The store (created if missing).
    pub db: PathBuf,
    /// Detectors of checks and runs (`model`: the one decision per pair).
    pub detectors: String,
    /// Nearest stored statements examined per check unless a request says otherwise.
    pub k: usize,
    /// Largest `k` a request may ask for.
    pub max_k: usize,
    /// Largest request body, bytes (413 beyond).
    pub body_limit: usize,
    /// Longest time a `/v1` request may take (503 `timeout` beyond; a write that timed
    /// out may still commit: sending it again is safe, statements are stored once).
    pub request_timeout: Duration,
    /// Write requests waiting for the writer, at most (503 `queue_full` beyond).
    pub write_queue: usize,
    /// Statements per commit, at most (the writer's group-commit batch).
    pub max_group: usize,
    /// Statements per `POST /v1/statements`, texts per `POST /v1/check`.
    pub max_statements: usize,
    pub max_texts: usize,
    /// Checks (and other model work) running or waiting, at most (503 `busy` beyond).
    pub max_inflight: usize,
    /// Threads for model work and reactor runs (0: all cores).
    pub workers: usize,
    /// Bearer tokens; empty = no authentication (allowed on loopback addresses only).
    pub tokens: Tokens,
    /// Origins allowed to call the API from a browser (CORS); empty = CORS off.
    pub cors_origins: Vec<String>,
    /// Host names `/mcp` accepts in `Host` besides loopback ones (DNS-rebinding guard).
    pub allowed_hosts: Vec<String>,
    /// The store's resolution strategy: what `POST /v1/conflicts/resolve-auto` and the
    /// MCP `resolve` tool's `auto` use unless the request names another (default
    /// `manual`, which settles nothing).
    pub resolve: kimera_core::settle::StrategyConfig,
}

impl ServerConfig {
    /// The defaults, on the store at `db`: `127.0.0.1:7878`, `model`, k 10, 1 MiB
    /// bodies, 30 s timeout, 64 queued writes, 512 statements per commit.
    pub fn new(db: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 7878)),
            db: db.into(),
            detectors: "model".into(),
            k: 10,
            max_k: 100,
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            write_queue: 64,
            max_group: 512,
            max_statements: 1000,
            max_texts: 100,
            max_inflight: 64,
            workers: 0,
            tokens: Tokens::default(),
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            resolve: kimera_core::settle::StrategyConfig::new(
                kimera_core::settle::Strategy::Manual,
            ),
        }
    }

    /// Refuses settings that cannot work or are unsafe: zero limits, or a non-loopback
    /// address without a token (anyone on the network could write).
    pub fn validate(&self) -> Result<(), String> {
        if !self.addr.ip().is_loopback() && self.tokens.is_empty() {
            return Err(format!(
                "refusing to listen on {} without an API token: anyone who can reach it could \
                 read and write the store. Set KIMERA_API_TOKEN or --token-file, or listen on \
                 127.0.0.1",
                self.addr
            ));
        }
        for (name, v) in [
            ("k", self.k),
            ("max_k", self.max_k),
            ("body_limit", self.body_limit),
            ("write_queue", self.write_queue),
            ("max_group", self.max_group),
            ("max_statements", self.max_statements),
            ("max_texts", self.max_texts),
            ("max_inflight", self.max_inflight),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.k > self.max_k {
            return Err(format!("k ({}) is over max_k ({})", self.k, self.max_k));
        }
        if self.request_timeout.is_zero() {
            return Err("request_timeout must be more than 0 seconds".into());
        }
        Ok(())
    }

    /// Threads for model work: `workers`, or every core.
    pub fn threads(&self) -> usize {
        if self.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.workers
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_without_a_token_is_refused_with_the_way_out() {
        let mut c = ServerConfig::new("k.db");
        assert!(c.validate().is_ok());
        c.addr = "0.0.0.0:7878".parse().unwrap();
        let err = c.validate().unwrap_err();
        assert!(
            err.contains("0.0.0.0:7878") && err.contains("KIMERA_API_TOKEN"),
            "{err}"
        );
        c.tokens
            .add("0123456789abcdef0123", crate::Scope::ReadWrite)
            .unwrap();
        assert!(c.validate().is_ok());
        c.addr = "[::1]:7878".parse().unwrap();
        c.k = 0;
        assert!(c.validate().unwrap_err().contains("k must be"));
    }
}
