//! Health checks: when a new instance counts as healthy (and may take traffic).
//!
//! Without a check an instance is healthy once it accepts TCP on `$PORT`
//! (Heroku's rule). An HTTP check additionally wants `GET path` to answer with
//! `status`. Checks come from `berth checks:set` (per app) or from the
//! `healthchecks` of the source's `app.json` (Dokku's format), in that order.

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// `None`: TCP only.
    #[serde(default)]
    pub path: Option<String>,
    /// The status an HTTP check expects.
    #[serde(default = "default_status")]
    pub status: u16,
    /// Seconds between failed HTTP attempts.
    #[serde(default = "default_interval")]
    pub interval: f64,
    /// Seconds one HTTP attempt may take.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// Failed HTTP attempts (answered, but wrongly or too slowly) before the instance is unhealthy.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Seconds to wait after the port opens before the first HTTP attempt.
    #[serde(default)]
    pub initial_delay: f64,
    /// Seconds an instance may take to become healthy at all.
    #[serde(default = "default_boot_timeout")]
    pub boot_timeout: f64,
}

fn default_status() -> u16 {
    200
}
fn default_interval() -> f64 {
    1.0
}
fn default_timeout() -> f64 {
    5.0
}
fn default_attempts() -> u32 {
    3
}
pub const DEFAULT_BOOT_TIMEOUT_SECS: f64 = 60.0;
fn default_boot_timeout() -> f64 {
    DEFAULT_BOOT_TIMEOUT_SECS
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            path: None,
            status: default_status(),
            interval: default_interval(),
            timeout: default_timeout(),
            attempts: default_attempts(),
            initial_delay: 0.0,
            boot_timeout: default_boot_timeout(),
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum HealthCheckError {
    #[error("invalid health check path {0:?}: it must start with / and contain no spaces or control characters")]
    Path(String),
    #[error("invalid expected status {0}: use an HTTP status between 100 and 599")]
    Status(u16),
    #[error("invalid {name} {value}: use a number of seconds between {min} and {max}")]
    Seconds { name: &'static str, value: f64, min: f64, max: f64 },
    #[error("invalid attempts {0}: use 1 to 100")]
    Attempts(u32),
    #[error("invalid app.json: {0}")]
    AppJson(String),
}

impl HealthCheck {
    /// Checks every field's range; the error says which one is wrong and why.
    pub fn validate(&self) -> Result<(), HealthCheckError> {
        if let Some(path) = &self.path {
            if !path.starts_with('/') || path.len() > 1024 || path.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(HealthCheckError::Path(path.clone()));
            }
        }
        if !(100..=599).contains(&self.status) {
            return Err(HealthCheckError::Status(self.status));
        }
        let seconds = [
            ("interval", self.interval, 0.01, 300.0),
            ("timeout", self.timeout, 0.01, 300.0),
            ("initial delay", self.initial_delay, 0.0, 600.0),
            ("boot timeout", self.boot_timeout, 1.0, 3600.0),
        ];
        for (name, value, min, max) in seconds {
            if !value.is_finite() || value < min || value > max {
                return Err(HealthCheckError::Seconds { name, value, min, max });
            }
        }
        if !(1..=100).contains(&self.attempts) {
            return Err(HealthCheckError::Attempts(self.attempts));
        }
        Ok(())
    }

    /// One line for humans: `GET /health → 200 (3 attempts, 5s timeout), boot timeout 60s`.
    pub fn describe(&self) -> String {
        match &self.path {
            Some(path) => format!(
                "GET {path} expecting {} ({} attempts, {}s apart, {}s timeout), boot timeout {}s",
                self.status, self.attempts, self.interval, self.timeout, self.boot_timeout
            ),
            None => format!("accepts TCP on $PORT, boot timeout {}s", self.boot_timeout),
        }
    }
}

/// Dokku's `app.json` check entry (the fields Berth uses; others are ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppJsonCheck {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    attempts: Option<u32>,
    #[serde(default)]
    timeout: Option<f64>,
    #[serde(default)]
    wait: Option<f64>,
    #[serde(default)]
    initial_delay: Option<f64>,
    #[serde(default)]
    boot_timeout: Option<f64>,
}

