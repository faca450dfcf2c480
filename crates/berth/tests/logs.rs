//! `berth logs`: app output, router lines and platform events in one stream,
//! kept across server restarts, followed live with `-t`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{log_app_image, wait_for, TestServer, BERTH};

/// `tick N from web.1` numbers in order of appearance.
fn ticks(log: &str, dyno: &str) -> Vec<u64> {
    let suffix = format!(" from {dyno}");
    log.lines()
        .filter(|l| l.contains(&format!(" app[{dyno}]: tick ")))
        .filter_map(|l| l.split(": tick ").nth(1)?.strip_suffix(&suffix)?.parse().ok())
        .collect()
}

fn is_heroku_line(line: &str) -> bool {
    // 2026-11-22T16:05:03.123456+00:00 app[web.1]: message
    let b = line.as_bytes();
    line.len() > 34
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && line[20..26].bytes().all(|c| c.is_ascii_digit())
        && &line[26..33] == "+00:00 "
        && (line[33..].starts_with("app[") || line[33..].starts_with("berth["))
        && line.contains("]: ")
}

#[test]
fn logs_merge_app_router_and_platform_lines_and_survive_restarts() {
    let mut server = TestServer::start();
    server.cli_ok(&["apps:create", "lgs"]);
    server.cli_ok(&["deploy", "-a", "lgs", "--image", log_app_image()]);
    wait_for("lgs to answer", Duration::from_secs(60), || (server.get("lgs.localhost", "/").0 == 200).then_some(()));
    let (status, body) = server.get("lgs.localhost", "/probe-one?x=1");
    assert_eq!(status, 200, "{body}");

    // App output (stdout and stderr), the router line, the release lines.
    let log = wait_for("app, router and platform lines", Duration::from_secs(30), || {
        let log = server.cli_ok(&["logs", "-a", "lgs", "-n", "500"]);
        let ready = ticks(&log, "web.1").len() >= 5
            && log.contains("app[web.1]: warning 5 from web.1")
            && log.contains("path=\"/probe-one?x=1\"");
        ready.then_some(log)
    });
    assert!(log.lines().all(is_heroku_line), "every line in Heroku's format:\n{log}");
    let router = log.lines().find(|l| l.contains("path=\"/probe-one?x=1\"")).unwrap();
    for part in [
        "berth[router]: at=info method=GET",
        "host=lgs.localhost",
        "dyno=web.1",
        "status=200",
        "bytes=",
        "connect=",
        "service=",
        "request_id=",
        "fwd=\"127.0.0.1\"",
    ] {
        assert!(router.contains(part), "{part} missing from {router}");
    }
    assert!(log.contains("berth[api]: Deploy berth-test/log-app:e2e by user admin@berth.local"), "{log}");
    assert!(log.contains("berth[api]: Release v2 created by user admin@berth.local"), "{log}");
    let t = ticks(&log, "web.1");
    assert!(t.windows(2).all(|w| w[1] == w[0] + 1), "ticks in order, none lost: {t:?}");

    // -n limits; a platform line for a scale; filters by source and process.
    let two = server.cli_ok(&["logs", "-a", "lgs", "-n", "2"]);
    assert_eq!(two.lines().count(), 2, "{two}");
    server.cli_ok(&["ps:scale", "-a", "lgs", "web=2"]);
    wait_for("the scale line, web.2's lifecycle and its output", Duration::from_secs(60), || {
        let log = server.cli_ok(&["logs", "-a", "lgs", "-n", "1000"]);
        (log.contains("berth[api]: Scaled to web@2:standard-1X by user admin@berth.local")
            && log.lines().any(|l| l.contains(" berth[web.2]: State changed from ") && l.ends_with(" to up"))
            && !ticks(&log, "web.2").is_empty())
        .then_some(())
    });
    let routers = server.cli_ok(&["logs", "-a", "lgs", "--source", "router"]);
    assert!(!routers.is_empty() && routers.lines().all(|l| l.contains(" berth[router]: ")), "{routers}");
    let web2 = server.cli_ok(&["logs", "-a", "lgs", "--ps", "web.2", "-n", "500"]);
    assert!(!web2.is_empty() && web2.lines().all(|l| l.contains("[web.2]: ")), "{web2}");
    assert!(web2.contains(" berth[web.2]: State changed from starting to up"), "{web2}");
    let web2_app = server.cli_ok(&["logs", "-a", "lgs", "--ps", "web.2", "--source", "app", "-n", "20"]);
    assert!(!web2_app.is_empty() && web2_app.lines().all(|l| l.contains(" app[web.2]: ")), "{web2_app}");
    let platform = server.cli_ok(&["logs", "-a", "lgs", "--source", "berth", "-n", "1000"]);
    assert!(platform.lines().all(|l| l.contains(" berth[")), "{platform}");
    assert!(platform.contains("Scaled to web@2"));

    // -t: history, then new lines as they come, including a request made meanwhile.
    let mut tail = Command::new(BERTH)
        .args(["logs", "-a", "lgs", "-t", "-n", "1"])
        .env("BERTH_API_URL", &server.api_url)
        .env("BERTH_API_TOKEN", &server.token)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.get("lgs.localhost", "/during-tail").0, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(line);
        }
        let ticked = seen.iter().filter(|l| l.contains(": tick ")).count() >= 4;
        if ticked && seen.iter().any(|l| l.contains("path=\"/during-tail\"")) {
            break;
        }
    }
    let _ = tail.kill();
    let _ = tail.wait();
    assert!(seen.iter().any(|l| l.contains("path=\"/during-tail\"")), "tail missed the router line: {seen:?}");
    assert!(seen.iter().filter(|l| l.contains(": tick ")).count() >= 4, "tail missed app lines: {seen:?}");

    // A restart loses nothing: history stays, and what the app printed while the
    // server was down is read from the engine.
    let before = ticks(&server.cli_ok(&["logs", "-a", "lgs", "-n", "10000", "--ps", "web.1"]), "web.1");
    server.kill();
    std::thread::sleep(Duration::from_secs(3));
    server.restart();
    let after = wait_for("ticks from after the restart", Duration::from_secs(30), || {
        let t = ticks(&server.cli_ok(&["logs", "-a", "lgs", "-n", "10000", "--ps", "web.1"]), "web.1");
        (t.last() > Some(&(before.last().unwrap() + 8))).then_some(t)
    });
    assert!(after.starts_with(&before[..before.len() - 1]), "history kept across the restart");
    let mut dedup = after.clone();
    dedup.dedup();
    assert!(
        dedup.windows(2).all(|w| w[1] == w[0] + 1),
        "no tick lost while the server was down: {:?}",
        &after[before.len().saturating_sub(3)..]
    );
    assert!(server.cli_ok(&["logs", "-a", "lgs", "-n", "10000"]).contains("Scaled to web@2"));

    // Destroying the app deletes its history.
    server.cli_ok(&["apps:destroy", "-a", "lgs", "--confirm", "lgs"]);
    server.cli_ok(&["apps:create", "lgs"]);
    let fresh = server.cli_ok(&["logs", "-a", "lgs"]);
    assert!(!fresh.contains("tick"), "{fresh}");
}
