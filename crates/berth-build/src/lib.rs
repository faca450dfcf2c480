//! Source → image. A build takes an uncompressed tar of the app's source (from
//! `git archive` or an upload), checks it ([`SourceArchive`]), decides how to
//! build it, and produces an image plus the release's process types.
//!
//! Today: sources with a `Dockerfile` are built as is by the engine. Buildpack
//! builds (Heroku buildpack API on the build stack) are the next step.

mod archive;

use std::collections::BTreeMap;

use berth_core::procfile::{parse_procfile, ProcfileError};
use berth_core::ProcessTypes;
use berth_runtime::{Runtime, RuntimeError};
use thiserror::Error;
use tokio::sync::mpsc::UnboundedSender;

pub use archive::{ArchiveError, SourceArchive, MAX_SOURCE_BYTES};

#[derive(Debug, Error)]
pub enum BuildError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Procfile(#[from] ProcfileError),
    #[error("no Dockerfile found: buildpack builds are not supported yet; add a Dockerfile (e.g. `FROM berth/stack:trixie`) to the root of the repo")]
    NoBuildMethod,
    #[error("{0}")]
    Runtime(#[from] RuntimeError),
}

/// How a source tree becomes an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildMethod {
    Dockerfile,
}

/// What a successful build hands to the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    pub image: String,
    pub process_types: ProcessTypes,
    /// False when the image for this exact source already existed.
    pub built: bool,
}

pub fn detect(source: &SourceArchive) -> Result<BuildMethod, BuildError> {
    if source.contains_file("Dockerfile") {
        Ok(BuildMethod::Dockerfile)
    } else {
        Err(BuildError::NoBuildMethod)
    }
}

/// The release's process types: the Procfile's, or `web` running the image's
/// own command when there is no Procfile.
pub fn process_types(source: &SourceArchive) -> Result<ProcessTypes, BuildError> {
    match source.read_file("Procfile")? {
        Some(text) => {
            let text = String::from_utf8_lossy(&text);
            let types = parse_procfile(&text)?;
            Ok(if types.is_empty() { ProcessTypes::from([("web".into(), String::new())]) } else { types })
        }
        None => Ok(ProcessTypes::from([("web".into(), String::new())])),
    }
}

/// Builds `source` into the image `tag`, reusing it if it already exists (the
/// tag names the exact source revision). Output lines go to `progress`.
pub async fn build(
    runtime: &dyn Runtime,
    source: SourceArchive,
    tag: &str,
    labels: &BTreeMap<String, String>,
    progress: UnboundedSender<String>,
) -> Result<BuiltImage, BuildError> {
    let method = detect(&source)?;
    let process_types = process_types(&source)?;
    if runtime.image_exists(tag).await? {
        let _ = progress.send(format!("-----> Image {tag} already built for this source; reusing it"));
        return Ok(BuiltImage { image: tag.to_string(), process_types, built: false });
    }
    match method {
        BuildMethod::Dockerfile => {
            let _ = progress.send("-----> Building Dockerfile".to_string());
            runtime.build_image(source.into_tar(), tag, labels, progress).await?;
        }
    }
    Ok(BuiltImage { image: tag.to_string(), process_types, built: true })
}
