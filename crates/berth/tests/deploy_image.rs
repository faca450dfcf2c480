//! The foundation flow end to end, against the real Docker engine: create,
//! deploy an image, route, scale, config, crash recovery, server restart, destroy.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::{docker, test_image, wait_for, TestServer};

const APP: &str = "web1";

#[test]
fn image_app_lifecycle() {
    let image = test_image();
    let mut server = TestServer::start();
    let host = format!("{APP}.localhost");

    // Create: the router knows the app but nothing runs yet → 503; unknown apps → 404.
    server.cli_ok(&["apps:create", APP]);
    let apps = server.cli_json(&["apps"]);
    assert_eq!(apps[0]["name"], APP);
    assert_eq!(server.get("nope.localhost", "/").0, 404);
    wait_for("503 for an app without instances", Duration::from_secs(10), || {
        (server.get(&host, "/").0 == 503).then_some(())
    });

    // Deploy an image: web starts at 1 and answers through the router.
    server.cli_ok(&["deploy", "-a", APP, "--image", image, "--process", "worker=sleep infinity"]);
    let body = wait_for("the app to answer", Duration::from_secs(60), || server.app_json(APP));
    assert_eq!(body["dyno"], "web.1");
    assert_eq!(body["port"], "5000");
    assert_eq!(body["headers"]["x-forwarded-proto"], "http");
    assert!(body["headers"]["x-request-id"].as_str().is_some_and(|id| !id.is_empty()));
    let formation: Vec<(String, i64)> = server
        .cli_json(&["ps", "-a", APP])
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap().to_string(), d["release"]["version"].as_i64().unwrap()))
        .collect();
    assert_eq!(formation, vec![("web.1".to_string(), 2)], "worker starts at 0");

    // Scale to 3: three distinct instances answer.
    server.cli_ok(&["ps:scale", "-a", APP, "web=3"]);
    let seen = wait_for("three instances to answer", Duration::from_secs(60), || {
        let mut seen = BTreeSet::new();
        for _ in 0..12 {
            if let Some(body) = server.app_json(APP) {
                seen.insert(body["instance"].as_str().unwrap().to_string());
            }
        }
        (seen.len() == 3).then_some(seen)
    });
    assert_eq!(seen.len(), 3);
    assert_eq!(server.containers(APP).len(), 3);

    // Config change: new release, containers restarted with the new environment.
    server.cli_ok(&["config:set", "-a", APP, "GREETING=hi"]);
    assert_eq!(server.cli_ok(&["config:get", "-a", APP, "GREETING"]).trim(), "hi");
    wait_for("every instance to see GREETING=hi", Duration::from_secs(60), || {
        let all = (0..6).filter_map(|_| server.app_json(APP)).all(|b| b["greeting"] == "hi");
        (all && server.containers(APP).len() == 3).then_some(())
    });
    let releases = server.cli_json(&["releases", "-a", APP]);
    assert_eq!(releases[0]["version"], 3);
    assert_eq!(releases[0]["description"], "Set GREETING config vars");

    // docker kill: the instance comes back.
    let victim = server.containers(APP)[0].clone();
    assert!(docker(&["kill", &victim]).status.success());
    wait_for("the killed instance to run again", Duration::from_secs(30), || {
        let running = docker(&["inspect", "-f", "{{.State.Running}}", &victim]);
        let up = String::from_utf8_lossy(&running.stdout).trim() == "true";
        let states = server.cli_json(&["ps", "-a", APP]);
        let all_up = states.as_array().unwrap().iter().filter(|d| d["state"] == "up").count() == 3;
        (up || all_up).then_some(())
    });

    // Server restart (SIGKILL): containers keep running and are adopted, not duplicated.
    let before: BTreeSet<String> = server.containers(APP).into_iter().collect();
    server.restart();
    std::thread::sleep(Duration::from_secs(3));
    let after: BTreeSet<String> = server.containers(APP).into_iter().collect();
    assert_eq!(before, after, "no duplicates and no replacements after a restart");
    let body = wait_for("traffic after the restart", Duration::from_secs(20), || server.app_json(APP));
    assert_eq!(body["greeting"], "hi");

    // Scale to zero: 503 with a helpful page.
    server.cli_ok(&["ps:scale", "-a", APP, "web=0"]);
    let (status, page) = wait_for("503 after scaling to zero", Duration::from_secs(30), || {
        let (status, page) = server.get(&host, "/");
        (status == 503).then_some((status, page))
    });
    assert_eq!(status, 503);
    assert!(page.contains("ps:scale web=1"), "{page}");

    // Destroy: containers and network are gone when the command returns.
    server.cli_ok(&["ps:scale", "-a", APP, "web=1"]);
    wait_for("one instance again", Duration::from_secs(30), || server.app_json(APP));
    let out = server.cli(&["apps:destroy", "-a", APP]);
    assert!(!out.status.success(), "destroy without --confirm must refuse");
    server.cli_ok(&["apps:destroy", "-a", APP, "--confirm", APP]);
    assert!(server.containers(APP).is_empty(), "containers left: {:?}", server.containers(APP));
    assert!(server.networks().is_empty(), "networks left: {:?}", server.networks());
    assert_eq!(server.get(&host, "/").0, 404);
}

#[test]
fn rollback_restores_image_config_and_processes() {
    let image = test_image();
    let server = TestServer::start();
    server.cli_ok(&["apps:create", "rolly"]);
    server.cli_ok(&["config:set", "-a", "rolly", "GREETING=one"]);
    server.cli_ok(&["deploy", "-a", "rolly", "--image", image]);
    wait_for("v3 to answer", Duration::from_secs(60), || server.app_json("rolly").filter(|b| b["greeting"] == "one"));
    server.cli_ok(&["config:set", "-a", "rolly", "GREETING=two"]);
    wait_for("v4 to answer", Duration::from_secs(60), || server.app_json("rolly").filter(|b| b["greeting"] == "two"));

    server.cli_ok(&["releases:rollback", "-a", "rolly"]);
    let releases = server.cli_json(&["releases", "-a", "rolly"]);
    assert_eq!(releases[0]["version"], 5);
    assert_eq!(releases[0]["description"], "Rollback to v3");
    assert_eq!(releases[0]["current"], true);
    wait_for("the rollback to serve", Duration::from_secs(60), || {
        server.app_json("rolly").filter(|b| b["greeting"] == "one")
    });
    let info = server.cli_json(&["releases:info", "-a", "rolly", "v5"]);
    assert_eq!(info["image"], image);
}

#[test]
fn deploy_errors_are_clear_and_change_nothing() {
    let server = TestServer::start();
    server.cli_ok(&["apps:create", "errs"]);
    let out = server.cli(&["deploy", "-a", "errs", "--image", "berth-test/does-not-exist:1"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not on this host"), "{stderr}");
    let out = server.cli(&["deploy", "-a", "errs", "--image", test_image(), "--process", "Bad Type=x"]);
    assert!(!out.status.success());
    let out = server.cli(&["ps:scale", "-a", "errs", "web=1"]);
    assert!(!out.status.success(), "scaling before any deploy has no web type");
    assert!(String::from_utf8_lossy(&out.stderr).contains("process type"));
    let releases = server.cli_json(&["releases", "-a", "errs"]);
    assert_eq!(releases.as_array().unwrap().len(), 1, "failed deploys make no release");
}
