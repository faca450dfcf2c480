use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use berth_core::api::{self, CreateRelease};
use berth_core::{validate_process_type, ProcessTypes};
use berth_store::NewRelease;

use super::body::ApiJson;
use super::range;
use crate::access::{AppAccess, Deploy, View};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::view;

pub async fn list(
    State(state): State<AppState>,
    access: AppAccess<View>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<api::Release>>> {
    let app = access.app;
    let releases = state.store.list_releases(&app.id).await?;
    let current = state.store.current_release(&app.id).await?.version;
    let views: Vec<api::Release> = releases.iter().map(|r| view::release(r, current)).collect();
    let range = range::parse(headers.get("range").and_then(|v| v.to_str().ok()));
    Ok(Json(range.apply(views)))
}

pub async fn show(
    State(state): State<AppState>,
    access: AppAccess<View>,
    Path((_, release)): Path<(String, String)>,
) -> ApiResult<Json<api::Release>> {
    let app = access.app;
    let release = state.store.release(&app.id, &release).await?;
    let current = state.store.current_release(&app.id).await?.version;
    Ok(Json(view::release(&release, current)))
}

/// Deploys a local image (`{"image", "process_types"}`, a Berth extension) or
/// rolls back (`{"release": "v3"}`, Heroku's shape). Either way: a new release.
pub async fn create(
    State(state): State<AppState>,
    access: AppAccess<Deploy>,
    ApiJson(request): ApiJson<CreateRelease>,
) -> ApiResult<(StatusCode, Json<api::Release>)> {
    let (app, caller) = (access.app, access.caller);
    let change = match (request.release, request.image) {
        (Some(target), None) => Change::Rollback(Box::new(state.store.release(&app.id, &target).await?)),
        (None, Some(image)) => {
            let image = image.trim().to_string();
            if image.is_empty() || image.contains(char::is_whitespace) {
                return Err(ApiError::invalid("The image reference is empty or contains spaces."));
            }
            let Some(image_labels) = state.runtime.image_labels(&image).await? else {
                return Err(ApiError::invalid(format!(
                    "Image {image} is not on this host. Build or load it first (`docker images` lists what is there)."
                )));
            };
            if !caller.user.is_admin && !built_for(&image_labels, &state.config.namespace, &app.name) {
                // Berth's build images carry another app's source: only admins may move them.
                return Err(ApiError::forbidden(format!(
                    "Image {image} was built for another app; deploy images built for {} or ones from outside Berth.",
                    app.name
                )));
            }
            let process_types =
                request.process_types.unwrap_or_else(|| ProcessTypes::from([("web".into(), String::new())]));
            if process_types.is_empty() {
                return Err(ApiError::invalid("A release needs at least one process type."));
            }
            for name in process_types.keys() {
                validate_process_type(name)?;
            }
            Change::Deploy { image, process_types }
        }
        _ => {
            return Err(ApiError::invalid(
                "Give either `image` (deploy an image) or `release` (roll back to a release), not both.",
            ))
        }
    };
    let user_id = caller.user.id.clone();
    let release = state
        .store
        .create_release_from_current(&app.id, move |current| {
            Ok(match change {
                // A deploy keeps the app's current config.
                Change::Deploy { image, process_types } => NewRelease {
                    description: request.description.unwrap_or_else(|| format!("Deploy {image}")),
                    image: Some(image),
                    process_types,
                    config: current.config.clone(),
                    user_id,
                    health_check: None,
                },
                // A rollback restores the old release's image, processes and config.
                Change::Rollback(target) => {
                    let target = *target;
                    NewRelease {
                        description: request.description.unwrap_or_else(|| format!("Rollback to v{}", target.version)),
                        image: target.image,
                        process_types: target.process_types,
                        config: target.config,
                        user_id,
                        health_check: target.health_check,
                    }
                }
            })
        })
        .await?;
    tracing::info!(app = %app.name, version = release.version, description = %release.description, "release created");
    state.logs.release_created(&app.name, &release.description, release.version, &caller.user.email);
    let current = state.store.current_release(&app.id).await?.version;
    crate::release_phase::spawn(&state, app, release.clone());
    state.reconciler.trigger();
    Ok((StatusCode::CREATED, Json(view::release(&release, current))))
}

enum Change {
    Deploy { image: String, process_types: ProcessTypes },
    Rollback(Box<berth_store::ReleaseRecord>),
}

/// Whether an image may be deployed to `app` by a non-admin: images Berth built
/// carry their app (and server) in labels; images from elsewhere carry none.
fn built_for(labels: &std::collections::BTreeMap<String, String>, namespace: &str, app: &str) -> bool {
    match labels.get(crate::reconcile::labels::IMAGE_APP) {
        None => true,
        Some(owner) => {
            owner == app && labels.get(crate::reconcile::labels::IMAGE_NAMESPACE).map(String::as_str) == Some(namespace)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::built_for;

    #[test]
    fn images_of_other_apps_are_not_deployable() {
        let label = |app: &str, ns: &str| {
            BTreeMap::from([
                ("io.berth.image.app".to_string(), app.to_string()),
                ("io.berth.image.namespace".to_string(), ns.to_string()),
            ])
        };
        assert!(built_for(&BTreeMap::new(), "berth", "web1"), "outside images");
        assert!(built_for(&label("web1", "berth"), "berth", "web1"));
        assert!(!built_for(&label("other", "berth"), "berth", "web1"));
        assert!(!built_for(&label("web1", "elsewhere"), "berth", "web1"));
    }
}
