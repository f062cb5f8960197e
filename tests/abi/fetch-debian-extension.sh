#!/usr/bin/env bash
# Fetch C extension modules that Debian built against stock CPython 3.11 headers (bookworm's
# python3-yaml, with the libyaml it links against) and unpack them under build/abi/root, without
# installing anything.  Uses a private apt configuration derived from the machine's own sources.
# Prints the unpacked root.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${FORK_BUILD_DIR:-$top/build}/abi
root=$dir/root
if [ -f "$root/.complete" ]; then echo "$root"; exit 0; fi
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/debs" "$dir/sources.list.d"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    if [ -f "$f" ]; then grep -E '^deb ' "$f" || true; fi
done > "$dir/sources.list"
# deb822 files are used as they are (they only hold "deb" entries on Debian's images).
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && cp "$f" "$dir/sources.list.d/"
done
opts=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o "Dir::Etc::sourceparts=$dir/sources.list.d"
      -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "Debug::NoLocking=1"
      -o "APT::Sandbox::User=root")
apt-get -q "${opts[@]}" update > "$dir/update.log" 2>&1 || true
(cd "$dir/debs" && apt-get -q "${opts[@]}" download python3-yaml libyaml-0-2) > "$dir/download.log" 2>&1 ||
    { cat "$dir/download.log" >&2; echo "fetch-debian-extension: download failed" >&2; exit 1; }
rm -rf "$root"; mkdir -p "$root"
for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
touch "$root/.complete"
echo "$root"
