//! The reconcile loop: converges the engine toward the desired state in the store.
//!
//! Desired state (current release + formation per app) lives only in the store.
//! A global pass lists this server's instances (by the `io.berth.namespace`
//! label), cleans up after destroyed apps and kicks one task per app. An app's
//! task ([`rollout`]) never blocks other apps: it creates what is missing,
//! health-checks new instances, swaps the routes when they are all healthy,
//! and retires what is obsolete through [`drain`] (out of the routes, wait for
//! in-flight requests, SIGTERM, SIGKILL after the grace period). While work is
//! pending (booting instances, crash backoff) the app's task comes back on its
//! own within milliseconds; nothing waits with fixed sleeps.

mod drain;
pub mod events;
mod gc;
pub mod labels;
pub mod plan;
mod rollout;
mod tracking;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use berth_router::{Backend, RouteTable, Router};
use berth_runtime::{Instance, InstanceState, Runtime};
use berth_store::{AppRecord, ReleaseRecord, Store};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

use crate::config::ServerConfig;
use events::Events;
use tracking::Tracked;

/// Sources `/app/.profile.d/*.sh`, then runs the command given as `$0`. bash
/// execs a simple command in place (dash does not), so SIGTERM from a stop
/// reaches the app itself; images without bash fall back to sh.
pub(crate) const PROFILE_WRAPPER: &str = r#"for f in /app/.profile.d/*.sh; do [ -r "$f" ] && . "$f"; done; if [ -x /bin/bash ]; then exec /bin/bash -c "$0"; fi; exec /bin/sh -c "$0""#;

/// A process's environment: the release's config vars, then `PORT` and `DYNO`
/// (which config cannot override).
pub(crate) fn dyno_env(release: &ReleaseRecord, port: u16, dyno: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = release
        .config
        .iter()
        .filter(|(k, _)| *k != "PORT" && *k != "DYNO")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.push(("PORT".into(), port.to_string()));
    env.push(("DYNO".into(), dyno.to_string()));
    env
}

/// One app's work queue: a lock (one task per app at a time), a dirty flag (a
/// kick while the task runs makes it run again) and its next scheduled wake-up.
#[derive(Default)]
struct AppWork {
    lock: Arc<Mutex<()>>,
    dirty: AtomicBool,
    wake_at: StdMutex<Option<Instant>>,
}

/// An instance as `ps` shows it.
#[derive(Debug, Clone)]
pub struct DynoStatus {
    pub instance: Instance,
    /// starting, up, crashed, restarting, stopping (draining), down.
    pub state: String,
    pub restarts: u32,
    pub last_exit_code: Option<i64>,
    pub up_since: Option<DateTime<Utc>>,
}

pub struct Reconciler {
    store: Store,
    runtime: Arc<dyn Runtime>,
    router: Arc<Router>,
    config: Arc<ServerConfig>,
    wake: Notify,
    work: StdMutex<HashMap<String, Arc<AppWork>>>,
    /// Per instance id: health, crashes, backoff.
    tracked: StdMutex<HashMap<String, Tracked>>,
    /// Instances being retired (draining, then stopping): no pass touches them.
    retiring: StdMutex<HashSet<String>>,
    /// Instances to replace one by one (`ps:restart web.1`): a new instance
    /// takes the slot and the old one is retired once the new one is healthy.
    replacing: StdMutex<HashSet<String>>,
    /// Drain tasks started by passes (awaited by [`Reconciler::reconcile_once`]).
    drains: StdMutex<Vec<JoinHandle<()>>>,
    /// app name → backends currently published to the router.
    routes: StdMutex<BTreeMap<String, Vec<Backend>>>,
    pub events: Events,
}

/// What one app's task left undone.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AppOutcome {
    /// Come back after this long (booting instances, crash backoff).
    pub again_in: Option<Duration>,
}

impl AppOutcome {
    fn again(&mut self, after: Duration) {
        self.again_in = Some(self.again_in.map_or(after, |d| d.min(after)));
    }
}

impl Reconciler {
    pub fn new(store: Store, runtime: Arc<dyn Runtime>, router: Arc<Router>, config: Arc<ServerConfig>) -> Arc<Self> {
        Arc::new(Self {
            store,
            runtime,
            router,
            config,
            wake: Notify::new(),
            work: StdMutex::new(HashMap::new()),
            tracked: StdMutex::new(HashMap::new()),
            retiring: StdMutex::new(HashSet::new()),
            replacing: StdMutex::new(HashSet::new()),
            drains: StdMutex::new(Vec::new()),
            routes: StdMutex::new(BTreeMap::new()),
            events: Events::default(),
        })
    }

    /// Asks for a pass as soon as possible (after a change to desired state).
    pub fn trigger(&self) {
        self.wake.notify_one();
    }

