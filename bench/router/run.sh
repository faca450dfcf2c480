#!/usr/bin/env bash
# Router benchmark: the same 1 KB backend (a) directly, (b) through the Berth
# router, (c) through nginx as a keep-alive reverse proxy, all driven by wrk.
# See bench/router/README.md.
#
# Env:
#   DURATION   wrk duration per measured run      (default 10s)
#   WARMUP     wrk duration of the warm-up run    (default 3s)
#   CONNS      wrk connections                    (default 64)
#   THREADS    wrk threads                        (default 2)
#   ROUNDS     measured rounds, interleaved; the table shows the median (default 1)
#   PIN        1: pin with taskset (default when >= 2 CPUs), 0: no pinning
#   CPU_LOAD   CPUs for wrk + backend             (default 0)
#   CPU_PROXY  CPUs for the proxy under test      (default 1)
#   BERTH_THREADS  tokio worker threads of the router (default: CPUs it is pinned to)
#   ACCESS_LOG 1: the Berth router writes an access log as the server does (default 0)
#   NGINX      nginx binary                       (default: nginx on PATH)
#   QUIET_WAIT before each measured run, wait up to this many seconds for the
#              machine to be idle (other jobs skew the figures; default 60, 0: no wait)
#   KEEP_TMP   1: keep the temp dir (configs, logs, wrk outputs)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-1}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
HOST=bench.localhost
BODY_SIZE=1024

for tool in wrk curl ss "$NGINX"; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 2; }
done

NCPU=$(nproc)
if [[ -z ${PIN:-} ]]; then
  if ((NCPU >= 2)) && command -v taskset >/dev/null; then PIN=1; else PIN=0; fi
fi
CPU_LOAD=${CPU_LOAD:-0}
CPU_PROXY=${CPU_PROXY:-1}
# Command prefixes (not functions: a backgrounded function would run in a
# subshell, and $! would be the subshell, not the server).
ON_LOAD=() ON_PROXY=()
if [[ $PIN == 1 ]]; then ON_LOAD=(taskset -c "$CPU_LOAD") ON_PROXY=(taskset -c "$CPU_PROXY"); fi

TMP=$(mktemp -d /tmp/berth-bench-router.XXXXXX)
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "temp dir kept: $TMP" >&2; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build --------------------------------------------------------------------
echo "== building (cargo build --release -p berth-router --examples)" >&2
(cd "$ROOT" && cargo build --release -p berth-router --examples --quiet)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
ROUTER_BIN=$TARGET_DIR/release/examples/standalone_router
[[ -x $ROUTER_BIN ]] || { echo "run.sh: $ROUTER_BIN not built" >&2; exit 1; }

# --- free loopback ports ------------------------------------------------------
USED_PORTS=" $(ss -Htan | awk '{n=split($4,a,":"); print a[n]}' | sort -u | tr '\n' ' ') "
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    if [[ $USED_PORTS != *" $port "* ]]; then USED_PORTS+="$port "; echo "$port"; return; fi
  done
}
BACKEND_PORT=$(free_port)
BERTH_PORT=$(free_port)
NGINX_PORT=$(free_port)

# --- configs ------------------------------------------------------------------
# Exactly 1024 bytes of body, one buffer, no file I/O.
BODY=$(head -c "$BODY_SIZE" /dev/zero | tr '\0' 'x')

common_conf() { # prefix name
  cat <<EOF
worker_processes 1;
daemon off;
pid $1/$2.pid;
error_log $1/$2.error.log warn;
events { worker_connections 4096; multi_accept on; }
EOF
}
http_temp_paths() { # prefix name
  for t in client_body proxy fastcgi uwsgi scgi; do echo "    ${t}_temp_path $1/$2-${t}_temp;"; done
}

mkdir -p "$TMP/backend" "$TMP/proxy"
{
  common_conf "$TMP/backend" backend
  cat <<EOF
http {
    access_log off;
$(http_temp_paths "$TMP/backend" backend)
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    server {
        listen 127.0.0.1:$BACKEND_PORT backlog=4096;
        default_type text/plain;
        location / { return 200 "$BODY"; }
    }
}
EOF
} >"$TMP/backend/nginx.conf"

# The proxy does what the Berth router does: pass Host, add X-Forwarded-*,
# pass/generate X-Request-Id and return it to the client.
{
  common_conf "$TMP/proxy" proxy
  cat <<EOF
http {
    access_log off;
$(http_temp_paths "$TMP/proxy" proxy)
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    upstream app {
        server 127.0.0.1:$BACKEND_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096;
        server_name $HOST;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Port \$server_port;
            proxy_set_header X-Request-Id \$request_id;
            add_header X-Request-Id \$request_id always;
        }
    }
}
EOF
} >"$TMP/proxy/nginx.conf"

