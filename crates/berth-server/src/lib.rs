//! The Berth control plane: HTTP API, authentication, and the reconcile loop
//! that makes the container engine match the store. `run` wires it together
//! with the router (data plane) in one process.

pub mod access;
pub mod api;
pub mod audit;
pub mod auth;
pub mod config;
pub mod deploy;
pub mod error;
pub mod git;
pub mod keys;
pub mod logs;
pub mod metrics;
pub mod oneoff;
pub mod passwords;
pub mod reconcile;
pub mod release_phase;
pub mod ssh;
pub mod state;
pub mod view;

use std::sync::Arc;

use berth_router::Router;
use berth_runtime::{DockerRuntime, Runtime};
use berth_store::{Cipher, Store};
use tokio::net::TcpListener;

pub use config::ServerConfig;
use reconcile::Reconciler;
use state::AppState;
use view::Urls;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data dir {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot listen on {addr}: {source} (is another server using it? choose another with {flag})")]
    Listen { addr: String, flag: &'static str, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] berth_store::StoreError),
    #[error(transparent)]
    Runtime(#[from] berth_runtime::RuntimeError),
    #[error("{0} is in use by a running Berth server: stop it first (apps keep running while it is stopped)")]
    Locked(String),
    #[error("log drains: {0}")]
    Drains(String),
    #[error("server I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Starts everything and serves until SIGINT/SIGTERM. App containers keep
/// running after the server stops; the next start adopts them.
pub async fn run(config: ServerConfig) -> Result<(), ServerError> {
    let data_dir = config.data_dir.clone();
    let dir_error = |source| ServerError::DataDir { path: data_dir.display().to_string(), source };
    std::fs::create_dir_all(&data_dir).map_err(dir_error)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700)).map_err(dir_error)?;
    }
    // One server per data dir; `rotate-key` takes the same lock.
    let _lock = keys::lock_data_dir(&data_dir)?;
    keys::check_no_pending_rotation(&data_dir)?;
    let cipher = Cipher::load_or_create(&data_dir.join(keys::KEY_FILE))?;
    let store = Store::open(&data_dir.join("berth.db"), cipher).await?;
    let new_token = auth::bootstrap_admin(&store, &data_dir).await?;
    berth_build::buildpacks::install_builtin(&data_dir.join("buildpacks")).map_err(dir_error)?;
    berth_build::buildpacks::write_ca_bundle(&data_dir.join("build-ca.pem"), &config.build_ca_files)
        .map_err(|source| ServerError::DataDir { path: "build CA bundle".into(), source })?;
    let failed_releases = store.fail_pending_releases().await?;
    if failed_releases > 0 {
        tracing::warn!(failed_releases, "release phases interrupted by the last shutdown: those releases failed");
    }
    let interrupted = store.fail_interrupted_builds().await?;
    if interrupted > 0 {
        tracing::warn!(interrupted, "builds interrupted by the last shutdown were marked failed");
    }
    let runtime: Arc<dyn Runtime> = Arc::new(DockerRuntime::connect().await?);

    let api_listener = TcpListener::bind(config.api_listen).await.map_err(|source| ServerError::Listen {
        addr: config.api_listen.to_string(),
        flag: "--api-listen",
        source,
    })?;
    let http_listener = TcpListener::bind(config.http_listen).await.map_err(|source| ServerError::Listen {
        addr: config.http_listen.to_string(),
        flag: "--http-listen",
        source,
    })?;
    let ssh_listener = match config.ssh_listen {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|source| ServerError::Listen {
            addr: addr.to_string(),
            flag: "--ssh-listen",
            source,
        })?),
        None => None,
    };
    let ssh_host_key = ssh::load_or_create_host_key(&data_dir).map_err(dir_error)?;
    let api_addr = api_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;
    let api_host = if api_addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { api_addr.ip().to_string() };
    let urls = Urls {
        api_url: config
            .public_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://{api_host}:{}", api_addr.port())),
        internal_api_url: format!("http://{api_host}:{}", api_addr.port()),
        domain: config.domain.clone(),
        http_port: http_addr.port(),
    };

    let logs = logs::LogHub::open(data_dir.join("logs"), config.log_retention_bytes).map_err(dir_error)?;
    let config = Arc::new(config);
    let router = Router::new();
    router.set_access_log(Arc::clone(&logs) as Arc<dyn berth_router::AccessLog>);
    let _collector =
        logs::collector::Collector::start(Arc::clone(&logs), Arc::clone(&runtime), config.namespace.clone());
    let drains = logs::drains::Drains::new(Arc::clone(&logs), &config.drain_ca_files).map_err(ServerError::Drains)?;
    drains.sync(store.list_drains(None).await?);
    let reconciler = Reconciler::new(store.clone(), Arc::clone(&runtime), Arc::clone(&router), Arc::clone(&config));
    logs::forward_platform_events(Arc::clone(&logs), reconciler.events.subscribe());
    tokio::spawn(Arc::clone(&reconciler).run());
    tokio::spawn(Arc::clone(&router).serve(http_listener));

    println!("Berth {} is running.", env!("CARGO_PKG_VERSION"));
    println!("  API:    {}", urls.api_url);
    println!("  Router: http://{http_addr} (apps answer at {})", urls.web_url("APP"));
    let ssh_addr = ssh_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    if let Some(addr) = ssh_addr {
        println!("  SSH:    {addr} (git push ssh://git@HOST:{}/APP.git)", addr.port());
    }
    println!("  Data:   {}", data_dir.display());
    match new_token {
        Some(token) => {
            println!("  Admin token (shown once; saved in {}):", data_dir.join("admin.token").display());
            println!("    {token}");
        }
        None => println!("  Admin token: in {}", data_dir.join("admin.token").display()),
    }
    println!(
        "Try: export BERTH_API_URL={} BERTH_API_TOKEN=$(cat {})",
        urls.api_url,
        data_dir.join("admin.token").display()
    );

    let builds = Arc::new(deploy::Builds::new(config.max_concurrent_builds));
    let sampler = metrics::Sampler::start(Arc::clone(&runtime), config.namespace.clone());
    let state = AppState {
        store,
        runtime,
        reconciler,
        config,
        urls: Arc::new(urls),
        hook_secret: auth::generate_token(),
        builds,
        login_limiter: Default::default(),
        logs,
        log_sessions: Arc::new(logs::sessions::Sessions::default()),
        drains,
        oneoffs: Arc::new(oneoff::OneOffs::default()),
        sampler,
        router: Arc::clone(&router),
    };
    oneoff::spawn_janitor(state.clone());
    if let Some(listener) = ssh_listener {
        let (state, key) = (state.clone(), ssh_host_key);
        tokio::spawn(async move {
            if let Err(e) = ssh::serve(state, listener, key).await {
                tracing::error!(error = %e, "the SSH server stopped");
            }
        });
    }
    // Connection info gives audit events and the login limiter the client's address.
    let service = api::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(api_listener, service).with_graceful_shutdown(shutdown_signal()).await?;
    tracing::info!("server stopped; app containers keep running");
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
