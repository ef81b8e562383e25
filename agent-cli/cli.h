/*
 * cli.h — what every `lastmile` subcommand shares: the common options, the
 * error line format ("lastmile: <command>: <reason>" on stderr), exit codes,
 * opening the replica and small SQLite helpers.
 */
#ifndef LM_AGENT_CLI_H
#define LM_AGENT_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "args.h"
#include "json.h"
#include "lm_sync.h"
#include "lm_text.h"
#include "table.h"

#define LM_EXIT_OK 0
#define LM_EXIT_RUNTIME 1
#define LM_EXIT_USAGE 2

/* The options every command takes. */
typedef struct lm_cli_common {
    const char *db; /* --db, else $LASTMILE_DB, else ./lastmile.db */
    int help;
    int json;
} lm_cli_common;

#define LM_CLI_COMMON_OPTS(c)                                                                      \
    {"db", LM_OPT_VALUE, &(c).db, NULL},                                                           \
    {                                                                                              \
        "help", LM_OPT_FLAG, NULL, &(c).help                                                       \
    }
#define LM_CLI_JSON_OPT(c)                                                                         \
    {                                                                                              \
        "json", LM_OPT_FLAG, NULL, &(c).json                                                       \
    }

/* Prints "lastmile: <cmd>: <reason>" to stderr; returns LM_EXIT_RUNTIME. */
int lm_cli_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Same line plus a pointer to --help; returns LM_EXIT_USAGE. */
int lm_cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Parses argv for cmd. Returns -1 to go on, LM_EXIT_OK after printing usage
 * for --help, LM_EXIT_USAGE (message printed) on bad options. */
int lm_cli_parse(const char *cmd, const char *usage, int argc, char **argv, const lm_opt *opts,
                 size_t n_opts, lm_args *args, const lm_cli_common *common);

/* The replica path for --db (NULL: $LASTMILE_DB, else ./lastmile.db). */
const char *lm_cli_db_path(const char *db_opt);

/* Opens an existing replica; on failure prints the reason and returns
 * LM_EXIT_RUNTIME with *out NULL. require_user also insists that
 * `lastmile init` completed (meta "user" present). */
int lm_cli_open(const char *cmd, const char *db_opt, int require_user, lm_replica **out);

/* Wall-clock ms since the epoch (device time, as records keep it). */
uint64_t lm_cli_now_ms(void);

/* A purchase is dated by the phone's clock. When the clock was more than
 * LM_CLI_CLOCK_WARN_MS off the server's at the last sync (meta
 * clock_offset), prints one warning line on stderr naming how far and
 * which way, before the command records anything. Never fails. */
#define LM_CLI_CLOCK_WARN_MS INT64_C(86400000)
void lm_cli_warn_clock(const char *cmd, lm_replica *r);

/* Meta value or NULL when missing (caller frees with lm_free). */
char *lm_cli_meta(lm_replica *r, const char *key);

/* Finishes j, writes the buffer and a newline to stdout. Returns the exit
 * code (LM_EXIT_RUNTIME with a message when the writer failed). */
int lm_cli_emit_json(const char *cmd, lm_json *j, lm_buf *b);

/* Writes the column of stmt's current row as JSON (integer, text, null...). */
struct sqlite3_stmt;
void lm_cli_json_column(lm_json *j, struct sqlite3_stmt *stmt, int col);

/* Prints one JSON object on stdout: members(j, arg) writes its keys and
 * values. Returns the exit code, as lm_cli_emit_json. */
int lm_cli_print_object(const char *cmd, void (*members)(lm_json *j, const void *arg),
                        const void *arg);

/* Prints a new record's id as the last stdout line, or {"id": ...}. */
int lm_cli_print_id(const char *cmd, const char *id, int json);

/* Runs one SQL statement without results; LM_OK or LM_EDB. */
int lm_cli_exec(sqlite3 *db, const char *sql);

