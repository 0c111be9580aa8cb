#!/bin/sh
# Builds and runs every libFuzzer harness tests/fuzz/fuzz_NAME.c.
#   sh tests/fuzz/run.sh BUILD_DIR SECONDS [NAME...]
# A harness names the sources it links in a first-line comment
#   /* FUZZ_SOURCES: ftp/listparse.c gateway/buf.c */
# and, when it needs libraries, the pkg-config modules in another comment near the top
#   /* FUZZ_PKGS: openssl */
# Each runs for SECONDS on one worker, starting from tests/fuzz/corpus/NAME/ (copied into
# BUILD_DIR/corpus/NAME/, which keeps what the run finds) plus the regression inputs in
# tests/data/fuzz-regress/NAME/. Crashes land in BUILD_DIR/artifacts/NAME/; the script exits
# non-zero when any harness crashed or failed to build. FUZZ_JOBS_ARGS adds libFuzzer flags.
set -u
build=${1:?usage: run.sh BUILD_DIR SECONDS [NAME...]}
secs=${2:?usage: run.sh BUILD_DIR SECONDS [NAME...]}
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
cc=${FUZZ_CC:-clang}
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$root"
mkdir -p "$build"
status=0
for src in "$root"/tests/fuzz/fuzz_*.c; do
    [ -e "$src" ] || continue
    name=$(basename "$src" .c)
    name=${name#fuzz_}
    if [ $# -gt 0 ]; then
        case " $* " in *" $name "*) ;; *) continue ;; esac
    fi
    sources=$(sed -n '1,5s|.*FUZZ_SOURCES:\(.*\)\*/.*|\1|p' "$src" | head -n 1)
    pkgs=$(sed -n '1,10s|.*FUZZ_PKGS:\(.*\)\*/.*|\1|p' "$src" | head -n 1)
    libs=""
    cflags=""
    if [ -n "$pkgs" ]; then
        libs=$(pkg-config --libs $pkgs) || { echo "fuzz: $name: pkg-config $pkgs failed" >&2; status=1; continue; }
        cflags=$(pkg-config --cflags $pkgs)
    fi
    srcs=""
    for s in $sources; do srcs="$srcs $root/$s"; done
    bin="$build/fuzz_$name"
    echo "fuzz: building $name ($sources)"
    # shellcheck disable=SC2086
    if ! $cc $flags $cflags -o "$bin" "$src" $srcs $libs; then
        # no FUZZ_PKGS line: retry with every library Ferry links (see the Makefile)
        all="libssh libcurl openssl libxcrypt expat zlib libpq"
        # shellcheck disable=SC2046,SC2086
        if [ -n "$pkgs" ] || ! $cc $flags $(pkg-config --cflags $all) -o "$bin" "$src" $srcs \
            $(pkg-config --libs $all); then
            echo "fuzz: $name: build failed" >&2
            status=1
            continue
        fi
    fi
    work="$build/corpus/$name"
    art="$build/artifacts/$name"
    mkdir -p "$work" "$art"
    [ -d "$root/tests/fuzz/corpus/$name" ] && cp -n "$root/tests/fuzz/corpus/$name"/* "$work"/ 2>/dev/null
    [ -d "$root/tests/data/fuzz-regress/$name" ] && cp -n "$root/tests/data/fuzz-regress/$name"/* "$work"/ 2>/dev/null
    echo "fuzz: running $name for ${secs}s (corpus $work, crashes in $art)"
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$art/" ${FUZZ_JOBS_ARGS:-} "$work" > "$build/$name.log" 2>&1
    rc=$?
    tail -n 25 "$build/$name.log"
    [ $rc -eq 0 ] || status=1
    if ls "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-* >/dev/null 2>&1; then
        echo "fuzz: $name: findings in $art" >&2
        status=1
    fi
done
exit $status
