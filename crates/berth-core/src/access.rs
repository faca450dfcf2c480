//! Per-app permissions (Heroku Teams' names): `view`, `deploy`, `operate`, `manage`.
//!
//! - view: read the app, its config var names, releases, builds, dynos, logs;
//! - deploy: push code, builds, image deploys, rollbacks, buildpacks, build cache;
//! - operate: scale, restart, one-off dynos;
//! - manage: config var values, collaborators, domains, destroy.
//!
//! Every grant includes `view` (as on Heroku): a permission on an app you cannot
//! see makes no sense. Platform admins and the app's owner hold all four.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    View,
    Deploy,
    Operate,
    Manage,
}

impl Permission {
    pub const ALL: [Permission; 4] = [Permission::View, Permission::Deploy, Permission::Operate, Permission::Manage];

    pub fn name(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Deploy => "deploy",
            Self::Operate => "operate",
            Self::Manage => "manage",
        }
    }

    /// Heroku's descriptions, returned with collaborator permissions.
    pub fn description(self) -> &'static str {
        match self {
            Self::View => "Can view the app, its config var names, releases, builds, dynos and logs.",
            Self::Deploy => "Can push code, build, deploy images and roll back releases.",
            Self::Operate => "Can scale and restart dynos and run one-off dynos.",
            Self::Manage => "Can read and change config vars, collaborators and domains, and destroy the app.",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    pub fn parse(name: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name.trim().to_ascii_lowercase())
            .ok_or_else(|| ValidationError::Permission(name.to_string()))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of permissions; never empty once granted (it always contains `view`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Permissions(u8);

impl Permissions {
    pub const NONE: Permissions = Permissions(0);
    pub const ALL: Permissions = Permissions(0b1111);

    /// A grant: the given permissions plus `view`.
    pub fn grant(perms: impl IntoIterator<Item = Permission>) -> Self {
        let mut set = Self(Permission::View.bit());
        for p in perms {
            set.0 |= p.bit();
        }
        set
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::name).collect()
    }

    /// `view,deploy` (also accepts spaces); empty input or unknown names are errors.
    pub fn parse_list(text: &str) -> Result<Self, ValidationError> {
        let names: Vec<&str> = text.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).collect();
        Self::parse_names(&names)
    }

    pub fn parse_names<S: AsRef<str>>(names: &[S]) -> Result<Self, ValidationError> {
        if names.is_empty() {
            return Err(ValidationError::Permission(String::new()));
        }
        let perms = names.iter().map(|n| Permission::parse(n.as_ref())).collect::<Result<Vec<_>, _>>()?;
        Ok(Self::grant(perms))
    }

    /// The stored form: `view,deploy`.
    pub fn to_list(self) -> String {
        self.names().join(",")
    }
}

/// Who is asking, as far as the permission decision is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal<'a> {
    pub user_id: &'a str,
    pub is_admin: bool,
}

/// What a principal may do on one app, given the app's owner and the principal's
/// collaborator grant (if any).
pub fn effective_permissions(who: Principal<'_>, owner_id: &str, grant: Option<Permissions>) -> Permissions {
    if who.is_admin || who.user_id == owner_id {
        return Permissions::ALL;
    }
    grant.unwrap_or(Permissions::NONE)
}

/// The outcome of a permission check, mapped by the server to 404 / 403 / ok.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not visible at all: answer as if the app did not exist.
    Hidden,
    /// Visible, but this permission is missing.
    Forbidden(Permission),
}

pub fn decide(held: Permissions, needed: Permission) -> Decision {
    if held.is_empty() {
        Decision::Hidden
    } else if held.contains(needed) {
        Decision::Allow
    } else {
        Decision::Forbidden(needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_always_include_view() {
        let p = Permissions::parse_list("deploy").unwrap();
        assert_eq!(p.names(), ["view", "deploy"]);
        assert_eq!(Permissions::parse_list("manage, operate").unwrap().to_list(), "view,operate,manage");
        assert_eq!(Permissions::parse_list("view,deploy,operate,manage").unwrap(), Permissions::ALL);
        assert!(Permissions::parse_list("").is_err());
        assert!(Permissions::parse_list("view,root").is_err());
        assert_eq!(Permissions::parse_list(&Permissions::ALL.to_list()).unwrap(), Permissions::ALL);
    }

    #[test]
    fn admins_and_owners_hold_everything_others_their_grant() {
        let admin = Principal { user_id: "a", is_admin: true };
        let owner = Principal { user_id: "o", is_admin: false };
        let member = Principal { user_id: "m", is_admin: false };
        assert_eq!(effective_permissions(admin, "o", None), Permissions::ALL);
        assert_eq!(effective_permissions(owner, "o", None), Permissions::ALL);
        assert_eq!(effective_permissions(member, "o", None), Permissions::NONE);
        let viewer = Permissions::grant([]);
        assert_eq!(effective_permissions(member, "o", Some(viewer)), viewer);
    }

    #[test]
    fn decisions_hide_forbid_or_allow() {
        assert_eq!(decide(Permissions::NONE, Permission::View), Decision::Hidden);
        let viewer = Permissions::grant([]);
        assert_eq!(decide(viewer, Permission::View), Decision::Allow);
        assert_eq!(decide(viewer, Permission::Manage), Decision::Forbidden(Permission::Manage));
        let deployer = Permissions::grant([Permission::Deploy]);
        assert_eq!(decide(deployer, Permission::Deploy), Decision::Allow);
        assert_eq!(decide(deployer, Permission::Operate), Decision::Forbidden(Permission::Operate));
        for p in Permission::ALL {
            assert_eq!(decide(Permissions::ALL, p), Decision::Allow);
        }
    }
}