/* Formats ms since the epoch as "YYYY-MM-DD HH:MM:SS UTC" into out. */
void lm_cli_format_time(uint64_t ms, char *out, size_t size);

/* Writes a site id as the 16 hex digits the status line and the server's
 * log show: a string, because a JSON number above 2^53 loses digits in
 * parsers that read numbers as doubles. */
void lm_cli_json_site(lm_json *j, uint64_t site);

/* Adds a column's header to a table for people (lm_text_column_header:
 * weight_g -> weight_kg, amount_fen -> amount_yuan), right-aligning kg and
 * yuan; table_col is its place in t. Returns the LM_TEXT_COL_* kind. */
int lm_cli_table_head(lm_table *t, size_t table_col, const char *name);
/* Adds column col of st's current row as people read it (kg, yuan, local
 * time at offset_min by kind); a NULL shows as null_text. */
void lm_cli_table_cell(lm_table *t, struct sqlite3_stmt *st, int col, int kind, int offset_min,
                       const char *null_text);

/* Writes an lm_value as JSON (TEXT/BLOB as strings). */
void lm_cli_json_value(lm_json *j, const lm_value *v);
/* Formats an lm_value as text for tables into out (truncated to size). */
void lm_cli_value_text(const lm_value *v, char *out, size_t size);

/* 1 when `sql` (one "?" parameter bound to arg) returns a row, 0 when not,
 * LM_EDB on error. */
int lm_cli_row_exists(sqlite3 *db, const char *sql, const char *arg);

/* 0 when `sql` finds value in the catalog; otherwise prints "unknown <what>
 * '<value>' (not in the catalog)" (or the database error) and returns the
 * command's exit code. */
int lm_cli_require_in_catalog(const char *cmd, sqlite3 *db, const char *what, const char *sql,
                              const char *value);

/* For commands that add one row inside an open transaction: makes a new id
 * into id (LM_ID_SIZE) and prepares sql into *st. lm_cli_insert_commit steps
 * *st and commits. Both print the error and return the exit code on failure,
 * 0 on success; the caller finalizes *st and rolls back on failure. */
int lm_cli_insert_prepare(const char *cmd, lm_replica *r, const char *sql, char *id,
                          struct sqlite3_stmt **st);
int lm_cli_insert_commit(const char *cmd, sqlite3 *db, struct sqlite3_stmt *st);

/* Runs one sync session with the given credentials; progress on stderr when
 * it is a terminal. On success records meta "last_sync"; on failure meta
 * "last_error". Returns LM_OK or the session's error (reason in err). */
struct lm_sync_stats;
int lm_cli_run_sync(lm_replica *r, const char *server, const char *user,
                    const uint8_t key[LM_KEY_SIZE], struct lm_sync_stats *st, char *err,
                    size_t err_size);
/* Prints the session summary: the one line "synced: pushed N changes (B
 * bytes), pulled M changes (B bytes)", or with json an object. Returns an
 * exit code. */
int lm_cli_print_sync_summary(const char *cmd, const struct lm_sync_stats *st, int json);

/* The command table main dispatches on. Each returns an exit code. */
int lm_cmd_init(int argc, char **argv);
int lm_cmd_farmer_add(int argc, char **argv);
int lm_cmd_collect(int argc, char **argv);
int lm_cmd_grade(int argc, char **argv);
int lm_cmd_adjust(int argc, char **argv);
int lm_cmd_list(int argc, char **argv);
int lm_cmd_status(int argc, char **argv);
int lm_cmd_sync(int argc, char **argv);
int lm_cmd_conflicts(int argc, char **argv);
int lm_cmd_route(int argc, char **argv);  /* route create (cmd_route.c) */
int lm_cmd_stop(int argc, char **argv);   /* stop arrive|load (cmd_stop.c) */
int lm_cmd_points(int argc, char **argv); /* points (cmd_points.c) */

#endif
