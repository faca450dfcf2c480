-- Rollouts (issue 4): a succeeded release is `deployed` once its instances
-- proved healthy; a release that failed says why. Health checks come from the
-- release's app.json or the app's `checks:set` (JSON, see berth-core health.rs).
ALTER TABLE releases ADD COLUMN status_reason TEXT;
ALTER TABLE releases ADD COLUMN deployed_at TEXT;
ALTER TABLE releases ADD COLUMN health_check TEXT;
ALTER TABLE apps ADD COLUMN health_check TEXT;
UPDATE releases SET deployed_at = updated_at WHERE status = 'succeeded';
