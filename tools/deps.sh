#!/usr/bin/env bash
# Install the Debian packages needed to build the fork (and the stock reference) with every stdlib
# extension module that Debian's own python3.11 has.  As root the missing ones are installed; otherwise
# the exact apt-get line is printed and the script fails.
#
#   tools/deps.sh           build dependencies
#   tools/deps.sh --bench   plus what `make bench` needs (valgrind, matplotlib for the chart)
#   tools/deps.sh --docs    plus Sphinx, to build Doc/
set -euo pipefail

packages=(
    # toolchain
    build-essential autoconf pkg-config git ca-certificates xz-utils
    # extension modules: the module each package serves is in the comment
    libffi-dev          # _ctypes
    libssl-dev          # _ssl, _hashlib
    zlib1g-dev          # zlib
    libbz2-dev          # _bz2
    liblzma-dev         # _lzma
    libsqlite3-dev      # _sqlite3
    libreadline-dev     # readline
    libncurses-dev      # _curses, _curses_panel
    libgdbm-dev         # _gdbm
    libgdbm-compat-dev  # _dbm (ndbm interface)
    uuid-dev            # _uuid
    libnsl-dev libtirpc-dev  # nis
    libcrypt-dev        # _crypt
    tk-dev              # _tkinter (optional: the build accepts its absence)
    # regression suite helpers
    gdb                 # test_gdb
    locales-all         # locale-dependent tests (test_locale, test_re, test_strptime ...)
)
for arg in "$@"; do
    case $arg in
        --bench) packages+=(valgrind python3-matplotlib) ;;
        --docs) packages+=(python3-sphinx) ;;
        *) echo "deps.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing build dependencies; as root, run:" >&2
    echo "  apt-get update && $line" >&2
    exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -q -y --no-install-recommends ${missing[*]} >/dev/null
