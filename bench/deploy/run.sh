#!/usr/bin/env bash
# Deploy speed: for the Flask and Express fixtures, time from the start of the
# user's command to the first HTTP response showing the change, for
#   (a) the first `git push` (cold: dependencies downloaded, image built),
#   (b) a re-push with an app-code change only (dependencies from the build cache),
#   (c) `berth config:set` (new release, instances replaced, no build).
# Usage: bash bench/deploy/run.sh        (release build; needs dockerd and the stack images)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
cargo build --release -q -p berth
BERTH=$ROOT/target/release/berth
WORK=$(mktemp -d /var/tmp/berth-bench-deploy.XXXXXX)
NS=bd$$
cleanup() {
  [[ -n ${PID:-} ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  docker ps -aq --filter "label=io.berth.namespace=$NS" | xargs -r docker rm -f >/dev/null
  docker network ls -q --filter "label=io.berth.namespace=$NS" | xargs -r docker network rm >/dev/null
  docker images -q --filter "label=io.berth.image.namespace=$NS" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BERTH" server --data-dir "$WORK/data" --api-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --namespace "$NS" \
  >"$WORK/server.out" 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 100); do grep -q '^  Router:' "$WORK/server.out" && break; sleep 0.1; done
API=$(awk '/^  API:/ {print $2}' "$WORK/server.out")
ROUTER=$(awk '/^  Router:/ {print $2}' "$WORK/server.out")
export BERTH_API_URL=$API BERTH_API_TOKEN=$(cat "$WORK/data/admin.token")

now() { date +%s.%N; }
elapsed() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }
# wait_body APP TEXT: polls the router every 50 ms until the body contains TEXT (max 300 s).
wait_body() {
  local deadline=$((SECONDS + 300))
  until curl -fsS -m 2 -H "Host: $1.localhost" "$ROUTER/" 2>/dev/null | grep -q "$2"; do
    ((SECONDS < deadline)) || { echo "timeout waiting for $1 to show '$2'" >&2; exit 1; }
    sleep 0.05
  done
}
# wait_release APP VERSION: until every web instance runs VERSION and the app answers.
wait_release() {
  local deadline=$((SECONDS + 300))
  until "$BERTH" ps -a "$1" --json | python3 -c "
import json, sys
d = [x for x in json.load(sys.stdin) if x['type'] == 'web']
sys.exit(0 if d and all(x['release']['version'] == $2 and x['state'] == 'up' for x in d) else 1)" &&
    curl -fsS -m 2 -o /dev/null -H "Host: $1.localhost" "$ROUTER/"; do
    ((SECONDS < deadline)) || { echo "timeout waiting for $1 v$2" >&2; exit 1; }
    sleep 0.05
  done
}
git_in() { git -C "$1" -c user.email=bench@example.com -c user.name=bench "${@:2}"; }

declare -A RESULT
for fixture in python-flask node-express; do
  app=${fixture//_/-}
  "$BERTH" apps:create "$app" >/dev/null 2>&1
  repo=$WORK/$fixture
  cp -r "fixtures/$fixture" "$repo"
  git_in "$repo" init -q -b main
  git_in "$repo" add -A
  git_in "$repo" commit -q -m initial
  git_in "$repo" remote add berth "${API/http:\/\//http://git:$BERTH_API_TOKEN@}/$app.git"

  t=$(now); git_in "$repo" push -q berth main >"$WORK/$app-a.log" 2>&1; wait_body "$app" "Hello from"
  RESULT[$app,a]=$(elapsed "$t")

  case $fixture in
    python-flask) sed -i 's/Hello from Flask/Hello again from Flask/' "$repo/app.py" ;;
    node-express) sed -i 's/node-express fixture/node-express fixture, changed/' "$repo/server.js" ;;
  esac
  git_in "$repo" commit -q -am "code change"
  t=$(now); git_in "$repo" push -q berth main >"$WORK/$app-b.log" 2>&1
  case $fixture in
    python-flask) wait_body "$app" "Hello again from Flask" ;;
    node-express) wait_body "$app" "fixture, changed" ;;
  esac
  RESULT[$app,b]=$(elapsed "$t")

  t=$(now); "$BERTH" config:set -a "$app" BENCH_RUN=$$ >/dev/null 2>&1; wait_release "$app" 4
  RESULT[$app,c]=$(elapsed "$t")
done

printf '\n%-14s %14s %22s %16s\n' app "(a) first push" "(b) code change push" "(c) config:set"
for app in python-flask node-express; do
  printf '%-14s %13ss %21ss %15ss\n' "$app" "${RESULT[$app,a]}" "${RESULT[$app,b]}" "${RESULT[$app,c]}"
done
