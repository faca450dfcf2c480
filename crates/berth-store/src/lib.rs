//! Persistence for Berth: users, tokens, apps, releases, formation, config vars.
//!
//! SQLite (WAL) through sqlx with embedded migrations. Config vars are stored only
//! inside releases, encrypted with [`Cipher`]. Writes are serialised by an
//! in-process lock: SQLite has one writer anyway, and read-modify-write operations
//! (next release version, config patch) must not interleave.

mod access;
mod audit;
mod crypto;
mod drains;
mod models;
mod rotate;
mod ssh_keys;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use berth_core::api::ConfigVars;
use berth_core::health::HealthCheck;
use berth_core::ProcessTypes;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use thiserror::Error;
use tokio::sync::Mutex;

pub use access::CollaboratorRecord;
pub use audit::{AuditEvent, NewAuditEvent};
pub use crypto::Cipher;
pub use drains::DrainRecord;
pub use models::{AppRecord, BuildRecord, FormationRecord, NewRelease, ReleaseRecord, User};
pub use ssh_keys::SshKeyRecord;
pub use users::TokenRecord;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("secret key: {0}")]
    Key(String),
    #[error("could not decrypt config vars: the secret key does not match the data")]
    Decrypt,
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Process types that are recorded but never scaled (the release phase).
pub const NON_FORMATION_TYPES: &[&str] = &["release"];

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    cipher: Cipher,
    write_lock: Arc<Mutex<()>>,
}

