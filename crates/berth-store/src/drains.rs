//! Log drains of apps.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainRecord {
    pub id: String,
    pub app_id: String,
    pub app_name: String,
    pub url: String,
    pub token: String,
    pub created_at: DateTime<Utc>,
}

const SELECT: &str =
    "SELECT d.id, d.app_id, a.name AS app_name, d.url, d.token, d.created_at FROM log_drains d JOIN apps a ON a.id = d.app_id";

fn record(row: sqlx::sqlite::SqliteRow) -> Result<DrainRecord> {
    Ok(DrainRecord {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        app_name: row.try_get("app_name")?,
        url: row.try_get("url")?,
        token: row.try_get("token")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Adds a drain; the same URL twice on one app is a conflict.
    pub async fn add_drain(&self, app_id: &str, url: &str) -> Result<DrainRecord> {
        let id = uuid::Uuid::new_v4().to_string();
        let token = format!("d.{}", uuid::Uuid::new_v4());
        let inserted =
            sqlx::query("INSERT INTO log_drains (id, app_id, url, token, created_at) VALUES (?, ?, ?, ?, ?)")
                .bind(&id)
                .bind(app_id)
                .bind(url)
                .bind(&token)
                .bind(Utc::now())
                .execute(self.pool())
                .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!("this app already drains to {url}")))
            }
            Err(e) => return Err(e.into()),
        }
        let row = sqlx::query(&format!("{SELECT} WHERE d.id = ?")).bind(&id).fetch_one(self.pool()).await?;
        record(row)
    }

    /// An app's drains (all apps' with `None`), oldest first.
    pub async fn list_drains(&self, app_id: Option<&str>) -> Result<Vec<DrainRecord>> {
        let rows = match app_id {
            Some(app) => {
                sqlx::query(&format!("{SELECT} WHERE d.app_id = ? ORDER BY d.created_at"))
                    .bind(app)
                    .fetch_all(self.pool())
                    .await?
            }
            None => sqlx::query(&format!("{SELECT} ORDER BY d.created_at")).fetch_all(self.pool()).await?,
        };
        rows.into_iter().map(record).collect()
    }

    /// Removes a drain by id, token or URL; returns it.
    pub async fn remove_drain(&self, app_id: &str, key: &str) -> Result<DrainRecord> {
        let found = sqlx::query(&format!("{SELECT} WHERE d.app_id = ? AND (d.id = ? OR d.token = ? OR d.url = ?)"))
            .bind(app_id)
            .bind(key)
            .bind(key)
            .bind(key)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("drain {key}")))?;
        let drain = record(found)?;
        sqlx::query("DELETE FROM log_drains WHERE id = ?").bind(&drain.id).execute(self.pool()).await?;
        Ok(drain)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Cipher, Store, StoreError};

    #[tokio::test]
    async fn drains_are_added_listed_removed_and_go_with_their_app() {
        let store = Store::open_in_memory(Cipher::random()).await.unwrap();
        let admin = store.create_user("admin@berth.local", None, true).await.unwrap();
        let app = store.create_app("web1", &admin.id).await.unwrap();
        let a = store.add_drain(&app.id, "syslog://logs.example.com:514").await.unwrap();
        assert!(a.token.starts_with("d."));
        assert_eq!(a.app_name, "web1");
        assert!(matches!(
            store.add_drain(&app.id, "syslog://logs.example.com:514").await,
            Err(StoreError::Conflict(_))
        ));
        let b = store.add_drain(&app.id, "https://example.com/logs").await.unwrap();
        assert_eq!(store.list_drains(Some(&app.id)).await.unwrap(), vec![a.clone(), b.clone()]);
        assert_eq!(store.remove_drain(&app.id, "https://example.com/logs").await.unwrap().id, b.id);
        assert!(matches!(store.remove_drain(&app.id, &b.id).await, Err(StoreError::NotFound(_))));
        assert_eq!(store.list_drains(None).await.unwrap().len(), 1);
        store.delete_app(&app.id).await.unwrap();
        assert!(store.list_drains(None).await.unwrap().is_empty());
    }
}
