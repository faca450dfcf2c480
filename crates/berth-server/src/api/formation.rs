use axum::extract::{Path, State};
use axum::Json;
use berth_core::api;
use berth_core::size;
use serde::Deserialize;
use serde_json::Value;

use super::body::ApiJson;
use crate::access::{AppAccess, Operate, View};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::view;

pub async fn list(State(state): State<AppState>, access: AppAccess<View>) -> ApiResult<Json<Vec<api::Formation>>> {
    let app = access.app;
    let current = state.store.current_release(&app.id).await?;
    let formation = state.store.list_formation(&app.id).await?;
    Ok(Json(formation.iter().map(|f| view::formation(f, &app, &current)).collect()))
}

pub async fn show(
    State(state): State<AppState>,
    access: AppAccess<View>,
    Path((_, process_type)): Path<(String, String)>,
) -> ApiResult<Json<api::Formation>> {
    let Json(all) = list(State(state), access).await?;
    all.into_iter()
        .find(|f| f.process_type == process_type)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("Couldn't find that process type ({process_type}).")))
}

/// One update as clients send it: the Heroku CLI sends `quantity` as a string,
/// possibly relative (`"+1"`, `"-1"`); others send a number.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateBody {
    #[serde(rename = "type", default)]
    process_type: Option<String>,
    #[serde(default)]
    quantity: Option<Value>,
    #[serde(default)]
    size: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct BatchBody {
    updates: Vec<UpdateBody>,
}

pub async fn batch_update(
    State(state): State<AppState>,
    access: AppAccess<Operate>,
    ApiJson(body): ApiJson<BatchBody>,
) -> ApiResult<Json<Vec<api::Formation>>> {
    apply(&state, &access.caller, access.app, body.updates).await.map(Json)
}

pub async fn update_one(
    State(state): State<AppState>,
    access: AppAccess<Operate>,
    Path((_, process_type)): Path<(String, String)>,
    ApiJson(mut body): ApiJson<UpdateBody>,
) -> ApiResult<Json<api::Formation>> {
    body.process_type = Some(process_type);
    let mut updated = apply(&state, &access.caller, access.app, vec![body]).await?;
    updated.pop().map(Json).ok_or_else(|| ApiError::internal("formation update returned nothing"))
}

/// Validates every update before applying any, then applies them atomically.
async fn apply(
    state: &AppState,
    caller: &CurrentUser,
    app: berth_store::AppRecord,
    updates: Vec<UpdateBody>,
) -> ApiResult<Vec<api::Formation>> {
    if updates.is_empty() {
        return Err(ApiError::invalid("No formation updates given, e.g. `ps:scale web=2`."));
    }
    let current = state.store.list_formation(&app.id).await?;
    let mut parsed = Vec::with_capacity(updates.len());
    for update in updates {
        let process_type =
            update.process_type.ok_or_else(|| ApiError::invalid("Each formation update needs a `type`."))?;
        let existing = current.iter().find(|f| f.process_type == process_type).ok_or_else(|| {
            let known: Vec<&str> = current.iter().map(|f| f.process_type.as_str()).collect();
            ApiError::not_found(format!(
                "Couldn't find that process type ({process_type}). This app's process types: {}.",
                if known.is_empty() { "none (deploy first)".to_string() } else { known.join(", ") }
            ))
        })?;
        let quantity = match &update.quantity {
            None => None,
            Some(value) => Some(parse_quantity(value, existing.quantity)?),
        };
        if let Some(q) = quantity {
            size::validate_quantity(q)?;
        }
        let size = update.size.as_deref().map(size::canonical).transpose()?.map(str::to_string);
        parsed.push((process_type, quantity, size));
    }
    let updated = state.store.update_formation(&app.id, &parsed).await?;
    tracing::info!(app = %app.name, user = %caller.user.email, ?parsed, "formation changed");
    let scaled: Vec<String> = updated.iter().map(|f| format!("{}@{}:{}", f.process_type, f.quantity, f.size)).collect();
    state.logs.platform(&app.name, "api", format!("Scaled to {} by user {}", scaled.join(" "), caller.user.email));
    state.reconciler.trigger();
    let release = state.store.current_release(&app.id).await?;
    Ok(updated.iter().map(|f| view::formation(f, &app, &release)).collect())
}

/// `2`, `"2"`, `"+1"`, `"-1"` (relative to `current`).
fn parse_quantity(value: &Value, current: i64) -> ApiResult<i64> {
    let invalid = || ApiError::invalid(format!("Invalid quantity {value}: use a whole number like 2, or +1 / -1."));
    match value {
        Value::Number(n) => n.as_i64().ok_or_else(invalid),
        Value::String(s) => {
            let s = s.trim();
            let relative = s.starts_with('+') || s.starts_with('-');
            let n: i64 = s.parse().map_err(|_| invalid())?;
            Ok(if relative { current + n } else { n })
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_absolute_and_relative() {
        assert_eq!(parse_quantity(&Value::from(3), 1).unwrap(), 3);
        assert_eq!(parse_quantity(&Value::from("3"), 1).unwrap(), 3);
        assert_eq!(parse_quantity(&Value::from("+2"), 1).unwrap(), 3);
        assert_eq!(parse_quantity(&Value::from("-1"), 1).unwrap(), 0);
        assert!(parse_quantity(&Value::from("lots"), 1).is_err());
        assert!(parse_quantity(&Value::from(1.5), 1).is_err());
        assert!(parse_quantity(&Value::Null, 1).is_err());
    }
}
