#!/bin/bash
# `make install` / `make uninstall` into a temporary DESTDIR: the files and their modes,
# man pages that render without warnings and document every subcommand, serve flag and
# config key, an example config that is exactly the defaults, a systemd unit that
# `systemd-analyze verify` accepts, an administrator's configuration never overwritten
# or removed, and nothing else left behind.
. tests/integration/lib.sh

D=$FERRY_DIR/dest
P=/usr/local
# A clean make: this script may run under `make check`, whose MAKEFLAGS must not leak.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$FERRY_SRC" "$@"; }

mk install DESTDIR="$D" PREFIX=$P -j"$(nproc)" > "$FERRY_DIR/install.log" 2>&1 ||
    { tail -n 30 "$FERRY_DIR/install.log" >&2; fail "make install"; }

check_file() { # PATH MODE
    [ -f "$D$1" ] || fail "not installed: $1"
    assert_eq "$(stat -c %a "$D$1")" "$2" "mode of $1"
}
check_file $P/bin/ferry 755
check_file $P/share/man/man1/ferry.1 644
check_file $P/share/man/man5/ferry.conf.5 644
check_file $P/share/doc/ferry/ferry.conf.example 644
check_file $P/lib/systemd/system/ferry.service 644
check_file /etc/ferry/ferry.conf 644
if [ -f "$FERRY_SRC/doc/logrotate.ferry" ]; then
    check_file /etc/logrotate.d/ferry 644
fi
BIN=$D$P/bin/ferry
"$BIN" --version | grep -q '^ferry ' || fail "installed binary does not run"

# Man pages: render cleanly (no groff or man warnings) and are complete.
for page in $P/share/man/man1/ferry.1 $P/share/man/man5/ferry.conf.5; do
    w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=all -l "$D$page" 2>&1 >/dev/null)
    [ -z "$w" ] || fail "man -l $page warns: $w"
    w=$(groff -man -ww -z "$D$page" 2>&1)
    [ -z "$w" ] || fail "groff warns on $page: $w"
    LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$D$page" > "$FERRY_DIR/$(basename "$page").txt" 2>/dev/null
    [ "$(wc -l < "$FERRY_DIR/$(basename "$page").txt")" -gt 100 ] || fail "$page renders too short"
done
man1=$FERRY_DIR/ferry.1.txt man5=$FERRY_DIR/ferry.conf.5.txt
for cmd in $("$BIN" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p'); do
    grep -q "ferry $cmd" "$man1" || fail "ferry(1) does not document 'ferry $cmd'"
done
for flag in $("$BIN" serve --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -q -- "$flag" "$man1" || fail "ferry(1) does not document serve $flag"
done
# Every key of the config table (gateway/config.c), in ferry.conf(5) and the example.
keys=$(sed -n 's/^ *\(SRV\|MNT\)("\([a-z_]*\)".*/\2/p' "$FERRY_SRC/gateway/config.c")
[ "$(echo "$keys" | wc -w)" -gt 30 ] || fail "could not read the config key table"
for k in $keys root; do
    grep -q "^       $k " "$man5" || grep -q "^       $k$" "$man5" ||
        fail "ferry.conf(5) does not document '$k'"
    grep -Eq "^#?$k =" "$D$P/share/doc/ferry/ferry.conf.example" ||
        fail "the example config lacks '$k'"
done
# The example's values are the embedded defaults, exactly.
"$BIN" serve --check-config | tail -n +2 > "$FERRY_DIR/defaults.txt" || fail "check-config"
"$BIN" serve --config "$D$P/share/doc/ferry/ferry.conf.example" --check-config |
    tail -n +2 > "$FERRY_DIR/example.txt" || fail "the example config does not load"
diff -u "$FERRY_DIR/defaults.txt" "$FERRY_DIR/example.txt" || fail "the example differs from the defaults"
"$BIN" serve --config "$D/etc/ferry/ferry.conf" --check-config > /dev/null ||
    fail "the installed /etc/ferry/ferry.conf does not load"

# The systemd unit: paths follow PREFIX; hardening present; systemd-analyze accepts it.
unit=$D$P/lib/systemd/system/ferry.service
grep -q "^ExecStart=$P/bin/ferry serve --config /etc/ferry/ferry.conf$" "$unit" || fail "ExecStart"
for line in Type=exec User=ferry ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes \
    PrivateTmp=yes 'ReadWritePaths=/srv/ferry /var/lib/ferry' \
    CapabilityBoundingSet=CAP_NET_BIND_SERVICE SystemCallArchitectures=native \
    'ExecReload=kill -HUP $MAINPID'; do
    grep -qxF "$line" "$unit" || fail "unit lacks $line"
done
grep -q '^RestrictAddressFamilies=' "$unit" || fail "unit lacks RestrictAddressFamilies"
if command -v systemd-analyze >/dev/null; then
    # verify wants ExecStart to exist: point it at the DESTDIR binary in a copy. Man
    # pages were checked above (--man=no: they are not installed on this host).
    mkdir -p "$FERRY_DIR/unit"
    sed "s|^ExecStart=$P/bin/ferry|ExecStart=$BIN|" "$unit" > "$FERRY_DIR/unit/ferry.service"
    out=$(systemd-analyze verify --man=no "$FERRY_DIR/unit/ferry.service" 2>&1) ||
        fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify warns: $out"
    level=$(systemd-analyze security --offline=yes "$FERRY_DIR/unit/ferry.service" 2>&1 |
        sed -n 's/.*Overall exposure level for ferry.service: \([0-9.]*\).*/\1/p')
    [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l < 3.0) }' ||
        fail "systemd-analyze security: exposure ${level:-unknown}, want < 3.0"
else
    echo "t_install: SKIP systemd-analyze verify (systemd not installed)" >&2
fi

# Uninstall removes everything.
mk uninstall DESTDIR="$D" PREFIX=$P || fail "make uninstall"
left=$(find "$D" -type f)
[ -z "$left" ] || fail "uninstall left: $left"

# An administrator's configuration survives install and uninstall.
mk install DESTDIR="$D" PREFIX=$P > "$FERRY_DIR/install2.log" 2>&1 || fail "second make install"
printf '\n# local change\nmetrics_port = 9464\n' >> "$D/etc/ferry/ferry.conf"
mk install DESTDIR="$D" PREFIX=$P > "$FERRY_DIR/install3.log" 2>&1 || fail "third make install"
grep -q 'local change' "$D/etc/ferry/ferry.conf" || fail "make install overwrote the configuration"
mk uninstall DESTDIR="$D" PREFIX=$P || fail "make uninstall (2)"
assert_eq "$(find "$D" -type f)" "$D/etc/ferry/ferry.conf" "only the edited configuration is left"
echo "t_install: ok"
