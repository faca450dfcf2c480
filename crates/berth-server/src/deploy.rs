//! Source deploys: a source archive becomes a build, an image, a release and
//! running instances, with Heroku-style progress lines streamed as they happen.
//!
//! Two entry points share [`start_build`]: the git `pre-receive` hook (which
//! posts `git archive` of the pushed revision to `POST /internal/hooks/build`,
//! authenticated by a per-start secret only the server's git backend knows),
//! and the Heroku Build API (`POST /apps/{app}/builds` with an uploaded source).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_build::{BuildpackJob, SourceArchive, MAX_SOURCE_BYTES};
use berth_core::buildpack::{parse_buildpack, BuildpackRef};
use berth_store::{AppRecord, BuildRecord, NewRelease};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::{watch, Mutex};

use crate::reconcile::labels;
use crate::state::AppState;

/// The last line of a hook build stream: the hook turns it into its exit code.
pub const RESULT_OK: &str = "__BERTH_RESULT__ ok";
pub const RESULT_FAILED: &str = "__BERTH_RESULT__ failed";

/// How long a deploy follows a rollout beyond its boot timeout before it stops waiting.
const LAUNCH_MARGIN: Duration = Duration::from_secs(30);

/// The output of a running build: kept in memory while it runs, so any number
/// of clients can replay and follow it; saved to the store when it ends.
pub struct LiveOutput {
    lines: std::sync::Mutex<Vec<String>>,
    version: watch::Sender<usize>,
    done: AtomicBool,
    succeeded: AtomicBool,
}

