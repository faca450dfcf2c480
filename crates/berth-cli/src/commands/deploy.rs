use berth_core::api::{CreateRelease, Release};
use berth_core::procfile::parse_entry;
use berth_core::ProcessTypes;

use super::app_path;
use crate::{CliError, Client};

/// `berth deploy --image IMAGE [--process TYPE=COMMAND]…`
pub async fn image(client: &Client, app: &str, image: &str, processes: &[String]) -> Result<(), CliError> {
    let process_types = {
        let mut types = ProcessTypes::new();
        for entry in processes {
            let (name, command) = parse_entry(entry).map_err(|e| {
                CliError::new(format!("--process {entry:?}: {e}"))
                    .hint("e.g. --process 'web=python3 -m http.server $PORT'")
            })?;
            if types.insert(name.clone(), command).is_some() {
                return Err(CliError::new(format!("--process {name} is given twice")));
            }
        }
        // `web` always exists: without `--process web=…` it runs the image's own entrypoint/cmd.
        types.entry("web".to_string()).or_default();
        Some(types)
    };
    eprint!("Deploying {image} to {app}... ");
    let body = CreateRelease { image: Some(image.to_string()), process_types, ..Default::default() };
    let release: Release =
        client.post(&format!("{}/releases", app_path(app)?), &body).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done, v{}", release.version);
    super::rollout::follow(client, app, release.version).await
}
