-- Buildpacks chosen for an app (JSON list of URLs, in order); empty = detect.
ALTER TABLE apps ADD COLUMN buildpacks TEXT NOT NULL DEFAULT '[]';
