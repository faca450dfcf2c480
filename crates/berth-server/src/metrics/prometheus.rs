//! `GET /metrics` in the Prometheus text format (version 0.0.4).
//!
//! Label cardinality is bounded by what exists: one `app` series set per app in
//! the route table (apps that are destroyed drop out), one `app`/`dyno` set per
//! running instance, five status classes, fifteen latency buckets. No path,
//! method, client or request id ever becomes a label.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use berth_router::metrics::LATENCY_BUCKETS_MS;
use berth_router::Router;

use super::Sampler;

/// What the server knows about itself.
pub struct ServerFacts {
    pub apps: usize,
    pub log_lines_dropped: u64,
    /// (app, drain id, delivered, dropped)
    pub drains: Vec<(String, String, u64, u64)>,
    /// (app, dyno, restarts after crashes): the reconciler's count (the engine does not restart).
    pub restarts: Vec<(String, String, u32)>,
}

fn escape(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', "\\n")
}

pub fn render(router: &Router, sampler: &Sampler, facts: &ServerFacts) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    };

    family(&mut out, "berth_build_info", "gauge", "Berth version.");
    let _ = writeln!(out, "berth_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    family(&mut out, "berth_apps", "gauge", "Apps on this server.");
    let _ = writeln!(out, "berth_apps {}", facts.apps);
    family(
        &mut out,
        "berth_log_lines_dropped_total",
        "counter",
        "Log lines not stored because the writer fell behind.",
    );
    let _ = writeln!(out, "berth_log_lines_dropped_total {}", facts.log_lines_dropped);

    let stats = router.stats();
    family(&mut out, "berth_router_connections_total", "counter", "Client connections accepted by the router.");
    let _ = writeln!(out, "berth_router_connections_total {}", stats.connections.load(Ordering::Relaxed));
    family(&mut out, "berth_router_unknown_host_requests_total", "counter", "Requests for a host no app answers.");
    let _ = writeln!(out, "berth_router_unknown_host_requests_total {}", stats.unknown_host.load(Ordering::Relaxed));

    let apps = router.app_stats();
    family(&mut out, "berth_router_requests_total", "counter", "Requests by app and response status class.");
    for (app, s) in &apps {
        for (i, c) in s.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "berth_router_requests_total{{app=\"{}\",status=\"{}xx\"}} {}",
                escape(app),
                i + 1,
                c.load(Ordering::Relaxed)
            );
        }
    }
    family(&mut out, "berth_router_response_bytes_total", "counter", "Response body bytes sent, by app.");
    for (app, s) in &apps {
        let _ = writeln!(
            out,
            "berth_router_response_bytes_total{{app=\"{}\"}} {}",
            escape(app),
            s.bytes_out.load(Ordering::Relaxed)
        );
    }
    family(&mut out, "berth_router_active_requests", "gauge", "Requests in flight, by app.");
    for (app, s) in &apps {
        let _ = writeln!(
            out,
            "berth_router_active_requests{{app=\"{}\"}} {}",
            escape(app),
            s.active.load(Ordering::Relaxed).max(0)
        );
    }
    family(&mut out, "berth_router_request_duration_seconds", "histogram", "Time to serve a request, by app.");
    for (app, s) in &apps {
        let app = escape(app);
        let counts = s.latency.counts();
        let mut cumulative = 0u64;
        for (i, c) in counts.iter().enumerate() {
            cumulative += c;
            let le = match LATENCY_BUCKETS_MS.get(i) {
                Some(ms) => format!("{}", ms / 1000.0),
                None => "+Inf".to_string(),
            };
            let _ =
                writeln!(out, "berth_router_request_duration_seconds_bucket{{app=\"{app}\",le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "berth_router_request_duration_seconds_sum{{app=\"{app}\"}} {}", s.latency.sum_seconds());
        let _ = writeln!(out, "berth_router_request_duration_seconds_count{{app=\"{app}\"}} {cumulative}");
    }

    let samples = sampler.all();
    let per_instance = |out: &mut String, name: &str, value: &dyn Fn(&berth_runtime::InstanceStats) -> Option<f64>| {
        for s in &samples {
            if let Some(v) = value(&s.stats) {
                let _ = writeln!(out, "{name}{{app=\"{}\",dyno=\"{}\"}} {v}", escape(&s.app), escape(&s.dyno));
            }
        }
    };
    family(&mut out, "berth_instance_cpu_percent", "gauge", "CPU use of an instance, percent of one core.");
    per_instance(&mut out, "berth_instance_cpu_percent", &|s| Some(s.cpu_percent));
    family(&mut out, "berth_instance_memory_bytes", "gauge", "Memory used by an instance.");
    per_instance(&mut out, "berth_instance_memory_bytes", &|s| Some(s.memory_bytes as f64));
    family(&mut out, "berth_instance_memory_limit_bytes", "gauge", "Memory limit of an instance.");
    per_instance(&mut out, "berth_instance_memory_limit_bytes", &|s| s.memory_limit_bytes.map(|l| l as f64));
    family(&mut out, "berth_instance_restarts_total", "counter", "Restarts of an instance after crashes.");
    for (app, dyno, n) in &facts.restarts {
        let _ = writeln!(out, "berth_instance_restarts_total{{app=\"{}\",dyno=\"{}\"}} {n}", escape(app), escape(dyno));
    }

    family(&mut out, "berth_drain_lines_total", "counter", "Log lines delivered to a drain.");
    for (app, id, delivered, _) in &facts.drains {
        let _ =
            writeln!(out, "berth_drain_lines_total{{app=\"{}\",drain=\"{}\"}} {delivered}", escape(app), escape(id));
    }
    family(&mut out, "berth_drain_dropped_total", "counter", "Log lines a drain lost (full queue or given up).");
    for (app, id, _, dropped) in &facts.drains {
        let _ =
            writeln!(out, "berth_drain_dropped_total{{app=\"{}\",drain=\"{}\"}} {dropped}", escape(app), escape(id));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A strict-enough reader of the text format: every sample line is
    /// `name{labels} value` with a declared family, a float value and
    /// well-formed labels; histograms are cumulative and end in +Inf.
    /// (metric name, labels, value)
    type Sample = (String, Vec<(String, String)>, f64);

    pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
        let mut declared = std::collections::HashSet::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').ok_or("bad TYPE")?;
                if !["counter", "gauge", "histogram"].contains(&kind) {
                    return Err(format!("unknown type {kind}"));
                }
                declared.insert(name.to_string());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').ok_or(format!("no value: {line}"))?;
            let value: f64 = value.parse().map_err(|_| format!("bad value: {line}"))?;
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n, l.strip_suffix('}').ok_or(format!("unclosed labels: {line}"))?),
                None => (series, ""),
            };
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                return Err(format!("bad name: {line}"));
            }
            let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
            if !declared.contains(name) && !declared.contains(family) {
                return Err(format!("undeclared family: {line}"));
            }
            let mut parsed = Vec::new();
            let mut rest = labels;
            while !rest.is_empty() {
                let (key, after) = rest.split_once("=\"").ok_or(format!("bad label: {line}"))?;
                let end = after.find('"').ok_or(format!("unterminated label: {line}"))?;
                parsed.push((key.to_string(), after[..end].to_string()));
                rest = after[end + 1..].trim_start_matches(',');
            }
            samples.push((name.to_string(), parsed, value));
        }
        Ok(samples)
    }

    #[test]
    fn renders_valid_prometheus_text() {
        let router = Router::new();
        let mut table = berth_router::RouteTable::new();
        table.insert("a.test", "a", vec![]);
        router.set_routes(table);
        let sampler = Sampler::default();
        let facts = ServerFacts {
            apps: 1,
            log_lines_dropped: 0,
            drains: vec![("a".into(), "d1".into(), 5, 1)],
            restarts: vec![("a".into(), "web.1".into(), 2)],
        };
        let text = render(&router, &sampler, &facts);
        let samples = parse(&text).unwrap();
        let get = |name: &str, label: Option<(&str, &str)>| {
            samples
                .iter()
                .find(|(n, l, _)| n == name && label.is_none_or(|(k, v)| l.iter().any(|(a, b)| a == k && b == v)))
                .map(|s| s.2)
        };
        assert_eq!(get("berth_apps", None), Some(1.0));
        assert_eq!(get("berth_router_requests_total", Some(("status", "2xx"))), Some(0.0));
        assert_eq!(get("berth_router_request_duration_seconds_bucket", Some(("le", "+Inf"))), Some(0.0));
        assert_eq!(get("berth_drain_dropped_total", Some(("drain", "d1"))), Some(1.0));
        assert_eq!(get("berth_instance_restarts_total", Some(("dyno", "web.1"))), Some(2.0));
        assert!(parse("nope 1").is_err(), "undeclared families are rejected");
        assert!(parse("# TYPE x gauge\nx{a=\"1\" 2").is_err());
    }
}
