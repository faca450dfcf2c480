use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::table::Backend;

/// A backend that answers every request with its name and the request head it saw.
async fn backend(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                }
                let head = String::from_utf8_lossy(&head).to_lowercase();
                if head.contains("upgrade: echo") {
                    let _ = stream
                        .write_all(b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n")
                        .await;
                    let (mut r, mut w) = stream.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                    return;
                }
                let body = format!("backend={name}\n{head}");
                let resp =
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = stream.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr
}

async fn start_router(table: RouteTable) -> (Arc<Router>, SocketAddr) {
    let router = Router::new();
    router.set_routes(table);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(Arc::clone(&router).serve(listener));
    (router, addr)
}

async fn get(router: SocketAddr, host: &str, extra: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(router).await.unwrap();
    let req = format!("GET /some/path?q=1 HTTP/1.1\r\nhost: {host}\r\n{extra}connection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).await.unwrap();
    let status = resp[9..12].parse().unwrap();
    (status, resp)
}

fn b(addr: SocketAddr, name: &str) -> Backend {
    Backend { addr, name: name.to_string() }
}

async fn dead_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

#[tokio::test]
async fn proxies_by_host_and_sets_forwarding_headers() {
    let one = backend("one").await;
    let mut table = RouteTable::new();
    table.insert("web1.localhost", "web1", vec![b(one, "web.1")]);
    let (_router, addr) = start_router(table).await;

    let (status, resp) = get(addr, "web1.localhost", "x-forwarded-for: 203.0.113.9\r\n").await;
    assert_eq!(status, 200, "{resp}");
    assert!(resp.contains("backend=one"));
    assert!(resp.contains("get /some/path?q=1 http/1.1"), "{resp}");
    assert!(resp.contains("host: web1.localhost"), "{resp}");
    assert!(resp.contains("x-forwarded-for: 203.0.113.9, 127.0.0.1"), "{resp}");
    assert!(resp.contains("x-forwarded-proto: http"), "{resp}");
    assert!(resp.contains(&format!("x-forwarded-port: {}", addr.port())), "{resp}");
    assert!(resp.contains("x-request-id: "), "{resp}");
}

#[tokio::test]
async fn keeps_valid_request_ids_and_replaces_bad_ones() {
    let one = backend("one").await;
    let mut table = RouteTable::new();
    table.insert("a.test", "a", vec![b(one, "web.1")]);
    let (_router, addr) = start_router(table).await;
    let (_, resp) = get(addr, "a.test", "x-request-id: abcdefghij0123456789-keep\r\n").await;
    assert!(resp.contains("x-request-id: abcdefghij0123456789-keep"), "{resp}");
    let (_, resp) = get(addr, "a.test", "x-request-id: short\r\n").await;
    assert!(!resp.contains("x-request-id: short"), "{resp}");
}

#[tokio::test]
async fn unknown_hosts_get_404_and_idle_apps_503() {
    let mut table = RouteTable::new();
    table.insert("idle.test", "idle", vec![]);
    let (_router, addr) = start_router(table).await;
    let (status, resp) = get(addr, "nope.test", "").await;
    assert_eq!(status, 404);
    assert!(resp.contains("No such app"), "{resp}");
    let (status, resp) = get(addr, "idle.test", "").await;
    assert_eq!(status, 503);
    assert!(resp.contains("ps:scale web=1"), "{resp}");
}

#[tokio::test]
async fn balances_round_robin_and_skips_dead_backends() {
    let one = backend("one").await;
    let two = backend("two").await;
    let dead = dead_port().await;
    let mut table = RouteTable::new();
    table.insert("a.test", "a", vec![b(one, "web.1"), b(dead, "web.2"), b(two, "web.3")]);
    let (_router, addr) = start_router(table).await;
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..9 {
        let (status, resp) = get(addr, "a.test", "").await;
        assert_eq!(status, 200, "a dead backend must not fail GETs: {resp}");
        let name = if resp.contains("backend=one") { "one" } else { "two" };
        *seen.entry(name).or_insert(0) += 1;
    }
    assert!(seen["one"] >= 3 && seen["two"] >= 3, "{seen:?}");
}

#[tokio::test]
async fn all_backends_dead_is_502() {
    let dead = dead_port().await;
    let mut table = RouteTable::new();
    table.insert("a.test", "a", vec![b(dead, "web.1")]);
    let (_router, addr) = start_router(table).await;
    let (status, _) = get(addr, "a.test", "").await;
    assert_eq!(status, 502);
}

#[tokio::test]
async fn route_swaps_take_effect_for_new_requests() {
    let one = backend("one").await;
    let two = backend("two").await;
    let mut table = RouteTable::new();
    table.insert("a.test", "a", vec![b(one, "web.1")]);
    let (router, addr) = start_router(table).await;
    assert!(get(addr, "a.test", "").await.1.contains("backend=one"));
    let mut table = RouteTable::new();
    table.insert("a.test", "a", vec![b(two, "web.1")]);
    router.set_routes(table);
    assert!(get(addr, "a.test", "").await.1.contains("backend=two"));
}

#[tokio::test]
async fn upgrades_tunnel_bytes_both_ways() {
    let one = backend("one").await;
    let mut table = RouteTable::new();
    table.insert("ws.test", "ws", vec![b(one, "web.1")]);
    let (_router, addr) = start_router(table).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /ws HTTP/1.1\r\nhost: ws.test\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0);
        head.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&head).starts_with("HTTP/1.1 101"));
    stream.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    stream.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"ping");
}

