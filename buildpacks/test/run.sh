#!/usr/bin/env bash
# Tests Berth's built-in buildpacks against real Docker, the way Berth's
# buildpack runner uses them (see buildpacks/README.md, "The contract"):
#
#   for each fixture: copy it to a temp dir (owned by uid 1000), detect (first
#   match in python, nodejs, go, static, procfile), compile and release in
#   berth/stack:trixie-build as user 1000 with /app /cache /env /buildpacks/NAME
#   mounted; build a throwaway image FROM berth/stack:trixie with the slug in
#   /app; start the web process (Procfile, else release's default) with
#   PORT=5000 on a user-defined bridge network; GET / from the host and look
#   for the fixture's marker.
#   Negative cases: a Go module with requirements but no vendor/, a Python app
#   with a package that does not exist, an empty directory (detect fails for all).
#
# Usage: buildpacks/test/run.sh [CASE...]      (default: all cases)
#        buildpacks/test/run.sh --app DIR MARKER
#                     builds and runs any app dir the same way (GET / must
#                     contain MARKER) and shows its logs
# Env:   BERTH_BUILDPACK_TEST_CACHE  per-app CACHE_DIRs, kept between runs
#                                    (default /var/tmp/berth-buildpack-test-cache)
#        BERTH_BUILD_IMAGE / BERTH_RUN_IMAGE  stack images
#        KEEP=1                      keep the work dir (slugs, logs) for debugging
# Everything it creates is labelled io.berth.test=buildpacks and removed at exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BP_ROOT=$(cd "$HERE/.." && pwd)
REPO=$(cd "$BP_ROOT/.." && pwd)
FIXTURES=$REPO/fixtures
BUILD_IMAGE=${BERTH_BUILD_IMAGE:-berth/stack:trixie-build}
RUN_IMAGE=${BERTH_RUN_IMAGE:-berth/stack:trixie}
CACHE_ROOT=${BERTH_BUILDPACK_TEST_CACHE:-/var/tmp/berth-buildpack-test-cache}
ORDER=(python nodejs go static procfile)
APP_UID=1000
LABEL=io.berth.test=buildpacks
RUN_ID=$$-$RANDOM
RUN_LABEL=io.berth.test.run=$RUN_ID
NET=berth-bp-test-$RUN_ID
PORT=5000

ALL_CASES=(python-flask node-express go-app static-site procfile-shell
  go-vendored static-json go-needs-vendor python-missing-package empty-dir lib-copies)
