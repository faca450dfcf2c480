use std::io::Write;

use serde::Deserialize;
use serde_json::json;

use super::app_path;
use crate::{CliError, Client};

#[derive(Deserialize)]
struct LogSession {
    logplex_url: String,
}

/// `berth logs`: recent lines (and with `tail`, new ones as they come).
pub async fn show(
    client: &Client,
    app: &str,
    num: usize,
    tail: bool,
    source: Option<String>,
    dyno: Option<String>,
) -> Result<(), CliError> {
    let body = json!({ "lines": num, "tail": tail, "source": source, "dyno": dyno });
    let session: LogSession = client.post(&format!("{}/log-sessions", app_path(app)?), &body).await?;
    let stdout = std::io::stdout();
    let mut broken = false;
    client
        .stream_text(&session.logplex_url, |chunk| {
            let mut out = stdout.lock();
            if !broken && (out.write_all(chunk.as_bytes()).is_err() || out.flush().is_err()) {
                // `berth logs | head`: the reader left.
                broken = true;
            }
        })
        .await
}
