//! In-flight accounting per backend, so the control plane can drain an instance:
//! once it has left the route table, it is stopped only when nothing is in flight.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// One backend's count of open requests, responses and upgraded connections.
pub type Counter = Arc<AtomicUsize>;

/// Counters by backend address, shared by every route table that names the backend.
#[derive(Default)]
pub struct Registry {
    counters: Mutex<HashMap<SocketAddr, Counter>>,
}

impl Registry {
    /// The counter of `addr` (created on first use).
    pub fn counter(&self, addr: SocketAddr) -> Counter {
        Arc::clone(self.counters.lock().unwrap().entry(addr).or_default())
    }

    pub fn count(&self, addr: SocketAddr) -> usize {
        self.counters.lock().unwrap().get(&addr).map_or(0, |c| c.load(Ordering::Acquire))
    }

    /// Forgets idle counters of backends no longer routed to.
    pub fn retain_routed(&self, routed: impl Fn(&SocketAddr) -> bool) {
        self.counters.lock().unwrap().retain(|addr, c| routed(addr) || c.load(Ordering::Acquire) > 0);
    }
}

/// Counts one request (or tunnel) while alive.
pub struct InFlight(Counter);

impl InFlight {
    pub fn enter(counter: &Counter) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An upstream response body that holds its request's [`InFlight`] until the
/// body is finished or dropped (a streaming response counts until its end).
pub struct TrackedBody {
    inner: Incoming,
    _in_flight: Option<InFlight>,
}

impl TrackedBody {
    pub fn new(inner: Incoming, in_flight: Option<InFlight>) -> Self {
        Self { inner, _in_flight: in_flight }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self._in_flight = None;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_and_release() {
        let registry = Registry::default();
        let addr: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let counter = registry.counter(addr);
        let a = InFlight::enter(&counter);
        let b = InFlight::enter(&registry.counter(addr));
        assert_eq!(registry.count(addr), 2);
        drop(a);
        assert_eq!(registry.count(addr), 1);
        registry.retain_routed(|_| false);
        assert_eq!(registry.count(addr), 1, "busy counters are kept while draining");
        drop(b);
        registry.retain_routed(|_| false);
        assert_eq!(registry.count(addr), 0);
    }
}
