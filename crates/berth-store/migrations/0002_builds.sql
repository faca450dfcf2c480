-- Builds of source into images: one row per git push or source upload.
CREATE TABLE builds (
    id             TEXT PRIMARY KEY,
    app_id         TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    status         TEXT NOT NULL,            -- pending | succeeded | failed
    source_version TEXT NOT NULL DEFAULT '',
    output         TEXT NOT NULL DEFAULT '',
    release_id     TEXT,
    user_id        TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX builds_by_app ON builds (app_id, created_at);
