//! The HTTP client: base URL and token resolution, Heroku-shaped error handling.

use std::path::PathBuf;

use berth_core::api::ErrorBody;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::CliError;

pub const DEFAULT_API_URL: &str = "http://127.0.0.1:7070";

/// What `berth login` stores in `~/.config/berth/credentials` (mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub api_url: String,
    pub token: String,
    /// The authorization `berth login` created (revoked again by `berth logout`);
    /// none when the token was given with `--token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_id: Option<String>,
}

pub fn credentials_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("berth").join("credentials"))
}

pub fn load_credentials() -> Option<Credentials> {
    let text = std::fs::read_to_string(credentials_path()?).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn save_credentials(creds: &Credentials) -> Result<PathBuf, CliError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = credentials_path().ok_or_else(|| CliError::new("cannot find a config directory (HOME is not set)"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)?;
        file.write_all(serde_json::to_string_pretty(creds).unwrap_or_default().as_bytes())
    };
    write().map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// `BERTH_API_URL` / `BERTH_API_TOKEN`, else the stored credentials.
    pub fn from_env() -> Self {
        let stored = load_credentials();
        let base = std::env::var("BERTH_API_URL")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| stored.as_ref().map(|c| c.api_url.clone()))
            .unwrap_or_else(|| DEFAULT_API_URL.to_string());
        let token = std::env::var("BERTH_API_TOKEN").ok().filter(|s| !s.is_empty()).or_else(|| stored.map(|c| c.token));
        Self::new(&base, token)
    }

    pub fn new(base: &str, token: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("berth-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client configuration is static");
        Self { http, base: base.trim_end_matches('/').to_string(), token }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.send(Method::GET, path, None::<&()>).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.send(Method::DELETE, path, None::<&()>).await
    }

    /// PUTs raw bytes to an absolute URL the API handed out (a source upload URL).
    pub async fn put_bytes(&self, url: &str, body: Vec<u8>) -> Result<(), CliError> {
        let response = self
            .http
            .put(url)
            .body(body)
            .send()
            .await
            .map_err(|e| CliError::new(format!("uploading the source failed: {}", root_cause(&e))))?;
        if !response.status().is_success() {
            let status = response.status();
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(api_error(status, &bytes, true));
        }
        Ok(())
    }

    /// GETs an absolute API URL and hands each text chunk to `sink` as it arrives.
    pub async fn stream_text(&self, url: &str, mut sink: impl FnMut(&str)) -> Result<(), CliError> {
        let mut request = self.http.get(url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let mut response =
            request.send().await.map_err(|e| CliError::new(format!("cannot follow the stream: {}", root_cause(&e))))?;
        if !response.status().is_success() {
            let status = response.status();
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(api_error(status, &bytes, true));
        }
        while let Some(chunk) = response.chunk().await.map_err(|e| CliError::new(format!("the stream broke: {e}")))? {
            sink(&String::from_utf8_lossy(&chunk));
        }
        Ok(())
    }

    /// POSTs with HTTP Basic `user:password` instead of the token (a login).
    pub async fn post_basic<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        user: &str,
        password: &str,
        body: &B,
    ) -> Result<T, CliError> {
        self.request(Method::POST, path, Some(body), Some((user, password))).await
    }

    /// POSTs JSON asking to switch to `protocol`; returns the upgraded connection
    /// and the `X-Berth-Dyno` the server named.
    pub async fn upgrade<B: Serialize>(
        &self,
        path: &str,
        body: &B,
        protocol: &str,
    ) -> Result<(reqwest::Upgraded, String), CliError> {
        let url = format!("{}{}", self.base, path);
        let mut request = self
            .http
            .post(&url)
            .header("accept", "application/vnd.heroku+json; version=3")
            .header("connection", "upgrade")
            .header("upgrade", protocol)
            .json(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| {
            CliError::new(format!("cannot reach the Berth API at {}: {}", self.base, root_cause(&e)))
                .hint("is `berth server` running? Point the CLI at it with BERTH_API_URL (e.g. http://127.0.0.1:7070)")
        })?;
        let status = response.status();
        if status != StatusCode::SWITCHING_PROTOCOLS {
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(api_error(status, &bytes, self.token.is_some()));
        }
        let dyno = response.headers().get("x-berth-dyno").and_then(|v| v.to_str().ok()).unwrap_or("run").to_string();
        let upgraded =
            response.upgrade().await.map_err(|e| CliError::new(format!("the server did not switch protocols: {e}")))?;
        Ok((upgraded, dyno))
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, CliError> {
        self.request(method, path, body, None).await
    }

    async fn request<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        basic: Option<(&str, &str)>,
    ) -> Result<T, CliError> {
        let url = format!("{}{}", self.base, path);
        let mut request = self.http.request(method, &url).header("accept", "application/vnd.heroku+json; version=3");
        if let Some((user, password)) = basic {
            request = request.basic_auth(user, Some(password));
        } else if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            CliError::new(format!("cannot reach the Berth API at {}: {}", self.base, root_cause(&e)))
                .hint("is `berth server` running? Point the CLI at it with BERTH_API_URL (e.g. http://127.0.0.1:7070)")
        })?;
        let status = response.status();
        let bytes =
            response.bytes().await.map_err(|e| CliError::new(format!("reading the API response failed: {e}")))?;
        if !status.is_success() {
            return Err(api_error(status, &bytes, self.token.is_some()));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| CliError::new(format!("unexpected API response ({e}); is {} a Berth server?", self.base)))
    }
}

fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn api_error(status: StatusCode, body: &[u8], has_token: bool) -> CliError {
    let message = serde_json::from_slice::<ErrorBody>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| format!("the API answered {status}"));
    let hint = match status {
        StatusCode::UNAUTHORIZED if !has_token => {
            Some("log in with `berth login`, or set BERTH_API_TOKEN (the admin token is in DATA_DIR/admin.token)")
        }
        StatusCode::UNAUTHORIZED => Some("the token was rejected: check BERTH_API_TOKEN or run `berth login` again"),
        StatusCode::NOT_FOUND if message.contains("app") => Some("`berth apps` lists the apps you can see"),
        StatusCode::FORBIDDEN => Some("`berth access -a APP` shows who holds which permissions"),
        StatusCode::TOO_MANY_REQUESTS => Some("wait a minute before trying again"),
        StatusCode::PAYLOAD_TOO_LARGE => Some("send less data at once"),
        _ => None,
    };
    let err = CliError::new(message);
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}
