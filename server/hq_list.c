/*
 * hq_list.c — what the catalog administration commands share (hq.h): a
 * listing printed as a table or JSON, and the checks of a name and of
 * decimal degrees through the ledger's rules (lm_rules.h), the same ones
 * the server applies to what it receives.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"
#include "lm_rules.h"
#include "lm_text.h"
#include "report.h"

static int fill_text(sqlite3_stmt *st, char **cells, void *arg)
{
    size_t n = *(const size_t *)arg;
    for (size_t k = 0; k < n; k++) {
        if (sqlite3_column_type(st, (int)k) == SQLITE_NULL)
            continue;
        const char *v = (const char *)sqlite3_column_text(st, (int)k);
        if (!(cells[k] = lm_strdup(v ? v : "")))
            return LM_ENOMEM;
    }
    return LM_OK;
}

int lm__hq_list(sqlite3 *db, const char *cmd, const char *sql, const char *const *binds,
                size_t n_binds, const lm_hq_rows *shape, int json)
{
    sqlite3_stmt *st = NULL;
    char err[512] = "";
    lm_hq_rows rows = *shape;
    rows.cells = NULL;
    rows.n = rows.cap = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "lastmile-server %s: %s\n", cmd, sqlite3_errmsg(db));
        return 1;
    }
    for (size_t i = 0; i < n_binds; i++)
        if (binds[i])
            sqlite3_bind_text(st, (int)i + 1, binds[i], -1, SQLITE_STATIC);
    size_t n = rows.n_cols;
    if (lm__hq_rows_report(db, st, &rows, fill_text, &n, json ? LM_FMT_JSON : LM_FMT_TABLE, stdout,
                           err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server %s: %s\n", cmd, err);
        return 1;
    }
    return 0;
}

int lm__hq_list_cmd(int argc, char **argv, const char *cmd, const char *usage, const char *filter,
                    const char *table, const char *column, const char *unknown, const char *sql,
                    const lm_hq_rows *shape)
{
    const char *db = NULL, *value = NULL;
    int json = 0;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                     {filter, LM_OPT_VALUE, &value, NULL},
                     {"json", LM_OPT_FLAG, NULL, &json}};
    int rc = lm__hq_args_run(argc, argv, opts, sizeof opts / sizeof opts[0], cmd, usage, "db");
    if (rc != LM_ARGS_GO)
        return rc;
    lm_replica *r = lm__hq_open(db, cmd);
    if (!r)
        return 1;
    if (value && lm__hq_exists(lm_replica_db(r), table, column, value) <= 0) {
        fprintf(stderr, "lastmile-server %s: %s '%s'\n", cmd, unknown, value);
        rc = 1;
    } else {
        rc = lm__hq_list(lm_replica_db(r), cmd, sql, &value, 1, shape, json);
    }
    lm_replica_close(r);
    return rc;
}

int lm__hq_check_name(const char *cmd, const char *option, const char *value)
{
    const char *why = NULL;
    if (lm_rules_text(value, strlen(value), LM_MAX_PK, &why) != LM_OK) {
        fprintf(stderr, "lastmile-server %s: --%s: %s\n", cmd, option, why);
        return 2;
    }
    if (value[0] == ' ' || value[strlen(value) - 1] == ' ') {
        fprintf(stderr, "lastmile-server %s: --%s '%s' starts or ends with a space\n", cmd, option,
                value);
        return 2;
    }
    if (strchr(value, ',')) {
        fprintf(stderr,
                "lastmile-server %s: --%s '%s' holds a comma (names are listed with commas, as"
                " in user add --villages)\n",
                cmd, option, value);
        return 2;
    }
    return 0;
}

int lm__hq_parse_degrees(const char *cmd, const char *option, const char *table, const char *column,
                         const char *text, double *out)
{
    /* [-]digits[.digits]: no exponent, hex, inf or nan, which strtod takes */
    const char *p = text + (text[0] == '-');
    size_t whole = strspn(p, "0123456789"), frac = 0;
    if (p[whole] == '.')
        frac = strspn(p + whole + 1, "0123456789");
    size_t len = whole + (p[whole] == '.' ? 1 + frac : 0);
    const char *why = NULL;
    if (!whole || p[len] != '\0' || (p[whole] == '.' && !frac) || frac > 9) {
        fprintf(stderr,
                "lastmile-server %s: --%s '%s' is not decimal degrees (like 27.0512 or -3.5, at"
                " most 9 decimals)\n",
                cmd, option, text);
        return 2;
    }
    lm_value v = {.type = LM_VAL_FLOAT, .f = strtod(text, NULL)};
    if (!isfinite(v.f) || lm_rules_value(table, column, &v, 0, &why) != LM_OK) {
        fprintf(stderr, "lastmile-server %s: --%s '%s': %s\n", cmd, option, text,
                why ? why : "out of range");
        return 2;
    }
    *out = v.f;
    return 0;
}

int lm__hq_usage(int argc, char **argv, const char *const *subs, const char *usage)
{
    int help = argc >= 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0);
    for (size_t i = 0; argc >= 1 && subs[i]; i++)
        if (strcmp(argv[0], subs[i]) == 0)
            return -1;
    fputs(usage, help ? stdout : stderr);
    return help ? 0 : 2;
}

int lm__hq_args_run(int argc, char **argv, const lm_opt *opts, size_t n_opts, const char *cmd,
                    const char *usage, const char *required)
{
    char name[128];
    snprintf(name, sizeof name, "lastmile-server %s", cmd);
    return lm_args_run(argc, argv, opts, n_opts, name, usage, required);
}
