//! Buildpack builds end to end: each built-in buildpack's fixture app is pushed
//! with git (or uploaded with `berth deploy DIR`) and answers through the router.

mod support;

use std::time::Duration;

use support::{fixture_repo, git_push, repo_root, wait_for, TestServer};

/// Pushes a fixture and checks the detected buildpack and the app's answer.
fn push_and_check(fixture: &str, app: &str, detected: &str, marker: &str) {
    let server = TestServer::start();
    server.cli_ok(&["apps:create", app]);
    let repo = fixture_repo(&server, fixture, app);
    let (ok, output) = git_push(repo.path());
    assert!(ok, "push of {fixture} failed:\n{output}");
    assert!(output.contains(&format!("-----> {detected}")), "{detected:?} not in:\n{output}");
    assert!(output.contains("released v2"), "{output}");
    let (status, body) = wait_for(&format!("{app} to answer"), Duration::from_secs(60), || {
        let (status, body) = server.get(&format!("{app}.localhost"), "/");
        (status == 200).then_some((status, body))
    });
    assert_eq!(status, 200);
    assert!(body.contains(marker), "{marker:?} not in {body:?}");
}

#[test]
fn python_flask() {
    push_and_check("python-flask", "flask-app", "Python app detected", "Hello from Flask");
}

#[test]
fn node_express() {
    push_and_check("node-express", "express-app", "Node.js app detected", "Hello from Express");
}

#[test]
fn go_app() {
    push_and_check("go-app", "go-app", "Go app detected", "Hello from Go");
}

#[test]
fn static_site() {
    push_and_check("static-site", "static-push", "Static", "Hello from a static site");
}

#[test]
fn procfile_only() {
    push_and_check("procfile-shell", "shell-app", "Procfile app detected", "Hello from a Procfile-only app");
}

/// `berth deploy DIR` builds an upload the same way (no git involved).
#[test]
fn static_site_by_upload() {
    let server = TestServer::start();
    server.cli_ok(&["apps:create", "static-app"]);
    let out = server.cli(&["deploy", "-a", "static-app", repo_root().join("fixtures/static-site").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Static") && stderr.contains("released v2"), "{stderr}");
    let body = wait_for("the static site", Duration::from_secs(60), || {
        let (status, body) = server.get("static-app.localhost", "/");
        (status == 200).then_some(body)
    });
    assert!(body.contains("Hello from a static site"), "{body}");
    let builds = server.cli_json(&["builds", "-a", "static-app"]);
    assert_eq!(builds[0]["status"], "succeeded");
    assert_eq!(builds[0]["release"]["version"], 2);
}

/// Source without anything a buildpack recognises: a clear rejection.
#[test]
fn undetectable_source_is_rejected() {
    let server = TestServer::start();
    server.cli_ok(&["apps:create", "mystery"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "nothing to run here\n").unwrap();
    let out = server.cli(&["deploy", "-a", "mystery", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("No buildpack detected"), "{stderr}");
    let releases = server.cli_json(&["releases", "-a", "mystery"]);
    assert_eq!(releases.as_array().unwrap().len(), 1);
}
