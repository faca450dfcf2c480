//! Shared state of the API handlers.

use std::sync::Arc;

use berth_runtime::Runtime;
use berth_store::Store;

use crate::config::ServerConfig;
use crate::deploy::Builds;
use crate::logs::sessions::Sessions;
use crate::logs::LogHub;
use crate::passwords::LoginLimiter;
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
    /// Failed password logins per (email, IP).
    pub login_limiter: Arc<LoginLimiter>,
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

// There is deliberately no `AppState::app(name)`: handlers get apps through
// `crate::access::AppAccess<Permission>`, so no route can skip the permission check.
