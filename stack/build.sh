#!/usr/bin/env bash
# Builds Berth's stack images from Debian 13 "trixie", without any registry:
#
#   berth/stack:trixie        run image: debootstrap minbase + packages-run.txt,
#                             imported with `docker import`
#   berth/stack:trixie-build  build image: the run image + packages-build.txt,
#                             installed with apt-get in a container (host
#                             network) and saved with `docker commit`
#
# Both images carry the label io.berth.stack-recipe=<hash of this script, the
# package lists and the host CA bundle>. An image is rebuilt only when it is
# missing or its label differs (or the build image was made from another run
# image), so a second run takes about a second.
#
# Usage: stack/build.sh [--force]
# Env:   BERTH_DEBIAN_MIRROR (default http://deb.debian.org/debian)
#        BERTH_STACK_LOG     (default /var/log/berth-stack-build.log)
set -euo pipefail

STACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=trixie
MIRROR=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
RUN_IMAGE=berth/stack:$SUITE
BUILD_IMAGE=berth/stack:$SUITE-build
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
CACHE_DIR=/var/cache/berth
LOG=${BERTH_STACK_LOG:-/var/log/berth-stack-build.log}
LABEL=io.berth.stack-recipe
BASE_LABEL=io.berth.stack-base
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

FORCE=0
for arg in "$@"; do
  case $arg in
    --force) FORCE=1 ;;
    -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

die() { echo " !     $*" >&2; exit 1; }

