#!/bin/sh
# A throwaway PostgreSQL 15 (Debian's postgresql-15) for the cluster tests: its own
# cluster in a directory, listening only on 127.0.0.1 and a socket inside that directory,
# trust authentication for the role `ferry`, durability off (tests only).
#   pg.sh start DIR PORT   initdb on first use, then pg_ctl start; waits until it
#                          accepts connections and prints the state_db URL
#   pg.sh stop DIR         pg_ctl stop -m fast, waits until the postmaster is gone
#   pg.sh psql DIR PORT SQL...   runs SQL (psql -tA), prints the result
# Started as root, the server runs as the `postgres` system user (initdb refuses root);
# DIR is then handed to that user. Exit status: 0 ok, 1 failure (the server log's tail
# is printed).
set -eu
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGOSUSER=${PGOSUSER:-postgres}

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$PGOSUSER" -- "$@"
    else
        "$@"
    fi
}

die() {
    echo "pg.sh: $*" >&2
    [ -n "${dir:-}" ] && [ -f "$dir/server.log" ] && tail -n 20 "$dir/server.log" >&2
    exit 1
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg.sh start|stop|psql DIR [PORT [SQL]]" >&2; exit 2; }
[ -x "$PGBIN/initdb" ] || die "no $PGBIN/initdb: install postgresql-15 (make cluster-test does)"

case "$cmd" in
start)
    port=${3:?pg.sh start DIR PORT}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then
        chown "$PGOSUSER" "$dir"
        chmod 0700 "$dir"
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_pg "$PGBIN/initdb" -D "$dir/data" -U ferry -A trust -E UTF8 --locale=C --no-sync \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    # -k: the Unix socket stays inside DIR (no /var/run/postgresql needed).
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || die "pg_ctl start failed"
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30 || die "not accepting connections on port $port"
    echo "postgresql://ferry@127.0.0.1:$port/postgres"
    ;;
stop)
    [ -f "$dir/data/PG_VERSION" ] || exit 0
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop failed"
    fi
    [ ! -f "$dir/data/postmaster.pid" ] || die "postmaster.pid still there after stop"
    ;;
psql)
    port=${3:?pg.sh psql DIR PORT SQL}
    shift 3
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U ferry -d postgres -tA \
        -c "$*"
    ;;
*)
    echo "pg.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
