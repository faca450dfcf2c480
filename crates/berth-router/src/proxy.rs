//! The proxy: accept loop, request rewriting, pooled upstream client, upgrades.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{Either, Empty, Full};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::pages::page;
use crate::table::{Route, RouteTable};

type UpstreamBody = Either<Incoming, Empty<Bytes>>;
pub type ProxyBody = Either<Incoming, Full<Bytes>>;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

/// Hop-by-hop headers (RFC 9110 §7.6.1): never forwarded.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

pub struct Router {
    table: ArcSwap<RouteTable>,
    client: Client<HttpConnector, UpstreamBody>,
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
        Arc::new(Self { table: ArcSwap::from_pointee(RouteTable::new()), client })
    }

    /// Replaces the whole route table atomically; in-flight requests finish on the old one.
    pub fn set_routes(&self, table: RouteTable) {
        if !self.table.load().same_routes(&table) {
            self.table.store(Arc::new(table));
        }
    }

    /// The current table (for inspection and tests).
    pub fn routes(&self) -> Arc<RouteTable> {
        self.table.load_full()
    }

    /// Serves HTTP/1.1 and h2c on `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        let port = listener.local_addr()?.port();
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
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let router = Arc::clone(&router);
                    async move { Ok::<_, Infallible>(router.handle(req, peer, port).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).await {
                    tracing::debug!(error = %e, %peer, "router connection ended with an error");
                }
            });
        }
    }

    async fn handle(&self, mut req: Request<Incoming>, peer: SocketAddr, port: u16) -> Response<ProxyBody> {
        let request_id = request_id(req.headers());
        let table = self.table.load();
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().host())
            .unwrap_or("");
        let Some(route) = table.lookup(host) else {
            let detail = format!("There is no app at {host:?}. Check the app name, or create it with `berth apps:create`.");
            return full(page(StatusCode::NOT_FOUND, "No such app", &detail, &request_id));
        };
        let route: Arc<Route> = Arc::clone(route);
        drop(table);
        if route.backends.is_empty() {
            let detail = format!(
                "App {} has no running web process. Deploy it, or scale it up with `berth ps:scale web=1 -a {}`.",
                route.app, route.app
            );
            return full(page(StatusCode::SERVICE_UNAVAILABLE, "Application unavailable", &detail, &request_id));
        }

        prepare_upstream_headers(req.headers_mut(), peer, port, &request_id);
        let upgrade = req.headers().contains_key(header::UPGRADE);
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        // Only a request without a body can be replayed on the next backend.
        let mut body = Some(body).filter(|b| !b.is_end_stream());
        let replayable = body.is_none() && !has_body(&parts.headers);
        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();

        for backend in route.rotation() {
            let uri: Uri = match format!("http://{}{}", backend.addr, path).parse() {
                Ok(u) => u,
                Err(_) => return full(page(StatusCode::BAD_REQUEST, "Bad request", "Invalid request target.", &request_id)),
            };
            let mut upstream = Request::builder().method(parts.method.clone()).uri(uri).version(http::Version::HTTP_11);
            if let Some(headers) = upstream.headers_mut() {
                *headers = parts.headers.clone();
            }
            let upstream_body = match body.take() {
                Some(b) => Either::Left(b),
                None => Either::Right(Empty::new()),
            };
            let Ok(upstream) = upstream.body(upstream_body) else { break };
            match self.client.request(upstream).await {
                Ok(mut resp) => {
                    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
                        if let Some(client_upgrade) = client_upgrade {
                            let upstream_upgrade = hyper::upgrade::on(&mut resp);
                            tokio::spawn(tunnel(client_upgrade, upstream_upgrade));
                        }
                    } else {
                        strip_hop_by_hop(resp.headers_mut());
                    }
                    resp.headers_mut().entry(X_REQUEST_ID).or_insert_with(|| header_value(&request_id));
                    return resp.map(Either::Left);
                }
                Err(e) if e.is_connect() && replayable => {
                    tracing::debug!(backend = %backend.addr, error = %e, "backend refused, trying the next one");
                    continue;
                }
                Err(e) => {
                    tracing::debug!(backend = %backend.addr, error = %e, "backend failed");
                    break;
                }
            }
        }
        let detail = format!("App {} did not answer. Check its logs with `berth logs -a {}`.", route.app, route.app);
        full(page(StatusCode::BAD_GATEWAY, "Bad gateway", &detail, &request_id))
    }
}

fn full(resp: Response<Full<Bytes>>) -> Response<ProxyBody> {
    resp.map(Either::Right)
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v != "0")
}

/// Keeps a valid incoming X-Request-Id (Heroku's rule: 20–200 chars of
/// `[A-Za-z0-9+=/-]`), otherwise makes a new one.
fn request_id(headers: &HeaderMap) -> String {
    if let Some(id) = headers.get(X_REQUEST_ID).and_then(|v| v.to_str().ok()) {
        let valid = (20..=200).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'=' | b'/' | b'-'));
        if valid {
            return id.to_string();
        }
    }
    uuid::Uuid::new_v4().to_string()
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn prepare_upstream_headers(headers: &mut HeaderMap, peer: SocketAddr, port: u16, request_id: &str) {
    let upgrade = headers.get(header::UPGRADE).cloned();
    strip_hop_by_hop(headers);
    if let Some(upgrade) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, upgrade);
    }
    let client_ip = peer.ip().to_string();
    let forwarded_for = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, {client_ip}"),
        None => client_ip,
    };
    headers.insert(X_FORWARDED_FOR, header_value(&forwarded_for));
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    headers.insert(X_FORWARDED_PORT, HeaderValue::from(port));
    headers.insert(X_REQUEST_ID, header_value(request_id));
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named by Connection are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    let (Ok(client), Ok(upstream)) = (client.await, upstream.await) else { return };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[cfg(test)]
mod tests;
