//! [`Operations`] for [`FakeRuntime`]: logs pushed by tests, fixed stats, and
//! one-offs that echo their stdin (like `cat`) and exit 0 at EOF.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::io::AsyncReadExt;

use crate::ops::{Attached, InstanceStats, LogLine, OneOffSpec, Operations, OutputChunk, OutputStream};
use crate::{FakeRuntime, InstanceSpec, Result, Runtime};

#[derive(Default)]
pub(crate) struct FakeOps {
    logs: Mutex<BTreeMap<String, Vec<LogLine>>>,
}

impl FakeRuntime {
    /// Appends a line to an instance's log (what the process would print).
    pub fn push_log(&self, id: &str, stream: OutputStream, line: &str) {
        let entry = LogLine { stream, timestamp: Utc::now(), line: line.to_string() };
        self.ops.logs.lock().unwrap().entry(id.to_string()).or_default().push(entry);
    }
}

#[async_trait]
impl Operations for FakeRuntime {
    fn logs(&self, id: &str, since: Option<DateTime<Utc>>, _follow: bool) -> BoxStream<'static, Result<LogLine>> {
        let lines: Vec<Result<LogLine>> = self
            .ops
            .logs
            .lock()
            .unwrap()
            .get(id)
            .map(|l| l.iter().filter(|l| since.is_none_or(|s| l.timestamp >= s)).cloned().map(Ok).collect())
            .unwrap_or_default();
        stream::iter(lines).boxed()
    }

    async fn stats(&self, _id: &str) -> Result<InstanceStats> {
        Ok(InstanceStats { cpu_percent: 1.5, memory_bytes: 32 << 20, memory_limit_bytes: Some(512 << 20) })
    }

    async fn run_attached(&self, spec: &OneOffSpec) -> Result<Attached> {
        let id = self.run_detached(spec).await?;
        let (input, mut echo) = tokio::io::duplex(64 * 1024);
        // Read everything the client writes and hand it back as stdout.
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            loop {
                match echo.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let chunk = OutputChunk { stream: OutputStream::Stdout, data: buf[..n].to_vec() };
                        if tx.send(Ok(chunk)).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let output = stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed();
        Ok(Attached { id, output, input: Box::pin(input) })
    }

    async fn run_detached(&self, spec: &OneOffSpec) -> Result<String> {
        let spec: &InstanceSpec = &spec.instance;
        Runtime::run(self, spec).await
    }

    async fn resize(&self, _id: &str, _cols: u16, _rows: u16) -> Result<()> {
        Ok(())
    }

    async fn wait(&self, _id: &str) -> Result<i64> {
        Ok(0)
    }
}
