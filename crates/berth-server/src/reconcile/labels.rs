//! Container labels and names: how the reconciler recognises its instances.

pub const NAMESPACE: &str = "io.berth.namespace";
pub const APP: &str = "io.berth.app";
pub const APP_ID: &str = "io.berth.app-id";
pub const RELEASE: &str = "io.berth.release";
pub const PROCESS: &str = "io.berth.process";
pub const INDEX: &str = "io.berth.index";
pub const GENERATION: &str = "io.berth.generation";
pub const DYNO: &str = "io.berth.dyno";

/// Labels of images built by Berth (distinct from instance labels on purpose).
pub const IMAGE_NAMESPACE: &str = "io.berth.image.namespace";
pub const IMAGE_APP: &str = "io.berth.image.app";

/// The app's private bridge network.
pub fn network_name(namespace: &str, app: &str) -> String {
    format!("{namespace}-{app}")
}

/// A unique container name: `berth-web1-web.1-3fa9c2`. The suffix lets a
/// replacement start next to the instance it replaces.
pub fn container_name(namespace: &str, app: &str, dyno: &str) -> String {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    format!("{namespace}-{app}-{dyno}-{suffix}")
}
