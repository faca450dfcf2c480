//! Log drains: each app's lines forwarded to syslog (TCP or TLS, RFC 5424,
//! octet-counted) or HTTPS (logplex-framed batches) endpoints.
//!
//! [`Drains`] runs one task per drain, started from the store at boot and
//! re-synced whenever drains change. Delivery counters (delivered, dropped,
//! last error) are kept in memory and shown by `berth drains` and `/metrics`.

mod deliver;
pub mod frame;
pub mod target;
mod tls;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use berth_store::DrainRecord;
use tokio::task::JoinHandle;

pub use target::Target;

use super::LogHub;

#[derive(Debug, Default)]
pub struct Counters {
    pub delivered: AtomicU64,
    pub dropped: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    fn fail(&self, error: String) {
        tracing::debug!(error, "drain delivery failed");
        *self.last_error.lock().unwrap() = Some(error);
    }

    fn ok(&self) {
        self.last_error.lock().unwrap().take();
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap().clone()
    }
}

struct Running {
    record: DrainRecord,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

pub struct Drains {
    hub: Arc<LogHub>,
    tls: Arc<rustls::ClientConfig>,
    http: reqwest::Client,
    running: Mutex<HashMap<String, Running>>,
}

impl Drains {
    pub fn new(hub: Arc<LogHub>, extra_ca_files: &[PathBuf]) -> Result<Arc<Self>, String> {
        let tls = tls::client_config(extra_ca_files)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .build()
            .map_err(|e| format!("HTTP client for drains: {e}"))?;
        Ok(Arc::new(Self { hub, tls, http, running: Mutex::new(HashMap::new()) }))
    }

    /// Makes the running drains match `records` (all drains of all apps).
    pub fn sync(&self, records: Vec<DrainRecord>) {
        let mut running = self.running.lock().unwrap();
        running.retain(|id, r| {
            let keep = records.iter().any(|d| &d.id == id && d.app_name == r.record.app_name);
            if !keep {
                r.task.abort();
            }
            keep
        });
        for record in records {
            if running.contains_key(&record.id) {
                continue;
            }
            let target = match Target::parse(&record.url) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(drain = %record.id, error = %e, "skipping a drain with a bad URL");
                    continue;
                }
            };
            let counters = Arc::new(Counters::default());
            let rx = self.hub.subscribe(&record.app_name);
            let token = record.token.clone();
            let task = match target {
                Target::Syslog { host, port, tls } => {
                    let config = tls.then(|| Arc::clone(&self.tls));
                    tokio::spawn(deliver::syslog(host, port, config, token, rx, Arc::clone(&counters)))
                }
                Target::Http { url } => {
                    tokio::spawn(deliver::http(url, self.http.clone(), token, rx, Arc::clone(&counters)))
                }
            };
            running.insert(record.id.clone(), Running { record, counters, task });
        }
    }

    /// Counters of a drain, if it runs.
    pub fn counters_of(&self, id: &str) -> Option<Arc<Counters>> {
        self.running.lock().unwrap().get(id).map(|r| Arc::clone(&r.counters))
    }

    /// (app, drain id, delivered, dropped) of every running drain, for `/metrics`.
    pub fn counters(&self) -> Vec<(String, String, u64, u64)> {
        let running = self.running.lock().unwrap();
        let mut all: Vec<_> = running
            .values()
            .map(|r| {
                (
                    r.record.app_name.clone(),
                    r.record.id.clone(),
                    r.counters.delivered.load(Ordering::Relaxed),
                    r.counters.dropped.load(Ordering::Relaxed),
                )
            })
            .collect();
        all.sort();
        all
    }
}

#[cfg(test)]
mod tests;
