//! Access control over real HTTP with real tokens: users log in with passwords,
//! and every API route (and git over HTTP) is tried by every role. Unauthenticated
//! calls get 401, apps a user may not see 404, missing permissions 403, never 500.

mod support;

use reqwest::blocking::Client;
use serde_json::{json, Value};
use support::{test_image, TestServer};

const PASSWORD: &str = "a long enough password";
const SECRET: &str = "matrix-secret-value-8c1f";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    Stranger,
    Viewer,
    Operator,
    Deployer,
    Manager,
    Owner,
    Admin,
}

use Role::*;

const ROLES: [Role; 8] = [Anonymous, Stranger, Viewer, Operator, Deployer, Manager, Owner, Admin];

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    AnyUser,
    View,
    Deploy,
    Operate,
    Manage,
    Admin,
}

impl Role {
    fn email(self) -> Option<&'static str> {
        Some(match self {
            Anonymous => return None,
            Stranger => "stranger@example.com",
            Viewer => "viewer@example.com",
            Operator => "operator@example.com",
            Deployer => "deployer@example.com",
            Manager => "manager@example.com",
            Owner => "owner@example.com",
            Admin => return None,
        })
    }

    /// The grant given on the app (owner and admin have theirs implicitly).
    fn grant(self) -> Option<&'static str> {
        match self {
            Viewer => Some("view"),
            Operator => Some("operate"),
            Deployer => Some("deploy"),
            Manager => Some("manage"),
            _ => None,
        }
    }

    /// The status a denied request gets, or None when the request is allowed.
    fn denial(self, need: Need) -> Option<u16> {
        let app_route = matches!(need, Need::View | Need::Deploy | Need::Operate | Need::Manage);
        match self {
            Anonymous => return Some(401),
            Admin => return None,
            Stranger if app_route => return Some(404),
            _ => {}
        }
        let allowed = match need {
            Need::AnyUser => true,
            Need::Admin => false,
            Need::View => true,
            Need::Deploy => matches!(self, Deployer | Owner),
            Need::Operate => matches!(self, Operator | Owner),
            Need::Manage => matches!(self, Manager | Owner),
        };
        (!allowed).then_some(403)
    }
}

struct Route {
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    need: Need,
    /// Statuses an allowed request may get.
    ok: &'static [u16],
    /// Run as admin before each attempt (recreates what an allowed attempt removed).
    setup: Option<(&'static str, &'static str, Value)>,
    /// Only the first allowed role tries it (it removes its own target).
    once: bool,
}

fn route(method: &'static str, path: &'static str, need: Need, ok: &'static [u16]) -> Route {
    Route { method, path, body: None, need, ok, setup: None, once: false }
}

fn with_body(mut r: Route, body: Value) -> Route {
    r.body = Some(body);
    r
}

struct Api {
    http: Client,
    base: String,
}

impl Api {
    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Self::send(req, body)
    }

    fn basic(&self, method: &str, path: &str, user: &str, password: &str, body: Option<&Value>) -> (u16, Value) {
        let req = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base));
        Self::send(req.basic_auth(user, Some(password)), body)
    }

    /// Sends with an optional JSON body; the answer as JSON (or the text as a JSON string).
    fn send(mut req: reqwest::blocking::RequestBuilder, body: Option<&Value>) -> (u16, Value) {
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    fn ok(&self, method: &str, path: &str, token: &str, body: Value) -> Value {
        let (status, value) = self.call(method, path, Some(token), Some(&body));
        assert!((200..300).contains(&status), "{method} {path}: {status} {value}");
        value
    }

    /// Creates a user (as admin) and logs in with the password: returns the token.
    fn user_token(&self, admin: &str, email: &str) -> String {
        self.ok("POST", "/users", admin, json!({"email": email, "password": PASSWORD}));
        let (status, auth) = self.basic("POST", "/oauth/authorizations", email, PASSWORD, Some(&json!({})));
        assert_eq!(status, 201, "{auth}");
        auth["access_token"]["token"].as_str().unwrap().to_string()
    }
}

fn api(server: &TestServer) -> Api {
    Api { http: Client::new(), base: server.api_url.clone() }
}

