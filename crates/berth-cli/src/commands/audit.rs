//! `berth audit [-a APP]`: the audit trail, newest first.

use berth_core::api_access::AuditEvent;

use super::app_path;
use crate::output;
use crate::{CliError, Client};

pub async fn list(client: &Client, app: Option<&str>, num: usize, json: bool) -> Result<(), CliError> {
    let path = match app {
        Some(app) => format!("{}/audit-events?limit={num}", app_path(app)?),
        None => format!("/audit-events?limit={num}"),
    };
    let events: Vec<AuditEvent> = client.get(&path).await?;
    if json {
        output::json(&events);
        return Ok(());
    }
    output::header(&match app {
        Some(app) => format!("{app} Audit Trail"),
        None => "Audit Trail".into(),
    });
    let rows = events
        .iter()
        .map(|e| {
            let who = e.actor.as_ref().and_then(|a| a.email.clone()).unwrap_or_else(|| "(anonymous)".into());
            vec![
                e.created_at.clone(),
                who,
                e.source_ip.clone(),
                e.action.clone(),
                e.app.clone().unwrap_or_else(|| "-".into()),
                e.status.to_string(),
            ]
        })
        .collect();
    output::table(&["TIME", "WHO", "FROM", "ACTION", "APP", "STATUS"], rows);
    Ok(())
}
