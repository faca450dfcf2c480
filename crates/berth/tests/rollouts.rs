//! Rollouts against the real engine: failing health checks and crashes during a
//! rollout change nothing that serves, crash loops back off and take no traffic,
//! a server killed mid-deploy finishes (or rolls back) the deploy when it comes
//! back, and one app's slow rollout does not hold up another's.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{docker, test_image, wait_for, TestServer};

fn release(server: &TestServer, app: &str, version: i64) -> Value {
    server.cli_json(&["releases:info", &format!("v{version}"), "-a", app])
}

fn wait_release_failed(server: &TestServer, app: &str, version: i64) -> String {
    let r = wait_for(&format!("v{version} of {app} to fail"), Duration::from_secs(60), || {
        let r = release(server, app, version);
        (r["status"] == "failed").then_some(r)
    });
    r["status_reason"].as_str().unwrap_or_default().to_string()
}

fn wait_deployed(server: &TestServer, app: &str, version: i64) {
    wait_for(&format!("v{version} of {app} to deploy"), Duration::from_secs(60), || {
        release(server, app, version)["deployed_at"].as_str().map(|_| ())
    });
}

fn greeting(server: &TestServer, app: &str) -> Option<String> {
    server.app_json(app).and_then(|b| b["greeting"].as_str().map(str::to_string))
}

/// Containers of one release of an app.
fn release_containers(server: &TestServer, app: &str, version: i64) -> Vec<String> {
    let out = docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label=io.berth.namespace={}", server.namespace),
        "--filter",
        &format!("label=io.berth.app={app}"),
        "--filter",
        &format!("label=io.berth.release={version}"),
    ]);
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn failed_deploys_change_nothing_and_say_why() {
    let image = test_image();
    let server = TestServer::start();
    let app = "guarded";
    server.cli_ok(&["apps:create", app]);
    server.cli_ok(&["config:set", "-a", app, "GREETING=good"]);
    server.cli_ok(&["deploy", "-a", app, "--image", image]);
    assert_eq!(greeting(&server, app).as_deref(), Some("good"), "deploy --image returns once the release serves");
    let serving = server.containers(app);
    assert_eq!(serving.len(), 1);

    // An HTTP check the new config fails: the release fails with the check's answer.
    let checks = ["checks:set", "/health", "-a", app, "--attempts", "2", "--interval", "0.2", "--boot-timeout", "30"];
    server.cli_ok(&checks);
    assert!(server.cli_ok(&["checks", "-a", app]).contains("GET /health expecting 200"));
    server.cli_ok(&["config:set", "-a", app, "HEALTH_STATUS=503", "GREETING=bad"]);
    let reason = wait_release_failed(&server, app, 4);
    assert!(
        reason.starts_with("web.1 failed its health check 2 times: GET /health answered 503 (expected 200)"),
        "{reason}"
    );
    assert!(reason.contains("Last log lines of web.1"), "{reason}");
    wait_for("the failed release's instance to go", Duration::from_secs(30), || {
        (server.containers(app) == serving).then_some(())
    });
    assert_eq!(greeting(&server, app).as_deref(), Some("good"), "the old release kept serving");
    let info = server.cli_ok(&["releases:info", "v4", "-a", app]);
    assert!(info.contains("Why it failed") && info.contains("answered 503"), "{info}");

    // `deploy --image` waits for the verdict and shows it.
    server.cli_ok(&["checks:set", "/health", "-a", app, "--status", "204", "--attempts", "2", "--interval", "0.2"]);
    let out = server.cli(&["deploy", "-a", app, "--image", image]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("v5 failed: web.1 failed its health check 2 times"), "{stderr}");
    assert!(stderr.contains("answered 200 (expected 204)") && stderr.contains("previous release keeps serving"));
    server.cli_ok(&["checks:unset", "-a", app]);

    // A crash during the rollout: failed, with the instance's own last words.
    server.cli_ok(&["config:set", "-a", app, "CRASH_ON_BOOT=1"]);
    let reason = wait_release_failed(&server, app, 6);
    assert!(reason.contains("web.1 exited with status 3 during the rollout"), "{reason}");
    assert!(reason.contains("crashing on purpose at boot"), "the reason quotes the logs: {reason}");
    assert_eq!(greeting(&server, app).as_deref(), Some("good"));
    let config = server.cli_json(&["config", "-a", app]);
    assert!(config.get("CRASH_ON_BOOT").is_none(), "a failed release's config never became current: {config}");

    // Rolling back after all that deploys like any release.
    server.cli_ok(&["releases:rollback", "v3", "-a", app]);
    assert!(release(&server, app, 7)["deployed_at"].is_string());
    assert_eq!(greeting(&server, app).as_deref(), Some("good"));
}

