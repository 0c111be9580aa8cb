#!/bin/bash
# WebDAV: the litmus suite (Debian `litmus`, on neon) over HTTPS against a non-admin
# user: basic, copymove, props, locks and http, every test passing. neon in litmus
# ignores certificate verification failures (litmus calls ne_ssl_set_verify with a
# callback that accepts), so no trust store is needed for it.
. tests/integration/lib.sh

ferry_start
ferry_user_add alice 'alice-pw'
URL="https://127.0.0.1:$HTTPS_PORT/"
# litmus writes debug.log and child.log into its working directory: keep them in ours.
out=$(cd "$FERRY_DIR" && TESTS="basic copymove props locks http" timeout 300 litmus -k "$URL" alice 'alice-pw' 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "litmus exited $rc"
for group in basic copymove props locks http; do
    line=$(printf '%s\n' "$out" | grep "summary for \`$group'")
    [ -n "$line" ] || fail "litmus group $group did not run"
    case "$line" in
    *" 0 failed"*) ;;
    *) fail "litmus $group: $line" ;;
    esac
done
total=$(printf '%s\n' "$out" | sed -n 's/.*tests run: \([0-9]*\) passed.*/\1/p' |
    awk '{ s += $1 } END { print s + 0 }')
[ "${total:-0}" -ge 100 ] || fail "litmus passed only ${total:-0} tests"
printf '%s\n' "$out" | grep -q "WARNING" && fail "litmus printed warnings"
# Properties and locks live in the state dir, never beside the user's files.
[ -z "$(find "$FERRY_ROOT" -name '.DAV' -o -name '*.props')" ] || fail "state beside user files"
grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$FERRY_DIR/serve.log" && fail "sanitizer report"
ferry_stop
echo "litmus: $total tests passed"
