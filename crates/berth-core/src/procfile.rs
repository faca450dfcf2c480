//! Procfile parsing: `TYPE: COMMAND` per line, strict, with line numbers in errors.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::names::validate_process_type;

/// Process type name → shell command (run through `/bin/sh -c`).
pub type ProcessTypes = BTreeMap<String, String>;

/// Procfiles larger than this are rejected before parsing.
pub const MAX_PROCFILE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProcfileError {
    #[error("Procfile line {line}: expected `TYPE: COMMAND`, e.g. `web: python app.py`")]
    MissingColon { line: usize },
    #[error("Procfile line {line}: {reason}")]
    BadType { line: usize, reason: String },
    #[error("Procfile line {line}: process type {name:?} has an empty command")]
    EmptyCommand { line: usize, name: String },
    #[error("Procfile line {line}: process type {name:?} is defined twice (first on line {first})")]
    Duplicate { line: usize, name: String, first: usize },
    #[error("Procfile is larger than {MAX_PROCFILE_BYTES} bytes")]
    TooLarge,
    #[error("Procfile line {line}: contains a NUL byte")]
    NulByte { line: usize },
}

/// Parses a Procfile. Blank lines and `#` comments are ignored.
pub fn parse_procfile(text: &str) -> Result<ProcessTypes, ProcfileError> {
    if text.len() > MAX_PROCFILE_BYTES {
        return Err(ProcfileError::TooLarge);
    }
    let mut types = ProcessTypes::new();
    let mut first_seen: BTreeMap<String, usize> = BTreeMap::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.contains('\0') {
            return Err(ProcfileError::NulByte { line });
        }
        let (name, command) = parse_entry(trimmed).map_err(|e| match e {
            EntryError::MissingColon => ProcfileError::MissingColon { line },
            EntryError::BadType(reason) => ProcfileError::BadType { line, reason },
            EntryError::EmptyCommand(name) => ProcfileError::EmptyCommand { line, name },
        })?;
        if let Some(first) = first_seen.get(&name) {
            return Err(ProcfileError::Duplicate { line, name, first: *first });
        }
        first_seen.insert(name.clone(), line);
        types.insert(name, command);
    }
    Ok(types)
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EntryError {
    #[error("expected `TYPE: COMMAND`")]
    MissingColon,
    #[error("{0}")]
    BadType(String),
    #[error("process type {0:?} has an empty command")]
    EmptyCommand(String),
}

/// Parses one `TYPE: COMMAND` (Procfile line) or `TYPE=COMMAND` (CLI flag) entry.
pub fn parse_entry(entry: &str) -> Result<(String, String), EntryError> {
    let split = entry.find([':', '=']).ok_or(EntryError::MissingColon)?;
    let (name, rest) = entry.split_at(split);
    let name = name.trim();
    validate_process_type(name).map_err(|e| EntryError::BadType(e.to_string()))?;
    let command = rest[1..].trim();
    if command.is_empty() {
        return Err(EntryError::EmptyCommand(name.to_string()));
    }
    Ok((name.to_string(), command.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_types_comments_and_blank_lines() {
        let text = "# processes\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\n\nworker:python worker.py\r\nrelease: ./migrate.sh\n";
        let types = parse_procfile(text).unwrap();
        assert_eq!(types.len(), 3);
        assert_eq!(types["web"], "gunicorn app:app --bind 0.0.0.0:$PORT");
        assert_eq!(types["worker"], "python worker.py");
        assert_eq!(types["release"], "./migrate.sh");
    }

    #[test]
    fn errors_carry_line_numbers() {
        assert_eq!(parse_procfile("web: a\nnocolon\n"), Err(ProcfileError::MissingColon { line: 2 }));
        assert!(matches!(parse_procfile("\n\nWeb: x"), Err(ProcfileError::BadType { line: 3, .. })));
        assert_eq!(parse_procfile("web:   \n"), Err(ProcfileError::EmptyCommand { line: 1, name: "web".into() }));
        assert_eq!(
            parse_procfile("web: a\nweb: b"),
            Err(ProcfileError::Duplicate { line: 2, name: "web".into(), first: 1 })
        );
    }

    #[test]
    fn hostile_input_is_rejected_not_panicking() {
        let long = "w".repeat(MAX_PROCFILE_BYTES + 1);
        assert_eq!(parse_procfile(&long), Err(ProcfileError::TooLarge));
        assert!(parse_procfile(":").is_err());
        assert!(parse_procfile("::::").is_err());
        assert!(parse_procfile("web: a\0b").is_err());
        assert!(parse_procfile("../../etc: x").is_err());
        for junk in ["\u{feff}web: x", "ü: x", "web\t: x", "=", "web=", " : "] {
            let _ = parse_procfile(junk);
        }
    }

    #[test]
    fn cli_entries_accept_equals() {
        assert_eq!(
            parse_entry("worker=sleep 10; echo a=b").unwrap(),
            ("worker".to_string(), "sleep 10; echo a=b".to_string())
        );
        assert_eq!(parse_entry("web"), Err(EntryError::MissingColon));
    }
}
