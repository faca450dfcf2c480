use std::io::IsTerminal;

use super::auth_input::{password_input, read_line};

use berth_core::api::Account;
use berth_core::api_access::{Authorization, CreateAuthorization};

use crate::client::{credentials_path, load_credentials, save_credentials, DEFAULT_API_URL};
use crate::{CliError, Client, Credentials};

pub struct LoginArgs {
    pub token: Option<String>,
    pub api_url: Option<String>,
    pub email: Option<String>,
    pub password_stdin: bool,
}

/// `berth login`: with `--token`, stores that token; otherwise email + password
/// make a new personal token (`POST /oauth/authorizations`), which is stored.
pub async fn login(client: &Client, args: LoginArgs) -> Result<(), CliError> {
    let api_url =
        args.api_url.or_else(|| std::env::var("BERTH_API_URL").ok().filter(|s| !s.is_empty())).unwrap_or_else(|| {
            if client.base_url().is_empty() {
                DEFAULT_API_URL.to_string()
            } else {
                client.base_url().to_string()
            }
        });
    let interactive = std::io::stdin().is_terminal();
    // Without an email, a piped stdin carries a token (the original `berth login` contract).
    let token = match (args.token, &args.email) {
        (Some(t), _) => Some(t),
        (None, None) if !interactive && !args.password_stdin => Some(read_line(None)?.trim().to_string()),
        _ => None,
    };
    let (token, authorization_id) = match token {
        Some(token) => {
            if token.is_empty() {
                return Err(CliError::new("no token given").hint("berth login --token TOKEN"));
            }
            (token, None)
        }
        None => {
            let email = match args.email {
                Some(e) => e,
                None => read_line(Some("Email: "))?,
            };
            let email = email.trim().to_string();
            let password = password_input(args.password_stdin, "Password: ")?;
            if email.is_empty() {
                return Err(CliError::new("an email and a password are needed")
                    .hint("berth login --email EMAIL --password-stdin < password-file"));
            }
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "this machine".into());
            let request =
                CreateAuthorization { description: Some(format!("berth CLI login on {host}")), ..Default::default() };
            let auth: Authorization = Client::new(&api_url, None)
                .post_basic("/oauth/authorizations", &email, &password, &request)
                .await
                .map_err(|e| match e.message.contains("wrong email or password") {
                    true => CliError::new(e.message).hint("check the email and password; an admin can reset users"),
                    false => e,
                })?;
            let token =
                auth.access_token.token.ok_or_else(|| CliError::new("the server returned no token for this login"))?;
            (token, Some(auth.id))
        }
    };
    let account: Account = Client::new(&api_url, Some(token.clone())).get("/account").await?;
    let path = save_credentials(&Credentials { api_url: api_url.clone(), token, authorization_id })?;
    println!("Logged in to {api_url} as {} (credentials in {})", account.email, path.display());
    Ok(())
}

/// Forgets the stored credentials; a token `berth login` created is revoked too.
pub async fn logout() -> Result<(), CliError> {
    if let Some(creds) = load_credentials() {
        if let Some(id) = &creds.authorization_id {
            let client = Client::new(&creds.api_url, Some(creds.token.clone()));
            if let Err(e) = client.delete::<Authorization>(&format!("/oauth/authorizations/{id}")).await {
                eprintln!("warning: could not revoke the login token on the server: {}", e.message);
            }
        }
    }
    if let Some(path) = credentials_path() {
        match std::fs::remove_file(&path) {
            Ok(()) => println!("Logged out (removed {})", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => println!("Not logged in."),
            Err(e) => return Err(CliError::new(format!("cannot remove {}: {e}", path.display()))),
        }
    }
    Ok(())
}

pub async fn whoami(client: &Client) -> Result<(), CliError> {
    let account: Account = client.get("/account").await?;
    println!("{}", account.email);
    Ok(())
}
