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
  go-needs-vendor python-missing-package empty-dir lib-copies)
if (($#)); then CASES=("$@"); else CASES=("${ALL_CASES[@]}"); fi

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

# build_and_run CASE MARKER [CHECKS...]: the full happy path.
run_fixture() {
  local name=$1 marker=$2 expect_bp=$3 dir=$WORK/$1 t0=$SECONDS t_compile cmd image cid ip body bp
  new_app "$name" "$FIXTURES/$name"

  if ! bp=$(detect "$name" 2>"$dir/detect.err"); then
    record "$name" FAIL $((SECONDS - t0)) "no buildpack detected"
    return
  fi
  bp=${bp%% *}
  if [[ $bp != "$expect_bp" ]]; then
    record "$name" FAIL $((SECONDS - t0)) "detected $bp, expected $expect_bp"
    return
  fi

  t_compile=$SECONDS
  if ! in_build "$name" "/buildpacks/$bp/bin/compile" /app /cache /env >"$dir/compile.log" 2>&1; then
    show_log "$dir/compile.log"
    record "$name" FAIL $((SECONDS - t0)) "compile failed"
    return
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

  # Heroku semantics: source .profile.d/*.sh, then the command through sh -c.
  # shellcheck disable=SC2016
  if ! cid=$(docker run -d --label "$LABEL" --label "$RUN_LABEL" --network "$NET" \
    --user "$APP_UID:$APP_UID" -w /app -e HOME=/app -e PORT=$PORT -e DYNO=web.1 "$image" \
    sh -c 'for f in /app/.profile.d/*.sh; do if [ -r "$f" ]; then . "$f"; fi; done; exec sh -c "$1"' web "$cmd"); then
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
  docker logs "$cid" >"$dir/web.log" 2>&1 || true
  docker rm -f "$cid" >/dev/null 2>&1 || true
  if [[ $body != *"$marker"* ]]; then
    show_log "$dir/web.log"
    record "$name" FAIL $((SECONDS - t0)) "GET / did not answer '$marker' (web: $cmd)"
    return
  fi
  record "$name" PASS $((SECONDS - t0)) "$bp, compile ${t_compile}s, web: $cmd"
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
