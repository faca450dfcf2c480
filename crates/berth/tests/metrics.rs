//! `GET /metrics` (Prometheus text), `berth metrics` and the usage columns of `berth ps`.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::{log_app_image, wait_for, TestServer};

/// Parses Prometheus text: `name{labels} value` lines under declared families.
/// Panics on anything malformed; returns `series → value`.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut declared = std::collections::HashSet::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            declared.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line}");
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line}"));
        let name = series.split('{').next().unwrap();
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        assert!(declared.contains(name) || declared.contains(family), "undeclared: {line}");
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            let inner = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}')).expect("braced labels");
            for pair in inner.split("\",").map(|p| p.trim_end_matches('"')) {
                let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label in {line}"));
                assert!(!k.is_empty() && !v.contains('"'), "{line}");
            }
        }
        assert!(samples.insert(series.to_string(), value).is_none(), "duplicate series {series}");
    }
    samples
}

fn scrape(server: &TestServer, token: Option<&str>) -> (u16, String) {
    let client = reqwest::blocking::Client::new();
    let mut req = client.get(format!("{}/metrics", server.api_url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

#[test]
fn metrics_move_with_traffic() {
    let server = TestServer::start();
    assert_eq!(scrape(&server, None).0, 401, "metrics need a token");
    server.cli_ok(&["apps:create", "metered"]);
    server.cli_ok(&["deploy", "-a", "metered", "--image", log_app_image()]);
    wait_for("metered to answer", Duration::from_secs(60), || {
        (server.get("metered.localhost", "/").0 == 200).then_some(())
    });

    let (status, text) = scrape(&server, Some(&server.token));
    assert_eq!(status, 200);
    let before = parse(&text);
    let ok = r#"berth_router_requests_total{app="metered",status="2xx"}"#;
    let count = r#"berth_router_request_duration_seconds_count{app="metered"}"#;
    let bytes = r#"berth_router_response_bytes_total{app="metered"}"#;
    assert!(before[ok] >= 1.0, "{text}");

    for i in 0..20 {
        assert_eq!(server.get("metered.localhost", &format!("/n/{i}")).0, 200);
    }
    assert_eq!(server.get("nobody.localhost", "/").0, 404);
    let after = parse(&scrape(&server, Some(&server.token)).1);
    assert_eq!(after[ok] - before[ok], 20.0);
    assert_eq!(after[count] - before[count], 20.0);
    assert!(after[bytes] > before[bytes] + 20.0 * 20.0, "bytes move");
    assert_eq!(
        after["berth_router_unknown_host_requests_total"],
        before["berth_router_unknown_host_requests_total"] + 1.0
    );
    let inf = r#"berth_router_request_duration_seconds_bucket{app="metered",le="+Inf"}"#;
    assert_eq!(after[inf], after[count], "the +Inf bucket counts every request");
    assert_eq!(after["berth_apps"], 1.0);

    // Instance samples: in /metrics, `ps --json` and `berth metrics`.
    let samples = wait_for("an instance sample", Duration::from_secs(30), || {
        let m = parse(&scrape(&server, Some(&server.token)).1);
        m.contains_key(r#"berth_instance_memory_bytes{app="metered",dyno="web.1"}"#).then_some(m)
    });
    assert!(samples[r#"berth_instance_memory_bytes{app="metered",dyno="web.1"}"#] > 1_000_000.0);
    assert_eq!(samples[r#"berth_instance_memory_limit_bytes{app="metered",dyno="web.1"}"#], 512.0 * 1024.0 * 1024.0);
    let ps = server.cli_json(&["ps", "-a", "metered"]);
    let usage = &ps[0]["usage"];
    assert!(usage["memory_bytes"].as_u64().unwrap() > 1_000_000, "{ps}");
    assert_eq!(usage["memory_limit_bytes"].as_u64(), Some(512 * 1024 * 1024));
    let table = server.cli_ok(&["ps", "-a", "metered"]);
    assert!(table.contains("CPU") && table.contains("/ 512 MiB"), "{table}");
    let summary = server.cli_ok(&["metrics", "-a", "metered"]);
    assert!(summary.contains("Requests:") && summary.contains("2xx: 2"), "{summary}");
    assert!(summary.contains("p50 ") && summary.contains("web.1"), "{summary}");
}
