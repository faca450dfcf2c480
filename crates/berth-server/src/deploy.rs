//! Source deploys: a source archive becomes an image, a release, and running
//! instances, with Heroku-style progress lines streamed to the pusher.
//!
//! Entry point today: the git `pre-receive` hook posts `git archive` of the
//! pushed revision to `POST /internal/hooks/build` (authenticated by a per-start
//! secret only the server's own git backend knows).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_build::{BuildpackJob, SourceArchive, MAX_SOURCE_BYTES};
use berth_store::{AppRecord, NewRelease};
use serde::Deserialize;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::sync::Mutex;

use crate::reconcile::labels;
use crate::state::AppState;

/// The last line of a build stream: the hook turns it into its exit code.
pub const RESULT_OK: &str = "__BERTH_RESULT__ ok";
pub const RESULT_FAILED: &str = "__BERTH_RESULT__ failed";

/// How long a push waits for the new release to serve before reporting.
const LAUNCH_WAIT: Duration = Duration::from_secs(60);

/// One build at a time per app; pushes to the same app queue up here.
#[derive(Default)]
pub struct BuildLocks {
    locks: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl BuildLocks {
    fn for_app(&self, app: &str) -> Arc<Mutex<()>> {
        Arc::clone(self.locks.lock().unwrap().entry(app.to_string()).or_default())
    }
}

#[derive(Debug, Deserialize)]
pub struct HookParams {
    app: String,
    rev: String,
    /// The revision's tree: identical trees share one image.
    #[serde(default)]
    tree: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

pub async fn hook_build(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HookParams>,
    body: Bytes,
) -> Response {
    let secret = headers.get("x-berth-hook-secret").and_then(|v| v.to_str().ok()).unwrap_or("");
    if secret.is_empty() || secret != state.hook_secret {
        return (StatusCode::FORBIDDEN, "not a Berth git hook\n").into_response();
    }
    let (tx, rx) = unbounded_channel::<String>();
    tokio::spawn(async move {
        let ok = match source_deploy(&state, &params, body.to_vec(), &tx).await {
            Ok(()) => true,
            Err(message) => {
                for line in message.lines() {
                    let _ = tx.send(format!(" !     {line}"));
                }
                false
            }
        };
        let _ = tx.send(if ok { RESULT_OK } else { RESULT_FAILED }.to_string());
    });
    let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(rx)
        .map(|line| Ok::<_, std::convert::Infallible>(Bytes::from(format!("{line}\n"))));
    Response::builder()
        .header("content-type", "text/plain; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .expect("static response parts")
}

use tokio_stream::StreamExt as _;

async fn source_deploy(
    state: &AppState,
    params: &HookParams,
    tar: Vec<u8>,
    out: &UnboundedSender<String>,
) -> Result<(), String> {
    let say = |line: String| {
        let _ = out.send(line);
    };
    let app = state.store.app(&params.app).await.map_err(|e| e.to_string())?;
    let lock = state.build_locks.for_app(&app.name);
    let _guard = match lock.try_lock() {
        Ok(guard) => guard,
        Err(_) => {
            say("-----> Another build of this app is running; waiting for it to finish...".into());
            lock.lock().await
        }
    };
    let started = Instant::now();
    say("-----> Building on the Berth stack".into());
    let source = SourceArchive::from_tar(tar, MAX_SOURCE_BYTES).map_err(|e| e.to_string())?;
    let hex = |s: &str| -> Option<String> {
        (s.len() >= 12 && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
    };
    let rev = hex(&params.rev).ok_or_else(|| format!("invalid revision {:?}", params.rev))?;
    let short = &rev[..7];
    let content_id = params.tree.as_deref().and_then(hex).unwrap_or_else(|| rev.clone());
    let tag = format!("{}-{}:{}", state.config.namespace, app.name, &content_id[..12]);
    // Not the instance labels: containers inherit image labels, and a stray
    // `docker run` of this image must not look like one of our instances.
    let build_labels = BTreeMap::from([
        (labels::IMAGE_NAMESPACE.to_string(), state.config.namespace.clone()),
        (labels::IMAGE_APP.to_string(), app.name.clone()),
    ]);

    // Engine output is indented under the step headers, as Heroku does.
    let (build_tx, mut build_rx) = unbounded_channel::<String>();
    let forward = {
        let out = out.clone();
        tokio::spawn(async move {
            while let Some(line) = build_rx.recv().await {
                let shown = if line.starts_with("-----> ") { line } else { format!("       {line}") };
                let _ = out.send(shown);
            }
        })
    };
    let work_dir = state.config.data_dir.join("builds").join(format!("{}-{}", app.name, &rev[..12]));
    let config = state.store.current_release(&app.id).await.map_err(|e| e.to_string())?.config;
    let job = BuildpackJob {
        runtime: state.runtime.as_ref(),
        work_dir: work_dir.clone(),
        cache_dir: state.config.data_dir.join("cache").join(&app.name),
        buildpacks_dir: state.config.data_dir.join("buildpacks"),
        env: config,
        job_name: format!("{}-{}-build-{}", state.config.namespace, app.name, short),
        labels: build_labels,
        timeout: state.config.build_timeout,
        memory_bytes: 2 * 1024 * 1024 * 1024,
    };
    let built = berth_build::build(&job, source, &tag, build_tx).await;
    let _ = tokio::fs::remove_dir_all(&work_dir).await;
    let _ = forward.await;
    let built = built.map_err(|e| format!("Build failed: {e}\nThe running release is unchanged."))?;
    say(format!("-----> Build succeeded ({:.1}s)", started.elapsed().as_secs_f64()));
    let types: Vec<&str> = built.process_types.keys().map(String::as_str).collect();
    say(format!("-----> Process types: {}", types.join(", ")));

    let user_id = match &params.user {
        Some(email) => state.store.user_by_email(email).await.ok().flatten().map(|u| u.id),
        None => None,
    }
    .unwrap_or_else(|| app.owner_id.clone());
    let release = state
        .store
        .create_release_from_current(&app.id, |current| {
            Ok(NewRelease {
                description: format!("Deploy {short}"),
                image: Some(built.image.clone()),
                process_types: built.process_types.clone(),
                config: current.config.clone(),
                user_id,
            })
        })
        .await
        .map_err(|e| e.to_string())?;
    state.reconciler.trigger();
    say(format!("-----> Launching... released v{}", release.version));
    wait_for_launch(state, &app, release.version, out).await;
    say(format!("       {} deployed to Berth", state.urls.web_url(&app.name)));
    Ok(())
}

/// Waits (bounded) until the release's web instances take traffic.
async fn wait_for_launch(state: &AppState, app: &AppRecord, version: i64, out: &UnboundedSender<String>) {
    let wanted = match state.store.list_formation(&app.id).await {
        Ok(formation) => formation.iter().find(|f| f.process_type == "web").map(|f| f.quantity).unwrap_or(0),
        Err(_) => 0,
    };
    if wanted == 0 {
        return;
    }
    let deadline = Instant::now() + LAUNCH_WAIT;
    while Instant::now() < deadline {
        if let Ok(instances) = state.reconciler.instances(app).await {
            let ready = instances
                .iter()
                .filter(|(i, ready)| *ready && i.label(labels::PROCESS) == Some("web"))
                .filter(|(i, _)| i.label(labels::RELEASE) == Some(version.to_string().as_str()))
                .count() as i64;
            if ready >= wanted {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = out.send(format!(
        " !     v{version} is not serving yet after {}s; check `berth ps -a {}`",
        LAUNCH_WAIT.as_secs(),
        app.name
    ));
}
