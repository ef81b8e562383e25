/*
 * cli.h — what every `lastmile` subcommand shares: the common options, the
 * error line format ("lastmile: <command>: <reason>" on stderr), exit codes,
 * opening the replica and small SQLite helpers.
 */
#ifndef LM_AGENT_CLI_H
#define LM_AGENT_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "args.h"
#include "json.h"
#include "lm_sync.h"
#include "lm_text.h"
#include "table.h"

#define LM_EXIT_OK 0
#define LM_EXIT_RUNTIME 1
#define LM_EXIT_USAGE 2
#define LM_EXIT_DAMAGED 3   /* the replica file is damaged: see 'lastmile check' */
#define LM_EXIT_DISK_FULL 4 /* no room left on the disk holding the replica */

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

/* The ledger's rules (lm_rules.h) on the text of option --opt, to be
 * stored in table.column: the rules the server applies to it again. -1
 * when it passes (or is NULL), else LM_EXIT_USAGE after printing the
 * option and the reason. */
int lm_cli_check_text(const char *cmd, const char *opt, const char *table, const char *column,
                      const char *value);

/* Parses argv for cmd. Returns -1 to go on, LM_EXIT_OK after printing usage
 * for --help, LM_EXIT_USAGE (message printed) on bad options. */
int lm_cli_parse(const char *cmd, const char *usage, int argc, char **argv, const lm_opt *opts,
                 size_t n_opts, lm_args *args, const lm_cli_common *common);

/* The replica path for --db (NULL: $LASTMILE_DB, else ./lastmile.db). */
const char *lm_cli_db_path(const char *db_opt);

/* Opens an existing replica (health.c); on failure prints the reason and
 * returns the exit code with *out NULL. Flags: LM_CLI_USER also insists
 * that `lastmile init` completed (meta "user" present); LM_CLI_WRITE is
 * for commands that write or sync: the quick check runs first and a
 * damaged file exits LM_EXIT_DAMAGED. Without it, on a full disk the
 * replica opens read-only. A full disk exits LM_EXIT_DISK_FULL. */
#define LM_CLI_USER 1
#define LM_CLI_WRITE 2
#define LM_CLI_SYNC 4 /* with LM_CLI_WRITE: the quick check runs whatever the size */
/* Write commands run the quick check on files up to this many pages (16
 * MiB of 4 KiB pages, about 40,000 purchases); sync always does. Measured
 * on 100,000 purchases (10,174 pages): the check 0.35-0.39 s warm and
 * 1.4 s cold, a collect 0.8 s with it (docs/sync.md). */
#define LM_CLI_QUICK_CHECK_MAX_PAGES 4096
int lm_cli_open(const char *cmd, const char *db_opt, int flags, lm_replica **out);

/* Whether a failure rc on the replica at path is the disk's: LM_EFULL, or
 * any failure with less than 1 MiB free there. */
int lm_cli_disk_full(const char *path, int rc);
/* "disk full: N MB free where PATH is kept; <outcome> (free some space,
 * then run it again)"; returns LM_EXIT_DISK_FULL. */
int lm_cli_disk_full_error(const char *cmd, const char *path, const char *outcome);
/* The damaged-replica line (with what to run next); marks the file (path
 * + "-damaged") so that every later write checks it; LM_EXIT_DAMAGED. */
int lm_cli_damaged_error(const char *cmd, const char *path, const char *finding);
/* Removes that mark: the file passed the full check. */
void lm_cli_damage_cleared(const char *path);
/* A failed statement or commit on db: a full disk or a damaged file in the
 * user's terms with their exit codes, else "<what>: <SQLite's message>". */
int lm_cli_sql_error(const char *cmd, sqlite3 *db, const char *what);

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

/* The scope the server last told this replica (cli_scope.c; lm_meta
 * scope_role, scope_villages, scope_county, written at WELCOME). */
