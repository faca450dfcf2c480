//! `GET /audit-events` (admins: everything, `?app=` to filter) and
//! `GET /apps/{app}/audit-events` (the app's managers). Read-only: there is no
//! route that changes or deletes an event.

use axum::extract::{Query, State};
use axum::Json;
use berth_core::api::timestamp;
use berth_core::api_access::{AuditActor, AuditEvent};
use serde::Deserialize;

use crate::access::{AppAccess, Manage};
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::state::AppState;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 10_000;

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    app: Option<String>,
    limit: Option<i64>,
}

fn view(e: &berth_store::AuditEvent) -> AuditEvent {
    let ev = &e.event;
    AuditEvent {
        id: e.id.clone(),
        created_at: timestamp(e.created_at),
        actor: (ev.user_id.is_some() || ev.user_email.is_some())
            .then(|| AuditActor { id: ev.user_id.clone(), email: ev.user_email.clone() }),
        token_id: ev.token_id.clone(),
        source_ip: ev.source_ip.clone(),
        method: ev.method.clone(),
        path: ev.path.clone(),
        action: ev.action.clone(),
        app: ev.app.clone(),
        status: ev.status,
    }
}

fn limit(filter: &Filter) -> i64 {
    filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

pub async fn list_all(
    State(state): State<AppState>,
    caller: CurrentUser,
    Query(filter): Query<Filter>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    caller.require_admin()?;
    let events = state.store.list_audit(filter.app.as_deref(), limit(&filter)).await?;
    Ok(Json(events.iter().map(view).collect()))
}

pub async fn list_for_app(
    State(state): State<AppState>,
    access: AppAccess<Manage>,
    Query(filter): Query<Filter>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    let events = state.store.list_audit(Some(&access.app.name), limit(&filter)).await?;
    Ok(Json(events.iter().map(view).collect()))
}
