//! `GET/POST /users`, `DELETE /users/{user}`: platform user administration (admins only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_core::api::timestamp;
use berth_core::api_access::{CreateUser, UserInfo};
use berth_core::validate_email;
use berth_store::User;

use super::body::ApiJson;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::passwords;
use crate::state::AppState;

pub fn view(user: &User) -> UserInfo {
    UserInfo {
        id: user.id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        admin: user.is_admin,
        created_at: timestamp(user.created_at),
    }
}

pub async fn list(State(state): State<AppState>, caller: CurrentUser) -> ApiResult<Json<Vec<UserInfo>>> {
    caller.require_admin()?;
    Ok(Json(state.store.list_users().await?.iter().map(view).collect()))
}

pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    ApiJson(request): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserInfo>)> {
    caller.require_admin()?;
    let email = request.email.trim().to_ascii_lowercase();
    validate_email(&email)?;
    passwords::check_policy(&request.password).map_err(ApiError::invalid)?;
    let password = request.password;
    // Hashing takes real CPU time: keep it off the async workers.
    let hash = tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let user = state.store.create_user(&email, request.name.as_deref(), request.admin).await?;
    state.store.set_password_hash(&user.id, &hash).await?;
    tracing::info!(user = %user.email, admin = user.is_admin, by = %caller.user.email, "user created");
    Ok((StatusCode::CREATED, Json(view(&user))))
}

/// Finds a user by email or id (404 otherwise).
pub async fn find(state: &AppState, email_or_id: &str) -> ApiResult<User> {
    let by_email = state.store.user_by_email(&email_or_id.to_ascii_lowercase()).await?;
    match by_email {
        Some(user) => Ok(user),
        None => state.store.user(email_or_id).await.map_err(|_| ApiError::not_found("Couldn't find that user.")),
    }
}

pub async fn destroy(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(user): Path<String>,
) -> ApiResult<Json<UserInfo>> {
    caller.require_admin()?;
    let user = find(&state, &user).await?;
    if user.id == caller.user.id {
        return Err(ApiError::invalid("You cannot remove yourself; another admin can."));
    }
    state.store.delete_user(&user.id).await?;
    tracing::info!(user = %user.email, by = %caller.user.email, "user removed");
    Ok(Json(view(&user)))
}
