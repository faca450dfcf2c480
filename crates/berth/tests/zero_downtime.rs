//! Deploys that drop nothing, proven under load: while clients send requests
//! continuously (keep-alive and new connections, slow requests of 2–5 s and
//! long streaming responses), the app goes through 10 deploys, 3 rollbacks,
//! scaling up and down and a restart. Every request must succeed, every slow
//! request and stream must complete, and after each deploy the new version
//! must answer.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use support::{test_image, wait_for, TestServer};

const APP: &str = "steady";

#[derive(Default)]
struct Tally {
    requests: AtomicUsize,
    slow_done: AtomicUsize,
    streams_done: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        let mut failures = self.failures.lock().unwrap();
        if failures.len() < 50 {
            failures.push(what);
        }
    }
}

fn client(keep_alive: bool) -> reqwest::blocking::Client {
    let builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30));
    let builder = if keep_alive { builder } else { builder.pool_max_idle_per_host(0) };
    builder.build().unwrap()
}

/// Runs `work` in a loop on a thread until `stop`.
fn spawn_loop(stop: &Arc<AtomicBool>, mut work: impl FnMut() + Send + 'static) -> thread::JoinHandle<()> {
    let stop = Arc::clone(stop);
    thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            work();
        }
    })
}

fn version_of(server: &TestServer) -> String {
    let body = server.app_json(APP).expect("the app answers");
    body["version"].as_str().unwrap_or_default().to_string()
}

fn wait_deployed(server: &TestServer, version: i64) {
    wait_for(&format!("v{version} to deploy"), Duration::from_secs(60), || {
        let release = server.cli_json(&["releases:info", &format!("v{version}"), "-a", APP]);
        assert_ne!(release["status"], "failed", "v{version} failed: {release}");
        release["deployed_at"].as_str().map(|_| ())
    });
}

/// The newest release's version number.
fn newest(server: &TestServer) -> i64 {
    server.cli_json(&["releases", "-a", APP])[0]["version"].as_i64().unwrap()
}

fn assert_all_answer(server: &TestServer, version: &str) {
    for _ in 0..10 {
        assert_eq!(version_of(server), version, "after the deploy, every request reaches the new release");
    }
}

fn wait_instances_up(server: &TestServer, want: usize) {
    wait_for(&format!("{want} web instances up"), Duration::from_secs(60), || {
        let dynos = server.cli_json(&["ps", "-a", APP]);
        let dynos = dynos.as_array().unwrap();
        (dynos.len() == want && dynos.iter().all(|d| d["state"] == "up")).then_some(())
    });
}