# Package list files: one name per line, '#' comments.
packages() { sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"; }

# --- recipe hash -------------------------------------------------------------
[[ -r $HOST_CA_BUNDLE ]] || die "host CA bundle $HOST_CA_BUNDLE not found (install ca-certificates)"
RECIPE_HASH=$(
  cd "$STACK_DIR"
  {
    echo "suite=$SUITE mirror=$MIRROR"
    cat build.sh packages-run.txt packages-build.txt
    sha256sum <"$HOST_CA_BUNDLE"
  } | sha256sum | cut -c1-16
)

image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
image_label() { docker image inspect --format "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }

run_up_to_date() { [[ $(image_label "$RUN_IMAGE" "$LABEL") == "$RECIPE_HASH" ]]; }
build_up_to_date() {
  [[ $(image_label "$BUILD_IMAGE" "$LABEL") == "$RECIPE_HASH" ]] &&
    [[ $(image_label "$BUILD_IMAGE" "$BASE_LABEL") == "$(image_id "$RUN_IMAGE")" ]]
}

docker info >/dev/null 2>&1 || die "docker is not reachable (run scripts/setup.sh first)"

if ((!FORCE)) && run_up_to_date && build_up_to_date; then
  exit 0
fi

# One build at a time (parallel setup.sh runs wait here, then find the images
# up to date).
mkdir -p /run/lock
exec 9>/run/lock/berth-stack-build.lock
flock 9
if ((!FORCE)) && run_up_to_date && build_up_to_date; then
  exit 0
fi

[[ $EUID -eq 0 ]] || die "building the stack images needs root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap is missing (run scripts/setup.sh)"

# --- bookkeeping: temp dir, log, step timing, cleanup -----------------------
mkdir -p "$(dirname "$LOG")" "$CACHE_DIR/debootstrap" "$CACHE_DIR/apt-archives"
: >"$LOG"
WORK=$(mktemp -d /var/tmp/berth-stack.XXXXXX)
BUILDER=berth-stack-builder-$$
CURRENT_STEP=
STEP_T0=0
T_START=$SECONDS

cleanup() {
  local rc=$?
  set +e
  if ((rc)) && [[ -n $CURRENT_STEP ]]; then
    echo " !     '$CURRENT_STEP' failed (exit $rc); last lines of $LOG:" >&2
    tail -n 40 "$LOG" | sed 's/^/       /' >&2
  fi
  docker rm -f "$BUILDER" >/dev/null 2>&1
  # debootstrap mounts proc/sys in the target; a failed run may leave them.
  findmnt -rn -o TARGET | grep -F "$WORK/" | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() {
  CURRENT_STEP=$1
  STEP_T0=$SECONDS
  echo "-----> $1"
}
step_done() {
  echo "       done in $((SECONDS - STEP_T0))s"
  CURRENT_STEP=
}

# Removes an image the tag no longer points to, unless something still uses it.
drop_old_image() {
  local old=$1 new
  new=$(image_id "$2")
  if [[ -n $old && $old != "$new" ]]; then
    docker rmi "$old" >/dev/null 2>&1 || true
  fi
}

# --- run image ---------------------------------------------------------------
build_rootfs() {
  local rootfs=$WORK/rootfs include
  include=$(packages "$STACK_DIR/packages-run.txt" | paste -sd, -)
  debootstrap --variant=minbase --components=main --include="$include" \
    --cache-dir="$CACHE_DIR/debootstrap" \
    "$SUITE" "$rootfs" "$MIRROR"
}

configure_rootfs() {
  local r=$WORK/rootfs
  # Keep later apt-get installs (build image, buildpacks) lean too.
  cat >"$r/etc/dpkg/dpkg.cfg.d/berth-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  cat >"$r/etc/apt/apt.conf.d/berth-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
  # Unprivileged user for app processes.
  chroot "$r" useradd --uid 1000 --user-group --home-dir /app --no-create-home \
    --shell /bin/bash app
  install -d -o 1000 -g 1000 -m 0755 "$r/app"
  # TLS: trust what the host trusts (TLS interception here). The host's local
  # CAs also go to /usr/local/share/ca-certificates so that a later
  # update-ca-certificates inside the image keeps them.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$r/usr/local/share/ca-certificates/"
  fi
  install -m 0644 "$HOST_CA_BUNDLE" "$r/etc/ssl/certs/ca-certificates.crt"
  # Slim down: package caches, indexes, docs, logs, host-specific files.
  chroot "$r" apt-get clean
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin \
    "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old \
    "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/lintian/* \
    "$r"/tmp/* "$r"/var/tmp/* "$r"/root/.bash_history "$r"/etc/hostname
  find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  find "$r/var/log" -type f -delete
  : >"$r/etc/machine-id"
  : >"$r/etc/resolv.conf"
}

import_rootfs() {
  tar -C "$WORK/rootfs" --numeric-owner -c . |
    docker import \
      -c "ENV PATH=$IMAGE_PATH" \
      -c 'ENV LANG=C.UTF-8' \
      -c 'CMD ["/bin/bash"]' \
      -c "LABEL $LABEL=$RECIPE_HASH" \
      -m "berth stack $SUITE (recipe $RECIPE_HASH)" \
      - "$RUN_IMAGE"
}

if ((FORCE)) || ! run_up_to_date; then
  echo "-----> Building stack image $RUN_IMAGE (recipe $RECIPE_HASH)"
  old_run=$(image_id "$RUN_IMAGE")
  step "debootstrap $SUITE (minbase + $(packages "$STACK_DIR/packages-run.txt" | paste -sd' ' -))"
  build_rootfs >>"$LOG" 2>&1
  step_done
  step "Configuring root filesystem"
  configure_rootfs >>"$LOG" 2>&1
  step_done
  step "Importing $RUN_IMAGE"
  import_rootfs >>"$LOG" 2>&1
  rm -rf --one-file-system "$WORK/rootfs"
  step_done
  drop_old_image "$old_run" "$RUN_IMAGE"
fi

# --- build image -------------------------------------------------------------
install_build_packages() {
  local pkgs
  mapfile -t pkgs < <(packages "$STACK_DIR/packages-build.txt")
  # The host CA bundle comes in on stdin.
  # shellcheck disable=SC2016
  docker run -i --name "$BUILDER" --network host \
    -v "$CACHE_DIR/apt-archives:/var/cache/apt/archives" \
    "$RUN_IMAGE" bash -euo pipefail -c '
      cat >/var/tmp/host-ca-bundle.crt
      export DEBIAN_FRONTEND=noninteractive
      apt-get update
      apt-get install -y --no-install-recommends "$@"
      # ca-certificates triggers may have regenerated the bundle.
      install -m 0644 /var/tmp/host-ca-bundle.crt /etc/ssl/certs/ca-certificates.crt
      rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
        /var/lib/dpkg/*-old /tmp/* /var/tmp/* /root/.cache
      find /var/log -type f -delete
    ' bash "${pkgs[@]}" <"$HOST_CA_BUNDLE"
}

commit_build_image() {
  docker commit \
    -c "ENV PATH=$IMAGE_PATH" \
    -c 'ENV LANG=C.UTF-8' \
    -c 'CMD ["/bin/bash"]' \
    -c "LABEL $LABEL=$RECIPE_HASH" \
    -c "LABEL $BASE_LABEL=$(image_id "$RUN_IMAGE")" \
    -m "berth build stack $SUITE (recipe $RECIPE_HASH)" \
    "$BUILDER" "$BUILD_IMAGE"
  docker rm "$BUILDER"
}

if ((FORCE)) || ! build_up_to_date; then
  echo "-----> Building stack image $BUILD_IMAGE (recipe $RECIPE_HASH)"
  old_build=$(image_id "$BUILD_IMAGE")
  step "apt-get install $(packages "$STACK_DIR/packages-build.txt" | paste -sd' ' -)"
  install_build_packages >>"$LOG" 2>&1
  step_done
  step "Committing $BUILD_IMAGE"
  commit_build_image >>"$LOG" 2>&1
  step_done
  drop_old_image "$old_build" "$BUILD_IMAGE"
fi

echo "-----> Stack images ready in $((SECONDS - T_START))s"
