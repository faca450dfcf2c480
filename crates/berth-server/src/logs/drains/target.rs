//! Drain URLs: `syslog://host:port`, `syslog+tls://host:port`, `https://…` (and
//! `http://…` for drains on a private network).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Syslog { host: String, port: u16, tls: bool },
    Http { url: String },
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| format!("{url:?} has no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        match parsed.scheme() {
            "syslog" | "syslog+tls" => {
                let port = parsed.port().ok_or_else(|| format!("{url:?} needs a port, e.g. syslog://{host}:514"))?;
                Ok(Target::Syslog { host, port, tls: parsed.scheme() == "syslog+tls" })
            }
            "https" | "http" => Ok(Target::Http { url: url.to_string() }),
            other => Err(format!(
                "drains speak syslog://, syslog+tls:// or https://, not {other}:// (e.g. syslog+tls://logs.example.com:6514)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_urls() {
        assert_eq!(
            Target::parse("syslog://logs.example.com:514").unwrap(),
            Target::Syslog { host: "logs.example.com".into(), port: 514, tls: false }
        );
        assert_eq!(
            Target::parse("syslog+tls://127.0.0.1:6514").unwrap(),
            Target::Syslog { host: "127.0.0.1".into(), port: 6514, tls: true }
        );
        assert!(matches!(Target::parse("https://user:pw@example.com/logs?x=1"), Ok(Target::Http { .. })));
        assert!(Target::parse("syslog://example.com").unwrap_err().contains("needs a port"));
        assert!(Target::parse("ftp://example.com").unwrap_err().contains("not ftp://"));
        assert!(Target::parse("not a url").is_err());
    }
}
