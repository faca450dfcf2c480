//! `POST /apps/{app}/dynos` (Heroku's dyno create): a one-off process.
//! Detached (`attach: false`) it runs in the background with its output in the
//! app's log. Attached, the request upgrades (`Upgrade: berth-attach`) to a
//! framed stdio session; the one-off lives as long as the connection.
//! `POST /apps/{app}/dynos/{dyno}/actions/stop` stops a dyno.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_core::attach::PROTOCOL;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;

use crate::access::{AppAccess, Operate};
use crate::error::{ApiError, ApiResult};
use crate::oneoff::{self, session::Session};
use crate::reconcile::labels;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct CreateDyno {
    pub command: String,
    #[serde(default)]
    pub attach: Option<bool>,
    #[serde(default)]
    pub size: Option<String>,
    /// Max runtime in seconds.
    #[serde(default)]
    pub time_to_live: Option<u64>,
    #[serde(default)]
    pub env: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    pub force_no_tty: Option<bool>,
    #[serde(rename = "type", default)]
    pub process_type: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    access: AppAccess<Operate>,
    mut req: Request,
) -> ApiResult<Response> {
    let wants_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(PROTOCOL));
    let on_upgrade = wants_upgrade.then(|| hyper::upgrade::on(&mut req));
    let bytes = axum::body::to_bytes(req.into_body(), crate::api::MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::bad_request("Could not read the request body."))?;
    let body: CreateDyno = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON: {e} (expected {{\"command\": \"...\"}}).")))?;
    if body.command.trim().is_empty() {
        return Err(ApiError::invalid("A one-off needs a command, e.g. `berth run -- bash`."));
    }
    if body.process_type.as_deref().is_some_and(|t| t != "run") {
        return Err(ApiError::invalid("Only one-off (`run`) dynos can be created."));
    }
    let attached = body.attach.unwrap_or(false);
    if attached && on_upgrade.is_none() {
        return Err(ApiError::invalid(format!(
            "An attached one-off needs a connection upgrade (Upgrade: {PROTOCOL}), as `berth run` sends; \
             use `attach: false` (run:detached) otherwise."
        )));
    }
    let app = access.app.clone();
    let release = state.store.current_release(&app.id).await?;
    let size = berth_core::size::canonical(body.size.as_deref().unwrap_or(berth_core::size::DEFAULT_SIZE))?;
    let ttl = body.time_to_live.map(Duration::from_secs).unwrap_or(oneoff::DEFAULT_TTL).min(oneoff::MAX_TTL);
    let env: Vec<(String, String)> = body.env.clone().unwrap_or_default().into_iter().collect();
    let dim = |k: &str| env.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.parse::<u16>().ok());
    let term_size = dim("COLUMNS").zip(dim("LINES"));
    let request = oneoff::Request {
        command: body.command.clone(),
        size: size.to_string(),
        ttl,
        tty: attached && !body.force_no_tty.unwrap_or(false),
        attached,
        env,
        term_size,
    };
    let dyno = oneoff::dyno_name(&state, &app).await;
    let spec = oneoff::spec(&state, &app, &release, &dyno, &request)?;
    state
        .runtime
        .ensure_network(&state.reconciler.network(&app), &state.reconciler.network_labels(&app))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    state.logs.platform(
        &app.name,
        "api",
        format!("Starting process with command `{}` by user {}", request.command, access.caller.user.email),
    );
    tracing::info!(app = %app.name, dyno, user = %access.caller.user.email, attached, "one-off starting");
    let now = berth_core::api::timestamp(chrono::Utc::now());
    let view = json!({
        "id": dyno, "name": dyno, "type": "run", "command": request.command, "size": size,
        "state": "starting", "attach_url": null, "created_at": now, "updated_at": now,
        "app": {"id": app.id, "name": app.name},
        "release": {"id": release.id, "version": release.version},
    });
    if !attached {
        state.runtime.run_detached(&spec).await.map_err(|e| ApiError::internal(e.to_string()))?;
        state.logs.state_changed(&app.name, &dyno, "starting", "up");
        return Ok((StatusCode::CREATED, Json(view)).into_response());
    }
    let attached_io = state.runtime.run_attached(&spec).await.map_err(|e| ApiError::internal(e.to_string()))?;
    state.oneoffs.attach(&attached_io.id);
    state.logs.state_changed(&app.name, &dyno, "starting", "up");
    let on_upgrade = on_upgrade.expect("checked above");
    let session = Session {
        runtime: Arc::clone(&state.runtime),
        logs: Arc::clone(&state.logs),
        app: app.name.clone(),
        dyno: dyno.clone(),
        ttl,
    };
    let oneoffs = Arc::clone(&state.oneoffs);
    tokio::spawn(async move {
        let id = attached_io.id.clone();
        match on_upgrade.await {
            Ok(upgraded) => session.run(TokioIo::new(upgraded), attached_io).await,
            Err(e) => {
                tracing::debug!(error = %e, "run client never completed the upgrade");
                let _ = session.runtime.remove(&id).await;
            }
        }
        oneoffs.detach(&id);
    });
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    resp.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("upgrade"));
    resp.headers_mut().insert(header::UPGRADE, header::HeaderValue::from_static(PROTOCOL));
    if let Ok(v) = header::HeaderValue::from_str(&dyno) {
        resp.headers_mut().insert("x-berth-dyno", v);
    }
    Ok(resp)
}

/// `ps:stop run.1234` removes a one-off; a formation dyno is replaced (Heroku's rule).
pub async fn stop(
    State(state): State<AppState>,
    access: AppAccess<Operate>,
    Path((_, dyno)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let app = access.app.clone();
    let instances = state.runtime.list(&[(labels::APP_ID, app.id.as_str())]).await.map_err(internal)?;
    let targets: Vec<_> =
        instances.iter().filter(|i| i.label(labels::DYNO) == Some(dyno.as_str()) || i.id == dyno).collect();
    if targets.is_empty() {
        return Err(ApiError::not_found(format!("Couldn't find that dyno ({dyno}).")));
    }
    for i in targets {
        state.runtime.remove(&i.id).await.map_err(internal)?;
    }
    state.logs.platform(&app.name, "api", format!("Stop {dyno} by user {}", access.caller.user.email));
    state.reconciler.trigger();
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}