async fn wait_in_flight(router: &Router, addr: SocketAddr, want: usize) {
    for _ in 0..200 {
        if router.in_flight(addr) == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("in-flight count of {addr} stayed {} (wanted {want})", router.in_flight(addr));
}

#[tokio::test]
async fn counts_open_tunnels_and_streaming_responses_per_backend() {
    let one = backend("one").await;
    let mut table = RouteTable::new();
    table.insert("ws.test", "ws", vec![b(one, "web.1")]);
    let (router, addr) = start_router(table).await;
    assert_eq!(router.in_flight(one), 0);

    // An upgraded connection stays in flight, even after the backend left the table.
    let mut tunnel = TcpStream::connect(addr).await.unwrap();
    tunnel
        .write_all(b"GET /ws HTTP/1.1\r\nhost: ws.test\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let _ = tunnel.read(&mut buf).await.unwrap();
    wait_in_flight(&router, one, 1).await;
    router.set_routes(RouteTable::new());
    assert_eq!(router.in_flight(one), 1, "draining keeps counting the open tunnel");
    drop(tunnel);
    wait_in_flight(&router, one, 0).await;

    // A response whose body has not finished is in flight until it does.
    let slow = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_addr = slow.local_addr().unwrap();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut stream, _) = slow.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf).await.unwrap();
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello").await.unwrap();
        let _ = release_rx.await;
        stream.write_all(b"world").await.unwrap();
    });
    let mut table = RouteTable::new();
    table.insert("slow.test", "slow", vec![b(slow_addr, "web.1")]);
    router.set_routes(table);
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"GET / HTTP/1.1\r\nhost: slow.test\r\nconnection: close\r\n\r\n").await.unwrap();
    wait_in_flight(&router, slow_addr, 1).await;
    release_tx.send(()).unwrap();
    let mut resp = String::new();
    client.read_to_string(&mut resp).await.unwrap();
    assert!(resp.ends_with("helloworld"), "{resp}");
    wait_in_flight(&router, slow_addr, 0).await;
}

#[test]
fn authorities_are_written_like_display() {
    for addr in ["127.0.0.1:80", "0.0.0.0:0", "10.20.30.40:8080", "255.255.255.255:65535", "[::1]:3000"] {
        let addr: SocketAddr = addr.parse().unwrap();
        assert_eq!(authority(addr).unwrap().as_str(), addr.to_string());
    }
}

