"""Turns Pipfile.lock's "default" section into a pip requirements file.

Usage: python3 pipfile_lock.py Pipfile.lock > requirements.txt
Handles registry pins (version, extras, markers), git, file/url and path entries.
"""
import json
import sys


def line(name, spec):
    if isinstance(spec, str):  # "*" or a version specifier
        return name if spec == "*" else name + spec
    extras = "[%s]" % ",".join(spec["extras"]) if spec.get("extras") else ""
    markers = " ; " + spec["markers"] if spec.get("markers") else ""
    if "git" in spec:
        ref = "@" + spec["ref"] if spec.get("ref") else ""
        if spec.get("editable"):
            return "-e git+%s%s#egg=%s" % (spec["git"], ref, name)
        return "%s%s @ git+%s%s%s" % (name, extras, spec["git"], ref, markers)
    if "file" in spec:
        return "%s%s @ %s%s" % (name, extras, spec["file"], markers)
    if "path" in spec:
        path = spec["path"]
        return ("-e " + path) if spec.get("editable") else path + extras + markers
    return name + extras + spec.get("version", "") + markers


def main():
    with open(sys.argv[1]) as f:
        lock = json.load(f)
    for source in lock.get("_meta", {}).get("sources", [])[:1]:
        url = source.get("url", "")
        if url and "pypi.org" not in url:
            print("--index-url " + url)
    for name, spec in sorted(lock.get("default", {}).items()):
        print(line(name, spec))


if __name__ == "__main__":
    main()
