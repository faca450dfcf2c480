//! Following a release until it serves (or fails): what `deploy --image` and
//! `releases:rollback` wait for.

use std::time::{Duration, Instant};

use berth_core::api::Release;

use super::app_path;
use crate::{CliError, Client};

/// Longest wait; the server decides within the app's boot timeout.
const MAX_WAIT: Duration = Duration::from_secs(60 * 60);

pub async fn follow(client: &Client, app: &str, version: i64) -> Result<(), CliError> {
    eprint!("Waiting for v{version} to become healthy... ");
    let started = Instant::now();
    loop {
        let release: Release = client
            .get(&format!("{}/releases/v{version}", app_path(app)?))
            .await
            .inspect_err(|_| eprintln!("failed"))?;
        if release.deployed_at.is_some() {
            eprintln!("up ({:.1}s)", started.elapsed().as_secs_f64());
            return Ok(());
        }
        match release.status.as_str() {
            "failed" => {
                eprintln!("failed");
                let reason = release.status_reason.unwrap_or_else(|| "no reason recorded".into());
                let mut lines = reason.lines();
                let first = lines.next().unwrap_or_default().to_string();
                for line in lines {
                    eprintln!("    {line}");
                }
                return Err(CliError::new(format!("v{version} failed: {first}")).hint(format!(
                    "the previous release keeps serving; details: `berth releases:info v{version} -a {app}`"
                )));
            }
            "succeeded" if !release.current => {
                eprintln!("superseded by a newer release");
                return Ok(());
            }
            _ => {}
        }
        if started.elapsed() > MAX_WAIT {
            eprintln!("still rolling out");
            return Err(CliError::new(format!("v{version} is not serving after {}s", MAX_WAIT.as_secs()))
                .hint(format!("check `berth ps -a {app}`")));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}
