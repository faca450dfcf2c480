//! `users`, `users:add`, `users:remove` (platform admins).

use berth_core::api_access::{CreateUser, UserInfo};

use super::auth_input::password_input;
use crate::output;
use crate::{CliError, Client};

pub async fn list(client: &Client, json: bool) -> Result<(), CliError> {
    let users: Vec<UserInfo> = client.get("/users").await?;
    if json {
        output::json(&users);
        return Ok(());
    }
    output::header("Users");
    let rows = users
        .iter()
        .map(|u| {
            vec![u.email.clone(), if u.admin { "admin".into() } else { "user".into() }, output::age(&u.created_at)]
        })
        .collect();
    output::table(&["EMAIL", "ROLE", "CREATED"], rows);
    Ok(())
}

pub async fn add(client: &Client, email: &str, password_stdin: bool, admin: bool) -> Result<(), CliError> {
    berth_core::validate_email(email).map_err(|e| CliError::new(e.to_string()))?;
    let password = password_input(password_stdin, &format!("Initial password for {email}: "))?;
    eprint!("Adding {email}... ");
    let request = CreateUser { email: email.to_string(), password, name: None, admin };
    let user: UserInfo = client.post("/users", &request).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    println!("{} can now log in with `berth login --email {}`", user.email, user.email);
    Ok(())
}

pub async fn remove(client: &Client, email: &str) -> Result<(), CliError> {
    eprint!("Removing {email}... ");
    let _: UserInfo =
        client.delete(&format!("/users/{}", path_segment(email)?)).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}

/// An email as a URL path segment: validated, and `@`/`+` are fine in paths.
pub fn path_segment(email: &str) -> Result<String, CliError> {
    berth_core::validate_email(email).map_err(|e| CliError::new(e.to_string()))?;
    Ok(email.chars().map(|c| if c == '/' || c == '?' || c == '#' || c == '%' { '_' } else { c }).collect())
}
