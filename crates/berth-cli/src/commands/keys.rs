//! `keys`, `keys:add [FILE]`, `keys:remove KEY`: SSH keys for git over SSH.

use std::path::PathBuf;

use berth_core::api_access::{CreateSshKey, SshKey};

use crate::output;
use crate::{CliError, Client};

pub async fn list(client: &Client, json: bool) -> Result<(), CliError> {
    let keys: Vec<SshKey> = client.get("/account/keys").await?;
    if json {
        output::json(&keys);
        return Ok(());
    }
    if keys.is_empty() {
        println!("You have no SSH keys. Add one with `berth keys:add`.");
        return Ok(());
    }
    output::header("SSH Keys");
    let rows =
        keys.iter().map(|k| vec![k.fingerprint.clone(), k.comment.clone(), output::age(&k.created_at)]).collect();
    output::table(&["FINGERPRINT", "COMMENT", "ADDED"], rows);
    Ok(())
}

/// The first of the usual public key files that exists.
fn default_key_file() -> Option<PathBuf> {
    let home = PathBuf::from(std::env::var_os("HOME")?);
    ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"].iter().map(|f| home.join(".ssh").join(f)).find(|p| p.exists())
}

pub async fn add(client: &Client, file: Option<PathBuf>) -> Result<(), CliError> {
    let path = file.or_else(default_key_file).ok_or_else(|| {
        CliError::new("no public key found in ~/.ssh").hint("create one with `ssh-keygen -t ed25519`, or pass FILE")
    })?;
    let text =
        std::fs::read_to_string(&path).map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))?;
    eprint!("Uploading {}... ", path.display());
    let key: SshKey = client
        .post("/account/keys", &CreateSshKey { public_key: text.trim().to_string() })
        .await
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    println!("{} {}", key.fingerprint, key.comment);
    Ok(())
}

pub async fn remove(client: &Client, key: &str) -> Result<(), CliError> {
    if key.is_empty() || key.contains(['/', '?', '#']) {
        return Err(CliError::new(format!("{key:?} is not a key id, fingerprint or comment"))
            .hint("`berth keys` lists your keys"));
    }
    let encoded: String = key.chars().map(|c| if c == '+' { "%2B".to_string() } else { c.to_string() }).collect();
    eprint!("Removing {key}... ");
    let _: SshKey = client.delete(&format!("/account/keys/{encoded}")).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}
