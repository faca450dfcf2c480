//! `git push` over SSH: an embedded SSH server (russh) that authenticates users
//! by their registered public keys (`berth keys:add`) and runs nothing but
//! `git-receive-pack` (needs deploy) and `git-upload-pack` (needs view) on the
//! app's repository, with the same pre-receive hook as smart HTTP. No shell, no
//! PTY, no forwarding: every other request is refused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use berth_core::access::Permission;
use berth_store::NewAuditEvent;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey, PublicKey};
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::process::Command;

use crate::access::authorize;
use crate::auth::CurrentUser;
use crate::state::AppState;

pub const HOST_KEY_FILE: &str = "ssh_host_ed25519_key";

/// The server's host key: generated on first start (mode 0600), then reused so
/// clients' `known_hosts` entries stay valid.
pub fn load_or_create_host_key(data_dir: &Path) -> std::io::Result<PrivateKey> {
    let path = data_dir.join(HOST_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => PrivateKey::from_openssh(text).map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
            let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
            let text = key.to_openssh(russh::keys::ssh_key::LineEnding::LF).map_err(std::io::Error::other)?;
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
            std::io::Write::write_all(&mut file, text.as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

/// The SHA-256 fingerprint keys are stored and found by.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Serves SSH on `listener` until the process ends.
pub async fn serve(state: AppState, listener: TcpListener, host_key: PrivateKey) -> std::io::Result<()> {
    let config = russh::server::Config {
        keys: vec![host_key],
        inactivity_timeout: Some(Duration::from_secs(3600)),
        auth_rejection_time: Duration::from_secs(1),
        auth_rejection_time_initial: Some(Duration::from_secs(0)),
        // Public keys only.
        methods: russh::MethodSet::from(&[russh::MethodKind::PublicKey][..]),
        ..Default::default()
    };
    let mut server = GitSshServer { state };
    russh::server::Server::run_on_socket(&mut server, Arc::new(config), &listener).await
}

struct GitSshServer {
    state: AppState,
}

impl russh::server::Server for GitSshServer {
    type Handler = Connection;

    fn new_client(&mut self, peer: Option<SocketAddr>) -> Connection {
        Connection { state: self.state.clone(), peer, caller: None, channels: HashMap::new() }
    }
}

struct Connection {
    state: AppState,
    peer: Option<SocketAddr>,
    caller: Option<CurrentUser>,
    channels: HashMap<ChannelId, Channel<Msg>>,
}

/// What a client may run: `git-receive-pack 'APP.git'` or `git-upload-pack 'APP.git'`
/// (also `/APP.git`, `APP`, and `git receive-pack`). Returns (push?, app).
pub fn parse_git_command(command: &str) -> Option<(bool, String)> {
    let command = command.trim();
    let (verb, arg) = command.split_once(' ')?;
    let (verb, arg) = if verb == "git" { arg.trim().split_once(' ')? } else { (verb, arg) };
    let push = match verb.trim_start_matches("git-") {
        "receive-pack" => true,
        "upload-pack" => false,
        _ => return None,
    };
    let arg = arg.trim();
    let arg = arg.strip_prefix('\'').and_then(|a| a.strip_suffix('\'')).unwrap_or(arg);
    let name = arg.trim_start_matches('/');
    let name = name.strip_suffix(".git").unwrap_or(name);
    berth_core::validate_app_name(name).ok()?;
    Some((push, name.to_string()))
}

impl Connection {
    async fn key_owner(&self, key: &PublicKey) -> Option<CurrentUser> {
        match self.state.store.user_by_ssh_fingerprint(&fingerprint(key)).await {
            // Same fingerprint and same key material: the registered key.
            Ok(Some((user, record))) => PublicKey::from_openssh(&record.public_key)
                .ok()
                .filter(|stored| stored.key_data() == key.key_data())
                .map(|_| CurrentUser { user, token_id: format!("ssh:{}", record.id) }),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "ssh key lookup failed");
                None
            }
        }
    }

    async fn audit(&self, app: &str, push: bool, status: u16) {
        let caller = self.caller.as_ref();
        let event = NewAuditEvent {
            user_id: caller.map(|c| c.user.id.clone()),
            user_email: caller.map(|c| c.user.email.clone()),
            token_id: caller.map(|c| c.token_id.clone()),
            source_ip: self.peer.map(|p| p.ip().to_string()).unwrap_or_else(|| "unknown".into()),
            method: "SSH".into(),
            path: format!("/{app}.git"),
            action: if push { "git.push" } else { "git.fetch" }.into(),
            app: Some(app.to_string()),
            status,
        };
        if let Err(e) = self.state.store.append_audit(&event).await {
            tracing::error!(error = %e, "could not write the audit event");
        }
    }
}

/// Tells the client why, on stderr, and ends the channel with a failure status.
fn refuse(session: &mut Session, channel: ChannelId, message: &str) -> Result<(), russh::Error> {
    session.extended_data(channel, 1, format!("{message}\n").into_bytes())?;
    session.exit_status_request(channel, 1)?;
    session.eof(channel)?;
    session.close(channel)
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey_offered(&mut self, _user: &str, offer: PublicKeyOffer<'_>) -> Result<Auth, Self::Error> {
        Ok(match self.key_owner(offer.public_key).await {
            Some(_) => Auth::Accept,
            None => Auth::reject(),
        })
    }

    async fn auth_publickey(&mut self, _user: &str, key: VerifiedPublicKey<'_>) -> Result<Auth, Self::Error> {
        // Any SSH user name (`git@`): the key decides who this is.
        self.caller = self.key_owner(key.public_key).await;
        Ok(if self.caller.is_some() { Auth::Accept } else { Auth::reject() })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        let email = self.caller.as_ref().map(|c| c.user.email.as_str()).unwrap_or("");
        refuse(session, channel, &format!("Hi {email}! Berth does not provide shell access; use git push."))
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let command = String::from_utf8_lossy(data).to_string();
        let Some((push, app_name)) = parse_git_command(&command) else {
            return refuse(
                session,
                channel,
                "Berth only runs git-receive-pack and git-upload-pack (git push / fetch).",
            );
        };
        let Some(caller) = self.caller.clone() else {
            return refuse(session, channel, "Not authenticated.");
        };
        let needed = if push { Permission::Deploy } else { Permission::View };
        let app = match authorize(&self.state, &caller, &app_name, needed).await {
            Ok((app, _)) => app,
            Err(e) => {
                self.audit(&app_name, push, e.status.as_u16()).await;
                return refuse(session, channel, &e.message);
            }
        };
        let Some(ssh_channel) = self.channels.remove(&channel) else {
            return refuse(session, channel, "No such channel.");
        };
        let repo = match crate::git::ensure_repo(&self.state.config.data_dir, &app.name).await {
            Ok(repo) => repo,
            Err(e) => return refuse(session, channel, &format!("cannot prepare the repository: {e}")),
        };
        let exe = match crate::git::berth_exe() {
            Ok(exe) => exe,
            Err(e) => return refuse(session, channel, &format!("cannot find the berth binary: {e}")),
        };
        let child = Command::new("git")
            .arg(if push { "receive-pack" } else { "upload-pack" })
            .arg(&repo)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(crate::git::hook_env(&self.state, &app.name, &caller.user.email, exe))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) => return refuse(session, channel, &format!("cannot start git: {e}")),
        };
        session.channel_success(channel)?;
        tracing::info!(app = %app.name, user = %caller.user.email, push, "git over ssh");
        let conn =
            Connection { state: self.state.clone(), peer: self.peer, caller: Some(caller), channels: HashMap::new() };
        tokio::spawn(async move {
            let code = pump(ssh_channel, child).await;
            if push {
                conn.audit(&app.name, push, if code == 0 { 200 } else { 422 }).await;
            }
        });
        Ok(())
    }
}

