-- Access control (issue 6): revocable tokens, per-app collaborator grants, an
-- append-only audit trail.

-- Tokens: revoked rows stay (audit events refer to token ids) but stop working.
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;

-- Collaborators: `permissions` is a comma list (`view,deploy`), always with view.
-- The app's owner is implicit (all permissions) and has no row.
CREATE TABLE app_collaborators (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    permissions TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (app_id, user_id)
);
CREATE INDEX app_collaborators_by_user ON app_collaborators (user_id);

-- Who did what: one row per mutating API call. Names are copied (not foreign
-- keys) so events outlive the users and apps they mention.
CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    user_id    TEXT,
    user_email TEXT,
    token_id   TEXT,
    source_ip  TEXT NOT NULL,
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    action     TEXT NOT NULL,
    app        TEXT,
    status     INTEGER NOT NULL
);
CREATE INDEX audit_events_by_app ON audit_events (app, seq);

-- Append-only, also against code paths that would try.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

-- SSH public keys for git over SSH (Heroku's /account/keys).
CREATE TABLE ssh_keys (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL UNIQUE,   -- SHA256:... of the key
    public_key  TEXT NOT NULL,          -- the OpenSSH line, as given
    comment     TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX ssh_keys_by_user ON ssh_keys (user_id);
