#!/usr/bin/env bash
# Configure and build one interpreter out of tree, failing loudly on missing stdlib modules.
#
#   tools/build.sh fork|stock|pristine VARIANT
#
# VARIANT is made of words joined by '-': "default" (CPython's own default configuration: libpython
# linked statically into `python`, plus libpython3.11.a), or any of "shared" (--enable-shared, with an
# rpath so the binary finds libpython3.11.so both in the build tree and after `make install`),
# "optimized" (--enable-optimizations --with-lto: PGO+LTO), "debug" (--with-pydebug), "asan"
# (--with-address-sanitizer: AddressSanitizer + LeakSanitizer; 3.11's configure then turns pymalloc
# off itself, so every object is an ASan-tracked malloc block) and "ubsan"
# (--with-undefined-behavior-sanitizer).  The fork and the stock reference are always configured
# from the same words, so comparisons (and sanitizer baselines) use identical flags.
#
# The fork is built from build/cpython (assembled by `make tree`); stock, the reference every
# comparison uses, from the same base without the fork's content: the verified 3.11.2 tarball plus
# the Debian security patches base/debian-patches.txt lists (`forktree.py base`), so comparisons stay
# like for like.  `pristine` is the bare 3.11.2 tarball, to show what the base's patches change (the
# tests in tests/security fail on it).  Object directories are build/obj/<kind>-<variant>.  sys.version
# names the base: "3.11.2 (base=3.11.2-6+deb12u8, ...)" for stock, "(base=pristine, ...)" for
# pristine, "(tags/fork:<commit> base=3.11.2-6+deb12u8, ...)" for the fork.  Prints the path of the
# built interpreter.
set -euo pipefail

kind=${1:?kind: fork, stock or pristine}
variant=${2:-default}
top=$(cd "$(dirname "$0")/.." && pwd)
build=${FORK_BUILD_DIR:-$top/build}
prefix=${PREFIX:-/usr/local}
jobs=${JOBS:-$(nproc)}

log() { printf 'build %s-%s: %s\n' "$kind" "$variant" "$*" >&2; }

case $kind in
    fork)
        src=$build/cpython
        [ -x "$src/configure" ] || { log "no assembled tree at $src: run \`make tree\`"; exit 1; }
        ;;
    stock)
        src=$build/stock/src
        base=$(FORK_BUILD_DIR=$build "$top/tools/forktree.py" --build "$build" base "$src")
        ;;
    pristine)
        src=$build/pristine/src
        base=$(FORK_BUILD_DIR=$build "$top/tools/forktree.py" --build "$build" base --pristine "$src")
        ;;
    *) log "unknown kind $kind"; exit 2 ;;
esac

flags=(--prefix="$prefix")
IFS=- read -r -a words <<< "$variant"
for w in "${words[@]}"; do
    case $w in
        default) ;;
        shared)
            flags+=(--enable-shared)
            # \$$ survives configure and make as a literal $ORIGIN for the linker.
            flags+=("LDFLAGS=-Wl,-rpath,\\\$\$ORIGIN:\\\$\$ORIGIN/../lib")
            ;;
        optimized) flags+=(--enable-optimizations --with-lto) ;;
        debug) flags+=(--with-pydebug) ;;
        asan) flags+=(--with-address-sanitizer) ;;
        ubsan) flags+=(--with-undefined-behavior-sanitizer) ;;
        *) log "unknown variant word '$w' (default, shared, optimized, debug, asan, ubsan)"; exit 2 ;;
    esac
done

obj=$build/obj/$kind-$variant
mkdir -p "$obj"
want="${flags[*]}"
if [ ! -f "$obj/Makefile" ] || [ "$(cat "$obj/.configured-with" 2>/dev/null)" != "$want" ] ||
   [ "$src/configure" -nt "$obj/Makefile" ]; then
    log "configure ${flags[*]}"
    (cd "$obj" && "$src/configure" "${flags[@]}" > configure.log 2>&1) ||
        { tail -n 30 "$obj/configure.log" >&2; log "configure failed (see $obj/configure.log)"; exit 1; }
    echo "$want" > "$obj/.configured-with"
fi

if [ "$kind" = fork ]; then
    # Generated files are not stored in cpython/; after edits in build/cpython (Lib/opcode.py,
    # clinic input, ...) bring them up to date with CPython's own regen targets.  They only
    # rewrite files whose content changes, so an up-to-date tree rebuilds nothing.
    (cd "$obj" && make -s regen-opcode regen-opcode-targets clinic > regen.log 2>&1) ||
        { tail -n 20 "$obj/regen.log" >&2; log "regen failed (see $obj/regen.log)"; exit 1; }
fi

# The build runs the new interpreter (setup.py, regen, sharedmods).  LeakSanitizer reports what the
# interpreter still holds at exit, which would fail those steps, and UBSan should stop the build at
# its first report rather than scroll past it.  Leak checking is for the test runs (run-tests.sh).
case "-$variant-" in
    *-asan-*) export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} ;;
esac
case "-$variant-" in
    *-ubsan-*) export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} ;;
esac

make_vars=()
if [ "$kind" = fork ]; then
    # configure's GITTAG runs `git --git-dir $(srcdir)/.git describe --dirty` in the object directory,
    # which git then takes for the work tree: every out-of-tree build reports itself "-dirty" in
    # sys.version.  Describe the source tree itself.  The revision part also names the base, which
    # the assembled tree's base commit records.
    base=$(git -C "$src" show -s --format='%(trailers:key=Base-Revision,valueonly)' base | head -n1)
    [ -n "$base" ] || { log "$src has no Base-Revision in its base commit: run \`make tree\`"; exit 1; }
    make_vars+=("GITTAG=git -C $src describe --all --always --dirty"
                "GITVERSION=git -C $src log -1 --format=%h+base=$base")
else
    # No git checkout: the build info is just the base, e.g. "3.11.2 (base=3.11.2-6+deb12u8, ...)".
    make_vars+=("GITTAG=echo base=$base" "GITVERSION=echo" "GITBRANCH=echo")
fi

log "make -j$jobs (log: $obj/make.log)"
if ! (cd "$obj" && make -j"$jobs" "${make_vars[@]}" > make.log 2>&1); then
    grep -n -E 'error|Error' "$obj/make.log" | tail -n 30 >&2 || true
    log "make failed (see $obj/make.log)"
    exit 1
fi

# setup.py prints what it could not build; the fork must have every module stock Debian has.
# Only _tkinter may be missing (Tk is optional: install tk-dev to get it).
missing=$(awk '
    /^The necessary bits to build these optional modules were not found:/ { grab = 1; next }
    /^Failed to build these modules:/ { grab = 1; next }
    /^Following modules built successfully but were removed because they could not be imported:/ { grab = 1; next }
    /^$/ { grab = 0 }
    /^To find the necessary bits/ { grab = 0 }
    grab { for (i = 1; i <= NF; i++) print $i }' "$obj/make.log" | grep -v -x '_tkinter' | sort -u || true)
if [ -n "$missing" ]; then
    log "stdlib extension modules missing or failed:" $missing
    log "install their Debian build dependencies (tools/deps.sh names them) and rebuild"
    exit 1
fi
if grep -q -x '_tkinter' <(awk '/necessary bits|Failed to build/ {g=1; next} /^$/ {g=0} g {for (i=1;i<=NF;i++) print $i}' "$obj/make.log"); then
    log "note: _tkinter not built (Tk headers missing); everything else is present"
fi
echo "$obj/python"
