//! SSH public keys of users (for git over SSH), found by fingerprint.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{new_id, Result, Store, StoreError, User};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKeyRecord {
    pub id: String,
    pub user_id: String,
    pub user_email: String,
    pub fingerprint: String,
    pub public_key: String,
    pub comment: String,
    pub created_at: DateTime<Utc>,
}

const KEY_SELECT: &str = "SELECT k.id, k.user_id, u.email AS user_email, k.fingerprint, k.public_key, k.comment,
     k.created_at FROM ssh_keys k JOIN users u ON u.id = k.user_id";

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<SshKeyRecord> {
    Ok(SshKeyRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        user_email: row.try_get("user_email")?,
        fingerprint: row.try_get("fingerprint")?,
        public_key: row.try_get("public_key")?,
        comment: row.try_get("comment")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Records a key; a fingerprint can belong to one user only (`Conflict`).
    pub async fn add_ssh_key(
        &self,
        user_id: &str,
        fingerprint: &str,
        public_key: &str,
        comment: &str,
    ) -> Result<SshKeyRecord> {
        let _guard = self.write_lock.lock().await;
        let id = new_id();
        sqlx::query(
            "INSERT INTO ssh_keys (id, user_id, fingerprint, public_key, comment, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(fingerprint)
        .bind(public_key)
        .bind(comment)
        .bind(Utc::now())
        .execute(&self.pool)
        .await
        .map_err(|e| crate::conflict_on_unique(e, "That SSH key is already registered.".into()))?;
        drop(_guard);
        self.list_ssh_keys(user_id)
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(|| StoreError::NotFound("ssh key".into()))
    }

    pub async fn list_ssh_keys(&self, user_id: &str) -> Result<Vec<SshKeyRecord>> {
        let rows = sqlx::query(&format!("{KEY_SELECT} WHERE k.user_id = ? ORDER BY k.created_at"))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// The user owning the key with this fingerprint.
    pub async fn user_by_ssh_fingerprint(&self, fingerprint: &str) -> Result<Option<(User, SshKeyRecord)>> {
        let row = sqlx::query(&format!("{KEY_SELECT} WHERE k.fingerprint = ?"))
            .bind(fingerprint)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let key = from_row(&row)?;
        let user = self.user(&key.user_id).await?;
        Ok(Some((user, key)))
    }

    /// Removes one of the user's keys, named by id, fingerprint or comment.
    pub async fn remove_ssh_key(&self, user_id: &str, key: &str) -> Result<SshKeyRecord> {
        let found = self
            .list_ssh_keys(user_id)
            .await?
            .into_iter()
            .find(|k| k.id == key || k.fingerprint == key || (!k.comment.is_empty() && k.comment == key))
            .ok_or_else(|| StoreError::NotFound(format!("ssh key {key}")))?;
        let _guard = self.write_lock.lock().await;
        sqlx::query("DELETE FROM ssh_keys WHERE id = ?").bind(&found.id).execute(&self.pool).await?;
        Ok(found)
    }
}
