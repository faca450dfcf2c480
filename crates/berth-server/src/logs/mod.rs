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
pub mod drains;
pub mod line;
pub mod sessions;
pub mod store;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
#[cfg(test)]
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

pub use line::{Filter, Line, Source};
use store::LogStore;

/// Lines buffered for each live reader before it starts losing them.
pub const LIVE_BUFFER: usize = 1024;
/// Lines waiting to be written to disk before new ones are dropped (and counted).
const WRITE_QUEUE: usize = 16 * 1024;
/// How long the history writer lets lines gather between writes.
const WRITE_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

enum WriteOp {
    /// `cursor`: the container the line came from and its engine timestamp, saved
    /// with the line so a restart resumes exactly after it.
    Append {
        app: String,
        /// Formatted by the writer thread, off the caller's path (the router's, for access lines).
        line: Arc<Line>,
        cursor: Option<(String, DateTime<Utc>)>,
    },
    Remove {
        app: String,
    },
    /// Forget the cursors of containers that no longer exist.
    RetainCursors(HashSet<String>),
}

/// The collector's resume points, owned by the writer thread (`cursors.json`).
pub(crate) fn load_cursors(dir: &Path) -> HashMap<String, DateTime<Utc>> {
    std::fs::read_to_string(dir.join(CURSORS_FILE)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

const CURSORS_FILE: &str = "cursors.json";

pub struct LogHub {
    dir: PathBuf,
    writer: SyncSender<WriteOp>,
    live: Mutex<HashMap<String, broadcast::Sender<Arc<Line>>>>,
    dropped: AtomicU64,
    /// Ids of recently destroyed apps: late lines from their containers are dropped,
    /// so a new app with the same name starts with an empty log.
    destroyed: Mutex<std::collections::VecDeque<String>>,
    /// Stopped containers whose whole engine log was read (a detached one-off
    /// may be removed only then).
    drained: Mutex<std::collections::HashSet<String>>,
}

impl LogHub {
    /// Opens (creating) `dir` and starts the history writer thread.
    pub fn open(dir: PathBuf, retention_bytes: u64) -> std::io::Result<Arc<Self>> {
        std::fs::create_dir_all(&dir)?;
        let (tx, rx) = sync_channel(WRITE_QUEUE);
        let store = LogStore::new(dir.clone(), retention_bytes);
        let cursors = Cursors { path: dir.join(CURSORS_FILE), map: load_cursors(&dir), dirty: false };
        std::thread::Builder::new().name("berth-log-writer".into()).spawn(move || write_loop(store, cursors, rx))?;
        Ok(Arc::new(Self {
            dir,
            writer: tx,
            live: Mutex::new(HashMap::new()),
            dropped: AtomicU64::new(0),
            destroyed: Mutex::new(Default::default()),
            drained: Mutex::new(Default::default()),
        }))
    }

    /// The collector read a stopped container's log to its end.
    pub(crate) fn mark_drained(&self, container: &str) {
        self.drained.lock().unwrap().insert(container.to_string());
    }

    /// Whether a stopped container's log was read to its end; forgets it (the
    /// caller removes the container).
    pub fn take_drained(&self, container: &str) -> bool {
        self.drained.lock().unwrap().remove(container)
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

    /// Heroku's pair of lines for a new release: `Set A config vars by user x`,
    /// `Release v3 created by user x`.
    pub fn release_created(&self, app: &str, description: &str, version: i64, user: &str) {
        self.platform(app, "api", format!("{description} by user {user}"));
        self.platform(app, "api", format!("Release v{version} created by user {user}"));
    }

    /// An instance's lifecycle, Heroku's words: `berth[web.1]: State changed from starting to up`.
    pub fn state_changed(&self, app: &str, dyno: &str, from: &str, to: &str) {
        self.platform(app, dyno, format!("State changed from {from} to {to}"));
    }

    /// `berth[web.1]: Process exited with status 137`.
    pub fn process_exited(&self, app: &str, dyno: &str, code: i64) {
        self.platform(app, dyno, format!("Process exited with status {code}"));
    }

    /// A line the app itself wrote (`app[web.1]: …`), stamped when the engine got it.
    pub fn app_line(&self, app: &str, process: &str, timestamp: DateTime<Utc>, message: impl Into<String>) {
        let line = Line { timestamp, source: Source::App, process: process.to_string(), message: message.into() };
        self.push(app, line);
    }

    /// A line read from a container's engine log; its timestamp becomes the
    /// container's resume point once the line is on disk.
    pub(crate) fn container_line(
        &self,
        app: &str,
        app_id: &str,
        process: &str,
        container: &str,
        line: berth_runtime::LogLine,
    ) {
        if self.destroyed.lock().unwrap().iter().any(|id| id == app_id) {
            return;
        }
        let cursor = Some((container.to_string(), line.timestamp));
        let line =
            Line { timestamp: line.timestamp, source: Source::App, process: process.to_string(), message: line.line };
        self.push_with(app, line, cursor);
    }

    pub(crate) fn retain_cursors(&self, containers: HashSet<String>) {
        let _ = self.writer.try_send(WriteOp::RetainCursors(containers));
    }

    pub fn push(&self, app: &str, line: Line) {
        self.push_with(app, line, None)
    }

    fn push_with(&self, app: &str, line: Line, cursor: Option<(String, DateTime<Utc>)>) {
        let line = Arc::new(line);
        {
            let live = self.live.lock().unwrap();
            if let Some(tx) = live.get(app) {
                let _ = tx.send(Arc::clone(&line));
            }
        }
        match self.writer.try_send(WriteOp::Append { app: app.to_string(), line, cursor }) {
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
    pub fn remove_app(&self, app: &str, app_id: &str) {
        {
            let mut destroyed = self.destroyed.lock().unwrap();
            if destroyed.len() >= 1024 {
                destroyed.pop_front();
            }
            destroyed.push_back(app_id.to_string());
        }
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

/// Copies the reconciler's platform events (instance started, up, crashed,
/// restarted, stopped; release failed) into the apps' logs as `berth[web.1]: …`.
pub fn forward_platform_events(
    hub: Arc<LogHub>,
    mut events: broadcast::Receiver<crate::reconcile::events::PlatformEvent>,
) {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(e) => hub.platform(&e.app, &e.source, e.message),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(lost = n, "platform events came faster than the log took them");
                    hub.dropped.fetch_add(n, Ordering::Relaxed);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

struct Cursors {
    path: PathBuf,
    map: HashMap<String, DateTime<Utc>>,
    dirty: bool,
}

impl Cursors {
    fn save(&mut self) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string(&self.map).unwrap_or_default();
        if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &self.path)) {
            tracing::warn!(error = %e, "could not save log cursors");
        }
    }
}

fn write_loop(mut store: LogStore, mut cursors: Cursors, rx: Receiver<WriteOp>) {
    while let Ok(first) = rx.recv() {
        // Batch whatever else is queued so a busy app costs one write per batch.
        let mut batch: HashMap<String, String> = HashMap::new();
        let mut op = Some(first);
        while let Some(o) = op.take() {
            match o {
                WriteOp::Append { app, line, cursor } => {
                    use std::fmt::Write;
                    let _ = writeln!(batch.entry(app).or_default(), "{line}");
                    if let Some((id, ts)) = cursor {
                        let saved = cursors.map.entry(id).or_insert(ts);
                        *saved = (*saved).max(ts);
                        cursors.dirty = true;
                    }
                }
                WriteOp::RetainCursors(ids) => {
                    let before = cursors.map.len();
                    cursors.map.retain(|id, _| ids.contains(id));
                    cursors.dirty |= cursors.map.len() != before;
                }
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
        // After the lines: a crash in between re-reads them rather than losing them.
        cursors.save();
        // Let lines gather: one write per app per pause instead of one per line, and
        // senders (the router, per request) rarely have to wake this thread. Live
        // readers are not delayed: they get lines from the broadcast.
        std::thread::sleep(WRITE_PAUSE);
    }
}

fn flush(store: &mut LogStore, batch: &mut HashMap<String, String>) {
    for (app, text) in batch.drain() {
        if let Err(e) = store.append(&app, &text) {
            tracing::warn!(app, error = %e, "could not write log history");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pushes_reach_live_readers_history_and_respect_filters() {
        let dir = tempfile::tempdir().unwrap();
        let hub = LogHub::open(dir.path().to_path_buf(), 1 << 20).unwrap();
        let mut live = hub.subscribe("web1");
        hub.platform("web1", "api", "Release v2 created by user a@b");
        hub.release_created("other", "Deploy x", 3, "a@b");
        let got = live.recv().await.unwrap();
        assert_eq!(got.to_string().split_once(' ').unwrap().1, "berth[api]: Release v2 created by user a@b");
        assert!(live.try_recv().is_err(), "other apps' lines are not delivered");
        for _ in 0..100 {
            if hub.recent("other", 10, &Filter::default()).len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let other: Vec<String> =
            hub.recent("other", 10, &Filter::default()).iter().map(|l| l.message.clone()).collect();
        assert_eq!(other, ["Deploy x by user a@b", "Release v3 created by user a@b"]);
        hub.remove_app("other", "id");
        for _ in 0..100 {
            if hub.recent("other", 10, &Filter::default()).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(hub.recent("other", 10, &Filter::default()).is_empty());
        assert_eq!(hub.dropped(), 0);
    }
}
