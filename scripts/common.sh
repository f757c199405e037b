# What the scripts that run outside suites against oxihsm share: sourced by them (from the
# repository's root, where they start), not run.
# shellcheck shell=bash

# die MESSAGE: the calling script's name and MESSAGE on stderr, then exit 1.
die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# module_path [MODULE]: sets `module` to MODULE's absolute path (default: the release build).
module_path() {
  module=$(realpath "${1:-target/release/liboxihsm.so}")
  [ -f "$module" ] || die "$module not found (cargo build --release)"
}

# util_beside_module: sets `util` to the softhsm2-util built beside `module`.
util_beside_module() {
  util=$(dirname "$module")/softhsm2-util
  [ -x "$util" ] || die "$util not found (cargo build --release)"
}

# need_packages PACKAGE...: installs, with apt-get and by name, those not installed (as root;
# otherwise says which are missing).
need_packages() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return
  [ "$(id -u)" -eq 0 ] || die "needs ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# fetch_debian POOL_PATH FILE SHA256: downloads deb.debian.org's debian/POOL_PATH to FILE
# unless it is there already, and checks it against SHA256 (the checksum Debian's index gives).
fetch_debian() {
  [ -f "$2" ] || curl -fsSL -o "$2" "https://deb.debian.org/debian/$1"
  echo "$3  $2" | sha256sum -c --quiet
}
