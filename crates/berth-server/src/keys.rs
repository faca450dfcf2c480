//! The data dir's lock and the config-var key: rotation re-encrypts every
//! sealed value under a new key.
//!
//! Rotation runs with the server stopped (it holds `DATA/server.lock`); app
//! containers keep running and serving meanwhile, so apps see no downtime, only
//! the API pauses. It is crash-safe: the new key is written to `secret.key.new`
//! first, the database switches in one transaction, then the file is renamed
//! over `secret.key`. A rerun finishes an interrupted rotation.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use berth_store::{Cipher, Store};

use crate::ServerError;

pub const KEY_FILE: &str = "secret.key";
pub const NEW_KEY_FILE: &str = "secret.key.new";
const LOCK_FILE: &str = "server.lock";

/// An exclusive lock on the data dir, held while the value lives.
pub struct DataDirLock {
    _file: File,
}

/// Takes the data dir's lock, or fails when another process (a running server) holds it.
pub fn lock_data_dir(data_dir: &Path) -> Result<DataDirLock, ServerError> {
    let path = data_dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
    // SAFETY: flock on a file descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(ServerError::Locked(data_dir.display().to_string()));
    }
    Ok(DataDirLock { _file: file })
}

/// Refuses to start on a data dir with a half-done rotation.
pub fn check_no_pending_rotation(data_dir: &Path) -> Result<(), ServerError> {
    if data_dir.join(NEW_KEY_FILE).exists() {
        return Err(ServerError::Store(berth_store::StoreError::Key(format!(
            "{} exists: a key rotation was interrupted; finish it with `berth server rotate-key --data-dir {}`",
            data_dir.join(NEW_KEY_FILE).display(),
            data_dir.display()
        ))));
    }
    Ok(())
}

pub struct Rotated {
    pub values: u64,
    pub key_path: PathBuf,
}

/// Re-encrypts every config blob under a fresh key and makes it `secret.key`.
pub async fn rotate(data_dir: &Path) -> Result<Rotated, ServerError> {
    let _lock = lock_data_dir(data_dir)?;
    let key_path = data_dir.join(KEY_FILE);
    let new_path = data_dir.join(NEW_KEY_FILE);
    if !key_path.exists() {
        return Err(ServerError::Store(berth_store::StoreError::Key(format!(
            "{} not found: nothing to rotate (is --data-dir right?)",
            key_path.display()
        ))));
    }
    let old = Cipher::load_or_create(&key_path)?;
    // An interrupted rotation left its new key: reuse it, the data may already use it.
    let new = if new_path.exists() { Cipher::load_or_create(&new_path)? } else { Cipher::create_key_file(&new_path)? };
    let store = Store::open(&data_dir.join("berth.db"), old.with_fallback(&new)).await?;
    let values = store.reencrypt_all(&new).await?;
    store.close().await;
    std::fs::rename(&new_path, &key_path)?;
    File::open(data_dir)?.sync_all()?;
    Ok(Rotated { values, key_path })
}
