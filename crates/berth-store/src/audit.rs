//! The audit trail: append-only (no update or delete here, and triggers in the
//! schema refuse them), newest first when listed.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{new_id, Result, Store};

/// One mutating API call. Never holds request bodies: no secret can land here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub token_id: Option<String>,
    pub source_ip: String,
    pub method: String,
    /// The request path without the query string.
    pub path: String,
    /// A short name, e.g. `config-vars.update`.
    pub action: String,
    pub app: Option<String>,
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub event: NewAuditEvent,
}

impl Store {
    pub async fn append_audit(&self, event: &NewAuditEvent) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        sqlx::query(
            "INSERT INTO audit_events (id, created_at, user_id, user_email, token_id, source_ip, method, path, action,
             app, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new_id())
        .bind(Utc::now())
        .bind(&event.user_id)
        .bind(&event.user_email)
        .bind(&event.token_id)
        .bind(&event.source_ip)
        .bind(&event.method)
        .bind(&event.path)
        .bind(&event.action)
        .bind(&event.app)
        .bind(i64::from(event.status))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` events, of one app (by name) or all.
    pub async fn list_audit(&self, app: Option<&str>, limit: i64) -> Result<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT id, created_at, user_id, user_email, token_id, source_ip, method, path, action, app, status
             FROM audit_events WHERE (?1 IS NULL OR app = ?1) ORDER BY seq DESC LIMIT ?2",
        )
        .bind(app)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let status: i64 = row.try_get("status")?;
                Ok(AuditEvent {
                    id: row.try_get("id")?,
                    created_at: row.try_get("created_at")?,
                    event: NewAuditEvent {
                        user_id: row.try_get("user_id")?,
                        user_email: row.try_get("user_email")?,
                        token_id: row.try_get("token_id")?,
                        source_ip: row.try_get("source_ip")?,
                        method: row.try_get("method")?,
                        path: row.try_get("path")?,
                        action: row.try_get("action")?,
                        app: row.try_get("app")?,
                        status: u16::try_from(status).unwrap_or(0),
                    },
                })
            })
            .collect()
    }
}