#[test]
fn deploys_rollbacks_scaling_and_restarts_drop_no_request() {
    let image = test_image();
    let server = TestServer::start();
    let router = server.router_addr.clone();
    let host = format!("{APP}.localhost");
    server.cli_ok(&["apps:create", APP]);
    server.cli_ok(&["config:set", "-a", APP, "APP_VERSION=0"]);
    server.cli_ok(&["deploy", "-a", APP, "--image", image]);
    server.cli_ok(&["ps:scale", "web=2", "-a", APP]);
    wait_instances_up(&server, 2);

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let mut workers = Vec::new();
    // Quick requests: three keep-alive clients and two that connect anew each time.
    for keep_alive in [true, true, true, false, false] {
        let (tally, router, host, http) = (Arc::clone(&tally), router.clone(), host.clone(), client(keep_alive));
        workers.push(spawn_loop(&stop, move || {
            tally.requests.fetch_add(1, Ordering::Relaxed);
            match http.get(format!("http://{router}/")).header("host", &host).send() {
                Ok(resp) if resp.status().is_success() => {
                    let _ = resp.bytes();
                }
                Ok(resp) => tally.fail(format!("status {}: {}", resp.status(), resp.text().unwrap_or_default())),
                Err(e) => tally.fail(format!("request error: {e}")),
            }
        }));
    }
    // Slow requests (2–5 s) and long streaming responses (6 s): each must complete.
    for slow in 0..2 {
        let (tally, router, host, http) = (Arc::clone(&tally), router.clone(), host.clone(), client(true));
        let mut seconds = 2 + slow;
        workers.push(spawn_loop(&stop, move || {
            seconds = if seconds >= 5 { 2 } else { seconds + 1 };
            tally.requests.fetch_add(1, Ordering::Relaxed);
            let sent = http.get(format!("http://{router}/sleep/{seconds}")).header("host", &host).send();
            match sent.map(|r| (r.status(), r.text())) {
                Ok((status, Ok(_))) if status.is_success() => {
                    tally.slow_done.fetch_add(1, Ordering::Relaxed);
                }
                Ok((status, body)) => tally.fail(format!("slow request: status {status}, body {body:?}")),
                Err(e) => tally.fail(format!("slow request error: {e}")),
            }
        }));
    }
    {
        let (tally, router, host, http) = (Arc::clone(&tally), router.clone(), host.clone(), client(true));
        workers.push(spawn_loop(&stop, move || {
            tally.requests.fetch_add(1, Ordering::Relaxed);
            match http.get(format!("http://{router}/stream/6")).header("host", &host).send().and_then(|r| r.text()) {
                // 60 chunks of 100 ms; a cut stream has fewer (or fails to decode).
                Ok(text) if text.lines().filter(|l| l.starts_with("tick ")).count() >= 55 => {
                    tally.streams_done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(text) => tally.fail(format!("stream cut short after {} lines", text.lines().count())),
                Err(e) => tally.fail(format!("stream error: {e}")),
            }
        }));
    }

    // 10 deploys (each a new release: new instances, checked, swapped, drained).
    let mut deployed = Vec::new();
    for n in 1..=10 {
        server.cli_ok(&["config:set", "-a", APP, &format!("APP_VERSION={n}")]);
        let version = newest(&server);
        wait_deployed(&server, version);
        assert_all_answer(&server, &n.to_string());
        deployed.push((version, n));
        if n == 5 {
            // Scaling up and down in the middle of it.
            server.cli_ok(&["ps:scale", "web=4", "-a", APP]);
            wait_instances_up(&server, 4);
            server.cli_ok(&["ps:scale", "web=1", "-a", APP]);
            wait_instances_up(&server, 1);
            server.cli_ok(&["ps:scale", "web=2", "-a", APP]);
            wait_instances_up(&server, 2);
        }
    }
    // 3 rollbacks (each waits for the rolled-back release to serve).
    for (version, n) in [deployed[2], deployed[7], deployed[4]] {
        server.cli_ok(&["releases:rollback", &format!("v{version}"), "-a", APP]);
        assert_all_answer(&server, &n.to_string());
    }
    // A rolling restart: new instances healthy before the old ones leave.
    let before = server.containers(APP);
    server.cli_ok(&["ps:restart", "-a", APP]);
    wait_for("every instance to be replaced", Duration::from_secs(60), || {
        let now = server.containers(APP);
        (now.len() == 2 && now.iter().all(|c| !before.contains(c))).then_some(())
    });
    wait_instances_up(&server, 2);
    // Let the slow requests and streams that started during the last change finish.
    thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }

    let failures = tally.failures.lock().unwrap();
    let requests = tally.requests.load(Ordering::Relaxed);
    let (slow, streams) = (tally.slow_done.load(Ordering::Relaxed), tally.streams_done.load(Ordering::Relaxed));
    eprintln!("zero-downtime: {requests} requests, {slow} slow requests and {streams} streams completed");
    assert!(failures.is_empty(), "{} of {requests} requests failed: {failures:#?}", failures.len());
    assert!(requests > 500, "the load ran: {requests} requests");
    assert!(slow >= 10 && streams >= 3, "slow requests and streams ran: {slow}, {streams}");
}
