//! Serving a router with graceful shutdown.
//!
//! On shutdown (SIGTERM/SIGINT in binaries, a cancelled token in tests) readiness turns `503`
//! first, the listener closes after `SHUTDOWN_DELAY_SECONDS`, and in-flight requests drain for
//! up to `SHUTDOWN_GRACE_SECONDS`; connections still open after that are dropped.

use std::net::SocketAddr;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::actuator::Lifecycle;
use crate::config::ServerConfig;

/// Serves `router` on `listener` until `shutdown` is cancelled and in-flight requests drained.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    lifecycle: Lifecycle,
    cfg: &ServerConfig,
) -> std::io::Result<()> {
    let delay = cfg.shutdown_delay;
    let grace = cfg.shutdown_grace;
    let signal = {
        let token = shutdown.clone();
        let lifecycle = lifecycle.clone();
        async move {
            token.cancelled().await;
            lifecycle.begin_shutdown();
            tracing::info!(
                delay_s = delay.as_secs(),
                grace_s = grace.as_secs(),
                "shutdown started: readiness is now 503"
            );
            tokio::time::sleep(delay).await;
        }
    };
    // Small JSON answers must not wait for Nagle.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(delay + grace).await;
    };
    tokio::select! {
        r = server.into_future() => {
            tracing::info!("server drained");
            r
        }
        () = deadline => {
            tracing::warn!(grace_s = grace.as_secs(), "drain deadline passed; remaining connections dropped");
            Ok(())
        }
    }
}

/// Binds the configured address.
pub async fn bind(cfg: &ServerConfig) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(cfg.bind, cfg.port)).await
}

/// Resolves on SIGTERM or SIGINT (binaries only).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot install SIGTERM handler");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}

/// Cancels `token` when a shutdown signal arrives (binaries only).
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        shutdown_signal().await;
        token.cancel();
    });
}
