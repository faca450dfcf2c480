//! Heroku's `/account/keys`: the caller's SSH public keys (git over SSH).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_core::api::timestamp;
use berth_core::api_access::{CreateSshKey, SshKey};
use berth_store::SshKeyRecord;
use russh::keys::PublicKey;

use super::body::ApiJson;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const MAX_KEY_LINE: usize = 16 * 1024;

fn view(k: &SshKeyRecord) -> SshKey {
    SshKey {
        id: k.id.clone(),
        comment: k.comment.clone(),
        email: k.user_email.clone(),
        fingerprint: k.fingerprint.clone(),
        public_key: k.public_key.clone(),
        created_at: timestamp(k.created_at),
        updated_at: timestamp(k.created_at),
    }
}

pub async fn list(State(state): State<AppState>, caller: CurrentUser) -> ApiResult<Json<Vec<SshKey>>> {
    Ok(Json(state.store.list_ssh_keys(&caller.user.id).await?.iter().map(view).collect()))
}

pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    ApiJson(request): ApiJson<CreateSshKey>,
) -> ApiResult<(StatusCode, Json<SshKey>)> {
    let line = request.public_key.trim();
    if line.is_empty() || line.len() > MAX_KEY_LINE || line.contains(['\n', '\r']) {
        return Err(ApiError::invalid("Give one OpenSSH public key line, e.g. the contents of ~/.ssh/id_ed25519.pub."));
    }
    if line.contains("PRIVATE KEY") {
        return Err(ApiError::invalid(
            "That is a private key: send the .pub file, and keep the private key to yourself.",
        ));
    }
    let key = PublicKey::from_openssh(line)
        .map_err(|e| ApiError::invalid(format!("Not an OpenSSH public key ({e}): send e.g. ~/.ssh/id_ed25519.pub.")))?;
    let fingerprint = crate::ssh::fingerprint(&key);
    // Re-encoded by the parser, so what is stored is exactly one well-formed key line.
    let canonical = key.to_openssh().map_err(|e| ApiError::internal(e.to_string()))?;
    let comment: String = key.comment().as_str_lossy().chars().filter(|c| !c.is_control()).take(200).collect();
    let record = state.store.add_ssh_key(&caller.user.id, &fingerprint, &canonical, &comment).await?;
    tracing::info!(user = %caller.user.email, fingerprint = %fingerprint, "ssh key added");
    Ok((StatusCode::CREATED, Json(view(&record))))
}

pub async fn show(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(key): Path<String>,
) -> ApiResult<Json<SshKey>> {
    let keys = state.store.list_ssh_keys(&caller.user.id).await?;
    keys.iter()
        .find(|k| k.id == key || k.fingerprint == key || k.comment == key)
        .map(|k| Json(view(k)))
        .ok_or_else(|| ApiError::not_found("Couldn't find that key."))
}

pub async fn destroy(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(key): Path<String>,
) -> ApiResult<Json<SshKey>> {
    let removed = state.store.remove_ssh_key(&caller.user.id, &key).await?;
    tracing::info!(user = %caller.user.email, fingerprint = %removed.fingerprint, "ssh key removed");
    Ok(Json(view(&removed)))
}
