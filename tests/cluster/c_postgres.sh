#!/bin/bash
# The PostgreSQL helper (pg.sh) works end to end: initdb in a temporary directory, the
# server on a free loopback port, SELECT 1 and a table through psql, a stop and a
# restart that keeps the data, and after the final stop no process of that cluster is
# left and the port is closed.
. tests/cluster/lib.sh

PG_DIR=$FERRY_DIR/pg
PG_PORT=$(free_port)
url=$(pg_start) || fail "pg.sh start"
assert_eq "$url" "postgresql://ferry@127.0.0.1:$PG_PORT/postgres" "state_db URL"
assert_eq "$(pg_sql 'SELECT 1')" 1 "SELECT 1"
pg_sql "CREATE TABLE t (n int); INSERT INTO t VALUES (41), (1)" >/dev/null || fail "create table"
ver=$(pg_sql 'SHOW server_version_num')
case "$ver" in 15*) ;; *) fail "server version $ver, want PostgreSQL 15" ;; esac
echo "postgres: up on 127.0.0.1:$PG_PORT (version $ver), SELECT 1 ok"

# Stopped and started again (the cluster tests do this during activity): data kept.
pg_stop || fail "pg.sh stop"
pg_alive && fail "a process of the cluster survived the stop"
port_open "$PG_PORT" && fail "port $PG_PORT still open after the stop"
pg_start >/dev/null || fail "pg.sh start (restart)"
assert_eq "$(pg_sql 'SELECT sum(n) FROM t')" 42 "data after a restart"
echo "postgres: stop and restart keep the data"

pg_stop || fail "pg.sh stop"
pg_alive && fail "a process of the cluster survived the final stop"
port_open "$PG_PORT" && fail "port $PG_PORT still open after the final stop"
echo "postgres: stopped, no process left"
echo "c_postgres: ok"
