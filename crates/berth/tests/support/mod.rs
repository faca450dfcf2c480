//! End-to-end harness: a real `berth server` on free ports with a temp data dir
//! and its own namespace on the real Docker engine, cleaned up on drop (also
//! when a test panics).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BERTH: &str = env!("CARGO_BIN_EXE_berth");

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Builds the fixture image once per test process. Concurrent builds of the
/// same context produce the same image from the cache, so one tag is safe.
pub fn test_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let tag = "berth-test/image-app:e2e".to_string();
        let out = Command::new("docker")
            .args(["build", "-q", "-t", &tag])
            .arg(repo_root().join("fixtures/image-app"))
            .output()
            .expect("docker must be installed (run scripts/setup.sh)");
        assert!(
            out.status.success(),
            "building the test image failed (is dockerd running and berth/stack:trixie built? run scripts/setup.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tag
    })
}

/// The official Heroku CLI (npm `heroku@11`), installed once into `target/heroku-cli`.
pub fn heroku_bin() -> PathBuf {
    let prefix = repo_root().join("target/heroku-cli");
    let bin = prefix.join("node_modules/.bin/heroku");
    if !bin.exists() {
        std::fs::create_dir_all(&prefix).unwrap();
        let out = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
            .arg(&prefix)
            .arg("heroku@11")
            .output()
            .expect("npm must be installed");
        assert!(out.status.success(), "npm install heroku failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    bin
}

/// Runs `heroku ARGS` against `server` as the holder of `token` (a HOME of its own per token).
pub fn heroku(server: &TestServer, token: &str, args: &[&str]) -> Output {
    heroku_command(server, token, args).output().expect("run heroku")
}

/// The `heroku ARGS` command, not started (for streaming output).
pub fn heroku_command(server: &TestServer, token: &str, args: &[&str]) -> Command {
    let home = server.data_dir.path().join(format!("heroku-home-{}", &token[token.len().saturating_sub(6)..]));
    std::fs::create_dir_all(&home).unwrap();
    let mut command = Command::new(heroku_bin());
    command
        .args(args)
        .env("HEROKU_HOST", &server.api_url)
        .env("HEROKU_API_KEY", token)
        // The CLI asks "particleboard" about every account; point it at Berth.
        .env("HEROKU_PARTICLEBOARD_URL", &server.api_url)
        .env("DISABLE_TELEMETRY", "true")
        .env("HEROKU_SKIP_ANALYTICS", "1")
        .env("HEROKU_DISABLE_AUTOUPDATE", "1")
        .env("HEROKU_SKIP_NEW_VERSION_CHECK", "1")
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"))
        .env("NO_COLOR", "1");
    command
}

/// Builds `fixtures/log-app` (ticks on stdout/stderr, answers HTTP) once per test process.
pub fn log_app_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let tag = "berth-test/log-app:e2e".to_string();
        let out = Command::new("docker")
            .args(["build", "-q", "-t", &tag])
            .arg(repo_root().join("fixtures/log-app"))
            .output()
            .expect("docker must be installed (run scripts/setup.sh)");
        assert!(out.status.success(), "building the log-app image failed: {}", String::from_utf8_lossy(&out.stderr));
        tag
    })
}

pub fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("docker CLI")
}

pub struct TestServer {
    pub data_dir: tempfile::TempDir,
    pub namespace: String,
    pub api_url: String,
    pub router_addr: String,
    /// `127.0.0.1:PORT` of the git-over-SSH server.
    pub ssh_addr: String,
    pub token: String,
    /// With [`TestServer::start_logged`]: where the server's log (stderr) goes.
    pub log_path: Option<PathBuf>,
    child: Option<Child>,
    /// Extra `berth server` flags (kept across restarts).
    extra_args: Vec<String>,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `berth server` flags, e.g. `["--drain-timeout", "10"]`.
    pub fn start_with(extra_args: &[&str]) -> Self {
        Self::start_full(extra_args, false)
    }

    /// Like `start`, with the server's log (at debug level) written to `DATA/server.log`.
    pub fn start_logged() -> Self {
        Self::start_full(&[], true)
    }

