//! `berth run`: one-off containers attached over the API, with and without a TTY.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{log_app_image, wait_for, TestServer, BERTH};

fn berth(server: &TestServer) -> Command {
    let mut cmd = Command::new(BERTH);
    cmd.env("BERTH_API_URL", &server.api_url).env("BERTH_API_TOKEN", &server.token);
    cmd
}

fn run_with_stdin(server: &TestServer, args: &[&str], stdin: &[u8]) -> Output {
    let mut child =
        berth(server).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn one_off_commands_attach_pipe_exit_and_clean_up() {
    let server = TestServer::start();
    server.cli_ok(&["apps:create", "runner"]);
    // Before a deploy there is nothing to run.
    let out = server.cli(&["run", "-a", "runner", "--", "true"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("deploy it first"), "{}", text(&out.stderr));
    server.cli_ok(&["config:set", "-a", "runner", "GREETING=hi there"]);
    server.cli_ok(&["deploy", "-a", "runner", "--image", log_app_image()]);

    // Output, the app's config and DYNO=run.N.
    let out = server.cli(&["run", "-a", "runner", "--", "sh", "-c", "echo \"$GREETING\" $DYNO"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("hi there run."), "{stdout}");

    // stderr stays stderr; the exit code is the CLI's.
    let out = server.cli(&["run", "-a", "runner", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), "out\n");
    assert!(text(&out.stderr).contains("err\n"), "{}", text(&out.stderr));

    // A pipe in and out: stdin reaches the process, EOF ends it.
    let data: Vec<u8> = (0..20_000).map(|i| format!("line {i}\n")).collect::<String>().into_bytes();
    let out = run_with_stdin(&server, &["run", "-a", "runner", "--", "cat"], &data);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout == data, "cat returned the input unchanged");
    let out = run_with_stdin(&server, &["run", "-a", "runner", "--", "wc", "-l"], b"a\nb\nc\n");
    assert_eq!(text(&out.stdout).trim(), "3");

    // A real TTY through a pseudo-terminal: an interactive shell answers, Ctrl-C
    // reaches the remote process, the exit code comes back.
    let command = format!("stty cols 91 rows 27; {BERTH} run -a runner -- bash");
    let mut tty = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("BERTH_API_URL", &server.api_url)
        .env("BERTH_API_TOKEN", &server.token)
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    let mut input = tty.stdin.take().unwrap();
    let mut output = tty.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = output.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    let mut seen = String::new();
    let expect = |what: &str, seen: &mut String| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !seen.contains(what) {
            assert!(Instant::now() < deadline, "no {what:?} from the remote shell; got {seen:?}");
            if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
                seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        }
    };
    expect("Running `bash` on runner", &mut seen);
    std::thread::sleep(Duration::from_millis(500));
    input.write_all(b"echo answer=$((6*7)); tty; stty size\r").unwrap();
    expect("answer=42", &mut seen);
    expect("/dev/pts/", &mut seen);
    expect("27 91", &mut seen);
    input.write_all(b"sleep 60; echo sl\"\"ept\r").unwrap();
    std::thread::sleep(Duration::from_millis(700));
    input.write_all(b"\x03").unwrap();
    input.write_all(b"echo interrupted=$?\r").unwrap();
    expect("interrupted=130", &mut seen);
    assert!(!seen.contains("slept"), "Ctrl-C stopped the remote sleep");
    input.write_all(b"exit 4\r").unwrap();
    let status = wait_for("the TTY session to end", Duration::from_secs(30), || tty.try_wait().unwrap());
    assert_eq!(status.code(), Some(4), "{seen}");

    // A client that goes away takes its one-off with it; `ps` lists running one-offs.
    let mut long = berth(&server)
        .args(["run", "-a", "runner", "--", "sleep", "300"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ps = wait_for("the one-off in ps", Duration::from_secs(30), || {
        let ps = server.cli_json(&["ps", "-a", "runner"]);
        ps.as_array().unwrap().iter().any(|d| d["type"] == "run" && d["state"] == "up").then_some(ps)
    });
    let one_off = ps.as_array().unwrap().iter().find(|d| d["type"] == "run").unwrap().clone();
    assert!(one_off["name"].as_str().unwrap().starts_with("run."), "{one_off}");
    assert_eq!(one_off["command"], "sleep 300");
    assert_eq!(one_off["state"], "up");
    // The reconciler neither counts nor stops it: web is still one instance.
    let webs = ps.as_array().unwrap().iter().filter(|d| d["type"] == "web").count();
    assert_eq!(webs, 1, "{ps}");
    long.kill().unwrap();
    long.wait().unwrap();
    wait_for("the abandoned one-off to be removed", Duration::from_secs(30), || {
        server.one_offs().is_empty().then_some(())
    });

    // Detached: output goes to the log; ps:stop ends it.
    let out = server.cli(&["run:detached", "-a", "runner", "--", "sh", "-c", "echo detached-hello; sleep 300"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dyno = text(&out.stderr).split("up, ").nth(1).unwrap().lines().next().unwrap().trim().to_string();
    assert!(dyno.starts_with("run."), "{dyno}");
    wait_for("detached output in the log", Duration::from_secs(30), || {
        let log = server.cli_ok(&["logs", "-a", "runner", "--ps", &dyno]);
        log.contains(&format!("app[{dyno}]: detached-hello")).then_some(())
    });
    assert!(server.cli_ok(&["ps", "-a", "runner"]).contains(&dyno));
    server.cli_ok(&["ps:stop", "-a", "runner", &dyno]);
    assert!(server.one_offs().is_empty());
    let log = server.cli_ok(&["logs", "-a", "runner", "--source", "berth", "-n", "1000"]);
    assert!(log.contains("Starting process with command `sleep 300` by user admin@berth.local"), "{log}");
    assert!(log.contains("Process exited with status 3"), "{log}");
    assert!(log.contains("]: State changed from starting to up"), "{log}");
    assert!(log.contains("]: State changed from up to complete"), "{log}");

    // Nothing is left behind, and the web instance never noticed.
    wait_for("no one-off containers", Duration::from_secs(15), || server.one_offs().is_empty().then_some(()));
    assert_eq!(server.containers("runner").len(), 1);
}
