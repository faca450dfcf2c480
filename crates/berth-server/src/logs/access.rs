//! Router access lines in Heroku's format, e.g.
//! `berth[router]: at=info method=GET path="/" host=web1.localhost request_id=… fwd="10.0.0.1"
//! dyno=web.1 connect=0ms service=3ms status=200 bytes=1234 protocol=http`.

use std::fmt::Write;

use berth_router::{AccessEntry, AccessLog};

use super::{Line, LogHub, Source};

pub fn format_access(e: &AccessEntry<'_>) -> String {
    let mut s = String::with_capacity(256);
    match e.error {
        Some((code, desc)) => {
            let _ = write!(s, "at=error code={code} desc=\"{desc}\" ");
        }
        None => s.push_str("at=info "),
    }
    let _ = write!(
        s,
        "method={} path=\"{}\" host={} request_id={} fwd=\"{}\" dyno={} connect={}ms service={}ms status={} bytes={} protocol=http",
        e.method,
        e.path.replace('"', "%22"),
        e.host,
        e.request_id,
        e.client_ip,
        e.dyno.unwrap_or(""),
        e.connect.as_millis(),
        e.service.as_millis(),
        e.status,
        e.bytes
    );
    s
}

impl AccessLog for LogHub {
    fn log(&self, entry: &AccessEntry<'_>) {
        self.push(entry.app, Line::new(Source::Berth, "router", format_access(entry)));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
            format_access(&e),
            "at=info method=GET path=\"/a?b=%22c%22\" host=web1.localhost request_id=8601b555-6a83-4c12-8269-97c8e32cdb22 \
             fwd=\"204.204.204.204\" dyno=web.1 connect=1ms service=18ms status=200 bytes=13 protocol=http"
        );
        e.error = Some(("H14", "No web processes running"));
        e.dyno = None;
        e.status = 503;
        let s = format_access(&e);
        assert!(s.starts_with("at=error code=H14 desc=\"No web processes running\" method=GET"), "{s}");
        assert!(s.contains(" dyno= connect="), "{s}");
    }
}
