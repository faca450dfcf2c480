//! Buildpack builds (the Heroku buildpack API) on the build stack.
//!
//! The source is unpacked into a host work dir that a build container from
//! `berth/stack:trixie-build` mounts at `/app` — the path the app runs at — so
//! absolute paths (venvs, node_modules/.bin) stay valid. Buildpacks are tried in
//! order (`bin/detect`); the first match compiles (`bin/compile /app /cache
//! /env`, as uid 1000) and `bin/release` names default process types. The
//! result (the slug) is copied into an image built FROM `berth/stack:trixie`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_core::buildpack::BuildpackRef;
use berth_core::ProcessTypes;
use berth_runtime::{JobSpec, Runtime};
use tokio::sync::mpsc::UnboundedSender;

use crate::{BuildError, SourceArchive, MAX_SOURCE_BYTES};

pub const BUILD_IMAGE: &str = "berth/stack:trixie-build";
pub const RUN_IMAGE: &str = "berth/stack:trixie";
/// Detection order of the built-in buildpacks.
pub const BUILTIN_ORDER: &[&str] = &["python", "nodejs", "go", "static", "procfile"];
const APP_UID: u32 = 1000;
const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

static EMBEDDED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/buildpacks.tar"));

/// Writes the built-in buildpacks (embedded in the binary) to `dest`, replacing
/// what is there, so the server always runs the buildpacks it was built with.
pub fn install_builtin(dest: &Path) -> io::Result<()> {
    if dest.exists() {
        std::fs::remove_dir_all(dest)?;
    }
    std::fs::create_dir_all(dest)?;
    let mut archive = tar::Archive::new(EMBEDDED);
    archive.set_preserve_permissions(true);
    archive.unpack(dest)
}

/// Where and how a buildpack build runs.
pub struct BuildpackJob<'a> {
    pub runtime: &'a dyn Runtime,
    /// Scratch dir on the host for this build (removed by the caller).
    pub work_dir: PathBuf,
    /// Per-app cache dir on the host, kept between builds.
    pub cache_dir: PathBuf,
    /// Host dir holding the buildpack directories.
    pub buildpacks_dir: PathBuf,
    /// Config vars, given to buildpacks as ENV_DIR files.
    pub env: BTreeMap<String, String>,
    pub job_name: String,
    pub labels: BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_bytes: u64,
    /// CA bundle mounted as the build's system bundle (host bundle + extra CAs).
    pub ca_bundle: PathBuf,
    /// The app's chosen buildpacks, in order; empty: detect among the built-ins.
    pub buildpacks: Vec<BuildpackRef>,
}

/// Writes the CA bundle builds trust: the host's bundle plus `extra` PEM files
/// (for TLS-intercepting proxies). Fails on files that hold no certificate.
pub fn write_ca_bundle(dest: &Path, extra: &[PathBuf]) -> io::Result<()> {
    let mut bundle = std::fs::read(HOST_CA_BUNDLE).unwrap_or_default();
    for file in extra {
        let pem = std::fs::read(file).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file.display())))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", file.display()),
            ));
        }
        if !bundle.ends_with(b"\n") && !bundle.is_empty() {
            bundle.push(b'\n');
        }
        bundle.extend_from_slice(&pem);
    }
    std::fs::write(dest, bundle)
}

/// A compiled app: the slug dir on the host and what `bin/release` proposed.
pub struct Slug {
    pub dir: PathBuf,
    pub default_process_types: ProcessTypes,
}

const BUILD_SCRIPT: &str = r#"set -eo pipefail
if [ "$BERTH_BUILDPACK_MODE" = all ]; then
  # Buildpacks chosen for the app: each must accept it, all compile in order.
  i=0
  for bp in $BERTH_BUILDPACKS; do
    if ! name=$("$bp/bin/detect" /app); then
      echo " !     Buildpack ${bp##*/} did not detect this app (its bin/detect failed)."
      exit 65
    fi
    echo "-----> ${name:-${bp##*/}} app detected"
    "$bp/bin/compile" /app /cache /env
    if [ -x "$bp/bin/release" ]; then "$bp/bin/release" /app > "/out/release-$i.yml"; fi
    i=$((i + 1))
  done
  exit 0