typedef struct lm_cli_scope {
    lm_scope scope; /* points into the fields below */
    char *role_text, *user, *villages_text, *county;
    char **list;
    size_t n;
} lm_cli_scope;
/* 1 loaded, 0 not known (no sync with a server that tells it yet), -1 out
 * of memory. Free a loaded one with lm_cli_scope_free. */
int lm_cli_scope_load(lm_replica *r, lm_cli_scope *s);
void lm_cli_scope_free(lm_cli_scope *s);

/* The newest lm_refusals id (0 when none): what a sync refused is what
 * comes after it. */
int64_t lm_cli_refusal_head(lm_replica *r);
/* One line per refused record (refused.c) among the refusals after
 * after_id, newest first: "<prefix><table> <record>: <reason>", the record
 * named for people (a farmer's name, a purchase's farmer and kg...). At
 * most limit lines; returns how many records there are. */
size_t lm_cli_print_refused(lm_replica *r, int64_t after_id, size_t limit, FILE *out,
                            const char *prefix);

/* One column of a row about to be written: text, or (text NULL) integer. */
typedef struct lm_cli_col {
    const char *name;
    const char *text;
    int64_t i;
} lm_cli_col;
/* The server's rules on a new row of table (lm_rules_new_row: scope,
 * ownership, the row's own rules) against the scope the server last told
 * this replica, before anything is written: -1 to go on, else the exit
 * code after "refused, nothing written: <reason>" (LM_EXIT_USAGE) or a
 * runtime error. */
int lm_cli_check_new_row(const char *cmd, lm_replica *r, const char *table, const lm_cli_col *cols,
                         size_t n);

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

/* Binds LM_TEXT_SQL_OFFSET ("?99", the modifier of SQL that turns ms into
 * local days, lm_text.h) in st to offset_min, when st has it. */
void lm_cli_bind_utc_offset(struct sqlite3_stmt *st, int offset_min);

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
struct lm_sync_config;
int lm_cli_run_sync(lm_replica *r, const struct lm_sync_config *cfg, struct lm_sync_stats *st,
                    char *err, size_t err_size);
/* Makes the replica at path and its -wal / -shm private (0600) when they
 * exist: files from before this rule, or made under a loose umask. */
void lm_cli_private_files(const char *path);
/* The device's private key file of the replica at db_path: "DB.key". */
int lm_cli_key_path(const char *db_path, char *out, size_t size);
/* Prints the session summary: the one line "synced: pushed N changes (B
 * bytes), pulled M changes (B bytes)", or with json an object. Returns an
 * exit code. */
int lm_cli_print_sync_summary(const char *cmd, const struct lm_sync_stats *st, int json);

/* The command table main dispatches on. Each returns an exit code. */
int lm_cmd_init(int argc, char **argv);
int lm_cmd_farmer_add(int argc, char **argv);
int lm_cmd_farmer_find(int argc, char **argv);
int lm_cmd_farmer_edit(int argc, char **argv);
int lm_cmd_collect(int argc, char **argv);
int lm_cmd_grade(int argc, char **argv);
int lm_cmd_adjust(int argc, char **argv);
int lm_cmd_list(int argc, char **argv);
int lm_cmd_status(int argc, char **argv);
int lm_cmd_day(int argc, char **argv);
int lm_cmd_slip(int argc, char **argv);
int lm_cmd_sync(int argc, char **argv);
int lm_cmd_conflicts(int argc, char **argv);
int lm_cmd_route(int argc, char **argv);        /* route create (cmd_route.c) */
int lm_cmd_route_cancel(int argc, char **argv); /* route cancel (cmd_route_cancel.c) */
int lm_cmd_stop(int argc, char **argv);         /* stop arrive|load (cmd_stop.c) */
int lm_cmd_stop_correct(int argc, char **argv); /* stop correct (cmd_stop_correct.c) */
int lm_cmd_points(int argc, char **argv);       /* points (cmd_points.c) */
int lm_cmd_check(int argc, char **argv);        /* integrity check (cmd_check.c) */
int lm_cmd_salvage(int argc, char **argv);      /* damaged replica rebuilt (cmd_salvage.c) */

#endif
