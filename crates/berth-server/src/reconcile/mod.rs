//! The reconcile loop: converges the engine toward the desired state in the store.
//!
//! Desired state (current release + formation per app) lives only in the store.
//! Each pass lists this server's instances (by the `io.berth.namespace` label),
//! matches them to desired slots ([`plan`]), creates and starts what is missing,
//! waits for new web instances to accept connections, publishes routes, and only
//! then stops what is obsolete. A restarted server adopts running instances.

pub mod labels;
pub mod plan;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use berth_router::{Backend, RouteTable, Router};
use berth_runtime::{Instance, InstanceSpec, InstanceState, Runtime};
use berth_store::{AppRecord, ReleaseRecord, Store, NON_FORMATION_TYPES};
use futures_util::future::join_all;
use tokio::sync::{Mutex, Notify};

use crate::config::ServerConfig;
use plan::{plan, Slot};

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

pub struct Reconciler {
    store: Store,
    runtime: Arc<dyn Runtime>,
    router: Arc<Router>,
    config: Arc<ServerConfig>,
    wake: Notify,
    /// One pass at a time; app teardown waits for the pass in progress.
    pass_lock: Mutex<()>,
    /// Instances that have accepted a TCP connection on `$PORT`.
    ready: StdMutex<HashSet<String>>,
    /// app name → backends currently published to the router.
    routes: StdMutex<BTreeMap<String, Vec<Backend>>>,
}

/// What one app's pass left undone (so the loop comes back sooner).
#[derive(Debug, Default, Clone, Copy)]
struct AppOutcome {
    pending: bool,
}

impl Reconciler {
    pub fn new(store: Store, runtime: Arc<dyn Runtime>, router: Arc<Router>, config: Arc<ServerConfig>) -> Arc<Self> {
        Arc::new(Self {
            store,
            runtime,
            router,
            config,
            wake: Notify::new(),
            pass_lock: Mutex::new(()),
            ready: StdMutex::new(HashSet::new()),
            routes: StdMutex::new(BTreeMap::new()),
        })
    }

    /// Asks for a pass as soon as possible (after a change to desired state).
    pub fn trigger(&self) {
        self.wake.notify_one();
    }

