/*
 * cli.c — helpers every subcommand shares (see cli.h).
 */
#include "cli.h"
#include "lm_rules.h"
#include "sync_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <time.h>
#include <unistd.h>

int lm_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "lastmile: %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return LM_EXIT_RUNTIME;
}

int lm_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "lastmile: %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'lastmile %s --help')\n", cmd);
    return LM_EXIT_USAGE;
}

int lm_cli_check_text(const char *cmd, const char *opt, const char *table, const char *column,
                      const char *value)
{
    if (!value)
        return -1;
    lm_value v = {.type = LM_VAL_TEXT, .bytes = (uint8_t *)value, .len = strlen(value)};
    const char *why;
    if (lm_rules_value(table, column, &v, lm_cli_now_ms(), &why) == LM_OK)
        return -1;
    return lm_cli_usage_error(cmd, "--%s: %s", opt, why);
}

int lm_cli_parse(const char *cmd, const char *usage, int argc, char **argv, const lm_opt *opts,
                 size_t n_opts, lm_args *args, const lm_cli_common *common)
{
    char err[160];
    if (lm_args_parse(argc, argv, opts, n_opts, args, err, sizeof err) != LM_OK)
        return lm_cli_usage_error(cmd, "%s", err);
    if (common->help) {
        fputs(usage, stdout);
        return LM_EXIT_OK;
    }
    return -1;
}

const char *lm_cli_db_path(const char *db_opt)
{
    if (db_opt && *db_opt)
        return db_opt;
    const char *env = getenv("LASTMILE_DB");
    if (env && *env)
        return env;
    return "./lastmile.db";
}

void lm_cli_private_files(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char name[4200];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++)
        if ((size_t)snprintf(name, sizeof name, "%s%s", path, suffix[i]) < sizeof name)
            chmod(name, 0600);
}

uint64_t lm_cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *lm_cli_meta(lm_replica *r, const char *key)
{
    char *v = NULL;
    if (lm_replica_meta_get(r, key, &v) != LM_OK)
        return NULL;
    return v;
}

int lm_cli_emit_json(const char *cmd, lm_json *j, lm_buf *b)
{
    int rc = lm_json_finish(j);
    if (rc == LM_OK)
        rc = lm_buf_append(b, "\n", 1);
    if (rc != LM_OK)
        return lm_cli_error(cmd, "cannot write JSON: %s", lm_strerror(rc));
    if (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout) != 0)
        return lm_cli_error(cmd, "cannot write to stdout");
    return LM_EXIT_OK;
}

void lm_cli_json_column(lm_json *j, sqlite3_stmt *stmt, int col)
{
    switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
        lm_json_int(j, sqlite3_column_int64(stmt, col));
        break;
    case SQLITE_FLOAT:
        lm_json_double(j, sqlite3_column_double(stmt, col));
        break;
    case SQLITE_NULL:
        lm_json_null(j);
        break;
    default: {
        /* TEXT as is; a BLOB has no JSON form, so it is shown as text too
         * (the writer keeps the output valid whatever the bytes). */
        const char *t = (const char *)sqlite3_column_text(stmt, col);
        lm_json_string_n(j, t ? t : "", (size_t)sqlite3_column_bytes(stmt, col));
        break;
    }
    }
}

int lm_cli_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? LM_OK : LM_EDB;
}

void lm_cli_json_site(lm_json *j, uint64_t site)
{
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)site);
    lm_json_string(j, hex);
}

int lm_cli_row_exists(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    int found;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : LM_EDB;
    sqlite3_finalize(st);
    return found;
}

int lm_cli_require_in_catalog(const char *cmd, sqlite3 *db, const char *what, const char *sql,
                              const char *value)
{
    int found = lm_cli_row_exists(db, sql, value);
    if (found == 1)
        return 0;
    return found < 0 ? lm_cli_error(cmd, "cannot read the catalog: %s", sqlite3_errmsg(db))
                     : lm_cli_error(cmd, "unknown %s '%s' (not in the catalog)", what, value);
}

int lm_cli_insert_prepare(const char *cmd, lm_replica *r, const char *sql, char *id,
                          sqlite3_stmt **st)
{
    sqlite3 *db = lm_replica_db(r);
    if (lm_replica_new_id(r, id) != LM_OK)
        return lm_cli_error(cmd, "cannot make an id: %s", lm_replica_errmsg(r));
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return lm_cli_error(cmd, "cannot prepare: %s", sqlite3_errmsg(db));
    return 0;
}

int lm_cli_insert_commit(const char *cmd, sqlite3 *db, sqlite3_stmt *st)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        return lm_cli_sql_error(cmd, db, "cannot insert");
    if (lm_cli_exec(db, "COMMIT") != LM_OK)
        return lm_cli_sql_error(cmd, db, "cannot commit");
    return 0;
}

int lm_cli_print_object(const char *cmd, void (*members)(lm_json *j, const void *arg),
                        const void *arg)
{
    lm_buf b;
    lm_json j;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_json_begin_object(&j);
    members(&j, arg);
    lm_json_end_object(&j);
    int code = lm_cli_emit_json(cmd, &j, &b);
    lm_buf_close(&b);
    return code;
}

static void id_member(lm_json *j, const void *id)
{
    lm_json_key(j, "id");
    lm_json_string(j, id);
}

int lm_cli_print_id(const char *cmd, const char *id, int json)
{
    if (!json) {
        printf("%s\n", id);
        return fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_RUNTIME;
    }
    return lm_cli_print_object(cmd, id_member, id);
}

int lm_cli_table_head(lm_table *t, size_t table_col, const char *name)
{
    char head[128];
    int kind = lm_text_column_header(name, head, sizeof head);
    if (kind == LM_TEXT_COL_GRAMS || kind == LM_TEXT_COL_FEN)
        lm_table_align_right(t, table_col);
    lm_table_add(t, head);
    return kind;
}

void lm_cli_table_cell(lm_table *t, sqlite3_stmt *st, int col, int kind, int offset_min,
                       const char *null_text)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        lm_table_add(t, null_text);
    } else if (kind != LM_TEXT_COL_PLAIN && sqlite3_column_type(st, col) == SQLITE_INTEGER) {
        char text[64];
        lm_text_column_cell(kind, sqlite3_column_int64(st, col), offset_min, text, sizeof text);
        lm_table_add(t, text);
    } else {
        lm_table_add(t, (const char *)sqlite3_column_text(st, col));
    }
}

void lm_cli_warn_clock(const char *cmd, lm_replica *r)
{
    char *text = lm_cli_meta(r, "clock_offset"); /* server time - device time */
    long long off = text ? strtoll(text, NULL, 10) : 0;
    lm_free(text);
    if (off > -LM_CLI_CLOCK_WARN_MS && off < LM_CLI_CLOCK_WARN_MS)
        return;
    long long hours = (off < 0 ? -off : off) / 3600000;
    fprintf(stderr,
            "lastmile: %s: warning: this device's clock was %lld hours %s the server's at the "
            "last sync; purchases are dated by it, so set the clock\n",
            cmd, hours, off < 0 ? "ahead of" : "behind");
}

void lm_cli_bind_utc_offset(sqlite3_stmt *st, int offset_min)
{
    char offset[LM_TEXT_SQL_OFFSET_SIZE];
    lm_text_sql_offset(offset_min, offset, sizeof offset);
    sqlite3_bind_text(st, LM_TEXT_SQL_OFFSET_INDEX, offset, -1, SQLITE_TRANSIENT);
}
