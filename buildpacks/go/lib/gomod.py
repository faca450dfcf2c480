"""Summarises a go.mod for the Go buildpack.

Usage: go mod edit -json | python3 gomod.py path/to/go.mod
Prints KEY=VALUE lines (values have no newlines):
  module     the module path
  go         the `go` directive (may be empty)
  toolchain  the `toolchain` directive (may be empty)
  external   how many requirements need module downloads (not replaced by a
             local directory)
  example    one such requirement, "path version"
  install    packages from a `// +heroku install PKG...` comment (may be empty)
"""
import json
import re
import sys


def main():
    mod = json.load(sys.stdin)
    with open(sys.argv[1]) as f:
        text = f.read()
    local = set()
    for rep in mod.get("Replace") or []:
        new = rep.get("New", {}).get("Path", "")
        if new.startswith(("./", "../", "/")):
            local.add(rep["Old"]["Path"])
    external = [r for r in mod.get("Require") or [] if r["Path"] not in local]
    m = re.search(r"^//\s*\+heroku\s+install\s+(.+)$", text, re.M)
    out = {
        "module": mod.get("Module", {}).get("Path", ""),
        "go": mod.get("Go") or "",
        "toolchain": mod.get("Toolchain") or "",
        "external": str(len(external)),
        "example": ("%s %s" % (external[0]["Path"], external[0]["Version"])) if external else "",
        "install": m.group(1).strip() if m else "",
    }
    for key, value in out.items():
        print("%s=%s" % (key, value.replace("\n", " ")))


if __name__ == "__main__":
    main()
