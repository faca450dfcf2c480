//! Hostile input, generated: the parsers and validators never panic, and what
//! they accept keeps their rules.

use berth_core::access::Permissions;
use berth_core::buildpack::parse_buildpack;
use berth_core::{parse_procfile, validate_app_name, validate_config_key, validate_email, validate_process_type};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn procfile_parser_never_panics(text in ".{0,400}") {
        if let Ok(types) = parse_procfile(&text) {
            for (name, command) in &types {
                prop_assert!(validate_process_type(name).is_ok(), "{name:?}");
                prop_assert!(!command.trim().is_empty());
                prop_assert!(!command.contains('\0') && !command.contains('\n'));
            }
        }
    }

    #[test]
    fn procfile_lines_round_trip(entries in proptest::collection::btree_map("[a-z][a-z0-9_-]{0,20}", "[a-zA-Z0-9 ./$=-]{1,60}", 0..8)) {
        let text: String = entries.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        let parsed = parse_procfile(&text);
        // Commands are trimmed; anything non-blank must come back under its name.
        let expected: Vec<(String, String)> = entries
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k.clone(), v.trim().to_string()))
            .collect();
        if expected.len() == entries.len() {
            let parsed = parsed.unwrap();
            prop_assert_eq!(parsed.into_iter().collect::<Vec<_>>(), expected);
        }
    }

    #[test]
    fn app_names_accepted_are_safe_path_segments(name in "\\PC{0,40}") {
        if validate_app_name(&name).is_ok() {
            prop_assert!((3..=30).contains(&name.len()));
            prop_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert!(!name.contains("..") && !name.contains('/'));
        }
    }

    #[test]
    fn config_keys_accepted_are_env_names(key in "\\PC{0,40}") {
        if validate_config_key(&key).is_ok() {
            prop_assert!(!key.is_empty());
            prop_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            prop_assert!(!key.as_bytes()[0].is_ascii_digit());
        }
    }

    #[test]
    fn emails_and_permissions_never_panic(email in "\\PC{0,80}", perms in "\\PC{0,60}") {
        if validate_email(&email).is_ok() {
            prop_assert!(email.contains('@') && !email.chars().any(char::is_whitespace));
            prop_assert!(!email.contains(['/', '?', '#', '%']));
        }
        if let Ok(p) = Permissions::parse_list(&perms) {
            prop_assert!(p.contains(berth_core::access::Permission::View));
            prop_assert_eq!(Permissions::parse_list(&p.to_list()).unwrap(), p);
        }
    }

    #[test]
    fn common_emails_are_accepted(local in "[a-z0-9][a-z0-9._+-]{0,20}", domain in "[a-z0-9]{1,10}\\.[a-z]{2,6}") {
        let email = format!("{local}@{domain}");
        prop_assert!(validate_email(&email).is_ok(), "{email}");
    }

    #[test]
    fn buildpack_refs_never_panic(input in "\\PC{0,120}") {
        let _ = parse_buildpack(&input);
    }
}
