use berth_core::api::{CreateRelease, Release};

use super::app_path;
use crate::output;
use crate::{CliError, Client};

async fn fetch_all(client: &Client, app: &str) -> Result<Vec<Release>, CliError> {
    let mut releases: Vec<Release> = client.get(&format!("{}/releases", app_path(app)?)).await?;
    releases.sort_by_key(|r| std::cmp::Reverse(r.version));
    Ok(releases)
}

pub async fn list(client: &Client, app: &str, json: bool, num: usize) -> Result<(), CliError> {
    let mut releases = fetch_all(client, app).await?;
    releases.truncate(num);
    if json {
        output::json(&releases);
        return Ok(());
    }
    output::header(&format!("{app} Releases"));
    let rows = releases
        .iter()
        .map(|r| {
            let marker = if r.current { " (current)" } else { "" };
            vec![
                format!("v{}{marker}", r.version),
                r.description.clone(),
                r.status.clone(),
                r.user.email.clone(),
                output::age(&r.created_at),
            ]
        })
        .collect();
    output::table(&["VERSION", "DESCRIPTION", "STATUS", "BY", "CREATED"], rows);
    Ok(())
}

pub async fn info(client: &Client, app: &str, release: Option<String>, json: bool) -> Result<(), CliError> {
    let release: Release = match release {
        Some(v) => client.get(&format!("{}/releases/{}", app_path(app)?, urlencode(&v))).await?,
        None => fetch_all(client, app)
            .await?
            .into_iter()
            .find(|r| r.current)
            .ok_or_else(|| CliError::new(format!("{app} has no current release")))?,
    };
    if json {
        output::json(&release);
        return Ok(());
    }
    output::header(&format!("Release v{}", release.version));
    let processes: Vec<String> = release
        .process_types
        .iter()
        .map(|(t, c)| if c.is_empty() { format!("{t}: (image default)") } else { format!("{t}: {c}") })
        .collect();
    let status = match (&release.deployed_at, release.status.as_str()) {
        (Some(at), _) => format!("{} (deployed {at})", release.status),
        (None, "succeeded") => "succeeded (rolling out)".to_string(),
        (None, other) => other.to_string(),
    };
    output::key_values(&[
        ("Description", release.description.clone()),
        ("Status", status),
        ("Current", release.current.to_string()),
        ("Image", release.image.clone().unwrap_or_else(|| "none".into())),
        ("Processes", processes.join("; ")),
        ("By", release.user.email.clone()),
        ("When", release.created_at.clone()),
    ]);
    if let Some(reason) = &release.status_reason {
        println!();
        println!("Why it failed:");
        for line in reason.lines() {
            println!("  {line}");
        }
    }
    Ok(())
}

pub async fn rollback(client: &Client, app: &str, release: Option<String>) -> Result<(), CliError> {
    let target = match release {
        Some(v) => v,
        None => {
            let releases = fetch_all(client, app).await?;
            let current = releases.iter().find(|r| r.current).map(|r| r.version).unwrap_or(0);
            let previous = releases
                .iter()
                .find(|r| r.version < current && r.status == "succeeded")
                .ok_or_else(|| CliError::new(format!("{app} has no release before v{current} to roll back to")))?;
            format!("v{}", previous.version)
        }
    };
    eprint!("Rolling back {app} to {target}... ");
    let body = CreateRelease { release: Some(target.clone()), ..Default::default() };
    let release: Release =
        client.post(&format!("{}/releases", app_path(app)?), &body).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done, v{}", release.version);
    super::rollout::follow(client, app, release.version).await
}

fn urlencode(segment: &str) -> String {
    segment.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}