APP_DIR=
if [[ ${1:-} == --app ]]; then
  if [[ $# -ne 3 || ! -d ${2:-} ]]; then
    echo "usage: $0 --app DIR MARKER" >&2
    exit 2
  fi
  APP_DIR=$(cd "$2" && pwd)
  APP_MARKER=$3
  CASES=(app)
elif (($#)); then
  CASES=("$@")
else
  CASES=("${ALL_CASES[@]}")
fi

die() {
  echo " !     $*" >&2
  exit 2
}
docker info >/dev/null 2>&1 || die "docker is not reachable"
for img in "$BUILD_IMAGE" "$RUN_IMAGE"; do
  docker image inspect "$img" >/dev/null 2>&1 || die "image $img is missing (run stack/build.sh)"
done
command -v curl >/dev/null || die "curl is needed on the host"

WORK=$(mktemp -d /var/tmp/berth-bp-test.XXXXXX)
chmod 0755 "$WORK"
mkdir -p "$CACHE_ROOT"
IMAGES=()

cleanup() {
  local rc=$?
  set +e
  docker ps -aq --filter "label=$RUN_LABEL" | xargs -r docker rm -f >/dev/null 2>&1
  ((${#IMAGES[@]})) && docker rmi -f "${IMAGES[@]}" >/dev/null 2>&1
  docker network rm "$NET" >/dev/null 2>&1
  if [[ ${KEEP:-0} == 1 ]]; then
    echo "work dir kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

docker network create --label "$LABEL" --label "$RUN_LABEL" "$NET" >/dev/null

# --- results -------------------------------------------------------------------
declare -a R_NAME R_STATUS R_TIME R_NOTE
FAILED=0
record() { # record CASE PASS|FAIL SECONDS NOTE
  R_NAME+=("$1")
  R_STATUS+=("$2")
  R_TIME+=("$3")
  R_NOTE+=("$4")
  [[ $2 == PASS ]] || FAILED=$((FAILED + 1))
  printf '%-24s %s  %4ss  %s\n' "$1" "$2" "$3" "$4"
}
show_log() { # show_log FILE: last lines of a log, indented
  echo "       --- last lines of $(basename "$1") ---"
  tail -n 30 "$1" | sed 's/^/       | /'
}

# --- the runner contract, simulated ------------------------------------------------
# new_app CASE SRC_DIR: copies the source to WORK/CASE/app (owned by uid 1000),
# with an empty ENV_DIR and the case's persistent CACHE_DIR.
new_app() {
  local dir=$WORK/$1
  mkdir -p "$dir/app" "$dir/env" "$CACHE_ROOT/$1"
  if [[ -n $2 ]]; then
    cp -a "$2/." "$dir/app/"
  fi
  # config vars, Heroku style (file name = key)
  printf 'buildpack-test' >"$dir/env/BERTH_TEST_CONFIG"
  chown -R "$APP_UID:$APP_UID" "$dir/app" "$dir/env"
  chown "$APP_UID:$APP_UID" "$CACHE_ROOT/$1"
}

# in_build CASE CMD...: runs CMD in the build image as the runner does.
in_build() {
  local name=$1 dir=$WORK/$1 mounts=() bp
  shift
  for bp in "${ORDER[@]}"; do
    mounts+=(-v "$BP_ROOT/$bp:/buildpacks/$bp:ro")
  done
  docker run --rm --label "$LABEL" --label "$RUN_LABEL" \
    --user "$APP_UID:$APP_UID" --network host -e HOME=/app \
    -v "$dir/app:/app" -v "$CACHE_ROOT/$name:/cache" -v "$dir/env:/env:ro" \
    "${mounts[@]}" "$BUILD_IMAGE" "$@"
}

# detect CASE: prints "BUILDPACK NAME" of the first buildpack that applies.
detect() {
  # shellcheck disable=SC2016
  in_build "$1" bash -c '
    for bp in "$@"; do
      if name=$(/buildpacks/$bp/bin/detect /app); then echo "$bp $name"; exit 0; fi
    done
    exit 1' detect "${ORDER[@]}"
}

# web_command CASE: the web command, from the Procfile or release's defaults.
web_command() {
  local dir=$WORK/$1 cmd
  if [[ -f $dir/app/Procfile ]]; then
    cmd=$(sed -n -E 's/^[[:space:]]*web[[:space:]]*:[[:space:]]*(.*)$/\1/p' "$dir/app/Procfile" | head -n 1)
    [[ -n $cmd ]] && {
      echo "$cmd"
      return
    }
  fi
  awk '/^default_process_types:/ {in_types = 1; next}
       in_types && /^  web:/ {sub(/^  web:[[:space:]]*/, ""); print; exit}
       /^[^ ]/ {in_types = 0}' "$dir/release.yml"
}

# run_app CASE SRC_DIR MARKER [BUILDPACK]: the full happy path. BUILDPACK is
# the one detection must pick (empty: any).
run_app() {
  local name=$1 src=$2 marker=$3 expect_bp=${4:-} dir=$WORK/$1 t0=$SECONDS t_compile cmd image cid ip body bp
  new_app "$name" "$src"

  if ! bp=$(detect "$name" 2>"$dir/detect.err"); then
    record "$name" FAIL $((SECONDS - t0)) "no buildpack detected"
    return
  fi
  bp=${bp%% *}
  if [[ -n $expect_bp && $bp != "$expect_bp" ]]; then
    record "$name" FAIL $((SECONDS - t0)) "detected $bp, expected $expect_bp"
    return
  fi

  t_compile=$SECONDS
  if ! in_build "$name" "/buildpacks/$bp/bin/compile" /app /cache /env >"$dir/compile.log" 2>&1; then
    show_log "$dir/compile.log"
    record "$name" FAIL $((SECONDS - t0)) "compile failed"
    return
  fi
  if [[ -n $APP_DIR ]]; then
    sed 's/^/       | /' "$dir/compile.log"
  fi
  t_compile=$((SECONDS - t_compile))
  if ! grep -q '^-----> ' "$dir/compile.log"; then
    record "$name" FAIL $((SECONDS - t0)) "compile printed no '-----> ' step"
    return
  fi
  if ! in_build "$name" "/buildpacks/$bp/bin/release" /app >"$dir/release.yml" 2>"$dir/release.err" ||
    [[ $(head -n 1 "$dir/release.yml") != "---" ]]; then
    cat "$dir/release.err" "$dir/release.yml" | sed 's/^/       | /'
    record "$name" FAIL $((SECONDS - t0)) "release failed or printed no YAML"
    return
  fi
  if ! cmd=$(web_command "$name") || [[ -z $cmd ]]; then
    record "$name" FAIL $((SECONDS - t0)) "no web process (Procfile or default_process_types)"
    return
  fi
  # Tool caches must stay out of the slug.
  for junk in .cache .npm .config; do
    if [[ -e $dir/app/$junk ]]; then
      record "$name" FAIL $((SECONDS - t0)) "slug contains $junk"
      return
    fi
  done
  # Case-specific checks on the slug.
  if [[ $name == node-express && -e $dir/app/node_modules/is-number ]]; then
    record "$name" FAIL $((SECONDS - t0)) "devDependencies were not pruned"
    return
  fi
  if [[ $name == python-flask ]] && ! grep -q 'web: gunicorn app:app' "$dir/release.yml"; then
    record "$name" FAIL $((SECONDS - t0)) "release did not propose 'gunicorn app:app'"
    return
  fi

  # The run image: the slug at /app, owned by app.
  image=berth-bp-test/$name:$RUN_ID
  if ! printf 'FROM %s\nCOPY --chown=%s:%s . /app/\nUSER %s\nWORKDIR /app\n' \
    "$RUN_IMAGE" "$APP_UID" "$APP_UID" "$APP_UID" |
    docker build -q --label "$LABEL" --label "$RUN_LABEL" -t "$image" -f - "$dir/app" >"$dir/image.log" 2>&1; then
    show_log "$dir/image.log"
    record "$name" FAIL $((SECONDS - t0)) "run image build failed"
    return
  fi
  IMAGES+=("$image")

  # Heroku semantics: source .profile.d/*.sh, then run the command with a shell
  # (bash execs a lone command, so the app gets the signals); --init reaps
  # zombies and forwards SIGTERM.
  # shellcheck disable=SC2016
  if ! cid=$(docker run -d --init --label "$LABEL" --label "$RUN_LABEL" --network "$NET" \
    --user "$APP_UID:$APP_UID" -w /app -e HOME=/app -e PORT=$PORT -e DYNO=web.1 "$image" \
    bash -c 'for f in /app/.profile.d/*.sh; do if [ -r "$f" ]; then . "$f"; fi; done; exec bash -c "$1"' web "$cmd"); then
    record "$name" FAIL $((SECONDS - t0)) "could not start the web container"
    return
  fi
  ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$cid")
  body=
  for _ in $(seq 1 60); do
    body=$(curl -fsS --max-time 2 "http://$ip:$PORT/" 2>/dev/null) && break
    [[ $(docker inspect -f '{{.State.Running}}' "$cid") == true ]] || break
    sleep 0.5
  done
  # The web process must stop on SIGTERM (docker stop), not after the timeout.
  local t_stop=$SECONDS
  docker stop -t 8 "$cid" >/dev/null 2>&1 || true
  t_stop=$((SECONDS - t_stop))
  docker logs "$cid" >"$dir/web.log" 2>&1 || true
  docker rm -f "$cid" >/dev/null 2>&1 || true
  if [[ -n $APP_DIR ]]; then
    sed 's/^/       | /' "$dir/release.yml" "$dir/web.log"
    echo "       GET / -> ${body:0:300}"
  fi
  if [[ $body != *"$marker"* ]]; then
    show_log "$dir/web.log"
    record "$name" FAIL $((SECONDS - t0)) "GET / did not answer '$marker' (web: $cmd)"
    return
  fi
  if ((t_stop >= 7)); then
    record "$name" FAIL $((SECONDS - t0)) "the web process ignored SIGTERM (docker stop took ${t_stop}s)"
    return
  fi
  record "$name" PASS $((SECONDS - t0)) "$bp, compile ${t_compile}s, web: ${cmd:0:60}"
}

run_fixture() { # run_fixture NAME MARKER BUILDPACK
  run_app "$1" "$FIXTURES/$1" "$2" "$3"
}

# fail_last NOTE: turns the last recorded PASS into a FAIL.
fail_last() {
  local i=$((${#R_STATUS[@]} - 1))
  R_STATUS[i]=FAIL
  R_NOTE[i]=$1
  FAILED=$((FAILED + 1))
  printf '%-24s %s  %4ss  %s\n' "${R_NAME[i]}" FAIL "${R_TIME[i]}" "$1"
}
last_passed() { [[ ${R_STATUS[${#R_STATUS[@]} - 1]} == PASS ]]; }

# A Go module with a vendored requirement (laid out as `go mod vendor` does),
# a /v2 module path and two main packages: bin/vendored is the default web.
case_go_vendored() {
  local src=$WORK/src-go-vendored
  mkdir -p "$src/vendor/example.com/greeting" "$src/cmd/worker"
  printf '%s\n' 'module example.com/berth/vendored/v2' '' 'go 1.22' '' \
    'require example.com/greeting v1.0.0' >"$src/go.mod"
  printf '%s\n' '# example.com/greeting v1.0.0' '## explicit' 'example.com/greeting' \
    >"$src/vendor/modules.txt"
  printf '%s\n' 'package greeting' '' 'func Text() string { return "Hello from vendored Go" }' \
    >"$src/vendor/example.com/greeting/greeting.go"
  printf '%s\n' 'package main' '' 'import (' '	"fmt"' '	"net/http"' '	"os"' '' \
    '	"example.com/greeting"' ')' '' 'func main() {' \
    '	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, greeting.Text()) })' \
    '	panic(http.ListenAndServe(":"+os.Getenv("PORT"), nil))' '}' >"$src/main.go"
  printf '%s\n' 'package main' '' 'func main() {}' >"$src/cmd/worker/main.go"
  run_app go-vendored "$src" "Hello from vendored Go" go
  if last_passed && [[ ! -x $WORK/go-vendored/app/bin/worker ]]; then
    fail_last "bin/worker (second main package) was not built"
  fi
}

# static.json: root, clean_urls, SPA routes, custom 404, headers, no dotfiles.
case_static_json() {
  local src=$WORK/src-static-json cid ip problems=()
  mkdir -p "$src/dist"
  printf '%s\n' '{"root": "dist", "clean_urls": true, "error_page": "404.html",' \
    ' "routes": {"/app/**": "index.html"}, "headers": {"/**": {"X-Berth-Test": "yes"}}}' \
    >"$src/static.json"
  echo '<h1>Hello from static.json</h1>' >"$src/dist/index.html"
  echo 'about page' >"$src/dist/about.html"
  echo 'custom not found' >"$src/dist/404.html"
  run_app static-json "$src" "Hello from static.json" static
  last_passed || return 0
  # More requests, against a new container of the same image.
  cid=$(docker run -d --label "$LABEL" --label "$RUN_LABEL" --network "$NET" --user "$APP_UID:$APP_UID" \
    -w /app -e PORT=$PORT "berth-bp-test/static-json:$RUN_ID" python3 .berth/static-server.py)
  ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$cid")
  for _ in $(seq 1 40); do
    curl -fsS -o /dev/null --max-time 1 "http://$ip:$PORT/" 2>/dev/null && break
    sleep 0.25
  done
  get() { curl -s --max-time 3 "http://$ip:$PORT$1"; }
  code() { curl -s --max-time 3 -o /dev/null -w '%{http_code}' --path-as-is "http://$ip:$PORT$1"; }
  [[ $(get /about) == "about page" ]] || problems+=(clean_urls)
  [[ $(get /app/deep/link) == *"Hello from static.json"* ]] || problems+=(routes)
  [[ $(code /missing) == 404 && $(get /missing) == "custom not found" ]] || problems+=(error_page)
  [[ $(code /.berth/static.json) == 404 && $(code /../static.json) == 404 ]] || problems+=(dotfiles-or-outside-root)
  curl -sI --max-time 3 "http://$ip:$PORT/" | grep -qi '^X-Berth-Test: yes' || problems+=(headers)
  docker rm -f "$cid" >/dev/null 2>&1 || true
  if ((${#problems[@]})); then
    fail_last "static.json options broken: ${problems[*]}"
  else
    R_NOTE[${#R_NOTE[@]} - 1]+="; clean_urls/routes/error_page/headers ok"
  fi
}

# compile_fails CASE BUILDPACK PATTERN: compile must fail with PATTERN in its output.
compile_fails() {
  local name=$1 expect_bp=$2 pattern=$3 dir=$WORK/$1 t0=$SECONDS bp
  if ! bp=$(detect "$name" 2>/dev/null) || [[ ${bp%% *} != "$expect_bp" ]]; then
    record "$name" FAIL $((SECONDS - t0)) "expected detection by $expect_bp, got '${bp:-nothing}'"
    return
  fi
  if in_build "$name" "/buildpacks/$expect_bp/bin/compile" /app /cache /env >"$dir/compile.log" 2>&1; then
    show_log "$dir/compile.log"
    record "$name" FAIL $((SECONDS - t0)) "compile succeeded, expected a failure"
    return
  fi
  if ! grep -q '^ !     ' "$dir/compile.log" || ! grep -qiF -- "$pattern" "$dir/compile.log"; then
    show_log "$dir/compile.log"
    record "$name" FAIL $((SECONDS - t0)) "failure without a ' !     ' message containing '$pattern'"
    return
  fi
  record "$name" PASS $((SECONDS - t0)) "$expect_bp compile failed as expected: $(grep -m1 -iF -- "$pattern" "$dir/compile.log" | sed 's/^ !  *//' | cut -c1-60)"
}

case_go_needs_vendor() {
  new_app go-needs-vendor ""
  local app=$WORK/go-needs-vendor/app
  cat >"$app/go.mod" <<'EOF'
module example.com/berth/needs-vendor

go 1.22

require github.com/pkg/errors v0.9.1
EOF
  cat >"$app/main.go" <<'EOF'
package main

import "github.com/pkg/errors"

func main() { panic(errors.New("unreachable")) }
EOF
  chown -R "$APP_UID:$APP_UID" "$app"
  # shellcheck disable=SC2016 # backquotes are literal
  compile_fails go-needs-vendor go 'vendor your dependencies with `go mod vendor`'
}

case_python_missing_package() {
  new_app python-missing-package ""
  local app=$WORK/python-missing-package/app
  printf 'berth-test-no-such-package-7f3a9c==1.0.0\n' >"$app/requirements.txt"
  chown -R "$APP_UID:$APP_UID" "$app"
  compile_fails python-missing-package python 'pip could not install'
}

case_empty_dir() {
  local t0=$SECONDS bp matched=()
  new_app empty-dir ""
  for bp in "${ORDER[@]}"; do
    if in_build empty-dir "/buildpacks/$bp/bin/detect" /app >/dev/null 2>&1; then
      matched+=("$bp")
    fi
  done
  if ((${#matched[@]})); then
    record empty-dir FAIL $((SECONDS - t0)) "detected by: ${matched[*]}"
  else
    record empty-dir PASS $((SECONDS - t0)) "no buildpack detects an empty dir (${#ORDER[@]} checked)"
  fi
}

# Each buildpack carries a copy of lib/common.sh: they must not drift apart.
case_lib_copies() {
  local bp bad=()
  for bp in "${ORDER[@]}"; do
    cmp -s "$BP_ROOT/python/lib/common.sh" "$BP_ROOT/$bp/lib/common.sh" || bad+=("$bp")
  done
  if ((${#bad[@]})); then
    record lib-copies FAIL 0 "lib/common.sh differs in: ${bad[*]}"
  else
    record lib-copies PASS 0 "lib/common.sh identical in all ${#ORDER[@]} buildpacks"
  fi
}

T_START=$SECONDS
echo "-----> Buildpack tests ($BUILD_IMAGE -> $RUN_IMAGE, cache $CACHE_ROOT)"
for c in "${CASES[@]}"; do
  case $c in
    python-flask) run_fixture python-flask "Hello from Flask" python ;;
    node-express) run_fixture node-express "Hello from Express" nodejs ;;
    go-app) run_fixture go-app "Hello from Go" go ;;
    static-site) run_fixture static-site "Hello from a static site" static ;;
    procfile-shell) run_fixture procfile-shell "Hello from a Procfile-only app" procfile ;;
    go-vendored) case_go_vendored ;;
    static-json) case_static_json ;;
    app) run_app "$(basename "$APP_DIR")" "$APP_DIR" "$APP_MARKER" ;;
    go-needs-vendor) case_go_needs_vendor ;;
    python-missing-package) case_python_missing_package ;;
    empty-dir) case_empty_dir ;;
    lib-copies) case_lib_copies ;;
    *) die "unknown case: $c (cases: ${ALL_CASES[*]})" ;;
  esac
done

echo
printf '%-24s %-6s %6s  %s\n' CASE RESULT TIME NOTE
for i in "${!R_NAME[@]}"; do
  printf '%-24s %-6s %5ss  %s\n' "${R_NAME[$i]}" "${R_STATUS[$i]}" "${R_TIME[$i]}" "${R_NOTE[$i]}"
done
echo
echo "total time: $((SECONDS - T_START))s"
echo "buildpacks: $((${#R_NAME[@]} - FAILED)) passed, $FAILED failed"
((FAILED == 0))
