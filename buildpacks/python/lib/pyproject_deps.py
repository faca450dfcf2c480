"""Reads pyproject.toml for the Python buildpack.

Usage: python3 pyproject_deps.py pyproject.toml has-build-system
         exit 0 when [build-system] is declared (the project is installable),
         1 when not, 3 when the file is not valid TOML
       python3 pyproject_deps.py pyproject.toml dependencies
         prints [project].dependencies, one per line (for apps that are not
         packages: no [build-system], so `pip install .` would guess a layout)
"""
import sys
import tomllib


def main():
    path, what = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        data = tomllib.load(f)
    if what == "has-build-system":
        sys.exit(0 if "build-system" in data else 1)
    if what == "dependencies":
        for dep in data.get("project", {}).get("dependencies", []):
            print(dep)
        return
    sys.exit("unknown query: " + what)


if __name__ == "__main__":
    try:
        main()
    except (OSError, tomllib.TOMLDecodeError) as e:
        print("pyproject.toml cannot be read: %s" % e, file=sys.stderr)
        sys.exit(3)
