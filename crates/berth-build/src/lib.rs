//! Source → image. A build takes an uncompressed tar of the app's source (from
//! `git archive` or an upload), checks it ([`SourceArchive`]), and builds it:
//! with its own `Dockerfile` when it has one, otherwise with buildpacks on the
//! build stack ([`buildpacks`]). It never talks to the store.

mod archive;
pub mod buildpacks;

use berth_core::procfile::{parse_procfile, ProcfileError};
use berth_core::ProcessTypes;
use berth_runtime::RuntimeError;
use thiserror::Error;
use tokio::sync::mpsc::UnboundedSender;

pub use archive::{ArchiveError, SourceArchive, MAX_SOURCE_BYTES};
pub use buildpacks::BuildpackJob;

/// Image label holding the release's process types (JSON), so a rebuilt-from-
/// cache deploy of the same source knows them without compiling again.
pub const PROCESS_TYPES_LABEL: &str = "io.berth.image.process-types";

#[derive(Debug, Error)]
pub enum BuildError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Procfile(#[from] ProcfileError),
    #[error("buildpack compile failed (exit code {0})")]
    CompileFailed(i64),
    #[error("no process types: add a Procfile (e.g. `web: python3 app.py`) so Berth knows what to run")]
    NoProcessTypes,
    #[error("{0}")]
    Io(String),
    #[error("buildpack: {0}")]
    Buildpack(String),
    #[error("{DOCKERFILE_CONFIG_VAR} names {0:?}, which is not a file in the source; fix the path or unset it")]
    MissingDockerfile(String),
    #[error("{0}")]
    Runtime(#[from] RuntimeError),
}

/// How a source tree becomes an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildMethod {
    Dockerfile,
    Buildpacks,
}

/// What a successful build hands to the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    pub image: String,
    pub process_types: ProcessTypes,
    /// False when the image for this exact source already existed.
    pub built: bool,
}

/// Config var naming the Dockerfile (relative path) when it is not `Dockerfile`.
pub const DOCKERFILE_CONFIG_VAR: &str = "BERTH_DOCKERFILE";

/// A Dockerfile build when the source has `dockerfile`, else buildpacks.
pub fn detect(source: &SourceArchive, dockerfile: &str) -> BuildMethod {
    if source.contains_file(dockerfile) {
        BuildMethod::Dockerfile
    } else {
        BuildMethod::Buildpacks
    }
}

/// The Procfile's process types, if the source has a Procfile.
pub fn procfile(source: &SourceArchive) -> Result<Option<ProcessTypes>, BuildError> {
    match source.read_file("Procfile")? {
        Some(text) => Ok(Some(parse_procfile(&String::from_utf8_lossy(&text))?)),
        None => Ok(None),
    }
}

/// Builds `source` into the image `tag`, reusing it if it already exists (the
/// tag names the exact source tree). Output lines go to `progress`.
pub async fn build(
    job: &BuildpackJob<'_>,
    source: SourceArchive,
    tag: &str,
    progress: UnboundedSender<String>,
) -> Result<BuiltImage, BuildError> {
    let runtime = job.runtime;
    let dockerfile = job.env.get(DOCKERFILE_CONFIG_VAR).map(String::as_str).unwrap_or("Dockerfile");
    if job.env.contains_key(DOCKERFILE_CONFIG_VAR) && !source.contains_file(dockerfile) {
        return Err(BuildError::MissingDockerfile(dockerfile.to_string()));
    }
    let method = detect(&source, dockerfile);
    let procfile = procfile(&source)?;
    if let Some(labels) = runtime.image_labels(tag).await? {
        let _ = progress.send(format!("-----> Image {tag} already built for this source; reusing it"));
        let process_types = labels
            .get(PROCESS_TYPES_LABEL)
            .and_then(|json| serde_json::from_str(json).ok())
            .or(procfile)
            .unwrap_or_else(image_default_web);
        return Ok(BuiltImage { image: tag.to_string(), process_types, built: false });
    }
    let mut labels = job.labels.clone();
    let process_types = match method {
        BuildMethod::Dockerfile => {
            let _ = progress.send(format!("-----> Building {dockerfile}"));
            let process_types = procfile.filter(|p| !p.is_empty()).unwrap_or_else(image_default_web);
            labels.insert(PROCESS_TYPES_LABEL.into(), json(&process_types));
            runtime.build_image(source.into_tar(), dockerfile, tag, &labels, progress).await?;
            process_types
        }
        BuildMethod::Buildpacks => {
            let slug = job.compile(source, progress.clone()).await?;
            // The Procfile wins; buildpack defaults fill in the rest (Heroku's rule).
            let mut process_types = slug.default_process_types;
            process_types.extend(procfile.unwrap_or_default());
            if process_types.is_empty() {
                return Err(BuildError::NoProcessTypes);
            }
            labels.insert(PROCESS_TYPES_LABEL.into(), json(&process_types));
            buildpacks::build_run_image(runtime, &slug.dir, tag, &labels, progress).await?;
            process_types
        }
    };
    Ok(BuiltImage { image: tag.to_string(), process_types, built: true })
}

/// `web` running the image's own command (Dockerfile apps without a Procfile).
fn image_default_web() -> ProcessTypes {
    ProcessTypes::from([("web".into(), String::new())])
}

fn json(types: &ProcessTypes) -> String {
    serde_json::to_string(types).unwrap_or_default()
}
