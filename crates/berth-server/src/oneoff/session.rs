//! An attached one-off session: frames ([`berth_core::attach`]) between the
//! client's upgraded connection and the container's stdio.

use std::sync::Arc;
use std::time::Duration;

use berth_core::attach::Frame;
use berth_runtime::{Attached, OutputStream, Runtime};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::logs::LogHub;

pub struct Session {
    pub runtime: Arc<dyn Runtime>,
    pub logs: Arc<LogHub>,
    pub app: String,
    pub dyno: String,
    pub ttl: Duration,
}

impl Session {
    /// Runs until the process exits (its code is sent), the client goes away, or
    /// the max runtime passes; the container is removed in every case.
    pub async fn run<S>(self, conn: S, attached: Attached)
    where
        S: AsyncRead + AsyncWrite + Send + Unpin,
    {
        let Attached { id, output, input } = attached;
        let (mut rd, mut wr) = tokio::io::split(conn);
        let to_container = pump_input(&mut rd, input, &*self.runtime, &id);
        let from_container = async {
            let mut output = output;
            while let Some(chunk) = output.next().await {
                let Ok(chunk) = chunk else { break };
                let frame = match chunk.stream {
                    OutputStream::Stdout => Frame::Stdout(chunk.data),
                    OutputStream::Stderr => Frame::Stderr(chunk.data),
                };
                if wr.write_all(&frame.encode()).await.is_err() {
                    return None;
                }
            }
            let code = self.runtime.wait(&id).await.unwrap_or(-1);
            let _ = wr.write_all(&Frame::Exit(code as i32).encode()).await;
            let _ = wr.flush().await;
            let _ = wr.shutdown().await;
            Some(code)
        };
        let outcome = tokio::select! {
            code = from_container => code.ok_or("Client disconnected; stopping process"),
            () = to_container => Err("Client disconnected; stopping process"),
            () = tokio::time::sleep(self.ttl) => Err("Stopping process: the max runtime is over"),
        };
        match outcome {
            Ok(code) => self.logs.process_exited(&self.app, &self.dyno, code),
            Err(why) => self.logs.platform(&self.app, &self.dyno, why),
        }
        self.logs.state_changed(&self.app, &self.dyno, "up", "complete");
        if let Err(e) = self.runtime.remove(&id).await {
            tracing::warn!(container = %id, error = %e, "could not remove one-off");
        }
    }
}

/// Client frames → the container; returns when the client's side closes.
async fn pump_input<R: AsyncRead + Unpin>(
    rd: &mut R,
    mut input: std::pin::Pin<Box<dyn AsyncWrite + Send>>,
    runtime: &dyn Runtime,
    id: &str,
) {
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut stdin_open = true;
    loop {
        let n = match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let frame = match Frame::decode(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "bad frame from a run client");
                    return;
                }
            };
            match frame {
                Frame::Stdin(data) if stdin_open => {
                    let written = input.write_all(&data).await.is_ok() && input.flush().await.is_ok();
                    stdin_open = written;
                }
                Frame::StdinEof if stdin_open => {
                    stdin_open = false;
                    let _ = input.shutdown().await;
                }
                Frame::Resize { cols, rows } => {
                    if let Err(e) = runtime.resize(id, cols, rows).await {
                        tracing::debug!(error = %e, "resize failed");
                    }
                }
                _ => {}
            }
        }
    }
}
