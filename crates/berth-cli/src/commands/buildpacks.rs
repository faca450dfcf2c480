//! `buildpacks`, `buildpacks:set`, `buildpacks:add`, `buildpacks:clear`.

use serde_json::{json, Value};

use super::app_path;
use crate::output;
use crate::{CliError, Client};

async fn current(client: &Client, app: &str) -> Result<Vec<String>, CliError> {
    let list: Vec<Value> = client.get(&format!("{}/buildpack-installations", app_path(app)?)).await?;
    Ok(list.iter().filter_map(|b| b["buildpack"]["url"].as_str().map(str::to_string)).collect())
}

async fn replace(client: &Client, app: &str, urls: &[String]) -> Result<(), CliError> {
    for url in urls {
        berth_core::buildpack::parse_buildpack(url).map_err(|e| CliError::new(e.to_string()))?;
    }
    let updates: Vec<Value> = urls.iter().map(|u| json!({ "buildpack": u })).collect();
    let _: Vec<Value> =
        client.put(&format!("{}/buildpack-installations", app_path(app)?), &json!({ "updates": updates })).await?;
    Ok(())
}

pub async fn list(client: &Client, app: &str) -> Result<(), CliError> {
    let urls = current(client, app).await?;
    if urls.is_empty() {
        println!("{app} has no buildpacks set: the built-ins are detected (python, nodejs, go, static, procfile).");
        return Ok(());
    }
    output::header(&format!("{app} Buildpacks"));
    for (i, url) in urls.iter().enumerate() {
        println!("{}. {url}", i + 1);
    }
    Ok(())
}

pub async fn set(client: &Client, app: &str, url: &str) -> Result<(), CliError> {
    replace(client, app, &[url.to_string()]).await?;
    println!("Buildpack set. Next release on {app} will use {url}.");
    Ok(())
}

pub async fn add(client: &Client, app: &str, url: &str) -> Result<(), CliError> {
    let mut urls = current(client, app).await?;
    if urls.iter().any(|u| u == url) {
        return Err(CliError::new(format!("{url} is already set on {app}")));
    }
    urls.push(url.to_string());
    replace(client, app, &urls).await?;
    println!("Buildpack added. Next release on {app} will use: {}", urls.join(", "));
    Ok(())
}

pub async fn clear(client: &Client, app: &str) -> Result<(), CliError> {
    replace(client, app, &[]).await?;
    println!("Buildpacks cleared. Next release on {app} will detect a built-in buildpack.");
    Ok(())
}
