//! The official Heroku CLI (npm `heroku`) as a real client we do not control.

mod support;

use std::process::Output;
use std::time::Duration;

use support::{test_image, wait_for, TestServer};

/// Installs the CLI into target/heroku-cli once (the npm registry is reachable).
struct Heroku<'a> {
    server: &'a TestServer,
}

impl Heroku<'_> {
    fn run(&self, args: &[&str]) -> Output {
        support::heroku(self.server, &self.server.token, args)
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