#[test]
fn strips_hop_by_hop_and_connection_named_headers() {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("connection", "keep-alive, X-Secret, close"),
        ("keep-alive", "timeout=5"),
        ("x-secret", "1"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("x-kept", "1"),
        ("content-type", "text/plain"),
    ] {
        headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    strip_hop_by_hop(&mut headers);
    let mut left: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
    left.sort();
    assert_eq!(left, ["content-type", "x-kept"]);

    let mut plain = HeaderMap::new();
    plain.insert(header::CONTENT_LENGTH, HeaderValue::from_static("3"));
    strip_hop_by_hop(&mut plain);
    assert_eq!(plain.len(), 1);
}

/// Collects access-log entries as `app status dyno error bytes path`.
#[derive(Default)]
struct Collect(std::sync::Mutex<Vec<String>>);

impl AccessLog for Collect {
    fn log(&self, e: &crate::AccessEntry<'_>) {
        let line = format!(
            "{} {} {} {} {} {} {} {}",
            e.app,
            e.status,
            e.dyno.unwrap_or("-"),
            e.error.map(|(c, _)| c).unwrap_or("-"),
            e.bytes,
            e.method,
            e.path,
            e.host
        );
        self.0.lock().unwrap().push(line);
    }
}

#[tokio::test]
async fn access_log_and_counters_follow_requests() {
    let one = backend("one").await;
    let mut table = RouteTable::new();
    table.insert("a.test", "a", vec![b(one, "web.1")]);
    table.insert("idle.test", "idle", vec![]);
    let (router, addr) = start_router(table).await;
    let sink = Arc::new(Collect::default());
    router.set_access_log(Arc::clone(&sink) as Arc<dyn AccessLog>);

    let (status, resp) = get(addr, "a.test", "").await;
    assert_eq!(status, 200);
    let body_len = resp.split_once("\r\n\r\n").unwrap().1.len();
    get(addr, "idle.test", "").await;
    get(addr, "nobody.test", "").await;

    let entries = wait_entries(&sink, 2).await;
    assert_eq!(entries[0], format!("a 200 web.1 - {body_len} GET /some/path?q=1 a.test"));
    assert!(entries[1].starts_with("idle 503 - H14 "), "{entries:?}");
    let stats: std::collections::HashMap<String, Arc<AppStats>> = router.app_stats().into_iter().collect();
    let a = &stats["a"];
    assert_eq!(a.requests(), 1);
    assert_eq!(a.responses[1].load(Ordering::Relaxed), 1);
    assert_eq!(a.bytes_out.load(Ordering::Relaxed), body_len as u64);
    assert_eq!(a.active.load(Ordering::Relaxed), 0);
    assert!(a.latency.quantile_ms(0.5).is_some());
    assert_eq!(stats["idle"].responses[4].load(Ordering::Relaxed), 1);
    assert_eq!(router.stats().unknown_host.load(Ordering::Relaxed), 1);

    // Counters survive a new table for the same app; apps that leave drop theirs.
    let mut table = RouteTable::new();
    table.insert("a.test", "a", vec![b(one, "web.2")]);
    router.set_routes(table);
    get(addr, "a.test", "").await;
    let stats: std::collections::HashMap<String, Arc<AppStats>> = router.app_stats().into_iter().collect();
    assert_eq!(stats["a"].requests(), 2);
    assert!(!stats.contains_key("idle"));
}

async fn wait_entries(sink: &Collect, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let entries = sink.0.lock().unwrap().clone();
        if entries.len() >= n {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("only {:?}", sink.0.lock().unwrap());
}

/// A backend whose first connection is reset without an answer (like a process
/// that just started and overflowed its accept queue); later ones are served.
async fn flaky_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (first, _) = listener.accept().await.unwrap();
        drop(first);
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn idempotent_requests_are_retried_when_a_connection_breaks_before_the_answer() {
    let mut table = RouteTable::new();
    table.insert("flaky.test", "flaky", vec![b(flaky_backend().await, "web.1")]);
    let (_router, addr) = start_router(table).await;
    let (status, body) = get(addr, "flaky.test", "").await;
    assert_eq!(status, 200, "{body}");

    // A request with a body is never sent twice.
    let mut table = RouteTable::new();
    table.insert("flaky.test", "flaky", vec![b(flaky_backend().await, "web.1")]);
    _router.set_routes(table);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /x HTTP/1.1\r\nhost: flaky.test\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi")
        .await
        .unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 502"), "{resp}");
}
