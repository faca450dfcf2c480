#!/usr/bin/env bash
# Idle resident memory of `berth server` with 0 apps and with N deployed apps
# (one web instance each). Usage: bash bench/idle-rss/run.sh [N]   (default 20)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
N=${1:-20}
cargo build --release -q -p berth
BERTH=$PWD/target/release/berth
DATA=$(mktemp -d /var/tmp/berth-rss.XXXXXX)
NS=rss$$
LOG=$DATA/server.log
cleanup() {
  [[ -n ${PID:-} ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  docker ps -aq --filter "label=io.berth.namespace=$NS" | xargs -r docker rm -f >/dev/null
  docker network ls -q --filter "label=io.berth.namespace=$NS" | xargs -r docker network rm >/dev/null
  rm -rf "$DATA"
}
trap cleanup EXIT

docker build -q -t berth-bench/image-app:1 fixtures/image-app >/dev/null 2>&1
"$BERTH" server --data-dir "$DATA" --api-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --namespace "$NS" >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q '^  API:' "$LOG" && break; sleep 0.1; done
export BERTH_API_URL=$(awk '/^  API:/ {print $2}' "$LOG") BERTH_API_TOKEN=$(cat "$DATA/admin.token")
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }

sleep 5
echo "idle RSS, 0 apps:  $(rss) KiB"
for i in $(seq "$N"); do
  "$BERTH" apps:create "rss-app-$i" >/dev/null 2>&1
  "$BERTH" deploy -a "rss-app-$i" --image berth-bench/image-app:1 >/dev/null 2>&1
done
# Wait until every app has a running instance, then let the server idle.
for _ in $(seq 120); do
  running=$(docker ps -q --filter "label=io.berth.namespace=$NS" | wc -l)
  ((running >= N)) && break
  sleep 1
done
sleep 10
echo "idle RSS, $N apps: $(rss) KiB ($running instances running)"
