//! The audit trail: a middleware records every mutating request (who, which
//! token, from where, what, on which app, with what outcome) after it ran.
//! Only method, path and status are kept: never bodies or query strings, so
//! config values, passwords and tokens cannot reach the trail.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use berth_store::NewAuditEvent;

use crate::auth::CurrentUser;
use crate::state::AppState;

/// Filled by authentication during the request, read by the middleware after it.
#[derive(Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Actor>>);

#[derive(Clone, Default)]
struct Actor {
    user_id: Option<String>,
    email: Option<String>,
    token_id: Option<String>,
}

impl AuditSlot {
    pub fn set_caller(&self, caller: &CurrentUser) {
        let mut actor = self.0.lock().unwrap();
        actor.user_id = Some(caller.user.id.clone());
        actor.email = Some(caller.user.email.clone());
        // A password login has no token yet.
        actor.token_id = Some(caller.token_id.clone()).filter(|t| !t.is_empty());
    }

    /// A login attempt names an email before (or without) a user being known.
    pub fn set_email(&self, email: &str) {
        self.0.lock().unwrap().email = Some(email.to_string());
    }
}

/// `axum::middleware::from_fn_with_state` target.
pub async fn record(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let Some(action) = action(&method, route.as_deref()) else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_string();
    let source_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let response = next.run(req).await;
    let actor = slot.0.lock().unwrap().clone();
    let event = NewAuditEvent {
        user_id: actor.user_id,
        user_email: actor.email,
        token_id: actor.token_id,
        source_ip,
        method: method.to_string(),
        app: app_of(&path),
        path,
        action,
        status: response.status().as_u16(),
    };
    // The response is already decided; an audit write failure is loud but does not change it.
    if let Err(e) = state.store.append_audit(&event).await {
        tracing::error!(error = %e, action = %event.action, "could not write the audit event");
    }
    response
}

/// The audit name of a request, or `None` for requests that change nothing.
pub fn action(method: &Method, route: Option<&str>) -> Option<String> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let route = route.unwrap_or("");
    let name = match (method.as_str(), route) {
        // Internal: the git hook's build is part of the push recorded as git.push.
        (_, r) if r.starts_with("/internal/") => return None,
        // A fetch is a read, even though it is a POST.
        ("POST", "/{repo}/git-upload-pack") => return None,
        // Opening a log session reads the log.
        ("POST", "/apps/{app}/log-sessions") => return None,
        ("POST", "/apps/{app}/dynos") => "dyno.run",
        ("POST", "/apps/{app}/dynos/{dyno}/actions/stop") => "dyno.stop",
        ("POST", "/apps/{app}/log-drains") => "drain.create",
        ("DELETE", "/apps/{app}/log-drains/{drain}") => "drain.delete",
        ("POST", "/{repo}/git-receive-pack") => "git.push",
        ("POST", "/apps") => "app.create",
        ("DELETE", "/apps/{app}") => "app.destroy",
        ("PATCH", "/apps/{app}/config-vars") => "config-vars.update",
        ("POST", "/apps/{app}/releases") => "release.create",
        ("PATCH", "/apps/{app}/formation") | ("PATCH", "/apps/{app}/formation/{process_type}") => "formation.update",
        ("DELETE", "/apps/{app}/formations/{process_type}")
        | ("DELETE", "/apps/{app}/dynos")
        | ("DELETE", "/apps/{app}/dynos/{dyno}") => "dyno.restart",
        ("POST", "/apps/{app}/sources") => "source.create",
        ("PUT", "/sources/{id}") => "source.upload",
        ("POST", "/apps/{app}/builds") => "build.create",
        ("DELETE", "/apps/{app}/build-cache") => "build-cache.purge",
        ("PUT", "/apps/{app}/buildpack-installations") => "buildpacks.update",
        ("PUT", "/apps/{app}/checks") => "checks.update",
        ("DELETE", "/apps/{app}/checks") => "checks.remove",
        ("POST", r) if r.ends_with("/collaborators") => "collaborator.create",
        ("PATCH", r) if r.ends_with("/collaborators/{user}") => "collaborator.update",
        ("DELETE", r) if r.ends_with("/collaborators/{user}") => "collaborator.delete",
        ("POST", "/users") => "user.create",
        ("DELETE", "/users/{user}") => "user.delete",
        ("POST", "/oauth/authorizations") => "authorization.create",
        ("DELETE", "/oauth/authorizations/{id}") => "authorization.revoke",
        ("POST", "/account/keys") => "key.create",
        ("DELETE", "/account/keys/{key}") => "key.delete",
        (m, "") => return Some(format!("{} (no such route)", m.to_ascii_lowercase())),
        (m, r) => return Some(format!("{} {r}", m.to_ascii_lowercase())),
    };
    Some(name.to_string())
}

/// The app a request path is about: `/apps/APP/...`, `/teams/apps/APP/...`, `/APP.git/...`.
pub fn app_of(path: &str) -> Option<String> {
    let mut segments = path.trim_start_matches('/').split('/');
    let first = segments.next()?;
    let name = match first {
        "apps" => segments.next()?,
        "teams" if segments.next()? == "apps" => segments.next()?,
        repo => repo.strip_suffix(".git")?,
    };
    berth_core::validate_app_name(name).ok().map(|_| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_not_audited_writes_are_named() {
        assert_eq!(action(&Method::GET, Some("/apps/{app}/config-vars")), None);
        assert_eq!(action(&Method::POST, Some("/{repo}/git-upload-pack")), None);
        assert_eq!(action(&Method::POST, Some("/internal/hooks/build")), None);
        assert_eq!(action(&Method::PATCH, Some("/apps/{app}/config-vars")).as_deref(), Some("config-vars.update"));
        assert_eq!(action(&Method::POST, Some("/{repo}/git-receive-pack")).as_deref(), Some("git.push"));
        assert_eq!(
            action(&Method::PATCH, Some("/teams/apps/{app}/collaborators/{user}")).as_deref(),
            Some("collaborator.update")
        );
        assert_eq!(action(&Method::DELETE, None).as_deref(), Some("delete (no such route)"));
    }

    #[test]
    fn apps_come_from_paths() {
        assert_eq!(app_of("/apps/web1/config-vars").as_deref(), Some("web1"));
        assert_eq!(app_of("/apps/web1").as_deref(), Some("web1"));
        assert_eq!(app_of("/teams/apps/web1/collaborators").as_deref(), Some("web1"));
        assert_eq!(app_of("/web1.git/git-receive-pack").as_deref(), Some("web1"));
        assert_eq!(app_of("/apps"), None);
        assert_eq!(app_of("/users/x"), None);
        assert_eq!(app_of("/apps/Not_Valid"), None);
    }
}
