# shellcheck shell=bash
# Helpers shared by Berth's buildpacks. Every buildpack carries its own copy
# (lib/common.sh) so that each directory works on its own; buildpacks/test/run.sh
# checks that the copies are identical. Edit one, then copy it to the others.

# --- output (Heroku style) ---------------------------------------------------
# Steps: "-----> Step". Everything else: indented 7 spaces. Warnings and errors
# get the " !     " prefix. All of it goes to stdout: the runner shows one
# stream, and a container's stdout and stderr may be interleaved out of order.
topic() { echo "-----> $*"; }
info() { echo "       $*"; }
# Indents a stream line by line (sed -u: no buffering, output stays live).
indent() { sed -u 's/^/       /'; }
warn() {
  echo " !     Warning: $1"
  shift
  local line
  for line in "$@"; do echo " !     $line"; done
}
# Prints the message (one line per argument) and fails the build.
error() {
  local line
  echo
  for line in "$@"; do echo " !     $line"; done
  echo
  exit 1
}

# --- environment -------------------------------------------------------------
# Exports the app's config vars from ENV_DIR (one file per var, Heroku style),
# except those that would break the build environment itself.
export_env_dir() {
  local env_dir=${1:-} file key
  [[ -n $env_dir && -d $env_dir ]] || return 0
  for file in "$env_dir"/*; do
    [[ -f $file ]] || continue
    key=${file##*/}
    [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    case $key in
      PATH | GIT_DIR | CPATH | CPPATH | LD_PRELOAD | LIBRARY_PATH | LD_LIBRARY_PATH | HOME | \
        BUILD_DIR | CACHE_DIR | ENV_DIR | BERTH_BUILDPACK_DIR) continue ;;
    esac
    export "$key=$(cat "$file")"
  done
}

# Makes every TLS client trust the stack's CA bundle (registries are reached
# through TLS interception on some hosts).
use_ca_bundle() {
  local bundle=/etc/ssl/certs/ca-certificates.crt
  [[ -r $bundle ]] || return 0
  export SSL_CERT_FILE=${SSL_CERT_FILE:-$bundle}
  export REQUESTS_CA_BUNDLE=${REQUESTS_CA_BUNDLE:-$bundle}
  export PIP_CERT=${PIP_CERT:-$bundle}
  export NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS:-$bundle}
  export CURL_CA_BUNDLE=${CURL_CA_BUNDLE:-$bundle}
  export GIT_SSL_CAINFO=${GIT_SSL_CAINFO:-$bundle}
}

# Common start of bin/compile: resolves BUILD_DIR, CACHE_DIR and ENV_DIR to
# absolute paths, exports config vars, keeps tool caches out of the slug.
compile_init() {
  [[ $# -ge 2 ]] || error "usage: bin/compile BUILD_DIR CACHE_DIR [ENV_DIR]"
  [[ -d $1 ]] || error "BUILD_DIR $1 is not a directory"
  BUILD_DIR=$(cd "$1" && pwd)
  mkdir -p "$2" || error "cannot create CACHE_DIR $2"
  CACHE_DIR=$(cd "$2" && pwd)
  ENV_DIR=${3:-}
  export_env_dir "$ENV_DIR"
  use_ca_bundle
  # HOME is usually BUILD_DIR: tools must not leave caches in the slug.
  export XDG_CACHE_HOME=$CACHE_DIR/.xdg-cache
  cd "$BUILD_DIR" || error "cannot cd to $BUILD_DIR"
}

# Writes BUILD_DIR/.profile.d/NAME.sh (sourced before every process) from stdin.
write_profile() {
  mkdir -p "$BUILD_DIR/.profile.d"
  cat >"$BUILD_DIR/.profile.d/$1.sh"
}

# Seconds since the given start ($SECONDS value), for "done in Ns" lines.
elapsed() { echo "$((SECONDS - $1))s"; }
