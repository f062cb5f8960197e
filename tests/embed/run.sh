#!/usr/bin/env bash
# Out-of-tree C API tests against the installed layout, as users build them:
#
#   tests/embed/run.sh PREFIX STATIC_OBJ SRC OUT
#
#   capi-ext        tests/capi-ext/capi_ext.c built with PREFIX/bin/python3.11-config, observed by a
#                   pure-Python tool (tests/capi-ext/test_capi_ext.py) run by PREFIX/bin/python3.11
#   embed-shared    tests/embed/embed_monitoring.c linked against PREFIX's libpython3.11.so through
#                   pkg-config python-3.11-embed
#   embed-static    the same program linked against STATIC_OBJ/libpython3.11.a (the default build),
#                   skipped when STATIC_OBJ has none (a shared variant)
#
# SRC is the assembled source tree (headers for the static build), OUT a scratch directory.
# Last line: "capi: N passed, N failed, N skipped".
set -uo pipefail

prefix=$1 static_obj=$2 src=$3 out=$4
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out" && out=$(cd "$out" && pwd)
passed=0 failed=0 skipped=0
result() {  # result NAME STATUS
    if [ "$2" -eq 0 ]; then echo "$1 ... ok"; passed=$((passed + 1))
    else echo "$1 ... FAILED"; failed=$((failed + 1)); fi
}

py=$prefix/bin/python3.11
config=$prefix/bin/python3.11-config

# capi-ext: an extension module, built the way a user builds one.
(
    set -e
    suffix=$("$config" --extension-suffix)
    # shellcheck disable=SC2046
    cc -shared -fPIC $("$config" --cflags) -Werror=implicit-function-declaration \
        -o "$out/capi_ext$suffix" "$here/capi-ext/capi_ext.c"
    cd "$out" && PYTHONPATH=$out "$py" "$here/capi-ext/test_capi_ext.py" -v 2>&1
) > "$out/capi-ext.log" 2>&1
st=$?
grep -E '\.\.\. |^Ran |^OK|^FAILED' "$out/capi-ext.log" | sed 's/^/    /'
[ $st -ne 0 ] && tail -n 40 "$out/capi-ext.log"
result capi-ext $st

# embed-shared: pkg-config's python-3.11-embed of the installed fork.
(
    set -e
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    # shellcheck disable=SC2046
    cc -Werror=implicit-function-declaration -o "$out/embed-shared" "$here/embed/embed_monitoring.c" \
        $(pkg-config --cflags --libs python-3.11-embed) -Wl,-rpath,"$prefix/lib"
    ldd "$out/embed-shared" > "$out/embed-shared.ldd"
    grep -q "$prefix/lib/libpython3.11.so" "$out/embed-shared.ldd"
    "$out/embed-shared"
) > "$out/embed-shared.log" 2>&1
st=$?
[ $st -ne 0 ] && tail -n 40 "$out/embed-shared.log"
result embed-shared $st

# embed-static: the default build's libpython3.11.a.
if [ -f "$static_obj/libpython3.11.a" ]; then
    (
        set -e
        vars=$("$static_obj/python" -c 'import sysconfig as s
print(" ".join(s.get_config_var(v) or "" for v in ("LIBS", "SYSLIBS", "LINKFORSHARED")))')
        # shellcheck disable=SC2086
        cc -Werror=implicit-function-declaration -I"$src/Include" -I"$static_obj" \
            -o "$out/embed-static" "$here/embed/embed_monitoring.c" "$static_obj/libpython3.11.a" $vars
        ldd "$out/embed-static" > "$out/embed-static.ldd"
        ! grep -q libpython "$out/embed-static.ldd"
        EMBED_PROGRAM_NAME=$static_obj/python "$out/embed-static"
    ) > "$out/embed-static.log" 2>&1
    st=$?
    [ $st -ne 0 ] && tail -n 40 "$out/embed-static.log"
    result embed-static $st
else
    echo "embed-static ... skipped ($static_obj has no libpython3.11.a)"
    skipped=$((skipped + 1))
fi

echo "capi: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
