//! The JSON shapes of the Berth HTTP API: Heroku Platform API v3 resources, plus
//! a few Berth extensions (marked). Shared by the server and the CLI.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ProcessTypes;

/// Timestamps on the wire: RFC 3339 in UTC, second precision (`2026-11-22T16:05:03Z`).
pub type Timestamp = String;

/// Formats a time the way the Heroku API does.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> Timestamp {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `{"id": "not_found", "message": "..."}`: every error the server returns.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub id: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdName {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdEmail {
    pub id: String,
    pub email: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_login: Option<Timestamp>,
    pub verified: bool,
    pub two_factor_authentication: bool,
    pub allow_tracking: bool,
    pub beta: bool,
    pub sms_number: Option<String>,
    pub default_organization: Option<IdName>,
    pub default_team: Option<IdName>,
    pub delinquent_at: Option<Timestamp>,
    pub suspended_at: Option<Timestamp>,
    pub identity_provider: Option<serde_json::Value>,
    /// Berth extension: platform administrators may do everything.
    #[serde(default)]
    pub admin: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct App {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub released_at: Option<Timestamp>,
    pub web_url: String,
    pub git_url: String,
    pub owner: IdEmail,
    pub region: IdName,
    pub stack: IdName,
    pub build_stack: IdName,
    pub buildpack_provided_description: Option<String>,
    pub maintenance: bool,
    pub repo_size: Option<u64>,
    pub slug_size: Option<u64>,
    pub space: Option<serde_json::Value>,
    pub organization: Option<serde_json::Value>,
    pub team: Option<serde_json::Value>,
    pub internal_routing: Option<bool>,
    pub acm: bool,
    pub archived_at: Option<Timestamp>,
    pub generation: IdName,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateApp {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub stack: Option<String>,
}

/// Config vars: `{"KEY": "value"}`. In a PATCH, `null` removes a key.
pub type ConfigVars = BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Release {
    pub id: String,
    pub version: i64,
    pub description: String,
    pub status: String,
    pub current: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub app: IdName,
    pub user: IdEmail,
    pub slug: Option<IdOnly>,
    pub addon_plan_names: Vec<String>,
    pub artifacts: Vec<serde_json::Value>,
    pub output_stream_url: Option<String>,
    /// Berth extension: the Docker image this release runs (none before the first deploy).
    pub image: Option<String>,
    /// Berth extension: process type → command (empty command: the image's own).
    pub process_types: ProcessTypes,
    /// Berth extension: why a failed release failed (release phase, health check, crash).
    #[serde(default)]
    pub status_reason: Option<String>,
    /// Berth extension: when all its instances first proved healthy (`None` while rolling out).
    #[serde(default)]
    pub deployed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdOnly {
    pub id: String,
}

/// `POST /apps/{app}/releases`. Heroku's rollback shape (`release`), or the Berth
/// extension that deploys a local Docker image (`image`, `process_types`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateRelease {
    /// Roll back to this release (id or version).
    #[serde(default)]
    pub release: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub process_types: Option<ProcessTypes>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Formation {
    pub id: String,
    pub app: IdName,
    pub command: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub quantity: i64,
    pub size: String,
    #[serde(rename = "type")]
    pub process_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dyno {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub process_type: String,
    pub command: String,
    pub size: String,
    pub state: String,
    pub attach_url: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub app: IdName,
    pub release: ReleaseRef,
    /// Berth extension: restarts after crashes (since the server started).
    #[serde(default)]
    pub restarts: u32,
    /// Berth extension: the exit status of its last crash or stop.
    #[serde(default)]
    pub exit_code: Option<i64>,
    /// Berth extension: when it last became healthy.
    #[serde(default)]
    pub up_since: Option<Timestamp>,
    /// Berth extension: resource use at the last sample (running instances only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<DynoUsage>,
}

/// Berth extension: an instance's resource use.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DynoUsage {
    /// Percent of one core.
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: Option<u64>,
}

/// Berth extension: `GET /apps/{app}/metrics`, what `berth metrics` prints.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AppMetrics {
    pub app: String,
    /// Responses by status class since the server started: `2xx` → count.
    pub responses: BTreeMap<String, u64>,
    pub requests: u64,
    pub response_bytes: u64,
    pub active_requests: i64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub instances: Vec<InstanceMetrics>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceMetrics {
    pub dyno: String,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: Option<u64>,
    pub restarts: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReleaseRef {
    pub id: String,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
}
