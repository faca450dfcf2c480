//! Log aggregation: one stream per app that merges the app's own output
//! (`app[web.1]`), router access lines (`berth[router]`), and platform events
//! (`berth[api]`, `berth[web.1]`).
//!
//! [`LogHub`] is the only entry point. A push formats the line, hands it to
//! live readers (a bounded broadcast channel per app: slow readers lose lines,
//! never slow the writer) and to the history writer (a bounded queue drained
//! by one thread into [`store::LogStore`]). Nothing on the push path blocks.

mod access;
pub mod collector;
pub mod line;
pub mod sessions;
pub mod store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

pub use line::{Filter, Line, Source};
use store::LogStore;

/// Lines buffered for each live reader before it starts losing them.
pub const LIVE_BUFFER: usize = 1024;
/// Lines waiting to be written to disk before new ones are dropped (and counted).
const WRITE_QUEUE: usize = 16 * 1024;

enum WriteOp {
    Append { app: String, text: String },
    Remove { app: String },
}

pub struct LogHub {
    dir: PathBuf,
    writer: SyncSender<WriteOp>,
    live: Mutex<HashMap<String, broadcast::Sender<Arc<Line>>>>,
    dropped: AtomicU64,
}

impl LogHub {
    /// Opens (creating) `dir` and starts the history writer thread.
    pub fn open(dir: PathBuf, retention_bytes: u64) -> std::io::Result<Arc<Self>> {
        std::fs::create_dir_all(&dir)?;
        let (tx, rx) = sync_channel(WRITE_QUEUE);
        let store = LogStore::new(dir.clone(), retention_bytes);
        std::thread::Builder::new().name("berth-log-writer".into()).spawn(move || write_loop(store, rx))?;
        Ok(Arc::new(Self { dir, writer: tx, live: Mutex::new(HashMap::new()), dropped: AtomicU64::new(0) }))
    }

    /// Where the history lives (also holds the collector's cursors).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// A platform event, e.g. `platform("web1", "api", "Release v3 created by user x")`
    /// → `berth[api]: Release v3 created by user x`; `platform("web1", "web.1", "State
    /// changed from starting to up")` → `berth[web.1]: …`.
    pub fn platform(&self, app: &str, process: &str, message: impl Into<String>) {
        self.push(app, Line::new(Source::Berth, process, message));
    }

    /// A line the app itself wrote (`app[web.1]: …`), stamped when the engine got it.
    pub fn app_line(&self, app: &str, process: &str, timestamp: DateTime<Utc>, message: impl Into<String>) {
        let line = Line { timestamp, source: Source::App, process: process.to_string(), message: message.into() };
        self.push(app, line);
    }

    pub fn push(&self, app: &str, line: Line) {
        let text = format!("{line}\n");
        {
            let live = self.live.lock().unwrap();
            if let Some(tx) = live.get(app) {
                let _ = tx.send(Arc::new(line));
            }
        }
        match self.writer.try_send(WriteOp::Append { app: app.to_string(), text }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Follows an app's new lines. Lagging receivers get `Lagged(n)` and lose those lines.
    pub fn subscribe(&self, app: &str) -> broadcast::Receiver<Arc<Line>> {
        let mut live = self.live.lock().unwrap();
        live.retain(|_, tx| tx.receiver_count() > 0);
        live.entry(app.to_string()).or_insert_with(|| broadcast::channel(LIVE_BUFFER).0).subscribe()
    }

    /// The newest `n` stored lines of an app matching `filter`, oldest first (reads files:
    /// call from a blocking context).
    pub fn recent(&self, app: &str, n: usize, filter: &Filter) -> Vec<Line> {
        LogStore::recent(&self.dir, app, n, filter)
    }

    /// Deletes an app's history (after `apps:destroy`).
    pub fn remove_app(&self, app: &str) {
        self.live.lock().unwrap().remove(app);
        let tx = self.writer.clone();
        let app = app.to_string();
        // Ordered after the app's pending lines; waits for room instead of being dropped.
        std::thread::spawn(move || {
            let _ = tx.send(WriteOp::Remove { app });
        });
    }

    /// Lines lost because the history writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn write_loop(mut store: LogStore, rx: Receiver<WriteOp>) {
    while let Ok(first) = rx.recv() {
        // Batch whatever else is queued so a busy app costs one write per batch.
        let mut batch: HashMap<String, String> = HashMap::new();
        let mut op = Some(first);
        while let Some(o) = op.take() {
            match o {
                WriteOp::Append { app, text } => batch.entry(app).or_default().push_str(&text),
                WriteOp::Remove { app } => {
                    batch.remove(&app);
                    flush(&mut store, &mut batch);
                    if let Err(e) = store.remove(&app) {
                        tracing::warn!(app, error = %e, "could not delete the app's log history");
                    }
                }
            }
            if batch.values().map(String::len).sum::<usize>() < 1 << 20 {
                op = rx.try_recv().ok();
            }
        }
        flush(&mut store, &mut batch);
    }
}

fn flush(store: &mut LogStore, batch: &mut HashMap<String, String>) {
    for (app, text) in batch.drain() {
        if let Err(e) = store.append(&app, &text) {
            tracing::warn!(app, error = %e, "could not write log history");
        }
    }
}
