# shellcheck shell=bash
# go_binary_name MODULE_PATH: the name `go build` gives the module's root main
# package: the last path element, skipping a major-version suffix (/v2).
go_binary_name() {
  local path=$1 last
  last=${path##*/}
  if [[ $last =~ ^v[0-9]+$ && $path == */* ]]; then
    path=${path%/*}
    last=${path##*/}
  fi
  echo "$last"
}

# go_module_path BUILD_DIR: the module path from go.mod (no go command needed).
go_module_path() {
  sed -n -E 's/^[[:space:]]*module[[:space:]]+"?([^"[:space:]]+)"?.*/\1/p' "$1/go.mod" | head -n 1
}
