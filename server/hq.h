/*
 * hq.h — headquarters writes on the server database (catalog, prices,
 * warehouse receipts) and the reconciliation report.
 *
 * Writes go through the replica's own connection as plain SQL (the SYSTEM
 * role, no rights checks) so the capture triggers log them and they reach
 * the agents on their next pull. The database is opened with a busy
 * timeout and every write is one BEGIN IMMEDIATE transaction, so these
 * commands are safe while `lastmile-server serve` uses the same file (WAL).
 */
#ifndef LM_SERVER_HQ_H
#define LM_SERVER_HQ_H

#include <stddef.h>
#include <stdio.h>

#include <sqlite3.h>

#include "args.h"

#include "lm_sync.h"

/* One bound parameter of an HQ write: text when text is non-NULL, else the
 * integer, or by kind the double real or NULL. */
enum { LM_HQ_INT = 0, LM_HQ_REAL = 1, LM_HQ_NULL = 2 };
typedef struct lm_hq_param {
    const char *text;
    long long num;
    int kind; /* when text is NULL: LM_HQ_INT, LM_HQ_REAL or LM_HQ_NULL */
    double real;
} lm_hq_param;

/* Returns 1 when table has a row whose column equals value, 0 when not,
 * negative LM_EDB on error. table and column are trusted identifiers. */
int lm__hq_exists(sqlite3 *db, const char *table, const char *column, const char *value);

/* Runs one statement with params bound to ?1..?n inside BEGIN IMMEDIATE ..
 * COMMIT, then stamps the captured changes. *changed (may be NULL) gets
 * the number of rows written. On failure err holds the reason. */
int lm__hq_write(lm_replica *r, const char *sql, const lm_hq_param *params, size_t n, int *changed,
                 char *err, size_t err_size);

/* 0 when from and to (either may be NULL) are real dates (lm_date_parse,
 * lm_text.h); else prints "lastmile-server CMD: --from 'X' <why>" and
 * returns 2, the usage exit code. */
int lm__hq_check_dates(const char *cmd, const char *from, const char *to);

/* Opens the server database at path for an HQ command (5 s busy timeout);
 * on failure prints "lastmile-server CMD: reason" and returns NULL. */
lm_replica *lm__hq_open(const char *path, const char *cmd);

#define LM_HQ_MAX_COLS 20

/* The rows of an HQ report as text cells, n_cols per row (NULL = not
 * applicable at that row's level). The table owns every cell. */
typedef struct lm_hq_rows {
    const char *const *names; /* n_cols column names (borrowed) */
    const int *numeric;       /* n_cols flags: 1 = JSON number, right-aligned */
    size_t n_cols;            /* at most LM_HQ_MAX_COLS */
    char **cells;
    size_t n, cap;
} lm_hq_rows;

/* Appends an empty row; returns its n_cols cells to fill with lm_malloc'd
 * strings, or NULL when out of memory. */
char **lm__hq_rows_add(lm_hq_rows *t);
/* Frees every cell and the array; the table can be reused empty. */
void lm__hq_rows_free(lm_hq_rows *t);
/* Prints the rows as LM_FMT_TABLE, LM_FMT_CSV or LM_FMT_JSON (an array of
 * objects keyed by column name) through the text layer: table cells with
 * control characters made visible, CSV cells that cannot run as formulas,
 * JSON strings with terminal controls escaped (lm_text.h). LM_OK, or
 * LM_ENOMEM / LM_EIO. */
int lm__hq_rows_print(const lm_hq_rows *t, int format, FILE *out);

/* Fills a row's cells from the statement's current result row (arg: the
 * report's own parameter). LM_OK, LM_ENOMEM, or LM_ERANGE when a figure is
 * not exact (see lm__hq_exact). */
typedef int (*lm_hq_fill_fn)(sqlite3_stmt *st, char **cells, void *arg);
/* LM_ERANGE when result column k is a REAL: SQLite turns integer + integer
 * past 64 bits into an inexact REAL (only SUM raises an error), and a
 * ledger figure must be printed exactly or not at all. Else LM_OK. */
int lm__hq_exact(sqlite3_stmt *st, int k);
/* Runs a report: steps st (prepared on db and bound; NULL when preparing
 * failed) to the end, one row per result row filled by fill, then prints
 * the rows. One statement is one read snapshot, so the figures agree even
 * while a server commits to the file. Nothing is printed unless every row
 * was read. Finalizes st and frees the rows' cells whatever happens. LM_OK,
 * or the error with its reason in err: LM_ERANGE when a total does not fit
 * 64-bit integers, err then naming a row that holds a value lastmile
 * refuses (docs/server.md). */
int lm__hq_rows_report(sqlite3 *db, sqlite3_stmt *st, lm_hq_rows *rows, lm_hq_fill_fn fill,
                       void *arg, int format, FILE *out, char *err, size_t err_size);
