//! Samples every running instance's resource use (CPU, memory, limit) every
//! few seconds, so `ps` and `/metrics` read a cache instead of
//! waiting on the engine (a stats call takes about a second).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_runtime::{InstanceState, InstanceStats, Runtime};
use futures_util::StreamExt;

use crate::oneoff;
use crate::reconcile::labels;

pub const INTERVAL: Duration = Duration::from_secs(5);

/// The latest sample of one instance.
#[derive(Debug, Clone)]
pub struct Sample {
    pub app: String,
    pub dyno: String,
    pub stats: InstanceStats,
}

#[derive(Default)]
pub struct Sampler {
    samples: Mutex<HashMap<String, Sample>>,
}

impl Sampler {
    pub fn start(runtime: Arc<dyn Runtime>, namespace: String) -> Arc<Self> {
        let sampler = Arc::new(Self::default());
        let s = Arc::clone(&sampler);
        tokio::spawn(async move {
            loop {
                s.sample(&*runtime, &namespace).await;
                tokio::time::sleep(INTERVAL).await;
            }
        });
        sampler
    }

    async fn sample(&self, runtime: &dyn Runtime, namespace: &str) {
        let mut instances = runtime.list(&[(labels::NAMESPACE, namespace)]).await.unwrap_or_default();
        instances.extend(runtime.list(&[(oneoff::NAMESPACE, namespace)]).await.unwrap_or_default());
        let running: Vec<_> = instances.into_iter().filter(|i| i.state == InstanceState::Running).collect();
        let results: Vec<_> = futures_util::stream::iter(running)
            .map(|i| async move {
                let stats = tokio::time::timeout(Duration::from_secs(5), runtime.stats(&i.id)).await;
                (i, stats)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let mut fresh = HashMap::new();
        for (i, stats) in results {
            if let Ok(Ok(stats)) = stats {
                let app = i.label(labels::APP).unwrap_or_default().to_string();
                let dyno = i.label(labels::DYNO).unwrap_or_default().to_string();
                fresh.insert(i.id.clone(), Sample { app, dyno, stats });
            }
        }
        *self.samples.lock().unwrap() = fresh;
    }

    /// The latest sample of an instance, if it was running at the last sample.
    pub fn get(&self, id: &str) -> Option<InstanceStats> {
        self.samples.lock().unwrap().get(id).map(|s| s.stats)
    }

    /// All samples, sorted by app and dyno.
    pub fn all(&self) -> Vec<Sample> {
        let mut all: Vec<Sample> = self.samples.lock().unwrap().values().cloned().collect();
        all.sort_by(|a, b| (&a.app, &a.dyno).cmp(&(&b.app, &b.dyno)));
        all
    }
}