impl LiveOutput {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            lines: std::sync::Mutex::new(Vec::new()),
            version: watch::channel(0).0,
            done: AtomicBool::new(false),
            succeeded: AtomicBool::new(false),
        })
    }

    pub fn push(&self, line: impl Into<String>) {
        let mut lines = self.lines.lock().unwrap();
        lines.push(line.into());
        let len = lines.len();
        drop(lines);
        self.version.send_replace(len);
    }

    fn finish(&self, succeeded: bool) {
        self.succeeded.store(succeeded, Ordering::SeqCst);
        self.done.store(true, Ordering::SeqCst);
        self.version.send_modify(|v| *v += 1);
    }

    pub fn succeeded(&self) -> bool {
        self.succeeded.load(Ordering::SeqCst)
    }

    fn text(&self) -> String {
        let lines = self.lines.lock().unwrap();
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// All lines so far, then new ones as they come, until the build ends.
    pub fn follow(self: Arc<Self>) -> impl Stream<Item = String> + Send {
        let rx = self.version.subscribe();
        futures_util::stream::unfold((self, rx, 0usize, false), |(out, mut rx, idx, ended)| async move {
            if ended {
                return None;
            }
            loop {
                rx.borrow_and_update();
                let (chunk, done) = {
                    let lines = out.lines.lock().unwrap();
                    (lines[idx..].to_vec(), out.done.load(Ordering::SeqCst))
                };
                if !chunk.is_empty() || done {
                    let next = idx + chunk.len();
                    let mut text = chunk.join("\n");
                    if !chunk.is_empty() {
                        text.push('\n');
                    }
                    return Some((text, (out, rx, next, done)));
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        })
    }
}

/// Builds in flight (for output streaming) and one lock per app: pushes to the
/// same app queue up, different apps build side by side.
pub struct Builds {
    live: std::sync::Mutex<HashMap<String, Arc<LiveOutput>>>,
    locks: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Build slots (`max_concurrent_builds`); builds beyond it queue.
    slots: Arc<tokio::sync::Semaphore>,
    queued: std::sync::atomic::AtomicUsize,
}

impl Builds {
    pub fn new(max_concurrent: usize) -> Self {
        Self {
            live: Default::default(),
            locks: Default::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(max_concurrent.max(1))),
            queued: Default::default(),
        }
    }

    fn lock_for(&self, app: &str) -> Arc<Mutex<()>> {
        Arc::clone(self.locks.lock().unwrap().entry(app.to_string()).or_default())
    }

    pub fn live(&self, build_id: &str) -> Option<Arc<LiveOutput>> {
        self.live.lock().unwrap().get(build_id).cloned()
    }
}

/// What to build: the source and how the release should describe it.
pub struct BuildRequest {
    pub app: AppRecord,
    pub tar: Vec<u8>,
    /// Commit id (git) or the uploader's version string.
    pub version: String,
    /// Content id for image reuse (the git tree), if known.
    pub content_id: Option<String>,
    pub user_id: String,
}

/// Records a build and runs it in the background; returns the record and its live output.
pub async fn start_build(state: &AppState, request: BuildRequest) -> Result<(BuildRecord, Arc<LiveOutput>), String> {
    let record = state
        .store
        .create_build(&request.app.id, &request.version, &request.user_id)
        .await
        .map_err(|e| e.to_string())?;
    let out = LiveOutput::new();
    state.builds.live.lock().unwrap().insert(record.id.clone(), Arc::clone(&out));
    let (state, build_id, task_out) = (state.clone(), record.id.clone(), Arc::clone(&out));
    tokio::spawn(async move {
        let app_name = request.app.name.clone();
        let user = state.store.user(&request.user_id).await.map(|u| u.email).unwrap_or_else(|_| "unknown".into());
        state.logs.platform(&app_name, "api", format!("Build started by user {user}"));
        let result = run_build(&state, request, &build_id, &task_out).await;
        let outcome = if result.is_ok() { "succeeded" } else { "failed" };
        state.logs.platform(&app_name, "api", format!("Build {outcome}"));
        let release_id = match &result {
            Ok(release_id) => Some(release_id.clone()),
            Err(message) => {
                for line in message.lines() {
                    task_out.push(format!(" !     {line}"));
                }
                None
            }
        };
        if let Err(e) =
            state.store.finish_build(&build_id, result.is_ok(), &task_out.text(), release_id.as_deref()).await
        {
            tracing::warn!(build = %build_id, error = %e, "could not record the build result");
        }
        task_out.finish(result.is_ok());
        state.builds.live.lock().unwrap().remove(&build_id);
    });
    Ok((record, out))
}

async fn run_build(
    state: &AppState,
    mut request: BuildRequest,
    build_id: &str,
    out: &Arc<LiveOutput>,
) -> Result<String, String> {
    let app = &request.app;
    let lock = state.builds.lock_for(&app.name);
    let _guard = match lock.try_lock() {
        Ok(guard) => guard,
        Err(_) => {
            out.push("-----> Another build of this app is running; waiting for it to finish...");
            lock.lock().await
        }
    };
    let _slot = match Arc::clone(&state.builds.slots).try_acquire_owned() {
        Ok(slot) => slot,
        Err(_) => {
            let ahead = state.builds.queued.fetch_add(1, Ordering::SeqCst) + 1;
            out.push(format!(
                "-----> All {} build slots are busy; queued at position {ahead}",
                state.config.max_concurrent_builds
            ));
            let slot = Arc::clone(&state.builds.slots).acquire_owned().await;
            state.builds.queued.fetch_sub(1, Ordering::SeqCst);
            slot.map_err(|_| "the build queue is closed (server shutting down)".to_string())?
        }
    };
    let started = Instant::now();
    out.push("-----> Building on the Berth stack");
    let source =
        SourceArchive::from_tar(std::mem::take(&mut request.tar), MAX_SOURCE_BYTES).map_err(|e| e.to_string())?;
    let health_check = match source.read_file("app.json").map_err(|e| e.to_string())? {
        Some(json) => berth_core::health::parse_app_json_healthcheck(&json)
            .map_err(|e| format!("{e}\nFix the `healthchecks` of app.json (see `berth checks --help`)."))?,
        None => None,
    };
    if let Some(check) = &health_check {
        out.push(format!("-----> Health check from app.json: {}", check.describe()));
    }
    let hex_id = |s: &str| -> Option<String> {
        (s.len() >= 12 && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
    };
    // Identical sources share an image: by git tree, else by build id (never shared).
    let content_id = request.content_id.as_deref().and_then(hex_id).unwrap_or_else(|| build_id.replace('-', ""));
    let tag = format!("{}-{}:{}", state.config.namespace, app.name, &content_id[..12]);
    // Not the instance labels: containers inherit image labels, and a stray
    // `docker run` of this image must not look like one of our instances.
    let build_labels = BTreeMap::from([
        (labels::IMAGE_NAMESPACE.to_string(), state.config.namespace.clone()),
        (labels::IMAGE_APP.to_string(), app.name.clone()),
    ]);

    // Engine and buildpack output is indented under the step headers, as Heroku does.
    let (build_tx, mut build_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let forward = {
        let out = Arc::clone(out);
        tokio::spawn(async move {
            while let Some(line) = build_rx.recv().await {
                let shown = if line.starts_with("-----> ") || line.starts_with(" !     ") || line.starts_with("       ")
                {
                    line
                } else {
                    format!("       {line}")
                };
                out.push(shown);
            }
        })
    };
    let work_dir = state.config.data_dir.join("builds").join(build_id);
    let config = state.store.current_release(&app.id).await.map_err(|e| e.to_string())?.config;
    let buildpacks = chosen_buildpacks(state, app, &config).await?;
    let job = BuildpackJob {
        runtime: state.runtime.as_ref(),
        work_dir: work_dir.clone(),
        cache_dir: cache_dir(state, &app.name),
        buildpacks_dir: state.config.data_dir.join("buildpacks"),
        env: config,
        job_name: format!("{}-{}-build-{}", state.config.namespace, app.name, &build_id[..8]),
        labels: build_labels,
        timeout: state.config.build_timeout,
        memory_bytes: 2 * 1024 * 1024 * 1024,
        ca_bundle: state.config.data_dir.join("build-ca.pem"),
        buildpacks,
    };
    let built = berth_build::build(&job, source, &tag, build_tx).await;
    let _ = forward.await;
    let _ = tokio::fs::remove_dir_all(&work_dir).await;
    let built = built.map_err(|e| format!("Build failed: {e}\nThe running release is unchanged."))?;
    out.push(format!("-----> Build succeeded ({:.1}s)", started.elapsed().as_secs_f64()));
    let types: Vec<&str> = built.process_types.keys().map(String::as_str).collect();
    out.push(format!("-----> Process types: {}", types.join(", ")));

    let short: String = request.version.chars().take(7).collect();
    let release = state
        .store
        .create_release_from_current(&app.id, |current| {
            Ok(NewRelease {
                description: format!("Deploy {short}"),
                image: Some(built.image.clone()),
                process_types: built.process_types.clone(),
                config: current.config.clone(),
                user_id: request.user_id.clone(),
                health_check: health_check.clone(),
            })
        })
        .await
        .map_err(|e| e.to_string())?;
    let user = state.store.user(&request.user_id).await.map(|u| u.email).unwrap_or_else(|_| "unknown".into());
    state.logs.release_created(&app.name, &release.description, release.version, &user);
    if !crate::release_phase::run(state, app, &release, |line| out.push(line)).await {
        return Err("The release phase failed; the running release is unchanged.".into());
    }
    state.reconciler.trigger();
    out.push(format!("-----> Launching... released v{}", release.version));
    wait_for_rollout(state, app, &release, |line| out.push(line)).await?;
    out.push(format!("       {} deployed to Berth", state.urls.web_url(&app.name)));
    Ok(release.id)
}

/// The app's buildpacks (`buildpacks:set`), else `BUILDPACK_URL`, else none (detect).
async fn chosen_buildpacks(
    state: &AppState,
    app: &AppRecord,
    config: &BTreeMap<String, String>,
) -> Result<Vec<BuildpackRef>, String> {
    let urls = state.store.app_buildpacks(&app.id).await.map_err(|e| e.to_string())?;
    if !urls.is_empty() {
        return urls.iter().map(|u| parse_buildpack(u).map_err(|e| e.to_string())).collect();
    }
    match config.get("BUILDPACK_URL").map(|u| u.trim()).filter(|u| !u.is_empty()) {
        Some(url) => match parse_buildpack(url).map_err(|e| e.to_string())? {
            // Config vars can be set by non-admins; server paths cannot come from them.
            BuildpackRef::Local(_) => {
                Err("BUILDPACK_URL cannot be a file:// path; an admin can use `berth buildpacks:set`".into())
            }
            reference => Ok(vec![reference]),
        },
        None => Ok(Vec::new()),
    }
}

/// The app's persistent build cache on the host.
pub fn cache_dir(state: &AppState, app: &str) -> std::path::PathBuf {
    state.config.data_dir.join("cache").join(app)
}

/// Follows a release's rollout to its end: `Ok` once its instances are all
/// healthy and serving (or a newer release superseded it), `Err` with the
/// reason when it failed (the previous release keeps serving).
pub async fn wait_for_rollout(
    state: &AppState,
    app: &AppRecord,
    release: &berth_store::ReleaseRecord,
    out: impl Fn(String),
) -> Result<(), String> {
    let started = Instant::now();
    let (source, check) = state.reconciler.effective_check(app, release).await.map_err(|e| e.to_string())?;
    let boot_timeout = Duration::from_secs_f64(check.boot_timeout);
    let hint = if source == "default" { " (set an HTTP check with `berth checks:set`)" } else { "" };
    out(format!("       Health check: {}{hint}", check.describe()));
    // The reconciler decides within the boot timeout; the margin covers slow engines.
    let deadline = started + boot_timeout + LAUNCH_MARGIN;
    loop {
        let current = state.store.release(&app.id, &release.id).await.map_err(|e| e.to_string())?;
        if current.deployed_at.is_some() {
            out(format!("-----> v{} is up ({:.1}s)", release.version, started.elapsed().as_secs_f64()));
            return Ok(());
        }
        if current.status == "failed" {
            let reason = current.status_reason.unwrap_or_else(|| "unknown".to_string());
            return Err(format!(
                "Deploy of v{} failed: {reason}\nThe previous release keeps serving. Details: `berth releases:info v{} -a {}`",
                release.version, release.version, app.name
            ));
        }
        let newest = state.store.current_release(&app.id).await.map_err(|e| e.to_string())?;
        if newest.version > release.version {
            out(format!(
                "-----> v{} was superseded by v{} before it finished rolling out",
                release.version, newest.version
            ));
            return Ok(());
        }
        if Instant::now() >= deadline {
            out(format!(
                " !     v{} is not serving yet after {}s; check `berth ps -a {}`",
                release.version,
                started.elapsed().as_secs(),
                app.name
            ));
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
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

/// `POST /internal/hooks/build`: the git hook's build, streamed back as text
/// ending with a result line.
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
    let app = match state.store.app(&params.app).await {
        Ok(app) => app,
        Err(e) => return (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
    };
    let user_id = match &params.user {
        Some(email) => state.store.user_by_email(email).await.ok().flatten().map(|u| u.id),
        None => None,
    }
    .unwrap_or_else(|| app.owner_id.clone());
    let request =
        BuildRequest { app, tar: body.to_vec(), version: params.rev.clone(), content_id: params.tree.clone(), user_id };
    let out = match start_build(&state, request).await {
        Ok((_, out)) => out,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    };
    let result_out = Arc::clone(&out);
    let lines = Arc::clone(&out).follow();
    let result = futures_util::stream::once(async move {
        if result_out.succeeded() {
            format!("{RESULT_OK}\n")
        } else {
            format!("{RESULT_FAILED}\n")
        }
    });
    let body = futures_util::StreamExt::chain(lines, result);
    text_stream(body)
}

/// A streaming `text/plain` response.
pub fn text_stream(lines: impl Stream<Item = String> + Send + 'static) -> Response {
    let stream = futures_util::StreamExt::map(lines, |text| Ok::<_, std::convert::Infallible>(Bytes::from(text)));
    Response::builder()
        .header("content-type", "text/plain; charset=utf-8")
        .header("cache-control", "no-cache")
        .header("x-content-type-options", "nosniff")
        .body(Body::from_stream(stream))
        .expect("static response parts")
}
