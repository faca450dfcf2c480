-- Users and their API tokens (stored as SHA-256 hashes, never in clear).
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    expires_at   TEXT
);

CREATE TABLE apps (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    owner_id    TEXT NOT NULL REFERENCES users(id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    released_at TEXT
);

-- Releases are immutable: rows are only ever inserted (status aside).
-- `config` is the app's full config at that release, encrypted (nonce || ciphertext).
CREATE TABLE releases (
    id            TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    description   TEXT NOT NULL,
    status        TEXT NOT NULL,
    image         TEXT,
    process_types TEXT NOT NULL DEFAULT '{}',
    config        BLOB NOT NULL,
    user_id       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (app_id, version)
);

-- Desired instance counts per process type. `restart_generation` is bumped by
-- ps:restart; instances of an older generation get replaced by the reconciler.
CREATE TABLE formations (
    id                 TEXT PRIMARY KEY,
    app_id             TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    process_type       TEXT NOT NULL,
    quantity           INTEGER NOT NULL,
    size               TEXT NOT NULL,
    restart_generation INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (app_id, process_type)
);
