//! Reading secrets: from stdin for scripts, or a prompt without echo.

use std::io::{BufRead, IsTerminal, Write};

use crate::CliError;

/// One line from stdin, without its line ending; `prompt` goes to stderr first.
pub fn read_line(prompt: Option<&str>) -> Result<String, CliError> {
    if let Some(p) = prompt {
        eprint!("{p}");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::new(format!("reading stdin: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads a secret without echoing it when stdin is a terminal.
pub fn read_secret(prompt: &str) -> Result<String, CliError> {
    if !std::io::stdin().is_terminal() {
        return read_line(None);
    }
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    let hidden = stty("-echo");
    let result = read_line(Some(prompt));
    if hidden {
        stty("echo");
    }
    eprintln!();
    result
}

/// `--password-stdin` reads one line; otherwise prompt (no echo).
pub fn password_input(from_stdin: bool, prompt: &str) -> Result<String, CliError> {
    let password = if from_stdin { read_line(None)? } else { read_secret(prompt)? };
    if password.is_empty() {
        return Err(
            CliError::new("no password given").hint("pipe it in with --password-stdin, or type it at the prompt")
        );
    }
    Ok(password)
}
