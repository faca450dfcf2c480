//! Per-app authorization, in one place: handlers name the permission they need
//! with the [`AppAccess`] extractor (`AppAccess<Deploy>`), and get the app.
//!
//! Apps the caller may not see answer 404 exactly like apps that do not exist;
//! visible apps without the needed permission answer 403; no token is 401.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use berth_core::access::{decide, effective_permissions, Decision, Permission, Permissions};
use berth_store::{AppRecord, StoreError};

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A permission named at the type level, so a handler's signature says what it needs.
pub trait Need: Send + Sync + 'static {
    const PERMISSION: Permission;
}

pub struct View;
pub struct Deploy;
pub struct Operate;
pub struct Manage;

impl Need for View {
    const PERMISSION: Permission = Permission::View;
}
impl Need for Deploy {
    const PERMISSION: Permission = Permission::Deploy;
}
impl Need for Operate {
    const PERMISSION: Permission = Permission::Operate;
}
impl Need for Manage {
    const PERMISSION: Permission = Permission::Manage;
}

/// The app named by the route's `{app}` segment, after checking that the caller
/// holds `N`'s permission on it.
pub struct AppAccess<N: Need> {
    pub app: AppRecord,
    pub caller: CurrentUser,
    /// Everything the caller may do on this app (e.g. to redact for viewers).
    pub held: Permissions,
    need: PhantomData<N>,
}

impl<N: Need> FromRequestParts<AppState> for AppAccess<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = CurrentUser::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("Bad path: {}", e.body_text())))?;
        let name = params
            .iter()
            .find(|(key, _)| *key == "app")
            .map(|(_, value)| value.to_string())
            .ok_or_else(|| ApiError::internal("route has no {app} segment"))?;
        let (app, held) = authorize(state, &caller, &name, N::PERMISSION).await?;
        Ok(Self { app, caller, held, need: PhantomData })
    }
}

/// What `caller` may do on the app, or 404 when they may not see it (or it does not exist).
pub async fn permissions_on(state: &AppState, caller: &CurrentUser, name: &str) -> ApiResult<(AppRecord, Permissions)> {
    let hidden = || ApiError::not_found(format!("Couldn't find that app {name}."));
    let app = match state.store.app(name).await {
        Ok(app) => app,
        Err(StoreError::NotFound(_)) => return Err(hidden()),
        Err(e) => return Err(e.into()),
    };
    let grant = if caller.user.is_admin || caller.user.id == app.owner_id {
        None
    } else {
        match state.store.collaborator(&app.id, &caller.user.id).await? {
            Some(c) => Some(Permissions::parse_list(&c.permissions).map_err(|e| ApiError::internal(e.to_string()))?),
            None => None,
        }
    };
    let held = effective_permissions(caller.principal(), &app.owner_id, grant);
    if held.is_empty() {
        return Err(hidden());
    }
    Ok((app, held))
}

/// The app, if `caller` holds `needed` on it: else 404 (cannot see it) or 403.
pub async fn authorize(
    state: &AppState,
    caller: &CurrentUser,
    name: &str,
    needed: Permission,
) -> ApiResult<(AppRecord, Permissions)> {
    let (app, held) = permissions_on(state, caller, name).await?;
    match decide(held, needed) {
        Decision::Allow => Ok((app, held)),
        Decision::Hidden => Err(ApiError::not_found(format!("Couldn't find that app {name}."))),
        Decision::Forbidden(p) => Err(forbidden(&app.name, p)),
    }
}

pub fn forbidden(app: &str, missing: Permission) -> ApiError {
    ApiError::forbidden(format!(
        "You need the {missing} permission on {app} to do that. Someone with manage on {app} can grant it: \
         `berth access:update EMAIL -a {app} --permissions ...`."
    ))
}
