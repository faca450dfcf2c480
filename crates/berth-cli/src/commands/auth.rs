use std::io::BufRead;

use berth_core::api::Account;

use crate::client::{credentials_path, save_credentials, DEFAULT_API_URL};
use crate::{CliError, Client, Credentials};

pub async fn login(client: &Client, token: Option<String>, api_url: Option<String>) -> Result<(), CliError> {
    let api_url =
        api_url.or_else(|| std::env::var("BERTH_API_URL").ok().filter(|s| !s.is_empty())).unwrap_or_else(|| {
            if client.base_url().is_empty() {
                DEFAULT_API_URL.to_string()
            } else {
                client.base_url().to_string()
            }
        });
    let token = match token {
        Some(t) => t,
        None => {
            eprintln!("Enter your Berth API token (the admin token is in DATA_DIR/admin.token):");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::new(format!("reading stdin: {e}")))?;
            line.trim().to_string()
        }
    };
    if token.is_empty() {
        return Err(CliError::new("no token given").hint("berth login --token TOKEN"));
    }
    let account: Account = Client::new(&api_url, Some(token.clone())).get("/account").await?;
    let path = save_credentials(&Credentials { api_url: api_url.clone(), token })?;
    println!("Logged in to {api_url} as {} (credentials in {})", account.email, path.display());
    Ok(())
}

pub fn logout() -> Result<(), CliError> {
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
