//! Delivery loops. Each drain reads the app's live broadcast (a bounded
//! buffer): a drain that is slow, down or backing off only falls behind in its
//! own receiver, and what it misses is counted as dropped. The app and the
//! other drains never wait for it.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;

use super::frame::octet_counted;
use super::Counters;
use crate::logs::Line;

/// Lines sent per syslog write or HTTPS request at most.
const BATCH: usize = 500;
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// HTTPS batches are retried this often before they are dropped.
const HTTP_ATTEMPTS: u32 = 5;

/// Waits for the next line; counts what the receiver lost. `None`: the app's stream closed.
async fn next(rx: &mut Receiver<Arc<Line>>, counters: &Counters) -> Option<Arc<Line>> {
    loop {
        match rx.recv().await {
            Ok(line) => return Some(line),
            Err(RecvError::Lagged(n)) => {
                counters.dropped.fetch_add(n, Ordering::Relaxed);
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// Up to `BATCH` lines: the first waited for, the rest whatever is already queued
/// (and, with `linger`, what arrives within it).
async fn batch(rx: &mut Receiver<Arc<Line>>, counters: &Counters, linger: Duration) -> Option<Vec<Arc<Line>>> {
    let mut lines = vec![next(rx, counters).await?];
    let deadline = tokio::time::Instant::now() + linger;
    while lines.len() < BATCH {
        match rx.try_recv() {
            Ok(line) => lines.push(line),
            Err(TryRecvError::Lagged(n)) => {
                counters.dropped.fetch_add(n, Ordering::Relaxed);
            }
            Err(TryRecvError::Closed) => break,
            Err(TryRecvError::Empty) => {
                if linger.is_zero() {
                    break;
                }
                match tokio::time::timeout_at(deadline, next(rx, counters)).await {
                    Ok(Some(line)) => lines.push(line),
                    _ => break,
                }
            }
        }
    }
    Some(lines)
}

fn backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}

async fn connect(
    host: &str,
    port: u16,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Box<dyn AsyncWrite + Send + Unpin>, String> {
    let tcp = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| format!("connecting to {host}:{port} timed out"))?
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let Some(config) = tls else { return Ok(Box::new(tcp)) };
    let name = ServerName::try_from(host.to_string()).map_err(|e| format!("{host}: {e}"))?;
    let stream =
        tokio::time::timeout(IO_TIMEOUT, tokio_rustls::TlsConnector::from(Arc::clone(config)).connect(name, tcp))
            .await
            .map_err(|_| format!("TLS handshake with {host}:{port} timed out"))?
            .map_err(|e| format!("TLS handshake with {host}:{port} failed: {e}"))?;
    Ok(Box::new(stream))
}

/// Lines a syslog drain holds while it cannot send; beyond this the oldest go (counted).
const BACKLOG: usize = 2_000;

/// Keeps taking lines into `backlog` until `deadline` (while waiting to reconnect),
/// so a drain that is down reports its drops as they happen.
async fn absorb_until(
    deadline: tokio::time::Instant,
    rx: &mut Receiver<Arc<Line>>,
    backlog: &mut VecDeque<Arc<Line>>,
    counters: &Counters,
) -> bool {
    loop {
        match tokio::time::timeout_at(deadline, next(rx, counters)).await {
            Err(_) => return true,
            Ok(None) => return false,
            Ok(Some(line)) => {
                if backlog.len() >= BACKLOG {
                    backlog.pop_front();
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
                backlog.push_back(line);
            }
        }
    }
}

/// syslog over TCP (or TLS): octet-counted frames on one long-lived connection.
pub async fn syslog(
    host: String,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
    token: String,
    mut rx: Receiver<Arc<Line>>,
    counters: Arc<Counters>,
) {
    let mut wait = Duration::from_millis(500);
    let mut backlog: VecDeque<Arc<Line>> = VecDeque::new();
    loop {
        let connected = connect(&host, port, tls.as_ref()).await;
        let mut conn = match connected {
            Ok(c) => c,
            Err(e) => {
                counters.fail(e);
                if !absorb_until(tokio::time::Instant::now() + wait, &mut rx, &mut backlog, &counters).await {
                    return;
                }
                wait = backoff(wait);
                continue;
            }
        };
        loop {
            let lines: Vec<Arc<Line>> = if backlog.is_empty() {
                let Some(lines) = batch(&mut rx, &counters, Duration::ZERO).await else { return };
                lines
            } else {
                let n = backlog.len().min(BATCH);
                backlog.drain(..n).collect()
            };
            let payload: String = lines.iter().map(|l| octet_counted(l, &token)).collect();
            let written = tokio::time::timeout(IO_TIMEOUT, async {
                conn.write_all(payload.as_bytes()).await?;
                conn.flush().await
            })
            .await;
            let error = match written {
                Ok(Ok(())) => {
                    counters.delivered.fetch_add(lines.len() as u64, Ordering::Relaxed);
                    counters.ok();
                    wait = Duration::from_millis(500);
                    continue;
                }
                Ok(Err(e)) => format!("writing to {host}:{port} failed: {e}"),
                Err(_) => format!("{host}:{port} did not take the lines within {IO_TIMEOUT:?}"),
            };
            counters.fail(error);
            // Resent after reconnecting (the drain may see some twice: at-least-once).
            for line in lines.into_iter().rev() {
                backlog.push_front(line);
            }
            break;
        }
        if !absorb_until(tokio::time::Instant::now() + wait, &mut rx, &mut backlog, &counters).await {
            return;
        }
        wait = backoff(wait);
    }
}

/// HTTPS drain: batches POSTed as `application/logplex-1`, retried with backoff.
pub async fn http(
    url: String,
    client: reqwest::Client,
    token: String,
    mut rx: Receiver<Arc<Line>>,
    counters: Arc<Counters>,
) {
    while let Some(lines) = batch(&mut rx, &counters, Duration::from_millis(250)).await {
        let body: String = lines.iter().map(|l| octet_counted(l, &token)).collect();
        let n = lines.len() as u64;
        let frame_id = uuid::Uuid::new_v4().simple().to_string();
        let mut wait = Duration::from_millis(500);
        let mut sent = false;
        for attempt in 1..=HTTP_ATTEMPTS {
            let result = client
                .post(&url)
                .header("content-type", "application/logplex-1")
                .header("logplex-msg-count", n.to_string())
                .header("logplex-frame-id", &frame_id)
                .header("logplex-drain-token", &token)
                .header("user-agent", concat!("Logplex/Berth-", env!("CARGO_PKG_VERSION")))
                .body(body.clone())
                .timeout(IO_TIMEOUT)
                .send()
                .await;
            match result {
                Ok(resp) if resp.status().is_success() => {
                    sent = true;
                    break;
                }
                Ok(resp) => counters.fail(format!("{url} answered {}", resp.status())),
                Err(e) => counters.fail(format!("POST to {url} failed: {}", root_cause(&e))),
            }
            if attempt < HTTP_ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait = backoff(wait);
            }
        }
        if sent {
            counters.delivered.fetch_add(n, Ordering::Relaxed);
            counters.ok();
        } else {
            counters.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }
}

fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
