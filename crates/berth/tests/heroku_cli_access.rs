//! The official Heroku CLI against Berth's access control: collaborators,
//! authorizations, SSH keys, and a non-admin user's view of permissions.

mod support;

use std::process::Command;

use serde_json::json;
use support::{heroku, TestServer};

fn ok(server: &TestServer, token: &str, args: &[&str]) -> String {
    let out = heroku(server, token, args);
    assert!(
        out.status.success(),
        "heroku {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn heroku_cli_access_authorizations_and_keys() {
    let server = TestServer::start();
    let admin = server.token.clone();
    let http = reqwest::blocking::Client::new();
    let resp = http
        .post(format!("{}/users", server.api_url))
        .bearer_auth(&admin)
        .json(&json!({"email": "dev@example.com", "password": "a long enough password"}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let login: serde_json::Value = http
        .post(format!("{}/oauth/authorizations", server.api_url))
        .basic_auth("dev@example.com", Some("a long enough password"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let dev = login["access_token"]["token"].as_str().unwrap().to_string();

    server.cli_ok(&["apps:create", "hk-shared"]);
    assert!(!ok(&server, &dev, &["apps"]).contains("hk-shared"), "not shared yet");
    ok(&server, &admin, &["access:add", "dev@example.com", "-a", "hk-shared"]);
    let access = ok(&server, &admin, &["access", "-a", "hk-shared"]);
    assert!(access.contains("dev@example.com") && access.contains("member"), "{access}");
    assert!(ok(&server, &dev, &["apps"]).contains("hk-shared"));

    // The default grant (view, deploy, operate) does not include config values.
    let out = heroku(&server, &dev, &["config:set", "A=b", "-a", "hk-shared"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("manage permission"));

    let created = ok(&server, &dev, &["authorizations:create", "-d", "from-heroku"]);
    assert!(created.contains("berth_"), "{created}");
    assert!(ok(&server, &dev, &["authorizations"]).contains("from-heroku"));

    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("id");
    let out =
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "hk-key", "-f"]).arg(&key).output();
    assert!(out.unwrap().status.success());
    ok(&server, &dev, &["keys:add", &format!("{}.pub", key.display())]);
    assert!(ok(&server, &dev, &["keys"]).contains("hk-key"));

    ok(&server, &admin, &["access:remove", "dev@example.com", "-a", "hk-shared"]);
    assert!(!ok(&server, &dev, &["apps"]).contains("hk-shared"));
}
