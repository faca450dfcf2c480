//! The release phase: a Procfile `release` command runs once before a release
//! may serve; a failure rejects the push and leaves the old release serving.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{fixture_repo, git_push, wait_for, TestServer};

fn commit_procfile(dir: &std::path::Path, procfile: &str) {
    std::fs::write(dir.join("Procfile"), procfile).unwrap();
    let out = Command::new("git")
        .args(["-c", "user.email=d@e.f", "-c", "user.name=D", "commit", "-qam", "procfile"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn release_phase_gates_the_release() {
    let server = TestServer::start();
    server.cli_ok(&["apps:create", "phased"]);
    server.cli_ok(&["config:set", "-a", "phased", "GREETING=before"]);
    let repo = fixture_repo(&server, "dockerfile-app", "phased");
    let (ok, output) = git_push(repo.path());
    assert!(ok, "{output}");
    wait_for("v3 to serve", Duration::from_secs(30), || server.app_json("phased"));

    // A failing release command: push rejected with its output, release failed, v3 serving.
    commit_procfile(
        repo.path(),
        "web: python3 -u /app/app.py\nrelease: echo \"migrating $GREETING on $DYNO\"; exit 3\n",
    );
    let (ok, output) = git_push(repo.path());
    assert!(!ok, "{output}");
    assert!(output.contains("Running release command"), "{output}");
    assert!(output.contains("migrating before on release.4"), "release command sees config and DYNO: {output}");
    assert!(output.contains("exited with status 3"), "{output}");
    let releases = server.cli_json(&["releases", "-a", "phased"]);
    assert_eq!((releases[0]["version"].as_i64(), releases[0]["status"].as_str()), (Some(4), Some("failed")));
    assert_eq!(releases[1]["current"], true);
    assert!(server.app_json("phased").is_some(), "v3 keeps serving");
    let info = server.cli_ok(&["releases:info", "v4", "-a", "phased"]);
    assert!(info.contains("exited with status 3") && info.contains("migrating before on release.4"), "{info}");

    // A passing one: released, and a later config change runs it again before serving.
    commit_procfile(repo.path(), "web: python3 -u /app/app.py\nrelease: echo \"migrated $GREETING\"\n");
    let (ok, output) = git_push(repo.path());
    assert!(ok, "{output}");
    assert!(output.contains("migrated before") && output.contains("v5 is up"), "{output}");
    server.cli_ok(&["config:set", "-a", "phased", "GREETING=after"]);
    wait_for("v6 to pass its release phase and serve", Duration::from_secs(60), || {
        let releases = server.cli_json(&["releases", "-a", "phased"]);
        let done = releases[0]["version"] == 6 && releases[0]["status"] == "succeeded";
        server.app_json("phased").filter(|b| done && b["greeting"] == "after")
    });
    let leftovers = support::docker(&["ps", "-aq", "--filter", &format!("name={}-phased-release", server.namespace)]);
    assert!(String::from_utf8_lossy(&leftovers.stdout).trim().is_empty(), "release containers are removed");
}
