//! `GET /metrics` (Prometheus text; platform admins only: it covers every app)
//! and `GET /apps/{app}/metrics` (Berth extension: one app's summary as JSON).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use berth_core::api::{AppMetrics, InstanceMetrics};

use crate::access::{AppAccess, View};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::metrics::prometheus::{self, ServerFacts};
use crate::state::AppState;

pub async fn prometheus(State(state): State<AppState>, caller: CurrentUser) -> ApiResult<impl IntoResponse> {
    if !caller.user.is_admin {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            "Server metrics cover every app: only platform admins may read them.",
        ));
    }
    let apps = state.store.list_apps().await?;
    let mut restarts = Vec::new();
    for app in &apps {
        for d in state.reconciler.instances(app).await.map_err(|e| ApiError::internal(e.to_string()))? {
            let dyno = d.instance.label(crate::reconcile::labels::DYNO).unwrap_or_default().to_string();
            if d.instance.label(crate::reconcile::labels::NAMESPACE).is_some() {
                restarts.push((app.name.clone(), dyno, d.restarts));
            }
        }
    }
    let facts = ServerFacts {
        apps: apps.len(),
        restarts,
        log_lines_dropped: state.logs.dropped(),
        drains: state.drains.counters(),
    };
    let text = prometheus::render(&state.router, &state.sampler, &facts);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text))
}

pub async fn app(State(state): State<AppState>, access: AppAccess<View>) -> ApiResult<Json<AppMetrics>> {
    let app = access.app.clone();
    let mut metrics = AppMetrics { app: app.name.clone(), ..Default::default() };
    if let Some((_, s)) = state.router.app_stats().into_iter().find(|(a, _)| *a == app.name) {
        for (i, c) in s.responses.iter().enumerate() {
            metrics.responses.insert(format!("{}xx", i + 1), c.load(Ordering::Relaxed));
        }
        metrics.requests = s.requests();
        metrics.response_bytes = s.bytes_out.load(Ordering::Relaxed);
        metrics.active_requests = s.active.load(Ordering::Relaxed).max(0);
        metrics.p50_ms = s.latency.quantile_ms(0.50);
        metrics.p95_ms = s.latency.quantile_ms(0.95);
        metrics.p99_ms = s.latency.quantile_ms(0.99);
    }
    let restarts: std::collections::HashMap<String, u32> = state
        .reconciler
        .instances(&app)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .into_iter()
        .filter_map(|d| Some((d.instance.label(crate::reconcile::labels::DYNO)?.to_string(), d.restarts)))
        .collect();
    metrics.instances = state
        .sampler
        .all()
        .into_iter()
        .filter(|s| s.app == app.name)
        .map(|s| InstanceMetrics {
            cpu_percent: (s.stats.cpu_percent * 10.0).round() / 10.0,
            memory_bytes: s.stats.memory_bytes,
            memory_limit_bytes: s.stats.memory_limit_bytes,
            restarts: restarts.get(&s.dyno).copied().map_or(0, u64::from),
            dyno: s.dyno,
        })
        .collect();
    Ok(Json(metrics))
}
