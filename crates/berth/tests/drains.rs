//! Log drains end to end: a syslog listener and an HTTP endpoint in the test
//! receive the app's lines; a dead drain does not slow the app down.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{log_app_image, wait_for, TestServer};

/// Accepts syslog connections and sends each octet-counted message on.
fn syslog_listener() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut len = Vec::new();
                    if reader.read_until(b' ', &mut len).unwrap_or(0) == 0 {
                        return;
                    }
                    let n: usize = String::from_utf8_lossy(&len).trim().parse().expect("octet count");
                    let mut msg = vec![0u8; n];
                    if reader.read_exact(&mut msg).is_err()
                        || tx.send(String::from_utf8_lossy(&msg).into_owned()).is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

/// A minimal HTTP/1.1 endpoint: sends each request (head + body) on, answers 200.
fn http_listener() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || loop {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push_str(&line.to_lowercase());
                    if line == "\r\n" {
                        break;
                    }
                }
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |v| v.trim().parse().unwrap());
                let mut body = vec![0u8; len];
                reader.read_exact(&mut body).unwrap();
                let _ = tx.send(format!("{head}{}", String::from_utf8_lossy(&body)));
                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").unwrap();
            });
        }
    });
    (port, rx)
}

fn expect(rx: &mpsc::Receiver<String>, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(msg) if msg.contains(what) => return msg,
            Ok(_) => {}
            Err(_) => panic!("the drain never got {what:?}"),
        }
    }
}

#[test]
fn drains_receive_the_log_and_a_dead_one_costs_nothing() {
    let server = TestServer::start();
    server.cli_ok(&["apps:create", "drained"]);
    let (syslog_port, syslog) = syslog_listener();
    let (http_port, http) = http_listener();
    let dead_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    let out = server.cli_ok(&["drains:add", &format!("syslog://127.0.0.1:{syslog_port}"), "-a", "drained"]);
    assert!(out.contains("Successfully added drain") && out.contains("Token: d."), "{out}");
    server.cli_ok(&["drains:add", &format!("http://127.0.0.1:{http_port}/drain"), "-a", "drained"]);
    server.cli_ok(&["drains:add", &format!("syslog://127.0.0.1:{dead_port}"), "-a", "drained"]);
    let bad = server.cli(&["drains:add", "ftp://example.com", "-a", "drained"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not ftp://"));

    server.cli_ok(&["deploy", "-a", "drained", "--image", log_app_image()]);
    wait_for("drained to answer", Duration::from_secs(60), || {
        (server.get("drained.localhost", "/").0 == 200).then_some(())
    });

    // App output, platform events and router lines reach both live drains.
    expect(&syslog, " berth api - Release v2 created by user admin@berth.local");
    let msg = expect(&syslog, " app web.1 - tick ");
    assert!(msg.starts_with("<190>1 ") && msg.contains(" d."), "{msg}");
    let request = expect(&http, "tick ");
    assert!(request.starts_with("post /drain http/1.1"), "{request}");
    assert!(request.contains("content-type: application/logplex-1"), "{request}");
    assert!(request.contains("logplex-msg-count: "), "{request}");

    // The dead drain does not slow requests down, and the live ones see them.
    let started = Instant::now();
    for i in 0..50 {
        assert_eq!(server.get("drained.localhost", &format!("/timed/{i}")).0, 200);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "50 requests took {took:?} with a dead drain");
    expect(&syslog, "path=\"/timed/49\"");
    expect(&http, "path=\"/timed/49\"");

    // `drains` reports delivery and the dead drain's error.
    let drains = wait_for("the dead drain's error", Duration::from_secs(30), || {
        let d = server.cli_json(&["drains", "-a", "drained"]);
        let dead =
            d.as_array().unwrap().iter().find(|x| x["url"].as_str().unwrap().ends_with(&dead_port.to_string()))?;
        dead["last_error"].as_str().is_some_and(|e| e.contains("cannot connect")).then_some(d)
    });
    let live =
        drains.as_array().unwrap().iter().find(|x| x["url"].as_str().unwrap().contains(&syslog_port.to_string()));
    assert!(live.unwrap()["delivered"].as_u64().unwrap() > 10, "{drains}");
    let table = server.cli_ok(&["drains", "-a", "drained"]);
    assert!(table.contains("DELIVERED") && table.contains("cannot connect"), "{table}");

    // Removing a drain stops it.
    server.cli_ok(&["drains:remove", &format!("syslog://127.0.0.1:{dead_port}"), "-a", "drained"]);
    assert_eq!(server.cli_json(&["drains", "-a", "drained"]).as_array().unwrap().len(), 2);
}
