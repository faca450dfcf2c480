//! Isolation on the real engine: apps cannot reach each other's containers, and
//! app containers run non-root with no capabilities, no privilege gain, a pids
//! and a memory limit, and no host mounts (so no Docker socket).

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{docker, test_image, wait_for, TestServer};

/// An image like the test app but whose USER is root, as many Dockerfiles are.
fn root_image() -> String {
    let tag = "berth-test/root-app:e2e".to_string();
    let dockerfile = format!("FROM {}\nUSER root\n", test_image());
    let mut child = Command::new("docker")
        .args(["build", "-q", "-t", &tag, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(dockerfile.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    tag
}

fn inspect(id: &str) -> Value {
    let out = docker(&["inspect", id]);
    assert!(out.status.success());
    serde_json::from_slice::<Value>(&out.stdout).unwrap()[0].clone()
}

fn running_container(server: &TestServer, app: &str) -> String {
    wait_for(&format!("{app} to answer"), Duration::from_secs(60), || server.app_json(app));
    server.containers(app).into_iter().next().expect("a container")
}

/// Tries a TCP connection from inside a container: Some(true) connected.
fn connects(from: &str, ip: &str, port: u16) -> bool {
    let probe = format!(
        "import socket,sys\ns=socket.socket()\ns.settimeout(3)\ntry:\n s.connect(('{ip}',{port}))\n print('open')\nexcept Exception as e:\n print('closed', e)\n"
    );
    let out = docker(&["exec", from, "python3", "-c", &probe]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "probe failed to run: {}", String::from_utf8_lossy(&out.stderr));
    text.trim() == "open"
}

fn ip_of(container: &Value) -> String {
    let networks = container["NetworkSettings"]["Networks"].as_object().unwrap();
    networks.values().find_map(|n| n["IPAddress"].as_str().filter(|ip| !ip.is_empty())).unwrap().to_string()
}

#[test]
fn apps_are_isolated_and_containers_hardened() {
    let server = TestServer::start();
    server.cli_ok(&["apps:create", "iso-a"]);
    server.cli_ok(&["apps:create", "iso-b"]);
    server.cli_ok(&["deploy", "-a", "iso-a", "--image", test_image()]);
    server.cli_ok(&["deploy", "-a", "iso-b", "--image", &root_image()]);
    let a = running_container(&server, "iso-a");
    let b = running_container(&server, "iso-b");
    let (a_info, b_info) = (inspect(&a), inspect(&b));

    // Control: the probe does connect where it may (A to itself) ...
    assert!(connects(&a, &ip_of(&a_info), 5000), "the probe must work for the test to mean anything");
    // ... and A cannot reach B, nor B reach A: separate networks.
    assert!(!connects(&a, &ip_of(&b_info), 5000), "app A reached app B's container");
    assert!(!connects(&b, &ip_of(&a_info), 5000), "app B reached app A's container");

    for (id, info) in [(&a, &a_info), (&b, &b_info)] {
        let host = &info["HostConfig"];
        assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]), "{id}");
        assert!(host["CapAdd"].is_null() || host["CapAdd"] == serde_json::json!([]), "{id}");
        let security: Vec<&str> = host["SecurityOpt"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(security.iter().any(|o| o.starts_with("no-new-privileges")), "{security:?}");
        assert_eq!(host["Privileged"], false);
        assert!(host["PidsLimit"].as_i64().is_some_and(|n| n > 0 && n <= 4096), "{}", host["PidsLimit"]);
        assert!(host["Memory"].as_i64().is_some_and(|m| m > 0));
        assert!(host["Binds"].is_null() || host["Binds"] == serde_json::json!([]), "no host mounts");
        assert_eq!(info["Mounts"], serde_json::json!([]), "no mounts at all (no Docker socket)");
        assert_ne!(host["NetworkMode"], "host");
        assert_ne!(host["PidMode"], "host");
        // Non-root, also for the image whose USER is root.
        let uid = docker(&["exec", id, "id", "-u"]);
        assert_eq!(String::from_utf8_lossy(&uid.stdout).trim(), "1000", "{id}");
        // setuid binaries cannot raise privileges (no-new-privileges), and root's files stay closed.
        let shadow = docker(&["exec", id, "cat", "/etc/shadow"]);
        assert!(!shadow.status.success(), "an app read /etc/shadow");
    }

    // One-offs (`berth run`) get the same restrictions: not root, no capabilities.
    let out = server.cli(&["run", "-a", "iso-b", "--no-tty", "--", "sh", "-c", "id -u; grep CapEff /proc/self/status"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("1000"), "{stdout}");
    assert_eq!(lines.next().map(|l| l.split_whitespace().last()), Some(Some("0000000000000000")), "{stdout}");
}