    /// Runs passes forever: on trigger, on a timer, and sooner while work is pending.
    pub async fn run(self: Arc<Self>) {
        loop {
            let pending = match self.reconcile_once().await {
                Ok(pending) => pending,
                Err(e) => {
                    tracing::warn!(error = %e, "reconcile pass failed; retrying");
                    true
                }
            };
            let wait = if pending { Duration::from_millis(500) } else { self.config.reconcile_interval };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn namespace_filter(&self) -> [(&str, &str); 1] {
        [(labels::NAMESPACE, self.config.namespace.as_str())]
    }

    /// One full pass over all apps. Returns whether work is still pending.
    pub async fn reconcile_once(&self) -> Result<bool, ReconcileError> {
        let _pass = self.pass_lock.lock().await;
        let apps = self.store.list_apps().await?;
        let instances = self.runtime.list(&self.namespace_filter()).await?;
        self.forget_gone(&instances);

        let mut by_app: HashMap<String, Vec<Instance>> = HashMap::new();
        for instance in instances {
            let app_id = instance.label(labels::APP_ID).unwrap_or_default().to_string();
            by_app.entry(app_id).or_default().push(instance);
        }
        let known: HashSet<&str> = apps.iter().map(|a| a.id.as_str()).collect();

        // Instances of apps that no longer exist (destroyed while we were down).
        let orphans: Vec<Instance> = by_app
            .iter()
            .filter(|(id, _)| !known.contains(id.as_str()))
            .flat_map(|(_, list)| list.iter().cloned())
            .collect();
        join_all(orphans.iter().map(|i| self.runtime.remove(&i.id))).await;
        self.remove_orphan_networks(&apps).await;

        let outcomes = join_all(apps.iter().map(|app| {
            let instances = by_app.get(&app.id).cloned().unwrap_or_default();
            self.reconcile_app(app, instances)
        }))
        .await;
        {
            let mut routes = self.routes.lock().unwrap();
            routes.retain(|name, _| apps.iter().any(|a| &a.name == name));
        }
        self.publish_routes();
        let mut pending = false;
        for (app, outcome) in apps.iter().zip(outcomes) {
            match outcome {
                Ok(o) => pending |= o.pending,
                Err(e) => {
                    pending = true;
                    tracing::warn!(app = %app.name, error = %e, "could not reconcile app");
                }
            }
        }
        Ok(pending)
    }

    async fn reconcile_app(&self, app: &AppRecord, instances: Vec<Instance>) -> Result<AppOutcome, ReconcileError> {
        let release = self.store.current_release(&app.id).await?;
        let formation = self.store.list_formation(&app.id).await?;
        let slots: Vec<Slot> = if release.image.is_some() {
            formation
                .iter()
                .filter(|f| !NON_FORMATION_TYPES.contains(&f.process_type.as_str()))
                .filter(|f| release.process_types.contains_key(&f.process_type))
                .flat_map(|f| {
                    (1..=f.quantity).map(|index| Slot {
                        process: f.process_type.clone(),
                        index,
                        release: release.version,
                        generation: f.restart_generation,
                        size: f.size.clone(),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };

        let plan = plan(&slots, &instances);
        if !plan.create.is_empty() {
            self.runtime.ensure_network(&self.network(app), &self.network_labels(app)).await?;
        }
        for id in &plan.start {
            if let Err(e) = self.runtime.start(id).await {
                tracing::warn!(app = %app.name, instance = %id, error = %e, "could not restart instance");
            }
        }
        let mut created = Vec::new();
        for slot in &plan.create {
            match self.runtime.run(&self.spec(app, &release, slot)).await {
                Ok(id) => {
                    tracing::info!(app = %app.name, dyno = %slot.dyno(), release = release.version, "started instance");
                    created.push(id);
                }
                Err(e) => tracing::warn!(app = %app.name, dyno = %slot.dyno(), error = %e, "could not start instance"),
            }
        }
        let created_any = !created.is_empty();

        // Readiness of the web instances that fill desired slots.
        let mut current = self.runtime.list(&[(labels::APP_ID, app.id.as_str())]).await?;
        let web_slots: Vec<&Slot> = slots.iter().filter(|s| s.process == "web").collect();
        let wait = if created_any { self.config.boot_wait.min(Duration::from_secs(5)) } else { Duration::ZERO };
        let deadline = Instant::now() + wait;
        let desired_web_ready = loop {
            self.probe(&current).await;
            let ready = self.ready_web_for_slots(&web_slots, &current);
            if ready.len() == web_slots.len() || Instant::now() >= deadline {
                break ready;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            current = self.runtime.list(&[(labels::APP_ID, app.id.as_str())]).await?;
        };
        let all_web_ready = desired_web_ready.len() == web_slots.len();

        // Until every desired web slot is ready, obsolete web instances keep serving.
        let obsolete_ids: HashSet<&str> = plan.obsolete.iter().map(|i| i.id.as_str()).collect();
        let mut backends: Vec<Backend> = desired_web_ready;
        if !all_web_ready {
            let ready = self.ready.lock().unwrap();
            backends.extend(
                current
                    .iter()
                    .filter(|i| obsolete_ids.contains(i.id.as_str()) && i.label(labels::PROCESS) == Some("web"))
                    .filter(|i| i.state == InstanceState::Running && ready.contains(&i.id))
                    .filter_map(|i| self.backend(i)),
            );
        }
        backends.sort_by(|a, b| a.name.cmp(&b.name).then(a.addr.cmp(&b.addr)));
        self.routes.lock().unwrap().insert(app.name.clone(), backends);
        self.publish_routes();

        let to_stop: Vec<&Instance> =
            plan.obsolete.iter().filter(|i| all_web_ready || i.label(labels::PROCESS) != Some("web")).collect();
        join_all(to_stop.iter().map(|i| self.stop_and_remove(app, i))).await;

        Ok(AppOutcome { pending: !all_web_ready || to_stop.len() < plan.obsolete.len() })
    }

    async fn stop_and_remove(&self, app: &AppRecord, instance: &Instance) {
        let dyno = instance.label(labels::DYNO).unwrap_or("?");
        tracing::info!(app = %app.name, dyno, instance = %instance.name, "stopping obsolete instance");
        if instance.state == InstanceState::Running {
            if let Err(e) = self.runtime.stop(&instance.id, self.config.stop_grace).await {
                tracing::warn!(instance = %instance.name, error = %e, "stop failed; removing anyway");
            }
        }
        if let Err(e) = self.runtime.remove(&instance.id).await {
            tracing::warn!(instance = %instance.name, error = %e, "remove failed");
        }
    }

    /// Removes every instance and the network of an app (after `apps:destroy`).
    pub async fn teardown_app(&self, app: &AppRecord) -> Result<(), ReconcileError> {
        let _pass = self.pass_lock.lock().await;
        let instances = self.runtime.list(&[(labels::APP_ID, app.id.as_str())]).await?;
        for result in join_all(instances.iter().map(|i| self.runtime.remove(&i.id))).await {
            result?;
        }
        self.runtime.remove_network(&self.network(app)).await?;
        self.routes.lock().unwrap().remove(&app.name);
        self.publish_routes();
        Ok(())
    }

    /// The app's instances as the engine reports them, with readiness.
    pub async fn instances(&self, app: &AppRecord) -> Result<Vec<(Instance, bool)>, ReconcileError> {
        let instances = self.runtime.list(&[(labels::APP_ID, app.id.as_str())]).await?;
        let ready = self.ready.lock().unwrap();
        Ok(instances
            .into_iter()
            .map(|i| {
                let is_ready = ready.contains(&i.id);
                (i, is_ready)
            })
            .collect())
    }

    /// Removes one instance now (restart of a single dyno); the next pass replaces it.
    pub async fn remove_instance(&self, id: &str) -> Result<(), ReconcileError> {
        self.runtime.remove(id).await?;
        self.trigger();
        Ok(())
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

    fn ready_web_for_slots(&self, web_slots: &[&Slot], current: &[Instance]) -> Vec<Backend> {
        let kept = plan(&web_slots.iter().map(|s| (*s).clone()).collect::<Vec<_>>(), current).keep;
        let ready = self.ready.lock().unwrap();
        kept.iter()
            .filter_map(|(_, id)| current.iter().find(|i| &i.id == id))
            .filter(|i| i.state == InstanceState::Running && ready.contains(&i.id))
            .filter_map(|i| self.backend(i))
            .collect()
    }

    fn backend(&self, instance: &Instance) -> Option<Backend> {
        let ip = instance.ip?;
        Some(Backend {
            addr: SocketAddr::new(ip, self.config.app_port),
            name: instance.label(labels::DYNO).unwrap_or_default().to_string(),
        })
    }

    /// TCP-probes running web instances not yet known to be ready (Heroku's
    /// default health rule: the process accepts connections on `$PORT`).
    async fn probe(&self, instances: &[Instance]) {
        let candidates: Vec<(String, SocketAddr)> = {
            let ready = self.ready.lock().unwrap();
            instances
                .iter()
                .filter(|i| i.state == InstanceState::Running && i.label(labels::PROCESS) == Some("web"))
                .filter(|i| !ready.contains(&i.id))
                .filter_map(|i| self.backend(i).map(|b| (i.id.clone(), b.addr)))
                .collect()
        };
        let timeout = Duration::from_millis(300);
        let results = join_all(candidates.iter().map(|(_, addr)| self.runtime.accepts_tcp(*addr, timeout))).await;
        let mut ready = self.ready.lock().unwrap();
        for ((id, _), ok) in candidates.into_iter().zip(results) {
            if ok {
                ready.insert(id);
            }
        }
    }

    /// Drops readiness of instances that stopped or disappeared.
    fn forget_gone(&self, instances: &[Instance]) {
        let running: HashSet<&str> =
            instances.iter().filter(|i| i.state == InstanceState::Running).map(|i| i.id.as_str()).collect();
        self.ready.lock().unwrap().retain(|id| running.contains(id.as_str()));
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

    fn spec(&self, app: &AppRecord, release: &ReleaseRecord, slot: &Slot) -> InstanceSpec {
        let dyno = slot.dyno();
        let mut labels = self.network_labels(app);
        labels.extend([
            (labels::RELEASE.to_string(), release.version.to_string()),
            (labels::PROCESS.to_string(), slot.process.clone()),
            (labels::INDEX.to_string(), slot.index.to_string()),
            (labels::GENERATION.to_string(), slot.generation.to_string()),
            (labels::DYNO.to_string(), dyno.clone()),
        ]);
        let env = dyno_env(release, self.config.app_port, &dyno);
        let command = release.process_types.get(&slot.process).map(String::as_str).unwrap_or("");
        let (entrypoint, command) = if command.trim().is_empty() {
            (None, None)
        } else {
            // Procfile semantics: the command runs through a shell, replacing the image's
            // entrypoint, after sourcing the slug's `.profile.d` scripts (Heroku's rule).
            (
                Some(vec!["/bin/sh".to_string(), "-c".to_string(), PROFILE_WRAPPER.to_string()]),
                Some(vec![command.to_string()]),
            )
        };
        InstanceSpec {
            name: labels::container_name(&self.config.namespace, &app.name, &dyno),
            image: release.image.clone().unwrap_or_default(),
            entrypoint,
            command,
            env,
            labels,
            network: self.network(app),
            hostname: dyno,
            memory_bytes: berth_core::size::memory_bytes(&slot.size).unwrap_or(512 * 1024 * 1024),
        }
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
