//! One log line in Heroku's format: `2026-11-22T16:05:03.123456+00:00 app[web.1]: message`.

use std::fmt;

use chrono::{DateTime, Utc};

/// Who wrote a line: the app's own processes, or the platform (`berth[api]`,
/// `berth[router]`, `berth[web.1]` for lifecycle events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    App,
    Berth,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::App => "app",
            Source::Berth => "berth",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub timestamp: DateTime<Utc>,
    pub source: Source,
    /// `web.1`, `run.2`, `router`, `api`, `build`.
    pub process: String,
    pub message: String,
}

impl Line {
    pub fn new(source: Source, process: &str, message: impl Into<String>) -> Self {
        Self { timestamp: Utc::now(), source, process: process.to_string(), message: message.into() }
    }

    /// Parses a stored line (the [`fmt::Display`] form).
    pub fn parse(text: &str) -> Option<Self> {
        let (ts, rest) = text.split_once(' ')?;
        let timestamp = DateTime::parse_from_rfc3339(ts).ok()?.with_timezone(&Utc);
        let (head, message) = rest.split_once("]: ").or_else(|| rest.strip_suffix("]:").map(|h| (h, "")))?;
        let (source, process) = head.split_once('[')?;
        let source = match source {
            "app" => Source::App,
            "berth" => Source::Berth,
            _ => return None,
        };
        Some(Self { timestamp, source, process: process.to_string(), message: message.to_string() })
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}+00:00 {}[{}]: {}",
            self.timestamp.format("%Y-%m-%dT%H:%M:%S%.6f"),
            self.source.as_str(),
            self.process,
            self.message
        )
    }
}

/// Which lines a reader wants (`--source`, `--ps`/`--dyno`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `app`, `berth` (or Heroku's `heroku`), or `router`.
    pub source: Option<String>,
    /// A process (`web.1`, `router`) or a process type (`web`: every `web.N`).
    pub dyno: Option<String>,
}

impl Filter {
    pub fn matches(&self, line: &Line) -> bool {
        let source_ok = match self.source.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => true,
            Some("app") => line.source == Source::App,
            Some("berth") | Some("heroku") => line.source == Source::Berth,
            Some("router") => line.source == Source::Berth && line.process == "router",
            Some(_) => false,
        };
        let dyno_ok = match self.dyno.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => true,
            Some(d) if d.contains('.') => line.process == d,
            Some(d) => line.process == d || line.process.split_once('.').is_some_and(|(t, _)| t == d),
        };
        source_ok && dyno_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_heroku_and_parses_back() {
        let ts = DateTime::parse_from_rfc3339("2026-11-22T16:05:03.123456789Z").unwrap().with_timezone(&Utc);
        let line = Line { timestamp: ts, source: Source::App, process: "web.1".into(), message: "hi: there".into() };
        let text = line.to_string();
        assert_eq!(text, "2026-11-22T16:05:03.123456+00:00 app[web.1]: hi: there");
        let back = Line::parse(&text).unwrap();
        assert_eq!(back.process, "web.1");
        assert_eq!(back.message, "hi: there");
        assert_eq!(back.source, Source::App);
        assert_eq!(back.timestamp.timestamp_subsec_micros(), 123_456);
        let empty = Line { message: String::new(), ..line };
        assert_eq!(Line::parse(&empty.to_string()).unwrap().message, "");
        assert!(Line::parse("garbage").is_none());
        assert!(Line::parse("2026-11-22T16:05:03+00:00 other[x]: y").is_none());
    }

    #[test]
    fn filters() {
        let web = Line::new(Source::App, "web.1", "x");
        let worker = Line::new(Source::App, "worker.2", "x");
        let router = Line::new(Source::Berth, "router", "x");
        let api = Line::new(Source::Berth, "api", "x");
        let f = |source: Option<&str>, dyno: Option<&str>| Filter {
            source: source.map(str::to_string),
            dyno: dyno.map(str::to_string),
        };
        assert!(f(None, None).matches(&web));
        assert!(f(Some("app"), None).matches(&web) && !f(Some("app"), None).matches(&router));
        assert!(f(Some("router"), None).matches(&router) && !f(Some("router"), None).matches(&api));
        assert!(f(Some("berth"), None).matches(&api) && f(Some("heroku"), None).matches(&router));
        assert!(f(None, Some("web")).matches(&web) && !f(None, Some("web")).matches(&worker));
        assert!(f(None, Some("web.1")).matches(&web) && !f(None, Some("web.2")).matches(&web));
        assert!(f(None, Some("router")).matches(&router));
        assert!(!f(Some("nonsense"), None).matches(&web));
    }
}
