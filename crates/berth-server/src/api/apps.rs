use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_core::api::{self, CreateApp};
use berth_core::validate_app_name;
use serde_json::{json, Value};

use super::body::ApiJson;
use crate::access::{AppAccess, Manage, View};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::reconcile::labels;
use crate::state::AppState;
use crate::view;

/// The apps the caller can see: all for admins, else owned and shared ones.
pub async fn list(State(state): State<AppState>, caller: CurrentUser) -> ApiResult<Json<Vec<api::App>>> {
    let apps = if caller.user.is_admin {
        state.store.list_apps().await?
    } else {
        state.store.list_apps_for_user(&caller.user.id).await?
    };
    Ok(Json(apps.iter().map(|a| view::app(a, &state.urls)).collect()))
}

/// `GET /users/~/apps` (what `heroku apps` calls): the caller's apps.
pub async fn list_for_user(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(user): Path<String>,
) -> ApiResult<Json<Vec<api::App>>> {
    if user != "~" && user != caller.user.email && user != caller.user.id {
        return Err(ApiError::not_found(format!("Couldn't find that user {user}.")));
    }
    list(State(state), caller).await
}

pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    ApiJson(request): ApiJson<CreateApp>,
) -> ApiResult<(StatusCode, Json<api::App>)> {
    let name = match request.name.filter(|n| !n.is_empty()) {
        Some(name) => name,
        None => generated_name(),
    };
    validate_app_name(&name)?;
    let app = state.store.create_app(&name, &caller.user.id).await?;
    tracing::info!(app = %app.name, user = %caller.user.email, "app created");
    Ok((StatusCode::CREATED, Json(view::app(&app, &state.urls))))
}

/// Heroku-style random names for `apps:create` without a name.
fn generated_name() -> String {
    const WORDS: &[&str] = &["calm", "brisk", "quiet", "bold", "lucid", "amber", "polar", "swift", "misty", "sunny"];
    const NOUNS: &[&str] = &["harbor", "quay", "pier", "dock", "jetty", "wharf", "marina", "anchor", "mooring", "buoy"];
    let id = uuid::Uuid::new_v4();
    let bytes = id.as_bytes();
    let word = WORDS[bytes[0] as usize % WORDS.len()];
    let noun = NOUNS[bytes[1] as usize % NOUNS.len()];
    format!("{word}-{noun}-{:04}", u16::from_be_bytes([bytes[2], bytes[3]]) % 10000)
}

pub async fn show(State(state): State<AppState>, access: AppAccess<View>) -> ApiResult<Json<api::App>> {
    Ok(Json(view::app(&access.app, &state.urls)))
}

pub async fn destroy(State(state): State<AppState>, access: AppAccess<Manage>) -> ApiResult<Json<api::App>> {
    let (app, caller) = (access.app, access.caller);
    state.store.delete_app(&app.id).await?;
    tracing::info!(app = %app.name, user = %caller.user.email, "app destroyed");
    state.logs.remove_app(&app.name, &app.id);
    if let Ok(drains) = state.store.list_drains(None).await {
        state.drains.sync(drains);
    }
    // Desired state is gone; remove what runs now rather than waiting for a pass.
    if let Err(e) = state.reconciler.teardown_app(&app).await {
        tracing::warn!(app = %app.name, error = %e, "teardown incomplete; the reconciler will finish it");
    }
    // What builds left behind: a new app of the same name starts clean.
    let namespace = state.config.namespace.as_str();
    let image_labels = [(labels::IMAGE_NAMESPACE, namespace), (labels::IMAGE_APP, app.name.as_str())];
    if let Err(e) = state.runtime.remove_images(&image_labels).await {
        tracing::warn!(app = %app.name, error = %e, "could not remove the app's images");
    }
    for dir in [crate::git::repo_dir(&state.config.data_dir, &app.name), crate::deploy::cache_dir(&state, &app.name)] {
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(app = %app.name, dir = %dir.display(), error = %e, "could not remove");
            }
        }
    }
    Ok(Json(view::app(&app, &state.urls)))
}

/// Add-ons do not exist in Berth (yet): an honest empty list.
pub async fn addons(access: AppAccess<View>) -> ApiResult<Json<Value>> {
    let _ = access;
    Ok(Json(json!([])))
}

/// The app's built-in hostname (custom domains come later).
pub async fn domains(State(state): State<AppState>, access: AppAccess<View>) -> ApiResult<Json<Value>> {
    let app = access.app;
    let hostname = format!("{}.{}", app.name, state.urls.domain);
    Ok(Json(json!([{
        "id": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, hostname.as_bytes()),
        "app": {"id": app.id, "name": app.name},
        "hostname": hostname,
        "kind": "heroku",
        "cname": null,
        "status": "none",
        "acm_status": null,
        "created_at": berth_core::api::timestamp(app.created_at),
        "updated_at": berth_core::api::timestamp(app.updated_at),
    }])))
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_names_are_valid() {
        for _ in 0..200 {
            let name = super::generated_name();
            assert!(berth_core::validate_app_name(&name).is_ok(), "{name}");
        }
    }
}
