use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use berth_core::access::Permission;
use berth_core::api::ConfigVars;
use berth_core::validate_config_key;
use serde_json::Value;

use super::body::ApiJson;
use crate::access::{AppAccess, Manage, View};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Per-value and whole-config size limits (environment blocks are not free).
const MAX_VALUE_BYTES: usize = 32 * 1024;
const MAX_CONFIG_BYTES: usize = 256 * 1024;

/// Values are for managers only: viewers get the names with [`REDACTED`] values.
pub async fn show(State(state): State<AppState>, access: AppAccess<View>) -> ApiResult<Json<ConfigVars>> {
    let mut config = state.store.latest_live_release(&access.app.id).await?.config;
    if !access.held.contains(Permission::Manage) {
        config.values_mut().for_each(|v| *v = REDACTED.to_string());
    }
    Ok(Json(config))
}

/// What viewers without manage see instead of a config value.
pub const REDACTED: &str = "[redacted: needs the manage permission]";

/// `PATCH /apps/{app}/config-vars`: `{"K": "v"}` sets, `{"K": null}` removes.
/// A change makes a new release (and restarts the app with it).
pub async fn update(
    State(state): State<AppState>,
    access: AppAccess<Manage>,
    ApiJson(patch): ApiJson<BTreeMap<String, Value>>,
) -> ApiResult<Json<ConfigVars>> {
    let (app, caller) = (access.app, access.caller);
    let mut changes: Vec<(String, Option<String>)> = Vec::with_capacity(patch.len());
    for (key, value) in patch {
        validate_config_key(&key)?;
        let value = match value {
            Value::Null => None,
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => return Err(ApiError::invalid(format!("Config var {key} must be a string (or null to remove it)."))),
        };
        if value.as_ref().is_some_and(|v| v.len() > MAX_VALUE_BYTES || v.contains('\0')) {
            return Err(ApiError::invalid(format!(
                "Config var {key} is too long or contains a NUL byte (limit {MAX_VALUE_BYTES} bytes)."
            )));
        }
        changes.push((key, value));
    }

    let current = state.store.latest_live_release(&app.id).await?;
    let mut next = current.config.clone();
    apply(&mut next, &changes);
    if next == current.config {
        return Ok(Json(next));
    }
    if next.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() > MAX_CONFIG_BYTES {
        return Err(ApiError::invalid(format!("The app's config would exceed {MAX_CONFIG_BYTES} bytes.")));
    }
    let release = state
        .store
        .create_release_from_current(&app.id, |current| {
            // Re-apply to the current release inside the store's write lock, so
            // concurrent config changes compose instead of overwriting each other.
            let mut config = current.config.clone();
            apply(&mut config, &changes);
            Ok(current.with_config(config, describe(&changes), &caller.user.id))
        })
        .await?;
    tracing::info!(app = %app.name, version = release.version, user = %caller.user.email, "config changed");
    state.logs.release_created(&app.name, &release.description, release.version, &caller.user.email);
    crate::release_phase::spawn(&state, app, release.clone());
    state.reconciler.trigger();
    Ok(Json(release.config))
}

fn apply(config: &mut ConfigVars, changes: &[(String, Option<String>)]) {
    for (key, value) in changes {
        match value {
            Some(v) => {
                config.insert(key.clone(), v.clone());
            }
            None => {
                config.remove(key);
            }
        }
    }
}

/// Heroku's release descriptions: "Set A, B config vars", "Remove C config vars".
fn describe(changes: &[(String, Option<String>)]) -> String {
    let set: Vec<&str> = changes.iter().filter(|(_, v)| v.is_some()).map(|(k, _)| k.as_str()).collect();
    let removed: Vec<&str> = changes.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| k.as_str()).collect();
    match (set.is_empty(), removed.is_empty()) {
        (false, true) => format!("Set {} config vars", set.join(", ")),
        (true, false) => format!("Remove {} config vars", removed.join(", ")),
        _ => format!("Set {}; remove {} config vars", set.join(", "), removed.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_keys_never_values() {
        let changes = vec![("A".to_string(), Some("secret".to_string())), ("B".to_string(), None)];
        let text = describe(&changes);
        assert_eq!(text, "Set A; remove B config vars");
        assert!(!text.contains("secret"));
        assert_eq!(describe(&changes[..1]), "Set A config vars");
        assert_eq!(describe(&changes[1..]), "Remove B config vars");
    }
}
