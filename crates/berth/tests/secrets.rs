//! Secrets stay secret: config values, passwords and issued tokens never appear in
//! the data dir's files (SQLite included) or the server's log; key rotation
//! re-encrypts everything and every app keeps its config.

mod support;

use std::process::Command;

use reqwest::blocking::Client;
use serde_json::{json, Value};
use support::{TestServer, BERTH};

const VALUE_A: &str = "value-of-app-a-6d0b1c2e";
const VALUE_B: &str = "value-of-app-b-99f3aa07";
const PASSWORD: &str = "the-users-password-7b7e1f";

fn call(server: &TestServer, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", server.api_url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            files.extend(files_under(&entry.path()));
        } else if entry.file_type().unwrap().is_file() {
            files.push(entry.path());
        }
    }
    files
}

fn assert_nowhere(server: &TestServer, secrets: &[&str]) {
    let files = files_under(server.data_dir.path());
    assert!(files.iter().any(|f| f.ends_with("berth.db")));
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} contains a secret in clear",
                path.display()
            );
        }
    }
}

fn config(server: &TestServer, app: &str) -> Value {
    let (status, vars) = call(server, "GET", &format!("/apps/{app}/config-vars"), &server.token, json!(null));
    assert_eq!(status, 200, "{vars}");
    vars
}

#[test]
fn secrets_stay_out_of_files_and_logs_and_survive_key_rotation() {
    let mut server = TestServer::start_logged();
    let admin = server.token.clone();
    for (app, value) in [("sec-a", VALUE_A), ("sec-b", VALUE_B)] {
        server.cli_ok(&["apps:create", app]);
        server.cli_ok(&["config:set", "-a", app, &format!("SECRET={value}"), "PLAIN=x"]);
    }
    call(&server, "POST", "/users", &admin, json!({"email": "dev@example.com", "password": PASSWORD}));
    let login = Client::new()
        .post(format!("{}/oauth/authorizations", server.api_url))
        .basic_auth("dev@example.com", Some(PASSWORD))
        .send()
        .unwrap();
    assert_eq!(login.status().as_u16(), 201);
    let issued: Value = login.json().unwrap();
    let issued = issued["access_token"]["token"].as_str().unwrap().to_string();
    // A failed login with a wrong password must not log that password either.
    let wrong = Client::new()
        .post(format!("{}/oauth/authorizations", server.api_url))
        .basic_auth("dev@example.com", Some("wrong-password-guess-42"))
        .send()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);

    let log = std::fs::read_to_string(server.log_path.as_ref().unwrap()).unwrap();
    assert!(log.contains("config changed") && log.contains("failed login"), "the log was captured");
    assert_nowhere(&server, &[VALUE_A, VALUE_B, PASSWORD, &issued, "wrong-password-guess-42"]);

    // Rotation needs the server stopped (apps keep running meanwhile).
    let rotate = |server: &TestServer| {
        Command::new(BERTH).args(["server", "rotate-key", "--data-dir"]).arg(server.data_dir.path()).output().unwrap()
    };
    let refused = rotate(&server);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("stop it first"));

    let key_path = server.data_dir.path().join("secret.key");
    let old_key = std::fs::read(&key_path).unwrap();
    server.kill();
    let out = rotate(&server);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Re-encrypted") && stdout.contains("Back up"), "{stdout}");
    let new_key = std::fs::read(&key_path).unwrap();
    assert_eq!(new_key.len(), 32);
    assert_ne!(new_key, old_key);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!server.data_dir.path().join("secret.key.new").exists());

    // The server starts with the new key and every app's config is intact.
    server.restart();
    for (app, value) in [("sec-a", VALUE_A), ("sec-b", VALUE_B)] {
        let vars = config(&server, app);
        assert_eq!(vars["SECRET"], value);
        assert_eq!(vars["PLAIN"], "x");
    }
    // Older releases too (a rollback restores their config).
    let (status, _) = call(&server, "POST", "/apps/sec-a/releases", &admin, json!({"release": "v1"}));
    assert_eq!(status, 201);
    assert!(config(&server, "sec-a").get("SECRET").is_none());

    // With the old key put back, nothing decrypts: the data really moved.
    server.kill();
    std::fs::write(&key_path, &old_key).unwrap();
    server.restart();
    let (status, body) = call(&server, "GET", "/apps/sec-b/config-vars", &admin, json!(null));
    assert_eq!(status, 500, "{body}");
    assert!(!body.to_string().contains(VALUE_B));
}
