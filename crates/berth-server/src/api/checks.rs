//! `/apps/{app}/checks`: the web health check new instances must pass before
//! they take traffic (Berth extension; `berth checks`, `checks:set`, `checks:unset`).

use axum::extract::State;
use axum::Json;
use berth_core::health::HealthCheck;
use serde::Serialize;

use super::body::ApiJson;
use crate::access::{AppAccess, Deploy, View};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct ChecksView {
    /// Where the check in force comes from: `app` (checks:set), `app.json`, or `default` (TCP).
    pub source: &'static str,
    pub check: HealthCheck,
    pub description: String,
}

pub async fn show(State(state): State<AppState>, access: AppAccess<View>) -> ApiResult<Json<ChecksView>> {
    current(&state, &access.app).await.map(Json)
}

/// The check in force for `app` and where it comes from.
async fn current(state: &AppState, app: &berth_store::AppRecord) -> ApiResult<ChecksView> {
    let release = state.store.current_release(&app.id).await?;
    let (source, check) =
        state.reconciler.effective_check(app, &release).await.map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(ChecksView { source, description: check.describe(), check })
}

/// Body: a [`HealthCheck`] (`{"path": "/health", "attempts": 3, ...}`); no
/// `path` means TCP. Applies to instances started from now on.
pub async fn update(
    State(state): State<AppState>,
    access: AppAccess<Deploy>,
    ApiJson(check): ApiJson<Option<HealthCheck>>,
) -> ApiResult<Json<ChecksView>> {
    let check = check.ok_or_else(|| ApiError::invalid("Give the check as JSON, e.g. {\"path\": \"/health\"}."))?;
    check.validate().map_err(|e| ApiError::invalid(e.to_string()))?;
    let (app, caller) = (access.app, access.caller);
    state.store.set_app_health_check(&app.id, Some(&check)).await?;
    tracing::info!(app = %app.name, user = %caller.user.email, check = %check.describe(), "health check set");
    Ok(Json(ChecksView { source: "app", description: check.describe(), check }))
}

/// Back to the app.json check, else TCP.
pub async fn remove(State(state): State<AppState>, access: AppAccess<Deploy>) -> ApiResult<Json<ChecksView>> {
    let (app, caller) = (access.app, access.caller);
    state.store.set_app_health_check(&app.id, None).await?;
    tracing::info!(app = %app.name, user = %caller.user.email, "health check removed");
    current(&state, &app).await.map(Json)
}
