//! `git push` over SSH with the real OpenSSH and git clients: keys from
//! `berth keys:add`, per-app permissions (push needs deploy, fetch needs view),
//! no shell and no other commands.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::json;
use support::{copy_tree, repo_root, wait_for, TestServer, BERTH};

const PASSWORD: &str = "a long enough password";

struct Ssh {
    key: std::path::PathBuf,
    port: String,
}

impl Ssh {
    fn command(&self) -> String {
        format!(
            "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p {}",
            self.key.display(),
            self.port
        )
    }

    fn git(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new("git")
            .args(["-c", "user.email=dev@example.com", "-c", "user.name=Dev"])
            .args(args)
            .current_dir(dir)
            .env("GIT_SSH_COMMAND", self.command())
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .unwrap()
    }

    /// Runs `ssh git@host COMMAND...` directly.
    fn ssh(&self, args: &[&str]) -> Output {
        let mut parts = self.command();
        parts.push_str(" git@127.0.0.1");
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!("{parts} {}", args.join(" ")));
        cmd.stdin(std::process::Stdio::null()).output().unwrap()
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn keygen(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen (openssh-client) must be installed");
    assert!(out.status.success(), "{}", text(&out));
    path
}

fn berth(server: &TestServer, token: &str, args: &[&str]) -> Output {
    Command::new(BERTH)
        .args(args)
        .env("BERTH_API_URL", &server.api_url)
        .env("BERTH_API_TOKEN", token)
        .env("HOME", server.data_dir.path())
        .output()
        .unwrap()
}

#[test]
fn git_over_ssh_with_keys_and_permissions() {
    let mut server = TestServer::start();
    let http = reqwest::blocking::Client::new();
    let admin = server.token.clone();
    let post = |path: &str, token: &str, body: serde_json::Value| {
        let resp = http.post(format!("{}{path}", server.api_url)).bearer_auth(token).json(&body).send().unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json::<serde_json::Value>().unwrap()
    };
    post("/users", &admin, json!({"email": "dev@example.com", "password": PASSWORD}));
    let login = http
        .post(format!("{}/oauth/authorizations", server.api_url))
        .basic_auth("dev@example.com", Some(PASSWORD))
        .send()
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap();
    let dev = login["access_token"]["token"].as_str().unwrap().to_string();
    for (app, grant) in [("ssh-app", Some("deploy")), ("ssh-view", Some("view")), ("ssh-hidden", None)] {
        post("/apps", &admin, json!({ "name": app }));
        if let Some(grant) = grant {
            post(
                &format!("/teams/apps/{app}/collaborators"),
                &admin,
                json!({"user": "dev@example.com", "permissions": [grant]}),
            );
        }
    }

    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path(), "dev-key");
    let stranger_key = keygen(keys.path(), "stranger-key");
    let out = berth(&server, &dev, &["keys:add", &format!("{}.pub", key.display())]);
    assert!(out.status.success(), "{}", text(&out));
    let out = berth(&server, &dev, &["keys"]);
    assert!(text(&out).contains("SHA256:") && text(&out).contains("dev-key"), "{}", text(&out));
    // A private key is refused (and a key cannot be registered twice).
    let private = std::fs::read_to_string(&key).unwrap();
    let resp = http
        .post(format!("{}/account/keys", server.api_url))
        .bearer_auth(&dev)
        .json(&json!({ "public_key": private }))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let out = berth(&server, &admin, &["keys:add", &format!("{}.pub", key.display())]);
    assert!(!out.status.success() && text(&out).contains("already registered"), "{}", text(&out));

    let ssh = Ssh { key: key.clone(), port: server.ssh_addr.rsplit(':').next().unwrap().to_string() };
    let work = tempfile::tempdir().unwrap();
    copy_tree(&repo_root().join("fixtures/dockerfile-app"), work.path());
    let git_ok = |args: &[&str]| {
        let out = ssh.git(work.path(), args);
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
        text(&out)
    };
    git_ok(&["init", "-q", "-b", "main"]);
    git_ok(&["add", "-A"]);
    git_ok(&["commit", "-q", "-m", "over ssh"]);
    let remote = |app: &str| format!("ssh://git@127.0.0.1:{}/{app}.git", ssh.port);
    git_ok(&["remote", "add", "berth", &remote("ssh-app")]);

    // Push with deploy: built, released and served, with the build streamed back.
    let pushed = git_ok(&["push", "berth", "main"]);
    assert!(pushed.contains("released v2"), "{pushed}");
    wait_for("the app pushed over ssh to answer", Duration::from_secs(60), || server.app_json("ssh-app"));

    // View only: fetch works, push is refused with the reason.
    let out = ssh.git(work.path(), &["push", &remote("ssh-view"), "main"]);
    assert!(!out.status.success() && text(&out).contains("deploy permission"), "{}", text(&out));
    let out = ssh.git(work.path(), &["ls-remote", &remote("ssh-view")]);
    assert!(out.status.success(), "{}", text(&out));
    // No access: as if the app did not exist.
    let out = ssh.git(work.path(), &["ls-remote", &remote("ssh-hidden")]);
    assert!(!out.status.success() && text(&out).contains("Couldn't find that app"), "{}", text(&out));

    // No shell, no other commands.
    let out = ssh.ssh(&[]);
    assert!(!out.status.success() && text(&out).contains("does not provide shell access"), "{}", text(&out));
    let out = ssh.ssh(&["'sh -c id'"]);
    assert!(!out.status.success() && text(&out).contains("only runs git-receive-pack"), "{}", text(&out));
    let out = ssh.ssh(&["\"git-upload-pack '../../etc.git'\""]);
    assert!(!out.status.success(), "{}", text(&out));

    // Unregistered keys are refused at authentication.
    let stranger = Ssh { key: stranger_key, port: ssh.port.clone() };
    let out = stranger.git(work.path(), &["ls-remote", &remote("ssh-app")]);
    assert!(!out.status.success() && text(&out).contains("Permission denied"), "{}", text(&out));

    // The push is in the audit trail as dev's, over SSH.
    let events = http
        .get(format!("{}/audit-events?app=ssh-app", server.api_url))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap();
    assert!(
        events.as_array().unwrap().iter().any(|e| e["action"] == "git.push"
            && e["method"] == "SSH"
            && e["actor"]["email"] == "dev@example.com"
            && e["status"] == 200),
        "{events}"
    );

    // The host key is kept (mode 0600) and reused after a restart; removed keys stop working.
    let host_key = server.data_dir.path().join("ssh_host_ed25519_key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&host_key).unwrap().permissions().mode() & 0o777, 0o600);
    let before = std::fs::read(&host_key).unwrap();
    server.restart();
    assert_eq!(std::fs::read(&host_key).unwrap(), before);
    let out = berth(&server, &dev, &["keys:remove", "dev-key"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = ssh.git(work.path(), &["ls-remote", &remote("ssh-app")]);
    assert!(!out.status.success() && text(&out).contains("Permission denied"), "{}", text(&out));
}