/// Channel ↔ git process: client bytes to stdin, stdout and stderr back, then
/// the exit status. Returns the exit code.
async fn pump(channel: Channel<Msg>, mut child: tokio::process::Child) -> u32 {
    let (mut read_half, write_half) = channel.split();
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let mut out = write_half.make_writer();
    let mut err = write_half.make_writer_ext(Some(1));
    // Client bytes feed git until the client ends its side or git is done.
    let feeder = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut read_half.make_reader(), &mut stdin).await;
        let _ = stdin.shutdown().await;
    });
    let from_git = async {
        let _ = tokio::io::copy(&mut stdout, &mut out).await;
        let _ = out.flush().await;
    };
    let from_git_err = async {
        let _ = tokio::io::copy(&mut stderr, &mut err).await;
        let _ = err.flush().await;
    };
    tokio::join!(from_git, from_git_err);
    let status = child.wait().await;
    feeder.abort();
    let code = status.ok().and_then(|s| s.code()).map(|c| c as u32).unwrap_or(1);
    let _ = write_half.exit_status(code).await;
    let _ = write_half.eof().await;
    let _ = write_half.close().await;
    code
}

#[cfg(test)]
mod tests {
    use super::parse_git_command;

    #[test]
    fn only_git_commands_on_valid_app_names() {
        assert_eq!(parse_git_command("git-receive-pack 'web1.git'"), Some((true, "web1".into())));
        assert_eq!(parse_git_command("git-upload-pack '/web1.git'"), Some((false, "web1".into())));
        assert_eq!(parse_git_command("git receive-pack 'web1'"), Some((true, "web1".into())));
        assert_eq!(parse_git_command("git-receive-pack '../etc.git'"), None);
        assert_eq!(parse_git_command("git-receive-pack 'web1.git'; rm -rf /"), None);
        assert_eq!(parse_git_command("sh -c id"), None);
        assert_eq!(parse_git_command("git-upload-archive 'web1.git'"), None);
        assert_eq!(parse_git_command(""), None);
    }
}
