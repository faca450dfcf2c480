//! The HTTP API as clients meet it: auth, Heroku-shaped errors, input rules,
//! secrets at rest. Runs a real server (no containers needed).

mod support;

use std::os::unix::fs::PermissionsExt;

use reqwest::blocking::Client;
use serde_json::{json, Value};
use support::TestServer;

fn client() -> Client {
    Client::new()
}

fn call(server: &TestServer, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", server.api_url);
    let mut req = client().request(method.parse().unwrap(), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn assert_error(resp: (u16, Value), status: u16, id: &str) -> String {
    assert_eq!(resp.0, status, "{:?}", resp.1);
    assert_eq!(resp.1["id"], id, "{:?}", resp.1);
    let message = resp.1["message"].as_str().expect("error has a message").to_string();
    assert!(!message.is_empty());
    message
}

#[test]
fn auth_errors_and_input_rules() {
    let server = TestServer::start();
    let token = Some(server.token.as_str());

    let (status, health) = call(&server, "GET", "/healthz", None, None);
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));

    assert_error(call(&server, "GET", "/apps", None, None), 401, "unauthorized");
    assert_error(call(&server, "GET", "/apps", Some("berth_wrong"), None), 401, "unauthorized");
    assert_error(call(&server, "GET", "/account", Some(""), None), 401, "unauthorized");

    let (status, account) = call(&server, "GET", "/account", token, None);
    assert_eq!(status, 200);
    assert_eq!(account["email"], "admin@berth.local");

    let message =
        assert_error(call(&server, "POST", "/apps", token, Some(json!({"name": "Bad_Name"}))), 422, "invalid_params");
    assert!(message.contains("lowercase letter") && message.contains("3 to 30"), "{message}");
    for bad in ["ab", "1abc", "a".repeat(31).as_str(), "../etc"] {
        assert_error(call(&server, "POST", "/apps", token, Some(json!({ "name": bad }))), 422, "invalid_params");
    }

    let (status, app) = call(&server, "POST", "/apps", token, Some(json!({"name": "api-app"})));
    assert_eq!(status, 201);
    assert_eq!(app["name"], "api-app");
    assert_eq!(app["owner"]["email"], "admin@berth.local");
    assert!(app["web_url"].as_str().unwrap().starts_with("http://api-app.localhost:"));
    assert_error(call(&server, "POST", "/apps", token, Some(json!({"name": "api-app"}))), 409, "conflict");

    let (status, generated) = call(&server, "POST", "/apps", token, Some(json!({})));
    assert_eq!(status, 201, "{generated}");

    assert_error(call(&server, "GET", "/apps/nope-app", token, None), 404, "not_found");
    assert_error(call(&server, "GET", "/no/such/route", token, None), 404, "not_found");

    // Malformed and oversized bodies are 4xx, never 5xx.
    let resp = client()
        .post(format!("{}/apps", server.api_url))
        .bearer_auth(&server.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let huge = format!("{{\"name\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let resp = client()
        .post(format!("{}/apps", server.api_url))
        .bearer_auth(&server.token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);

    // Config keys must be env names; formation types must exist.
    let message = assert_error(
        call(&server, "PATCH", "/apps/api-app/config-vars", token, Some(json!({"NOT-VALID": "x"}))),
        422,
        "invalid_params",
    );
    assert!(message.contains("letter or underscore"), "{message}");
    assert_error(
        call(
            &server,
            "PATCH",
            "/apps/api-app/formation",
            token,
            Some(json!({"updates": [{"type": "web", "quantity": 1}]})),
        ),
        404,
        "not_found",
    );
    assert_error(
        call(&server, "POST", "/apps/api-app/releases", token, Some(json!({"image": "x:1", "release": "v1"}))),
        422,
        "invalid_params",
    );
}

#[test]
fn secrets_are_private_at_rest() {
    let server = TestServer::start();
    let token = Some(server.token.as_str());
    let secret = "correct-horse-battery-staple-4242";
    call(&server, "POST", "/apps", token, Some(json!({"name": "vault"})));
    let (status, vars) = call(&server, "PATCH", "/apps/vault/config-vars", token, Some(json!({"DB_PASSWORD": secret})));
    assert_eq!(status, 200);
    assert_eq!(vars["DB_PASSWORD"], secret);
    let (_, vars) = call(&server, "GET", "/apps/vault/config-vars", token, None);
    assert_eq!(vars["DB_PASSWORD"], secret);

    for path in files_under(server.data_dir.path()) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} contains a config value in clear",
            path.display()
        );
        assert!(
            !bytes.windows(server.token.len()).any(|w| w == server.token.as_bytes()) || path.ends_with("admin.token"),
            "{} contains the API token in clear",
            path.display()
        );
    }
    for private in ["admin.token", "secret.key"] {
        let mode = std::fs::metadata(server.data_dir.path().join(private)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{private}");
    }
}

/// Every regular file below `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files.extend(files_under(&entry.path()));
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    files
}