    fn start_full(extra_args: &[&str], logged: bool) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let log_path = logged.then(|| data_dir.path().join("server.log"));
        let namespace = format!("bt{}", &uuid_like()[..10]);
        let mut server = Self {
            data_dir,
            namespace,
            api_url: String::new(),
            router_addr: String::new(),
            ssh_addr: String::new(),
            token: String::new(),
            log_path,
            child: None,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
        };
        server.spawn("127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0");
        server.token = std::fs::read_to_string(server.data_dir.path().join("admin.token")).unwrap().trim().to_string();
        server
    }

    /// Starts the server process and waits for its "API:" and "Router:" lines.
    fn spawn(&mut self, api: &str, http: &str, ssh: &str) {
        let mut child = Command::new(BERTH)
            .args(["server", "--data-dir"])
            .arg(self.data_dir.path())
            .args(["--api-listen", api, "--http-listen", http, "--ssh-listen", ssh, "--namespace", &self.namespace])
            .args(["--reconcile-interval", "1", "--stop-grace", "2"])
            .args(&self.extra_args)
            .env(
                "BERTH_LOG",
                if self.log_path.is_some() {
                    "debug".to_string()
                } else {
                    std::env::var("BERTH_TEST_LOG").unwrap_or_else(|_| "info".into())
                },
            )
            .stdout(Stdio::piped())
            .stderr(match &self.log_path {
                Some(path) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap()),
                None => Stdio::inherit(),
            })
            .spawn()
            .expect("start berth server");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut api_url, mut router, mut ssh_addr) = (None, None, None);
        while api_url.is_none() || router.is_none() || ssh_addr.is_none() {
            assert!(Instant::now() < deadline, "server did not start in time");
            let Some(Ok(line)) = lines.next() else { panic!("server exited during start-up") };
            if let Some(rest) = line.trim().strip_prefix("API:") {
                api_url = Some(rest.trim().to_string());
            }
            if let Some(rest) = line.trim().strip_prefix("SSH:") {
                ssh_addr = Some(rest.split_whitespace().next().unwrap().to_string());
            }
            if let Some(rest) = line.trim().strip_prefix("Router:") {
                let url = rest.split_whitespace().next().unwrap();
                router = Some(url.trim_start_matches("http://").to_string());
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.api_url = api_url.unwrap();
        self.router_addr = router.unwrap();
        self.ssh_addr = ssh_addr.unwrap();
        self.child = Some(child);
    }

    /// Kills the server (SIGKILL: nothing graceful) and starts it again on the same ports.
    pub fn restart(&mut self) {
        self.kill();
        let api = self.api_url.trim_start_matches("http://").to_string();
        let (router, ssh) = (self.router_addr.clone(), self.ssh_addr.clone());
        self.spawn(&api, &router, &ssh);
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs the `berth` CLI against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BERTH)
            .args(args)
            .env("BERTH_API_URL", &self.api_url)
            .env("BERTH_API_TOKEN", &self.token)
            .env("HOME", self.data_dir.path())
            .output()
            .expect("run berth CLI")
    }

    /// Runs the CLI and asserts success; returns stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.cli_ok(&args)).unwrap()
    }

    /// GET through the router with a Host header; returns (status, body).
    pub fn get(&self, host: &str, path: &str) -> (u16, String) {
        let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        match client.get(format!("http://{}{path}", self.router_addr)).header("host", host).send() {
            Ok(resp) => (resp.status().as_u16(), resp.text().unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }

    /// The JSON the fixture app answers with, once it answers 200.
    pub fn app_json(&self, app: &str) -> Option<serde_json::Value> {
        let (status, body) = self.get(&format!("{app}.localhost"), "/");
        (status == 200).then(|| serde_json::from_str(&body).ok()).flatten()
    }

    pub fn containers(&self, app: &str) -> Vec<String> {
        let out = docker(&[
            "ps",
            "-a",
            "-q",
            "--no-trunc",
            "--filter",
            &format!("label=io.berth.namespace={}", self.namespace),
            "--filter",
            &format!("label=io.berth.app={app}"),
        ]);
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
    }

    pub fn networks(&self) -> Vec<String> {
        let out = docker(&["network", "ls", "-q", "--filter", &format!("label=io.berth.namespace={}", self.namespace)]);
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
    }

    /// One-off containers (`berth run`) of this server, any app.
    pub fn one_offs(&self) -> Vec<String> {
        let filter = format!("label=io.berth.one-off.namespace={}", self.namespace);
        let out = docker(&["ps", "-a", "-q", "--filter", &filter]);
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
    }

    fn cleanup_engine(&self) {
        let filter = format!("label=io.berth.namespace={}", self.namespace);
        let ids = docker(&["ps", "-a", "-q", "--filter", &filter]);
        let mut ids: Vec<String> = String::from_utf8_lossy(&ids.stdout).lines().map(str::to_string).collect();
        ids.extend(self.one_offs());
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.iter().map(String::as_str));
            docker(&args);
        }
        for net in self.networks() {
            docker(&["network", "rm", &net]);
        }
        let images =
            docker(&["images", "-q", "--filter", &format!("label=io.berth.image.namespace={}", self.namespace)]);
        let images: Vec<String> = String::from_utf8_lossy(&images.stdout).lines().map(str::to_string).collect();
        if !images.is_empty() {
            let mut args = vec!["rmi", "-f"];
            args.extend(images.iter().map(String::as_str));
            docker(&args);
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
        self.cleanup_engine();
    }
}

/// Polls `check` until it returns Some, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn uuid_like() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// Copies a fixture directory tree (files, dirs, symlinks) into `dest`.
pub fn copy_tree(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let (from, to) = (entry.path(), dest.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&from, &to);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from).unwrap(), &to).unwrap();
        } else {
            std::fs::copy(&from, &to).unwrap();
        }
    }
}

/// A git work tree holding a fixture, committed, with a `berth` remote that
/// carries the token (as a user would store it in a credential helper).
pub fn fixture_repo(server: &TestServer, fixture: &str, app: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo_root().join("fixtures").join(fixture), dir.path());
    let url = format!("{}/{app}.git", server.api_url).replacen("http://", &format!("http://git:{}@", server.token), 1);
    for args in [
        vec!["init", "-q", "-b", "main"],
        vec!["add", "-A"],
        vec!["-c", "user.email=dev@example.com", "-c", "user.name=Dev", "commit", "-q", "-m", "initial"],
        vec!["remote", "add", "berth", &url],
    ] {
        let out = Command::new("git").args(&args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    dir
}

/// `git push berth main` in `dir`: (success, combined output).
pub fn git_push(dir: &Path) -> (bool, String) {
    let out = Command::new("git")
        .args(["push", "berth", "main"])
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}
