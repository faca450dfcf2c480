//! Validation of user-chosen names: apps, config var keys, process types.

use thiserror::Error;

/// A rejected input, with a message that says the rule so the user can fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    #[error("invalid app name {0:?}: app names must start with a lowercase letter, contain only lowercase letters, digits and dashes, and be 3 to 30 characters long")]
    AppName(String),
    #[error("invalid config var key {0:?}: keys must start with a letter or underscore and contain only letters, digits and underscores")]
    ConfigKey(String),
    #[error("invalid process type {0:?}: process types must start with a lowercase letter and contain only lowercase letters, digits, dashes and underscores (at most 30 characters)")]
    ProcessType(String),
    #[error("invalid quantity {0}: a process type runs between 0 and {max} instances", max = crate::size::MAX_QUANTITY)]
    Quantity(i64),
    #[error("invalid size {0:?}: {sizes}", sizes = crate::size::describe_sizes())]
    Size(String),
    #[error("invalid buildpack {0:?}: use a built-in name (python, nodejs, go, static, procfile), an http(s) git URL (optionally #ref), an http(s) .tgz/.tar.gz URL, or file:///absolute/path")]
    Buildpack(String),
    #[error("invalid permissions {0:?}: give one or more of view, deploy, operate, manage (comma-separated)")]
    Permission(String),
    #[error("invalid email {0:?}: use an address like dev@example.com (at most 254 characters, no spaces)")]
    Email(String),
}

/// Heroku's app name rule: `^[a-z][a-z0-9-]{2,29}$`.
pub fn validate_app_name(name: &str) -> Result<(), ValidationError> {
    let bytes = name.as_bytes();
    let ok = (3..=30).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::AppName(name.to_string()))
    }
}

/// Emails name users (logins, collaborators) and appear in URL paths, so the
/// rule is strict: ASCII `local@domain`, no spaces, no `/ ? # %`.
pub fn validate_email(email: &str) -> Result<(), ValidationError> {
    const LOCAL_EXTRA: &str = ".!$&'*+=^_`{|}~-";
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.chars().all(|c| c.is_ascii_alphanumeric() || LOCAL_EXTRA.contains(c))
                && !domain.is_empty()
                && !domain.starts_with(['.', '-'])
                && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::Email(email.to_string()))
    }
}

/// Config var keys become environment variables: `^[A-Za-z_][A-Za-z0-9_]*$`.
pub fn validate_config_key(key: &str) -> Result<(), ValidationError> {
    let mut chars = key.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && key.len() <= 256;
    if ok {
        Ok(())
    } else {
        Err(ValidationError::ConfigKey(key.to_string()))
    }
}

/// Process types name containers and dynos (`web.1`): `^[a-z][a-z0-9_-]{0,29}$`.
pub fn validate_process_type(name: &str) -> Result<(), ValidationError> {
    let bytes = name.as_bytes();
    let ok = (1..=30).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::ProcessType(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_follow_herokus_rule() {
        for good in ["web1", "abc", "my-app-2", "a23456789012345678901234567890"] {
            assert_eq!(validate_app_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "ab",
            "1app",
            "-app",
            "App",
            "my_app",
            "my app",
            "web.1",
            "a234567890123456789012345678901",
            "ünï",
            "../x",
        ] {
            assert!(validate_app_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn app_name_error_states_the_rule() {
        let msg = validate_app_name("Bad").unwrap_err().to_string();
        assert!(msg.contains("lowercase letter"), "{msg}");
        assert!(msg.contains("3 to 30"), "{msg}");
    }

    #[test]
    fn config_keys_are_env_names() {
        for good in ["A", "_X", "DATABASE_URL", "greeting", "a1"] {
            assert_eq!(validate_config_key(good), Ok(()), "{good}");
        }
        for bad in ["", "1A", "A-B", "A B", "A=B", "É", "A\0"] {
            assert!(validate_config_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn process_types() {
        for good in ["web", "worker", "release", "clock_2", "a-b"] {
            assert_eq!(validate_process_type(good), Ok(()), "{good}");
        }
        for bad in ["", "Web", "1web", "web.1", "we b", "a234567890123456789012345678901"] {
            assert!(validate_process_type(bad).is_err(), "{bad}");
        }
    }
}
