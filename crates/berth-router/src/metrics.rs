//! Per-app traffic counters and the access-log hook.
//!
//! Everything on the request path is an atomic add: no lock, no allocation.
//! Latencies go into a fixed-bucket histogram; quantiles are estimated by
//! linear interpolation inside the bucket that holds them.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (milliseconds) of the latency buckets; a last bucket takes the rest.
pub const LATENCY_BUCKETS_MS: [f64; 14] =
    [1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0];

/// A latency histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let ms = d.as_secs_f64() * 1000.0;
        let i = LATENCY_BUCKETS_MS.iter().position(|b| ms <= *b).unwrap_or(LATENCY_BUCKETS_MS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Per-bucket counts (not cumulative), the last one being `+Inf`.
    pub fn counts(&self) -> Vec<u64> {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect()
    }

    pub fn sum_seconds(&self) -> f64 {
        self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// Estimated quantile `q` (0..=1) in milliseconds; `None` without observations.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        quantile_ms(&self.counts(), q)
    }
}

/// The quantile of bucket counts laid out like [`LATENCY_BUCKETS_MS`] plus `+Inf`.
pub fn quantile_ms(counts: &[u64], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
    let mut seen = 0u64;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        if (seen + c) as f64 >= rank {
            let lower = if i == 0 { 0.0 } else { LATENCY_BUCKETS_MS[i - 1] };
            let Some(&upper) = LATENCY_BUCKETS_MS.get(i) else { return Some(lower) };
            let within = (rank - seen as f64) / c as f64;
            return Some(lower + (upper - lower) * within);
        }
        seen += c;
    }
    LATENCY_BUCKETS_MS.last().copied()
}

/// One app's traffic through the router since the server started.
#[derive(Debug, Default)]
pub struct AppStats {
    /// Responses by status class: 1xx … 5xx.
    pub responses: [AtomicU64; 5],
    pub bytes_out: AtomicU64,
    pub active: AtomicI64,
    pub latency: Histogram,
}

impl AppStats {
    pub(crate) fn record(&self, status: u16, bytes: u64, service: Duration) {
        let class = usize::from((status / 100).clamp(1, 5)) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
        self.latency.observe(service);
    }

    pub fn requests(&self) -> u64 {
        self.responses.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// Router-wide counters.
#[derive(Debug, Default)]
pub struct RouterStats {
    /// Requests for a host no app answers to.
    pub unknown_host: AtomicU64,
    pub connections: AtomicU64,
}

/// One finished request, as the access log sees it.
#[derive(Debug)]
pub struct AccessEntry<'a> {
    pub app: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub host: &'a str,
    pub status: u16,
    pub bytes: u64,
    /// Time spent before the backend that answered got the request (routing, refused backends).
    pub connect: Duration,
    /// Time from handing the request to that backend until the response was sent.
    pub service: Duration,
    pub request_id: &'a str,
    pub client_ip: IpAddr,
    /// The instance that answered (`web.1`), or `None` when the router answered itself.
    pub dyno: Option<&'a str>,
    /// Heroku-style error code when the router answered itself (`H10`, `H13`, …).
    pub error: Option<(&'static str, &'static str)>,
}

impl AccessEntry<'_> {
    /// The entry as Heroku's router line: `at=info method=GET path="/" host=web1.localhost
    /// request_id=… fwd="10.0.0.1" dyno=web.1 connect=0ms service=3ms status=200 bytes=1234
    /// protocol=http` (`at=error code=H14 desc="…"` when the router answered itself).
    pub fn heroku_line(&self) -> String {
        let mut s = String::with_capacity(256);
        match self.error {
            Some((code, desc)) => {
                let _ = write!(s, "at=error code={code} desc=\"{desc}\" ");
            }
            None => s.push_str("at=info "),
        }
        let _ = write!(
            s,
            "method={} path=\"{}\" host={} request_id={} fwd=\"{}\" dyno={} connect={}ms service={}ms status={} bytes={} protocol=http",
            self.method,
            self.path.replace('"', "%22"),
            self.host,
            self.request_id,
            self.client_ip,
            self.dyno.unwrap_or(""),
            self.connect.as_millis(),
            self.service.as_millis(),
            self.status,
            self.bytes
        );
        s
    }
}

/// Receives one entry per proxied request; must not block (it runs on the request path).
pub trait AccessLog: Send + Sync + 'static {
    fn log(&self, entry: &AccessEntry<'_>);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heroku_router_line() {
        let mut e = AccessEntry {
            app: "web1",
            method: "GET",
            path: "/a?b=\"c\"",
            host: "web1.localhost",
            status: 200,
            bytes: 13,
            connect: Duration::from_micros(1500),
            service: Duration::from_millis(18),
            request_id: "8601b555-6a83-4c12-8269-97c8e32cdb22",
            client_ip: "204.204.204.204".parse().unwrap(),
            dyno: Some("web.1"),
            error: None,
        };
        assert_eq!(
            e.heroku_line(),
            "at=info method=GET path=\"/a?b=%22c%22\" host=web1.localhost request_id=8601b555-6a83-4c12-8269-97c8e32cdb22 \
             fwd=\"204.204.204.204\" dyno=web.1 connect=1ms service=18ms status=200 bytes=13 protocol=http"
        );
        e.error = Some(("H14", "No web processes running"));
        e.dyno = None;
        e.status = 503;
        let s = e.heroku_line();
        assert!(s.starts_with("at=error code=H14 desc=\"No web processes running\" method=GET"), "{s}");
        assert!(s.contains(" dyno= connect="), "{s}");
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let h = Histogram::default();
        assert_eq!(h.quantile_ms(0.5), None);
        for _ in 0..90 {
            h.observe(Duration::from_micros(3000)); // (2.5, 5] bucket
        }
        for _ in 0..10 {
            h.observe(Duration::from_millis(200)); // (100, 250]
        }
        let p50 = h.quantile_ms(0.5).unwrap();
        assert!((2.5..=5.0).contains(&p50), "{p50}");
        let p95 = h.quantile_ms(0.95).unwrap();
        assert!((100.0..=250.0).contains(&p95), "{p95}");
        let p99 = h.quantile_ms(0.99).unwrap();
        assert!(p99 > p95 && p99 <= 250.0, "{p99}");
        assert!((h.sum_seconds() - (0.27 + 2.0)).abs() < 1e-6);
    }

    #[test]
    fn overflow_bucket_reports_its_lower_bound() {
        let h = Histogram::default();
        h.observe(Duration::from_secs(60));
        assert_eq!(h.quantile_ms(0.99), Some(30000.0));
    }

    #[test]
    fn status_classes() {
        let s = AppStats::default();
        s.record(200, 10, Duration::from_millis(1));
        s.record(404, 5, Duration::from_millis(1));
        s.record(503, 0, Duration::from_millis(1));
        s.record(204, 0, Duration::from_millis(1));
        let counts: Vec<u64> = s.responses.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        assert_eq!(counts, [0, 2, 0, 1, 1]);
        assert_eq!(s.bytes_out.load(Ordering::Relaxed), 15);
        assert_eq!(s.requests(), 4);
    }
}
