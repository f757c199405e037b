#!/usr/bin/env sh
# Installs liboxihsm.so, the oxihsm CLI and the p11-kit module file.
#
#   scripts/install.sh [--prefix DIR] [--module-dir DIR] [--build-dir DIR]
#
# Defaults: --prefix /usr/local (library in PREFIX/lib/oxihsm, CLI in PREFIX/bin),
# --module-dir /etc/pkcs11/modules (where p11-kit looks for system modules),
# --build-dir target/release (run `cargo build --release` first).
set -eu
prefix=/usr/local
module_dir=/etc/pkcs11/modules
build_dir=target/release
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --module-dir) module_dir=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
case "$build_dir" in /*) ;; *) build_dir=$here/$build_dir ;; esac
[ -f "$build_dir/liboxihsm.so" ] || { echo "install.sh: $build_dir/liboxihsm.so not built" >&2; exit 1; }
libdir=$prefix/lib/oxihsm
install -d "$libdir" "$prefix/bin" "$module_dir"
install -m 0755 "$build_dir/liboxihsm.so" "$libdir/liboxihsm.so"
[ -f "$build_dir/oxihsm" ] && install -m 0755 "$build_dir/oxihsm" "$prefix/bin/oxihsm"
sed "s|@LIBDIR@|$libdir|" "$here/packaging/oxihsm.module" > "$module_dir/oxihsm.module"
chmod 0644 "$module_dir/oxihsm.module"
echo "installed $libdir/liboxihsm.so and $module_dir/oxihsm.module"
