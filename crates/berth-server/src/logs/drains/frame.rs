//! RFC 5424 syslog messages with RFC 6587 octet-counting framing, as Heroku's
//! drains send them: `83 <190>1 2026-11-22T16:05:03.123456+00:00 d.TOKEN app web.1 - message`
//! (facility local7, severity info; the drain token in the HOSTNAME field, the
//! source as APP-NAME, the process as PROCID).

use crate::logs::Line;

/// One framed message: `LEN SP MSG`, where LEN counts the bytes of MSG.
pub fn octet_counted(line: &Line, token: &str) -> String {
    let message = format!(
        "<190>1 {}+00:00 {} {} {} - {}",
        line.timestamp.format("%Y-%m-%dT%H:%M:%S%.6f"),
        token,
        line.source.as_str(),
        field(&line.process),
        line.message
    );
    format!("{} {message}", message.len())
}

/// RFC 5424 header fields are printable US-ASCII without spaces, 1–48 chars.
fn field(value: &str) -> String {
    let clean: String = value.chars().filter(|c| c.is_ascii_graphic()).take(48).collect();
    if clean.is_empty() {
        "-".to_string()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::logs::Source;

    #[test]
    fn rfc5424_octet_counted() {
        let ts = DateTime::parse_from_rfc3339("2026-11-22T16:05:03.123456Z").unwrap().with_timezone(&Utc);
        let line =
            Line { timestamp: ts, source: Source::App, process: "web.1".into(), message: "héllo wörld".into() };
        let framed = octet_counted(&line, "d.abc");
        let (len, msg) = framed.split_once(' ').unwrap();
        assert_eq!(msg, "<190>1 2026-11-22T16:05:03.123456+00:00 d.abc app web.1 - héllo wörld");
        assert_eq!(len.parse::<usize>().unwrap(), msg.len(), "the length counts bytes, not characters");
        let odd = Line { process: String::new(), source: Source::Berth, ..line };
        assert!(octet_counted(&odd, "d.abc").contains(" d.abc berth - - "));
    }
}
