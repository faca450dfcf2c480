//! One module per topic; `dispatch` routes a parsed command to it.

mod access;
mod apps;
mod audit;
mod auth;
mod auth_input;
mod authorizations;
mod buildpacks;
mod builds;
pub mod checks;
mod config;
mod deploy;
mod drains;
mod git;
mod keys;
mod logs;
mod metrics;
mod ps;
mod releases;
mod rollout;
mod run;
mod users;

use crate::{AppArg, CliError, Client, Command};

pub async fn dispatch(client: &Client, command: Command) -> Result<(), CliError> {
    match command {
        Command::Apps(json) => apps::list(client, json.json).await,
        Command::AppsCreate { name, json } => apps::create(client, name, json.json).await,
        Command::AppsInfo { app, json } => apps::info(client, &resolve_app(&app)?, json.json).await,
        Command::AppsDestroy { app, confirm } => apps::destroy(client, &resolve_app(&app)?, confirm).await,
        Command::Config { app, json, shell } => config::show(client, &resolve_app(&app)?, json.json, shell).await,
        Command::ConfigGet { key, app } => config::get(client, &resolve_app(&app)?, &key).await,
        Command::ConfigSet { pairs, app } => config::set(client, &resolve_app(&app)?, &pairs).await,
        Command::ConfigUnset { keys, app } => config::unset(client, &resolve_app(&app)?, &keys).await,
        Command::Releases { app, json, num } => releases::list(client, &resolve_app(&app)?, json.json, num).await,
        Command::ReleasesInfo { release, app, json } => {
            releases::info(client, &resolve_app(&app)?, release, json.json).await
        }
        Command::ReleasesRollback { release, app } => releases::rollback(client, &resolve_app(&app)?, release).await,
        Command::Ps { app, json } => ps::list(client, &resolve_app(&app)?, json.json).await,
        Command::PsScale { changes, app } => ps::scale(client, &resolve_app(&app)?, &changes).await,
        Command::PsRestart { target, app } => ps::restart(client, &resolve_app(&app)?, target).await,
        Command::Deploy { dir, image, processes, app } => match image {
            Some(image) => deploy::image(client, &resolve_app(&app)?, &image, &processes).await,
            None => builds::deploy_dir(client, &resolve_app(&app)?, dir.as_deref()).await,
        },
        Command::Checks { app, json } => checks::show(client, &resolve_app(&app)?, json.json).await,
        Command::ChecksSet { check, app } => checks::set(client, &resolve_app(&app)?, &check).await,
        Command::ChecksUnset { app } => checks::unset(client, &resolve_app(&app)?).await,
        Command::Buildpacks { app } => buildpacks::list(client, &resolve_app(&app)?).await,
        Command::BuildpacksSet { url, app } => buildpacks::set(client, &resolve_app(&app)?, &url).await,
        Command::BuildpacksAdd { url, app } => buildpacks::add(client, &resolve_app(&app)?, &url).await,
        Command::BuildpacksClear { app } => buildpacks::clear(client, &resolve_app(&app)?).await,
        Command::Builds { app, json } => builds::list(client, &resolve_app(&app)?, json.json).await,
        Command::BuildsInfo { build, app, json } => builds::info(client, &resolve_app(&app)?, build, json.json).await,
        Command::BuildsCachePurge { app, confirm } => builds::purge(client, &resolve_app(&app)?, confirm).await,
        Command::Login { token, api_url, email, password_stdin } => {
            auth::login(client, auth::LoginArgs { token, api_url, email, password_stdin }).await
        }
        Command::Logout => auth::logout().await,
        Command::Users(json) => users::list(client, json.json).await,
        Command::UsersAdd { email, password_stdin, admin } => users::add(client, &email, password_stdin, admin).await,
        Command::UsersRemove { email } => users::remove(client, &email).await,
        Command::Authorizations(json) => authorizations::list(client, json.json).await,
        Command::AuthorizationsCreate { description, expires_in, json } => {
            authorizations::create(client, description, expires_in, json.json).await
        }
        Command::AuthorizationsRevoke { id } => authorizations::revoke(client, &id).await,
        Command::Access { app, json } => access::list(client, &resolve_app(&app)?, json.json).await,
        Command::AccessAdd { email, app, permissions } => {
            access::add(client, &resolve_app(&app)?, &email, permissions.as_deref()).await
        }
        Command::AccessUpdate { email, app, permissions } => {
            access::update(client, &resolve_app(&app)?, &email, &permissions).await
        }
        Command::AccessRemove { email, app } => access::remove(client, &resolve_app(&app)?, &email).await,
        Command::Keys(json) => keys::list(client, json.json).await,
        Command::KeysAdd { file } => keys::add(client, file).await,
        Command::KeysRemove { key } => keys::remove(client, &key).await,
        Command::Audit { app, num, json } => audit::list(client, app.as_deref(), num, json.json).await,
        Command::Run { app, opts, no_tty, command } => {
            let args = run::RunArgs { command, size: opts.size, no_tty, env: opts.env, max_runtime: opts.max_runtime };
            let code = run::attached(client, &resolve_app(&app)?, &args).await?;
            std::process::exit(code.clamp(0, 255));
        }
        Command::RunDetached { app, opts, command } => {
            let args =
                run::RunArgs { command, size: opts.size, no_tty: true, env: opts.env, max_runtime: opts.max_runtime };
            run::detached(client, &resolve_app(&app)?, &args).await
        }
        Command::PsStop { dyno, app } => run::stop(client, &resolve_app(&app)?, &dyno).await,
        Command::Drains { app, json } => drains::list(client, &resolve_app(&app)?, json.json).await,
        Command::DrainsAdd { url, app } => drains::add(client, &resolve_app(&app)?, &url).await,
        Command::DrainsRemove { drain, app } => drains::remove(client, &resolve_app(&app)?, &drain).await,
        Command::Metrics { app, json } => metrics::show(client, &resolve_app(&app)?, json.json).await,
        Command::Logs { app, num, tail, source, ps } => {
            logs::show(client, &resolve_app(&app)?, num, tail, source, ps).await
        }
        Command::Whoami => auth::whoami(client).await,
        Command::GitRemote { app, remote } => git::remote(client, &resolve_app(&app)?, &remote).await,
        Command::Hook { name } => match name.as_str() {
            "pre-receive" => git::pre_receive().await,
            other => Err(CliError::new(format!("unknown hook {other}"))),
        },
    }
}

