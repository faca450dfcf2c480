//! The HTTP API: Heroku Platform API v3 resources under bearer-token auth.

mod account;
mod apps;
mod audit_events;
mod authorizations;
mod body;
mod buildpacks;
mod builds;
mod checks;
mod collaborators;
mod config_vars;
mod drains;
mod dynos;
mod formation;
mod keys;
mod logs;
mod metrics;
mod range;
mod releases;
mod run;
mod users;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use berth_core::api::Health;

use crate::error::ApiError;
use crate::state::AppState;

/// Largest accepted request body (JSON); bigger bodies get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/account", get(account::show))
        .route("/account/keys", get(keys::list).post(keys::create))
        .route("/account/keys/{key}", get(keys::show).delete(keys::destroy))
        .route("/apps", get(apps::list).post(apps::create))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{user}", delete(users::destroy))
        .route("/users/{user}/apps", get(apps::list_for_user))
        .route("/oauth/authorizations", get(authorizations::list).post(authorizations::create))
        .route("/oauth/authorizations/{id}", get(authorizations::show).delete(authorizations::revoke))
        .route("/audit-events", get(audit_events::list_all))
        .route("/apps/{app}/audit-events", get(audit_events::list_for_app))
        .route("/apps/{app}", get(apps::show).delete(apps::destroy))
        .route("/apps/{app}/addons", get(apps::addons))
        .route("/apps/{app}/collaborators", get(collaborators::list).post(collaborators::create))
        .route(
            "/apps/{app}/collaborators/{user}",
            get(collaborators::show).patch(collaborators::update).delete(collaborators::destroy),
        )
        .route("/teams/apps/{app}/collaborators", get(collaborators::list).post(collaborators::create))
        .route(
            "/teams/apps/{app}/collaborators/{user}",
            get(collaborators::show).patch(collaborators::update).delete(collaborators::destroy),
        )
        .route("/apps/{app}/domains", get(apps::domains))
        .route("/apps/{app}/checks", get(checks::show).put(checks::update).delete(checks::remove))
        .route("/apps/{app}/config-vars", get(config_vars::show).patch(config_vars::update))
        .route("/apps/{app}/releases", get(releases::list).post(releases::create))
        .route("/apps/{app}/releases/{release}", get(releases::show))
        .route("/apps/{app}/formation", get(formation::list).patch(formation::batch_update))
        .route("/apps/{app}/formation/{process_type}", get(formation::show).patch(formation::update_one))
        .route("/apps/{app}/formations/{process_type}", delete(dynos::restart_type))
        .route("/apps/{app}/dynos", get(dynos::list).delete(dynos::restart_all).post(run::create))
        .route("/apps/{app}/dynos/{dyno}/actions/stop", post(run::stop))
        .route("/apps/{app}/sources", post(builds::create_source))
        .route("/apps/{app}/buildpack-installations", get(buildpacks::list).put(buildpacks::replace))
        .route("/apps/{app}/builds", get(builds::list).post(builds::create))
        .route("/apps/{app}/builds/{build}", get(builds::show))
        .route("/apps/{app}/builds/{build}/output", get(builds::output))
        .route("/apps/{app}/build-cache", delete(builds::purge_cache))
        .route("/apps/{app}/dynos/{dyno}", get(dynos::show).delete(dynos::restart_one))
        .route("/apps/{app}/log-sessions", post(logs::create_session))
        .route("/log-sessions/{secret}", get(logs::stream))
        .route("/metrics", get(metrics::prometheus))
        .route("/apps/{app}/log-drains", get(drains::list).post(drains::create))
        .route("/apps/{app}/log-drains/{drain}", get(drains::show).delete(drains::delete))
        .route("/apps/{app}/metrics", get(metrics::app))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // git smart HTTP and the hook's build upload carry whole source trees.
        .route("/{repo}/info/refs", get(crate::git::handle))
        .route("/{repo}/git-receive-pack", post(crate::git::handle))
        .route("/{repo}/git-upload-pack", post(crate::git::handle))
        .route(
            "/sources/{id}",
            axum::routing::put(builds::put_source).layer(DefaultBodyLimit::max(berth_build::MAX_SOURCE_BYTES)),
        )
        .route(
            "/internal/hooks/build",
            post(crate::deploy::hook_build).layer(DefaultBodyLimit::max(berth_build::MAX_SOURCE_BYTES)),
        )
        .fallback(not_found)
        // Outermost, so it sees every request's final status (also rejections).
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::audit::record))
        .with_state(state)
}

async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() })
}

async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    tracing::debug!(%method, %uri, "no such API route");
    ApiError::not_found(format!("The requested API endpoint {method} {} was not found.", uri.path()))
}
