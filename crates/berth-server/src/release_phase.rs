//! The release phase: a release whose Procfile has a `release` process starts
//! `pending`; that command runs once in a one-off container (the release's
//! image and config, on the app's network) and the release becomes current only
//! if it exits 0. Otherwise it is marked failed and the old release keeps running.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_runtime::JobSpec;
use berth_store::{AppRecord, ReleaseRecord};
use tokio::sync::mpsc::unbounded_channel;

use crate::reconcile::{dyno_env, labels, PROFILE_WRAPPER};
use crate::state::AppState;

/// A release command running longer than this fails the release.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Runs the phase if `release` is pending; returns whether it may serve.
/// Each output line goes to `out`.
pub async fn run(state: &AppState, app: &AppRecord, release: &ReleaseRecord, out: impl Fn(String)) -> bool {
    if release.status != "pending" {
        return release.status == "succeeded";
    }
    let command = release.process_types.get("release").cloned().unwrap_or_default();
    out(format!("-----> Running release command: {command}"));
    // The last lines go into the release's failure reason (`releases:info`).
    let tail = std::sync::Mutex::new(std::collections::VecDeque::<String>::new());
    let keep = |line: String| {
        let mut tail = tail.lock().unwrap();
        if tail.len() == 20 {
            tail.pop_front();
        }
        tail.push_back(line.trim().to_string());
        out(line);
    };
    let result = execute(state, app, release, &command, &keep).await;
    let failure = match result {
        Ok(0) => None,
        Ok(code) => {
            out(format!(" !     Release command exited with status {code}; v{} was not released.", release.version));
            Some(format!("release command `{command}` exited with status {code}"))
        }
        Err(e) => {
            out(format!(" !     Release command could not run: {e}"));
            Some(format!("release command `{command}` could not run: {e}"))
        }
    };
    let ok = failure.is_none();
    let recorded = match failure {
        None => state.store.set_release_status(&release.id, true).await,
        Some(reason) => {
            let lines: Vec<String> = tail.lock().unwrap().iter().cloned().collect();
            let reason = if lines.is_empty() {
                reason
            } else {
                format!("{reason}\nLast output lines:\n  {}", lines.join("\n  "))
            };
            state.reconciler.events.emit(
                &app.name,
                "api",
                format!("Release v{} failed: {}", release.version, reason.lines().next().unwrap_or_default()),
            );
            state.store.fail_release(&release.id, &reason).await
        }
    };
    if let Err(e) = recorded {
        tracing::warn!(app = %app.name, version = release.version, error = %e, "could not record the release phase");
        return false;
    }
    tracing::info!(app = %app.name, version = release.version, ok, "release phase finished");
    state.reconciler.trigger();
    ok
}

/// Runs the phase in the background (releases made by the API).
pub fn spawn(state: &AppState, app: AppRecord, release: ReleaseRecord) {
    if release.status != "pending" {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        let app_name = app.name.clone();
        run(&state, &app, &release, |line| tracing::info!(app = %app_name, "{line}")).await;
    });
}

async fn execute(
    state: &AppState,
    app: &AppRecord,
    release: &ReleaseRecord,
    command: &str,
    out: &impl Fn(String),
) -> Result<i64, String> {
    let network = state.reconciler.network(app);
    state.runtime.ensure_network(&network, &state.reconciler.network_labels(app)).await.map_err(|e| e.to_string())?;
    let env = dyno_env(release, state.config.app_port, &format!("release.{}", release.version));
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let spec = JobSpec {
        name: format!("{}-{}-release-v{}-{suffix}", state.config.namespace, app.name, release.version),
        image: release.image.clone().ok_or("the release has no image")?,
        command: vec!["/bin/sh".into(), "-c".into(), PROFILE_WRAPPER.into(), command.to_string()],
        env,
        user: None,
        network: Some(network),
        binds: Vec::new(),
        // Not instance labels: the reconciler must not mistake this for a dyno.
        labels: BTreeMap::from([
            (labels::IMAGE_NAMESPACE.to_string(), state.config.namespace.clone()),
            (labels::IMAGE_APP.to_string(), app.name.clone()),
        ]),
        memory_bytes: 512 * 1024 * 1024,
        timeout: RELEASE_TIMEOUT,
    };
    let (tx, mut rx) = unbounded_channel::<String>();
    let job = state.runtime.run_job(&spec, tx);
    let relay = async {
        while let Some(line) = rx.recv().await {
            out(format!("       {line}"));
        }
    };
    let (code, ()) = tokio::join!(job, relay);
    code.map_err(|e| e.to_string())
}
