//! The route table: host → backends, with a round-robin cursor per route.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::metrics::AppStats;

use crate::inflight::{Counter, Registry};

/// One upstream instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub addr: SocketAddr,
    /// Instance name for logs, e.g. `web.1`.
    pub name: String,
}

#[derive(Debug)]
pub struct Route {
    pub app: String,
    pub backends: Vec<Backend>,
    cursor: AtomicUsize,
    /// The app's counters, attached by the router when the table is installed.
    pub(crate) stats: OnceLock<Arc<AppStats>>,
    /// In-flight counters, one per backend (same order); attached by the router.
    pub(crate) in_flight: Vec<Counter>,
}

impl Route {
    /// The backends in round-robin order starting at the next one.
    pub fn rotation(&self) -> impl Iterator<Item = &Backend> {
        self.tracked_rotation(1).map(|(backend, _)| backend)
    }

    /// [`Route::rotation`] `rounds` times over, with each backend's in-flight counter.
    pub(crate) fn tracked_rotation(&self, rounds: usize) -> impl Iterator<Item = (&Backend, Option<&Counter>)> {
        let n = self.backends.len();
        let start = if n == 0 { 0 } else { self.cursor.fetch_add(1, Ordering::Relaxed) % n };
        (0..n * rounds).map(move |i| {
            let at = (start + i) % n;
            (&self.backends[at], self.in_flight.get(at))
        })
    }
}

/// An immutable snapshot of all routes. Build a new one to change anything.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: HashMap<String, Arc<Route>>,
}

impl RouteTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `host` (any case, no port) to `app`'s backends. An empty backend list
    /// means "app exists but nothing runs": the router answers 503, not 404.
    pub fn insert(&mut self, host: &str, app: &str, backends: Vec<Backend>) {
        self.routes.insert(
            host.to_ascii_lowercase(),
            Arc::new(Route {
                app: app.to_string(),
                backends,
                cursor: AtomicUsize::new(0),
                in_flight: Vec::new(),
                stats: OnceLock::new(),
            }),
        );
    }

    /// Gives every backend its shared in-flight counter (before the table is published).
    pub(crate) fn attach_counters(&mut self, registry: &Registry) {
        for route in self.routes.values_mut() {
            if let Some(route) = Arc::get_mut(route) {
                route.in_flight = route.backends.iter().map(|b| registry.counter(b.addr)).collect();
            }
        }
    }

    /// Whether any route sends traffic to `addr`.
    pub fn routes_to(&self, addr: &SocketAddr) -> bool {
        self.routes.values().any(|r| r.backends.iter().any(|b| &b.addr == addr))
    }

    /// Looks up a Host header value (`Web1.Localhost:8080` works).
    pub fn lookup(&self, host_header: &str) -> Option<&Arc<Route>> {
        let host = strip_port(host_header);
        if let Some(route) = self.routes.get(host) {
            return Some(route);
        }
        if host.bytes().any(|b| b.is_ascii_uppercase()) || host.ends_with('.') {
            return self.routes.get(&host.trim_end_matches('.').to_ascii_lowercase());
        }
        None
    }

    pub(crate) fn routes(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.routes.values()
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Same hosts and backends (cursors aside): lets callers skip no-op swaps.
    pub fn same_routes(&self, other: &RouteTable) -> bool {
        self.routes.len() == other.routes.len()
            && self.routes.iter().all(|(host, route)| {
                other.routes.get(host).is_some_and(|o| o.app == route.app && o.backends == route.backends)
            })
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // IPv6 literal: `[::1]:80`
        return host.split(']').next().map(|h| &host[..h.len() + 1]).unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(port: u16) -> Backend {
        Backend { addr: SocketAddr::from(([127, 0, 0, 1], port)), name: format!("web.{port}") }
    }

    #[test]
    fn lookup_ignores_case_port_and_trailing_dot() {
        let mut table = RouteTable::new();
        table.insert("web1.localhost", "web1", vec![backend(1)]);
        for host in ["web1.localhost", "WEB1.localhost:8080", "web1.localhost.", "web1.localhost:80"] {
            assert_eq!(table.lookup(host).map(|r| r.app.as_str()), Some("web1"), "{host}");
        }
        assert!(table.lookup("web2.localhost").is_none());
        assert!(table.lookup("").is_none());
    }

    #[test]
    fn rotation_is_round_robin() {
        let mut table = RouteTable::new();
        table.insert("a.test", "a", vec![backend(1), backend(2), backend(3)]);
        let route = table.lookup("a.test").unwrap();
        let firsts: Vec<u16> = (0..6).map(|_| route.rotation().next().unwrap().addr.port()).collect();
        assert_eq!(firsts, vec![1, 2, 3, 1, 2, 3]);
        let all: Vec<u16> = route.rotation().map(|b| b.addr.port()).collect();
        assert_eq!(all.len(), 3, "a rotation visits every backend once for retries");
    }

    #[test]
    fn empty_routes_exist_but_have_no_backends() {
        let mut table = RouteTable::new();
        table.insert("idle.test", "idle", vec![]);
        let route = table.lookup("idle.test").unwrap();
        assert_eq!(route.rotation().count(), 0);
    }

    #[test]
    fn same_routes_compares_content() {
        let mut a = RouteTable::new();
        a.insert("a.test", "a", vec![backend(1)]);
        let mut b = RouteTable::new();
        b.insert("a.test", "a", vec![backend(1)]);
        assert!(a.same_routes(&b));
        b.insert("a.test", "a", vec![backend(2)]);
        assert!(!a.same_routes(&b));
    }
}