impl Store {
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path, cipher: Cipher) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        Self::from_pool(pool, cipher).await
    }

    /// A private in-memory database (unit tests).
    pub async fn open_in_memory(cipher: Cipher) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Self::from_pool(pool, cipher).await
    }

    async fn from_pool(pool: SqlitePool, cipher: Cipher) -> Result<Self> {
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool, cipher, write_lock: Arc::new(Mutex::new(())) })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- users and tokens -------------------------------------------------

    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
    }

    pub async fn create_user(&self, email: &str, name: Option<&str>, is_admin: bool) -> Result<User> {
        let _guard = self.write_lock.lock().await;
        let now = Utc::now();
        let user = User {
            id: new_id(),
            email: email.to_string(),
            name: name.map(str::to_string),
            is_admin,
            created_at: now,
            updated_at: now,
        };
        sqlx::query("INSERT INTO users (id, email, name, is_admin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&user.id)
            .bind(&user.email)
            .bind(&user.name)
            .bind(user.is_admin)
            .bind(now)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_on_unique(e, format!("user {email} already exists")))?;
        Ok(user)
    }

    /// Records a token by its hash; returns the token's id.
    pub async fn insert_token(
        &self,
        user_id: &str,
        token_hash: &str,
        description: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<String> {
        let _guard = self.write_lock.lock().await;
        let id = new_id();
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, token_hash, description, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(token_hash)
        .bind(description)
        .bind(Utc::now())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// The user owning an unexpired token with this hash, and the token's id.
    pub async fn user_by_token_hash(&self, token_hash: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.name, u.is_admin, u.created_at, u.updated_at, t.id AS token_id, t.expires_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: Option<DateTime<Utc>> = row.try_get("expires_at")?;
        if expires_at.is_some_and(|t| t <= Utc::now()) {
            return Ok(None);
        }
        Ok(Some((User::from_row(&row)?, row.try_get("token_id")?)))
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT id, email, name, is_admin, created_at, updated_at FROM users WHERE email = ?")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(User::from_row).transpose()
    }

    pub async fn user(&self, id: &str) -> Result<User> {
        let row = sqlx::query("SELECT id, email, name, is_admin, created_at, updated_at FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        User::from_row(&row)
    }

    // ---- apps ---------------------------------------------------------------

    /// Creates an app with its v1 "Initial release" (no image, empty config), as Heroku does.
    pub async fn create_app(&self, name: &str, owner_id: &str) -> Result<AppRecord> {
        let _guard = self.write_lock.lock().await;
        let now = Utc::now();
        let id = new_id();
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO apps (id, name, owner_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&id)
            .bind(name)
            .bind(owner_id)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_on_unique(e, format!("Name {name} is already taken")))?;
        let initial = NewRelease {
            description: "Initial release".into(),
            image: None,
            process_types: ProcessTypes::new(),
            config: ConfigVars::new(),
            user_id: owner_id.to_string(),
            health_check: None,
        };
        self.insert_release(&mut tx, &id, 1, &initial, now).await?;
        tx.commit().await?;
        drop(_guard);
        self.app(&id).await
    }

    pub async fn list_apps(&self) -> Result<Vec<AppRecord>> {
        let rows = sqlx::query(&format!("{APP_SELECT} ORDER BY a.name")).fetch_all(&self.pool).await?;
        rows.iter().map(AppRecord::from_row).collect()
    }

    /// Finds an app by name or id.
    pub async fn app(&self, name_or_id: &str) -> Result<AppRecord> {
        let row = sqlx::query(&format!("{APP_SELECT} WHERE a.name = ? OR a.id = ?"))
            .bind(name_or_id)
            .bind(name_or_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("app {name_or_id}")))?;
        AppRecord::from_row(&row)
    }

    /// Deletes an app and (by cascade) its releases and formation.
    pub async fn delete_app(&self, app_id: &str) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        let done = sqlx::query("DELETE FROM apps WHERE id = ?").bind(app_id).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("app {app_id}")));
        }
        Ok(())
    }

    // ---- releases -------------------------------------------------------------

    pub async fn list_releases(&self, app_id: &str) -> Result<Vec<ReleaseRecord>> {
        let rows = sqlx::query(&format!("{RELEASE_SELECT} WHERE r.app_id = ? ORDER BY r.version"))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| ReleaseRecord::from_row(r, &self.cipher)).collect()
    }

    /// Images of the app's `n` newest releases that have one, newest first (no
    /// config is decrypted: image garbage collection needs only these).
    pub async fn recent_release_images(&self, app_id: &str, n: usize) -> Result<Vec<String>> {
        let limit = i64::try_from(n).unwrap_or(i64::MAX);
        Ok(sqlx::query_scalar(
            "SELECT image FROM releases WHERE app_id = ? AND image IS NOT NULL ORDER BY version DESC LIMIT ?",
        )
        .bind(app_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Finds a release of an app by version (`3`, `v3`) or id.
    pub async fn release(&self, app_id: &str, version_or_id: &str) -> Result<ReleaseRecord> {
        let version: i64 = version_or_id.trim_start_matches(['v', 'V']).parse().unwrap_or(-1);
        let row = sqlx::query(&format!("{RELEASE_SELECT} WHERE r.app_id = ? AND (r.version = ? OR r.id = ?)"))
            .bind(app_id)
            .bind(version)
            .bind(version_or_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("release {version_or_id}")))?;
        ReleaseRecord::from_row(&row, &self.cipher)
    }

    /// The newest successful release: what the app should be running.
    pub async fn current_release(&self, app_id: &str) -> Result<ReleaseRecord> {
        let row = sqlx::query(&format!(
            "{RELEASE_SELECT} WHERE r.app_id = ? AND r.status = 'succeeded' ORDER BY r.version DESC LIMIT 1"
        ))
        .bind(app_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("current release of app {app_id}")))?;
        ReleaseRecord::from_row(&row, &self.cipher)
    }

    /// The newest release that has not failed (succeeded, or pending its release
    /// phase): what the next release builds on, so a config change made while a
    /// deploy's release phase runs keeps the deploy's image.
    pub async fn latest_live_release(&self, app_id: &str) -> Result<ReleaseRecord> {
        let row = sqlx::query(&format!(
            "{RELEASE_SELECT} WHERE r.app_id = ? AND r.status != 'failed' ORDER BY r.version DESC LIMIT 1"
        ))
        .bind(app_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("release of app {app_id}")))?;
        ReleaseRecord::from_row(&row, &self.cipher)
    }

    /// Ends a pending release: `succeeded` makes it current, `failed` never will.
    pub async fn set_release_status(&self, release_id: &str, succeeded: bool) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        sqlx::query("UPDATE releases SET status = ?, updated_at = ? WHERE id = ? AND status = 'pending'")
            .bind(if succeeded { "succeeded" } else { "failed" })
            .bind(Utc::now())
            .bind(release_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a release failed with the reason (a failed release phase or rollout).
    /// A release that already deployed stays as it is: its later crashes are the
    /// instances' business, not the release's.
    pub async fn fail_release(&self, release_id: &str, reason: &str) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        sqlx::query(
            "UPDATE releases SET status = 'failed', status_reason = ?, updated_at = ?
             WHERE id = ? AND status != 'failed' AND deployed_at IS NULL",
        )
        .bind(reason)
        .bind(Utc::now())
        .bind(release_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that a succeeded release's instances all proved healthy.
    pub async fn mark_release_deployed(&self, release_id: &str) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        sqlx::query(
            "UPDATE releases SET deployed_at = ? WHERE id = ? AND status = 'succeeded' AND deployed_at IS NULL",
        )
        .bind(Utc::now())
        .bind(release_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The app's own health check (`checks:set`), overriding the release's app.json.
    pub async fn app_health_check(&self, app_id: &str) -> Result<Option<HealthCheck>> {
        let json: Option<String> = sqlx::query_scalar("SELECT health_check FROM apps WHERE id = ?")
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await?
            .flatten();
        json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
    }

    pub async fn set_app_health_check(&self, app_id: &str, check: Option<&HealthCheck>) -> Result<()> {
        let json = check.map(serde_json::to_string).transpose().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.set_app_setting(app_id, AppSetting::HealthCheck, json).await
    }

    /// Writes one JSON-valued setting column of an app.
    async fn set_app_setting(&self, app_id: &str, setting: AppSetting, json: Option<String>) -> Result<()> {
        let column = match setting {
            AppSetting::HealthCheck => "health_check",
            AppSetting::Buildpacks => "buildpacks",
        };
        let _guard = self.write_lock.lock().await;
        sqlx::query(&format!("UPDATE apps SET {column} = ?, updated_at = ? WHERE id = ?"))
            .bind(json)
            .bind(Utc::now())
            .bind(app_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Release phases interrupted by a server stop: those releases failed.
    pub async fn fail_pending_releases(&self) -> Result<u64> {
        let _guard = self.write_lock.lock().await;
        let done = sqlx::query(
            "UPDATE releases SET status = 'failed', status_reason = 'the server stopped during the release phase', updated_at = ?
             WHERE status = 'pending'",
        )
            .bind(Utc::now())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Creates the next release from the latest live one: `derive` gets that
    /// release and returns the new one. Runs under the write lock, so concurrent
    /// changes (two `config:set`) never lose each other's updates.
    pub async fn create_release_from_current<F>(&self, app_id: &str, derive: F) -> Result<ReleaseRecord>
    where
        F: FnOnce(&ReleaseRecord) -> Result<NewRelease>,
    {
        let _guard = self.write_lock.lock().await;
        let current = self.latest_live_release(app_id).await?;
        let new = derive(&current)?;
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let version: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM releases WHERE app_id = ?")
            .bind(app_id)
            .fetch_one(&mut *tx)
            .await?;
        let id = self.insert_release(&mut tx, app_id, version, &new, now).await?;
        sqlx::query("UPDATE apps SET released_at = ?, updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(now)
            .bind(app_id)
            .execute(&mut *tx)
            .await?;
        for process_type in new.process_types.keys() {
            if NON_FORMATION_TYPES.contains(&process_type.as_str()) {
                continue;
            }
            // Heroku's rule: a new `web` type starts with one instance, others with none.
            let quantity = i64::from(process_type == "web");
            sqlx::query(
                "INSERT INTO formations (id, app_id, process_type, quantity, size, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, process_type) DO NOTHING",
            )
            .bind(new_id())
            .bind(app_id)
            .bind(process_type)
            .bind(quantity)
            .bind(berth_core::size::DEFAULT_SIZE)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        drop(_guard);
        self.release(app_id, &id).await
    }

    async fn insert_release(
        &self,
        tx: &mut sqlx::SqliteConnection,
        app_id: &str,
        version: i64,
        new: &NewRelease,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let id = new_id();
        let config_json = serde_json::to_vec(&new.config).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let process_types =
            serde_json::to_string(&new.process_types).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let health_check = new
            .health_check
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO releases (id, app_id, version, description, status, image, process_types, config, user_id, created_at, updated_at, health_check)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(app_id)
        .bind(version)
        .bind(&new.description)
        .bind(if new.needs_release_phase() { "pending" } else { "succeeded" })
        .bind(&new.image)
        .bind(process_types)
        .bind(self.cipher.seal(&config_json, app_id.as_bytes()))
        .bind(&new.user_id)
        .bind(now)
        .bind(now)
        .bind(health_check)
        .execute(&mut *tx)
        .await?;
        Ok(id)
    }

    // ---- formation ------------------------------------------------------------

    /// The app's formation, limited to the process types of its latest live
    /// release (so a deploy's new types can be scaled while its release phase runs).
    pub async fn list_formation(&self, app_id: &str) -> Result<Vec<FormationRecord>> {
        let current = self.latest_live_release(app_id).await?;
        let rows = sqlx::query(&format!("{FORMATION_SELECT} WHERE app_id = ? ORDER BY process_type"))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?;
        let all: Vec<FormationRecord> = rows.iter().map(FormationRecord::from_row).collect::<Result<_>>()?;
        Ok(all.into_iter().filter(|f| current.process_types.contains_key(&f.process_type)).collect())
    }

    /// Applies (type, quantity, size) updates atomically; unknown types are NotFound.
    pub async fn update_formation(
        &self,
        app_id: &str,
        updates: &[(String, Option<i64>, Option<String>)],
    ) -> Result<Vec<FormationRecord>> {
        let _guard = self.write_lock.lock().await;
        let known: Vec<String> = self.list_formation(app_id).await?.into_iter().map(|f| f.process_type).collect();
        let mut tx = self.pool.begin().await?;
        let now = Utc::now();
        for (process_type, quantity, size) in updates {
            if !known.contains(process_type) {
                return Err(StoreError::NotFound(format!("process type {process_type}")));
            }
            sqlx::query(
                "UPDATE formations SET quantity = COALESCE(?, quantity), size = COALESCE(?, size), updated_at = ?
                 WHERE app_id = ? AND process_type = ?",
            )
            .bind(quantity)
            .bind(size)
            .bind(now)
            .bind(app_id)
            .bind(process_type)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        drop(_guard);
        let touched: Vec<&String> = updates.iter().map(|(t, _, _)| t).collect();
        Ok(self.list_formation(app_id).await?.into_iter().filter(|f| touched.contains(&&f.process_type)).collect())
    }

    /// Marks instances of one process type (or all) for replacement: `ps:restart`.
    pub async fn bump_restart_generation(&self, app_id: &str, process_type: Option<&str>) -> Result<u64> {
        let _guard = self.write_lock.lock().await;
        let done = sqlx::query(
            "UPDATE formations SET restart_generation = restart_generation + 1, updated_at = ?
             WHERE app_id = ? AND (? IS NULL OR process_type = ?)",
        )
        .bind(Utc::now())
        .bind(app_id)
        .bind(process_type)
        .bind(process_type)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

const BUILD_SELECT: &str =
    "SELECT b.id, b.app_id, a.name AS app_name, b.status, b.source_version, b.output, b.release_id,
     r.version AS release_version, b.user_id, COALESCE(u.email, '') AS user_email, b.created_at, b.updated_at
     FROM builds b JOIN apps a ON a.id = b.app_id LEFT JOIN releases r ON r.id = b.release_id
     LEFT JOIN users u ON u.id = b.user_id";

impl Store {
    // ---- buildpacks ---------------------------------------------------------------

    /// The app's buildpack URLs in order (empty: detect from the built-ins).
    pub async fn app_buildpacks(&self, app_id: &str) -> Result<Vec<String>> {
        let json: String = sqlx::query_scalar("SELECT buildpacks FROM apps WHERE id = ?")
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("app {app_id}")))?;
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    pub async fn set_app_buildpacks(&self, app_id: &str, urls: &[String]) -> Result<()> {
        let json = serde_json::to_string(urls).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.set_app_setting(app_id, AppSetting::Buildpacks, Some(json)).await
    }

    // ---- builds -----------------------------------------------------------------

    pub async fn create_build(&self, app_id: &str, source_version: &str, user_id: &str) -> Result<BuildRecord> {
        let _guard = self.write_lock.lock().await;
        let id = new_id();
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO builds (id, app_id, status, source_version, user_id, created_at, updated_at)
             VALUES (?, ?, 'pending', ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(app_id)
        .bind(source_version)
        .bind(user_id)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        drop(_guard);
        self.build(app_id, &id).await
    }

    /// Records how a build ended: status, full output, and the release it made.
    pub async fn finish_build(&self, id: &str, succeeded: bool, output: &str, release_id: Option<&str>) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        sqlx::query("UPDATE builds SET status = ?, output = ?, release_id = ?, updated_at = ? WHERE id = ?")
            .bind(if succeeded { "succeeded" } else { "failed" })
            .bind(output)
            .bind(release_id)
            .bind(Utc::now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn build(&self, app_id: &str, id: &str) -> Result<BuildRecord> {
        let row = sqlx::query(&format!("{BUILD_SELECT} WHERE b.app_id = ? AND b.id = ?"))
            .bind(app_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("build {id}")))?;
        BuildRecord::from_row(&row)
    }

    pub async fn list_builds(&self, app_id: &str) -> Result<Vec<BuildRecord>> {
        let rows = sqlx::query(&format!("{BUILD_SELECT} WHERE b.app_id = ? ORDER BY b.created_at"))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(BuildRecord::from_row).collect()
    }

    /// Builds left `pending` by a server that stopped mid-build.
    pub async fn fail_interrupted_builds(&self) -> Result<u64> {
        let _guard = self.write_lock.lock().await;
        let done = sqlx::query(
            "UPDATE builds SET status = 'failed', output = output || '\n !     The build was interrupted by a server restart.\n',
             updated_at = ? WHERE status = 'pending'",
        )
        .bind(Utc::now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

pub(crate) const APP_SELECT: &str =
    "SELECT a.id, a.name, a.owner_id, u.email AS owner_email, a.created_at, a.updated_at, a.released_at
     FROM apps a JOIN users u ON u.id = a.owner_id";
/// App settings stored as JSON columns of `apps` (the column names are fixed here, never input).
#[derive(Debug, Clone, Copy)]
enum AppSetting {
    HealthCheck,
    Buildpacks,
}

const RELEASE_SELECT: &str = "SELECT r.id, r.app_id, a.name AS app_name, r.version, r.description, r.status, r.image,
     r.process_types, r.config, r.user_id, COALESCE(u.email, '') AS user_email, r.created_at, r.updated_at,
     r.status_reason, r.deployed_at, r.health_check
     FROM releases r JOIN apps a ON a.id = r.app_id LEFT JOIN users u ON u.id = r.user_id";
const FORMATION_SELECT: &str =
    "SELECT id, app_id, process_type, quantity, size, restart_generation, created_at, updated_at FROM formations";

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn conflict_on_unique(err: sqlx::Error, message: String) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(message),
        _ => StoreError::Database(err),
    }
}

#[cfg(test)]
mod tests;
