//! Labels of one-off containers: they keep them apart from the reconciler's instances.

/// Set (to the server's namespace) on one-off containers *instead of*
/// `io.berth.namespace`, so the reconciler, which lists by that label, never
/// adopts, counts or stops them. They carry `io.berth.app`/`app-id`/`dyno`, so
/// `berth ps` lists them and `apps:destroy` removes them.
pub const NAMESPACE: &str = "io.berth.one-off.namespace";
/// `attached` (a `berth run` session) or `detached` (`run:detached`: output to the logs).
pub const MODE: &str = "io.berth.one-off.mode";
pub const ATTACHED: &str = "attached";
pub const DETACHED: &str = "detached";
/// Unix time after which the one-off is killed (its max runtime).
pub const DEADLINE: &str = "io.berth.one-off.deadline";
/// The command line, for `berth ps`.
pub const COMMAND: &str = "io.berth.one-off.command";
/// The dyno size, for `berth ps`.
pub const SIZE: &str = "io.berth.one-off.size";