#[test]
fn permission_matrix_over_http_and_git() {
    let server = TestServer::start();
    let api = api(&server);
    let admin = server.token.clone();
    let image = test_image();

    let token_of: Vec<(Role, Option<String>)> = ROLES
        .iter()
        .map(|&role| match role {
            Anonymous => (role, None),
            Admin => (role, Some(admin.clone())),
            _ => (role, Some(api.user_token(&admin, role.email().unwrap()))),
        })
        .collect();
    let token = |role: Role| token_of.iter().find(|(r, _)| *r == role).unwrap().1.clone();

    // The owner creates the app and shares it; the image is deployed with web at 0.
    let owner = token(Owner).unwrap();
    api.ok("POST", "/apps", &owner, json!({"name": "matrix"}));
    api.ok("POST", "/apps", &owner, json!({"name": "doomed"}));
    for role in ROLES {
        if let Some(grant) = role.grant() {
            for app in ["matrix", "doomed"] {
                let body = json!({"user": role.email().unwrap(), "permissions": [grant]});
                api.ok("POST", &format!("/teams/apps/{app}/collaborators"), &owner, body);
            }
        }
    }
    api.ok("POST", "/apps/matrix/releases", &owner, json!({"image": image}));
    api.ok("PATCH", "/apps/matrix/formation", &owner, json!({"updates": [{"type": "web", "quantity": 0}]}));
    api.ok("PATCH", "/apps/matrix/config-vars", &owner, json!({"SECRET_VALUE": SECRET}));
    api.ok("POST", "/users", &admin, json!({"email": "extra@example.com", "password": PASSWORD}));

    // Users see only the apps they may access.
    let names = |role: Role| -> Vec<String> {
        let (status, apps) = api.call("GET", "/apps", token(role).as_deref(), None);
        assert_eq!(status, 200);
        apps.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(Stranger), Vec::<String>::new());
    assert_eq!(names(Viewer), ["doomed", "matrix"]);
    assert_eq!(names(Admin), ["doomed", "matrix"]);

    // Config values are for managers: viewers see names with redacted values.
    let (_, vars) = api.call("GET", "/apps/matrix/config-vars", token(Viewer).as_deref(), None);
    assert!(vars["SECRET_VALUE"].as_str().unwrap().contains("redacted"), "{vars}");
    let (_, vars) = api.call("GET", "/apps/matrix/config-vars", token(Manager).as_deref(), None);
    assert_eq!(vars["SECRET_VALUE"], SECRET);

    let collaborator_setup = Some(("POST", "/apps/matrix/collaborators", json!({"user": "extra@example.com"})));
    let user_setup = Some(("POST", "/users", json!({"email": "gone@example.com", "password": PASSWORD})));
    let routes = vec![
        route("GET", "/account", Need::AnyUser, &[200]),
        route("GET", "/apps", Need::AnyUser, &[200]),
        with_body(route("POST", "/apps", Need::AnyUser, &[201]), json!({})),
        route("GET", "/users/~/apps", Need::AnyUser, &[200]),
        route("GET", "/oauth/authorizations", Need::AnyUser, &[200]),
        with_body(route("POST", "/oauth/authorizations", Need::AnyUser, &[201]), json!({"description": "matrix"})),
        route("GET", "/apps/matrix", Need::View, &[200]),
        route("GET", "/apps/matrix/config-vars", Need::View, &[200]),
        route("GET", "/apps/matrix/releases", Need::View, &[200]),
        route("GET", "/apps/matrix/releases/v1", Need::View, &[200]),
        route("GET", "/apps/matrix/formation", Need::View, &[200]),
        route("GET", "/apps/matrix/formation/web", Need::View, &[200]),
        route("GET", "/apps/matrix/dynos", Need::View, &[200]),
        route("GET", "/apps/matrix/builds", Need::View, &[200]),
        route("GET", "/apps/matrix/builds/00000000-0000-0000-0000-000000000000", Need::View, &[404]),
        route("GET", "/apps/matrix/builds/00000000-0000-0000-0000-000000000000/output", Need::View, &[404]),
        route("GET", "/apps/matrix/buildpack-installations", Need::View, &[200]),
        route("GET", "/apps/matrix/addons", Need::View, &[200]),
        route("GET", "/apps/matrix/domains", Need::View, &[200]),
        route("GET", "/apps/matrix/collaborators", Need::View, &[200]),
        route("GET", "/teams/apps/matrix/collaborators", Need::View, &[200]),
        route("GET", "/apps/matrix/collaborators/owner@example.com", Need::View, &[200]),
        route("GET", "/apps/matrix/checks", Need::View, &[200]),
        with_body(route("PUT", "/apps/matrix/checks", Need::Deploy, &[200]), json!({"path": "/"})),
        route("DELETE", "/apps/matrix/checks", Need::Deploy, &[200]),
        with_body(route("POST", "/apps/matrix/releases", Need::Deploy, &[201]), json!({"image": image})),
        with_body(route("POST", "/apps/matrix/releases", Need::Deploy, &[201]), json!({"release": "v2"})),
        route("POST", "/apps/matrix/sources", Need::Deploy, &[201]),
        with_body(
            route("POST", "/apps/matrix/builds", Need::Deploy, &[422]),
            json!({"source_blob": {"url": format!("{}/sources/{}", server.api_url, "0".repeat(32))}}),
        ),
        with_body(route("PUT", "/apps/matrix/buildpack-installations", Need::Deploy, &[200]), json!({"updates": []})),
        route("DELETE", "/apps/matrix/build-cache", Need::Deploy, &[202]),
        with_body(
            route("PATCH", "/apps/matrix/formation", Need::Operate, &[200]),
            json!({"updates": [{"type": "web", "quantity": 0}]}),
        ),
        with_body(route("PATCH", "/apps/matrix/formation/web", Need::Operate, &[200]), json!({"quantity": 0})),
        route("DELETE", "/apps/matrix/dynos", Need::Operate, &[202]),
        route("DELETE", "/apps/matrix/dynos/web", Need::Operate, &[202]),
        route("DELETE", "/apps/matrix/formations/web", Need::Operate, &[202]),
        with_body(route("PATCH", "/apps/matrix/config-vars", Need::Manage, &[200]), json!({"OTHER": "x"})),
        route("GET", "/apps/matrix/audit-events", Need::Manage, &[200]),
        route("GET", "/apps/matrix/metrics", Need::View, &[200]),
        with_body(route("POST", "/apps/matrix/log-sessions", Need::View, &[201]), json!({"lines": 5})),
        route("GET", "/apps/matrix/log-drains", Need::View, &[200]),
        Route {
            once: true,
            ..with_body(
                route("POST", "/apps/matrix/log-drains", Need::Manage, &[201]),
                json!({"url": "syslog://127.0.0.1:9"}),
            )
        },
        route("DELETE", "/apps/matrix/log-drains/00000000-0000-0000-0000-000000000000", Need::Manage, &[404]),
        with_body(
            route("POST", "/apps/matrix/dynos", Need::Operate, &[201]),
            json!({"command": "true", "attach": false}),
        ),
        route("POST", "/apps/matrix/dynos/run.424242/actions/stop", Need::Operate, &[404]),
        Route {
            setup: Some(("DELETE", "/apps/matrix/collaborators/extra@example.com", json!(null))),
            ..with_body(
                route("POST", "/teams/apps/matrix/collaborators", Need::Manage, &[201]),
                json!({"user": "extra@example.com", "permissions": ["view"]}),
            )
        },
        Route {
            setup: collaborator_setup.clone(),
            ..with_body(
                route("PATCH", "/teams/apps/matrix/collaborators/extra@example.com", Need::Manage, &[200]),
                json!({"permissions": ["view", "deploy"]}),
            )
        },
        Route {
            setup: collaborator_setup,
            ..route("DELETE", "/apps/matrix/collaborators/extra@example.com", Need::Manage, &[200])
        },
        route("GET", "/users", Need::Admin, &[200]),
        with_body(
            route("POST", "/users", Need::Admin, &[201]),
            json!({"email": "new@example.com", "password": PASSWORD}),
        ),
        Route { setup: user_setup, ..route("DELETE", "/users/gone@example.com", Need::Admin, &[200]) },
        route("GET", "/audit-events", Need::Admin, &[200]),
        Route { once: true, ..route("DELETE", "/apps/doomed", Need::Manage, &[200]) },
    ];

    let mut failures = Vec::new();
    for r in &routes {
        let mut allowed_seen = false;
        for &role in &ROLES {
            let expected = role.denial(r.need);
            if expected.is_none() && r.once && allowed_seen {
                continue;
            }
            if let Some((m, p, b)) = &r.setup {
                api.call(m, p, Some(&admin), Some(b).filter(|b| !b.is_null()));
            }
            let (status, body) = api.call(r.method, r.path, token(role).as_deref(), r.body.as_ref());
            let good = match expected {
                Some(denied) => status == denied && body["id"].is_string() && body["message"].is_string(),
                None => r.ok.contains(&status),
            };
            if !good || status >= 500 {
                failures.push(format!("{role:?} {} {}: got {status}, want {:?} ({body})", r.method, r.path, expected));
            }
            allowed_seen |= expected.is_none();
        }
    }

    // git over HTTP: fetching needs view, pushing needs deploy.
    let git_routes = [
        ("/matrix.git/info/refs?service=git-upload-pack", Need::View),
        ("/matrix.git/info/refs?service=git-receive-pack", Need::Deploy),
    ];
    for (path, need) in git_routes {
        for &role in &ROLES {
            let mut req = api.http.get(format!("{}{path}", server.api_url));
            if let Some(t) = token(role) {
                req = req.basic_auth("git", Some(t));
            }
            let status = req.send().unwrap().status().as_u16();
            let want = role.denial(need).unwrap_or(200);
            if status != want {
                failures.push(format!("{role:?} git {path}: got {status}, want {want}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} permission failures:\n{}", failures.len(), failures.join("\n"));

    // Images Berth built for another app carry its source: deployers cannot take them.
    let foreign = foreign_image(&server.namespace);
    let body = json!({ "image": foreign });
    let (status, _) = api.call("POST", "/apps/matrix/releases", token(Deployer).as_deref(), Some(&body));
    assert_eq!(status, 403);
    let (status, _) = api.call("POST", "/apps/matrix/releases", Some(&admin), Some(&body));
    assert_eq!(status, 201, "admins may");
    support::docker(&["rmi", "-f", &foreign]);

    // The audit trail saw it all: who, which token, the outcome; never a config value.
    let (status, events) = api.call("GET", "/audit-events?app=matrix&limit=1000", Some(&admin), None);
    assert_eq!(status, 200);
    let events = events.as_array().unwrap().clone();
    let has = |email: &str, action: &str, status: u64| {
        events.iter().any(|e| e["actor"]["email"] == email && e["action"] == action && e["status"] == status)
    };
    assert!(has("manager@example.com", "config-vars.update", 200), "{events:?}");
    assert!(has("viewer@example.com", "config-vars.update", 403));
    assert!(has("deployer@example.com", "release.create", 201));
    assert!(has("operator@example.com", "dyno.restart", 202));
    assert!(events.iter().all(|e| e["token_id"].is_string() || e["actor"].is_null()));
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(SECRET) && !text.contains(PASSWORD) && !text.contains(&admin));
    let (status, mine) = api.call("GET", "/apps/matrix/audit-events", Some(&owner), None);
    assert_eq!(status, 200);
    assert!(!mine.as_array().unwrap().is_empty());
}

/// Sends a 2 MiB JSON body (over the 1 MiB limit) and returns the status. The
/// server answers 413 as soon as the limit is passed and closes the connection,
/// which can reset it before the client reads the answer: a reset is retried.
fn oversized_status(server: &TestServer, path: &str) -> u16 {
    use std::io::{BufRead, Write};
    let addr = server.api_url.trim_start_matches("http://").to_string();
    for _ in 0..5 {
        let stream = std::net::TcpStream::connect(&addr).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let size = 2 * 1024 * 1024;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n",
            server.token
        );
        let mut writer = stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let _ = writer.write_all(head.as_bytes());
            let _ = writer.write_all(&vec![b' '; size]);
        });
        let mut status_line = String::new();
        let read = std::io::BufReader::new(stream).read_line(&mut status_line);
        let _ = sender.join();
        if let (Ok(n), Some(code)) = (read, status_line.split_whitespace().nth(1)) {
            if n > 0 {
                return code.parse().unwrap_or(0);
            }
        }
    }
    panic!("no answer to an oversized POST {path} in 5 tries");
}

