//! Drains against real sockets: syslog over TLS and HTTPS with a self-signed
//! CA (trusted through the extra-CA option), and a dead and a stalled drain
//! that neither slow the app down nor hold back a healthy drain.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_store::DrainRecord;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::Drains;
use crate::logs::LogHub;

struct Tls {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    acceptor: tokio_rustls::TlsAcceptor,
}

fn tls() -> Tls {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, cert.cert.pem()).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    Tls { _dir: dir, ca_file, acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)) }
}

fn drain(id: &str, url: String) -> DrainRecord {
    DrainRecord {
        id: id.into(),
        app_id: "app-id".into(),
        app_name: "web1".into(),
        url,
        token: format!("d.{id}"),
        created_at: chrono::Utc::now(),
    }
}

fn new_hub() -> (tempfile::TempDir, Arc<LogHub>) {
    let dir = tempfile::tempdir().unwrap();
    let hub = LogHub::open(dir.path().to_path_buf(), 1 << 20).unwrap();
    (dir, hub)
}

/// Reads octet-counted syslog frames and sends each message on.
async fn read_frames(mut stream: impl AsyncRead + Unpin, out: mpsc::UnboundedSender<String>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(space) = buf.iter().position(|&b| b == b' ') {
            let len: usize = std::str::from_utf8(&buf[..space]).unwrap().parse().expect("octet count");
            if buf.len() < space + 1 + len {
                break;
            }
            let msg = String::from_utf8(buf[space + 1..space + 1 + len].to_vec()).unwrap();
            buf.drain(..space + 1 + len);
            if out.send(msg).is_err() {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn expect(rx: &mut mpsc::UnboundedReceiver<String>, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(msg)) if msg.contains(what) => return msg,
            Ok(Some(_)) => continue,
            _ => panic!("the drain never received {what:?}"),
        }
    }
}

#[tokio::test]
async fn syslog_over_tls_trusts_the_extra_ca() {
    let tls = tls();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let acceptor = tls.acceptor.clone();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let stream = acceptor.accept(tcp).await.unwrap();
        read_frames(stream, tx).await;
    });
    let (_dir, hub) = new_hub();
    let drains = Drains::new(Arc::clone(&hub), std::slice::from_ref(&tls.ca_file)).unwrap();
    drains.sync(vec![drain("tls", format!("syslog+tls://localhost:{port}"))]);
    hub.platform("web1", "api", "hello over tls");
    let msg = expect(&mut rx, "hello over tls").await;
    assert!(msg.starts_with("<190>1 "), "{msg}");
    assert!(msg.contains(" d.tls berth api - hello over tls"), "{msg}");
    let counters = drains.counters_of("tls").unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(counters.delivered.load(Ordering::Relaxed), 1);

    // Without the CA the handshake fails and the error is reported.
    let (_dir2, hub2) = new_hub();
    let untrusting = Drains::new(Arc::clone(&hub2), &[]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tls.acceptor.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = acceptor.accept(tcp).await;
        }
    });
    untrusting.sync(vec![drain("bad", format!("syslog+tls://localhost:{port}"))]);
    hub2.platform("web1", "api", "never delivered");
    let counters = untrusting.counters_of("bad").unwrap();
    let error = wait(|| counters.last_error()).await;
    assert!(error.contains("TLS handshake"), "{error}");
}

#[tokio::test]
async fn https_drains_post_logplex_batches() {
    let tls = tls();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let acceptor = tls.acceptor.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let mut stream = acceptor.accept(tcp).await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map(|v| v.trim().parse().unwrap())
                        .unwrap_or(0);
                    let mut body = vec![0u8; len];
                    stream.read_exact(&mut body).await.unwrap();
                    let _ = tx.send(format!("{head}\n{}", String::from_utf8_lossy(&body)));
                    stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
                }
            });
        }
    });
    let (_dir, hub) = new_hub();
    let drains = Drains::new(Arc::clone(&hub), std::slice::from_ref(&tls.ca_file)).unwrap();
    drains.sync(vec![drain("web", format!("https://localhost:{port}/logs?key=1"))]);
    hub.platform("web1", "api", "first");
    hub.platform("web1", "api", "second");
    let request = expect(&mut rx, "second").await;
    assert!(request.starts_with("post /logs?key=1 http/1.1"), "{request}");
    assert!(request.contains("content-type: application/logplex-1"), "{request}");
    assert!(request.contains("logplex-drain-token: d.web"), "{request}");
    assert!(request.contains("logplex-msg-count: 2"), "{request}");
    let body = request.split_once("\r\n\r\n\n").unwrap().1;
    let (frames_tx, mut frames_rx) = mpsc::unbounded_channel();
    read_frames(body.as_bytes(), frames_tx).await;
    assert!(frames_rx.recv().await.unwrap().ends_with("d.web berth api - first"));
    assert!(frames_rx.recv().await.unwrap().ends_with("d.web berth api - second"));
}

#[tokio::test]
async fn dead_and_stalled_drains_never_hold_anything_back() {
    // A drain nobody listens on, and one that accepts but never reads.
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let stalled = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stalled_port = stalled.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = stalled.accept().await {
            held.push(tcp);
        }
    });
    let good = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let good_port = good.local_addr().unwrap().port();
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = good.accept().await {
            tokio::spawn(read_frames(tcp, tx.clone()));
        }
    });
    let (_dir, hub) = new_hub();
    let drains = Drains::new(Arc::clone(&hub), &[]).unwrap();
    drains.sync(vec![
        drain("dead", format!("syslog://127.0.0.1:{dead}")),
        drain("stalled", format!("syslog://127.0.0.1:{stalled_port}")),
        drain("good", format!("syslog://127.0.0.1:{good_port}")),
    ]);
    let started = Instant::now();
    let big = "x".repeat(400);
    for i in 0..20_000 {
        hub.platform("web1", "api", format!("line {i} {big}"));
        if i % 1000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5), "pushing took {:?}", started.elapsed());
    hub.platform("web1", "api", "the last line");
    expect(&mut rx, "the last line").await;
    let dead = drains.counters_of("dead").unwrap();
    let err = wait(|| dead.last_error()).await;
    assert!(err.contains("cannot connect"), "{err}");
    wait(|| (dead.dropped.load(Ordering::Relaxed) > 0).then_some(())).await;
    let stalled = drains.counters_of("stalled").unwrap();
    wait(|| (stalled.dropped.load(Ordering::Relaxed) > 0).then_some(())).await;
    let good = drains.counters_of("good").unwrap();
    assert!(good.delivered.load(Ordering::Relaxed) > 0);
    let metrics = drains.counters();
    assert_eq!(metrics.len(), 3);
}

async fn wait<T>(mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
