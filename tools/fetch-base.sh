#!/usr/bin/env bash
# Obtain the sources the fork's base is made of, verify them and print the path of one.
#
#   tools/fetch-base.sh            the pristine CPython 3.11.2 tarball (Python-3.11.2.tgz)
#   tools/fetch-base.sh --debian   Debian's packaging of the same version
#                                  (python3.11_<revision>.debian.tar.xz), whose debian/patches/ holds
#                                  the security fixes base/debian-patches.txt applies
#
# Sources, first that works:
#   1. the cache directory ($FORK_BASE_CACHE, default build/cache);
#   2. Debian's python3.11 source package, pinned to DEBIAN_REVISION (its orig tarball is
#      byte-identical to python.org's Python-3.11.2.tgz).  It is fetched with
#      `apt-get source --download-only python3.11=<revision>` through a private apt configuration
#      under build/apt whose deb-src entries are derived from this machine's own apt sources, so no
#      mirror host is named here;
#   3. for the tarball, the python.org release URL; for the Debian packaging, snapshot.debian.org's
#      content-addressed store (both for users on systems without Debian's archive).
# The sha256 is checked every time, including for a cached file.  Moving to a newer Debian revision
# is a deliberate change of DEBIAN_REVISION and DEBIAN_SHA256 here together with a review of
# base/debian-patches.txt (README.md, "Security"); a newer revision in the archive is never picked up
# by itself.
set -euo pipefail

BASE_VERSION=3.11.2
BASE_SHA256=2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849
BASE_NAME=Python-$BASE_VERSION.tgz
DEBIAN_ORIG=python3.11_$BASE_VERSION.orig.tar.gz
PYTHON_ORG_URL=https://www.python.org/ftp/python/$BASE_VERSION/$BASE_NAME

DEBIAN_REVISION=3.11.2-6+deb12u8
DEBIAN_SHA256=ece2d63c70ac0b7a401fbe6b51b0103be997c294a01a3865549be1862794ba97
DEBIAN_SHA1=d08f7d92da0cce45e2ddc5e2fe4c579c5f1473cf   # snapshot.debian.org addresses files by sha1
DEBIAN_NAME=python3.11_$DEBIAN_REVISION.debian.tar.xz
SNAPSHOT_URL=https://snapshot.debian.org/file/$DEBIAN_SHA1

what=tarball
case ${1:-} in
    "") ;;
    --debian) what=debian ;;
    --debian-revision) echo "$DEBIAN_REVISION"; exit 0 ;;
    *) echo "usage: $0 [--debian | --debian-revision]" >&2; exit 2 ;;
esac
if [ $what = debian ]; then
    name=$DEBIAN_NAME sha256=$DEBIAN_SHA256 apt_file=$DEBIAN_NAME url=$SNAPSHOT_URL
    desc="Debian's python3.11 $DEBIAN_REVISION packaging"
else
    name=$BASE_NAME sha256=$BASE_SHA256 apt_file=$DEBIAN_ORIG url=$PYTHON_ORG_URL
    desc="CPython $BASE_VERSION tarball"
fi

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FORK_BUILD_DIR:-$top/build}
cache=${FORK_BASE_CACHE:-$build/cache}
mkdir -p "$cache"
target=$cache/$name

log() { printf 'fetch-base: %s\n' "$*" >&2; }

verify() {  # verify FILE: 0 if its sha256 is the pinned one
    local got
    got=$(sha256sum "$1" | cut -d' ' -f1)
    if [ "$got" != "$sha256" ]; then
        log "sha256 mismatch for $1"
        log "  expected $sha256"
        log "  got      $got"
        return 1
    fi
}

accept() {  # accept FILE: verify FILE and move it into the cache
    if verify "$1"; then
        [ "$1" -ef "$target" ] || mv -f "$1" "$target"
        echo "$target"
        exit 0
    fi
    log "refusing $1: it is not the pinned $desc"
    rm -f "$1"
}

# 1. cache
if [ -f "$target" ]; then
    if verify "$target"; then echo "$target"; exit 0; fi
    log "cached $name is corrupt; removing it and fetching again"
    rm -f "$target"
fi

# 2. Debian source package through a private apt configuration.
debian_sources() {
    # Print one-line deb-src entries derived from the system's enabled "deb" entries for this
    # release's own suites (third-party repositories have no source packages).
    local codename
    codename=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] || return 0
    {
        # one-line format
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            if [ -f "$f" ]; then cat "$f"; fi
        done | awk '$1 == "deb" { $1 = "deb-src"; print }'
        # deb822 format
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            awk '
                function flush() {
                    if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "" && suites != "") {
                        n = split(uris, u, " "); m = split(suites, s, " ")
                        for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
                            printf "deb-src%s %s %s %s\n", (signed != "" ? " [signed-by=" signed "]" : ""), u[i], s[j], comps
                    }
                    types = uris = suites = comps = signed = enabled = ""
                }
                /^[ \t]*#/ { next }
                /^[ \t]*$/ { flush(); next }
                { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
                  if (key == "types") types = $0; else if (key == "uris") uris = $0
                  else if (key == "suites") suites = $0; else if (key == "components") comps = $0
                  else if (key == "signed-by") signed = $0; else if (key == "enabled") enabled = tolower($0) }
                END { flush() }' "$f"
        done
    } | awk -v c="$codename" '{ for (i = 1; i <= NF; i++) if ($i == c || index($i, c "-") == 1) { print; break } }' | sort -u
}

if command -v apt-get >/dev/null 2>&1 && [ -r /etc/os-release ]; then
    apt_dir=$build/apt
    mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/src"
    debian_sources > "$apt_dir/sources.list"
    if [ -s "$apt_dir/sources.list" ]; then
        apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list"
                  -o "Dir::Etc::sourceparts=$apt_dir/sources.list.d"
                  -o "Dir::State::Lists=$apt_dir/lists"
                  -o "Dir::Cache=$apt_dir/cache"
                  -o "Debug::NoLocking=1"
                  -o "APT::Sandbox::User=root")
        log "trying Debian's python3.11 $DEBIAN_REVISION source package ($(wc -l < "$apt_dir/sources.list") deb-src entries)"
        # The pinned revision, not whatever the archive has now; the sha256 decides whether what
        # apt fetched is usable.
        if apt-get -q "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1; then
            (cd "$apt_dir/src" && apt-get -q "${apt_opts[@]}" source --download-only "python3.11=$DEBIAN_REVISION") \
                >"$apt_dir/source.log" 2>&1 || true
        fi
        if [ -f "$apt_dir/src/$apt_file" ]; then
            cp "$apt_dir/src/$apt_file" "$cache/$name.part"
            accept "$cache/$name.part"
        else
            log "Debian source package not available (see $apt_dir/*.log)"
        fi
    fi
fi

# 3. python.org / snapshot.debian.org
log "trying $url"
if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 -o "$cache/$name.part" "$url" && accept "$cache/$name.part"
elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$cache/$name.part" "$url" && accept "$cache/$name.part"
fi

log "could not obtain $name (sha256 $sha256)."
log "Put a copy in $cache (or point FORK_BASE_CACHE at a directory holding one) and run again."
exit 1
