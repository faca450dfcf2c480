//! `access`, `access:add`, `access:update`, `access:remove`: collaborators and
//! their permissions on an app (Heroku Teams' `/teams/apps/{app}/collaborators`).

use berth_core::access::Permissions;
use berth_core::api_access::{Collaborator, CreateCollaborator, UpdateCollaborator};

use super::app_path;
use super::users::path_segment;
use crate::output;
use crate::{CliError, Client};

fn team_path(app: &str) -> Result<String, CliError> {
    Ok(format!("/teams{}/collaborators", app_path(app)?))
}

/// `view,deploy` → the names the API takes (checked here for a quick error).
fn permission_names(list: &str) -> Result<Vec<String>, CliError> {
    let perms = Permissions::parse_list(list).map_err(|e| CliError::new(e.to_string()))?;
    Ok(perms.names().into_iter().map(str::to_string).collect())
}

pub async fn list(client: &Client, app: &str, json: bool) -> Result<(), CliError> {
    let all: Vec<Collaborator> = client.get(&team_path(app)?).await?;
    if json {
        output::json(&all);
        return Ok(());
    }
    output::header(&format!("{app} Access List"));
    let rows = all
        .iter()
        .map(|c| {
            let perms: Vec<&str> = c.permissions.iter().map(|p| p.name.as_str()).collect();
            vec![c.user.email.clone(), c.role.clone(), perms.join(", ")]
        })
        .collect();
    output::table(&["EMAIL", "ROLE", "PERMISSIONS"], rows);
    Ok(())
}

pub async fn add(client: &Client, app: &str, email: &str, permissions: Option<&str>) -> Result<(), CliError> {
    let permissions = permissions.map(permission_names).transpose()?;
    let request = CreateCollaborator { user: email.to_string(), permissions, silent: true };
    eprint!("Adding {email} access to {app}... ");
    let c: Collaborator = client.post(&team_path(app)?, &request).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    let perms: Vec<&str> = c.permissions.iter().map(|p| p.name.as_str()).collect();
    println!("{email} on {app}: {}", perms.join(", "));
    Ok(())
}

pub async fn update(client: &Client, app: &str, email: &str, permissions: &str) -> Result<(), CliError> {
    let request = UpdateCollaborator { permissions: permission_names(permissions)? };
    eprint!("Updating {email} permissions on {app}... ");
    let path = format!("{}/{}", team_path(app)?, path_segment(email)?);
    let c: Collaborator = client.patch(&path, &request).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    let perms: Vec<&str> = c.permissions.iter().map(|p| p.name.as_str()).collect();
    println!("{email} on {app}: {}", perms.join(", "));
    Ok(())
}

pub async fn remove(client: &Client, app: &str, email: &str) -> Result<(), CliError> {
    eprint!("Removing {email} access from {app}... ");
    let path = format!("{}/{}", team_path(app)?, path_segment(email)?);
    let _: Collaborator = client.delete(&path).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}
