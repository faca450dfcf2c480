//! `GET/PUT /apps/{app}/buildpack-installations` (Heroku's shape): the app's
//! buildpacks, in order. An empty list means "detect among the built-ins".

use axum::extract::State;
use axum::Json;
use berth_core::buildpack::{parse_buildpack, BuildpackRef};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::ApiJson;
use crate::access::{AppAccess, Deploy, View};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn view(urls: &[String]) -> Vec<Value> {
    urls.iter().enumerate().map(|(i, url)| json!({ "ordinal": i, "buildpack": { "url": url, "name": url } })).collect()
}

pub async fn list(State(state): State<AppState>, access: AppAccess<View>) -> ApiResult<Json<Vec<Value>>> {
    let app = access.app;
    Ok(Json(view(&state.store.app_buildpacks(&app.id).await?)))
}

#[derive(Debug, Default, Deserialize)]
pub struct Update {
    #[serde(default)]
    updates: Vec<Installation>,
}

#[derive(Debug, Deserialize)]
struct Installation {
    buildpack: String,
}

/// Replaces the app's buildpack list. `file://` (server paths) needs an admin.
pub async fn replace(
    State(state): State<AppState>,
    access: AppAccess<Deploy>,
    ApiJson(update): ApiJson<Update>,
) -> ApiResult<Json<Vec<Value>>> {
    let (app, caller) = (access.app, access.caller);
    if update.updates.len() > 8 {
        return Err(ApiError::invalid("At most 8 buildpacks per app."));
    }
    let mut urls = Vec::with_capacity(update.updates.len());
    for installation in update.updates {
        let reference = parse_buildpack(&installation.buildpack)?;
        if matches!(reference, BuildpackRef::Local(_)) && !caller.user.is_admin {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                "Only platform admins may use file:// buildpacks (they read the server's disk).",
            ));
        }
        urls.push(installation.buildpack.trim().to_string());
    }
    state.store.set_app_buildpacks(&app.id, &urls).await?;
    tracing::info!(app = %app.name, user = %caller.user.email, ?urls, "buildpacks set");
    Ok(Json(view(&urls)))
}
