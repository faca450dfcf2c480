//! Shared state of the API handlers.

use std::sync::Arc;

use berth_runtime::Runtime;
use berth_store::{AppRecord, Store};

use crate::config::ServerConfig;
use crate::deploy::Builds;
use crate::error::ApiResult;
use crate::logs::sessions::Sessions;
use crate::logs::LogHub;
use crate::reconcile::Reconciler;
use crate::view::Urls;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub runtime: Arc<dyn Runtime>,
    pub reconciler: Arc<Reconciler>,
    pub config: Arc<ServerConfig>,
    pub urls: Arc<Urls>,
    /// Authenticates the git pre-receive hook to the build endpoint (per start).
    pub hook_secret: String,
    pub builds: Arc<Builds>,
    /// App log streams (see `logs/`).
    pub logs: Arc<LogHub>,
    pub log_sessions: Arc<Sessions>,
    pub drains: Arc<crate::logs::drains::Drains>,
    /// Attached one-off sessions (`berth run`).
    pub oneoffs: Arc<crate::oneoff::OneOffs>,
    pub sampler: Arc<crate::metrics::Sampler>,
    /// The data plane, for its counters.
    pub router: Arc<berth_router::Router>,
}

impl AppState {
    /// Finds an app by name or id, or a Heroku-style 404.
    pub async fn app(&self, name_or_id: &str) -> ApiResult<AppRecord> {
        Ok(self.store.app(name_or_id).await?)
    }
}
