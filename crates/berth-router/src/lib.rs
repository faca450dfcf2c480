//! The HTTP data plane: host-based routing to app instances.
//!
//! The control plane pushes a complete [`RouteTable`] whenever instances change;
//! it is swapped in atomically ([`arc_swap`]), so the request path takes no lock,
//! and the router keeps serving the last table on its own if the control plane
//! stalls. Upstream connections are pooled (one shared hyper client).

mod inflight;
mod metered;
pub mod metrics;
mod pages;
mod proxy;
mod table;

pub use metrics::{AccessEntry, AccessLog, AppStats, RouterStats};
pub use proxy::Router;
pub use table::{Backend, RouteTable};
