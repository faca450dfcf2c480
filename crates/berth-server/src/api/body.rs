//! JSON request bodies with Heroku-shaped errors; an empty body means "defaults".

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            let id =
                if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE { "request_too_large" } else { "bad_request" };
            ApiError::new(status, id, format!("Could not read the request body: {}", rejection.body_text()))
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        serde_json::from_slice(&bytes).map(Self).map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
    }
}
