//! The proxy: accept loop, request rewriting, pooled upstream client, upgrades.

use std::cell::Cell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{Either, Empty, Full};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::inflight::{InFlight, Registry, TrackedBody};
use crate::metered::{Metered, Pending};
use crate::metrics::{AccessLog, AppStats, RouterStats};
use crate::pages::page;
use crate::table::{Route, RouteTable};

type UpstreamBody = Either<Incoming, Empty<Bytes>>;
pub type ProxyBody = Either<Metered<TrackedBody>, Full<Bytes>>;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

const HOP_BY_HOP_COUNT: usize = 8;
/// Hop-by-hop headers (RFC 9110 §7.6.1), and Upgrade: never forwarded as they came
/// (an upgrade sets its own Connection and Upgrade).
static HOP_BY_HOP: [HeaderName; HOP_BY_HOP_COUNT] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// What a request needs to know about its client connection, computed once per connection.
struct Conn {
    /// The client's address, for X-Forwarded-For.
    client_ip: HeaderValue,
    ip: IpAddr,
    /// The listener's port, for X-Forwarded-Port.
    port: HeaderValue,
}

pub struct Router {
    table: ArcSwap<RouteTable>,
    client: Client<HttpConnector, UpstreamBody>,
    /// app name → its counters; outlives route table swaps.
    app_stats: Mutex<HashMap<String, Arc<AppStats>>>,
    stats: RouterStats,
    access_log: OnceLock<Arc<dyn AccessLog>>,
    in_flight: Registry,
}

