#!/usr/bin/env bash
# Berth's run-time stand-in for `npm` (installed as .heroku/node/bin/npm).
#
# The run image has node but no npm, yet Procfiles and the default web process
# say `npm start`. This runs package.json scripts the way npm does: from the
# package's directory, with node_modules/.bin on PATH, npm_* variables set,
# pre/post scripts, extra arguments after `--`, and `node server.js` as the
# default `start`. Scripts run with `bash -c` (npm uses sh, but Debian's dash
# does not exec a lone command), so `node server.js` replaces this process and
# receives the signals sent to the process.
set -euo pipefail

usage() {
  echo "npm (Berth run-time shim): only 'npm start', 'npm stop', 'npm restart', 'npm test'" >&2
  echo "and 'npm run <script>' are available here; the run image has no npm." >&2
  exit 1
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
  start | stop | test | restart) script=$cmd ;;
  t | tst) script="test" ;;
  run | run-script | rum | urn)
    [[ $# -gt 0 ]] || usage
    script=$1
    shift
    ;;
  *) usage ;;
esac
while [[ $# -gt 0 && $1 == -* && $1 != -- ]]; do shift; done # npm flags: ignored
[[ ${1:-} == -- ]] && shift

# The package: the nearest directory upwards with a package.json.
pkg_dir=$PWD
while [[ ! -f $pkg_dir/package.json ]]; do
  [[ $pkg_dir == / ]] && {
    echo "npm error: no package.json found in $PWD or above" >&2
    exit 1
  }
  pkg_dir=$(dirname "$pkg_dir")
done

read_script() {
  node -e '
    const p = require(process.argv[1]);
    const s = (p.scripts || {})[process.argv[2]];
    if (typeof s === "string") process.stdout.write(s); else process.exit(1);
  ' "$pkg_dir/package.json" "$1"
}
read_field() {
  node -e 'const v = require(process.argv[1])[process.argv[2]];
    if (typeof v === "string") process.stdout.write(v);' "$pkg_dir/package.json" "$1"
}

main=$(read_script "$script") || main=
if [[ -z $main ]]; then
  if [[ $script == start && -f $pkg_dir/server.js ]]; then
    main="node server.js"
  elif [[ $script == restart ]]; then
    "$0" stop "$@" || true
    exec "$0" start "$@"
  else
    echo "npm error: Missing script: \"$script\"" >&2
    exit 1
  fi
fi
pre=$(read_script "pre$script") || pre=
post=$(read_script "post$script") || post=

# PATH: node_modules/.bin of the package and of its parent directories.
bins=
d=$pkg_dir
while :; do
  bins=${bins:+$bins:}$d/node_modules/.bin
  [[ $d == / ]] && break
  d=$(dirname "$d")
done
export PATH=$bins:$PATH
export INIT_CWD=${INIT_CWD:-$PWD}
export npm_package_json=$pkg_dir/package.json
npm_package_name=$(read_field name)
npm_package_version=$(read_field version)
export npm_package_name npm_package_version
export npm_lifecycle_event npm_lifecycle_script
cd "$pkg_dir"

banner() { # banner EVENT COMMAND
  npm_lifecycle_event=$1 npm_lifecycle_script=$2
  echo
  echo "> ${npm_package_name:-app}${npm_package_version:+@$npm_package_version} $npm_lifecycle_event"
  echo "> $npm_lifecycle_script"
  echo
}

if [[ -n $pre ]]; then
  banner "pre$script" "$pre"
  bash -c "$pre"
fi
banner "$script" "$main"
if [[ -z $post ]]; then
  exec bash -c "$main \"\$@\"" "$script" "$@"
fi
bash -c "$main \"\$@\"" "$script" "$@"
banner "post$script" "$post"
exec bash -c "$post"