/* The reading half of lm__hq_rows_report, for a report that prints its
 * rows its own way. Either binds LM_TEXT_SQL_OFFSET ("?99", lm_text.h)
 * when st has it to the offset people read days in
 * (lm_text_utc_offset_default: $LASTMILE_UTC_OFFSET, else UTC+8), so a
 * report's days are local days: on LM_OK the rows are the caller's to print and free
 * (lm__hq_rows_free); on failure they are freed and err says why. Finalizes
 * st whatever happens. */
int lm__hq_rows_read(sqlite3 *db, sqlite3_stmt *st, lm_hq_rows *rows, lm_hq_fill_fn fill, void *arg,
                     char *err, size_t err_size);

/* A listing (catalog administration): runs sql with binds[i] (NULL binds
 * NULL) as ?i+1 and prints every row, shaped by shape's names and numeric
 * flags (its cells unused), as a table or, json = 1, an array of objects;
 * NULL is "-" / null. 0, or 1 with "lastmile-server CMD: reason" on
 * stderr. */
int lm__hq_list(sqlite3 *db, const char *cmd, const char *sql, const char *const *binds,
                size_t n_binds, const lm_hq_rows *shape, int json);
/* A whole `list` subcommand with one optional filter: --db PATH, --FILTER
 * VALUE, --json. A VALUE no row of table.column holds is refused with
 * "lastmile-server CMD: UNKNOWN 'VALUE'" (exit 1); else lm__hq_list of sql
 * with VALUE as ?1 (NULL without the option). The exit code. */
int lm__hq_list_cmd(int argc, char **argv, const char *cmd, const char *usage, const char *filter,
                    const char *table, const char *column, const char *unknown, const char *sql,
                    const lm_hq_rows *shape);
/* A name hq gives a village, county or warehouse: the ledger's text rules
 * (lm_rules_text, at most LM_MAX_PK bytes), no leading or trailing space,
 * no comma (names are listed with commas). 0, or 2 (usage) with the reason
 * on stderr naming --option. */
int lm__hq_check_name(const char *cmd, const char *option, const char *value);
/* Decimal degrees typed for table.column ("lat" or "lon"): [-]D[.D],
 * at most 9 decimals, within the ledger's bounds (lm_rules_value). 0 with
 * *out set, or 2 with the reason on stderr naming --option. */
int lm__hq_parse_degrees(const char *cmd, const char *option, const char *table, const char *column,
                         const char *text, double *out);
/* The front of a command with subcommands subs (NULL-terminated): -1 when
 * argv[0] is one of them; else prints usage (stdout for --help: 0; stderr:
 * 2) and returns the exit code. */
int lm__hq_usage(int argc, char **argv, const char *const *subs, const char *usage);

/* lm_args_run for "lastmile-server CMD" (cmd without the program name). */
int lm__hq_args_run(int argc, char **argv, const lm_opt *opts, size_t n_opts, const char *cmd,
                    const char *usage, const char *required);

int lm__cmd_village(int argc, char **argv);      /* village add|list|update */
int lm__cmd_warehouse(int argc, char **argv);    /* warehouse add|list */
int lm__cmd_product(int argc, char **argv);      /* product add */
int lm__cmd_price(int argc, char **argv);        /* price set */
int lm__cmd_receipt(int argc, char **argv);      /* receipt add */
int lm__cmd_farmer(int argc, char **argv);       /* farmer import|deactivate|reactivate */
int lm__cmd_farmer_state(int argc, char **argv); /* farmer deactivate|reactivate */
int lm__cmd_distance(int argc, char **argv);     /* distance import|set */
/* conflicts list | show | resolve */
int lm__cmd_conflicts(int argc, char **argv);

/* `report reconcile` / `report poverty`: the words after the report name. */
int lm__cmd_report_reconcile(int argc, char **argv);
int lm__cmd_report_poverty(int argc, char **argv);
int lm__cmd_report_agents(int argc, char **argv);

/* What `report poverty` was asked for: period is "day", "week", "month"
 * or "all"; from/to may be NULL; follow_up = 1 lists the doubtful and
 * claimed farmers instead of the totals. */
typedef struct lm_poverty_opts {
    const char *from, *to, *period;
    int format;
    int follow_up;
    int wide; /* follow_up as a table: every column (else 80 columns) */
} lm_poverty_opts;

/* The poverty-targeting report (see docs/hq.md): per period, county and
 * village, weight and money from households the register verifies against
 * all, with the doubtful and claimed ones apart. */
int lm__report_poverty(sqlite3 *db, const lm_poverty_opts *o, FILE *out, char *err,
                       size_t err_size);

/* What `report reconcile` was asked for. from/to/county may be NULL (no
 * bound); tolerance_cpct is the loss tolerance in hundredths of a percent
 * (200 = 2%); format is an LM_FMT_* of report.h; wide = 1 shows every
 * column and level in a table too (CSV and JSON always do). */
typedef struct lm_reconcile_opts {
    const char *from, *to, *county;
    long long tolerance_cpct;
    int format;
    int wide;
} lm_reconcile_opts;

/* The reconciliation report (see docs/hq.md). */
int lm__report_reconcile(sqlite3 *db, const lm_reconcile_opts *o, FILE *out, char *err,
                         size_t err_size);

#endif
