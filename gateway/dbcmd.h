/* `ferry db`: the shared-state database (gateway/statedb.h) from the command line:
 *   ferry db migrate   create the schema or bring it to this binary's version
 *   ferry db status    schema version, users, audit records and chain head, per node
 *   ferry db import    move a files-based state (STATE/users, STATE/audit.jsonl and
 *                      its rotations) into the database
 * The database is `--state-db URL`, else `state_db` of `--config FILE`. */
#ifndef FERRY_GATEWAY_DBCMD_H
#define FERRY_GATEWAY_DBCMD_H

/* argv[0] is "db". Returns the exit code (gateway/cli.h): 0 ok, 1 failed (database
 * unreachable, import refused), 2 usage or config error (no database configured). */
int gw_db_cmd_main(int argc, char **argv);

#endif