/// `-a APP`, else the app named by the current directory's `berth` git remote.
fn resolve_app(arg: &AppArg) -> Result<String, CliError> {
    if let Some(app) = &arg.app {
        return Ok(app.clone());
    }
    let output = std::process::Command::new("git").args(["remote", "get-url", "berth"]).output();
    if let Ok(out) = output {
        if out.status.success() {
            if let Some(app) = app_from_remote(String::from_utf8_lossy(&out.stdout).trim()) {
                return Ok(app);
            }
        }
    }
    Err(CliError::new("no app specified").hint("pass -a APP, or run inside a git repo with a `berth` remote"))
}

/// `http://host:7070/web1.git` → `web1`; also `git@host:web1` and `ssh://.../web1.git`.
fn app_from_remote(url: &str) -> Option<String> {
    let last = url.trim_end_matches('/').rsplit(['/', ':']).next()?;
    let name = last.strip_suffix(".git").unwrap_or(last);
    berth_core::validate_app_name(name).ok().map(|_| name.to_string())
}

/// App path segment, percent-safe because names are validated server-side and
/// we refuse anything but the allowed characters here.
fn app_path(app: &str) -> Result<String, CliError> {
    berth_core::validate_app_name(app).map_err(|e| CliError::new(e.to_string()))?;
    Ok(format!("/apps/{app}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_come_from_remotes() {
        assert_eq!(app_from_remote("http://127.0.0.1:7070/web1.git").as_deref(), Some("web1"));
        assert_eq!(app_from_remote("ssh://git@host:2222/web-2.git").as_deref(), Some("web-2"));
        assert_eq!(app_from_remote("git@host:web3").as_deref(), Some("web3"));
        assert_eq!(app_from_remote("http://host/Not_Valid.git"), None);
        assert_eq!(app_from_remote(""), None);
    }
}
