//! `git push` over smart HTTP: `http://HOST:PORT/APP.git`.
//!
//! Each app has a bare repository in `DATA/repos/APP.git`. Requests are served
//! by `git http-backend` (CGI), streamed both ways. Its `pre-receive` hook runs
//! `berth hook pre-receive`, which archives the pushed revision and posts it to
//! the build endpoint ([`crate::deploy`]); the build's output comes back as
//! `remote:` lines and a failed build rejects the push.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use berth_core::access::Permission;

use crate::access::authorize;
use crate::auth::{authenticate_header, token_from_header};
use crate::state::AppState;

/// Where the bare repositories live.
pub fn repos_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("repos")
}

const PRE_RECEIVE: &str = "#!/bin/sh\n# Installed by Berth: builds and deploys pushes to main/master.\nexec \"$BERTH_EXE\" hook pre-receive\n";

/// The app's bare repository.
pub fn repo_dir(data_dir: &Path, app: &str) -> PathBuf {
    repos_dir(data_dir).join(format!("{app}.git"))
}

/// Creates the app's bare repository (idempotent) with Berth's hook.
pub async fn ensure_repo(data_dir: &Path, app: &str) -> std::io::Result<PathBuf> {
    let repo = repo_dir(data_dir, app);
    if !repo.join("HEAD").exists() {
        tokio::fs::create_dir_all(&repo).await?;
        let out = Command::new("git")
            .args(["init", "--quiet", "--bare", "--initial-branch=main"])
            .arg(&repo)
            .output()
            .await?;
        if !out.status.success() {
            return Err(std::io::Error::other(String::from_utf8_lossy(&out.stderr).into_owned()));
        }
    }
    let hook = repo.join("hooks/pre-receive");
    tokio::fs::write(&hook, PRE_RECEIVE).await?;
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).await?;
    Ok(repo)
}

/// The `berth` binary the hook runs. After an in-place upgrade, Linux reports
/// the running executable as `PATH (deleted)`; the new binary at PATH is the one to use.
pub(crate) fn berth_exe() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let text = exe.to_string_lossy();
    Ok(match text.strip_suffix(" (deleted)") {
        Some(path) => PathBuf::from(path),
        None => exe,
    })
}

fn challenge(message: &str) -> Response {
    let mut resp = (StatusCode::UNAUTHORIZED, format!("{message}\n")).into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Berth\""));
    resp
}

/// Whether a smart-HTTP request is part of a push (`git-receive-pack`).
pub fn is_push(path: &str, query: Option<&str>) -> bool {
    path.ends_with("/git-receive-pack")
        || query.is_some_and(|q| q.split('&').any(|kv| kv == "service=git-receive-pack"))
}

/// `GET /{app}.git/info/refs`, `POST /{app}.git/git-receive-pack|git-upload-pack`.
pub async fn handle(
    State(state): State<AppState>,
    UrlPath(params): UrlPath<Vec<(String, String)>>,
    req: Request,
) -> Response {
    let repo_segment = params.first().map(|(_, v)| v.clone()).unwrap_or_default();
    let Some(app_name) = repo_segment.strip_suffix(".git") else {
        return (StatusCode::NOT_FOUND, "not a git repository path\n").into_response();
    };
    // Authenticate: any user name, the API token as password.
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if header.and_then(token_from_header).is_none() {
        return challenge("Authentication required: use your Berth API token as the password.");
    }
    let caller = match authenticate_header(&state, header).await {
        Ok(caller) => caller,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            return challenge("Invalid credentials: the API token is unknown, revoked or expired.")
        }
        Err(e) => return (e.status, format!("{}\n", e.message)).into_response(),
    };
    if let Some(slot) = req.extensions().get::<crate::audit::AuditSlot>() {
        slot.set_caller(&caller);
    }
    // Pushing needs deploy; fetching and cloning need view.
    let needed = if is_push(req.uri().path(), req.uri().query()) { Permission::Deploy } else { Permission::View };
    let app = match authorize(&state, &caller, app_name, needed).await {
        Ok((app, _)) => app,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return (
                StatusCode::NOT_FOUND,
                format!("App {app_name} not found. Create it with `berth apps:create {app_name}`.\n"),
            )
                .into_response()
        }
        Err(e) => return (e.status, format!("{}\n", e.message)).into_response(),
    };
    let user = caller.user;
    if let Err(e) = ensure_repo(&state.config.data_dir, &app.name).await {
        return (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot prepare the repository: {e}\n")).into_response();
    }
    let path_info = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    match run_backend(&state, &app.name, &user.email, &path_info, &query, req).await {
        Ok(resp) => resp,
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("git backend failed: {e}\n")).into_response(),
    }
}

