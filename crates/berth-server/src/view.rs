//! Store records → Heroku-shaped API resources.

use crate::reconcile::DynoStatus;
use berth_core::api::{self, timestamp, IdEmail, IdName, IdOnly, ReleaseRef};
use berth_store::{AppRecord, FormationRecord, ReleaseRecord, User};

use crate::reconcile::labels;

/// What the API needs to build URLs pointing back at this server.
#[derive(Debug, Clone)]
pub struct Urls {
    /// How clients reach the API, e.g. `http://127.0.0.1:7070` or the
    /// `--public-url`: used in git URLs, upload and output-stream links.
    pub api_url: String,
    /// How the server's own git hook reaches the API (always loopback-able).
    pub internal_api_url: String,
    pub domain: String,
    pub http_port: u16,
}

impl Urls {
    pub fn web_url(&self, app: &str) -> String {
        match self.http_port {
            80 => format!("http://{app}.{}/", self.domain),
            port => format!("http://{app}.{}:{port}/", self.domain),
        }
    }

    pub fn git_url(&self, app: &str) -> String {
        format!("{}/{app}.git", self.api_url)
    }
}

const STACK: &str = "trixie";
const REGION: &str = "local";

fn fixed_id(name: &str) -> IdName {
    // Stable ids for the single stack/region: derived from the name, not random.
    let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("berth:{name}").as_bytes()).to_string();
    IdName { id, name: name.to_string() }
}

pub fn app(app: &AppRecord, urls: &Urls) -> api::App {
    api::App {
        id: app.id.clone(),
        name: app.name.clone(),
        created_at: timestamp(app.created_at),
        updated_at: timestamp(app.updated_at),
        released_at: app.released_at.map(timestamp),
        web_url: urls.web_url(&app.name),
        git_url: urls.git_url(&app.name),
        owner: IdEmail { id: app.owner_id.clone(), email: app.owner_email.clone() },
        region: fixed_id(REGION),
        stack: fixed_id(STACK),
        build_stack: fixed_id(STACK),
        buildpack_provided_description: None,
        maintenance: false,
        repo_size: None,
        slug_size: None,
        space: None,
        organization: None,
        team: None,
        internal_routing: None,
        acm: false,
        archived_at: None,
        generation: fixed_id("cedar"),
    }
}

pub fn account(user: &User) -> api::Account {
    api::Account {
        id: user.id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        created_at: timestamp(user.created_at),
        updated_at: timestamp(user.updated_at),
        last_login: None,
        verified: true,
        two_factor_authentication: false,
        allow_tracking: false,
        beta: false,
        sms_number: None,
        default_organization: None,
        default_team: None,
        delinquent_at: None,
        suspended_at: None,
        identity_provider: None,
        admin: user.is_admin,
    }
}

pub fn release(release: &ReleaseRecord, current_version: i64) -> api::Release {
    api::Release {
        id: release.id.clone(),
        version: release.version,
        description: release.description.clone(),
        status: release.status.clone(),
        current: release.version == current_version,
        created_at: timestamp(release.created_at),
        updated_at: timestamp(release.updated_at),
        app: IdName { id: release.app_id.clone(), name: release.app_name.clone() },
        user: IdEmail { id: release.user_id.clone(), email: release.user_email.clone() },
        slug: release.image.as_ref().map(|_| IdOnly { id: release.id.clone() }),
        addon_plan_names: Vec::new(),
        artifacts: Vec::new(),
        output_stream_url: None,
        image: release.image.clone(),
        process_types: release.process_types.clone(),
        status_reason: release.status_reason.clone(),
        deployed_at: release.deployed_at.map(timestamp),
    }
}

/// The command shown for a process type: the Procfile-style command, or the image's own.
pub fn command_of(release: &ReleaseRecord, process_type: &str) -> String {
    match release.process_types.get(process_type).map(String::as_str) {
        Some(cmd) if !cmd.trim().is_empty() => cmd.to_string(),
        _ => "(image default)".to_string(),
    }
}

pub fn formation(f: &FormationRecord, app: &AppRecord, current: &ReleaseRecord) -> api::Formation {
    api::Formation {
        id: f.id.clone(),
        app: IdName { id: app.id.clone(), name: app.name.clone() },
        command: command_of(current, &f.process_type),
        created_at: timestamp(f.created_at),
        updated_at: timestamp(f.updated_at),
        quantity: f.quantity,
        size: f.size.clone(),
        process_type: f.process_type.clone(),
    }
}

/// Heroku dyno states: `starting`, `up`, `crashed`, `down` (plus `restarting`).
pub fn dyno(status: &DynoStatus, app: &AppRecord, releases: &[ReleaseRecord], sizes: &[FormationRecord]) -> api::Dyno {
    let instance = &status.instance;
    let version: i64 = instance.label(labels::RELEASE).and_then(|v| v.parse().ok()).unwrap_or(0);
    let process_type = instance.label(labels::PROCESS).unwrap_or_default().to_string();
    let release = releases.iter().find(|r| r.version == version);
    let size = sizes
        .iter()
        .find(|f| f.process_type == process_type)
        .map(|f| f.size.clone())
        .unwrap_or_else(|| berth_core::size::DEFAULT_SIZE.to_string());
    api::Dyno {
        id: instance.id.clone(),
        name: instance.label(labels::DYNO).unwrap_or_default().to_string(),
        command: release.map(|r| command_of(r, &process_type)).unwrap_or_default(),
        process_type,
        size,
        state: status.state.clone(),
        attach_url: None,
        created_at: timestamp(instance.created_at),
        updated_at: timestamp(instance.created_at),
        app: IdName { id: app.id.clone(), name: app.name.clone() },
        release: ReleaseRef { id: release.map(|r| r.id.clone()).unwrap_or_default(), version },
        restarts: status.restarts,
        exit_code: status.last_exit_code,
        up_since: status.up_since.map(timestamp),
        usage: None,
    }
}
