"""Resolves the static buildpack's settings at build time.

Usage: python3 config.py BUILD_DIR OUT_JSON
Reads BUILD_DIR/static.json (optional), checks it, picks the root ("root"
option, else "." when index.html is at the top, else "public" when
public/index.html exists, else "."), writes the resolved settings to OUT_JSON
and prints the root. Exits 1 with a message on stderr when something is wrong.
"""
import json
import os
import sys

KNOWN = {"root", "clean_urls", "error_page", "routes", "headers", "https_only"}


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def main():
    build_dir, out = os.path.realpath(sys.argv[1]), sys.argv[2]
    cfg = {}
    path = os.path.join(build_dir, "static.json")
    if os.path.isfile(path):
        try:
            with open(path) as f:
                cfg = json.load(f)
        except ValueError as e:
            fail("static.json is not valid JSON: %s" % e)
        if not isinstance(cfg, dict):
            fail("static.json must contain a JSON object")
        for key in sorted(set(cfg) - KNOWN):
            print("static.json: unknown option %r ignored" % key, file=sys.stderr)
    if "root" in cfg:
        root = str(cfg["root"]).strip("/") or "."
    elif os.path.isfile(os.path.join(build_dir, "index.html")):
        root = "."
    elif os.path.isfile(os.path.join(build_dir, "public", "index.html")):
        root = "public"
    else:
        root = "."
    full = os.path.realpath(os.path.join(build_dir, root))
    if full != build_dir and not full.startswith(build_dir + os.sep):
        fail("static.json: root %r points outside the app" % cfg["root"])
    if not os.path.isdir(full):
        fail("static.json: root directory %r does not exist" % root)
    for key in ("routes", "headers"):
        if not isinstance(cfg.get(key, {}), dict):
            fail("static.json: %s must be an object" % key)
    resolved = {
        "root": os.path.relpath(full, build_dir),
        "clean_urls": bool(cfg.get("clean_urls", False)),
        "error_page": cfg.get("error_page"),
        "routes": cfg.get("routes", {}),
        "headers": cfg.get("headers", {}),
        "https_only": bool(cfg.get("https_only", False)),
    }
    with open(out, "w") as f:
        json.dump(resolved, f, indent=2)
    print(resolved["root"])


if __name__ == "__main__":
    main()
