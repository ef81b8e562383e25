/*
 * cmds.h — lastmile-server subcommands. Each takes the words after its
 * name and returns the process exit code: 0 ok, 1 runtime error, 2 usage.
 * Each prints its own help for --help.
 */
#ifndef LM_SERVER_CMDS_H
#define LM_SERVER_CMDS_H

#include "lm_sync.h"

int lm__cmd_init(int argc, char **argv);
int lm__cmd_user(int argc, char **argv);   /* user add | list | revoke */
int lm__cmd_report(int argc, char **argv); /* report volumes */
int lm__cmd_serve(int argc, char **argv);
int lm__cmd_identity(int argc, char **argv); /* identity show | rotate */

/* Creates (idempotently) the server database at path: replica schema,
 * server-only tables and the starter catalog. Used by `init` and by
 * `serve` on a file that does not exist yet is NOT done: serve refuses a
 * missing database. */
int lm__server_db_init(const char *path, char *err, size_t err_size);

/* Opens an existing server database as a replica (never creates);
 * busy_timeout_ms 0 takes the engine's default, and so does cache_kib 0
 * (SQLite's 2 MiB page cache). */
int lm__server_db_open(const char *path, int busy_timeout_ms, int cache_kib, lm_replica **out,
                       char *err, size_t err_size);

#endif