impl Router {
    pub fn new() -> Arc<Self> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(3)));
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(512)
            .build(connector);
        Arc::new(Self {
            table: ArcSwap::from_pointee(RouteTable::new()),
            client,
            app_stats: Mutex::new(HashMap::new()),
            stats: RouterStats::default(),
            access_log: OnceLock::new(),
            in_flight: Registry::default(),
        })
    }

    /// Sets where access-log entries go (once; later calls are ignored).
    pub fn set_access_log(&self, sink: Arc<dyn AccessLog>) {
        let _ = self.access_log.set(sink);
    }

    /// Router-wide counters.
    pub fn stats(&self) -> &RouterStats {
        &self.stats
    }

    /// Each routed app's counters, by app name.
    pub fn app_stats(&self) -> Vec<(String, Arc<AppStats>)> {
        let stats = self.app_stats.lock().unwrap();
        let mut all: Vec<(String, Arc<AppStats>)> = stats.iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Replaces the whole route table atomically; in-flight requests finish on the old one.
    pub fn set_routes(&self, mut table: RouteTable) {
        if !self.table.load().same_routes(&table) {
            {
                // Counters follow the app across tables; apps that left the table drop theirs.
                let mut stats = self.app_stats.lock().unwrap();
                let mut kept = HashMap::with_capacity(table.len());
                for route in table.routes() {
                    let s = stats.remove(&route.app).or_else(|| kept.get(&route.app).cloned()).unwrap_or_default();
                    let _ = route.stats.set(Arc::clone(&s));
                    kept.insert(route.app.clone(), s);
                }
                *stats = kept;
            }
            table.attach_counters(&self.in_flight);
            self.in_flight.retain_routed(|addr| table.routes_to(addr));
            self.table.store(Arc::new(table));
        }
    }

    /// Requests, streaming responses and upgraded connections open to `addr`
    /// (a backend being drained is stopped when this reaches zero).
    pub fn in_flight(&self, addr: SocketAddr) -> usize {
        self.in_flight.count(addr)
    }

    /// The current table (for inspection and tests).
    pub fn routes(&self) -> Arc<RouteTable> {
        self.table.load_full()
    }

    /// Serves HTTP/1.1 and h2c on `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        let port = HeaderValue::from(listener.local_addr()?.port());
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "router accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let router = Arc::clone(&self);
            self.stats.connections.fetch_add(1, Ordering::Relaxed);
            let conn =
                Arc::new(Conn { client_ip: header_value(&peer.ip().to_string()), ip: peer.ip(), port: port.clone() });
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let router = Arc::clone(&router);
                    let conn = Arc::clone(&conn);
                    async move { Ok::<_, Infallible>(router.handle(req, &conn).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).await {
                    tracing::debug!(error = %e, %peer, "router connection ended with an error");
                }
            });
        }
    }

    async fn handle(&self, mut req: Request<Incoming>, conn: &Conn) -> Response<ProxyBody> {
        let start = Instant::now();
        let request_id = request_id(req.headers());
        let request_id_str = request_id.to_str().unwrap_or("invalid");
        let table = self.table.load();
        let host =
            req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).or_else(|| req.uri().host()).unwrap_or("");
        let Some(route) = table.lookup(host) else {
            self.stats.unknown_host.fetch_add(1, Ordering::Relaxed);
            let detail =
                format!("There is no app at {host:?}. Check the app name, or create it with `berth apps:create`.");
            return full(page(StatusCode::NOT_FOUND, "No such app", &detail, request_id_str));
        };
        let route: Arc<Route> = Arc::clone(route);
        drop(table);
        let stats = route.stats.get().cloned().unwrap_or_default();
        stats.active.fetch_add(1, Ordering::Relaxed);
        let mut pending = Pending {
            route: Arc::clone(&route),
            stats,
            sink: self.access_log.get().cloned(),
            backend: None,
            error: None,
            method: req.method().clone(),
            path: req.uri().path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/")),
            host: req.headers().get(header::HOST).cloned(),
            request_id: request_id.clone(),
            client_ip: conn.ip,
            status: 0,
            start,
            attempt: start,
        };
        if route.backends.is_empty() {
            let detail = format!(
                "App {} has no running web process. Deploy it, or scale it up with `berth ps:scale web=1 -a {}`.",
                route.app, route.app
            );
            let resp = page(StatusCode::SERVICE_UNAVAILABLE, "Application unavailable", &detail, request_id_str);
            return router_answer(pending, ("H14", "No web processes running"), resp);
        }

        prepare_upstream_headers(req.headers_mut(), conn, request_id.clone());
        let upgrade = req.headers().contains_key(header::UPGRADE);
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        // Only a request without a body can be replayed on the next backend.
        let mut body = Some(body).filter(|b| !b.is_end_stream());
        let replayable = body.is_none() && !has_body(&parts.headers);
        // Shares the incoming request's buffer: no copy.
        let path = parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
        let mut headers = Some(parts.headers);

        // A bodyless GET/HEAD/OPTIONS whose connection broke before any answer (e.g.
        // a backend that just started and overflowed its accept queue) is safe to
        // send again, so it gets a second round over the backends.
        let idempotent = replayable && matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let rounds = if idempotent { 2 } else { 1 };
        let mut backends = route.tracked_rotation(rounds).peekable();
        while let Some((backend, counter)) = backends.next() {
            let in_flight = counter.map(InFlight::enter);
            let index = route.backends.iter().position(|b| std::ptr::eq(b, backend));
            let Some(uri) = upstream_uri(backend.addr, &path) else {
                let resp = page(StatusCode::BAD_REQUEST, "Bad request", "Invalid request target.", request_id_str);
                return router_answer(pending, ("H27", "Invalid request target"), resp);
            };
            pending.attempt = Instant::now();
            // The headers are only copied when another attempt may follow.
            let last_attempt = !replayable || backends.peek().is_none();
            let upstream_headers = if last_attempt { headers.take() } else { headers.clone() };
            let mut upstream = Request::builder().method(parts.method.clone()).uri(uri).version(http::Version::HTTP_11);
            if let Some(h) = upstream.headers_mut() {
                *h = upstream_headers.unwrap_or_default();
            }
            let upstream_body = match body.take() {
                Some(b) => Either::Left(b),
                None => Either::Right(Empty::new()),
            };
            let Ok(upstream) = upstream.body(upstream_body) else { break };
            match self.client.request(upstream).await {
                Ok(mut resp) => {
                    let mut in_flight = in_flight;
                    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
                        if let Some(client_upgrade) = client_upgrade {
                            let upstream_upgrade = hyper::upgrade::on(&mut resp);
                            // The tunnel counts as in flight until either side closes it.
                            tokio::spawn(tunnel(client_upgrade, upstream_upgrade, in_flight.take()));
                        }
                    } else {
                        strip_hop_by_hop(resp.headers_mut());
                    }
                    resp.headers_mut().entry(X_REQUEST_ID).or_insert(request_id);
                    pending.status = resp.status().as_u16();
                    pending.backend = index;
                    return resp
                        .map(|body| Either::Left(Metered::new(TrackedBody::new(body, in_flight), Some(pending))));
                }
                Err(e) if e.is_connect() && replayable => {
                    tracing::debug!(backend = %backend.addr, error = %e, "backend refused, trying the next one");
                    continue;
                }
                Err(e) if idempotent => {
                    tracing::debug!(backend = %backend.addr, error = %e, "backend failed before answering; retrying");
                    continue;
                }
                Err(e) => {
                    tracing::debug!(backend = %backend.addr, error = %e, "backend failed");
                    break;
                }
            }
        }
        let detail = format!("App {} did not answer. Check its logs with `berth logs -a {}`.", route.app, route.app);
        let resp = page(StatusCode::BAD_GATEWAY, "Bad gateway", &detail, request_id_str);
        router_answer(pending, ("H13", "App did not answer"), resp)
    }
}

/// A response the router makes itself (no backend answered): counted and logged at once.
fn router_answer(
    mut pending: Pending,
    error: (&'static str, &'static str),
    resp: Response<Full<Bytes>>,
) -> Response<ProxyBody> {
    pending.status = resp.status().as_u16();
    pending.error = Some(error);
    pending.attempt = Instant::now();
    let bytes = resp.body().size_hint().exact().unwrap_or(0);
    pending.finish(bytes);
    full(resp)
}

