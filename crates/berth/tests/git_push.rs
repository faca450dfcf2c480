//! `git push` to deploy, with the real git client over smart HTTP.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use support::{repo_root, wait_for, TestServer};

fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(["-c", "user.email=dev@example.com", "-c", "user.name=Dev", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git")
}

fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Replaces the work tree with a fixture's files and commits them.
fn commit_fixture(dir: &Path, fixture: &str, message: &str) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != ".git" {
            std::fs::remove_file(&path).unwrap();
        }
    }
    for entry in std::fs::read_dir(repo_root().join("fixtures").join(fixture)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    git_ok(dir, &["add", "-A"]);
    git_ok(dir, &["commit", "-q", "-m", message]);
}

fn push(dir: &Path) -> (bool, String) {
    let out = git(dir, &["push", "berth", "main"]);
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn git_push_builds_deploys_and_rejects_bad_builds() {
    let server = TestServer::start();
    server.cli_ok(&["apps:create", "pushy"]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    git_ok(dir, &["init", "-q"]);

    // `berth git:remote` points a remote at the app; the token goes in as the password.
    let out = Command::new(support::BERTH)
        .args(["git:remote", "-a", "pushy"])
        .current_dir(dir)
        .env("BERTH_API_URL", &server.api_url)
        .env("BERTH_API_TOKEN", &server.token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let url = git_ok(dir, &["remote", "get-url", "berth"]);
    assert_eq!(url.trim(), format!("{}/pushy.git", server.api_url));

    // Without credentials the push is refused.
    commit_fixture(dir, "dockerfile-app", "first");
    let (ok, output) = push(dir);
    assert!(!ok, "unauthenticated push must fail: {output}");

    let authed = url.trim().replacen("http://", &format!("http://git:{}@", server.token), 1);
    git_ok(dir, &["remote", "set-url", "berth", &authed]);
    let (ok, output) = push(dir);
    assert!(ok, "{output}");
    for expected in
        ["remote: -----> Building on the Berth stack", "Step 1/", "Process types: web, worker", "released v2"]
    {
        assert!(output.contains(expected), "{expected:?} missing from push output:\n{output}");
    }
    let body = wait_for("the pushed app to answer", Duration::from_secs(30), || server.app_json("pushy"));
    assert_eq!(body["version"], "1");
    let info = server.cli_json(&["releases:info", "-a", "pushy", "v2"]);
    assert_eq!(info["process_types"]["web"], "python3 -u /app/app.py", "Procfile commands are used");

    // A failing build rejects the push, shows why, and leaves v2 serving.
    commit_fixture(dir, "dockerfile-broken", "broken");
    let (ok, output) = push(dir);
    assert!(!ok, "{output}");
    assert!(output.contains("Build failed") && output.contains("compiling..."), "{output}");
    assert!(output.contains("pre-receive hook declined"), "{output}");
    assert_eq!(server.app_json("pushy").unwrap()["version"], "1");

    // A malformed Procfile: rejected with the line number.
    commit_fixture(dir, "bad-procfile", "bad procfile");
    let (ok, output) = push(dir);
    assert!(!ok, "{output}");
    assert!(output.contains("Procfile line 2"), "{output}");
    let releases = server.cli_json(&["releases", "-a", "pushy"]);
    assert_eq!(releases[0]["version"], 2, "failed pushes make no release");

    // Fixing it deploys; pushing an already-built revision reuses its image.
    commit_fixture(dir, "dockerfile-app", "fixed");
    let (ok, output) = push(dir);
    assert!(ok, "{output}");
    assert!(output.contains("released v3"), "{output}");
    assert!(output.contains("reusing it"), "same tree as v2, same image: {output}");

    // A force push to an older commit deploys that commit (rewriting history is allowed).
    let first = git_ok(dir, &["rev-list", "--max-parents=0", "HEAD"]).trim().to_string();
    let out = git(dir, &["push", "-f", "berth", &format!("{first}:refs/heads/main")]);
    let output = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{output}");
    assert!(output.contains("released v4") && output.contains("forced update"), "{output}");
    let releases = server.cli_json(&["releases", "-a", "pushy"]);
    assert_eq!(releases[0]["description"], format!("Deploy {}", &first[..7]));

    // The app's config can name a Dockerfile elsewhere in the tree.
    std::fs::create_dir_all(dir.join("deploy")).unwrap();
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap().replace("APP_VERSION=1", "APP_VERSION=3");
    std::fs::write(dir.join("deploy/App.Dockerfile"), dockerfile).unwrap();
    std::fs::remove_file(dir.join("Dockerfile")).unwrap();
    git_ok(dir, &["add", "-A"]);
    git_ok(dir, &["commit", "-q", "-m", "custom dockerfile path"]);
    server.cli_ok(&["config:set", "-a", "pushy", "BERTH_DOCKERFILE=deploy/Missing.Dockerfile"]);
    let (ok, output) = push(dir);
    assert!(!ok && output.contains("not a file in the source"), "{output}");
    server.cli_ok(&["config:set", "-a", "pushy", "BERTH_DOCKERFILE=deploy/App.Dockerfile"]);
    let (ok, output) = push(dir);
    assert!(ok && output.contains("Building deploy/App.Dockerfile"), "{output}");
    wait_for("the custom Dockerfile build to serve", Duration::from_secs(30), || {
        server.app_json("pushy").filter(|b| b["version"] == "3")
    });

    // Destroy leaves nothing behind: images, the repository, the build cache.
    server.cli_ok(&["apps:destroy", "-a", "pushy", "--confirm", "pushy"]);
    let images =
        support::docker(&["images", "-q", "--filter", &format!("label=io.berth.image.namespace={}", server.namespace)]);
    assert!(String::from_utf8_lossy(&images.stdout).trim().is_empty(), "images left behind");
    assert!(!server.data_dir.path().join("repos/pushy.git").exists());
    assert!(!server.data_dir.path().join("cache/pushy").exists());
}
