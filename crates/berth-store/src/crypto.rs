//! Config vars at rest: XChaCha20-Poly1305 with a random nonce per value and the
//! owning app's id as associated data (a ciphertext cannot be moved to another app).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::StoreError;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
    /// Keys that may still open old data (during a key rotation); never used to seal.
    fallback: Vec<XChaCha20Poly1305>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    pub fn from_key(key: &[u8; KEY_LEN]) -> Self {
        Self { aead: XChaCha20Poly1305::new(key.into()), fallback: Vec::new() }
    }

    /// This cipher, also opening what `other` sealed (a rotation in progress).
    pub fn with_fallback(mut self, other: &Cipher) -> Self {
        self.fallback.push(other.aead.clone());
        self.fallback.extend(other.fallback.iter().cloned());
        self
    }

    /// A cipher with a fresh random key (tests).
    pub fn random() -> Self {
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self::from_key(&key)
    }

    /// Loads the key file, creating it (mode 0600, 32 random bytes) when absent.
    pub fn load_or_create(path: &Path) -> Result<Self, StoreError> {
        let key_io = |e: std::io::Error| StoreError::Key(format!("{}: {e}", path.display()));
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                    StoreError::Key(format!(
                        "{}: expected {KEY_LEN} bytes, found {}; restore the key from your backup",
                        path.display(),
                        bytes.len()
                    ))
                })?;
                Ok(Self::from_key(&key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create_key_file(path),
            Err(e) => Err(key_io(e)),
        }
    }

    /// Writes a new random key to `path` (which must not exist), mode 0600, synced.
    pub fn create_key_file(path: &Path) -> Result<Self, StoreError> {
        let key_io = |e: std::io::Error| StoreError::Key(format!("{}: {e}", path.display()));
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let mut file =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(key_io)?;
        file.write_all(&key).map_err(key_io)?;
        file.sync_all().map_err(key_io)?;
        Ok(Self::from_key(&key))
    }

    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .aead
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad })
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, StoreError> {
        if sealed.len() < NONCE_LEN {
            return Err(StoreError::Decrypt);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        // AEAD tags tell which key sealed a value: try the current key, then older ones.
        std::iter::once(&self.aead)
            .chain(&self.fallback)
            .find_map(|aead| aead.decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad }).ok())
            .ok_or(StoreError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding_to_aad() {
        let cipher = Cipher::random();
        let sealed = cipher.seal(b"s3cret", b"app-1");
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(cipher.open(&sealed, b"app-1").unwrap(), b"s3cret");
        assert!(cipher.open(&sealed, b"app-2").is_err());
        assert!(Cipher::random().open(&sealed, b"app-1").is_err());
        assert!(cipher.open(&sealed[..10], b"app-1").is_err());
    }

    #[test]
    fn fallback_keys_open_but_never_seal() {
        let (old, new) = (Cipher::random(), Cipher::random());
        let sealed_old = old.seal(b"v", b"a");
        let rotating = new.clone().with_fallback(&old);
        assert_eq!(rotating.open(&sealed_old, b"a").unwrap(), b"v");
        let sealed_new = rotating.seal(b"w", b"a");
        assert!(old.open(&sealed_new, b"a").is_err(), "sealing uses the new key");
        assert_eq!(new.open(&sealed_new, b"a").unwrap(), b"w");
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let first = Cipher::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = Cipher::load_or_create(&path).unwrap();
        let sealed = first.seal(b"x", b"");
        assert_eq!(second.open(&sealed, b"").unwrap(), b"x");
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(Cipher::load_or_create(&path), Err(StoreError::Key(_))));
    }
}
