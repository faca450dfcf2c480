//! A response body that counts its bytes and, when it ends (or the client goes
//! away), records the request in the app's counters and the access log.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::header::HeaderValue;
use http::uri::PathAndQuery;
use http::Method;
use hyper::body::{Body, Frame, SizeHint};

use crate::metrics::{AccessEntry, AccessLog, AppStats};
use crate::table::Route;

/// What is known about a request when its response starts: cheap clones only
/// (reference-counted buffers), so building one allocates nothing.
pub(crate) struct Pending {
    pub route: Arc<Route>,
    pub stats: Arc<AppStats>,
    pub sink: Option<Arc<dyn AccessLog>>,
    /// Index of the backend that answered, or `None` when the router answered.
    pub backend: Option<usize>,
    pub error: Option<(&'static str, &'static str)>,
    pub method: Method,
    pub path: PathAndQuery,
    pub host: Option<HeaderValue>,
    pub request_id: HeaderValue,
    pub client_ip: IpAddr,
    pub status: u16,
    pub start: Instant,
    pub attempt: Instant,
}

impl Pending {
    /// Counts the request and writes its access-log entry.
    pub(crate) fn finish(self, bytes: u64) {
        let now = Instant::now();
        let service = now.saturating_duration_since(self.attempt);
        let connect = self.attempt.saturating_duration_since(self.start);
        self.stats.record(self.status, bytes, connect + service);
        self.stats.active.fetch_sub(1, Ordering::Relaxed);
        if let Some(sink) = &self.sink {
            let entry = AccessEntry {
                app: &self.route.app,
                method: self.method.as_str(),
                path: self.path.as_str(),
                host: self.host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or(""),
                status: self.status,
                bytes,
                connect,
                service,
                request_id: self.request_id.to_str().unwrap_or(""),
                client_ip: self.client_ip,
                dyno: self.backend.and_then(|i| self.route.backends.get(i)).map(|b| b.name.as_str()),
                error: self.error,
            };
            sink.log(&entry);
        }
    }
}

pub struct Metered<B> {
    inner: B,
    bytes: u64,
    pending: Option<Pending>,
}

impl<B> Metered<B> {
    pub(crate) fn new(inner: B, pending: Option<Pending>) -> Self {
        Self { inner, bytes: 0, pending }
    }
}

impl<B> Drop for Metered<B> {
    fn drop(&mut self) {
        if let Some(p) = self.pending.take() {
            p.finish(self.bytes);
        }
    }
}

impl<B> Body for Metered<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => {
                if let Some(p) = this.pending.take() {
                    p.finish(this.bytes);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