/// For the pre-receive hook: how to reach this server's build endpoint (HTTP and SSH pushes).
pub(crate) fn hook_env(
    state: &AppState,
    app: &str,
    user: &str,
    exe: PathBuf,
) -> Vec<(&'static str, std::ffi::OsString)> {
    vec![
        ("BERTH_EXE", exe.into_os_string()),
        ("BERTH_APP", app.into()),
        ("BERTH_USER", user.into()),
        ("BERTH_HOOK_URL", state.urls.internal_api_url.clone().into()),
        ("BERTH_HOOK_SECRET", state.hook_secret.clone().into()),
    ]
}

async fn run_backend(
    state: &AppState,
    app: &str,
    user: &str,
    path_info: &str,
    query: &str,
    req: Request,
) -> std::io::Result<Response> {
    let headers: HeaderMap = req.headers().clone();
    let method: Method = req.method().clone();
    let header_str =
        |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let exe = berth_exe()?;
    let mut child = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", repos_dir(&state.config.data_dir))
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", path_info)
        .env("QUERY_STRING", query)
        .env("REQUEST_METHOD", method.as_str())
        .env("CONTENT_TYPE", header_str(header::CONTENT_TYPE))
        .env("HTTP_CONTENT_ENCODING", header_str(header::CONTENT_ENCODING))
        .env("GIT_PROTOCOL", headers.get("git-protocol").and_then(|v| v.to_str().ok()).unwrap_or(""))
        .env("REMOTE_USER", user)
        .env("REMOTE_ADDR", "127.0.0.1")
        .envs(hook_env(state, app, user, exe))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;

    // Request body → backend stdin, concurrently with reading its output.
    let mut stdin = child.stdin.take().expect("piped stdin");
    let body = req.into_body().into_data_stream().map_err(std::io::Error::other);
    tokio::spawn(async move {
        let mut reader = tokio_util::io::StreamReader::new(body);
        let _ = tokio::io::copy(&mut reader, &mut stdin).await;
        let _ = stdin.shutdown().await;
    });

    // CGI response: headers, blank line, body (streamed).
    let stdout = child.stdout.take().expect("piped stdout");
    let mut reader = BufReader::new(stdout);
    let mut builder = Response::builder();
    let mut status = StatusCode::OK;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("status") {
                status = value.split_whitespace().next().and_then(|c| c.parse().ok()).unwrap_or(StatusCode::OK);
            } else {
                builder = builder.header(name.trim(), value);
            }
        }
    }
    let stream = tokio_util::io::ReaderStream::new(reader);
    // Keep the child alive (and reaped) while its output streams.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    builder.status(status).body(Body::from_stream(stream)).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::is_push;

    #[test]
    fn pushes_are_told_from_fetches() {
        assert!(is_push("/web1.git/git-receive-pack", None));
        assert!(is_push("/web1.git/info/refs", Some("service=git-receive-pack")));
        assert!(!is_push("/web1.git/info/refs", Some("service=git-upload-pack")));
        assert!(!is_push("/web1.git/git-upload-pack", None));
        assert!(!is_push("/web1.git/info/refs", Some("x=service=git-receive-pack")));
    }
}