#[test]
fn crash_loops_back_off_and_take_no_traffic() {
    let image = test_image();
    let server = TestServer::start();
    let app = "looper";
    server.cli_ok(&["apps:create", app]);
    server.cli_ok(&["config:set", "-a", app, "CRASH_AFTER=2"]);
    server.cli_ok(&["deploy", "-a", app, "--image", image]);
    wait_deployed(&server, app, 3);

    // Healthy for 2 s, then exit 4; restarts after 1 s, 2 s, 4 s … of backoff.
    let host = format!("{app}.localhost");
    let started = Instant::now();
    let (mut saw_crashed, mut max_restarts, mut last_exit) = (false, 0, None);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    while started.elapsed() < Duration::from_secs(12) {
        let dynos = server.cli_json(&["ps", "-a", app]);
        for d in dynos.as_array().unwrap() {
            saw_crashed |= d["state"] == "crashed";
            max_restarts = max_restarts.max(d["restarts"].as_u64().unwrap_or(0));
            if let Some(code) = d["exit_code"].as_i64() {
                last_exit = Some(code);
            }
        }
        *statuses.entry(server.get(&host, "/").0).or_default() += 1;
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(saw_crashed, "ps shows the crashed state");
    assert_eq!(last_exit, Some(4), "ps shows the exit status");
    // Without backoff (or with the engine's own restarts) there would be 5 or more.
    assert!((2..=3).contains(&max_restarts), "restarts in 12 s with 1 s/2 s/4 s backoff: {max_restarts}");
    // While crashed it is out of the routes (503). Only a request that meets the
    // crash itself (before the engine reports the exit) can see a 502.
    assert!(statuses.keys().all(|s| [200, 502, 503].contains(s)), "{statuses:?}");
    let bad_gateways = statuses.get(&502).copied().unwrap_or(0);
    assert!(bad_gateways as u64 <= max_restarts + 1, "502s beyond the crash instants: {statuses:?}");
    assert!(statuses.contains_key(&503) && statuses.contains_key(&200), "{statuses:?}");

    // Crashes and restarts are platform lines in the app's log, next to the app's own words.
    let log = server.cli_ok(&["logs", "-a", app, "-n", "300"]);
    assert!(log.contains("berth[web.1]: Process exited with status 4; state changed from up to crashed"), "{log}");
    assert!(log.contains("berth[web.1]: Restarting (restart 1)"), "{log}");
    assert!(log.contains("app[web.1]: crashing on purpose after 2"), "{log}");
}

#[test]
fn a_server_killed_mid_deploy_finishes_or_rolls_back_the_deploy() {
    let image = test_image();
    let mut server = TestServer::start();
    let app = "phoenix";
    server.cli_ok(&["apps:create", app]);
    server.cli_ok(&["config:set", "-a", app, "GREETING=before"]);
    server.cli_ok(&["deploy", "-a", app, "--image", image]);

    // v4 boots slowly; the server dies (SIGKILL) while it does.
    server.cli_ok(&["config:set", "-a", app, "SLOW_BOOT=4", "GREETING=after"]);
    wait_for("v4's instance to exist", Duration::from_secs(20), || {
        (!release_containers(&server, app, 4).is_empty()).then_some(())
    });
    server.restart();
    wait_for("v4 to serve after the restart", Duration::from_secs(60), || {
        (greeting(&server, app).as_deref() == Some("after")).then_some(())
    });
    wait_deployed(&server, app, 4);
    wait_for("v3's instance to be retired", Duration::from_secs(30), || {
        (server.containers(app).len() == 1).then_some(())
    });
    assert_eq!(release_containers(&server, app, 4).len(), 1, "the booting instance was adopted, not duplicated");

    // A deploy that would fail its check, interrupted the same way, is rolled back.
    server.cli_ok(&["checks:set", "/health", "-a", app, "--attempts", "2", "--interval", "0.2"]);
    server.cli_ok(&["config:set", "-a", app, "SLOW_BOOT=2", "HEALTH_STATUS=500", "GREETING=broken"]);
    wait_for("v5's instance to exist", Duration::from_secs(20), || {
        (!release_containers(&server, app, 5).is_empty()).then_some(())
    });
    server.restart();
    let reason = wait_release_failed(&server, app, 5);
    assert!(reason.contains("answered 500"), "{reason}");
    wait_for("v5's instance to go", Duration::from_secs(30), || {
        release_containers(&server, app, 5).is_empty().then_some(())
    });
    assert_eq!(greeting(&server, app).as_deref(), Some("after"));
}

#[test]
fn one_apps_slow_rollout_does_not_hold_up_another() {
    let image = test_image();
    let server = TestServer::start();
    for app in ["slowpoke", "sprinter"] {
        server.cli_ok(&["apps:create", app]);
        server.cli_ok(&["deploy", "-a", app, "--image", image]);
    }
    server.cli_ok(&["config:set", "-a", "slowpoke", "SLOW_BOOT=8"]);
    wait_for("slowpoke's v3 to start booting", Duration::from_secs(20), || {
        (!release_containers(&server, "slowpoke", 3).is_empty()).then_some(())
    });
    let started = Instant::now();
    server.cli_ok(&["config:set", "-a", "sprinter", "GREETING=fast"]);
    wait_for("sprinter's change to serve", Duration::from_secs(30), || {
        (greeting(&server, "sprinter").as_deref() == Some("fast")).then_some(())
    });
    let took = started.elapsed();
    assert!(release(&server, "slowpoke", 3)["deployed_at"].is_null(), "slowpoke is still rolling out");
    assert!(took < Duration::from_secs(6), "sprinter waited for slowpoke: {took:?}");
    wait_deployed(&server, "slowpoke", 3);
}
