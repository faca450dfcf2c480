//! The runtime: where app instances (containers) live.
//!
//! [`Runtime`] is the only interface the control plane uses to create, start, stop,
//! remove and list instances. [`DockerRuntime`] implements it with bollard; no
//! bollard type crosses this crate's API. [`FakeRuntime`] is an in-memory stand-in
//! for unit tests of the logic built on top.

mod docker;
mod docker_ops;
mod fake;
mod fake_ops;
pub mod ops;
mod probe;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

pub use docker::DockerRuntime;
pub use fake::FakeRuntime;
pub use ops::{Attached, InstanceStats, LogLine, OneOffSpec, Operations, OutputChunk, OutputStream};

#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("cannot reach the Docker engine: {0} (is dockerd running? try `docker info`)")]
    Unavailable(String),
    #[error("image {0} not found on this host (build or load it first: `docker images`)")]
    ImageNotFound(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("Docker engine error: {0}")]
    Engine(String),
    #[error("image build failed: {0}")]
    BuildFailed(String),
    #[error("job timed out after {0:?}")]
    Timeout(Duration),
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Everything needed to create one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    /// Container name, unique on the engine.
    pub name: String,
    pub image: String,
    /// `None` keeps the image's own entrypoint; `Some(vec![])` clears it.
    pub entrypoint: Option<Vec<String>>,
    /// `None` runs the image's own cmd.
    pub command: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub labels: BTreeMap<String, String>,
    pub network: String,
    /// Network alias other instances of the app can resolve (e.g. `web.1`).
    pub hostname: String,
    pub memory_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    Created,
    Running,
    Restarting,
    Paused,
    Exited,
    Dead,
    Removing,
}

impl InstanceState {
    fn parse(s: &str) -> Self {
        match s {
            "created" => Self::Created,
            "running" => Self::Running,
            "restarting" => Self::Restarting,
            "paused" => Self::Paused,
            "removing" => Self::Removing,
            "dead" => Self::Dead,
            _ => Self::Exited,
        }
    }
}

/// A run-to-completion container (a build step): its output is streamed and
/// the container is removed afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    /// `uid[:gid]` or a user name; `None`: the image's user.
    pub user: Option<String>,
    /// Network to join; `None`: the host network (builds reach registries).
    pub network: Option<String>,
    /// (host path, container path, read-only)
    pub binds: Vec<(String, String, bool)>,
    pub labels: BTreeMap<String, String>,
    pub memory_bytes: u64,
    /// Killed (and reported as a failure) after this long.
    pub timeout: Duration,
}

/// An instance as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub state: InstanceState,
    /// The engine's human status, e.g. `Up 3 minutes`, `Exited (1) 2 seconds ago`.
    pub status: String,
    /// Address on the instance's network (for the router).
    pub ip: Option<IpAddr>,
    pub created_at: DateTime<Utc>,
}

impl Instance {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// The exit status of a stopped instance, from the engine's status
    /// (`Exited (137) 2 seconds ago` → 137).
    pub fn exit_code(&self) -> Option<i64> {
        let rest = self.status.strip_prefix("Exited (")?;
        rest.split(')').next()?.trim().parse().ok()
    }
}

/// A local image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    pub tags: Vec<String>,
    pub created: DateTime<Utc>,
}

/// The outcome of one HTTP health probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpProbe {
    /// The instance answered with this status code.
    Status(u16),
    /// Nothing accepts connections yet (still booting).
    Refused,
    /// Connected, but no valid answer within the timeout (or a malformed one).
    Failed(String),
}

#[async_trait]
pub trait Runtime: Operations + Send + Sync + 'static {
    /// Creates a bridge network if it does not exist.
    async fn ensure_network(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<()>;
    /// Removes a network; absent networks are fine.
    async fn remove_network(&self, name: &str) -> Result<()>;
    /// Names of networks carrying all these labels.
    async fn list_networks(&self, labels: &[(&str, &str)]) -> Result<Vec<String>>;
    async fn image_exists(&self, image: &str) -> Result<bool>;
    /// Removes every image carrying all these labels; returns how many.
    async fn remove_images(&self, labels: &[(&str, &str)]) -> Result<usize>;
    /// Local images carrying all these labels.
    async fn list_images(&self, labels: &[(&str, &str)]) -> Result<Vec<ImageInfo>>;
    /// Removes one image by id or tag; absent images are fine, images in use are an error.
    async fn remove_image(&self, image: &str) -> Result<()>;
    /// The labels of a local image, or `None` when it does not exist.
    async fn image_labels(&self, image: &str) -> Result<Option<BTreeMap<String, String>>>;
    /// Creates and starts an instance; returns its id.
    async fn run(&self, spec: &InstanceSpec) -> Result<String>;
    async fn start(&self, id: &str) -> Result<()>;
    /// SIGTERM, then SIGKILL after `grace`.
    async fn stop(&self, id: &str, grace: Duration) -> Result<()>;
    /// Removes an instance, killing it if needed; absent instances are fine.
    async fn remove(&self, id: &str) -> Result<()>;
    /// All instances (running or not) carrying all these labels.
    async fn list(&self, labels: &[(&str, &str)]) -> Result<Vec<Instance>>;
    /// Builds an image from an uncompressed tar build context, with the
    /// Dockerfile at `dockerfile` (relative to the context root), sending each
    /// output line to `progress`.
    async fn build_image(
        &self,
        context: Vec<u8>,
        dockerfile: &str,
        tag: &str,
        labels: &BTreeMap<String, String>,
        progress: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Result<()>;
    /// Runs a job to completion, sending each output line
    /// to `output`; returns its exit code. The container is always removed.
    async fn run_job(&self, spec: &JobSpec, output: tokio::sync::mpsc::UnboundedSender<String>) -> Result<i64>;
    /// Whether something accepts TCP connections at an instance address within `timeout`.
    async fn accepts_tcp(&self, addr: SocketAddr, timeout: Duration) -> bool;
    /// `GET path` on an instance address (`host` as the Host header), within `timeout`.
    async fn probe_http(&self, addr: SocketAddr, host: &str, path: &str, timeout: Duration) -> HttpProbe;
    /// The last `lines` lines an instance wrote (stdout and stderr), for failure reports.
    async fn tail_logs(&self, id: &str, lines: usize) -> Result<Vec<String>>;
    /// Ids of instances carrying all these labels as they exit, from now on
    /// (lets the control plane react to a crash at once instead of on its next poll).
    async fn watch_exits(&self, labels: &[(&str, &str)]) -> Result<tokio::sync::mpsc::UnboundedReceiver<String>>;
}