fi
chosen=""
for bp in $BERTH_BUILDPACKS; do
  if name=$("$bp/bin/detect" /app 2>/dev/null); then chosen=$bp; break; fi
done
if [ -z "$chosen" ]; then
  echo " !     No buildpack detected this app."
  echo " !     Add a requirements.txt, package.json, go.mod, index.html, a Procfile or a Dockerfile."
  exit 64
fi
echo "-----> ${name:-${chosen##*/}} app detected"
"$chosen/bin/compile" /app /cache /env
if [ -x "$chosen/bin/release" ]; then "$chosen/bin/release" /app > /out/release-0.yml; fi
"#;

impl BuildpackJob<'_> {
    pub async fn compile(&self, source: SourceArchive, progress: UnboundedSender<String>) -> Result<Slug, BuildError> {
        let io_err = |what: &str, e: io::Error| BuildError::Io(format!("{what}: {e}"));
        let app_dir = self.work_dir.join("app");
        let env_dir = self.work_dir.join("env");
        let out_dir = self.work_dir.join("out");
        for dir in [&app_dir, &env_dir, &out_dir, &self.cache_dir] {
            std::fs::create_dir_all(dir).map_err(|e| io_err("creating build dirs", e))?;
        }
        let tar = source.into_tar();
        let mut archive = tar::Archive::new(tar.as_slice());
        // The archive was checked (no traversal, no links out, no devices).
        archive.unpack(&app_dir).map_err(|e| io_err("unpacking the source", e))?;
        for (key, value) in &self.env {
            std::fs::write(env_dir.join(key), value).map_err(|e| io_err("writing ENV_DIR", e))?;
        }
        for dir in [&app_dir, &env_dir, &out_dir, &self.cache_dir] {
            chown_tree(dir).map_err(|e| io_err("handing the build dirs to the build user", e))?;
        }

        let custom_dir = self.work_dir.join("custom");
        let (paths, mode) = if self.buildpacks.is_empty() {
            (BUILTIN_ORDER.iter().map(|n| format!("/buildpacks/{n}")).collect::<Vec<_>>(), "detect")
        } else {
            let _ = progress.send("-----> Fetching buildpacks".to_string());
            let mut paths = Vec::new();
            for (i, reference) in self.buildpacks.iter().enumerate() {
                paths.push(fetch(reference, &custom_dir.join(i.to_string())).await?);
            }
            (paths, "all")
        };
        let bind = |host: &Path, guest: &str, ro: bool| (host.display().to_string(), guest.to_string(), ro);
        let mut binds = vec![
            bind(&app_dir, "/app", false),
            bind(&self.cache_dir, "/cache", false),
            bind(&env_dir, "/env", true),
            bind(&out_dir, "/out", false),
            bind(&self.buildpacks_dir, "/buildpacks", true),
        ];
        if custom_dir.exists() {
            binds.push(bind(&custom_dir, "/custom-buildpacks", true));
        }
        // Builds verify TLS with the host's CA bundle plus configured extra CAs.
        if self.ca_bundle.exists() {
            binds.push(bind(&self.ca_bundle, HOST_CA_BUNDLE, true));
        }
        let env = [
            ("HOME", "/app"),
            ("STACK", "trixie"),
            ("BERTH_BUILDPACKS", &paths.join(" ")),
            ("BERTH_BUILDPACK_MODE", mode),
            ("SSL_CERT_FILE", HOST_CA_BUNDLE),
            ("PIP_CERT", HOST_CA_BUNDLE),
            ("REQUESTS_CA_BUNDLE", HOST_CA_BUNDLE),
            ("NODE_EXTRA_CA_CERTS", HOST_CA_BUNDLE),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let spec = JobSpec {
            name: self.job_name.clone(),
            image: BUILD_IMAGE.to_string(),
            command: vec!["/bin/bash".into(), "-c".into(), BUILD_SCRIPT.into()],
            env,
            user: Some(format!("{APP_UID}:{APP_UID}")),
            network: None,
            binds,
            labels: self.labels.clone(),
            memory_bytes: self.memory_bytes,
            timeout: self.timeout,
        };
        let code = self.runtime.run_job(&spec, progress).await?;
        if code != 0 {
            return Err(BuildError::CompileFailed(code));
        }
        // Later buildpacks' defaults win (Heroku's multi-buildpack rule).
        let mut default_process_types = ProcessTypes::new();
        for i in 0..paths.len() {
            let release = std::fs::read_to_string(out_dir.join(format!("release-{i}.yml"))).unwrap_or_default();
            default_process_types.extend(parse_release_yaml(&release));
        }
        Ok(Slug { dir: app_dir, default_process_types })
    }
}

