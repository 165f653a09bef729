//! `kimera serve`: the HTTP API and MCP (at `/mcp`) on the store, until SIGTERM or
//! Ctrl-C; `kimera mcp`: the MCP tools over stdio. Both only turn options into a
//! `kimera_server::ServerConfig` and hand over to `kimera-server`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use kimera_server::{Engine, Models, Scope, Server, ServerConfig, Tokens};

use crate::Global;

/// Environment variable holding one read-write token.
pub const ENV_API_TOKEN: &str = "KIMERA_API_TOKEN";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. A non-loopback address needs a token (--token-file or
    /// KIMERA_API_TOKEN).
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub addr: SocketAddr,
    /// Token file: one `read-only TOKEN` or `read-write TOKEN` per line.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Threads for model work and reactor runs (default: all cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Detector cascade of checks and runs.
    #[arg(long, default_value = crate::cmd::DEFAULT_DETECTORS)]
    pub detectors: String,
    /// Nearest stored statements examined per check unless a request says otherwise.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Longest a /v1 request may take, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout_secs: f64,
    /// Write requests waiting for the writer, at most (503 beyond).
    #[arg(long, default_value_t = 64)]
    pub write_queue: usize,
    /// Statements per commit, at most (group commit).
    #[arg(long, default_value_t = 512)]
    pub max_group: usize,
    /// Requests doing model or store work at once, at most (503 beyond).
    #[arg(long, default_value_t = 64)]
    pub max_inflight: usize,
    /// Browser origin allowed to call the API (CORS; repeat for several). Default: none.
    #[arg(long)]
    pub cors_origin: Vec<String>,
    /// Host name /mcp accepts besides loopback ones and the listening address.
    #[arg(long)]
    pub allowed_host: Vec<String>,
    /// The strategy of `POST /v1/conflicts/resolve-auto` and MCP `resolve` with `auto`.
    #[command(flatten)]
    pub strategy: crate::cmd::resolve::StrategyArgs,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Detector cascade of the checks.
    #[arg(long, default_value = crate::cmd::DEFAULT_DETECTORS)]
    pub detectors: String,
    /// Nearest stored statements examined per check.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Threads for model work (default: all cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// The strategy of the `resolve` tool with `auto`.
    #[command(flatten)]
    pub strategy: crate::cmd::resolve::StrategyArgs,
}

fn tokens(file: Option<&PathBuf>) -> anyhow::Result<Tokens> {
    let mut t = Tokens::default();
    if let Some(f) = file {
        t.read_file(f).map_err(anyhow::Error::msg)?;
    }
    if let Ok(v) = std::env::var(ENV_API_TOKEN)
        && !v.is_empty()
    {
        t.add(&v, Scope::ReadWrite)
            .map_err(|e| anyhow::anyhow!("{ENV_API_TOKEN}: {e}"))?;
    }
    Ok(t)
}

fn runtime(workers: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    // Model work runs on blocking threads; the async side only moves bytes.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.clamp(1, 4))
        .thread_name("kimera-http")
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// SIGTERM or Ctrl-C.
async fn terminated() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

pub fn run(a: &ServeArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let mut cfg = ServerConfig::new(&g.db);
    cfg.addr = a.addr;
    cfg.tokens = tokens(a.token_file.as_ref())?;
    cfg.workers = a.workers.unwrap_or(0);
    cfg.detectors = a.detectors.clone();
    cfg.k = a.k;
    cfg.max_k = cfg.max_k.max(a.k);
    cfg.body_limit = a.body_limit;
    anyhow::ensure!(
        a.timeout_secs.is_finite() && a.timeout_secs > 0.0,
        "--timeout-secs must be more than 0"
    );
    cfg.request_timeout = Duration::from_secs_f64(a.timeout_secs);
    cfg.write_queue = a.write_queue;
    cfg.max_group = a.max_group;
    cfg.max_inflight = a.max_inflight;
    cfg.cors_origins = a.cors_origin.clone();
    cfg.allowed_hosts = a.allowed_host.clone();
    cfg.resolve = a.strategy.config()?;
    cfg.validate().map_err(anyhow::Error::msg)?;
    init_rayon(cfg.threads());
    let rt = runtime(cfg.threads())?;
    rt.block_on(async {
        let server = Server::bind(cfg).await?;
        // One line on stdout, for scripts and tests that started us on port 0.
        println!("listening on http://{}", server.local_addr());
        tracing::info!(addr = %server.local_addr(), db = %g.db.display(), "listening; loading the model and the index");
        server.run(terminated()).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_mcp(a: &McpArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let mut cfg = ServerConfig::new(&g.db);
    cfg.workers = a.workers.unwrap_or(0);
    cfg.detectors = a.detectors.clone();
    cfg.k = a.k;
    cfg.max_k = cfg.max_k.max(a.k);
    cfg.resolve = a.strategy.config()?;
    init_rayon(cfg.threads());
    let models = Arc::new(Models::load(&cfg.detectors)?);
    let engine = Arc::new(Engine::open(&cfg, models)?);
    let rt = runtime(cfg.threads())?;
    rt.block_on(kimera_server::mcp::serve_stdio(engine))?;
    Ok(ExitCode::SUCCESS)
}

/// The global rayon pool (vector scans, the encoder, reactor runs) with `threads`
/// threads.
fn init_rayon(threads: usize) {
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
}
