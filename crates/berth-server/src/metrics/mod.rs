//! Metrics: instance resource samples ([`sampler`]), the router's per-app
//! counters, and their Prometheus text rendering ([`prometheus`]).

pub mod prometheus;
pub mod sampler;

pub use sampler::Sampler;

/// An instance sample as the dyno JSON shows it.
pub fn usage(stats: berth_runtime::InstanceStats) -> berth_core::api::DynoUsage {
    berth_core::api::DynoUsage {
        cpu_percent: (stats.cpu_percent * 10.0).round() / 10.0,
        memory_bytes: stats.memory_bytes,
        memory_limit_bytes: stats.memory_limit_bytes,
    }
}
