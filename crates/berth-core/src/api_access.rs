//! The JSON shapes of users, authorizations (tokens), collaborators and audit
//! events: Heroku's where Heroku has them (`/oauth/authorizations`,
//! `/teams/apps/{app}/collaborators`), Berth's own for users and the audit trail.

use serde::{Deserialize, Serialize};

use crate::api::{IdEmail, IdName, Timestamp};

/// `GET /users` (admins): a platform user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub admin: bool,
    pub created_at: Timestamp,
}

/// `POST /users` (admins).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateUser {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Make the user a platform admin.
    #[serde(default)]
    pub admin: bool,
}

/// `POST /oauth/authorizations`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateAuthorization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seconds until the token stops working; none: it never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessToken {
    pub id: String,
    /// Only in the response that created it: tokens are stored hashed.
    pub token: Option<String>,
    pub expires_in: Option<i64>,
}

/// Heroku's OAuth authorization: one API token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Authorization {
    pub id: String,
    pub description: String,
    pub scope: Vec<String>,
    pub access_token: AccessToken,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Berth extension: when it stops working (none: never).
    pub expires_at: Option<Timestamp>,
    pub user: IdEmail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PermissionInfo {
    pub name: String,
    pub description: String,
}

/// A team app collaborator (Heroku's shape); the owner is listed with role `owner`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Collaborator {
    pub id: String,
    pub app: IdName,
    pub permissions: Vec<PermissionInfo>,
    pub role: String,
    pub user: CollaboratorUser,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollaboratorUser {
    pub id: String,
    pub email: String,
    pub federated: bool,
}

/// `POST /teams/apps/{app}/collaborators` (also `/apps/{app}/collaborators`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateCollaborator {
    /// Email (or id) of an existing user.
    #[serde(default)]
    pub user: String,
    /// Default: view, deploy, operate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    #[serde(default)]
    pub silent: bool,
}

/// `PATCH /teams/apps/{app}/collaborators/{user}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateCollaborator {
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// `GET /audit-events`, `GET /apps/{app}/audit-events` (Berth's own resource).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: String,
    pub created_at: Timestamp,
    pub actor: Option<AuditActor>,
    pub token_id: Option<String>,
    pub source_ip: String,
    pub method: String,
    pub path: String,
    pub action: String,
    pub app: Option<String>,
    pub status: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditActor {
    pub id: Option<String>,
    pub email: Option<String>,
}

/// Heroku's `/account/keys`: an SSH public key for git over SSH.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshKey {
    pub id: String,
    pub comment: String,
    pub email: String,
    /// `SHA256:...`
    pub fingerprint: String,
    pub public_key: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateSshKey {
    /// One OpenSSH public key line: `ssh-ed25519 AAAA... comment`.
    #[serde(default)]
    pub public_key: String,
}