/// The test image, labelled as if Berth had built it for another app.
fn foreign_image(namespace: &str) -> String {
    use std::io::Write;
    let tag = format!("berth-test/foreign-{namespace}:e2e");
    let mut child = std::process::Command::new("docker")
        .args(["build", "-q", "-t", &tag, "--label", "io.berth.image.app=someone-else", "--label"])
        .arg(format!("io.berth.image.namespace={namespace}"))
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("FROM {}\n", test_image()).as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    tag
}

#[test]
fn tokens_expire_and_revocation_is_immediate() {
    let server = TestServer::start();
    let api = api(&server);
    let admin = server.token.clone();
    let dev = api.user_token(&admin, "dev@example.com");

    let short = api.ok("POST", "/oauth/authorizations", &dev, json!({"description": "ci", "expires_in": 2}));
    let short_token = short["access_token"]["token"].as_str().unwrap().to_string();
    assert_eq!(api.call("GET", "/account", Some(&short_token), None).0, 200);
    let listed = api.ok("GET", "/oauth/authorizations", &dev, json!(null));
    let listed = listed.as_array().unwrap();
    assert!(listed.iter().any(|a| a["id"] == short["id"] && a["access_token"]["token"].is_null()), "{listed:?}");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(api.call("GET", "/account", Some(&short_token), None).0, 401, "expired");

    let other = api.ok("POST", "/oauth/authorizations", &dev, json!({}));
    let other_token = other["access_token"]["token"].as_str().unwrap().to_string();
    let id = other["id"].as_str().unwrap();
    // Someone else cannot revoke it (it is not theirs to see).
    assert_eq!(api.call("DELETE", &format!("/oauth/authorizations/{id}"), Some(&admin), None).0, 404);
    api.ok("DELETE", &format!("/oauth/authorizations/{id}"), &dev, json!(null));
    assert_eq!(api.call("GET", "/account", Some(&other_token), None).0, 401, "revoked");
    assert_eq!(api.call("GET", "/account", Some(&dev), None).0, 200, "other tokens keep working");

    // Invalid input is 422, not a token.
    let (status, _) = api.call("POST", "/oauth/authorizations", Some(&dev), Some(&json!({"expires_in": -5})));
    assert_eq!(status, 422);
}

