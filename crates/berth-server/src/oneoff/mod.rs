//! One-off containers (`berth run`, `run:detached`): built from the current
//! release's image and config with `DYNO=run.N`, labelled so the reconciler
//! never sees them, removed when their session ends, their max runtime passes,
//! or (detached) after they exit and their output has been collected.

mod labels;
pub mod session;

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use berth_core::api;
use berth_runtime::{Instance, InstanceSpec, InstanceState, OneOffSpec};
use berth_store::{AppRecord, ReleaseRecord};
use rand::Rng;

pub use labels::*;

use crate::error::{ApiError, ApiResult};
use crate::reconcile::{dyno_env, labels as instance_labels, PROFILE_WRAPPER};
use crate::state::AppState;

/// Default and largest max runtime of a one-off.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60 * 60);
pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Attached sessions of this server process (container ids).
#[derive(Default)]
pub struct OneOffs {
    live: Mutex<HashSet<String>>,
}

impl OneOffs {
    pub(crate) fn attach(&self, id: &str) {
        self.live.lock().unwrap().insert(id.to_string());
    }

    pub(crate) fn detach(&self, id: &str) {
        self.live.lock().unwrap().remove(id);
    }

    fn is_live(&self, id: &str) -> bool {
        self.live.lock().unwrap().contains(id)
    }
}

/// What a caller asked to run.
pub struct Request {
    pub command: String,
    pub size: String,
    pub ttl: Duration,
    pub tty: bool,
    pub attached: bool,
    pub env: Vec<(String, String)>,
    pub term_size: Option<(u16, u16)>,
}

/// A free `run.N` name (N: 4 random digits, like Heroku's).
pub async fn dyno_name(state: &AppState, app: &AppRecord) -> String {
    let used: HashSet<String> = state
        .runtime
        .list(&[(instance_labels::APP_ID, app.id.as_str())])
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i.label(instance_labels::DYNO).map(str::to_string))
        .collect();
    loop {
        let name = format!("run.{}", rand::thread_rng().gen_range(1000..10000));
        if !used.contains(&name) {
            return name;
        }
    }
}

pub fn spec(
    state: &AppState,
    app: &AppRecord,
    release: &ReleaseRecord,
    dyno: &str,
    req: &Request,
) -> ApiResult<OneOffSpec> {
    let image = release
        .image
        .clone()
        .ok_or_else(|| ApiError::invalid(format!("{} has no release to run yet: deploy it first.", app.name)))?;
    let memory = berth_core::size::memory_bytes(&req.size)?;
    let deadline = chrono::Utc::now().timestamp() + req.ttl.as_secs() as i64;
    let ns = &state.config.namespace;
    let labels = BTreeMap::from([
        (NAMESPACE.to_string(), ns.clone()),
        (MODE.to_string(), if req.attached { ATTACHED } else { DETACHED }.to_string()),
        (DEADLINE.to_string(), deadline.to_string()),
        (COMMAND.to_string(), req.command.clone()),
        (SIZE.to_string(), req.size.clone()),
        (instance_labels::APP.to_string(), app.name.clone()),
        (instance_labels::APP_ID.to_string(), app.id.clone()),
        (instance_labels::RELEASE.to_string(), release.version.to_string()),
        (instance_labels::PROCESS.to_string(), "run".to_string()),
        (instance_labels::DYNO.to_string(), dyno.to_string()),
    ]);
    let mut env = dyno_env(release, state.config.app_port, dyno);
    env.extend(req.env.iter().filter(|(k, _)| k != "PORT" && k != "DYNO").cloned());
    Ok(OneOffSpec {
        instance: InstanceSpec {
            name: instance_labels::container_name(ns, &app.name, dyno),
            image,
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into(), PROFILE_WRAPPER.into()]),
            command: Some(vec![req.command.clone()]),
            env,
            labels,
            network: state.reconciler.network(app),
            hostname: dyno.to_string(),
            memory_bytes: memory,
        },
        tty: req.tty,
        stdin: req.attached,
        size: req.term_size,
    })
}

/// Fills in what the generic dyno view cannot know about a one-off.
pub fn decorate(dyno: &mut api::Dyno, instance: &Instance) {
    if instance.label(NAMESPACE).is_none() {
        return;
    }
    if let Some(command) = instance.label(COMMAND) {
        dyno.command = command.to_string();
    }
    if let Some(size) = instance.label(SIZE) {
        dyno.size = size.to_string();
    }
    // The reconciler does not track one-offs: their state is the engine's. One that
    // ended did not crash: it is done (and about to be removed).
    dyno.state = match instance.state {
        InstanceState::Running => "up",
        InstanceState::Created => "starting",
        _ => "down",
    }
    .to_string();
}

/// Removes one-offs whose time is up, attached ones whose session is gone (a
/// server restart), detached ones that exited (once their output was
/// collected), and those of apps that no longer exist.
pub fn spawn_janitor(state: AppState) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = sweep(&state).await {
                tracing::debug!(error = %e, "one-off sweep failed");
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
}

async fn sweep(state: &AppState) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let ns = state.config.namespace.as_str();
    let instances = state.runtime.list(&[(NAMESPACE, ns)]).await?;
    if instances.is_empty() {
        return Ok(());
    }
    let apps: HashSet<String> = state.store.list_apps().await?.into_iter().map(|a| a.id).collect();
    let now = chrono::Utc::now();
    for i in instances {
        let age = now.signed_duration_since(i.created_at).num_seconds();
        let deadline: i64 = i.label(DEADLINE).and_then(|d| d.parse().ok()).unwrap_or(0);
        let app = i.label(instance_labels::APP).unwrap_or_default().to_string();
        let dyno = i.label(instance_labels::DYNO).unwrap_or_default().to_string();
        let exited = matches!(i.state, InstanceState::Exited | InstanceState::Dead);
        let reason = if !apps.contains(i.label(instance_labels::APP_ID).unwrap_or_default()) {
            Some("its app is gone")
        } else if now.timestamp() > deadline {
            if !exited {
                state.logs.platform(&app, &dyno, "Stopping process: the max runtime is over");
            }
            Some("max runtime")
        } else if i.label(MODE) == Some(ATTACHED) && age > 30 && !state.oneoffs.is_live(&i.id) {
            Some("its session is gone")
        } else if i.label(MODE) == Some(DETACHED) && exited && (state.logs.take_drained(&i.id) || age > 300) {
            match exit_code(&i.status) {
                Some(code) => state.logs.process_exited(&app, &dyno, code),
                None => state.logs.platform(&app, &dyno, "Process exited"),
            }
            state.logs.state_changed(&app, &dyno, "up", "complete");
            Some("exited")
        } else {
            None
        };
        if let Some(reason) = reason {
            tracing::info!(app, dyno, reason, "removing one-off");
            state.runtime.remove(&i.id).await?;
        }
    }
    Ok(())
}

/// `Exited (3) 2 seconds ago` → 3.
fn exit_code(status: &str) -> Option<i64> {
    status.strip_prefix("Exited (")?.split(')').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn exit_codes_from_status() {
        assert_eq!(super::exit_code("Exited (3) 2 seconds ago"), Some(3));
        assert_eq!(super::exit_code("Exited (0) Less than a second ago"), Some(0));
        assert_eq!(super::exit_code("Up 3 seconds"), None);
    }
}
