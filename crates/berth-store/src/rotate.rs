//! Key rotation: every sealed config blob re-encrypted under a new key.

use sqlx::Row;

use crate::{Cipher, Result, Store};

impl Store {
    /// Re-encrypts every release's config with `new`, in one transaction: either
    /// all rows move to the new key or none do. Rows are read with the store's
    /// cipher (which may hold fallback keys). Returns how many rows were sealed.
    pub async fn reencrypt_all(&self, new: &Cipher) -> Result<u64> {
        let _guard = self.write_lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT id, app_id, config FROM releases").fetch_all(&mut *tx).await?;
        let mut count = 0;
        for row in rows {
            let id: String = row.try_get("id")?;
            let app_id: String = row.try_get("app_id")?;
            let sealed: Vec<u8> = row.try_get("config")?;
            let plain = self.cipher.open(&sealed, app_id.as_bytes())?;
            sqlx::query("UPDATE releases SET config = ? WHERE id = ?")
                .bind(new.seal(&plain, app_id.as_bytes()))
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            count += 1;
        }
        tx.commit().await?;
        Ok(count)
    }
}
