//! `berth run` (attached, with a real TTY when the terminal is one),
//! `run:detached` and `ps:stop`.

use std::io::{IsTerminal, Write};

use berth_core::attach::{shell_command, Frame, PROTOCOL};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::app_path;
use crate::{CliError, Client};

pub struct RunArgs {
    pub command: Vec<String>,
    pub size: Option<String>,
    pub no_tty: bool,
    pub env: Vec<String>,
    pub max_runtime: Option<u64>,
}

fn body(app_env: &[String], args: &RunArgs, attach: bool, tty: bool) -> Result<Value, CliError> {
    let mut env = serde_json::Map::new();
    for pair in app_env {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| CliError::new(format!("{pair:?} is not KEY=VALUE")).hint("e.g. --env 'A=1'"))?;
        env.insert(k.to_string(), json!(v));
    }
    if tty {
        if let Ok((cols, rows)) = crossterm::terminal::size() {
            env.insert("COLUMNS".into(), json!(cols.to_string()));
            env.insert("LINES".into(), json!(rows.to_string()));
        }
        let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".into());
        env.entry("TERM").or_insert(json!(term));
    }
    let mut body = json!({
        "command": shell_command(&args.command),
        "attach": attach,
        "force_no_tty": !tty,
        "env": env,
        "type": "run",
    });
    if let Some(size) = &args.size {
        body["size"] = json!(size);
    }
    if let Some(ttl) = args.max_runtime {
        body["time_to_live"] = json!(ttl);
    }
    Ok(body)
}

/// Puts the local terminal in raw mode until dropped.
struct RawMode;

impl RawMode {
    fn enable() -> Result<Self, CliError> {
        crossterm::terminal::enable_raw_mode()
            .map_err(|e| CliError::new(format!("cannot put the terminal in raw mode: {e}")).hint("use --no-tty"))?;
        Ok(Self)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Runs the command attached; returns its exit code.
pub async fn attached(client: &Client, app: &str, args: &RunArgs) -> Result<i32, CliError> {
    if args.command.is_empty() {
        return Err(CliError::new("no command given").hint("e.g. `berth run -a APP -- bash`"));
    }
    let tty = !args.no_tty && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let body = body(&args.env, args, true, tty)?;
    let (conn, dyno) = client.upgrade(&format!("{}/dynos", app_path(app)?), &body, PROTOCOL).await?;
    eprintln!("Running `{}` on {app}... up, {dyno}", shell_command(&args.command));
    let raw = if tty { Some(RawMode::enable()?) } else { None };
    let (mut rd, mut wr) = tokio::io::split(conn);
    let (frames_tx, mut frames_rx) = tokio::sync::mpsc::channel::<Frame>(64);

    // Local stdin → Stdin frames (and EOF when it ends: pipes).
    let stdin_tx = frames_tx.clone();
    tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = vec![0u8; 8192];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = stdin_tx.send(Frame::StdinEof).await;
                    return;
                }
                Ok(n) => {
                    if stdin_tx.send(Frame::Stdin(buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    if tty {
        let resize_tx = frames_tx.clone();
        tokio::spawn(async move {
            // The engine may start the TTY at 0x0: set the size once, then on every change.
            if let Ok((cols, rows)) = crossterm::terminal::size() {
                let _ = resize_tx.send(Frame::Resize { cols, rows }).await;
            }
            let Ok(mut winch) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()) else {
                return;
            };
            while winch.recv().await.is_some() {
                if let Ok((cols, rows)) = crossterm::terminal::size() {
                    if resize_tx.send(Frame::Resize { cols, rows }).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
    drop(frames_tx);
    tokio::spawn(async move {
        while let Some(frame) = frames_rx.recv().await {
            if wr.write_all(&frame.encode()).await.is_err() || wr.flush().await.is_err() {
                return;
            }
        }
    });

    let mut buf = Vec::with_capacity(32 * 1024);
    let mut chunk = vec![0u8; 32 * 1024];
    let code = 'read: loop {
        let n = match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => break 'read None,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match Frame::decode(&mut buf) {
                Ok(Some(Frame::Stdout(data))) => write_out(&mut std::io::stdout(), &data),
                Ok(Some(Frame::Stderr(data))) => write_out(&mut std::io::stderr(), &data),
                Ok(Some(Frame::Exit(code))) => break 'read Some(code),
                Ok(Some(Frame::Error(message))) => {
                    drop(raw);
                    return Err(CliError::new(message));
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    drop(raw);
                    return Err(CliError::new(format!("the run session broke: {e}")));
                }
            }
        }
    };
    drop(raw);
    code.ok_or_else(|| {
        CliError::new("the connection to the one-off was lost").hint(format!("see `berth logs -a {app} --ps {dyno}`"))
    })
}

fn write_out(out: &mut impl Write, data: &[u8]) {
    let _ = out.write_all(data);
    let _ = out.flush();
}

pub async fn detached(client: &Client, app: &str, args: &RunArgs) -> Result<(), CliError> {
    if args.command.is_empty() {
        return Err(CliError::new("no command given").hint("e.g. `berth run:detached -a APP -- rake db:migrate`"));
    }
    let body = body(&args.env, args, false, false)?;
    let dyno: Value = client.post(&format!("{}/dynos", app_path(app)?), &body).await?;
    let name = dyno["name"].as_str().unwrap_or("run");
    eprintln!("Running `{}` on {app}... up, {name}", shell_command(&args.command));
    eprintln!("Run `berth logs -a {app} --ps {name}` to view the output.");
    Ok(())
}

pub async fn stop(client: &Client, app: &str, dyno: &str) -> Result<(), CliError> {
    eprint!("Stopping {dyno} of {app}... ");
    let _: Value = client
        .post(&format!("{}/dynos/{dyno}/actions/stop", app_path(app)?), &json!({}))
        .await
        .inspect_err(|_| eprintln!("failed"))?;
    eprintln!("done");
    Ok(())
}
