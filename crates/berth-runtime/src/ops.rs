//! Operating running instances: their logs, resource usage, and one-off
//! containers attached to a client (`berth run`).
//!
//! A supertrait of [`crate::Runtime`], kept apart from the lifecycle methods so
//! the two evolve independently.

use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use tokio::io::AsyncWrite;

use crate::{InstanceSpec, Result};

/// Which output stream a line or chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// One line of an instance's log, as the engine recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stream: OutputStream,
    /// When the engine received the line (nanosecond precision on Docker).
    pub timestamp: DateTime<Utc>,
    /// The line without its trailing newline.
    pub line: String,
}

/// Resource usage of one instance at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InstanceStats {
    /// CPU use in percent of one core (200.0 = two cores busy).
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    /// The memory limit, when one is set.
    pub memory_limit_bytes: Option<u64>,
}

/// A one-off container (`berth run`): an instance without a restart policy,
/// optionally with a TTY and an open stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOffSpec {
    pub instance: InstanceSpec,
    pub tty: bool,
    /// Keep stdin open (attached sessions); closing it gives the process EOF.
    pub stdin: bool,
    /// Initial terminal size (columns, rows) when `tty`.
    pub size: Option<(u16, u16)>,
}

/// A chunk of output from an attached one-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    pub stream: OutputStream,
    pub data: Vec<u8>,
}

/// An attached, started one-off container.
pub struct Attached {
    pub id: String,
    /// stdout/stderr (a TTY merges both into stdout) until the process exits.
    pub output: BoxStream<'static, Result<OutputChunk>>,
    /// The process's stdin; shutting it down sends EOF.
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

#[async_trait]
pub trait Operations: Send + Sync {
    /// The instance's log lines since `since` (all when `None`), oldest first;
    /// with `follow`, the stream continues until the instance stops.
    fn logs(&self, id: &str, since: Option<DateTime<Utc>>, follow: bool) -> BoxStream<'static, Result<LogLine>>;

    /// A sample of the instance's resource usage.
    async fn stats(&self, id: &str) -> Result<InstanceStats>;

    /// Creates a one-off container, attaches to it and starts it.
    async fn run_attached(&self, spec: &OneOffSpec) -> Result<Attached>;

    /// Creates and starts a one-off container without attaching (output goes to its log).
    async fn run_detached(&self, spec: &OneOffSpec) -> Result<String>;

    /// Resizes the TTY of an instance.
    async fn resize(&self, id: &str, cols: u16, rows: u16) -> Result<()>;

    /// Waits for the instance to exit; returns its exit code.
    async fn wait(&self, id: &str) -> Result<i64>;
}
