//! Connections: the accept loop that binds the router to a socket, with hyper's HTTP/1 connection builder.
//!
//! What bounds a connection (each from `[server]` in the config file, see the README's "Limits and protections"):
//! - a request head must arrive within `header_read_timeout_secs`, counted from the connection's start or from the
//!   end of the previous response, so a client that never finishes its headers, or an idle keep-alive connection,
//!   is closed (hyper's `header_read_timeout`);
//! - a request head is at most `max_header_bytes` (hyper's read buffer; past it hyper answers 431);
//! - at most `max_connections` are open, kept below the process's open-file limit (raised to its hard limit at
//!   start): one more is answered a JSON 503 and closed, so `/healthz` and the identity provider's connections
//!   already open keep working while the cap holds;
//! - the request timeout and the endpoint budgets are middleware ([`super::app`], [`super::limits`]).

use crate::config::ServerLimits;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// File descriptors kept for everything but client connections (store, indexes, snapshots, logs, downloads).
const RESERVED_FDS: u64 = 256;

/// Raise the soft limit on open files to the hard limit; returns the soft limit in force.
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    if let Some(hard) = l.maximum
        && l.current != Some(hard)
    {
        l.current = Some(hard);
        if let Err(e) = setrlimit(Resource::Nofile, l) {
            tracing::warn!(error = %e, "cannot raise the open files limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// The connection cap: the configured one, kept [`RESERVED_FDS`] below the open-file limit.
pub fn connection_cap(configured: usize, open_files: Option<u64>) -> usize {
    match open_files {
        Some(n) => configured.min(n.saturating_sub(RESERVED_FDS).max(16) as usize),
        None => configured,
    }
    .max(1)
}

/// Serve `router` on `listener` until `shutdown` resolves, then let open requests finish (10 s at most).
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: &ServerLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open_files = raise_open_files_limit();
    let cap = connection_cap(limits.max_connections, open_files);
    if cap < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            cap,
            ?open_files,
            "connection cap lowered to fit the open files limit"
        );
    }
    let slots = Arc::new(Semaphore::new(cap));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Some(Duration::from_secs(limits.header_read_timeout_secs)))
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    let mut last_accept_error = None::<std::time::Instant>;
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of descriptors (or another transient error): wait a little instead of spinning.
                    if last_accept_error.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                        tracing::warn!(error = %e, "cannot accept a connection");
                        last_accept_error = Some(std::time::Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("connections still open after 10 s: closed"),
    }
    Ok(())
}

/// Answer a connection over the cap with a JSON 503 and close it (1 s to write it at most).
async fn refuse(mut stream: TcpStream) {
    const BODY: &str = r#"{"code":"overloaded","message":"too many open connections: try again shortly"}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(BODY.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_open_files_limit() {
        assert_eq!(connection_cap(4096, Some(1024)), 768);
        assert_eq!(connection_cap(4096, Some(1_048_576)), 4096);
        assert_eq!(connection_cap(4096, None), 4096);
        assert_eq!(connection_cap(100, Some(64)), 16);
    }
}
