#!/usr/bin/env bash
# Makes this host ready to build, test and run Berth (run as root; idempotent,
# a few seconds when everything is already in place):
#   - installs missing Debian packages (only when a command is missing)
#   - starts dockerd if it is not reachable, with a large default address pool
#     (one bridge network per app)
#   - builds the stack images berth/stack:trixie{,-build} if absent or outdated
#
# Env: BERTH_DOCKER_ADDRESS_POOL  pool for dockerd (default: first free one of
#                                 10.210.0.0/16, 10.211.0.0/16, ...; /24 each)
#      BERTH_SKIP_STACK=1         do not build the stack images
#      BERTH_DOCKERD_PIDFILE      pidfile of the dockerd to check/start
#                                 (default /var/run/docker.pid)
#      BERTH_DOCKERD_ARGS         extra dockerd arguments (e.g. to run a second,
#                                 isolated daemon together with DOCKER_HOST)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
DOCKERD_LOG=/var/log/berth-dockerd.log
DOCKERD_PIDFILE=${BERTH_DOCKERD_PIDFILE:-/var/run/docker.pid}

die() { echo " !     $*" >&2; exit 1; }
warn() { echo " !     $*" >&2; }
need_root() { [[ $EUID -eq 0 ]] || die "$1 needs root: run 'sudo $0'"; }

# --- Debian packages ---------------------------------------------------------
# command -> package that provides it
declare -A PKG_FOR=(
  [docker]=docker.io
  [debootstrap]=debootstrap
  [git]=git
  [curl]=curl
  [wrk]=wrk
  [nginx]=nginx-light
  [gcc]=build-essential
  [make]=build-essential
  [pkg-config]=pkg-config
  [update-ca-certificates]=ca-certificates
  [flock]=util-linux
  [ip]=iproute2
  [tar]=tar
  # The git-over-SSH e2e test drives the real OpenSSH client.
  [ssh]=openssh-client
  [ssh-keygen]=openssh-client
)
missing=()
for cmd in "${!PKG_FOR[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKG_FOR[$cmd]}")
done
[[ -r /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  need_root "installing ${missing[*]}"
  echo "-----> Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Packages like nginx must not start their service on install.
  policy_rc_d_added=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_rc_d_added=1
  fi
  apt_log=$(mktemp /var/tmp/berth-apt.XXXXXX)
  if ! { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
    ((policy_rc_d_added)) && rm -f /usr/sbin/policy-rc.d
    tail -n 30 "$apt_log" | sed 's/^/       /' >&2
    rm -f "$apt_log"
    die "apt-get install failed"
  fi
  ((policy_rc_d_added)) && rm -f /usr/sbin/policy-rc.d
  rm -f "$apt_log"
fi

# --- dockerd -----------------------------------------------------------------
ip_to_int() {
  local IFS=. a b c d
  read -r a b c d <<<"$1"
  echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# Does CIDR $1 overlap any address or route of this host? Docker's own bridges
# (docker0, br-*) are ignored: they are carved out of the pool itself.
cidr_clashes() {
  local net=${1%/*} len=${1#*/} base mask other olen obase omask m
  base=$(ip_to_int "$net")
  mask=$(((0xffffffff << (32 - len)) & 0xffffffff))
  while read -r other; do
    [[ $other == */* ]] || other=$other/32
    [[ ${other%/*} =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || continue
    olen=${other#*/}
    obase=$(ip_to_int "${other%/*}")
    omask=$(((0xffffffff << (32 - olen)) & 0xffffffff))
    m=$((olen < len ? omask : mask)) # the shorter prefix decides
    (((base & m) == (obase & m))) && return 0
  done < <(
    ip -4 -o addr show | awk '$2 != "docker0" && $2 !~ /^br-/ {print $4}'
    ip -4 route show table all | awk '$1 != "default" && $0 !~ / dev (docker0|br-)/ {print $1}'
  )
  return 1
}

choose_address_pool() {
  if [[ -n ${BERTH_DOCKER_ADDRESS_POOL:-} ]]; then
    cidr_clashes "$BERTH_DOCKER_ADDRESS_POOL" &&
      warn "BERTH_DOCKER_ADDRESS_POOL=$BERTH_DOCKER_ADDRESS_POOL overlaps a host address or route"
    echo "$BERTH_DOCKER_ADDRESS_POOL"
    return
  fi
  local i
  for i in 210 211 212 213 214 215 216 217 218 219; do
    if ! cidr_clashes "10.$i.0.0/16"; then
      echo "10.$i.0.0/16"
      return
    fi
  done
  die "no free /16 in 10.210-219.0.0 for docker networks; set BERTH_DOCKER_ADDRESS_POOL"
}

dockerd_running() {
  [[ -s $DOCKERD_PIDFILE ]] && kill -0 "$(cat "$DOCKERD_PIDFILE")" 2>/dev/null
}

if ! docker info >/dev/null 2>&1; then
  if ! dockerd_running; then
    need_root "starting dockerd"
    pool=$(choose_address_pool)
    echo "-----> Starting dockerd (address pool $pool, log $DOCKERD_LOG)"
    # setsid: survive the caller's process group (make, CI) ending.
    # shellcheck disable=SC2086
    setsid nohup dockerd --default-address-pool "base=$pool,size=24" \
      --pidfile "$DOCKERD_PIDFILE" ${BERTH_DOCKERD_ARGS:-} </dev/null >>"$DOCKERD_LOG" 2>&1 &
  fi
  for _ in $(seq 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  if ! docker info >/dev/null 2>&1; then
    tail -n 20 "$DOCKERD_LOG" 2>/dev/null | sed 's/^/       /' >&2
    die "dockerd did not become ready within 60 s (log: $DOCKERD_LOG)"
  fi
elif dockerd_running &&
  ! tr '\0' ' ' <"/proc/$(cat "$DOCKERD_PIDFILE")/cmdline" | grep -q -- '--default-address-pool' &&
  ! grep -qs default-address-pools /etc/docker/daemon.json; then
  warn "dockerd runs without --default-address-pool: only ~30 app networks fit."
  warn "Restart it with: kill \$(cat $DOCKERD_PIDFILE); $0"
fi

# --- stack images ------------------------------------------------------------
if [[ ${BERTH_SKIP_STACK:-0} != 1 ]]; then
  "$ROOT/stack/build.sh"
fi
