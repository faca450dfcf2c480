//! `/apps/{app}/checks`: the web health check new instances must pass before
//! they take traffic (Berth extension; `berth checks`, `checks:set`, `checks:unset`).

use axum::extract::{Path, State};
use axum::Json;
use berth_core::health::HealthCheck;
use serde::Serialize;

use super::body::ApiJson;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct ChecksView {
    /// Where the check in force comes from: `app` (checks:set), `app.json`, or `default` (TCP).
    pub source: &'static str,
    pub check: HealthCheck,
    pub description: String,
}

pub async fn show(
    State(state): State<AppState>,
    _caller: CurrentUser,
    Path(name): Path<String>,
) -> ApiResult<Json<ChecksView>> {
    let app = state.app(&name).await?;
    let (source, check) = match state.store.app_health_check(&app.id).await? {
        Some(check) => ("app", check),
        None => match state.store.current_release(&app.id).await?.health_check {
            Some(check) => ("app.json", check),
            None => (
                "default",
                HealthCheck { boot_timeout: state.config.boot_timeout.as_secs_f64(), ..HealthCheck::default() },
            ),
        },
    };
    Ok(Json(ChecksView { source, description: check.describe(), check }))
}

/// Body: a [`HealthCheck`] (`{"path": "/health", "attempts": 3, ...}`); no
/// `path` means TCP. Applies to instances started from now on.
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(name): Path<String>,
    ApiJson(check): ApiJson<Option<HealthCheck>>,
) -> ApiResult<Json<ChecksView>> {
    let check = check.ok_or_else(|| ApiError::invalid("Give the check as JSON, e.g. {\"path\": \"/health\"}."))?;
    check.validate().map_err(|e| ApiError::invalid(e.to_string()))?;
    let app = state.app(&name).await?;
    state.store.set_app_health_check(&app.id, Some(&check)).await?;
    tracing::info!(app = %app.name, user = %caller.user.email, check = %check.describe(), "health check set");
    Ok(Json(ChecksView { source: "app", description: check.describe(), check }))
}

/// Back to the app.json check, else TCP.
pub async fn remove(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(name): Path<String>,
) -> ApiResult<Json<ChecksView>> {
    let app = state.app(&name).await?;
    state.store.set_app_health_check(&app.id, None).await?;
    tracing::info!(app = %app.name, user = %caller.user.email, "health check removed");
    show(State(state), caller, Path(name)).await
}
