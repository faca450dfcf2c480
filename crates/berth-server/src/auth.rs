//! Bearer-token authentication and the first-start admin bootstrap.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use berth_store::{Store, StoreError, User};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

pub const ADMIN_EMAIL: &str = "admin@berth.local";

/// A new random API token: `berth_` + 40 hex characters (160 bits).
pub fn generate_token() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("berth_{}", hex::encode(bytes))
}

/// Tokens are stored as SHA-256 hashes: they are random and long, so a fast
/// hash is enough and keeps authentication cheap.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// On first start: creates the admin user and a token, writes it to
/// `admin.token` (mode 0600) and returns it so it can be printed once.
pub async fn bootstrap_admin(store: &Store, data_dir: &Path) -> Result<Option<String>, StoreError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let admin = store.create_user(ADMIN_EMAIL, Some("Berth admin"), true).await?;
    let token = generate_token();
    store.insert_token(&admin.id, &hash_token(&token), "admin token (first start)", None).await?;
    let path = data_dir.join("admin.token");
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)?;
        writeln!(file, "{token}")
    };
    write().map_err(|e| StoreError::Key(format!("cannot write {}: {e}", path.display())))?;
    Ok(Some(token))
}

/// The authenticated caller. Extracting it rejects the request with 401 when
/// the token is missing, unknown or expired.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub token_id: String,
}

/// Reads a token from `Authorization: Bearer T` or HTTP Basic (password = token,
/// any user name), which is what git and the Heroku CLI's netrc send.
pub fn token_from_header(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string()).filter(|t| !t.is_empty());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_, password) = decoded.split_once(':')?;
        return Some(password.to_string()).filter(|t| !t.is_empty());
    }
    None
}

impl CurrentUser {
    pub fn principal(&self) -> berth_core::access::Principal<'_> {
        berth_core::access::Principal { user_id: &self.user.id, is_admin: self.user.is_admin }
    }

    /// 403 unless the caller is a platform admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.is_admin {
            Ok(())
        } else {
            Err(ApiError::forbidden("Only platform admins may do that."))
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Several extractors of one request (AppAccess, CurrentUser) share one lookup.
        if let Some(cached) = parts.extensions.get::<CurrentUser>() {
            return Ok(cached.clone());
        }
        let caller = authenticate(parts, state).await?;
        if let Some(slot) = parts.extensions.get::<crate::audit::AuditSlot>() {
            slot.set_caller(&caller);
        }
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<CurrentUser, ApiError> {
    let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    authenticate_header(state, header).await
}

/// Resolves an `Authorization` header value to its user (401 when it cannot).
pub async fn authenticate_header(state: &AppState, header: Option<&str>) -> Result<CurrentUser, ApiError> {
    let header = header
        .ok_or_else(|| ApiError::unauthorized("No API token given. Set BERTH_API_TOKEN or run `berth login`."))?;
    let token = token_from_header(header)
        .ok_or_else(|| ApiError::unauthorized("Malformed Authorization header: use `Bearer TOKEN`."))?;
    match state.store.user_by_token_hash(&hash_token(&token)).await? {
        Some((user, token_id)) => Ok(CurrentUser { user, token_id }),
        None => {
            Err(ApiError::unauthorized("Invalid credentials provided: the API token is unknown, revoked or expired."))
        }
    }
}

/// HTTP Basic `user:password` as sent (for logins: email and password).
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let (user, password) = String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.into(), p.into()))?;
    Some((user, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = generate_token();
        assert!(a.starts_with("berth_") && a.len() == 46);
        assert_ne!(a, generate_token());
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), a);
    }

    #[test]
    fn reads_bearer_and_basic() {
        assert_eq!(token_from_header("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(token_from_header("bearer  abc ").as_deref(), Some("abc"));
        // "git:tok" in base64
        assert_eq!(token_from_header("Basic Z2l0OnRvaw==").as_deref(), Some("tok"));
        assert_eq!(token_from_header("Basic Og=="), None, "empty password");
        assert_eq!(token_from_header("Bearer"), None);
        assert_eq!(token_from_header("Token abc"), None);
        assert_eq!(token_from_header("Basic !!!"), None);
    }
}
