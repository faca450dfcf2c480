use std::collections::BTreeMap;

use berth_core::api::ConfigVars;

use super::app_path;
use crate::output;
use crate::{CliError, Client};

pub async fn show(client: &Client, app: &str, json: bool, shell: bool) -> Result<(), CliError> {
    let vars: ConfigVars = client.get(&format!("{}/config-vars", app_path(app)?)).await?;
    if json {
        output::json(&vars);
    } else if shell {
        for (k, v) in &vars {
            println!("{k}={}", shell_quote(v));
        }
    } else {
        output::header(&format!("{app} Config Vars"));
        let pairs: Vec<(&str, String)> = vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        output::key_values(&pairs);
    }
    Ok(())
}

fn shell_quote(value: &str) -> String {
    if value.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@".contains(c)) && !value.is_empty() {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

pub async fn get(client: &Client, app: &str, key: &str) -> Result<(), CliError> {
    let vars: ConfigVars = client.get(&format!("{}/config-vars", app_path(app)?)).await?;
    match vars.get(key) {
        Some(value) => {
            println!("{value}");
            Ok(())
        }
        None => {
            Err(CliError::new(format!("{app} has no config var {key}"))
                .hint(format!("`berth config -a {app}` lists them")))
        }
    }
}

pub async fn set(client: &Client, app: &str, pairs: &[String]) -> Result<(), CliError> {
    let mut patch: BTreeMap<String, Option<String>> = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            CliError::new(format!("{pair:?} is not KEY=VALUE")).hint("e.g. `berth config:set GREETING=hi`")
        })?;
        berth_core::validate_config_key(key).map_err(|e| CliError::new(e.to_string()))?;
        patch.insert(key.to_string(), Some(value.to_string()));
    }
    let keys: Vec<&str> = patch.keys().map(String::as_str).collect();
    eprint!("Setting {} and restarting {app}... ", keys.join(", "));
    let _: ConfigVars =
        client.patch(&format!("{}/config-vars", app_path(app)?), &patch).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}

pub async fn unset(client: &Client, app: &str, keys: &[String]) -> Result<(), CliError> {
    let patch: BTreeMap<String, Option<String>> = keys.iter().map(|k| (k.clone(), None)).collect();
    eprint!("Unsetting {} and restarting {app}... ", keys.join(", "));
    let _: ConfigVars =
        client.patch(&format!("{}/config-vars", app_path(app)?), &patch).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}
