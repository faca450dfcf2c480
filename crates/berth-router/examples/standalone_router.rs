//! The Berth router on its own, with one static route: for benchmarks and manual tests.
//!
//! ```text
//! cargo run --release -p berth-router --example standalone_router -- \
//!     --listen 127.0.0.1:8080 --host web1.localhost --backend 127.0.0.1:9000 [--threads N] \
//!     [--access-log FILE]
//! ```
//!
//! `--access-log FILE` installs an access-log sink that does what the server's does on
//! the request path (format a Heroku router line, hand it to a bounded queue) and
//! writes the lines to FILE from another thread: to measure the cost of access logging.
//!
//! Uses the real [`berth_router::Router`], unchanged. `--threads` sets the tokio worker
//! count (default: the CPUs this process may run on, so `taskset` is honoured).

use std::net::SocketAddr;
use std::process::ExitCode;

use std::io::Write as _;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;

use berth_router::{AccessEntry, AccessLog, Backend, RouteTable, Router};

/// Formats each entry like `berth[router]` lines and queues it for a writer thread.
struct FileLog(SyncSender<String>);

impl AccessLog for FileLog {
    fn log(&self, e: &AccessEntry<'_>) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let line = format!("{}.{:06} berth[router]: {}", now.as_secs(), now.subsec_micros(), e.heroku_line());
        let _ = self.0.try_send(line);
    }
}

fn file_log(path: &str) -> std::io::Result<Arc<dyn AccessLog>> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let (tx, rx) = sync_channel::<String>(16 * 1024);
    std::thread::spawn(move || {
        while let Ok(line) = rx.recv() {
            let _ = writeln!(file, "{line}");
            while let Ok(line) = rx.try_recv() {
                let _ = writeln!(file, "{line}");
            }
            let _ = file.flush();
            // As the server's writer: collect for a moment, so senders rarely wake it.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    Ok(Arc::new(FileLog(tx)))
}

const USAGE: &str =
    "usage: standalone_router --listen ADDR --host HOST --backend ADDR [--backend ADDR ...] [--threads N] [--access-log FILE]";

struct Args {
    listen: SocketAddr,
    host: String,
    backends: Vec<SocketAddr>,
    threads: Option<usize>,
    access_log: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut listen = None;
    let mut host = None;
    let mut backends = Vec::new();
    let mut threads = None;
    let mut access_log = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_string());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--listen" => listen = Some(value.parse().map_err(|e| bad(&e))?),
            "--host" => host = Some(value),
            "--backend" => backends.push(value.parse().map_err(|e| bad(&e))?),
            "--threads" => threads = Some(value.parse().map_err(|e| bad(&e))?),
            "--access-log" => access_log = Some(value),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    match (listen, host) {
        (Some(listen), Some(host)) if !backends.is_empty() => Ok(Args { listen, host, backends, threads, access_log }),
        _ => Err(USAGE.to_string()),
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = args.threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = match runtime.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let router = Router::new();
        if let Some(path) = &args.access_log {
            router.set_access_log(file_log(path)?);
        }
        let mut table = RouteTable::new();
        let backends = args
            .backends
            .iter()
            .enumerate()
            .map(|(i, &addr)| Backend { addr, name: format!("web.{}", i + 1) })
            .collect();
        table.insert(&args.host, "bench", backends);
        router.set_routes(table);
        eprintln!("berth router listening on {} for host {}", listener.local_addr()?, args.host);
        router.serve(listener).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("router: {e}");
            ExitCode::FAILURE
        }
    }
}
