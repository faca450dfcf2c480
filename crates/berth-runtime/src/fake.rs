//! An in-memory [`Runtime`] for unit tests: instances "run" as soon as they are
//! created, get sequential IPs, and can be made to exit.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;

use crate::{HttpProbe, ImageInfo, Instance, InstanceSpec, InstanceState, JobSpec, Result, Runtime, RuntimeError};

#[derive(Default)]
pub struct FakeRuntime {
    inner: Mutex<FakeState>,
    pub(crate) ops: crate::fake_ops::FakeOps,
}

#[derive(Default)]
struct FakeState {
    next: u32,
    instances: BTreeMap<String, Instance>,
    networks: BTreeMap<String, BTreeMap<String, String>>,
    images: Vec<String>,
    /// Images whose instances run but never accept connections.
    deaf_images: Vec<String>,
    /// id → image, to apply `deaf_images`.
    image_of: BTreeMap<String, String>,
    /// Status that instances of an image answer HTTP probes with (default 200).
    http_status: BTreeMap<String, u16>,
    /// Images whose instances exit as soon as they start (a crashing release).
    crashing_images: Vec<String>,
    exit_watchers: Vec<tokio::sync::mpsc::UnboundedSender<String>>,
    /// Images report being a day old (else: just built).
    images_aged: bool,
}

impl FakeRuntime {
    pub fn with_images(images: &[&str]) -> Self {
        let fake = Self::default();
        fake.inner.lock().unwrap().images = images.iter().map(|s| s.to_string()).collect();
        fake
    }

    /// Simulates a crash (or `docker kill`) of an instance, exiting with status 1.
    pub fn exit(&self, id: &str) {
        let mut state = self.inner.lock().unwrap();
        if let Some(i) = state.instances.get_mut(id) {
            i.state = InstanceState::Exited;
            i.status = "Exited (1) Less than a second ago".into();
            state.exit_watchers.retain(|w| w.send(id.to_string()).is_ok());
        }
    }

    /// Makes every image look a day old (for garbage collection tests).
    pub fn age_images(&self) {
        self.inner.lock().unwrap().images_aged = true;
    }

    /// Puts an instance back in the `created` state (created, never started:
    /// what a server killed between create and start leaves behind).
    pub fn unstart(&self, id: &str) {
        if let Some(i) = self.inner.lock().unwrap().instances.get_mut(id) {
            i.state = InstanceState::Created;
            i.status = "Created".into();
        }
    }

    /// Instances of this image answer HTTP probes with `status`.
    pub fn set_http_status(&self, image: &str, status: u16) {
        self.inner.lock().unwrap().http_status.insert(image.to_string(), status);
    }

    /// Instances of this image exit (status 1) right after they start.
    pub fn make_crashing(&self, image: &str) {
        self.inner.lock().unwrap().crashing_images.push(image.to_string());
    }

    /// Instances of this image will run but never accept connections (a broken release).
    pub fn make_deaf(&self, image: &str) {
        self.inner.lock().unwrap().deaf_images.push(image.to_string());
    }

    pub fn networks(&self) -> Vec<String> {
        self.inner.lock().unwrap().networks.keys().cloned().collect()
    }

    fn crash_if_crashing(&self, id: &str) {
        let crashing = {
            let state = self.inner.lock().unwrap();
            state.image_of.get(id).is_some_and(|image| state.crashing_images.contains(image))
        };
        if crashing {
            self.exit(id);
        }
    }
}

fn matches(labels: &BTreeMap<String, String>, wanted: &[(&str, &str)]) -> bool {
    wanted.iter().all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
}