/// Fetches a buildpack into `dest` (a fresh dir); returns its path in the build container.
async fn fetch(reference: &BuildpackRef, dest: &Path) -> Result<String, BuildError> {
    let index = dest.file_name().and_then(|n| n.to_str()).unwrap_or("0").to_string();
    let failed = |what: String| BuildError::Buildpack(what);
    match reference {
        BuildpackRef::Builtin(name) => return Ok(format!("/buildpacks/{name}")),
        BuildpackRef::Git { url, reference } => {
            let mut git = tokio::process::Command::new("git");
            git.args(["clone", "--quiet", "--depth", "1"]);
            if let Some(r) = reference {
                git.args(["--branch", r]);
            }
            let out = git
                .arg("--")
                .arg(url)
                .arg(dest)
                .env("GIT_TERMINAL_PROMPT", "0")
                .output()
                .await
                .map_err(|e| failed(format!("cannot run git: {e}")))?;
            if !out.status.success() {
                return Err(failed(format!("git clone {url}: {}", String::from_utf8_lossy(&out.stderr).trim())));
            }
        }
        BuildpackRef::Tarball(url) => {
            let out = tokio::process::Command::new("curl")
                .args(["-fsSL", "--max-filesize", "104857600", "--max-time", "300", "--", url])
                .output()
                .await
                .map_err(|e| failed(format!("cannot run curl: {e}")))?;
            if !out.status.success() {
                return Err(failed(format!("downloading {url}: {}", String::from_utf8_lossy(&out.stderr).trim())));
            }
            let mut tar = out.stdout;
            if tar.starts_with(&[0x1f, 0x8b]) {
                let mut plain = Vec::new();
                use std::io::Read;
                flate2::read::GzDecoder::new(tar.as_slice())
                    .take(MAX_SOURCE_BYTES as u64)
                    .read_to_end(&mut plain)
                    .map_err(|e| failed(format!("{url} is not a valid .tar.gz: {e}")))?;
                tar = plain;
            }
            // Same checks as app sources: no traversal, no links out, no devices.
            let archive = SourceArchive::from_tar(tar, MAX_SOURCE_BYTES)?;
            std::fs::create_dir_all(dest).map_err(|e| failed(e.to_string()))?;
            tar::Archive::new(archive.into_tar().as_slice()).unpack(dest).map_err(|e| failed(e.to_string()))?;
        }
        BuildpackRef::Local(path) => {
            std::fs::create_dir_all(dest).map_err(|e| failed(e.to_string()))?;
            let out = tokio::process::Command::new("cp")
                .args(["-R", "--no-dereference", "--"])
                .arg(format!("{path}/."))
                .arg(dest)
                .output()
                .await
                .map_err(|e| failed(format!("cannot copy {path}: {e}")))?;
            if !out.status.success() {
                return Err(failed(format!("copying {path}: {}", String::from_utf8_lossy(&out.stderr).trim())));
            }
        }
    }
    // Tarballs from code hosts wrap everything in one top-level directory.
    let root = match single_subdir(dest) {
        Some(sub) if !dest.join("bin").exists() => sub,
        _ => dest.to_path_buf(),
    };
    if !root.join("bin/detect").is_file() || !root.join("bin/compile").is_file() {
        return Err(failed(format!("{reference:?} is not a buildpack: it has no bin/detect and bin/compile")));
    }
    let inner = root.strip_prefix(dest).unwrap_or(Path::new("")).display().to_string();
    Ok(if inner.is_empty() {
        format!("/custom-buildpacks/{index}")
    } else {
        format!("/custom-buildpacks/{index}/{inner}")
    })
}

