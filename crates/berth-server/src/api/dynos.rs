use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_core::api;
use serde_json::{json, Value};

use crate::access::{AppAccess, Operate, View};
use crate::error::{ApiError, ApiResult};
use crate::reconcile::labels;
use crate::state::AppState;
use crate::view;

pub async fn list(State(state): State<AppState>, access: AppAccess<View>) -> ApiResult<Json<Vec<api::Dyno>>> {
    let app = access.app;
    let releases = state.store.list_releases(&app.id).await?;
    let formation = state.store.list_formation(&app.id).await?;
    let instances = state.reconciler.instances(&app).await.map_err(|e| ApiError::internal(e.to_string()))?;
    let mut dynos: Vec<api::Dyno> = instances
        .iter()
        .map(|status| {
            let mut dyno = view::dyno(status, &app, &releases, &formation);
            crate::oneoff::decorate(&mut dyno, &status.instance);
            dyno.usage = state.sampler.get(&status.instance.id).map(crate::metrics::usage);
            dyno
        })
        .collect();
    dynos.sort_by(|a, b| {
        (&a.process_type, index_of(&a.name), -a.release.version).cmp(&(
            &b.process_type,
            index_of(&b.name),
            -b.release.version,
        ))
    });
    Ok(Json(dynos))
}

fn index_of(dyno: &str) -> i64 {
    dyno.rsplit_once('.').and_then(|(_, i)| i.parse().ok()).unwrap_or(0)
}

pub async fn show(
    State(state): State<AppState>,
    access: AppAccess<View>,
    Path((_, dyno)): Path<(String, String)>,
) -> ApiResult<Json<api::Dyno>> {
    let Json(all) = list(State(state), access).await?;
    all.into_iter()
        .find(|d| d.name == dyno || d.id == dyno)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("Couldn't find that dyno ({dyno}).")))
}

/// `ps:restart`: every instance is replaced by a fresh one (new ones first).
pub async fn restart_all(
    State(state): State<AppState>,
    access: AppAccess<Operate>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let app = access.app;
    state.store.bump_restart_generation(&app.id, None).await?;
    tracing::info!(app = %app.name, user = %access.caller.user.email, "restart requested");
    state.logs.platform(&app.name, "api", format!("Restart by user {}", access.caller.user.email));
    state.reconciler.trigger();
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}

/// `ps:restart web` (`DELETE /apps/{app}/formations/{type}`).
pub async fn restart_type(
    State(state): State<AppState>,
    access: AppAccess<Operate>,
    Path((_, process_type)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let app = &access.app;
    if state.store.bump_restart_generation(&app.id, Some(&process_type)).await? == 0 {
        return Err(ApiError::not_found(format!("Couldn't find that process type ({process_type}).")));
    }
    tracing::info!(app = %app.name, user = %access.caller.user.email, process_type, "restart requested");
    state.logs.platform(&app.name, "api", format!("Restart {process_type} by user {}", access.caller.user.email));
    state.reconciler.trigger();
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}

/// `ps:restart web.1` restarts one instance; `ps:restart web` (no dot) a whole type.
pub async fn restart_one(
    State(state): State<AppState>,
    access: AppAccess<Operate>,
    Path((name, dyno)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !dyno.contains('.') {
        return restart_type(State(state), access, Path((name, dyno))).await;
    }
    let app = &access.app;
    let instances = state.reconciler.instances(app).await.map_err(|e| ApiError::internal(e.to_string()))?;
    let targets: Vec<&str> = instances
        .iter()
        .map(|s| &s.instance)
        .filter(|i| i.label(labels::DYNO) == Some(dyno.as_str()) || i.id == dyno)
        .map(|i| i.id.as_str())
        .collect();
    if targets.is_empty() {
        return Err(ApiError::not_found(format!("Couldn't find that dyno ({dyno}).")));
    }
    // A replacement starts and proves healthy before the instance is retired.
    for id in targets {
        state.reconciler.replace_instance(id);
    }
    tracing::info!(app = %app.name, user = %access.caller.user.email, dyno, "dyno restart requested");
    state.logs.platform(&app.name, "api", format!("Restart {dyno} by user {}", access.caller.user.email));
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}