#[async_trait]
impl Runtime for FakeRuntime {
    async fn ensure_network(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<()> {
        self.inner.lock().unwrap().networks.entry(name.to_string()).or_insert_with(|| labels.clone());
        Ok(())
    }

    async fn remove_network(&self, name: &str) -> Result<()> {
        self.inner.lock().unwrap().networks.remove(name);
        Ok(())
    }

    async fn list_networks(&self, labels: &[(&str, &str)]) -> Result<Vec<String>> {
        let state = self.inner.lock().unwrap();
        Ok(state.networks.iter().filter(|(_, l)| matches(l, labels)).map(|(n, _)| n.clone()).collect())
    }

    async fn image_exists(&self, image: &str) -> Result<bool> {
        Ok(self.inner.lock().unwrap().images.iter().any(|i| i == image))
    }

    async fn remove_images(&self, _labels: &[(&str, &str)]) -> Result<usize> {
        Ok(0)
    }

    async fn list_images(&self, _labels: &[(&str, &str)]) -> Result<Vec<ImageInfo>> {
        let state = self.inner.lock().unwrap();
        let created = if state.images_aged { Utc::now() - chrono::Duration::days(1) } else { Utc::now() };
        Ok(state
            .images
            .iter()
            .map(|i| ImageInfo { id: format!("sha256:{i}"), tags: vec![i.clone()], created })
            .collect())
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        let mut state = self.inner.lock().unwrap();
        let tag = image.strip_prefix("sha256:").unwrap_or(image).to_string();
        state.images.retain(|i| i != &tag);
        Ok(())
    }

    async fn image_labels(&self, image: &str) -> Result<Option<BTreeMap<String, String>>> {
        let exists = self.inner.lock().unwrap().images.iter().any(|i| i == image);
        Ok(exists.then(BTreeMap::new))
    }

    async fn run(&self, spec: &InstanceSpec) -> Result<String> {
        let mut state = self.inner.lock().unwrap();
        if !state.images.contains(&spec.image) {
            return Err(RuntimeError::ImageNotFound(spec.image.clone()));
        }
        if !state.networks.contains_key(&spec.network) {
            return Err(RuntimeError::NotFound(format!("network {}", spec.network)));
        }
        if state.instances.values().any(|i| i.name == spec.name) {
            return Err(RuntimeError::Engine(format!("name {} is in use", spec.name)));
        }
        state.next += 1;
        let n = state.next;
        let id = format!("fake{n:08}");
        let instance = Instance {
            id: id.clone(),
            name: spec.name.clone(),
            labels: spec.labels.clone(),
            state: InstanceState::Running,
            status: "Up".into(),
            ip: Some(IpAddr::V4(Ipv4Addr::new(10, 0, (n / 256) as u8, (n % 256) as u8))),
            created_at: Utc::now(),
        };
        state.instances.insert(id.clone(), instance);
        state.image_of.insert(id.clone(), spec.image.clone());
        drop(state);
        self.crash_if_crashing(&id);
        Ok(id)
    }

    async fn start(&self, id: &str) -> Result<()> {
        let mut state = self.inner.lock().unwrap();
        let instance = state.instances.get_mut(id).ok_or_else(|| RuntimeError::NotFound(id.to_string()))?;
        instance.state = InstanceState::Running;
        instance.status = "Up".into();
        drop(state);
        self.crash_if_crashing(id);
        Ok(())
    }

    async fn stop(&self, id: &str, _grace: Duration) -> Result<()> {
        if let Some(i) = self.inner.lock().unwrap().instances.get_mut(id) {
            i.state = InstanceState::Exited;
            i.status = "Exited (0) Less than a second ago".into();
        }
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<()> {
        self.inner.lock().unwrap().instances.remove(id);
        Ok(())
    }

    async fn list(&self, labels: &[(&str, &str)]) -> Result<Vec<Instance>> {
        let state = self.inner.lock().unwrap();
        Ok(state.instances.values().filter(|i| matches(&i.labels, labels)).cloned().collect())
    }

    async fn accepts_tcp(&self, addr: SocketAddr, _timeout: Duration) -> bool {
        let state = self.inner.lock().unwrap();
        state.instances.values().any(|i| {
            i.state == InstanceState::Running
                && i.ip == Some(addr.ip())
                && !state.image_of.get(&i.id).is_some_and(|image| state.deaf_images.contains(image))
        })
    }

    async fn probe_http(&self, addr: SocketAddr, _host: &str, _path: &str, timeout: Duration) -> HttpProbe {
        if !self.accepts_tcp(addr, timeout).await {
            return HttpProbe::Refused;
        }
        let state = self.inner.lock().unwrap();
        let image = state.instances.values().find(|i| i.ip == Some(addr.ip())).and_then(|i| state.image_of.get(&i.id));
        HttpProbe::Status(image.and_then(|image| state.http_status.get(image)).copied().unwrap_or(200))
    }

    async fn tail_logs(&self, id: &str, _lines: usize) -> Result<Vec<String>> {
        let state = self.inner.lock().unwrap();
        let image = state.image_of.get(id).ok_or_else(|| RuntimeError::NotFound(id.to_string()))?;
        Ok(vec![format!("fake output of an instance of {image}")])
    }

    async fn watch_exits(&self, _labels: &[(&str, &str)]) -> Result<tokio::sync::mpsc::UnboundedReceiver<String>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.inner.lock().unwrap().exit_watchers.push(tx);
        Ok(rx)
    }

    async fn build_image(
        &self,
        _context: Vec<u8>,
        _dockerfile: &str,
        tag: &str,
        _labels: &BTreeMap<String, String>,
        progress: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Result<()> {
        let _ = progress.send(format!("fake build of {tag}"));
        self.inner.lock().unwrap().images.push(tag.to_string());
        Ok(())
    }

    async fn run_job(&self, spec: &JobSpec, output: tokio::sync::mpsc::UnboundedSender<String>) -> Result<i64> {
        let _ = output.send(format!("fake job {}", spec.name));
        Ok(0)
    }
}