/// `http://{addr}{path}` without re-parsing the path.
fn upstream_uri(addr: SocketAddr, path: &PathAndQuery) -> Option<Uri> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(authority(addr)?);
    parts.path_and_query = Some(path.clone());
    Uri::from_parts(parts).ok()
}

/// `ip:port` as a URI authority. IPv4 (every backend today) is written by hand:
/// `Display for Ipv4Addr` costs more than all the rest of the request rewrite.
fn authority(addr: SocketAddr) -> Option<Authority> {
    let SocketAddr::V4(v4) = addr else {
        return Authority::from_maybe_shared(Bytes::from(addr.to_string())).ok();
    };
    let mut buf = [0u8; 21]; // 255.255.255.255:65535
    let mut len = 0;
    let mut push_decimal = |n: u16, sep: Option<u8>| {
        let digits = [n / 10000, n / 1000 % 10, n / 100 % 10, n / 10 % 10, n % 10];
        let first = digits.iter().position(|&d| d != 0).unwrap_or(4);
        for d in &digits[first..] {
            buf[len] = b'0' + *d as u8;
            len += 1;
        }
        if let Some(sep) = sep {
            buf[len] = sep;
            len += 1;
        }
    };
    let [a, b, c, d] = v4.ip().octets();
    push_decimal(a.into(), Some(b'.'));
    push_decimal(b.into(), Some(b'.'));
    push_decimal(c.into(), Some(b'.'));
    push_decimal(d.into(), Some(b':'));
    push_decimal(v4.port(), None);
    Authority::from_maybe_shared(Bytes::copy_from_slice(&buf[..len])).ok()
}

fn full(resp: Response<Full<Bytes>>) -> Response<ProxyBody> {
    resp.map(Either::Right)
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).is_some_and(|v| v != "0")
}

/// Keeps a valid incoming X-Request-Id (Heroku's rule: 20–200 chars of
/// `[A-Za-z0-9+=/-]`), otherwise makes a new one (a random UUID).
fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(id) = headers.get(X_REQUEST_ID) {
        let bytes = id.as_bytes();
        let valid = (20..=200).contains(&bytes.len())
            && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'=' | b'/' | b'-'));
        if valid {
            return id.clone();
        }
    }
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Builder::from_random_bytes(random_bytes()).into_uuid();
    header_value(id.hyphenated().encode_lower(&mut buf))
}

/// 16 random bytes for a request id: a per-thread PRNG (SplitMix64) seeded once from
/// the OS, so that ids cost no system call. Ids must be unique, not unguessable.
fn random_bytes() -> [u8; 16] {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(uuid::Uuid::new_v4().as_u64_pair().0);
    }
    fn next(state: &Cell<u64>) -> u64 {
        let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    STATE.with(|state| ((u128::from(next(state)) << 64) | u128::from(next(state))).to_le_bytes())
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn prepare_upstream_headers(headers: &mut HeaderMap, conn: &Conn, request_id: HeaderValue) {
    let upgrade = headers.get(header::UPGRADE).cloned();
    strip_hop_by_hop(headers);
    if let Some(upgrade) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, upgrade);
    }
    let forwarded_for = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prior) => {
            let mut value = Vec::with_capacity(prior.len() + 2 + conn.client_ip.len());
            value.extend_from_slice(prior.as_bytes());
            value.extend_from_slice(b", ");
            value.extend_from_slice(conn.client_ip.as_bytes());
            // Takes the buffer over instead of copying it.
            HeaderValue::from_maybe_shared(Bytes::from(value)).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
        }
        None => conn.client_ip.clone(),
    };
    headers.insert(X_FORWARDED_FOR, forwarded_for);
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    headers.insert(X_FORWARDED_PORT, conn.port.clone());
    headers.insert(X_REQUEST_ID, request_id);
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Which fixed hop-by-hop names are present: one scan comparing names, which costs
    // less than hashing each of them for a remove. Usually none, or only Connection.
    let mut present = [false; HOP_BY_HOP_COUNT];
    for name in headers.keys() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| h == name) {
            present[i] = true;
        }
    }
    if !present.contains(&true) {
        return;
    }
    // Headers named by Connection are hop-by-hop too. Those of the list above (e.g.
    // `keep-alive`) are removed anyway; others are looked up as &str (no allocation) and
    // collected only if present (`Connection: close` names no header).
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty() && !HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h.as_str())))
        .filter(|name| headers.contains_key(*name))
        .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
        .collect();
    for name in &named {
        headers.remove(name);
    }
    for (name, _) in HOP_BY_HOP.iter().zip(present).filter(|(_, p)| *p) {
        headers.remove(name);
    }
}

async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade, _in_flight: Option<InFlight>) {
    let (Ok(client), Ok(upstream)) = (client.await, upstream.await) else { return };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[cfg(test)]
mod tests;
