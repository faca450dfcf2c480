//! `deploy DIR`, `builds`, `builds:info`, `builds:cache:purge`.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};

use super::app_path;
use crate::output;
use crate::{CliError, Client};

/// The server refuses larger sources; fail early with the same limit.
const MAX_SOURCE_BYTES: u64 = 200 * 1024 * 1024;

/// Packs `dir` as .tar.gz, honouring .gitignore and .slugignore, without `.git`.
fn pack(dir: &Path) -> Result<Vec<u8>, CliError> {
    let io = |e: std::io::Error| CliError::new(format!("packing {}: {e}", dir.display()));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    let walker = ignore::WalkBuilder::new(dir)
        .hidden(false)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .parents(false)
        .add_custom_ignore_filename(".slugignore")
        .filter_entry(|e| e.file_name() != ".git")
        .build();
    let mut total = 0u64;
    for entry in walker {
        let entry = entry.map_err(|e| CliError::new(format!("reading {}: {e}", dir.display())))?;
        let path = entry.path();
        let Ok(rel) = path.strip_prefix(dir) else { continue };
        if rel.as_os_str().is_empty() || entry.file_type().is_some_and(|t| t.is_dir()) {
            continue;
        }
        total += entry.metadata().map(|m| m.len()).unwrap_or(0);
        if total > MAX_SOURCE_BYTES {
            return Err(CliError::new(format!("{} is larger than {MAX_SOURCE_BYTES} bytes", dir.display()))
                .hint("list build artefacts and data in .slugignore"));
        }
        tar.append_path_with_name(path, rel).map_err(io)?;
    }
    tar.into_inner().map_err(io)?.finish().map_err(io)
}

pub async fn deploy_dir(client: &Client, app: &str, dir: Option<&Path>) -> Result<(), CliError> {
    let dir = dir.unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(CliError::new(format!("{} is not a directory", dir.display())));
    }
    eprint!("Packing {}... ", dir.display());
    let blob = pack(dir)?;
    eprintln!("{:.1} MB", blob.len() as f64 / 1e6);
    let source: Value = client.post(&format!("{}/sources", app_path(app)?), &json!({})).await?;
    let put_url = source["source_blob"]["put_url"].as_str().unwrap_or_default().to_string();
    client.put_bytes(&put_url, blob).await?;
    let version = format!("upload-{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
    let build: Value = client
        .post(&format!("{}/builds", app_path(app)?), &json!({ "source_blob": { "url": put_url, "version": version } }))
        .await?;
    let id = build["id"].as_str().unwrap_or_default().to_string();
    let stream_url = build["output_stream_url"].as_str().unwrap_or_default().to_string();
    client
        .stream_text(&stream_url, |chunk| {
            let mut stderr = std::io::stderr();
            let _ = stderr.write_all(chunk.as_bytes());
        })
        .await?;
    let done: Value = client.get(&format!("{}/builds/{id}", app_path(app)?)).await?;
    match done["status"].as_str() {
        Some("succeeded") => Ok(()),
        _ => Err(CliError::new("the build failed; the running release is unchanged")
            .hint(format!("`berth builds:info {id} -a {app}` shows its output again"))),
    }
}

pub async fn list(client: &Client, app: &str, json: bool) -> Result<(), CliError> {
    let mut builds: Vec<Value> = client.get(&format!("{}/builds", app_path(app)?)).await?;
    builds.reverse();
    if json {
        output::json(&builds);
        return Ok(());
    }
    output::header(&format!("{app} Builds"));
    let rows = builds
        .iter()
        .map(|b| {
            let s = |k: &str| b[k].as_str().unwrap_or_default().to_string();
            let release = b["release"]["version"].as_i64().map(|v| format!("v{v}")).unwrap_or_default();
            vec![
                s("id"),
                s("status"),
                b["source_blob"]["version"].as_str().unwrap_or("").to_string(),
                release,
                output::age(&s("created_at")),
            ]
        })
        .collect();
    output::table(&["ID", "STATUS", "VERSION", "RELEASE", "CREATED"], rows);
    Ok(())
}

pub async fn info(client: &Client, app: &str, build: Option<String>, json: bool) -> Result<(), CliError> {
    let id = match build {
        Some(id) => id,
        None => {
            let builds: Vec<Value> = client.get(&format!("{}/builds", app_path(app)?)).await?;
            builds.last().and_then(|b| b["id"].as_str()).map(str::to_string).ok_or_else(|| {
                CliError::new(format!("{app} has no builds yet")).hint("deploy with `git push` or `berth deploy`")
            })?
        }
    };
    if !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(
            CliError::new(format!("{id:?} is not a build id")).hint(format!("`berth builds -a {app}` lists them"))
        );
    }
    let build: Value = client.get(&format!("{}/builds/{id}", app_path(app)?)).await?;
    if json {
        output::json(&build);
        return Ok(());
    }
    output::header(&format!("Build {id}"));
    let s = |k: &str| build[k].as_str().unwrap_or_default().to_string();
    output::key_values(&[
        ("Status", s("status")),
        ("Version", build["source_blob"]["version"].as_str().unwrap_or("").to_string()),
        ("Release", build["release"]["version"].as_i64().map(|v| format!("v{v}")).unwrap_or_else(|| "none".into())),
        ("By", build["user"]["email"].as_str().unwrap_or("").to_string()),
        ("Created", s("created_at")),
    ]);
    println!();
    print!("{}", s("output"));
    Ok(())
}

pub async fn purge(client: &Client, app: &str, confirm: Option<String>) -> Result<(), CliError> {
    if confirm.as_deref() != Some(app) {
        return Err(CliError::new(format!("this empties the build cache of {app}; the next build is slower"))
            .hint(format!("confirm with `berth builds:cache:purge -a {app} --confirm {app}`")));
    }
    let _: Value = client.delete(&format!("{}/build-cache", app_path(app)?)).await?;
    println!("Build cache of {app} purged.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn pack_honours_gitignore_and_slugignore_and_skips_git() {
        let dir = std::env::temp_dir().join(format!("berth-pack-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, content) in [
            ("app.py", "print(1)"),
            (".gitignore", "secret.env\n"),
            (".slugignore", "docs/\n"),
            ("secret.env", "X=1"),
            ("docs/manual.txt", "long"),
            (".git/config", "[core]"),
            (".profile.d/x.sh", "export A=1"),
        ] {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, content).unwrap();
        }
        let blob = pack(&dir).unwrap();
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(blob.as_slice()).read_to_end(&mut tar).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut names: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        names.sort();
        assert_eq!(names, vec![".gitignore", ".profile.d/x.sh", ".slugignore", "app.py"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
