//! An in-memory [`Runtime`] for unit tests: instances "run" as soon as they are
//! created, get sequential IPs, and can be made to exit.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;

use crate::{Instance, InstanceSpec, InstanceState, JobSpec, Result, Runtime, RuntimeError};

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
}

impl FakeRuntime {
    pub fn with_images(images: &[&str]) -> Self {
        let fake = Self::default();
        fake.inner.lock().unwrap().images = images.iter().map(|s| s.to_string()).collect();
        fake
    }

    /// Simulates a crash (or `docker kill`) of an instance.
    pub fn exit(&self, id: &str) {
        if let Some(i) = self.inner.lock().unwrap().instances.get_mut(id) {
            i.state = InstanceState::Exited;
        }
    }

    /// Instances of this image will run but never accept connections (a broken release).
    pub fn make_deaf(&self, image: &str) {
        self.inner.lock().unwrap().deaf_images.push(image.to_string());
    }

    pub fn networks(&self) -> Vec<String> {
        self.inner.lock().unwrap().networks.keys().cloned().collect()
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
        Ok(id)
    }

    async fn start(&self, id: &str) -> Result<()> {
        let mut state = self.inner.lock().unwrap();
        let instance = state.instances.get_mut(id).ok_or_else(|| RuntimeError::NotFound(id.to_string()))?;
        instance.state = InstanceState::Running;
        Ok(())
    }

    async fn stop(&self, id: &str, _grace: Duration) -> Result<()> {
        if let Some(i) = self.inner.lock().unwrap().instances.get_mut(id) {
            i.state = InstanceState::Exited;
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
