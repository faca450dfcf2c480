use serde_json::{json, Value};

use super::app_path;
use crate::{output, CliError, Client};

pub async fn list(client: &Client, app: &str, json: bool) -> Result<(), CliError> {
    let drains: Vec<Value> = client.get(&format!("{}/log-drains", app_path(app)?)).await?;
    if json {
        output::json(&drains);
        return Ok(());
    }
    if drains.is_empty() {
        println!("{app} has no log drains. Add one with `berth drains:add syslog+tls://HOST:PORT -a {app}`.");
        return Ok(());
    }
    output::header(&format!("{app} Log Drains"));
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let rows = drains
        .iter()
        .map(|d| {
            vec![text(&d["url"]), text(&d["token"]), text(&d["delivered"]), text(&d["dropped"]), text(&d["last_error"])]
        })
        .collect();
    output::table(&["URL", "TOKEN", "DELIVERED", "DROPPED", "LAST ERROR"], rows);
    Ok(())
}

pub async fn add(client: &Client, app: &str, url: &str) -> Result<(), CliError> {
    let drain: Value = client.post(&format!("{}/log-drains", app_path(app)?), &json!({ "url": url })).await?;
    println!("Successfully added drain {}", drain["url"].as_str().unwrap_or(url));
    println!("Token: {}", drain["token"].as_str().unwrap_or("-"));
    Ok(())
}

pub async fn remove(client: &Client, app: &str, drain: &str) -> Result<(), CliError> {
    let encoded: String = drain
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    let removed: Value = client.delete(&format!("{}/log-drains/{encoded}", app_path(app)?)).await?;
    println!("Successfully removed drain {}", removed["url"].as_str().unwrap_or(drain));
    Ok(())
}
