#!/usr/bin/env bash
# Download Debian binary packages of one suite and unpack them, without installing anything.
#
#   tools/fetch-debs.sh SUITE DIR PACKAGE...      e.g. tools/fetch-debs.sh bookworm build/clients cython3
#
# Uses a private apt configuration under DIR/apt (its own sources.list with the one line
# "deb http://deb.debian.org/debian SUITE main", its own lists and cache, no dpkg status), so the
# machine's apt state is neither read nor changed.  The .deb files are kept in DIR/deb/ (a package
# whose .deb is already there is not downloaded again; when every one is there, apt is not run at
# all), and each is unpacked with dpkg-deb -x into DIR/root/, which is rebuilt from the .debs on
# every call.  Prints DIR/root.  Dependencies are not followed: name every package you need.
#
# Each package is downloaded on its own, so one that cannot be had does not keep the others out:
# the rest are still unpacked and DIR/root is still printed, but the exit status is 1 and stderr
# names what is missing (apt's output is in DIR/apt-*.log).  Callers test for the files they need
# and count the checks that lack them as skipped.
set -euo pipefail
suite=${1:?suite, e.g. bookworm}
dir=${2:?directory}
shift 2
[ $# -gt 0 ] || { echo "fetch-debs: no package named" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
apt_dir=$dir/apt

have() { compgen -G "$dir/deb/${1}_*_*.deb" > /dev/null; }

missing=()
for pkg in "$@"; do have "$pkg" || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
    mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$dir/deb"
    echo "deb http://deb.debian.org/debian $suite main" > "$apt_dir/sources.list"
    opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=$apt_dir/sources.list.d"
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::status=/dev/null" -o "Dir::Cache=$apt_dir/cache"
          -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
          -o "APT::Architecture=amd64" -o "APT::Architectures=amd64")
    if apt-get -q "${opts[@]}" update > "$dir/apt-update.log" 2>&1; then
        : > "$dir/apt-download.log"
        for pkg in "${missing[@]}"; do
            (cd "$dir/deb" && apt-get -q "${opts[@]}" download "$pkg") >> "$dir/apt-download.log" 2>&1 || true
        done
    else
        echo "fetch-debs: apt-get update for $suite failed (see $dir/apt-update.log)" >&2
    fi
fi
rm -rf "$dir/root" && mkdir -p "$dir/root"
status=0
for pkg in "$@"; do
    if ! have "$pkg"; then
        echo "fetch-debs: cannot download $pkg from $suite (see $dir/apt-download.log)" >&2
        status=1
        continue
    fi
    for deb in "$dir"/deb/"${pkg}"_*_*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
done
echo "$dir/root"
exit $status
