#!/usr/bin/env python3
"""Berth's static-site server (installed by the static buildpack as
/app/.berth/static-server.py; runs on the run image's python3, stdlib only).

Serves the site root on 0.0.0.0:$PORT. Settings come from .berth/static.json,
which the buildpack writes from the app's static.json at build time:
  root        directory to serve, relative to the app (default "." or "public")
  clean_urls  serve /about from about.html
  error_page  file (relative to root) sent with 404 responses
  routes      {"/app/**": "index.html"}: fallbacks for missing paths (SPA)
  headers     {"/assets/**": {"Cache-Control": "max-age=3600"}}
  https_only  redirect requests that arrived over plain HTTP (X-Forwarded-Proto)
In patterns, * matches within one path segment and ** across segments.
Dotfiles (.profile.d, .berth, .git ...) are never served, nor directory listings.
"""
import http.server
import json
import mimetypes
import os
import re
import signal
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
APP_DIR = os.path.dirname(HERE)

for ext, kind in {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
                  ".webp": "image/webp", ".woff2": "font/woff2", ".woff": "font/woff",
                  ".svg": "image/svg+xml", ".json": "application/json", ".txt": "text/plain"}.items():
    mimetypes.add_type(kind, ext)


def glob_to_regex(pattern):
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile("^" + out + "$")


def load_config():
    try:
        with open(os.path.join(HERE, "static.json")) as f:
            cfg = json.load(f)
    except FileNotFoundError:
        cfg = {}
    root = os.path.normpath(os.path.join(APP_DIR, cfg.get("root", ".")))
    return {
        "root": root,
        "clean_urls": bool(cfg.get("clean_urls", False)),
        "error_page": os.path.join(root, cfg["error_page"]) if cfg.get("error_page") else None,
        "routes": [(glob_to_regex(k), v) for k, v in (cfg.get("routes") or {}).items()],
        "headers": [(glob_to_regex(k), v) for k, v in (cfg.get("headers") or {}).items()],
        "https_only": bool(cfg.get("https_only", False)),
    }


CONFIG = load_config()


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "berth-static"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=CONFIG["root"], **kwargs)

    def url_path(self):
        return urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)

    def send_head(self):
        self.original_path = path = self.url_path()
        if any(part.startswith(".") and part != ".well-known" for part in path.split("/")):
            self.send_error(404)
            return None
        if CONFIG["https_only"] and self.headers.get("X-Forwarded-Proto", "https") == "http":
            self.send_response(301)
            self.send_header("Location", "https://%s%s" % (self.headers.get("Host", ""), self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if not os.path.exists(self.translate_path(self.path)):
            query = urllib.parse.urlsplit(self.path).query
            if CONFIG["clean_urls"] and os.path.isfile(self.translate_path(path.rstrip("/") + ".html")):
                self.path = urllib.parse.quote(path.rstrip("/") + ".html") + ("?" + query if query else "")
            else:
                for regex, target in CONFIG["routes"]:
                    if regex.match(path):
                        self.path = "/" + target.lstrip("/")
                        break
        return super().send_head()

    def list_directory(self, path):
        self.send_error(404)
        return None

    def end_headers(self):
        path = getattr(self, "original_path", None)
        if path is not None:
            for regex, headers in CONFIG["headers"]:
                if regex.match(path):
                    for key, value in headers.items():
                        self.send_header(key, value)
        super().end_headers()

    def send_error(self, code, message=None, explain=None):
        page = CONFIG["error_page"]
        if code == 404 and page and os.path.isfile(page):
            with open(page, "rb") as f:
                body = f.read()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        super().send_error(code, message, explain)

    def log_message(self, fmt, *args):
        sys.stdout.write("%s %s\n" % (self.address_string(), fmt % args))
        sys.stdout.flush()


def main():
    port = int(os.environ.get("PORT", "5000"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True
    print("berth-static: serving %s on port %d" % (CONFIG["root"], port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
