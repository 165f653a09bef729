//! Binding, loading and shutting down.
//!
//! [`Server::bind`] listens at once — `/healthz` answers while the model and the index
//! load in the background, `/readyz` says 503 until they are — and [`Server::run`]
//! serves until the shutdown future resolves. Shutdown is graceful: stop accepting,
//! end MCP streams, let the requests in flight finish, then let the writer commit
//! everything queued. Only then does `run` return.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::config::ServerConfig;
use crate::engine::{Engine, Models};
use crate::http::{AppState, router};
use crate::{EngineError, Result};

/// A bound server, loading or ready.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
    loaded: oneshot::Receiver<std::result::Result<(), String>>,
}

impl Server {
    /// Validates the configuration, binds its address and starts loading the model (as
    /// `Models::load` does), the store and the index in the background.
    pub async fn bind(cfg: ServerConfig) -> Result<Server> {
        Self::bind_with(cfg, None).await
    }

    /// [`Server::bind`] with models already loaded (tests share one set).
    pub async fn bind_with_models(cfg: ServerConfig, models: Arc<Models>) -> Result<Server> {
        Self::bind_with(cfg, Some(models)).await
    }

    async fn bind_with(cfg: ServerConfig, models: Option<Arc<Models>>) -> Result<Server> {
        cfg.validate().map_err(EngineError::Other)?;
        let listener = TcpListener::bind(cfg.addr)
            .await
            .map_err(|e| EngineError::Other(format!("cannot listen on {}: {e}", cfg.addr)))?;
        let state = AppState::new(cfg.clone());
        let (done, loaded) = oneshot::channel();
        let st = state.clone();
        tokio::task::spawn_blocking(move || {
            let result = (|| -> Result<Arc<Engine>> {
                let models = match models {
                    Some(m) => m,
                    None => Arc::new(Models::load(&cfg.detectors)?),
                };
                Ok(Arc::new(Engine::open(&cfg, models)?))
            })();
            let outcome = match result {
                Ok(engine) => {
                    tracing::info!(vectors = engine.vectors(), "ready");
                    st.set_engine(engine);
                    Ok(())
                }
                Err(e) => {
                    let why = e.to_string();
                    st.set_load_error(why.clone());
                    Err(why)
                }
            };
            let _ = done.send(outcome);
        });
        Ok(Server {
            listener,
            state,
            loaded,
        })
    }

    /// The address it listens on (the port chosen when the configuration said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The router's state (its engine once loaded).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves (or loading fails), then shuts down gracefully
    /// (see the module docs). A failed load is returned as an error once the server
    /// has stopped.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Server {
            listener,
            state,
            loaded,
        } = self;
        let app = router(state.clone());
        let token = state.0.shutdown.clone();
        let (failed_tx, failed_rx) = oneshot::channel::<String>();
        tokio::spawn(async move {
            if let Ok(Err(why)) = loaded.await {
                let _ = failed_tx.send(why);
            }
        });
        let stop = {
            let token = token.clone();
            async move {
                tokio::select! {
                    _ = shutdown => tracing::info!("shutting down: finishing requests in flight"),
                    _ = token.cancelled() => {}
                }
                // ends the MCP streams, which would otherwise hold the shutdown open
                token.cancel();
            }
        };
        let failure = {
            let token = token.clone();
            async move {
                if let Ok(why) = failed_rx.await {
                    tracing::error!("cannot start: {why}");
                    token.cancel();
                    Some(why)
                } else {
                    None
                }
            }
        };
        let failure = tokio::spawn(failure);
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await;
        if let Some(engine) = state.engine().cloned() {
            tokio::task::spawn_blocking(move || engine.shutdown())
                .await
                .map_err(|e| EngineError::Other(format!("shutting the writer down: {e}")))?;
            tracing::info!("writer drained; stopped");
        }
        served.map_err(|e| EngineError::Other(format!("serving: {e}")))?;
        if failure.is_finished()
            && let Ok(Some(why)) = failure.await
        {
            return Err(EngineError::Other(why));
        }
        Ok(())
    }
}
