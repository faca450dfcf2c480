//! Image garbage collection: an app keeps the images of its last N releases
//! (rollbacks to them need no rebuild); older Berth-built images go.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use berth_store::AppRecord;
use chrono::Utc;

use super::{labels, Reconciler};

/// Images younger than this are never collected: a build may have just made
/// one that no release names yet.
const MIN_AGE: Duration = Duration::from_secs(15 * 60);

impl Reconciler {
    pub(crate) fn spawn_image_gc(self: &Arc<Self>, app: AppRecord) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            match this.collect_images(&app).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(app = %app.name, removed = n, "removed images of old releases"),
                Err(e) => tracing::warn!(app = %app.name, error = %e, "image garbage collection failed"),
            }
        });
    }

    /// Removes the app's Berth-built images that none of its last
    /// `keep_releases` releases use; returns how many went.
    pub(crate) async fn collect_images(&self, app: &AppRecord) -> Result<usize, super::ReconcileError> {
        let keep: HashSet<String> =
            self.store.recent_release_images(&app.id, self.config.keep_releases).await?.into_iter().collect();
        let filter =
            [(labels::IMAGE_NAMESPACE, self.config.namespace.as_str()), (labels::IMAGE_APP, app.name.as_str())];
        let cutoff = Utc::now() - chrono::Duration::from_std(MIN_AGE).unwrap_or_default();
        let mut removed = 0;
        for image in self.runtime.list_images(&filter).await? {
            if image.created > cutoff {
                continue;
            }
            for tag in image.tags.iter().filter(|t| !keep.contains(*t)) {
                // Not forced: an image an instance still uses stays.
                match self.runtime.remove_image(tag).await {
                    Ok(()) => removed += 1,
                    Err(e) => tracing::debug!(image = %tag, error = %e, "image kept"),
                }
            }
        }
        Ok(removed)
    }
}
