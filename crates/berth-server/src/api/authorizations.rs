//! Heroku's `/oauth/authorizations`: API tokens. `POST` with HTTP Basic
//! `email:password` is a login (what `berth login` and `heroku login -i` do);
//! with a token it makes another token for the caller. Tokens are shown once
//! and stored as hashes; `DELETE` revokes at once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_core::api::{timestamp, IdEmail};
use berth_core::api_access::{AccessToken, Authorization, CreateAuthorization};
use berth_store::{TokenRecord, User};

use super::body::ApiJson;
use crate::audit::AuditSlot;
use crate::auth::{basic_credentials, generate_token, hash_token, CurrentUser};
use crate::error::{ApiError, ApiResult};
use crate::passwords;
use crate::state::AppState;

/// Longest lifetime a token may ask for (ten years).
const MAX_EXPIRES_IN: i64 = 10 * 365 * 24 * 3600;
const MAX_DESCRIPTION: usize = 200;

fn view(token: &TokenRecord, user: &User, secret: Option<String>) -> Authorization {
    let expires_in = token.expires_at.map(|e| (e - chrono::Utc::now()).num_seconds().max(0));
    Authorization {
        id: token.id.clone(),
        description: token.description.clone(),
        scope: vec!["global".into()],
        access_token: AccessToken { id: token.id.clone(), token: secret, expires_in },
        created_at: timestamp(token.created_at),
        updated_at: timestamp(token.created_at),
        expires_at: token.expires_at.map(timestamp),
        user: IdEmail { id: user.id.clone(), email: user.email.clone() },
    }
}

/// The caller of `POST /oauth/authorizations`: a token, or email and password.
pub struct TokenOrPassword(CurrentUser);

impl FromRequestParts<AppState> for TokenOrPassword {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        let basic = header.as_deref().and_then(basic_credentials).filter(|(user, _)| user.contains('@'));
        let Some((email, password)) = basic else {
            return CurrentUser::from_request_parts(parts, state).await.map(Self).map_err(IntoResponse::into_response);
        };
        let email = email.trim().to_ascii_lowercase();
        if let Some(slot) = parts.extensions.get::<AuditSlot>() {
            slot.set_email(&email);
        }
        // `email:TOKEN` (netrc style) authenticates like a bearer token.
        if let Ok(caller) = CurrentUser::from_request_parts(parts, state).await {
            if caller.user.email == email {
                return Ok(Self(caller));
            }
        }
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
        if let Err(retry) = state.login_limiter.check(&email, ip, Instant::now()) {
            return Err(too_many(retry));
        }
        let found = state.store.user_with_password(&email).await.map_err(|e| ApiError::from(e).into_response())?;
        let stored = found.as_ref().and_then(|(_, hash)| hash.clone());
        let ok =
            tokio::task::spawn_blocking(move || passwords::verify(&password, stored.as_deref())).await.unwrap_or(false);
        match found {
            Some((user, _)) if ok => {
                state.login_limiter.record_success(&email, ip);
                let caller = CurrentUser { user, token_id: String::new() };
                if let Some(slot) = parts.extensions.get::<AuditSlot>() {
                    slot.set_caller(&caller);
                }
                Ok(Self(caller))
            }
            _ => {
                state.login_limiter.record_failure(&email, ip, Instant::now());
                tracing::info!(email = %email, %ip, "failed login");
                Err(ApiError::unauthorized("Invalid credentials provided: wrong email or password.").into_response())
            }
        }
    }
}

fn too_many(retry: Duration) -> Response {
    let secs = retry.as_secs().max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit",
        format!("Too many failed logins for this account from your address. Try again in {secs} seconds."),
    )
    .into_response();
    response.headers_mut().insert("retry-after", HeaderValue::from(secs));
    response
}

pub async fn create(
    State(state): State<AppState>,
    TokenOrPassword(caller): TokenOrPassword,
    ApiJson(request): ApiJson<CreateAuthorization>,
) -> ApiResult<(StatusCode, Json<Authorization>)> {
    let description = request.description.unwrap_or_default().trim().to_string();
    if description.len() > MAX_DESCRIPTION || description.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "The description must be at most {MAX_DESCRIPTION} bytes, without control characters."
        )));
    }
    let expires_at = match request.expires_in {
        None => None,
        Some(secs) if (1..=MAX_EXPIRES_IN).contains(&secs) => {
            Some(chrono::Utc::now() + chrono::Duration::seconds(secs))
        }
        Some(_) => {
            return Err(ApiError::invalid(format!("expires_in must be between 1 and {MAX_EXPIRES_IN} seconds.")))
        }
    };
    let secret = generate_token();
    let id = state.store.insert_token(&caller.user.id, &hash_token(&secret), &description, expires_at).await?;
    let token = state.store.token(&caller.user.id, &id).await?;
    tracing::info!(user = %caller.user.email, authorization = %id, "authorization created");
    Ok((StatusCode::CREATED, Json(view(&token, &caller.user, Some(secret)))))
}

pub async fn list(State(state): State<AppState>, caller: CurrentUser) -> ApiResult<Json<Vec<Authorization>>> {
    let tokens = state.store.list_tokens(&caller.user.id).await?;
    Ok(Json(tokens.iter().map(|t| view(t, &caller.user, None)).collect()))
}

/// `~` is the token making the request.
fn token_id<'a>(caller: &'a CurrentUser, id: &'a str) -> &'a str {
    if id == "~" {
        &caller.token_id
    } else {
        id
    }
}

pub async fn show(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Authorization>> {
    let token = state.store.token(&caller.user.id, token_id(&caller, &id)).await?;
    Ok(Json(view(&token, &caller.user, None)))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Authorization>> {
    let token = state.store.token(&caller.user.id, token_id(&caller, &id)).await?;
    state.store.revoke_token(&caller.user.id, &token.id).await?;
    tracing::info!(user = %caller.user.email, authorization = %token.id, "authorization revoked");
    Ok(Json(view(&token, &caller.user, None)))
}
