//! Platform events (instance started, crashed, restarted, stopped; release
//! deployed or failed): logged, and broadcast to whoever listens (the app's log
//! stream).

use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformEvent {
    pub app: String,
    /// The process the event is about (`web.1`), or `api` for release events.
    pub source: String,
    pub message: String,
}

pub struct Events {
    tx: broadcast::Sender<PlatformEvent>,
}

impl Default for Events {
    fn default() -> Self {
        Self { tx: broadcast::channel(1024).0 }
    }
}

impl Events {
    pub fn emit(&self, app: &str, source: &str, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(app, source, "{message}");
        let _ = self.tx.send(PlatformEvent { app: app.to_string(), source: source.to_string(), message });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<PlatformEvent> {
        self.tx.subscribe()
    }
}
