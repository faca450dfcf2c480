//! Collaborators: per-app permission grants (the owner's are implicit).

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{new_id, AppRecord, Result, Store, StoreError, APP_SELECT};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollaboratorRecord {
    pub id: String,
    pub app_id: String,
    pub app_name: String,
    pub user_id: String,
    pub user_email: String,
    /// Comma list, e.g. `view,deploy` (parsed by `berth_core::access::Permissions`).
    pub permissions: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLLABORATOR_SELECT: &str =
    "SELECT c.id, c.app_id, a.name AS app_name, c.user_id, u.email AS user_email, c.permissions, c.created_at,
     c.updated_at FROM app_collaborators c JOIN apps a ON a.id = c.app_id JOIN users u ON u.id = c.user_id";

impl CollaboratorRecord {
    fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            app_id: row.try_get("app_id")?,
            app_name: row.try_get("app_name")?,
            user_id: row.try_get("user_id")?,
            user_email: row.try_get("user_email")?,
            permissions: row.try_get("permissions")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl Store {
    /// The user's grant on the app, if they are a collaborator.
    pub async fn collaborator(&self, app_id: &str, user_id: &str) -> Result<Option<CollaboratorRecord>> {
        let row = sqlx::query(&format!("{COLLABORATOR_SELECT} WHERE c.app_id = ? AND c.user_id = ?"))
            .bind(app_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(CollaboratorRecord::from_row).transpose()
    }

    pub async fn list_collaborators(&self, app_id: &str) -> Result<Vec<CollaboratorRecord>> {
        let rows = sqlx::query(&format!("{COLLABORATOR_SELECT} WHERE c.app_id = ? ORDER BY u.email"))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(CollaboratorRecord::from_row).collect()
    }

    /// Adds a collaborator (`Conflict` if already one) or, with `update`, changes
    /// an existing grant (`NotFound` if none).
    pub async fn put_collaborator(
        &self,
        app_id: &str,
        user_id: &str,
        permissions: &str,
        update: bool,
    ) -> Result<CollaboratorRecord> {
        let _guard = self.write_lock.lock().await;
        let now = Utc::now();
        if update {
            let done = sqlx::query(
                "UPDATE app_collaborators SET permissions = ?, updated_at = ? WHERE app_id = ? AND user_id = ?",
            )
            .bind(permissions)
            .bind(now)
            .bind(app_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("collaborator".into()));
            }
        } else {
            sqlx::query(
                "INSERT INTO app_collaborators (id, app_id, user_id, permissions, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(new_id())
            .bind(app_id)
            .bind(user_id)
            .bind(permissions)
            .bind(now)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| crate::conflict_on_unique(e, "That user is already a collaborator on this app.".into()))?;
        }
        drop(_guard);
        self.collaborator(app_id, user_id).await?.ok_or_else(|| StoreError::NotFound("collaborator".into()))
    }

    pub async fn remove_collaborator(&self, app_id: &str, user_id: &str) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        let done = sqlx::query("DELETE FROM app_collaborators WHERE app_id = ? AND user_id = ?")
            .bind(app_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("collaborator".into()));
        }
        Ok(())
    }

    /// Apps the user owns or collaborates on.
    pub async fn list_apps_for_user(&self, user_id: &str) -> Result<Vec<AppRecord>> {
        let rows = sqlx::query(&format!(
            "{APP_SELECT} WHERE a.owner_id = ?
             OR a.id IN (SELECT app_id FROM app_collaborators WHERE user_id = ?) ORDER BY a.name"
        ))
        .bind(user_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(AppRecord::from_row).collect()
    }
}
