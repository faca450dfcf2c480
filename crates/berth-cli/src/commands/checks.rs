//! `checks`, `checks:set`, `checks:unset`: the web health check of an app.

use berth_core::health::HealthCheck;
use clap::Args;
use serde::Deserialize;

use super::app_path;
use crate::output;
use crate::{CliError, Client};

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Path an HTTP GET must answer with --status, e.g. /health
    #[arg(required_unless_present = "tcp")]
    path: Option<String>,
    /// Healthy = accepts TCP connections on $PORT (Heroku's default rule)
    #[arg(long, conflicts_with = "path")]
    tcp: bool,
    /// Expected HTTP status
    #[arg(long, default_value_t = 200)]
    status: u16,
    /// Seconds between failed attempts
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Seconds one attempt may take
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// Failed attempts before the instance counts as unhealthy
    #[arg(long, default_value_t = 3)]
    attempts: u32,
    /// Seconds to wait after the port opens before the first attempt
    #[arg(long, default_value_t = 0.0)]
    initial_delay: f64,
    /// Seconds a new instance may take to become healthy at all
    #[arg(long, default_value_t = berth_core::health::DEFAULT_BOOT_TIMEOUT_SECS)]
    boot_timeout: f64,
}

#[derive(Debug, Deserialize, serde::Serialize)]
struct ChecksView {
    source: String,
    check: HealthCheck,
    description: String,
}

pub async fn show(client: &Client, app: &str, json: bool) -> Result<(), CliError> {
    let view: ChecksView = client.get(&format!("{}/checks", app_path(app)?)).await?;
    if json {
        output::json(&view);
        return Ok(());
    }
    output::header(&format!("{app} Health check"));
    let source = match view.source.as_str() {
        "app" => "set with `berth checks:set`",
        "app.json" => "from the release's app.json",
        _ => "default",
    };
    output::key_values(&[("Check", view.description), ("Source", source.to_string())]);
    Ok(())
}

pub async fn set(client: &Client, app: &str, args: &CheckArgs) -> Result<(), CliError> {
    let check = HealthCheck {
        path: if args.tcp { None } else { args.path.clone() },
        status: args.status,
        interval: args.interval,
        timeout: args.timeout,
        attempts: args.attempts,
        initial_delay: args.initial_delay,
        boot_timeout: args.boot_timeout,
    };
    check.validate().map_err(|e| CliError::new(e.to_string()).hint("see `berth checks:set --help`"))?;
    let view: ChecksView = client.put(&format!("{}/checks", app_path(app)?), &check).await?;
    eprintln!("Health check of {app}: {}", view.description);
    eprintln!("It applies to instances started from now on (deploys, restarts, scaling).");
    Ok(())
}

pub async fn unset(client: &Client, app: &str) -> Result<(), CliError> {
    let view: ChecksView = client.delete(&format!("{}/checks", app_path(app)?)).await?;
    eprintln!("Removed the health check of {app}; now: {}", view.description);
    Ok(())
}
