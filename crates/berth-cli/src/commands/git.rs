//! `git:remote` and the server-side `pre-receive` hook.

use std::io::{Read, Write};
use std::process::Command;

use super::app_path;
use crate::{CliError, Client};

/// `berth git:remote -a APP [-r NAME]`: points a git remote at the app.
pub async fn remote(client: &Client, app: &str, name: &str) -> Result<(), CliError> {
    let info: berth_core::api::App = client.get(&app_path(app)?).await?;
    let exists = Command::new("git")
        .args(["remote", "get-url", name])
        .output()
        .map(|o| o.status.success())
        .map_err(|e| CliError::new(format!("cannot run git: {e}")).hint("install git"))?;
    let action = if exists { "set-url" } else { "add" };
    let out = Command::new("git")
        .args(["remote", action, name, &info.git_url])
        .output()
        .map_err(|e| CliError::new(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(CliError::new(String::from_utf8_lossy(&out.stderr).trim().to_string())
            .hint("run this inside a git repository (git init)"));
    }
    println!("set git remote {name} to {}", info.git_url);
    eprintln!("Push with `git push {name} main`; git asks for a password: use your API token");
    eprintln!("(store it once with `git config --global credential.helper store`).");
    Ok(())
}

/// The last line of the build stream (see berth-server's deploy module).
const RESULT_PREFIX: &str = "__BERTH_RESULT__ ";

/// Run by git as the app repository's `pre-receive` hook (env set by the server).
/// Archives the pushed main/master revision, sends it to the server's build
/// endpoint and relays the build output; a failed build rejects the push.
pub async fn pre_receive() -> Result<(), CliError> {
    let env = |name: &str| {
        std::env::var(name)
            .map_err(|_| CliError::new(format!("{name} is not set: this hook runs from git on the Berth server")))
    };
    let (url, secret, app) = (env("BERTH_HOOK_URL")?, env("BERTH_HOOK_SECRET")?, env("BERTH_APP")?);
    let user = std::env::var("BERTH_USER").unwrap_or_default();

    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).map_err(|e| CliError::new(format!("reading refs: {e}")))?;
    let mut target = None;
    for line in input.lines() {
        let mut parts = line.split_whitespace();
        let (Some(_old), Some(new), Some(reference)) = (parts.next(), parts.next(), parts.next()) else { continue };
        if new.bytes().all(|b| b == b'0') {
            continue; // a branch deletion deploys nothing
        }
        match reference {
            "refs/heads/main" => target = Some(new.to_string()),
            "refs/heads/master" if target.is_none() => target = Some(new.to_string()),
            other => eprintln!("-----> Pushed {other}; only main or master are deployed"),
        }
    }
    let Some(rev) = target else { return Ok(()) };

    let archive = Command::new("git")
        .args(["archive", "--format=tar", &rev])
        .output()
        .map_err(|e| CliError::new(format!("git archive failed: {e}")))?;
    if !archive.status.success() {
        return Err(CliError::new(format!("git archive failed: {}", String::from_utf8_lossy(&archive.stderr))));
    }
    // The image is keyed by the tree, so the same source never builds twice.
    let tree = Command::new("git")
        .args(["rev-parse", &format!("{rev}^{{tree}}")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let endpoint = format!("{url}/internal/hooks/build");
    let mut response = reqwest::Client::new()
        .post(endpoint)
        .query(&[("app", app.as_str()), ("rev", rev.as_str()), ("tree", tree.as_str()), ("user", user.as_str())])
        .header("x-berth-hook-secret", secret)
        .body(archive.stdout)
        .send()
        .await
        .map_err(|e| CliError::new(format!("cannot reach the Berth build service: {e}")))?;
    if !response.status().is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(CliError::new(format!("build request refused: {}", body.trim())));
    }
    // Relay lines as they come; git shows them as `remote: ...`.
    let mut pending = String::new();
    let mut result = None;
    let mut stderr = std::io::stderr();
    while let Some(chunk) = response.chunk().await.map_err(|e| CliError::new(format!("build stream broke: {e}")))? {
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(pos) = pending.find('\n') {
            let line: String = pending.drain(..=pos).collect();
            let line = line.trim_end_matches('\n');
            match line.strip_prefix(RESULT_PREFIX) {
                Some(outcome) => result = Some(outcome.to_string()),
                None => {
                    let _ = writeln!(stderr, "{line}");
                }
            }
        }
    }
    match result.as_deref() {
        Some("ok") => Ok(()),
        _ => Err(CliError::new("push rejected: the build or release failed (see above)")),
    }
}