/// The `web` startup check declared in an `app.json`, if any:
/// `{"healthchecks": {"web": [{"type": "startup", "path": "/health", "attempts": 3, "timeout": 5, "wait": 1}]}}`.
pub fn parse_app_json_healthcheck(bytes: &[u8]) -> Result<Option<HealthCheck>, HealthCheckError> {
    let doc: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| HealthCheckError::AppJson(format!("not valid JSON: {e}")))?;
    let Some(checks) = doc.get("healthchecks") else { return Ok(None) };
    let Some(web) = checks.get("web") else { return Ok(None) };
    let entries: Vec<AppJsonCheck> = serde_json::from_value(web.clone())
        .map_err(|e| HealthCheckError::AppJson(format!("healthchecks.web must be a list of checks: {e}")))?;
    let Some(entry) = entries.into_iter().find(|c| c.kind.as_deref().unwrap_or("startup") == "startup") else {
        return Ok(None);
    };
    let defaults = HealthCheck::default();
    let check = HealthCheck {
        path: entry.path,
        status: entry.status.unwrap_or(defaults.status),
        interval: entry.wait.unwrap_or(defaults.interval),
        timeout: entry.timeout.unwrap_or(defaults.timeout),
        attempts: entry.attempts.unwrap_or(defaults.attempts),
        initial_delay: entry.initial_delay.unwrap_or(0.0),
        boot_timeout: entry.boot_timeout.unwrap_or(defaults.boot_timeout),
    };
    check.validate()?;
    Ok(Some(check))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_json_startup_check_is_read() {
        let json = br#"{"name":"x","healthchecks":{"web":[
            {"type":"liveness","path":"/live"},
            {"type":"startup","name":"web check","path":"/health","attempts":5,"timeout":2,"wait":0.5,"initialDelay":1}
        ]}}"#;
        let check = parse_app_json_healthcheck(json).unwrap().unwrap();
        assert_eq!(check.path.as_deref(), Some("/health"));
        assert_eq!((check.attempts, check.timeout, check.interval, check.initial_delay), (5, 2.0, 0.5, 1.0));
        assert_eq!(check.status, 200);
    }

    #[test]
    fn app_json_without_checks_is_none() {
        assert_eq!(parse_app_json_healthcheck(br#"{"name":"x"}"#).unwrap(), None);
        assert_eq!(parse_app_json_healthcheck(br#"{"healthchecks":{"worker":[]}}"#).unwrap(), None);
    }

    #[test]
    fn bad_app_json_says_what_is_wrong() {
        assert!(matches!(parse_app_json_healthcheck(b"{nope"), Err(HealthCheckError::AppJson(_))));
        let bad_path = br#"{"healthchecks":{"web":[{"path":"health"}]}}"#;
        assert_eq!(parse_app_json_healthcheck(bad_path), Err(HealthCheckError::Path("health".into())));
        let not_list = br#"{"healthchecks":{"web":{"path":"/"}}}"#;
        assert!(matches!(parse_app_json_healthcheck(not_list), Err(HealthCheckError::AppJson(_))));
    }

    #[test]
    fn validation_bounds() {
        assert!(HealthCheck::default().validate().is_ok());
        let check = HealthCheck { timeout: 0.0, ..Default::default() };
        assert!(matches!(check.validate(), Err(HealthCheckError::Seconds { name: "timeout", .. })));
        let check = HealthCheck { status: 42, ..Default::default() };
        assert_eq!(check.validate(), Err(HealthCheckError::Status(42)));
        let check = HealthCheck { attempts: 0, ..Default::default() };
        assert_eq!(check.validate(), Err(HealthCheckError::Attempts(0)));
        let check = HealthCheck { boot_timeout: f64::NAN, ..Default::default() };
        assert!(check.validate().is_err());
    }
}
