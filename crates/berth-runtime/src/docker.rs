//! [`Runtime`] on a Docker engine, via bollard.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use bollard::container::{
    Config, CreateContainerOptions, ListContainersOptions, LogsOptions, NetworkingConfig, RemoveContainerOptions,
    StartContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use bollard::errors::Error as BollardError;
use bollard::image::{BuildImageOptions, ListImagesOptions, RemoveImageOptions};
use bollard::models::{EndpointSettings, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::network::{CreateNetworkOptions, ListNetworksOptions};
use bollard::system::EventsOptions;
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::{HttpProbe, ImageInfo, Instance, InstanceSpec, InstanceState, JobSpec, Result, Runtime, RuntimeError};

#[derive(Clone)]
pub struct DockerRuntime {
    pub(crate) docker: Docker,
}

impl DockerRuntime {
    /// Connects to the local engine (`DOCKER_HOST` or the default socket) and
    /// negotiates the API version, so older engines (20.10) work too.
    pub async fn connect() -> Result<Self> {
        let docker = Docker::connect_with_local_defaults().map_err(|e| RuntimeError::Unavailable(e.to_string()))?;
        let docker = docker.negotiate_version().await.map_err(|e| RuntimeError::Unavailable(e.to_string()))?;
        docker.ping().await.map_err(|e| RuntimeError::Unavailable(e.to_string()))?;
        Ok(Self { docker })
    }
}

pub(crate) fn status_code(err: &BollardError) -> Option<u16> {
    match err {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

pub(crate) fn engine(err: BollardError) -> RuntimeError {
    match err {
        BollardError::DockerResponseServerError { message, .. } => RuntimeError::Engine(message),
        BollardError::IOError { err } => RuntimeError::Unavailable(err.to_string()),
        other => RuntimeError::Engine(other.to_string()),
    }
}

fn label_filters(labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let values = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    HashMap::from([("label".to_string(), values)])
}

#[async_trait]
impl Runtime for DockerRuntime {
    async fn ensure_network(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<()> {
        // The engine may create two networks of one name when two creates race
        // (the reconciler and a one-off): check-then-create one at a time.
        static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _one_at_a_time = CREATING.lock().await;
        match self.docker.inspect_network::<String>(name, None).await {
            Ok(_) => return Ok(()),
            Err(e) if status_code(&e) == Some(404) => {}
            Err(e) => return Err(engine(e)),
        }
        let options = CreateNetworkOptions {
            name: name.to_string(),
            driver: "bridge".to_string(),
            check_duplicate: true,
            labels: labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ..Default::default()
        };
        match self.docker.create_network(options).await {
            Ok(_) => Ok(()),
            // Lost a race with another reconcile pass: the network exists, which is all we want.
            Err(e) if status_code(&e) == Some(409) => Ok(()),
            Err(e) => Err(engine(e)),
        }
    }

    async fn remove_network(&self, name: &str) -> Result<()> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) if status_code(&e) == Some(404) => Ok(()),
            Err(e) => Err(engine(e)),
        }
    }

    async fn list_networks(&self, labels: &[(&str, &str)]) -> Result<Vec<String>> {
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions { filters: label_filters(labels) }))
            .await
            .map_err(engine)?;
        Ok(networks.into_iter().filter_map(|n| n.name).collect())
    }

    async fn image_exists(&self, image: &str) -> Result<bool> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if status_code(&e) == Some(404) => Ok(false),
            Err(e) => Err(engine(e)),
        }
    }

    async fn remove_images(&self, labels: &[(&str, &str)]) -> Result<usize> {
        let options = ListImagesOptions { all: false, filters: label_filters(labels), ..Default::default() };
        let images = self.docker.list_images(Some(options)).await.map_err(engine)?;
        let mut removed = 0;
        for image in images {
            let options = RemoveImageOptions { force: true, noprune: false };
            match self.docker.remove_image(&image.id, Some(options), None).await {
                Ok(_) => removed += 1,
                Err(e) if status_code(&e) == Some(404) => {}
                Err(e) => return Err(engine(e)),
            }
        }
        Ok(removed)
    }

    async fn list_images(&self, labels: &[(&str, &str)]) -> Result<Vec<ImageInfo>> {
        let options = ListImagesOptions { all: false, filters: label_filters(labels), ..Default::default() };
        let images = self.docker.list_images(Some(options)).await.map_err(engine)?;
        Ok(images
            .into_iter()
            .map(|i| ImageInfo {
                id: i.id,
                tags: i.repo_tags.into_iter().filter(|t| t != "<none>:<none>").collect(),
                created: DateTime::<Utc>::from_timestamp(i.created, 0).unwrap_or_default(),
            })
            .collect())
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        // Not forced: an image some container still uses stays (the engine says 409).
        let options = RemoveImageOptions { force: false, noprune: false };
        match self.docker.remove_image(image, Some(options), None).await {
            Ok(_) => Ok(()),
            Err(e) if status_code(&e) == Some(404) => Ok(()),
            Err(e) => Err(engine(e)),
        }
    }

    async fn image_labels(&self, image: &str) -> Result<Option<BTreeMap<String, String>>> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => Ok(Some(inspect.config.and_then(|c| c.labels).unwrap_or_default().into_iter().collect())),
            Err(e) if status_code(&e) == Some(404) => Ok(None),
            Err(e) => Err(engine(e)),
        }
    }

    async fn run(&self, spec: &InstanceSpec) -> Result<String> {
        let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let memory = i64::try_from(spec.memory_bytes).unwrap_or(i64::MAX);
        let host_config = HostConfig {
            memory: Some(memory),
            memory_swap: Some(memory),
            network_mode: Some(spec.network.clone()),
            // Berth restarts crashed instances itself, with backoff and a record of
            // each crash; an engine restart policy would hide both.
            restart_policy: Some(RestartPolicy { name: Some(RestartPolicyNameEnum::NO), maximum_retry_count: None }),
            init: Some(true),
            ..hardened()
        };
        let endpoint = EndpointSettings { aliases: Some(vec![spec.hostname.clone()]), ..Default::default() };
        let config = Config {
            image: Some(spec.image.clone()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.command.clone(),
            env: Some(env),
            user: self.non_root_user(&spec.image, None).await?,
            labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            host_config: Some(host_config),
            networking_config: Some(NetworkingConfig {
                endpoints_config: HashMap::from([(spec.network.clone(), endpoint)]),
            }),
            ..Default::default()
        };
        let id = self.create(&spec.name, &spec.image, config).await?;
        if let Err(e) = self.start(&id).await {
            let _ = self.remove(&id).await;
            return Err(e);
        }
        Ok(id)
    }

    async fn start(&self, id: &str) -> Result<()> {
        match self.docker.start_container(id, None::<StartContainerOptions<String>>).await {
            Ok(()) => Ok(()),
            Err(e) if status_code(&e) == Some(304) => Ok(()),
            Err(e) if status_code(&e) == Some(404) => Err(RuntimeError::NotFound(format!("instance {id}"))),
            Err(e) => Err(engine(e)),
        }
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<()> {
        let t = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
        match self.docker.stop_container(id, Some(StopContainerOptions { t })).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(status_code(&e), Some(304) | Some(404)) => Ok(()),
            Err(e) => Err(engine(e)),
        }
    }

    async fn remove(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptions { force: true, v: true, link: false };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            // 404: already gone; 409: removal already in progress.
            Err(e) if matches!(status_code(&e), Some(404) | Some(409)) => Ok(()),
            Err(e) => Err(engine(e)),
        }
    }

    async fn list(&self, labels: &[(&str, &str)]) -> Result<Vec<Instance>> {
        let options = ListContainersOptions { all: true, filters: label_filters(labels), ..Default::default() };
        let containers = self.docker.list_containers(Some(options)).await.map_err(engine)?;
        Ok(containers
            .into_iter()
            .map(|c| {
                let ip = c
                    .network_settings
                    .and_then(|n| n.networks)
                    .and_then(|nets| nets.into_values().find_map(|n| n.ip_address.filter(|ip| !ip.is_empty())))
                    .and_then(|ip| ip.parse().ok());
                Instance {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .map(|n| n.trim_start_matches('/').to_string())
                        .unwrap_or_default(),
                    labels: c.labels.unwrap_or_default().into_iter().collect(),
                    state: InstanceState::parse(c.state.as_deref().unwrap_or("")),
                    status: c.status.unwrap_or_default(),
                    ip,
                    created_at: DateTime::<Utc>::from_timestamp(c.created.unwrap_or(0), 0).unwrap_or_default(),
                }
            })
            .collect())
    }

    async fn accepts_tcp(&self, addr: SocketAddr, timeout: Duration) -> bool {
        matches!(tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await, Ok(Ok(_)))
    }

    async fn probe_http(&self, addr: SocketAddr, host: &str, path: &str, timeout: Duration) -> HttpProbe {
        crate::probe::http_status(addr, host, path, timeout).await
    }

    async fn tail_logs(&self, id: &str, lines: usize) -> Result<Vec<String>> {
        let options = LogsOptions::<String> {
            follow: false,
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        };
        let mut logs = self.docker.logs(id, Some(options));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut sender = LineSender::new(tx);
        while let Some(item) = logs.next().await {
            match item {
                Ok(chunk) => sender.push(&String::from_utf8_lossy(&chunk.into_bytes())),
                Err(e) if status_code(&e) == Some(404) => return Err(RuntimeError::NotFound(format!("instance {id}"))),
                Err(e) => return Err(engine(e)),
            }
        }
        sender.flush();
        drop(sender);
        let mut out = Vec::new();
        while let Ok(line) = rx.try_recv() {
            out.push(line);
        }
        Ok(out)
    }

    async fn watch_exits(&self, labels: &[(&str, &str)]) -> Result<tokio::sync::mpsc::UnboundedReceiver<String>> {
        let mut filters = label_filters(labels);
        filters.insert("type".to_string(), vec!["container".to_string()]);
        filters.insert("event".to_string(), vec!["die".to_string()]);
        let options = EventsOptions::<String> { since: None, until: None, filters };
        let mut events = self.docker.events(Some(options));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                match event {
                    Ok(event) => {
                        if let Some(id) = event.actor.and_then(|a| a.id) {
                            if tx.send(id).is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "engine event stream ended; crashes are noticed by polling");
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }

    async fn build_image(
        &self,
        context: Vec<u8>,
        dockerfile: &str,
        tag: &str,
        labels: &BTreeMap<String, String>,
        progress: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Result<()> {
        let options = BuildImageOptions {
            dockerfile: dockerfile.to_string(),
            t: tag.to_string(),
            rm: true,
            forcerm: true,
            pull: false,
            labels: labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            // Builds reach package registries through the host's network.
            networkmode: "host".to_string(),
            ..Default::default()
        };
        let mut stream = self.docker.build_image(options, None, Some(context.into()));
        let mut lines = LineSender::new(progress);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| match e {
                BollardError::DockerResponseServerError { message, .. } => RuntimeError::BuildFailed(message),
                BollardError::DockerStreamError { error } => RuntimeError::BuildFailed(error),
                other => RuntimeError::BuildFailed(other.to_string()),
            })?;
            if let Some(error) = info.error {
                lines.flush();
                return Err(RuntimeError::BuildFailed(error.trim().to_string()));
            }
            if let Some(text) = info.stream {
                lines.push(&text);
            }
        }
        lines.flush();
        Ok(())
    }

    async fn run_job(&self, spec: &JobSpec, output: tokio::sync::mpsc::UnboundedSender<String>) -> Result<i64> {
        let memory = i64::try_from(spec.memory_bytes).unwrap_or(i64::MAX);
        let binds = spec
            .binds
            .iter()
            .map(|(host, guest, ro)| format!("{host}:{guest}:{}", if *ro { "ro" } else { "rw" }))
            .collect();
        let config = Config {
            image: Some(spec.image.clone()),
            cmd: Some(spec.command.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            user: self.non_root_user(&spec.image, spec.user.clone()).await?,
            labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            host_config: Some(HostConfig {
                binds: Some(binds),
                memory: Some(memory),
                memory_swap: Some(memory),
                network_mode: Some(spec.network.clone().unwrap_or_else(|| "host".to_string())),
                init: Some(true),
                ..hardened()
            }),
            ..Default::default()
        };
        let id = self.create(&spec.name, &spec.image, config).await?;
        let result = tokio::time::timeout(spec.timeout, self.follow_job(&id, output)).await;
        let _ = self.remove(&id).await;
        match result {
            Ok(code) => code,
            Err(_) => Err(RuntimeError::Timeout(spec.timeout)),
        }
    }
}

/// Processes an app container may have (fork bombs stop here, not at the host).
pub const PIDS_LIMIT: i64 = 512;

/// The user app code runs as when the image would run it as root: the stack's `app`.
pub const APP_USER: &str = "1000:1000";

/// Restrictions every app container (dynos, release phase, builds) gets: no
/// capabilities (apps listen on PORT 5000, above 1024, and need none), no privilege
/// gain through setuid binaries, bounded processes. Callers never add binds to
/// instances, `privileged` or host namespaces.
pub(crate) fn hardened() -> HostConfig {
    HostConfig {
        cap_drop: Some(vec!["ALL".to_string()]),
        security_opt: Some(vec!["no-new-privileges:true".to_string()]),
        pids_limit: Some(PIDS_LIMIT),
        privileged: Some(false),
        ..Default::default()
    }
}

/// Whether an image's `USER` means root (empty means root too).
fn is_root_user(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or("").trim();
    name.is_empty() || name == "root" || name == "0"
}

impl DockerRuntime {
    /// The user to run `image` as: `requested` if given, the image's own user
    /// unless that is root, else [`APP_USER`]. App code never runs as root.
    pub(crate) async fn non_root_user(&self, image: &str, requested: Option<String>) -> Result<Option<String>> {
        if let Some(user) = requested.filter(|u| !is_root_user(u)) {
            return Ok(Some(user));
        }
        let inspect = match self.docker.inspect_image(image).await {
            Ok(inspect) => inspect,
            Err(e) if status_code(&e) == Some(404) => return Err(RuntimeError::ImageNotFound(image.to_string())),
            Err(e) => return Err(engine(e)),
        };
        let user = inspect.config.and_then(|c| c.user).unwrap_or_default();
        Ok(Some(if is_root_user(&user) { APP_USER.to_string() } else { user }))
    }

    /// Creates (not starts) a container; a missing image is `ImageNotFound`.
    pub(crate) async fn create(&self, name: &str, image: &str, config: Config<String>) -> Result<String> {
        let options = CreateContainerOptions { name: name.to_string(), platform: None };
        match self.docker.create_container(Some(options), config).await {
            Ok(created) => Ok(created.id),
            Err(e) if status_code(&e) == Some(404) => Err(RuntimeError::ImageNotFound(image.to_string())),
            Err(e) => Err(engine(e)),
        }
    }

    async fn follow_job(&self, id: &str, output: tokio::sync::mpsc::UnboundedSender<String>) -> Result<i64> {
        self.start(id).await?;
        let options = LogsOptions::<String> { follow: true, stdout: true, stderr: true, ..Default::default() };
        let mut logs = self.docker.logs(id, Some(options));
        let mut lines = LineSender::new(output);
        while let Some(item) = logs.next().await {
            let Ok(chunk) = item else { break };
            lines.push(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        lines.flush();
        let mut wait = self.docker.wait_container(id, None::<WaitContainerOptions<String>>);
        match wait.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(engine(e)),
            None => Err(RuntimeError::Engine(format!("no exit status for job {id}"))),
        }
    }
}

/// Turns a stream of text chunks into whole lines sent one by one.
struct LineSender {
    pending: String,
    out: tokio::sync::mpsc::UnboundedSender<String>,
}

impl LineSender {
    fn new(out: tokio::sync::mpsc::UnboundedSender<String>) -> Self {
        Self { pending: String::new(), out }
    }

    fn push(&mut self, text: &str) {
        self.pending.push_str(text);
        while let Some(pos) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=pos).collect();
            let _ = self.out.send(line.trim_end().to_string());
        }
    }

    /// Sends what is left without a trailing newline.
    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let _ = self.out.send(std::mem::take(&mut self.pending));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_recognised_in_every_spelling() {
        for root in ["", "root", "0", "0:0", "root:root", " 0 "] {
            assert!(is_root_user(root), "{root:?}");
        }
        for user in ["app", "1000", "1000:1000", "nobody"] {
            assert!(!is_root_user(user), "{user:?}");
        }
        let h = hardened();
        assert_eq!(h.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(h.pids_limit, Some(PIDS_LIMIT));
        assert!(h.binds.is_none() && h.privileged == Some(false));
    }
}