fn single_subdir(dir: &Path) -> Option<PathBuf> {
    let entries: Vec<_> = std::fs::read_dir(dir).ok()?.filter_map(Result::ok).collect();
    match entries.as_slice() {
        [only] if only.path().is_dir() => Some(only.path()),
        _ => None,
    }
}

/// Makes the run image: the slug copied to /app on the run stack, owned by `app`.
pub async fn build_run_image(
    runtime: &dyn Runtime,
    slug: &Path,
    tag: &str,
    labels: &BTreeMap<String, String>,
    progress: UnboundedSender<String>,
) -> Result<(), BuildError> {
    let dockerfile = format!(
        "FROM {RUN_IMAGE}\nCOPY --chown={APP_UID}:{APP_UID} app/ /app/\nUSER {APP_UID}\nWORKDIR /app\nENV HOME=/app\n"
    );
    let mut context = tar::Builder::new(Vec::new());
    context.follow_symlinks(false);
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let io_err = |e: io::Error| BuildError::Io(format!("packing the slug: {e}"));
    context.append_data(&mut header, "Dockerfile", dockerfile.as_bytes()).map_err(io_err)?;
    context.append_dir_all("app", slug).map_err(io_err)?;
    let context = context.into_inner().map_err(io_err)?;
    let _ = progress.send(format!("-----> Compressing... {:.1} MB slug", context.len() as f64 / 1e6));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    // The image build's own steps are noise here; keep only errors.
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let result = runtime.build_image(context, "Dockerfile", tag, labels, tx).await;
    let _ = drain.await;
    result.map_err(BuildError::from)
}

/// Reads `default_process_types` from `bin/release` output (a tiny YAML subset:
/// `default_process_types:` followed by indented `name: command` lines).
pub fn parse_release_yaml(text: &str) -> ProcessTypes {
    let mut types = ProcessTypes::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') || line.trim() == "---" {
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if !indented {
            inside = line.trim_end() == "default_process_types:";
            continue;
        }
        if inside {
            if let Some((name, command)) = line.trim().split_once(':') {
                let command = command.trim().trim_matches(|c| c == '"' || c == '\'');
                if berth_core::validate_process_type(name.trim()).is_ok() && !command.is_empty() {
                    types.insert(name.trim().to_string(), command.to_string());
                }
            }
        }
    }
    types
}

fn chown_tree(root: &Path) -> io::Result<()> {
    std::os::unix::fs::lchown(root, Some(APP_UID), Some(APP_UID))?;
    if root.is_dir() && !root.is_symlink() {
        for entry in std::fs::read_dir(root)? {
            chown_tree(&entry?.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_yaml_defaults() {
        let yaml = "---\naddons: []\ndefault_process_types:\n  web: npm start\n  worker: 'node worker.js'\nconfig_vars:\n  X: y\n";
        let types = parse_release_yaml(yaml);
        assert_eq!(types.len(), 2);
        assert_eq!(types["web"], "npm start");
        assert_eq!(types["worker"], "node worker.js");
        assert!(parse_release_yaml("").is_empty());
        assert!(parse_release_yaml("default_process_types: {}\n").is_empty());
    }

    #[test]
    fn ca_bundle_adds_extra_pems_and_rejects_junk() {
        let dir = std::env::temp_dir().join(format!("berth-ca-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem = dir.join("corp.pem");
        std::fs::write(&pem, "-----BEGIN CERTIFICATE-----\nMIIBcorp\n-----END CERTIFICATE-----\n").unwrap();
        let bundle = dir.join("bundle.pem");
        write_ca_bundle(&bundle, std::slice::from_ref(&pem)).unwrap();
        let text = std::fs::read_to_string(&bundle).unwrap();
        assert!(text.ends_with("-----END CERTIFICATE-----\n") && text.contains("MIIBcorp"));
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let err = write_ca_bundle(&bundle, &[junk]).unwrap_err().to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn builtin_buildpacks_are_embedded_and_install() {
        let dir = std::env::temp_dir().join(format!("berth-bp-test-{}", std::process::id()));
        install_builtin(&dir).unwrap();
        for name in BUILTIN_ORDER {
            let detect = dir.join(name).join("bin/detect");
            if detect.exists() {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&detect).unwrap().permissions().mode();
                assert!(mode & 0o111 != 0, "{name}/bin/detect must stay executable");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
