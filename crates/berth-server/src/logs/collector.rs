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
    /// Starts collecting; stops when the returned handle is dropped.
    pub fn start(hub: Arc<LogHub>, runtime: Arc<dyn Runtime>, namespace: String) -> Arc<Self> {
        let cursors = super::load_cursors(hub.dir());
        let collector =
            Arc::new(Self { hub, runtime, namespace, state: Mutex::new(State { cursors, ..Default::default() }) });
        // Runs while the returned handle lives.
        let weak = Arc::downgrade(&collector);
        tokio::spawn(async move {
            while let Some(c) = weak.upgrade() {
                c.pass().await;
                drop(c);
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
                // Not started yet: nothing to read, and reading now would call it drained.
                if i.state == InstanceState::Created {
                    continue;
                }
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
        let mut complete = true;
        while let Some(item) = lines.next().await {
            let line = match item {
                Ok(l) => l,
                Err(e) => {
                    tracing::debug!(container = %id, error = %e, "log stream ended");
                    complete = false;
                    break;
                }
            };
            // The engine resumes on a whole second: skip what was already taken. Only
            // against the resume point: stdout and stderr lines may arrive slightly out
            // of timestamp order, and every line of a live stream is new.
            if since.is_some_and(|t| line.timestamp <= t) {
                continue;
            }
            let mut state = self.state.lock().unwrap();
            let cursor = state.cursors.entry(id.clone()).or_insert(line.timestamp);
            *cursor = (*cursor).max(line.timestamp);
            drop(state);
            self.hub.container_line(&source.app, &source.app_id, &source.dyno, &id, line);
        }
        // A one-off's log read to its end (it stopped): the janitor may remove it now.
        if complete && source.dyno.starts_with("run.") {
            self.hub.mark_drained(&id);
        }
        let mut state = self.state.lock().unwrap();
        state.following.remove(&id);
        state.drained.insert(id);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use berth_runtime::{FakeRuntime, InstanceSpec, OutputStream};

    use super::*;
    use crate::logs::Filter;

    async fn recent_until(hub: &LogHub, n: usize) -> Vec<String> {
        for _ in 0..100 {
            let lines = hub.recent("web1", 100, &Filter::default());
            if lines.len() >= n {
                return lines.iter().map(|l| format!("{}[{}]: {}", l.source.as_str(), l.process, l.message)).collect();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("only {:?}", hub.recent("web1", 100, &Filter::default()));
    }

    /// A container of app `web1` in namespace `ns` running `dyno`.
    fn spec(name: &str, dyno: &str) -> InstanceSpec {
        let labels = BTreeMap::from([
            (labels::NAMESPACE.to_string(), "ns".to_string()),
            (labels::APP.to_string(), "web1".to_string()),
            (labels::APP_ID.to_string(), "id1".to_string()),
            (labels::DYNO.to_string(), dyno.to_string()),
        ]);
        InstanceSpec {
            name: name.into(),
            image: "img".into(),
            entrypoint: None,
            command: None,
            env: vec![],
            labels,
            network: "net".into(),
            hostname: dyno.into(),
            memory_bytes: 1,
        }
    }

    #[tokio::test]
    async fn follows_labelled_containers_and_resumes_without_repeating() {
        let fake = Arc::new(FakeRuntime::with_images(&["img"]));
        fake.ensure_network("net", &BTreeMap::new()).await.unwrap();
        let spec = spec("c1", "web.1");
        let id = fake.run(&spec).await.unwrap();
        fake.push_log(&id, OutputStream::Stdout, "one");
        fake.push_log(&id, OutputStream::Stderr, "two");
        // Not ours: another namespace.
        let mut other = spec.clone();
        other.name = "c2".into();
        other.labels.insert(labels::NAMESPACE.into(), "elsewhere".into());
        let other_id = fake.run(&other).await.unwrap();
        fake.push_log(&other_id, OutputStream::Stdout, "not ours");

        let dir = tempfile::tempdir().unwrap();
        let hub = LogHub::open(dir.path().to_path_buf(), 1 << 20).unwrap();
        let runtime: Arc<dyn Runtime> = fake.clone();
        let collector = Collector::start(Arc::clone(&hub), Arc::clone(&runtime), "ns".into());
        assert_eq!(recent_until(&hub, 2).await, ["app[web.1]: one", "app[web.1]: two"]);

        // A new server process (same data dir) picks up only what is new.
        drop(collector);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        fake.push_log(&id, OutputStream::Stdout, "three");
        let hub2 = LogHub::open(dir.path().to_path_buf(), 1 << 20).unwrap();
        let _collector2 = Collector::start(Arc::clone(&hub2), runtime, "ns".into());
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let all = recent_until(&hub2, 3).await;
        assert_eq!(all.iter().filter(|l| l.ends_with("three")).count(), 1, "{all:?}");
        assert_eq!(all.iter().filter(|l| l.ends_with("one")).count(), 1, "{all:?}");
        assert!(!all.iter().any(|l| l.contains("not ours")));
    }

    #[tokio::test]
    async fn a_one_off_not_started_yet_is_not_taken_for_drained() {
        let fake = Arc::new(FakeRuntime::with_images(&["img"]));
        fake.ensure_network("net", &BTreeMap::new()).await.unwrap();
        let spec = spec("r1", "run.1");
        let id = fake.run(&spec).await.unwrap();
        fake.unstart(&id);
        let dir = tempfile::tempdir().unwrap();
        let hub = LogHub::open(dir.path().to_path_buf(), 1 << 20).unwrap();
        let runtime: Arc<dyn Runtime> = fake.clone();
        let _collector = Collector::start(Arc::clone(&hub), Arc::clone(&runtime), "ns".into());
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(!hub.take_drained(&id), "a created container has not run: its log is not complete");

        // Started, it writes and stops: then its log is read to the end.
        fake.start(&id).await.unwrap();
        fake.push_log(&id, OutputStream::Stdout, "done");
        fake.stop(&id, Duration::ZERO).await.unwrap();
        assert_eq!(recent_until(&hub, 1).await, ["app[run.1]: done"]);
        for _ in 0..50 {
            if hub.take_drained(&id) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the stopped one-off was never marked drained");
    }
}
