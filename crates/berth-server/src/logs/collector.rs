//! Follows every app container's engine log into the [`LogHub`].
//!
//! Containers are discovered by label each second: the reconciler's instances
//! (`io.berth.namespace`) and detached one-offs. Each running container gets a
//! follower; a stopped one is read once. The timestamp of the last line taken
//! from each container is saved in `cursors.json`, so after a server restart
//! reading resumes where it stopped: lines written while the server was down are
//! collected. The cursors are written by the history writer right after the
//! lines they cover (`LogHub::container_line`), so a crash repeats at most the
//! last batch and loses nothing.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_runtime::{Instance, InstanceState, Runtime};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::LogHub;
use crate::oneoff;
use crate::reconcile::labels;

pub struct Collector {
    hub: Arc<LogHub>,
    runtime: Arc<dyn Runtime>,
    namespace: String,
    state: Mutex<State>,
}

/// Whose log a container's lines go to.
struct Source {
    app: String,
    app_id: String,
    dyno: String,
}

#[derive(Default)]
struct State {
    /// container id → timestamp of the last line taken.
    cursors: HashMap<String, DateTime<Utc>>,
    following: HashSet<String>,
    /// Stopped containers already read to their end by this process.
    drained: HashSet<String>,
}

impl Collector {
    pub fn start(hub: Arc<LogHub>, runtime: Arc<dyn Runtime>, namespace: String) -> Arc<Self> {
        let cursors = super::load_cursors(hub.dir());
        let collector =
            Arc::new(Self { hub, runtime, namespace, state: Mutex::new(State { cursors, ..Default::default() }) });
        let c = Arc::clone(&collector);
        tokio::spawn(async move {
            loop {
                c.pass().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        collector
    }

    async fn instances(&self) -> Result<Vec<Instance>, berth_runtime::RuntimeError> {
        let mut all = self.runtime.list(&[(labels::NAMESPACE, self.namespace.as_str())]).await?;
        all.extend(
            self.runtime
                .list(&[(oneoff::NAMESPACE, self.namespace.as_str()), (oneoff::MODE, oneoff::DETACHED)])
                .await?,
        );
        Ok(all)
    }

    async fn pass(self: &Arc<Self>) {
        let instances = match self.instances().await {
            Ok(i) => i,
            Err(e) => {
                tracing::debug!(error = %e, "log collector cannot list containers");
                return;
            }
        };
        let mut start = Vec::new();
        {
            let mut state = self.state.lock().unwrap();
            let ids: HashSet<&str> = instances.iter().map(|i| i.id.as_str()).collect();
            state.cursors.retain(|id, _| ids.contains(id.as_str()));
            self.hub.retain_cursors(ids.iter().map(|s| s.to_string()).collect());
            state.drained.retain(|id| ids.contains(id.as_str()));
            for i in &instances {
                let running = i.state == InstanceState::Running;
                if state.following.contains(&i.id) || (!running && state.drained.contains(&i.id)) {
                    continue;
                }
                let (Some(app), Some(app_id), Some(dyno)) =
                    (i.label(labels::APP), i.label(labels::APP_ID), i.label(labels::DYNO))
                else {
                    continue;
                };
                state.following.insert(i.id.clone());
                let source = Source { app: app.to_string(), app_id: app_id.to_string(), dyno: dyno.to_string() };
                start.push((i.id.clone(), source, running));
            }
        }
        for (id, source, follow) in start {
            let c = Arc::clone(self);
            tokio::spawn(async move { c.follow(id, source, follow).await });
        }
    }

    async fn follow(&self, id: String, source: Source, follow: bool) {
        let since = self.state.lock().unwrap().cursors.get(&id).copied();
        let mut lines = self.runtime.logs(&id, since, follow);
        let mut last = since;
        while let Some(item) = lines.next().await {
            let line = match item {
                Ok(l) => l,
                Err(e) => {
                    tracing::debug!(container = %id, error = %e, "log stream ended");
                    break;
                }
            };
            // The engine resumes on a whole second: skip what was already taken.
            if last.is_some_and(|t| line.timestamp <= t) {
                continue;
            }
            last = Some(line.timestamp);
            self.state.lock().unwrap().cursors.insert(id.clone(), line.timestamp);
            self.hub.container_line(&source.app, &source.app_id, &source.dyno, &id, line);
        }
        let mut state = self.state.lock().unwrap();
        state.following.remove(&id);
        state.drained.insert(id);
    }
}
