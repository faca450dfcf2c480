//! `authorizations`, `authorizations:create`, `authorizations:revoke`: API tokens.

use berth_core::api_access::{Authorization, CreateAuthorization};

use crate::output;
use crate::{CliError, Client};

pub async fn list(client: &Client, json: bool) -> Result<(), CliError> {
    let all: Vec<Authorization> = client.get("/oauth/authorizations").await?;
    if json {
        output::json(&all);
        return Ok(());
    }
    output::header("Authorizations");
    let rows = all
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                if a.description.is_empty() { "-".into() } else { a.description.clone() },
                output::age(&a.created_at),
                a.expires_at.clone().unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    output::table(&["ID", "DESCRIPTION", "CREATED", "EXPIRES"], rows);
    Ok(())
}

pub async fn create(
    client: &Client,
    description: Option<String>,
    expires_in: Option<i64>,
    json: bool,
) -> Result<(), CliError> {
    let request = CreateAuthorization { description, expires_in, scope: None };
    let auth: Authorization = client.post("/oauth/authorizations", &request).await?;
    if json {
        output::json(&auth);
        return Ok(());
    }
    let token = auth.access_token.token.clone().unwrap_or_default();
    eprintln!("Created authorization {} (the token is shown only now):", auth.id);
    output::key_values(&[
        ("Token", token),
        ("Description", auth.description.clone()),
        ("Expires", auth.expires_at.clone().unwrap_or_else(|| "never".into())),
    ]);
    Ok(())
}

pub async fn revoke(client: &Client, id: &str) -> Result<(), CliError> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(
            CliError::new(format!("{id:?} is not an authorization id")).hint("`berth authorizations` lists them")
        );
    }
    eprint!("Revoking {id}... ");
    let _: Authorization =
        client.delete(&format!("/oauth/authorizations/{id}")).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}
