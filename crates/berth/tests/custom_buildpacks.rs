//! Custom buildpacks: `buildpacks:set` with a server path (admin), a git URL and
//! a tarball URL; several run in order; `BUILDPACK_URL` is honoured.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use support::{git_push, wait_for, TestServer};

/// A minimal real buildpack: detects `hello.txt`, writes a page and a
/// `.profile.d` script, proposes a default web process.
fn write_buildpack(dir: &Path, marker: &str) {
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let scripts = [
        ("detect", "#!/bin/sh\n[ -f \"$1/hello.txt\" ] && echo Hello-BP && exit 0\nexit 1\n".to_string()),
        (
            "compile",
            format!(
                "#!/bin/sh\nset -e\necho \"-----> Running {marker}\"\nmkdir -p \"$1/.profile.d\" \"$1/site\"\n\
                 echo 'export HELLO_FROM_PROFILE={marker}' > \"$1/.profile.d/hello.sh\"\n\
                 cat \"$1/hello.txt\" > \"$1/site/index.html\"\necho '{marker}' >> \"$1/site/index.html\"\n\
                 [ -f \"$3/EXTRA\" ] && cat \"$3/EXTRA\" >> \"$1/site/index.html\"\nexit 0\n"
            ),
        ),
        (
            "release",
            "#!/bin/sh\nprintf -- '---\\ndefault_process_types:\\n  web: cd site && echo \"profile=$HELLO_FROM_PROFILE\" >> index.html && exec python3 -m http.server $PORT\\n'\n"
                .to_string(),
        ),
    ];
    for (name, body) in scripts {
        let path = dir.join("bin").join(name);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn commit_all(dir: &Path, message: &str) {
    for args in [vec!["add", "-A"], vec!["-c", "user.email=d@e.f", "-c", "user.name=D", "commit", "-q", "-m", message]]
    {
        let out = Command::new("git").args(&args).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

fn app_repo(server: &TestServer, app: &str, greeting: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), format!("{greeting}\n")).unwrap();
    let url = format!("{}/{app}.git", server.api_url).replacen("http://", &format!("http://git:{}@", server.token), 1);
    for args in [
        vec!["init", "-q", "-b", "main"],
        vec!["add", "-A"],
        vec!["-c", "user.email=d@e.f", "-c", "user.name=D", "commit", "-q", "-m", "app"],
        vec!["remote", "add", "berth", &url],
    ] {
        assert!(Command::new("git").args(&args).current_dir(dir.path()).status().unwrap().success());
    }
    dir
}

fn page(server: &TestServer, app: &str, wanted: &str) -> String {
    wait_for(&format!("{app} to show {wanted}"), Duration::from_secs(60), || {
        let (status, body) = server.get(&format!("{app}.localhost"), "/");
        (status == 200 && body.contains(wanted)).then_some(body)
    })
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn custom_buildpacks_from_path_git_and_tarball() {
    let server = TestServer::start();
    let packs = tempfile::tempdir().unwrap();

    // file:// (admin only), with the app's config in ENV_DIR and .profile.d sourced at run time.
    let local = packs.path().join("local-bp");
    write_buildpack(&local, "local-pack");
    server.cli_ok(&["apps:create", "bp-local"]);
    server.cli_ok(&["config:set", "-a", "bp-local", "EXTRA=from-env-dir"]);
    server.cli_ok(&["buildpacks:set", "-a", "bp-local", &format!("file://{}", local.display())]);
    assert!(server.cli_ok(&["buildpacks", "-a", "bp-local"]).contains("local-bp"));
    let repo = app_repo(&server, "bp-local", "hi-local");
    let (ok, output) = git_push(repo.path());
    assert!(ok, "{output}");
    assert!(output.contains("Hello-BP app detected") && output.contains("Running local-pack"), "{output}");
    let body = page(&server, "bp-local", "local-pack");
    assert!(body.contains("hi-local") && body.contains("from-env-dir"), "{body}");
    assert!(body.contains("profile=local-pack"), ".profile.d must be sourced: {body}");

    // A git URL (#branch): the buildpack lives on a non-deploying branch of another Berth app.
    server.cli_ok(&["apps:create", "bp-source"]);
    let bp_repo = tempfile::tempdir().unwrap();
    write_buildpack(bp_repo.path(), "git-pack");
    let bp_url =
        format!("{}/bp-source.git", server.api_url).replacen("http://", &format!("http://git:{}@", server.token), 1);
    for args in [
        vec!["init", "-q", "-b", "pack"],
        vec!["add", "-A"],
        vec!["-c", "user.email=d@e.f", "-c", "user.name=D", "commit", "-q", "-m", "bp"],
        vec!["push", "-q", &bp_url, "pack"],
    ] {
        let out = Command::new("git").args(&args).current_dir(bp_repo.path()).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    server.cli_ok(&["apps:create", "bp-git"]);
    server.cli_ok(&["config:set", "-a", "bp-git", &format!("BUILDPACK_URL={bp_url}#pack")]);
    let repo = app_repo(&server, "bp-git", "hi-git");
    let (ok, output) = git_push(repo.path());
    assert!(ok, "{output}");
    page(&server, "bp-git", "git-pack");

    // A tarball URL, after a built-in one: multi-buildpack, both run in order.
    let tar_root = tempfile::tempdir().unwrap();
    write_buildpack(&tar_root.path().join("tar-pack-1.0"), "tar-pack");
    let tgz = packs.path().join("pack.tgz");
    assert!(Command::new("tar")
        .arg("-czf")
        .arg(&tgz)
        .arg("-C")
        .arg(tar_root.path())
        .arg("tar-pack-1.0")
        .status()
        .unwrap()
        .success());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _http = Kill(
        Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(packs.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the tarball server", Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
    server.cli_ok(&["apps:create", "bp-multi"]);
    server.cli_ok(&["buildpacks:set", "-a", "bp-multi", "procfile"]);
    server.cli_ok(&["buildpacks:add", "-a", "bp-multi", &format!("http://127.0.0.1:{port}/pack.tgz")]);
    let repo = app_repo(&server, "bp-multi", "hi-multi");
    std::fs::write(repo.path().join("Procfile"), "worker: sleep infinity\n").unwrap();
    commit_all(repo.path(), "procfile");
    let (ok, output) = git_push(repo.path());
    assert!(ok, "{output}");
    assert!(output.contains("Procfile app detected") && output.contains("Running tar-pack"), "{output}");
    assert!(output.contains("Process types: web, worker"), "Procfile and buildpack defaults merge: {output}");
    page(&server, "bp-multi", "tar-pack");

    // A buildpack that does not accept the app fails the push clearly.
    server.cli_ok(&["buildpacks:set", "-a", "bp-multi", "go"]);
    std::fs::write(repo.path().join("hello.txt"), "changed\n").unwrap();
    commit_all(repo.path(), "change");
    let (ok, output) = git_push(repo.path());
    assert!(!ok && output.contains("did not detect this app"), "{output}");

    // Bad references are refused up front.
    let out = server.cli(&["buildpacks:set", "-a", "bp-multi", "ruby"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("built-in name"));
}