    /// Runs passes forever: on trigger, on engine exit events, and on a timer.
    pub async fn run(self: Arc<Self>) {
        match self.runtime.watch_exits(&self.namespace_filter()).await {
            Ok(mut exits) => {
                let this = Arc::clone(&self);
                tokio::spawn(async move {
                    while let Some(id) = exits.recv().await {
                        this.unroute(&id);
                        this.trigger();
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot watch instance exits; crashes are noticed by polling"),
        }
        loop {
            match self.global_pass().await {
                Ok(apps) => {
                    for app in apps {
                        self.kick(app);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reconcile pass failed; retrying"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.reconcile_interval) => {}
            }
        }
    }

    /// Takes an instance that just exited out of the routes at once, before the
    /// pass that handles its exit (so no request meets its closed port).
    fn unroute(&self, id: &str) {
        let addr = {
            let mut tracked = self.tracked.lock().unwrap();
            let Some(t) = tracked.get_mut(id) else { return };
            t.healthy = false;
            t.addr
        };
        let Some(addr) = addr else { return };
        let changed = {
            let mut routes = self.routes.lock().unwrap();
            let mut changed = false;
            for backends in routes.values_mut() {
                let before = backends.len();
                backends.retain(|b| b.addr != addr);
                changed |= backends.len() != before;
            }
            changed
        };
        if changed {
            self.publish_routes();
        }
    }

    /// One full pass, waiting for every app's task and the drains it started
    /// (tests and tools). Returns whether work is still pending.
    pub async fn reconcile_once(self: &Arc<Self>) -> Result<bool, ReconcileError> {
        let apps = self.global_pass().await?;
        let mut pending = false;
        for app in apps {
            let work = self.work_for(&app.id);
            let _guard = work.lock.lock().await;
            match self.reconcile_app(&app).await {
                Ok(outcome) => pending |= outcome.again_in.is_some(),
                Err(e) => {
                    pending = true;
                    tracing::warn!(app = %app.name, error = %e, "could not reconcile app");
                }
            }
        }
        let drains: Vec<JoinHandle<()>> = std::mem::take(&mut *self.drains.lock().unwrap());
        join_all(drains).await;
        Ok(pending)
    }

    fn namespace_filter(&self) -> [(&str, &str); 1] {
        [(labels::NAMESPACE, self.config.namespace.as_str())]
    }

    /// The part of a pass that spans apps: orphans of destroyed apps, forgotten
    /// instances, routes of apps that are gone. Returns the apps to reconcile.
    async fn global_pass(&self) -> Result<Vec<AppRecord>, ReconcileError> {
        let apps = self.store.list_apps().await?;
        let instances = self.runtime.list(&self.namespace_filter()).await?;
        {
            let present: HashSet<&str> = instances.iter().map(|i| i.id.as_str()).collect();
            self.tracked.lock().unwrap().retain(|id, _| present.contains(id.as_str()));
            self.replacing.lock().unwrap().retain(|id| present.contains(id.as_str()));
        }
        let known: HashSet<&str> = apps.iter().map(|a| a.id.as_str()).collect();
        // Instances of apps that no longer exist (destroyed while we were down).
        let orphans: Vec<&Instance> =
            instances.iter().filter(|i| !known.contains(i.label(labels::APP_ID).unwrap_or_default())).collect();
        join_all(orphans.iter().map(|i| self.runtime.remove(&i.id))).await;
        self.remove_orphan_networks(&apps).await;
        let changed = {
            let mut routes = self.routes.lock().unwrap();
            let before = routes.len();
            routes.retain(|name, _| apps.iter().any(|a| &a.name == name));
            for app in &apps {
                routes.entry(app.name.clone()).or_default();
            }
            before != routes.len()
        };
        if changed {
            self.publish_routes();
        }
        Ok(apps)
    }

    fn work_for(&self, app_id: &str) -> Arc<AppWork> {
        Arc::clone(self.work.lock().unwrap().entry(app_id.to_string()).or_default())
    }

    /// Runs the app's task now, or makes the running one go again.
    fn kick(self: &Arc<Self>, app: AppRecord) {
        let work = self.work_for(&app.id);
        work.dirty.store(true, Ordering::SeqCst);
        let Ok(guard) = Arc::clone(&work.lock).try_lock_owned() else { return };
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut guard = Some(guard);
            while guard.is_some() {
                while work.dirty.swap(false, Ordering::SeqCst) {
                    match this.reconcile_app(&app).await {
                        Ok(outcome) => {
                            if let Some(delay) = outcome.again_in {
                                this.kick_later(&app, &work, delay);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(app = %app.name, error = %e, "could not reconcile app; retrying");
                            this.kick_later(&app, &work, Duration::from_secs(1));
                        }
                    }
                }
                drop(guard.take());
                // A kick that came between the last check and the unlock found the lock taken.
                if work.dirty.load(Ordering::SeqCst) {
                    guard = Arc::clone(&work.lock).try_lock_owned().ok();
                }
            }
        });
    }

    /// Schedules the app's task (one wake-up at a time: the earliest wins).
    fn kick_later(self: &Arc<Self>, app: &AppRecord, work: &AppWork, delay: Duration) {
        let at = Instant::now() + delay;
        {
            let mut wake_at = work.wake_at.lock().unwrap();
            if wake_at.is_some_and(|w| w <= at) {
                return;
            }
            *wake_at = Some(at);
        }
        let this = Arc::clone(self);
        let app = app.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let work = this.work_for(&app.id);
            {
                let mut wake_at = work.wake_at.lock().unwrap();
                if *wake_at == Some(at) {
                    *wake_at = None;
                }
            }
            this.kick(app);
        });
    }

    /// Removes every instance and the network of an app (after `apps:destroy`).
    pub async fn teardown_app(&self, app: &AppRecord) -> Result<(), ReconcileError> {
        let work = self.work_for(&app.id);
        let _guard = work.lock.lock().await;
        let instances = self.runtime.list(&[(labels::APP_ID, app.id.as_str())]).await?;
        for result in join_all(instances.iter().map(|i| self.runtime.remove(&i.id))).await {
            result?;
        }
        self.runtime.remove_network(&self.network(app)).await?;
        self.routes.lock().unwrap().remove(&app.name);
        self.publish_routes();
        self.work.lock().unwrap().remove(&app.id);
        Ok(())
    }

    /// The app's instances as `ps` shows them.
    pub async fn instances(&self, app: &AppRecord) -> Result<Vec<DynoStatus>, ReconcileError> {
        let instances = self.runtime.list(&[(labels::APP_ID, app.id.as_str())]).await?;
        let tracked = self.tracked.lock().unwrap();
        let retiring = self.retiring.lock().unwrap();
        Ok(instances
            .into_iter()
            .map(|instance| {
                let t = tracked.get(&instance.id);
                let state = if retiring.contains(&instance.id) {
                    "stopping"
                } else {
                    match (t, instance.state) {
                        (Some(t), _) => t.state(),
                        (None, InstanceState::Running) => "starting",
                        (None, _) => "down",
                    }
                };
                DynoStatus {
                    state: state.to_string(),
                    restarts: t.map_or(0, |t| t.restarts),
                    last_exit_code: t.and_then(|t| t.last_exit_code).or_else(|| instance.exit_code()),
                    up_since: t.and_then(|t| t.up_since),
                    instance,
                }
            })
            .collect())
    }

    /// Replaces one instance without dropping requests: a new one takes its slot
    /// and it is retired once the new one is healthy.
    pub fn replace_instance(&self, id: &str) {
        self.replacing.lock().unwrap().insert(id.to_string());
        self.trigger();
    }

    async fn remove_orphan_networks(&self, apps: &[AppRecord]) {
        let wanted: HashSet<String> = apps.iter().map(|a| self.network(a)).collect();
        match self.runtime.list_networks(&self.namespace_filter()).await {
            Ok(networks) => {
                for name in networks.into_iter().filter(|n| !wanted.contains(n)) {
                    if let Err(e) = self.runtime.remove_network(&name).await {
                        tracing::debug!(network = %name, error = %e, "orphan network not removed yet");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not list networks"),
        }
    }

    fn backend(&self, instance: &Instance) -> Option<Backend> {
        let ip = instance.ip?;
        Some(Backend {
            addr: SocketAddr::new(ip, self.config.app_port),
            name: instance.label(labels::DYNO).unwrap_or_default().to_string(),
        })
    }

    fn set_routes(&self, app: &AppRecord, mut backends: Vec<Backend>) {
        backends.sort_by(|a, b| a.name.cmp(&b.name).then(a.addr.cmp(&b.addr)));
        let changed = {
            let mut routes = self.routes.lock().unwrap();
            let entry = routes.entry(app.name.clone()).or_default();
            let changed = *entry != backends;
            *entry = backends;
            changed
        };
        if changed {
            self.publish_routes();
        }
    }

    fn routed(&self, app: &AppRecord) -> Vec<Backend> {
        self.routes.lock().unwrap().get(&app.name).cloned().unwrap_or_default()
    }

    fn publish_routes(&self) {
        let routes = self.routes.lock().unwrap();
        let mut table = RouteTable::new();
        for (app, backends) in routes.iter() {
            table.insert(&format!("{app}.{}", self.config.domain), app, backends.clone());
        }
        self.router.set_routes(table);
    }

    pub fn network(&self, app: &AppRecord) -> String {
        labels::network_name(&self.config.namespace, &app.name)
    }

    pub fn network_labels(&self, app: &AppRecord) -> BTreeMap<String, String> {
        BTreeMap::from([
            (labels::NAMESPACE.to_string(), self.config.namespace.clone()),
            (labels::APP.to_string(), app.name.clone()),
            (labels::APP_ID.to_string(), app.id.clone()),
        ])
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] berth_store::StoreError),
    #[error(transparent)]
    Runtime(#[from] berth_runtime::RuntimeError),
}

#[cfg(test)]
mod tests;
