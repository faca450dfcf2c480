//! Records as the store hands them out (decrypted, parsed).

use berth_core::api::ConfigVars;
use berth_core::health::HealthCheck;
use berth_core::ProcessTypes;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::{Cipher, Result, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub(crate) fn from_row(row: &SqliteRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            is_admin: row.try_get("is_admin")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRecord {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub owner_email: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
}

impl AppRecord {
    pub(crate) fn from_row(row: &SqliteRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            owner_id: row.try_get("owner_id")?,
            owner_email: row.try_get("owner_email")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            released_at: row.try_get("released_at")?,
        })
    }
}

/// What a caller supplies to make a release; the store assigns id and version.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRelease {
    pub description: String,
    pub image: Option<String>,
    pub process_types: ProcessTypes,
    pub config: ConfigVars,
    pub user_id: String,
    /// The `web` check from the source's app.json.
    pub health_check: Option<HealthCheck>,
}

impl NewRelease {
    /// A release with a `release` process starts `pending`: it becomes current
    /// only after that process ran once and exited 0 (Heroku's release phase).
    pub fn needs_release_phase(&self) -> bool {
        self.image.is_some() && self.process_types.get("release").is_some_and(|c| !c.trim().is_empty())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseRecord {
    pub id: String,
    pub app_id: String,
    pub app_name: String,
    pub version: i64,
    pub description: String,
    pub status: String,
    pub image: Option<String>,
    pub process_types: ProcessTypes,
    pub config: ConfigVars,
    pub user_id: String,
    pub user_email: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Why a failed release failed (release phase, health check, crash).
    pub status_reason: Option<String>,
    /// When its instances first all proved healthy; `None` while rolling out.
    pub deployed_at: Option<DateTime<Utc>>,
    pub health_check: Option<HealthCheck>,
}

impl ReleaseRecord {
    pub(crate) fn from_row(row: &SqliteRow, cipher: &Cipher) -> Result<Self> {
        let app_id: String = row.try_get("app_id")?;
        let sealed: Vec<u8> = row.try_get("config")?;
        let config_json = cipher.open(&sealed, app_id.as_bytes())?;
        let config = serde_json::from_slice(&config_json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let process_types: String = row.try_get("process_types")?;
        Ok(Self {
            id: row.try_get("id")?,
            app_id,
            app_name: row.try_get("app_name")?,
            version: row.try_get("version")?,
            description: row.try_get("description")?,
            status: row.try_get("status")?,
            image: row.try_get("image")?,
            process_types: serde_json::from_str(&process_types).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            config,
            user_id: row.try_get("user_id")?,
            user_email: row.try_get("user_email")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            status_reason: row.try_get("status_reason")?,
            deployed_at: row.try_get("deployed_at")?,
            health_check: row
                .try_get::<Option<String>, _>("health_check")?
                .map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(e.to_string())))
                .transpose()?,
        })
    }

    /// The release derived from this one with only `config` changed.
    pub fn with_config(&self, config: ConfigVars, description: String, user_id: &str) -> NewRelease {
        NewRelease {
            description,
            image: self.image.clone(),
            process_types: self.process_types.clone(),
            config,
            user_id: user_id.to_string(),
            health_check: self.health_check.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormationRecord {
    pub id: String,
    pub app_id: String,
    pub process_type: String,
    pub quantity: i64,
    pub size: String,
    pub restart_generation: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl FormationRecord {
    pub(crate) fn from_row(row: &SqliteRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            app_id: row.try_get("app_id")?,
            process_type: row.try_get("process_type")?,
            quantity: row.try_get("quantity")?,
            size: row.try_get("size")?,
            restart_generation: row.try_get("restart_generation")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRecord {
    pub id: String,
    pub app_id: String,
    pub app_name: String,
    pub status: String,
    pub source_version: String,
    pub output: String,
    pub release_id: Option<String>,
    pub release_version: Option<i64>,
    pub user_id: String,
    pub user_email: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BuildRecord {
    pub(crate) fn from_row(row: &SqliteRow) -> Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            app_id: row.try_get("app_id")?,
            app_name: row.try_get("app_name")?,
            status: row.try_get("status")?,
            source_version: row.try_get("source_version")?,
            output: row.try_get("output")?,
            release_id: row.try_get("release_id")?,
            release_version: row.try_get("release_version")?,
            user_id: row.try_get("user_id")?,
            user_email: row.try_get("user_email")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}
