#!/usr/bin/env bash
# Zero-downtime deploys under load. One Berth server (release build), the
# image-app fixture at web=2, and wrk sending keep-alive requests through the
# router:
#   1. steady state: wrk for STEADY seconds, no changes;
#   2. deploys: wrk while CYCLES deploys run back to back (each `config:set`
#      makes a new release: new instances start, pass their check, take over,
#      and the old ones drain and stop);
#   3. deploy → serving: for SWITCHES config changes, the time from the API call
#      to the first response from the new release (router polled every 5 ms),
#      next to the time the engine takes to start the same container.
# Reports requests, non-2xx responses, socket errors and p50/p99 latency per phase.
# Usage: bash bench/zero-downtime/run.sh   (CYCLES=100 STEADY=20 SWITCHES=20 CONNECTIONS=32)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
CYCLES=${CYCLES:-100}
STEADY=${STEADY:-20}
SWITCHES=${SWITCHES:-20}
CONNECTIONS=${CONNECTIONS:-32}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
cargo build --release -q -p berth
BERTH=$ROOT/target/release/berth
WORK=$(mktemp -d /var/tmp/berth-bench-zd.XXXXXX)
NS=bz$$
APP=steady
cleanup() {
  [[ -n ${WRK_PID:-} ]] && kill "$WRK_PID" 2>/dev/null || true
  [[ -n ${PID:-} ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  docker ps -aq --filter "label=io.berth.namespace=$NS" | xargs -r docker rm -f >/dev/null
  docker network ls -q --filter "label=io.berth.namespace=$NS" | xargs -r docker network rm >/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

IMAGE=berth-bench/image-app:zd
docker build -q -t "$IMAGE" fixtures/image-app >/dev/null
"$BERTH" server --data-dir "$WORK/data" --api-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --namespace "$NS" \
  --stop-grace 5 >"$WORK/server.out" 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 100); do grep -q '^  Router:' "$WORK/server.out" && break; sleep 0.1; done
API=$(awk '/^  API:/ {print $2}' "$WORK/server.out")
ROUTER=$(awk '/^  Router:/ {print $2}' "$WORK/server.out")
export BERTH_API_URL=$API BERTH_API_TOKEN=$(cat "$WORK/data/admin.token")

"$BERTH" apps:create "$APP" >/dev/null
"$BERTH" config:set -a "$APP" APP_VERSION=0 >/dev/null
"$BERTH" deploy -a "$APP" --image "$IMAGE" >/dev/null 2>&1
"$BERTH" ps:scale web=2 -a "$APP" >/dev/null 2>&1
sleep 2

# run_wrk OUT [DURATION]: wrk in the background against the app.
run_wrk() {
  wrk -t2 -c"$CONNECTIONS" -d"${2:-3600}"s --latency -s bench/zero-downtime/statuses.lua \
    -H "Host: $APP.localhost" "$ROUTER/" >"$1" 2>&1 &
  WRK_PID=$!
}
# summary FILE: "requests non2xx socket-errors p50 p99"
summary() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
requests = int(re.search(r"(\d+) requests in", text).group(1))
non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", text) or [0, 0])[1])
errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text.split("Socket errors:")[1].splitlines()[0])) if "Socket errors:" in text else 0
def pct(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, text, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
print(f"{requests} {non2xx} {errors} {pct(50):.2f} {pct(99):.2f}")
PY
}

echo "== steady state: ${STEADY}s of wrk (-c$CONNECTIONS), no changes"
run_wrk "$WORK/steady.txt" "$STEADY"
wait "$WRK_PID"; WRK_PID=
read -r S_REQ S_BAD S_ERR S_P50 S_P99 <<<"$(summary "$WORK/steady.txt")"

echo "== $CYCLES deploys under wrk"
run_wrk "$WORK/deploys.txt"
START=$SECONDS
for i in $(seq 1 "$CYCLES"); do
  "$BERTH" config:set -a "$APP" "APP_VERSION=$i" >/dev/null 2>&1
  until curl -fsS -m 2 -H "Host: $APP.localhost" "$ROUTER/" 2>/dev/null | grep -q "\"version\": \"$i\""; do sleep 0.02; done
  ((i % 10 == 0)) && echo "   $i deploys ($((SECONDS - START))s)"
done
kill -INT "$WRK_PID"; wait "$WRK_PID" || true; WRK_PID=
read -r D_REQ D_BAD D_ERR D_P50 D_P99 <<<"$(summary "$WORK/deploys.txt")"
D_STATUSES=$(grep '^statuses:' "$WORK/deploys.txt" || true)
[[ -n ${KEEP_LOG:-} ]] && cp "$WORK/server.log" "$KEEP_LOG"

echo "== deploy -> new version serving ($SWITCHES config changes, no load)"
SWITCH=$(python3 - "$API" "$BERTH_API_TOKEN" "$ROUTER" "$APP" "$SWITCHES" "$IMAGE" <<'PY'
import json, statistics, subprocess, sys, time, urllib.request
api, token, router, app, n, image = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
def version():
    req = urllib.request.Request(f"{router}/", headers={"Host": f"{app}.localhost"})
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return json.load(r)["version"]
    except Exception:
        return None
times = []
for i in range(n):
    want = f"switch-{i}"
    body = json.dumps({"APP_VERSION": want}).encode()
    req = urllib.request.Request(f"{api}/apps/{app}/config-vars", data=body, method="PATCH",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/vnd.heroku+json; version=3"})
    t0 = time.monotonic()
    urllib.request.urlopen(req).read()
    while version() != want:
        time.sleep(0.005)
    times.append(time.monotonic() - t0)
    time.sleep(0.5)
# Baseline: the engine starting the same container until its port accepts connections.
starts = []
for _ in range(5):
    t0 = time.monotonic()
    cid = subprocess.check_output(["docker", "run", "-d", "--rm", "-e", "PORT=5000", image]).decode().strip()
    ip = subprocess.check_output(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", cid]).decode().strip()
    import socket
    while True:
        try:
            socket.create_connection((ip, 5000), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.005)
    starts.append(time.monotonic() - t0)
    subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
times.sort(); starts.sort()
print(f"{statistics.median(times):.2f} {times[int(len(times)*0.9)]:.2f} {statistics.median(starts):.2f}")
PY
)
read -r SW_P50 SW_P90 START_P50 <<<"$SWITCH"

echo
printf '%-22s %10s %8s %13s %9s %9s\n' phase requests non-2xx socket-errors "p50 ms" "p99 ms"
printf '%-22s %10s %8s %13s %9s %9s\n' "steady (${STEADY}s)" "$S_REQ" "$S_BAD" "$S_ERR" "$S_P50" "$S_P99"
printf '%-22s %10s %8s %13s %9s %9s\n' "$CYCLES deploys" "$D_REQ" "$D_BAD" "$D_ERR" "$D_P50" "$D_P99"
echo
echo "deploy -> new version serving: median ${SW_P50}s, p90 ${SW_P90}s (engine container start -> port open: median ${START_P50}s)"
echo "during deploys: $D_STATUSES"
