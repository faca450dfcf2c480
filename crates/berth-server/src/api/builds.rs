//! Heroku's Build API: upload a source blob (`POST /apps/{app}/sources`, then
//! `PUT` to its `put_url`), start a build from it (`POST /apps/{app}/builds`),
//! follow `output_stream_url`, list and show builds.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_build::MAX_SOURCE_BYTES;
use berth_core::api::timestamp;
use berth_store::BuildRecord;
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::ApiJson;
use crate::access::{AppAccess, Deploy, View};
use crate::deploy::{start_build, text_stream, BuildRequest};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn sources_dir(state: &AppState) -> std::path::PathBuf {
    state.config.data_dir.join("sources")
}

/// Marks a source id as issued, holding the id of the app it is for.
fn ticket_path(state: &AppState, id: &str) -> std::path::PathBuf {
    sources_dir(state).join(format!("{id}.app"))
}

/// Source ids are random capabilities (like presigned URLs): 32 hex chars.
fn valid_source_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `POST /apps/{app}/sources`: a place to upload a source tarball.
pub async fn create_source(
    State(state): State<AppState>,
    access: AppAccess<Deploy>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    // The ticket binds the upload URL to this app: uploads need one, builds check it.
    let dir = sources_dir(&state);
    tokio::fs::create_dir_all(&dir).await.map_err(|e| ApiError::internal(e.to_string()))?;
    tokio::fs::write(ticket_path(&state, &id), access.app.id.as_bytes())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let url = format!("{}/sources/{id}", state.urls.api_url);
    Ok((StatusCode::CREATED, Json(json!({ "source_blob": { "get_url": url, "put_url": url } }))))
}

/// `PUT /sources/{id}`: the upload itself (authorised by the unguessable id).
pub async fn put_source(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> ApiResult<StatusCode> {
    // Only URLs handed out by `POST /apps/{app}/sources` take uploads.
    if !valid_source_id(&id) || !tokio::fs::try_exists(ticket_path(&state, &id)).await.unwrap_or(false) {
        return Err(ApiError::not_found("No such source upload URL."));
    }
    let dir = sources_dir(&state);
    tokio::fs::create_dir_all(&dir).await.map_err(|e| ApiError::internal(e.to_string()))?;
    tokio::fs::write(dir.join(&id), &body).await.map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(StatusCode::OK)
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateBuild {
    #[serde(default)]
    source_blob: SourceBlob,
}

#[derive(Debug, Default, Deserialize)]
struct SourceBlob {
    #[serde(default)]
    url: String,
    #[serde(default)]
    version: Option<String>,
}

/// `POST /apps/{app}/builds`: builds an uploaded source; the build runs in the
/// background and its output streams at `output_stream_url`.
pub async fn create(
    State(state): State<AppState>,
    access: AppAccess<Deploy>,
    ApiJson(request): ApiJson<CreateBuild>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (app, caller) = (access.app, access.caller);
    let name = app.name.clone();
    let prefix = format!("{}/sources/", state.urls.api_url);
    let id = request.source_blob.url.strip_prefix(&prefix).filter(|id| valid_source_id(id)).ok_or_else(|| {
        ApiError::invalid(format!(
            "source_blob.url must be a URL from POST /apps/{name}/sources (fetching sources from other hosts is not supported)"
        ))
    })?;
    let ticket = tokio::fs::read(ticket_path(&state, id)).await.unwrap_or_default();
    if ticket != app.id.as_bytes() {
        return Err(ApiError::invalid(format!("That source URL was not made for {name}: POST /apps/{name}/sources.")));
    }
    let path = sources_dir(&state).join(id);
    let blob = tokio::fs::read(&path)
        .await
        .map_err(|_| ApiError::invalid("Nothing was uploaded to that source URL yet (PUT the tarball first)."))?;
    let _ = tokio::fs::remove_file(&path).await;
    let _ = tokio::fs::remove_file(ticket_path(&state, id)).await;
    let tar = tokio::task::spawn_blocking(move || decompress(blob))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    let version = request.source_blob.version.filter(|v| !v.trim().is_empty()).unwrap_or_else(|| "upload".into());
    let build_request = BuildRequest { app, tar, version, content_id: None, user_id: caller.user.id.clone() };
    let (record, _) = start_build(&state, build_request).await.map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(view(&state, &record, &request.source_blob.url))))
}

/// Source blobs are `.tar.gz` (Heroku) or plain `.tar`; the result is bounded.
fn decompress(blob: Vec<u8>) -> ApiResult<Vec<u8>> {
    if !blob.starts_with(&[0x1f, 0x8b]) {
        return Ok(blob);
    }
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(blob.as_slice())
        .take(MAX_SOURCE_BYTES as u64 + 1)
        .read_to_end(&mut tar)
        .map_err(|e| ApiError::invalid(format!("The source is not a valid .tar.gz: {e}")))?;
    if tar.len() > MAX_SOURCE_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("The unpacked source is larger than {MAX_SOURCE_BYTES} bytes."),
        ));
    }
    Ok(tar)
}

pub async fn list(State(state): State<AppState>, access: AppAccess<View>) -> ApiResult<Json<Vec<Value>>> {
    let app = access.app;
    let builds = state.store.list_builds(&app.id).await?;
    Ok(Json(builds.iter().map(|b| view(&state, b, "")).collect()))
}

pub async fn show(
    State(state): State<AppState>,
    access: AppAccess<View>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let app = access.app;
    let build = state.store.build(&app.id, &id).await?;
    let mut value = view(&state, &build, "");
    value["output"] = json!(build.output);
    Ok(Json(value))
}

/// `GET /apps/{app}/builds/{id}/output`: replays and follows a running build,
/// or returns a finished build's saved output.
pub async fn output(
    State(state): State<AppState>,
    access: AppAccess<View>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    // The build must be this app's before its live output is followed.
    let build = state.store.build(&access.app.id, &id).await?;
    if let Some(live) = state.builds.live(&build.id) {
        return Ok(text_stream(live.follow()));
    }
    Ok(([("content-type", "text/plain; charset=utf-8")], build.output).into_response())
}

fn view(state: &AppState, build: &BuildRecord, source_url: &str) -> Value {
    json!({
        "id": build.id,
        "app": { "id": build.app_id, "name": build.app_name },
        "status": build.status,
        "source_blob": { "url": source_url, "version": build.source_version, "checksum": null },
        "output_stream_url": format!("{}/apps/{}/builds/{}/output", state.urls.api_url, build.app_name, build.id),
        "release": build.release_id.as_ref().map(|id| json!({ "id": id, "version": build.release_version })),
        "slug": null,
        "stack": "trixie",
        "buildpacks": [],
        "user": { "id": build.user_id, "email": build.user_email },
        "created_at": timestamp(build.created_at),
        "updated_at": timestamp(build.updated_at),
    })
}

/// `DELETE /apps/{app}/build-cache`: the next build starts from scratch.
pub async fn purge_cache(
    State(state): State<AppState>,
    access: AppAccess<Deploy>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let app = access.app;
    let dir = crate::deploy::cache_dir(&state, &app.name);
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ApiError::internal(format!("cannot remove the build cache: {e}"))),
    }
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}
