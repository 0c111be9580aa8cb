#!/bin/bash
# The HTML index of a collection in a real browser: headless Chromium (anonymous
# read-only access, so no credentials are needed) renders the page; its DOM shows every
# name (non-ASCII and HTML-special ones intact), sizes and dates, collections first,
# sorting by a column header's link, working links into a subdirectory and to a file,
# and the page is screenshotted. Anonymous users cannot write.
. tests/integration/lib.sh

ferry_start --anonymous
P=$FERRY_ROOT/pub
mkdir -p "$P/sub dir" "$P/ünï"
printf 'hello from ferry\n' >"$P/hello.txt"
head -c 5000 /dev/zero >"$P/big.bin"
printf 'x' >"$P/<b>&amp;.txt"
printf 'inner\n' >"$P/sub dir/inner.txt"
W=$FERRY_DIR/work
mkdir -p "$W"
B="https://127.0.0.1:$HTTPS_PORT"
chrome() {
    timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --ignore-certificate-errors --user-data-dir="$W/chrome" "$@" 2>>"$W/chrome.log"
}

dom=$(chrome --dump-dom "$B/") || fail "chromium --dump-dom"
echo "$dom"
assert_contains "$dom" "<title>Index of /</title>" "title"
assert_contains "$dom" '<a href="/hello.txt">hello.txt</a>' "file link"
assert_contains "$dom" '<a href="/sub%20dir/">sub dir/</a>' "directory link"
assert_contains "$dom" '<a href="/%C3%BCn%C3%AF/">ünï/</a>' "UTF-8 name"
assert_contains "$dom" '<a href="/%3Cb%3E%26amp%3B.txt">&lt;b&gt;&amp;amp;.txt</a>' "escaped name"
assert_contains "$dom" 'title="5000 bytes">4.9 KiB<' "size"
assert_contains "$dom" "$(date -u +%Y-%m-%d)" "date"
assert_contains "$dom" "5 items" "count"
# Collections first, then files by name.
order=$(printf '%s\n' "$dom" | sed -n 's/.*<td class="n"><a href="[^"]*">\([^<]*\)<.*/\1/p' | tr '\n' '|')
assert_eq "$order" "sub dir/|ünï/|&lt;b&gt;&amp;amp;.txt|big.bin|hello.txt|" "name order"

# Sorting by size, largest first, through the header link's query.
dom=$(chrome --dump-dom "$B/?sort=size&order=desc") || fail "sorted page"
order=$(printf '%s\n' "$dom" | sed -n 's/.*<td class="n"><a href="[^"]*">\([^<]*\)<.*/\1/p' | tr '\n' '|')
assert_eq "$order" "ünï/|sub dir/|big.bin|hello.txt|&lt;b&gt;&amp;amp;.txt|" "size order"
assert_contains "$dom" '<a href="?sort=size&amp;order=asc">Size ▼</a>' "header toggles order"

# Following links: into the subdirectory (with its parent link), and to a file.
dom=$(chrome --dump-dom "$B/sub%20dir/") || fail "subdirectory page"
assert_contains "$dom" "<title>Index of /sub dir</title>" "subdirectory title"
assert_contains "$dom" '<a href="/">../</a>' "parent link"
assert_contains "$dom" '<a href="/sub%20dir/inner.txt">inner.txt</a>' "inner link"
dom=$(chrome --dump-dom "$B/hello.txt") || fail "file page"
assert_contains "$dom" "hello from ferry" "file shown"

chrome --window-size=1000,600 --screenshot="$W/index.png" "$B/" >/dev/null || fail "screenshot"
[ "$(head -c 8 "$W/index.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    fail "screenshot is not a PNG"
[ "$(stat -c %s "$W/index.png")" -gt 5000 ] || fail "screenshot is empty"

# Anonymous is read-only: writing asks for credentials.
assert_eq "$(curl -sk -X PUT --data x -o /dev/null -w '%{http_code}' "$B/new.txt")" 401 \
    "anonymous PUT"
[ -e "$P/new.txt" ] && fail "anonymous PUT wrote"
assert_eq "$(curl -sk -X DELETE -o /dev/null -w '%{http_code}' "$B/hello.txt")" 401 \
    "anonymous DELETE"
grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$FERRY_DIR/serve.log" && fail "sanitizer report"
ferry_stop