#[test]
fn logins_are_rate_limited_and_passwords_are_checked() {
    let server = TestServer::start();
    let api = api(&server);
    api.ok("POST", "/users", &server.token, json!({"email": "dev@example.com", "password": PASSWORD}));
    let (status, body) =
        api.call("POST", "/users", Some(&server.token), Some(&json!({"email": "x@example.com", "password": "short"})));
    assert_eq!(status, 422, "{body}");

    let login = |password: &str| api.basic("POST", "/oauth/authorizations", "dev@example.com", password, None).0;
    // Unknown users and wrong passwords look the same.
    assert_eq!(api.basic("POST", "/oauth/authorizations", "nobody@example.com", PASSWORD, None).0, 401);
    for _ in 0..5 {
        assert_eq!(login("wrong password!"), 401);
    }
    let (status, body) = api.basic("POST", "/oauth/authorizations", "dev@example.com", PASSWORD, None);
    assert_eq!(status, 429, "even the right password waits: {body}");
    assert_eq!(body["id"], "rate_limit");
    // Other accounts are not locked out.
    assert_eq!(api.basic("POST", "/oauth/authorizations", "nobody@example.com", "x", None).0, 401);
}

#[test]
fn cli_login_users_access_and_audit() {
    let server = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let berth = |args: &[&str], token: Option<&str>, stdin: &str| {
        use std::io::Write;
        let mut cmd = std::process::Command::new(support::BERTH);
        cmd.args(args).env("BERTH_API_URL", &server.api_url).env("HOME", home.path()).env_remove("XDG_CONFIG_HOME");
        match token {
            Some(t) => cmd.env("BERTH_API_TOKEN", t),
            None => cmd.env_remove("BERTH_API_TOKEN"),
        };
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let admin = Some(server.token.as_str());
    let (ok, _, err) = berth(&["users:add", "dev@example.com", "--password-stdin"], admin, &format!("{PASSWORD}\n"));
    assert!(ok, "{err}");
    let (ok, out, _) = berth(&["users"], admin, "");
    assert!(ok && out.contains("dev@example.com") && out.contains("admin@berth.local"), "{out}");
    let (ok, out, _) = berth(&["apps:create", "shared-app"], admin, "");
    assert!(ok, "{out}");
    let (ok, _, err) =
        berth(&["access:add", "dev@example.com", "-a", "shared-app", "--permissions", "view,deploy"], admin, "");
    assert!(ok, "{err}");
    let (ok, out, _) = berth(&["access", "-a", "shared-app"], admin, "");
    assert!(ok && out.contains("dev@example.com") && out.contains("view, deploy"), "{out}");

    // Login with a password stores a personal token, mode 0600.
    let (ok, out, err) =
        berth(&["login", "--email", "dev@example.com", "--password-stdin"], None, &format!("{PASSWORD}\n"));
    assert!(ok, "{out}{err}");
    let creds = home.path().join(".config/berth/credentials");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777, 0o600);
    let (ok, out, _) = berth(&["auth:whoami"], None, "");
    assert!(ok && out.trim() == "dev@example.com", "{out}");
    let (ok, out, _) = berth(&["apps"], None, "");
    assert!(ok && out.contains("shared-app"), "{out}");
    // A deployer cannot change config: one line plus a hint.
    let (ok, _, err) = berth(&["config:set", "-a", "shared-app", "A=b"], None, "");
    assert!(!ok && err.contains("manage permission") && err.contains("hint:"), "{err}");
    let (ok, out, _) = berth(&["authorizations"], None, "");
    assert!(ok && out.contains("berth CLI login"), "{out}");
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&creds).unwrap()).unwrap();
    let token = stored["token"].as_str().unwrap().to_string();

    // Logout revokes the login token on the server.
    let (ok, _, _) = berth(&["logout"], None, "");
    assert!(ok);
    let api = api(&server);
    assert_eq!(api.call("GET", "/account", Some(&token), None).0, 401);

    let (ok, out, _) = berth(&["audit", "--json"], admin, "");
    assert!(ok);
    let events: Value = serde_json::from_str(&out).unwrap();
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["user.create", "app.create", "collaborator.create", "authorization.create", "authorization.revoke"] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
    assert!(!out.contains(PASSWORD));
    let (ok, _, err) = berth(&["users:remove", "dev@example.com"], admin, "");
    assert!(ok, "{err}");
}

