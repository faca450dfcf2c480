//! `POST /apps/{app}/log-sessions` (Heroku's shape) and the secret stream URL it
//! hands out. The stream is plain text, one line per log line, or Server-Sent
//! Events when the client asks for `text/event-stream` (the `heroku` CLI does).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::access::{AppAccess, View};
use crate::error::{ApiError, ApiResult};
use crate::logs::{Filter, Line, Source};
use crate::state::AppState;

/// Most history lines one session returns.
const MAX_LINES: usize = 10_000;

#[derive(Debug, Default, Deserialize)]
pub struct LogSessionRequest {
    #[serde(default)]
    pub lines: Option<usize>,
    #[serde(default)]
    pub tail: Option<bool>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub dyno: Option<String>,
}

pub async fn create_session(
    State(state): State<AppState>,
    access: AppAccess<View>,
    body: Option<Json<LogSessionRequest>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let app = access.app.clone();
    let req = body.map(|Json(b)| b).unwrap_or_default();
    let filter = Filter { source: req.source, dyno: req.dyno };
    let lines = req.lines.unwrap_or(100).min(MAX_LINES);
    let secret = state.log_sessions.create(&app.name, lines, req.tail.unwrap_or(false), filter);
    let now = berth_core::api::timestamp(chrono::Utc::now());
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "logplex_url": format!("{}/log-sessions/{secret}", state.urls.api_url),
            "created_at": now,
            "updated_at": now,
        })),
    ))
}

/// `GET /log-sessions/{secret}`: needs no token, the secret is the credential.
pub async fn stream(State(state): State<AppState>, Path(secret): Path<String>, headers: HeaderMap) -> Response {
    let Some(session) = state.log_sessions.get(&secret) else {
        return ApiError::not_found("This log session has expired or does not exist: start a new one.").into_response();
    };
    let sse =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/event-stream"));
    let hub = Arc::clone(&state.logs);
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    tokio::spawn(async move {
        // Subscribe before reading history so nothing falls between the two.
        let live = session.tail.then(|| hub.subscribe(&session.app));
        let history = {
            let hub = Arc::clone(&hub);
            let (app, lines, filter) = (session.app.clone(), session.lines, session.filter.clone());
            tokio::task::spawn_blocking(move || hub.recent(&app, lines, &filter)).await.unwrap_or_default()
        };
        let mut writer = Writer { tx, sse, next_id: 0 };
        // Live lines that history already holds are not sent twice.
        let recent: std::collections::HashSet<String> = history.iter().rev().take(256).map(|l| l.to_string()).collect();
        for line in &history {
            if !writer.send(line).await {
                return;
            }
        }
        let Some(mut live) = live else { return };
        if sse && !writer.raw(": tail\n\n").await {
            return;
        }
        follow(&mut writer, &mut live, &session.filter, &recent).await;
    });
    let content_type = if sse { "text/event-stream" } else { "text/plain; charset=utf-8" };
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn follow(
    writer: &mut Writer,
    live: &mut tokio::sync::broadcast::Receiver<Arc<Line>>,
    filter: &Filter,
    recent: &std::collections::HashSet<String>,
) {
    let mut keepalive = tokio::time::interval(Duration::from_secs(15));
    keepalive.tick().await;
    loop {
        tokio::select! {
            msg = live.recv() => match msg {
                Ok(line) => {
                    if filter.matches(&line) && !(recent.contains(&line.to_string())) && !writer.send(&line).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    let note = Line::new(Source::Berth, "logs", format!("Error L10 (output buffer overflow): {n} messages dropped"));
                    if !writer.send(&note).await {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            _ = keepalive.tick() => {
                if writer.sse && !writer.raw(":\n\n").await {
                    return;
                }
            }
            _ = writer.tx.closed() => return,
        }
    }
}

struct Writer {
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
    sse: bool,
    next_id: u64,
}

impl Writer {
    async fn send(&mut self, line: &Line) -> bool {
        let text = if self.sse {
            self.next_id += 1;
            format!("id: {}\ndata: {line}\n\n", self.next_id)
        } else {
            format!("{line}\n")
        };
        self.tx.send(Ok(Bytes::from(text))).await.is_ok()
    }

    async fn raw(&mut self, text: &'static str) -> bool {
        self.tx.send(Ok(Bytes::from_static(text.as_bytes()))).await.is_ok()
    }
}
