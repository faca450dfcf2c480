use berth_core::api::{App, CreateApp};

use super::app_path;
use crate::output;
use crate::{CliError, Client};

pub async fn list(client: &Client, json: bool) -> Result<(), CliError> {
    let apps: Vec<App> = client.get("/apps").await?;
    if json {
        output::json(&apps);
        return Ok(());
    }
    if apps.is_empty() {
        println!("You have no apps. Create one with `berth apps:create NAME`.");
        return Ok(());
    }
    output::header("Apps");
    let rows = apps
        .iter()
        .map(|a| vec![a.name.clone(), a.web_url.clone(), a.owner.email.clone(), output::age(&a.created_at)])
        .collect();
    output::table(&["NAME", "URL", "OWNER", "CREATED"], rows);
    Ok(())
}

pub async fn create(client: &Client, name: Option<String>, json: bool) -> Result<(), CliError> {
    if let Some(name) = &name {
        berth_core::validate_app_name(name).map_err(|e| CliError::new(e.to_string()))?;
    }
    eprint!("Creating {}... ", name.as_deref().unwrap_or("app"));
    let app: App =
        client.post("/apps", &CreateApp { name, ..Default::default() }).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    if json {
        output::json(&app);
    } else {
        println!("{} | {}", app.web_url, app.git_url);
    }
    Ok(())
}

pub async fn info(client: &Client, app: &str, json: bool) -> Result<(), CliError> {
    let info: App = client.get(&app_path(app)?).await?;
    if json {
        output::json(&info);
        return Ok(());
    }
    output::header(&info.name);
    output::key_values(&[
        ("Web URL", info.web_url.clone()),
        ("Git URL", info.git_url.clone()),
        ("Owner", info.owner.email.clone()),
        ("Stack", info.stack.name.clone()),
        ("Created", info.created_at.clone()),
        ("Released", info.released_at.clone().unwrap_or_else(|| "never".into())),
    ]);
    Ok(())
}

pub async fn destroy(client: &Client, app: &str, confirm: Option<String>) -> Result<(), CliError> {
    if confirm.as_deref() != Some(app) {
        return Err(CliError::new(format!("this destroys {app}, its releases, config and containers"))
            .hint(format!("confirm with `berth apps:destroy -a {app} --confirm {app}`")));
    }
    eprint!("Destroying {app} (including all its containers)... ");
    let _: App = client.delete(&app_path(app)?).await.inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}
