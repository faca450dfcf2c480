-- Log drains: where an app's log lines are also sent (syslog, syslog+tls, https).
CREATE TABLE log_drains (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    -- Heroku's drain token: identifies the app to the drain (`d.` + uuid).
    token       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (app_id, url)
);
