use berth_core::api::AppMetrics;

use super::app_path;
use crate::{output, CliError, Client};

/// `berth metrics`: the router's view of the app and each instance's resources.
pub async fn show(client: &Client, app: &str, json: bool) -> Result<(), CliError> {
    let m: AppMetrics = client.get(&format!("{}/metrics", app_path(app)?)).await?;
    if json {
        output::json(&m);
        return Ok(());
    }
    let ms = |v: Option<f64>| v.map(|v| format!("{v:.1} ms")).unwrap_or_else(|| "-".into());
    let classes: Vec<String> =
        m.responses.iter().filter(|(_, n)| **n > 0).map(|(class, n)| format!("{class}: {n}")).collect();
    output::header(&format!("{app} Router (since the server started)"));
    output::key_values(&[
        (
            "Requests",
            format!(
                "{}{}",
                m.requests,
                if classes.is_empty() { String::new() } else { format!(" ({})", classes.join(", ")) }
            ),
        ),
        ("In flight", m.active_requests.to_string()),
        ("Latency", format!("p50 {}  p95 {}  p99 {}", ms(m.p50_ms), ms(m.p95_ms), ms(m.p99_ms))),
        ("Sent", output::bytes(m.response_bytes)),
    ]);
    println!();
    output::header(&format!("{app} Instances"));
    if m.instances.is_empty() {
        println!("No running instances (or none sampled yet: samples are taken every few seconds).");
        return Ok(());
    }
    let rows = m
        .instances
        .iter()
        .map(|i| {
            vec![
                i.dyno.clone(),
                format!("{:.1}%", i.cpu_percent),
                output::bytes(i.memory_bytes),
                i.memory_limit_bytes.map(output::bytes).unwrap_or_else(|| "-".into()),
                i.restarts.to_string(),
            ]
        })
        .collect();
    output::table(&["NAME", "CPU", "MEMORY", "LIMIT", "RESTARTS"], rows);
    Ok(())
}
