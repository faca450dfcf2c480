//! Retiring an instance: out of the routes, wait until nothing is in flight on
//! it (bounded by the drain timeout), then SIGTERM, SIGKILL after the grace
//! period, and remove it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_runtime::{Instance, InstanceState};
use berth_store::AppRecord;

use super::{labels, Reconciler};

/// Requests that picked a backend from the previous route table register as in
/// flight within microseconds; this margin covers them before counting.
const SETTLE: Duration = Duration::from_millis(100);
const DRAIN_POLL: Duration = Duration::from_millis(50);

impl Reconciler {
    /// Starts retiring `instance` (once; later calls are no-ops).
    pub(crate) fn retire(self: &Arc<Self>, app: &AppRecord, instance: &Instance) {
        if !self.retiring.lock().unwrap().insert(instance.id.clone()) {
            return;
        }
        let backend = self.backend(instance).filter(|_| instance.state == InstanceState::Running);
        if let Some(backend) = &backend {
            let routed = self.routed(app);
            if routed.contains(backend) {
                self.set_routes(app, routed.into_iter().filter(|b| b != backend).collect());
            }
        }
        let this = Arc::clone(self);
        let app_name = app.name.clone();
        let instance = instance.clone();
        let handle = tokio::spawn(async move {
            let dyno = instance.label(labels::DYNO).unwrap_or("?").to_string();
            if let Some(backend) = backend {
                tokio::time::sleep(SETTLE).await;
                let deadline = Instant::now() + this.config.drain_timeout;
                while this.router.in_flight(backend.addr) > 0 && Instant::now() < deadline {
                    tokio::time::sleep(DRAIN_POLL).await;
                }
                let left = this.router.in_flight(backend.addr);
                if left > 0 {
                    this.events.emit(
                        &app_name,
                        &dyno,
                        format!(
                            "Drain timeout ({}s): {left} requests or connections still open",
                            this.config.drain_timeout.as_secs()
                        ),
                    );
                }
            }
            if instance.state == InstanceState::Running {
                this.events.emit(
                    &app_name,
                    &dyno,
                    format!(
                        "Stopping (v{}): SIGTERM, SIGKILL after {}s",
                        instance.label(labels::RELEASE).unwrap_or("?"),
                        this.config.stop_grace.as_secs()
                    ),
                );
                if let Err(e) = this.runtime.stop(&instance.id, this.config.stop_grace).await {
                    tracing::warn!(instance = %instance.name, error = %e, "stop failed; removing anyway");
                }
            }
            if let Err(e) = this.runtime.remove(&instance.id).await {
                tracing::warn!(instance = %instance.name, error = %e, "remove failed");
            }
            this.tracked.lock().unwrap().remove(&instance.id);
            this.replacing.lock().unwrap().remove(&instance.id);
            this.retiring.lock().unwrap().remove(&instance.id);
        });
        let mut drains = self.drains.lock().unwrap();
        drains.retain(|h| !h.is_finished());
        drains.push(handle);
    }
}
