//! The official Heroku CLI (npm `heroku`) as a real client we do not control.

mod support;

use std::process::{Command, Output};
use std::time::Duration;

use support::{test_image, wait_for, TestServer};

/// Installs the CLI into target/heroku-cli once (the npm registry is reachable).
struct Heroku<'a> {
    server: &'a TestServer,
}

impl Heroku<'_> {
    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run heroku")
    }

    fn command(&self, args: &[&str]) -> Command {
        support::heroku_command(self.server, &self.server.token, args)
    }

    /// Runs a command that does not end by itself (`logs --tail`), calls `during`
    /// once it is streaming, and returns what it printed within a few seconds.
    fn tail(&self, args: &[&str], during: impl FnOnce()) -> String {
        use std::io::Read;
        let mut command = self.command(args);
        let mut child = command.stdout(std::process::Stdio::piped()).spawn().expect("run heroku");
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        let mut out = String::new();
        let mut during = Some(during);
        let deadline = std::time::Instant::now() + Duration::from_secs(40);
        while std::time::Instant::now() < deadline {
            if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
                out.push_str(&String::from_utf8_lossy(&chunk));
            }
            if !out.is_empty() {
                if let Some(f) = during.take() {
                    f();
                }
            }
            if during.is_none() && out.contains("path=\"/from-heroku-tail\"") {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "heroku {args:?} failed ({:?}):\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

#[test]
fn the_official_heroku_cli_works() {
    let server = TestServer::start();
    let heroku = Heroku { server: &server };

    assert!(heroku.ok(&["auth:whoami"]).contains("admin@berth.local"));
    heroku.ok(&["apps:create", "hk-app"]);
    assert!(heroku.ok(&["apps"]).contains("hk-app"));
    let info = heroku.ok(&["apps:info", "-a", "hk-app"]);
    assert!(info.contains("hk-app") && info.contains("admin@berth.local"), "{info}");

    heroku.ok(&["config:set", "GREETING=hello", "OTHER=x", "-a", "hk-app"]);
    let config = heroku.ok(&["config", "-a", "hk-app"]);
    assert!(config.contains("GREETING") && config.contains("hello"), "{config}");
    assert_eq!(heroku.ok(&["config:get", "GREETING", "-a", "hk-app"]).trim(), "hello");
    heroku.ok(&["config:unset", "OTHER", "-a", "hk-app"]);
    assert!(!heroku.ok(&["config", "-a", "hk-app"]).contains("OTHER"));

    // Deploying an image is Berth's own command; the rest is the Heroku CLI again.
    server.cli_ok(&["deploy", "-a", "hk-app", "--image", test_image()]);
    wait_for("hk-app to answer", Duration::from_secs(60), || server.app_json("hk-app"));
    let ps = heroku.ok(&["ps", "-a", "hk-app"]);
    assert!(ps.contains("web.1") && ps.contains("up"), "{ps}");

    // `heroku logs` reads the log session's URL (Server-Sent Events) without the token.
    let logs = wait_for("heroku logs to show the release and the app", Duration::from_secs(30), || {
        let logs = heroku.ok(&["logs", "-a", "hk-app", "-n", "50"]);
        (logs.contains("berth[api]: Release v4 created by user admin@berth.local") && logs.contains("app[web.1]: "))
            .then_some(logs)
    });
    assert!(logs.contains("berth[router]: at=info method=GET"), "{logs}");
    let routers = heroku.ok(&["logs", "-a", "hk-app", "--source", "app", "-n", "5"]);
    assert!(routers.lines().all(|l| l.contains(" app[")), "{routers}");
    let tail = heroku.tail(&["logs", "--tail", "-a", "hk-app", "-n", "1"], || {
        server.get("hk-app.localhost", "/from-heroku-tail");
    });
    assert!(tail.contains("path=\"/from-heroku-tail\""), "{tail}");

    // `heroku run:detached` creates a one-off through the API; its output lands in the log.
    let detached = heroku.ok(&["run:detached", "-a", "hk-app", "--", "echo", "from-heroku-run"]);
    assert!(detached.contains("run."), "{detached}");
    wait_for("the detached one-off's output", Duration::from_secs(30), || {
        heroku.ok(&["logs", "-a", "hk-app", "-n", "200"]).contains("]: from-heroku-run").then_some(())
    });

    // Log drains through Heroku's resource.
    assert!(heroku.ok(&["drains:add", "syslog://127.0.0.1:5140", "-a", "hk-app"]).contains("Successfully added"));
    assert!(heroku.ok(&["drains", "-a", "hk-app"]).contains("syslog://127.0.0.1:5140 (d."));
    heroku.ok(&["drains:remove", "syslog://127.0.0.1:5140", "-a", "hk-app"]);
    assert!(!heroku.ok(&["drains", "-a", "hk-app"]).contains("5140"));

    heroku.ok(&["ps:scale", "web=2", "-a", "hk-app"]);
    wait_for("two web dynos in `heroku ps`", Duration::from_secs(60), || {
        let ps = heroku.ok(&["ps", "-a", "hk-app"]);
        (ps.contains("web.2") && ps.matches(": up").count() == 2).then_some(())
    });
    let releases = heroku.ok(&["releases", "-a", "hk-app"]);
    for expected in ["v4", "Deploy", "v3", "Remove OTHER config vars", "v2", "Set GREETING, OTHER config vars", "v1"] {
        assert!(releases.contains(expected), "{expected} missing from:\n{releases}");
    }
    heroku.ok(&["ps:restart", "-a", "hk-app"]);
    heroku.ok(&["apps:destroy", "-a", "hk-app", "--confirm", "hk-app"]);
    assert!(server.containers("hk-app").is_empty());
    assert!(!heroku.ok(&["apps"]).contains("hk-app"));

    // A Berth error reaches the user as the CLI's own message.
    let out = heroku.run(&["apps:info", "-a", "no-such-app"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Couldn't find that app"));
}