#[test]
fn hostile_requests_get_4xx_never_5xx() {
    let server = TestServer::start();
    let api = api(&server);
    let admin = server.token.as_str();
    api.ok("POST", "/apps", admin, json!({"name": "src-a"}));
    api.ok("POST", "/apps", admin, json!({"name": "src-b"}));
    let raw = |method: &str, path: &str, body: Vec<u8>| {
        let resp = api
            .http
            .request(method.parse().unwrap(), format!("{}{path}", server.api_url))
            .bearer_auth(admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        resp.status().as_u16()
    };
    for path in ["/users", "/oauth/authorizations", "/teams/apps/src-a/collaborators"] {
        assert_eq!(raw("POST", path, b"{not json".to_vec()), 400, "{path}");
        assert_eq!(oversized_status(&server, path), 413, "{path}");
        assert_eq!(raw("POST", path, b"[1, 2]".to_vec()), 400, "{path}");
    }
    assert_eq!(raw("PATCH", "/teams/apps/src-a/collaborators/x@example.com", b"{\"permissions\": 7}".to_vec()), 400);
    let (status, _) =
        api.call("POST", "/users", Some(admin), Some(&json!({"email": "../../etc", "password": PASSWORD})));
    assert_eq!(status, 422);
    let (status, _) = api.call(
        "POST",
        "/teams/apps/src-a/collaborators",
        Some(admin),
        Some(&json!({"user": "admin@berth.local", "permissions": ["root"]})),
    );
    assert_eq!(status, 422);

    // Source uploads: only issued URLs take bytes, and only for the app they were made for.
    let put = |url: &str| api.http.put(url).body(b"not a tar".to_vec()).send().unwrap().status().as_u16();
    assert_eq!(put(&format!("{}/sources/{}", server.api_url, "a".repeat(32))), 404, "never issued");
    let source = api.ok("POST", "/apps/src-a/sources", admin, json!(null));
    let url = source["source_blob"]["put_url"].as_str().unwrap().to_string();
    assert_eq!(put(&url), 200);
    let (status, body) =
        api.call("POST", "/apps/src-b/builds", Some(admin), Some(&json!({"source_blob": {"url": url}})));
    assert_eq!(status, 422, "a source made for src-a cannot build src-b: {body}");
}
