//! Users' passwords and API tokens (authorizations): listing, revocation.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{Result, Store, StoreError, User};

/// An API token as listed (never the token itself: only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub user_id: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

const USER_COLUMNS: &str = "id, email, name, is_admin, created_at, updated_at";

impl Store {
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows =
            sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email")).fetch_all(&self.pool).await?;
        rows.iter().map(User::from_row).collect()
    }

    /// The user and their password hash (PHC string), by email.
    pub async fn user_with_password(&self, email: &str) -> Result<Option<(User, Option<String>)>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = ?"))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some((User::from_row(&row)?, row.try_get("password_hash")?)))
    }

    pub async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        let done = sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
            .bind(hash)
            .bind(Utc::now())
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user {user_id}")));
        }
        Ok(())
    }

    /// Deletes a user with their tokens and grants. Users owning apps stay: their
    /// apps would be orphaned (destroy or hand them over first).
    pub async fn delete_user(&self, user_id: &str) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM apps WHERE owner_id = ?")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        if owned > 0 {
            return Err(StoreError::Conflict(format!(
                "This user owns {owned} app(s); destroy them first (users:remove keeps apps from being orphaned)."
            )));
        }
        let done = sqlx::query("DELETE FROM users WHERE id = ?").bind(user_id).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user {user_id}")));
        }
        Ok(())
    }

    /// The user's live tokens (not revoked, not expired), oldest first.
    pub async fn list_tokens(&self, user_id: &str) -> Result<Vec<TokenRecord>> {
        let rows = sqlx::query(
            "SELECT id, user_id, description, created_at, expires_at FROM api_tokens
             WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let now = Utc::now();
        let tokens = rows.iter().map(token_from_row).collect::<Result<Vec<_>>>()?;
        Ok(tokens.into_iter().filter(|t| t.expires_at.is_none_or(|e| e > now)).collect())
    }

    /// One of the user's live tokens.
    pub async fn token(&self, user_id: &str, token_id: &str) -> Result<TokenRecord> {
        self.list_tokens(user_id)
            .await?
            .into_iter()
            .find(|t| t.id == token_id)
            .ok_or_else(|| StoreError::NotFound(format!("authorization {token_id}")))
    }

    /// Revokes one of the user's tokens; it stops working at once.
    pub async fn revoke_token(&self, user_id: &str, token_id: &str) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        let done =
            sqlx::query("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL")
                .bind(Utc::now())
                .bind(token_id)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("authorization {token_id}")));
        }
        Ok(())
    }
}

fn token_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<TokenRecord> {
    Ok(TokenRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}
