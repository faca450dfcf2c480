//! Collaborators with per-app permissions: Heroku's `/teams/apps/{app}/collaborators`
//! (and the personal-app alias `/apps/{app}/collaborators`). Reading needs view;
//! changing needs manage. The owner is listed with role `owner` and cannot be changed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_core::access::{Permission, Permissions};
use berth_core::api::{timestamp, IdName};
use berth_core::api_access::{Collaborator, CollaboratorUser, CreateCollaborator, PermissionInfo, UpdateCollaborator};
use berth_store::{AppRecord, CollaboratorRecord};

use super::body::ApiJson;
use super::users::find as find_user;
use crate::access::{AppAccess, Manage, View};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// What a collaborator gets when `permissions` is not given (Heroku's personal-app
/// collaborators can deploy and operate but not manage).
const DEFAULT_PERMISSIONS: [Permission; 3] = [Permission::View, Permission::Deploy, Permission::Operate];

fn permission_infos(perms: Permissions) -> Vec<PermissionInfo> {
    perms.iter().map(|p| PermissionInfo { name: p.name().into(), description: p.description().into() }).collect()
}

fn owner_view(app: &AppRecord) -> Collaborator {
    Collaborator {
        id: app.owner_id.clone(),
        app: IdName { id: app.id.clone(), name: app.name.clone() },
        permissions: permission_infos(Permissions::ALL),
        role: "owner".into(),
        user: CollaboratorUser { id: app.owner_id.clone(), email: app.owner_email.clone(), federated: false },
        created_at: timestamp(app.created_at),
        updated_at: timestamp(app.created_at),
    }
}

fn view(c: &CollaboratorRecord) -> ApiResult<Collaborator> {
    let perms = Permissions::parse_list(&c.permissions).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Collaborator {
        id: c.id.clone(),
        app: IdName { id: c.app_id.clone(), name: c.app_name.clone() },
        permissions: permission_infos(perms),
        role: "member".into(),
        user: CollaboratorUser { id: c.user_id.clone(), email: c.user_email.clone(), federated: false },
        created_at: timestamp(c.created_at),
        updated_at: timestamp(c.updated_at),
    })
}

pub async fn list(State(state): State<AppState>, access: AppAccess<View>) -> ApiResult<Json<Vec<Collaborator>>> {
    let mut all = vec![owner_view(&access.app)];
    for c in state.store.list_collaborators(&access.app.id).await? {
        all.push(view(&c)?);
    }
    Ok(Json(all))
}

pub async fn show(
    State(state): State<AppState>,
    access: AppAccess<View>,
    Path((_, user)): Path<(String, String)>,
) -> ApiResult<Json<Collaborator>> {
    let user = find_user(&state, &user).await?;
    if user.id == access.app.owner_id {
        return Ok(Json(owner_view(&access.app)));
    }
    let c = state.store.collaborator(&access.app.id, &user.id).await?;
    view(&c.ok_or_else(|| ApiError::not_found("Couldn't find that collaborator."))?).map(Json)
}

pub async fn create(
    State(state): State<AppState>,
    access: AppAccess<Manage>,
    ApiJson(request): ApiJson<CreateCollaborator>,
) -> ApiResult<(StatusCode, Json<Collaborator>)> {
    if request.user.trim().is_empty() {
        return Err(ApiError::invalid("Name the user to add: {\"user\": \"EMAIL\"}."));
    }
    let perms = match &request.permissions {
        Some(names) => Permissions::parse_names(names)?,
        None => Permissions::grant(DEFAULT_PERMISSIONS),
    };
    let user = find_user(&state, request.user.trim()).await?;
    if user.id == access.app.owner_id {
        return Err(ApiError::invalid(format!(
            "{} owns {} and already has every permission.",
            user.email, access.app.name
        )));
    }
    let c = state.store.put_collaborator(&access.app.id, &user.id, &perms.to_list(), false).await?;
    tracing::info!(app = %access.app.name, user = %user.email, permissions = %perms.to_list(), by = %access.caller.user.email, "collaborator added");
    Ok((StatusCode::CREATED, Json(view(&c)?)))
}

pub async fn update(
    State(state): State<AppState>,
    access: AppAccess<Manage>,
    Path((_, user)): Path<(String, String)>,
    ApiJson(request): ApiJson<UpdateCollaborator>,
) -> ApiResult<Json<Collaborator>> {
    let perms = Permissions::parse_names(&request.permissions)?;
    let user = find_user(&state, &user).await?;
    if user.id == access.app.owner_id {
        return Err(ApiError::invalid("The owner's permissions cannot be changed."));
    }
    let c = state
        .store
        .put_collaborator(&access.app.id, &user.id, &perms.to_list(), true)
        .await
        .map_err(|_| ApiError::not_found("Couldn't find that collaborator."))?;
    tracing::info!(app = %access.app.name, user = %user.email, permissions = %perms.to_list(), by = %access.caller.user.email, "collaborator updated");
    Ok(Json(view(&c)?))
}

pub async fn destroy(
    State(state): State<AppState>,
    access: AppAccess<Manage>,
    Path((_, user)): Path<(String, String)>,
) -> ApiResult<Json<Collaborator>> {
    let user = find_user(&state, &user).await?;
    if user.id == access.app.owner_id {
        return Err(ApiError::invalid("The owner cannot be removed; destroy the app instead."));
    }
    let c = state
        .store
        .collaborator(&access.app.id, &user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("Couldn't find that collaborator."))?;
    state.store.remove_collaborator(&access.app.id, &user.id).await?;
    tracing::info!(app = %access.app.name, user = %user.email, by = %access.caller.user.email, "collaborator removed");
    Ok(Json(view(&c)?))
}