# --- start everything -----------------------------------------------------------
wait_ready() { # name port
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null -H "Host: $HOST" "http://127.0.0.1:$2/"; then return 0; fi
    sleep 0.05
  done
  echo "run.sh: $1 did not come up on port $2" >&2
  cat "$TMP"/*/*.error.log "$TMP"/*.log 2>/dev/null >&2 || true
  exit 1
}

"${ON_LOAD[@]}" "$NGINX" -p "$TMP/backend" -c "$TMP/backend/nginx.conf" -e "$TMP/backend/backend.error.log" \
  >"$TMP/backend.log" 2>&1 &
PIDS+=($!) BACKEND_PID=$!
wait_ready backend "$BACKEND_PORT"

BERTH_ARGS=(--listen "127.0.0.1:$BERTH_PORT" --host "$HOST" --backend "127.0.0.1:$BACKEND_PORT")
[[ -n ${BERTH_THREADS:-} ]] && BERTH_ARGS+=(--threads "$BERTH_THREADS")
[[ ${ACCESS_LOG:-0} == 1 ]] && BERTH_ARGS+=(--access-log "$TMP/access.log")
"${ON_PROXY[@]}" "$ROUTER_BIN" "${BERTH_ARGS[@]}" >"$TMP/berth.log" 2>&1 &
PIDS+=($!) BERTH_PID=$!
wait_ready berth "$BERTH_PORT"

"${ON_PROXY[@]}" "$NGINX" -p "$TMP/proxy" -c "$TMP/proxy/nginx.conf" -e "$TMP/proxy/proxy.error.log" \
  >"$TMP/proxy.log" 2>&1 &
PIDS+=($!) NGINX_PID=$!
wait_ready nginx "$NGINX_PORT"

NAMES=(direct berth nginx)
declare -A PORT=([direct]=$BACKEND_PORT [berth]=$BERTH_PORT [nginx]=$NGINX_PORT)
declare -A FRONT_PID=([direct]=$BACKEND_PID [berth]=$BERTH_PID [nginx]=$NGINX_PID)
SERVER_PIDS=("$BACKEND_PID" "$BERTH_PID" "$NGINX_PID")
declare -A LABEL=([direct]="direct (backend)" [berth]="berth router" [nginx]="nginx proxy")

# Sanity check: 200 and exactly 1 KB through every path.
for name in "${NAMES[@]}"; do
  out=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H "Host: $HOST" "http://127.0.0.1:${PORT[$name]}/")
  [[ $out == "200 $BODY_SIZE" ]] || { echo "run.sh: $name answered '$out', want '200 $BODY_SIZE'" >&2; exit 1; }
done

# --- measure ------------------------------------------------------------------
# wrk prints latency with a unit (us, ms, s): normalise to ms.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
  if (u == "us") n /= 1000; else if (u == "s") n *= 1000; printf "%.3f", n }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# CPU time (clock ticks) of processes and their children, e.g. nginx master + worker.
tree_ticks() {
  local pid total=0 t
  for pid in "$@" $(ps -o pid= --ppid "$*" 2>/dev/null); do
    t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
# Ticks spent by this shell's finished children (wrk), from the `times` builtin
# (which must run in this shell, not in a $(...) subshell).
child_ticks() { # sets CHILD_TICKS
  times >"$TMP/times"
  CHILD_TICKS=$(awk -v hz="$HZ" 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
    printf "%.0f", t * hz }' "$TMP/times")
}
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
HZ=$(getconf CLK_TCK)

# Waits (up to QUIET_WAIT s) for a 1 s window in which the machine is < 5% busy.
wait_quiet() {
  local i b0 a0 b1 a1
  for ((i = 0; i < ${QUIET_WAIT:-60}; i++)); do
    read -r b0 a0 < <(machine_ticks); sleep 1; read -r b1 a1 < <(machine_ticks)
    if ((100 * (b1 - b0) < 5 * (a1 - a0))); then return; fi
    if ((i == 0)); then echo "   (waiting for other jobs to leave the CPUs idle)" >&2; fi
  done
  if ((${QUIET_WAIT:-60} > 0)); then echo "   (machine still busy after ${QUIET_WAIT:-60}s: measuring anyway)" >&2; fi
  return 0
}

FAILED=0
run_wrk() { # name duration outfile
  "${ON_LOAD[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$2" --latency -H "Host: $HOST" "http://127.0.0.1:${PORT[$1]}/" >"$3" 2>&1 || {
    echo "run.sh: wrk failed for $1" >&2; cat "$3" >&2; FAILED=1; }
}

echo "== warm-up ($WARMUP each)" >&2
for name in "${NAMES[@]}"; do run_wrk "$name" "$WARMUP" "$TMP/warmup-$name.txt"; done

declare -A RPS P50 P99 ERRS USREQ OTHER
for round in $(seq 1 "$ROUNDS"); do
  for name in "${NAMES[@]}"; do
    echo "== round $round/$ROUNDS: $name ($DURATION, -t$THREADS -c$CONNS)" >&2
    out=$TMP/wrk-$name-$round.txt
    wait_quiet
    read -r m_busy0 m_all0 < <(machine_ticks)
    ours0=$(tree_ticks "${SERVER_PIDS[@]}"); front0=$(tree_ticks "${FRONT_PID[$name]}"); child_ticks; wrk0=$CHILD_TICKS
    run_wrk "$name" "$DURATION" "$out"
    read -r m_busy1 m_all1 < <(machine_ticks)
    ours1=$(tree_ticks "${SERVER_PIDS[@]}"); front1=$(tree_ticks "${FRONT_PID[$name]}"); child_ticks; wrk1=$CHILD_TICKS
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    reqs=$(awk '/requests in/ { print $1 }' "$out")
    p50=$(awk '$1 == "50%" { print $2 }' "$out")
    p99=$(awk '$1 == "99%" { print $2 }' "$out")
    sock=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    errs=$(( ${sock:-0} + ${non2xx:-0} ))
    if [[ -z $rps || -z $p99 || -z $reqs ]]; then echo "run.sh: cannot parse wrk output for $name" >&2; cat "$out" >&2; FAILED=1; continue; fi
    if ((errs > 0)); then
      echo "run.sh: $name: socket errors ${sock:-0}, non-2xx ${non2xx:-0}" >&2; grep -E 'Socket|Non-2xx' "$out" >&2; FAILED=1
    fi
    RPS[$name]+="$rps "; P50[$name]+="$(to_ms "$p50") "; P99[$name]+="$(to_ms "$p99") "
    ERRS[$name]=$(( ${ERRS[$name]:-0} + errs ))
    USREQ[$name]+="$(awk -v t=$((front1 - front0)) -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.2f", (n > 0 ? t / hz * 1e6 / n : 0) }') "
    # Machine CPU not used by the benchmark (other jobs): makes the figures unreliable.
    OTHER[$name]+="$(awk -v b=$((m_busy1 - m_busy0)) -v a=$((m_all1 - m_all0)) -v o=$((ours1 - ours0 + wrk1 - wrk0)) \
      'BEGIN { x = (a > 0 ? 100 * (b - o) / a : 0); printf "%.0f", (x < 0 ? 0 : x) }') "
  done
done

# --- report -------------------------------------------------------------------
med() { tr ' ' '\n' <<<"${1:-0}" | grep . | median; }
if [[ $PIN == 1 ]]; then
  PINNING="wrk + backend on CPU $CPU_LOAD, the proxy (berth or nginx) alone on CPU $CPU_PROXY"
else
  PINNING="none"
fi
echo
echo "Berth router benchmark - $(date -u '+%Y-%m-%d %H:%M UTC'), $NCPU CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r), nginx $("$NGINX" -v 2>&1 | sed 's|.*/||')"
echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency, keep-alive, 1 KB body; median of $ROUNDS round(s); pinning: $PINNING"
echo
printf '| %-16s | %10s | %7s | %7s | %6s | %12s | %9s |\n' target "requests/s" "p50 ms" "p99 ms" errors "CPU us/req*" "other CPU"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "------------------" "-----------:" "--------:" "--------:" "-------:" "-------------:" "----------:"
declare -A MRPS MP99
for name in "${NAMES[@]}"; do
  MRPS[$name]=$(med "${RPS[$name]:-}"); MP99[$name]=$(med "${P99[$name]:-}")
  printf '| %-16s | %10.0f | %7.2f | %7.2f | %6d | %12.1f | %8.0f%% |\n' "${LABEL[$name]}" "${MRPS[$name]}" \
    "$(med "${P50[$name]:-}")" "${MP99[$name]}" "${ERRS[$name]:-0}" "$(med "${USREQ[$name]:-}")" "$(med "${OTHER[$name]:-}")"
done
echo
echo "* CPU time of the server wrk talks to (the backend for 'direct', else the proxy alone), per request."
echo "  'other CPU': machine CPU used by processes outside this benchmark during the run; if not ~0%, rerun."
awk -v br="${MRPS[berth]}" -v nr="${MRPS[nginx]}" -v bp="${MP99[berth]}" -v np="${MP99[nginx]}" 'BEGIN {
  printf "berth/nginx: req/s %.2fx, p99 %.2fx (req/s above 1 and p99 below 1 favour berth)\n",
    (nr > 0 ? br / nr : 0), (np > 0 ? bp / np : 0) }'

if ((FAILED)); then echo "run.sh: FAILED (errors above)" >&2; exit 1; fi
