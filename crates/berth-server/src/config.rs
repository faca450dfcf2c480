//! Server settings (from `berth server` flags).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub api_listen: SocketAddr,
    pub http_listen: SocketAddr,
    /// Apps answer at `APP.<domain>`.
    pub domain: String,
    /// Prefix of container and network names and the value of the
    /// `io.berth.namespace` label: lets several servers share one engine.
    pub namespace: String,
    /// How often the reconcile loop runs when nothing triggers it.
    pub reconcile_interval: Duration,
    /// SIGTERM → SIGKILL grace period when stopping instances.
    pub stop_grace: Duration,
    /// How long a retired web instance may keep finishing in-flight requests
    /// (and open connections) after it left the routes, before SIGTERM.
    pub drain_timeout: Duration,
    /// How long a new instance may take to become healthy when its app
    /// declares no health check of its own (a check's `boot_timeout` wins).
    pub boot_timeout: Duration,
    /// Images of this many recent releases are kept for instant rollbacks.
    pub keep_releases: usize,
    /// The port app processes listen on inside their containers (`PORT`).
    pub app_port: u16,
    /// A build (compile + image) taking longer than this fails.
    pub build_timeout: Duration,
    /// Builds running at once; more wait in line.
    pub max_concurrent_builds: usize,
    /// Extra CA certificates (PEM files) trusted by builds, on top of the host bundle.
    pub build_ca_files: Vec<PathBuf>,
    /// Where the git-over-SSH server listens (`None`: no SSH server).
    pub ssh_listen: Option<SocketAddr>,
    /// The API's URL as clients see it (behind a proxy or on another host).
    pub public_url: Option<String>,
    /// Log history kept per app (bytes on disk).
    pub log_retention_bytes: u64,
    /// Extra CA certificates (PEM) trusted for TLS drains, on top of the host bundle.
    pub drain_ca_files: Vec<PathBuf>,
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            api_listen: ([127, 0, 0, 1], 7070).into(),
            http_listen: ([0, 0, 0, 0], 80).into(),
            domain: "localhost".into(),
            namespace: "berth".into(),
            reconcile_interval: Duration::from_secs(2),
            stop_grace: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
            boot_timeout: Duration::from_secs(60),
            keep_releases: 10,
            app_port: 5000,
            build_timeout: Duration::from_secs(15 * 60),
            max_concurrent_builds: 2,
            build_ca_files: Vec::new(),
            public_url: None,
            ssh_listen: Some(([0, 0, 0, 0], 2222).into()),
            log_retention_bytes: 8 * 1024 * 1024,
            drain_ca_files: Vec::new(),
        }
    }
}
