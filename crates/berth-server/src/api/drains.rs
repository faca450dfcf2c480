//! `/apps/{app}/log-drains` (Heroku's Log Drain resource), with Berth's delivery
//! counters (`delivered`, `dropped`, `last_error`) added to each drain.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_store::DrainRecord;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::access::{AppAccess, Manage, View};
use crate::error::{ApiError, ApiResult};
use crate::logs::drains::Target;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct CreateDrain {
    pub url: String,
}

fn view(state: &AppState, d: &DrainRecord) -> Value {
    let counters = state.drains.counters_of(&d.id);
    let load = |f: fn(&crate::logs::drains::Counters) -> u64| counters.as_deref().map(f).unwrap_or(0);
    let created = berth_core::api::timestamp(d.created_at);
    json!({
        "id": d.id,
        "url": d.url,
        "token": d.token,
        "addon": null,
        "app": {"name": d.app_name},
        "created_at": created,
        "updated_at": created,
        "delivered": load(|c| c.delivered.load(std::sync::atomic::Ordering::Relaxed)),
        "dropped": load(|c| c.dropped.load(std::sync::atomic::Ordering::Relaxed)),
        "last_error": counters.and_then(|c| c.last_error()),
    })
}

async fn resync(state: &AppState) -> ApiResult<()> {
    state.drains.sync(state.store.list_drains(None).await?);
    Ok(())
}

pub async fn list(State(state): State<AppState>, access: AppAccess<View>) -> ApiResult<Json<Vec<Value>>> {
    let app = access.app.clone();
    let drains = state.store.list_drains(Some(&app.id)).await?;
    Ok(Json(drains.iter().map(|d| view(&state, d)).collect()))
}

pub async fn show(
    State(state): State<AppState>,
    access: AppAccess<View>,
    Path((_, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let app = access.app.clone();
    let drains = state.store.list_drains(Some(&app.id)).await?;
    drains
        .iter()
        .find(|d| d.id == key || d.url == key || d.token == key)
        .map(|d| Json(view(&state, d)))
        .ok_or_else(|| ApiError::not_found(format!("Couldn't find that log drain ({key}).")))
}

pub async fn create(
    State(state): State<AppState>,
    access: AppAccess<Manage>,
    Json(body): Json<CreateDrain>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let app = access.app.clone();
    let url = body.url.trim();
    Target::parse(url).map_err(ApiError::invalid)?;
    let drain = state.store.add_drain(&app.id, url).await?;
    resync(&state).await?;
    tracing::info!(app = %app.name, drain = %drain.id, user = %access.caller.user.email, "log drain added");
    state.logs.platform(&app.name, "api", format!("Add log drain by user {}", access.caller.user.email));
    Ok((StatusCode::CREATED, Json(view(&state, &drain))))
}

pub async fn delete(
    State(state): State<AppState>,
    access: AppAccess<Manage>,
    Path((_, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let app = access.app.clone();
    let drain = state.store.remove_drain(&app.id, &key).await.map_err(|e| match e {
        berth_store::StoreError::NotFound(_) => ApiError::not_found(format!("Couldn't find that log drain ({key}).")),
        other => other.into(),
    })?;
    let shown = view(&state, &drain);
    resync(&state).await?;
    tracing::info!(app = %app.name, drain = %drain.id, user = %access.caller.user.email, "log drain removed");
    state.logs.platform(&app.name, "api", format!("Remove log drain by user {}", access.caller.user.email));
    Ok(Json(shown))
}
