//! `berth`: the server (`berth server`) and the client commands in one binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "berth", version, about = "Berth: git push to deploy, on your own servers")]
struct Cli {
    #[command(subcommand)]
    command: TopLevel,
}

#[derive(Debug, Subcommand)]
enum TopLevel {
    /// Run the Berth server (API, router and reconciler)
    Server(Box<ServerArgs>),
    #[command(flatten)]
    Client(berth_cli::Command),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ServerArgs {
    #[command(subcommand)]
    action: Option<ServerAction>,
    /// Where the database, keys and tokens live
    #[arg(long, env = "BERTH_DATA_DIR", default_value = "/var/lib/berth")]
    data_dir: PathBuf,
    /// API listen address
    #[arg(long, default_value = "127.0.0.1:7070")]
    api_listen: SocketAddr,
    /// git-over-SSH listen address (`git push ssh://git@HOST:PORT/APP.git`)
    #[arg(long, default_value = "0.0.0.0:2222")]
    ssh_listen: SocketAddr,
    /// Router (app traffic) listen address
    #[arg(long, default_value = "0.0.0.0:80")]
    http_listen: SocketAddr,
    /// Apps answer at APP.<domain>
    #[arg(long, default_value = "localhost")]
    domain: String,
    /// Prefix for container/network names; lets several servers share one engine
    #[arg(long, env = "BERTH_NAMESPACE", default_value = "berth")]
    namespace: String,
    /// Seconds between reconcile passes when nothing changes
    #[arg(long, default_value_t = 2)]
    reconcile_interval: u64,
    /// Seconds between SIGTERM and SIGKILL when stopping instances
    #[arg(long, default_value_t = 30)]
    stop_grace: u64,
    /// Seconds a replaced web instance may finish in-flight requests and open connections before SIGTERM
    #[arg(long, default_value_t = 30)]
    drain_timeout: u64,
    /// Seconds a new instance may take to become healthy (when the app sets no check of its own)
    #[arg(long, default_value_t = 60)]
    boot_timeout: u64,
    /// Keep the images of this many recent releases (rollbacks to them need no rebuild)
    #[arg(long, default_value_t = 10)]
    keep_releases: usize,
    /// Minutes a build may take before it fails
    #[arg(long, default_value_t = 15)]
    build_timeout: u64,
    /// Builds running at once; more wait in line
    #[arg(long, default_value_t = 2)]
    max_concurrent_builds: usize,
    /// The API URL clients use (git remotes, upload links), e.g. https://berth.example.com
    #[arg(long, env = "BERTH_PUBLIC_URL")]
    public_url: Option<String>,
    /// Extra CA certificate (PEM) trusted by buildpack builds, e.g. a corporate proxy's (repeatable)
    #[arg(long = "build-ca-file", value_name = "PEM")]
    build_ca_files: Vec<PathBuf>,
    /// Extra CA certificate (PEM) trusted for syslog+tls:// and https:// log drains (repeatable)
    #[arg(long = "drain-ca-file", value_name = "PEM")]
    drain_ca_files: Vec<PathBuf>,
    /// Log history kept per app, in MiB (oldest lines go first)
    #[arg(long, default_value_t = 8)]
    log_retention_mb: u64,
}

#[derive(Debug, Subcommand)]
enum ServerAction {
    /// Re-encrypt every config var with a new key (stop the server first; apps keep running)
    #[command(name = "rotate-key")]
    RotateKey {
        /// The server's data dir
        #[arg(long, env = "BERTH_DATA_DIR", default_value = "/var/lib/berth")]
        data_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        TopLevel::Server(args) => {
            let args = *args;
            if let Some(ServerAction::RotateKey { data_dir }) = &args.action {
                return match runtime.block_on(berth_server::keys::rotate(data_dir)) {
                    Ok(done) => {
                        println!("Re-encrypted {} config blobs with a new key.", done.values);
                        println!("Back up {} now: the old key no longer opens anything.", done.key_path.display());
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::FAILURE
                    }
                };
            }
            init_tracing();
            match runtime.block_on(berth_server::run(server_config(args))) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        TopLevel::Client(command) => match runtime.block_on(berth_cli::run(command)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn server_config(args: ServerArgs) -> berth_server::ServerConfig {
    let mut config = berth_server::ServerConfig::new(args.data_dir);
    config.api_listen = args.api_listen;
    config.http_listen = args.http_listen;
    config.ssh_listen = Some(args.ssh_listen);
    config.domain = args.domain.trim_matches('.').to_ascii_lowercase();
    config.namespace = args.namespace;
    config.reconcile_interval = Duration::from_secs(args.reconcile_interval.max(1));
    config.stop_grace = Duration::from_secs(args.stop_grace);
    config.drain_timeout = Duration::from_secs(args.drain_timeout);
    config.boot_timeout = Duration::from_secs(args.boot_timeout.max(1));
    config.keep_releases = args.keep_releases.max(1);
    config.build_timeout = Duration::from_secs(args.build_timeout.max(1) * 60);
    config.max_concurrent_builds = args.max_concurrent_builds.max(1);
    config.build_ca_files = args.build_ca_files;
    config.public_url = args.public_url;
    config.log_retention_bytes = args.log_retention_mb.max(1) * 1024 * 1024;
    config.drain_ca_files = args.drain_ca_files;
    config
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
