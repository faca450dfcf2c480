//! Buildpack references: what `buildpacks:set` accepts.

use crate::ValidationError;

/// Built-in buildpacks, in detection order.
pub const BUILTIN_BUILDPACKS: &[&str] = &["python", "nodejs", "go", "static", "procfile"];

/// Where a buildpack comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildpackRef {
    /// A built-in one, by name (`python`, also `heroku/python`).
    Builtin(String),
    /// A git repository over http(s), optionally `#ref`.
    Git { url: String, reference: Option<String> },
    /// A `.tgz`/`.tar.gz`/`.tar` over http(s).
    Tarball(String),
    /// A directory on the server (`file:///path`): platform admins only.
    Local(String),
}

/// Parses a buildpack URL or built-in name, with a message that lists the forms.
pub fn parse_buildpack(input: &str) -> Result<BuildpackRef, ValidationError> {
    let input = input.trim();
    let invalid = || ValidationError::Buildpack(input.to_string());
    if input.is_empty() || input.len() > 2048 || input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let short = input.rsplit('/').next().unwrap_or(input);
    if !input.contains(':') {
        let name = input.strip_prefix("heroku/").or_else(|| input.strip_prefix("berth/")).unwrap_or(input);
        return BUILTIN_BUILDPACKS.contains(&name).then(|| BuildpackRef::Builtin(name.to_string())).ok_or_else(invalid);
    }
    if let Some(path) = input.strip_prefix("file://") {
        return (path.starts_with('/') && !path.split('/').any(|p| p == ".."))
            .then(|| BuildpackRef::Local(path.to_string()))
            .ok_or_else(invalid);
    }
    if !(input.starts_with("https://") || input.starts_with("http://")) {
        return Err(invalid());
    }
    if [".tgz", ".tar.gz", ".tar"].iter().any(|ext| short.ends_with(ext)) {
        return Ok(BuildpackRef::Tarball(input.to_string()));
    }
    let (url, reference) = match input.split_once('#') {
        Some((url, r)) if !r.is_empty() && !r.starts_with('-') => (url, Some(r.to_string())),
        Some(_) => return Err(invalid()),
        None => (input, None),
    };
    Ok(BuildpackRef::Git { url: url.to_string(), reference })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        assert_eq!(parse_buildpack("python").unwrap(), BuildpackRef::Builtin("python".into()));
        assert_eq!(parse_buildpack("heroku/nodejs").unwrap(), BuildpackRef::Builtin("nodejs".into()));
        assert_eq!(
            parse_buildpack("https://github.com/x/bp.git#v2").unwrap(),
            BuildpackRef::Git { url: "https://github.com/x/bp.git".into(), reference: Some("v2".into()) }
        );
        assert_eq!(parse_buildpack("https://h/bp.tgz").unwrap(), BuildpackRef::Tarball("https://h/bp.tgz".into()));
        assert_eq!(parse_buildpack("file:///opt/bp").unwrap(), BuildpackRef::Local("/opt/bp".into()));
    }

    #[test]
    fn rejected_forms() {
        for bad in [
            "",
            "ruby",
            "ftp://x/y",
            "file://relative",
            "file:///a/../etc",
            "https://h/x#",
            "https://h/x#--upload-pack=x",
            "a b",
            "ssh://git@h/x",
        ] {
            assert!(parse_buildpack(bad).is_err(), "{bad}");
        }
    }
}
