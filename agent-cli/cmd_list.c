/*
 * cmd_list.c — `lastmile list KIND`: the rows of one domain table on this
 * replica, as a table for people (kg, yuan, local time) or (--json) an
 * array of objects keyed by the schema's column names with the exact
 * stored integers; `list refusals` shows the changes the server refused.
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "cli.h"
#include "farmer_lookup.h"
#include "money.h"
#include "table.h"

static const char usage[] =
    "usage: lastmile list farmers|collections|gradings|adjustments|routes|stops|refusals\n"
    "                     [--db PATH] [--json] [--utc-offset +08:00]\n"
    "       lastmile list collections [--farmer ID|NAME] [--since YYYY-MM-DD]\n"
    "                     [--limit N] ...\n"
    "\n"
    "Prints the rows this replica holds. The table is for people: weights in\n"
    "kg (columns *_kg), money in yuan (*_yuan, with the sign \xc2\xa5), times in\n"
    "local time at --utc-offset (default $LASTMILE_UTC_OFFSET, else +08:00).\n"
    "With --json: an array of objects keyed by the schema's column names (id,\n"
    "weight_g, unit_price_fen, ...), weights in grams, money in fen, times in ms\n"
    "since the epoch: exact values for scripts. 'stops' also names each stop's\n"
    "route_date, vehicle, driver and route_status (a stop of a cancelled route\n"
    "is no pickup). 'refusals' lists the changes the server\n"
    "refused, with the reason.\n"
    "\n"
    "collections: --farmer keeps one farmer's (an id, an id prefix or an exact\n"
    "name, as every --farmer; an ambiguous one lists the candidates), --since\n"
    "those from that local day on, --limit N the latest N (0: all). The table\n"
    "shows the latest 50 unless --limit says otherwise; --json shows all.\n";

#define LIST_DEFAULT_LIMIT 50

typedef struct kind {
    const char *name;
    const char *sql;
} kind;

/* collections takes ?1 farmer id (NULL: any), ?2 first ms (NULL: any), ?3 limit (-1: all) and keeps
 * the latest rows, oldest first. */
static const kind kinds[] = {
    {"farmers", "SELECT * FROM farmers ORDER BY created_at, id"},
    {"collections", "SELECT * FROM (SELECT * FROM collections c WHERE"
                    " (?1 IS NULL OR c.farmer_id = ?1) AND (?2 IS NULL OR c.collected_at >= ?2)"
                    " ORDER BY collected_at DESC, id DESC LIMIT ?3) ORDER BY collected_at, id"},
    {"gradings", "SELECT * FROM gradings ORDER BY graded_at, id"},
    {"adjustments", "SELECT * FROM adjustments ORDER BY \"at\", id"},
    {"routes", "SELECT * FROM routes ORDER BY \"date\", id"},
    {"stops", "SELECT s.*, r.\"date\" AS route_date, r.vehicle AS vehicle, r.driver AS driver,"
              " r.status AS route_status"
              " FROM route_stops s LEFT JOIN routes r ON r.id = s.route_id"
              " ORDER BY r.\"date\", s.route_id, s.seq, s.id"},
};

static const char count_collections[] =
    "SELECT COUNT(*) FROM collections c WHERE (?1 IS NULL OR c.farmer_id = ?1)"
    " AND (?2 IS NULL OR c.collected_at >= ?2)";

/* What `list` was asked for beyond the kind. */
typedef struct list_opts {
    int json;
    int offset_min;     /* for the table's times */
    const char *farmer; /* collections only: the resolved id, or NULL */
    int64_t since_ms;   /* collections only; -1: no bound */
    long long limit;    /* collections only; -1: all */
} list_opts;

/* Engine bookkeeping columns, should a table carry any, are not schema. */
static int hidden_column(const char *name)
{
    return name[0] == '_' || strncmp(name, "lm_", 3) == 0;
}

/* Binds collections' parameters (other kinds have none). */
static void bind_filters(sqlite3_stmt *st, const list_opts *o, int with_limit)
{
    if (o->farmer)
        sqlite3_bind_text(st, 1, o->farmer, -1, SQLITE_STATIC);
    if (o->since_ms >= 0)
        sqlite3_bind_int64(st, 2, o->since_ms);
    if (with_limit)
        sqlite3_bind_int64(st, 3, o->limit);
}

/* After a table cut by the default limit: how many rows there are. */
static void note_limit(const char *cmd, sqlite3 *db, const list_opts *o, size_t shown)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, count_collections, -1, &st, NULL) == SQLITE_OK) {
        bind_filters(st, o, 0);
        if (sqlite3_step(st) == SQLITE_ROW && (size_t)sqlite3_column_int64(st, 0) > shown)
            fprintf(stderr,
                    "lastmile: %s: the latest %zu of %lld collections (--limit 0 shows all)\n", cmd,
                    shown, (long long)sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
}

static int list_rows(const char *cmd, lm_replica *r, const kind *k, const list_opts *o)
{
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    lm_buf b;
    lm_json j;
    lm_table t;
    int code = LM_EXIT_OK, rc, json = o->json, is_coll = strcmp(k->name, "collections") == 0;
    size_t n_rows = 0;

    if (sqlite3_prepare_v2(db, k->sql, -1, &st, NULL) != SQLITE_OK)
        return lm_cli_error(cmd, "cannot read: %s", sqlite3_errmsg(db));
    if (is_coll)
        bind_filters(st, o, 1);
    int n_cols = sqlite3_column_count(st), n_shown = 0;
    int kinds_of[64]; /* LM_TEXT_COL_* of the first 64 columns */
    for (int i = 0; i < n_cols; i++)
        n_shown += !hidden_column(sqlite3_column_name(st, i));
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_table_init(&t, (size_t)n_shown);
    if (json) {
        lm_json_begin_array(&j);
    } else {
        for (int i = 0, shown = 0; i < n_cols; i++) {
            if (hidden_column(sqlite3_column_name(st, i)))
                continue;
            int col_kind = lm_cli_table_head(&t, (size_t)shown++, sqlite3_column_name(st, i));
            if (i < 64)
                kinds_of[i] = col_kind;
        }
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        n_rows++;
        if (json)
            lm_json_begin_object(&j);
        for (int i = 0; i < n_cols; i++) {
            const char *name = sqlite3_column_name(st, i);
            if (hidden_column(name))
                continue;
            if (json) {
                lm_json_key(&j, name);
                lm_cli_json_column(&j, st, i);
            } else {
                lm_cli_table_cell(&t, st, i, i < 64 ? kinds_of[i] : LM_TEXT_COL_PLAIN,
                                  o->offset_min, "");
            }
        }
        if (json)
            lm_json_end_object(&j);
    }
    if (rc != SQLITE_DONE) {
        code = lm_cli_error(cmd, "cannot read: %s", sqlite3_errmsg(db));
        goto done;
    }
    if (json) {
        lm_json_end_array(&j);
        code = lm_cli_emit_json(cmd, &j, &b);
    } else if (lm_table_print(&t, stdout) != LM_OK) {
        code = lm_cli_error(cmd, "cannot print the table");
    } else if (is_coll && o->limit >= 0 && n_rows == (size_t)o->limit) {
        note_limit(cmd, db, o, n_rows);
    }
done:
    lm_table_close(&t);
    lm_buf_close(&b);
    sqlite3_finalize(st);
    return code;
}

static int list_refusals(const char *cmd, lm_replica *r, int json)
{
    lm_refusal_record *rr = NULL;
    size_t n = 0;
    int code = LM_EXIT_OK;
    if (lm_replica_refusals(r, &rr, &n) != LM_OK)
        return lm_cli_error(cmd, "cannot read refusals: %s", lm_replica_errmsg(r));
    lm_buf b;
    lm_json j;
    lm_table t;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_table_init(&t, 7);
    if (json) {
        lm_json_begin_array(&j);
    } else {
        static const char *const head[] = {"id",    "table", "pk",    "column",
                                           "value", "error", "reason"};
        for (size_t i = 0; i < 7; i++)
            lm_table_add(&t, head[i]);
    }
    for (size_t i = 0; i < n; i++) {
        char text[256];
        if (json) {
            lm_json_begin_object(&j);
            lm_json_key(&j, "id");
            lm_json_int(&j, rr[i].id);
            lm_json_key(&j, "table");
            lm_json_string(&j, rr[i].table);
            lm_json_key(&j, "pk");
            lm_json_string(&j, rr[i].pk);
            lm_json_key(&j, "column");
            lm_json_string(&j, rr[i].column);
            lm_json_key(&j, "value");
            lm_json_value(&j, &rr[i].value);
            lm_json_key(&j, "code");
            lm_json_int(&j, rr[i].code);
            lm_json_key(&j, "error");
            lm_json_string(&j, lm_errname(rr[i].code));
            lm_json_key(&j, "reason");
            lm_json_string(&j, rr[i].reason);
            lm_json_key(&j, "at");
            lm_json_uint(&j, rr[i].at_ms);
            lm_json_end_object(&j);
            continue;
        }
        snprintf(text, sizeof text, "%lld", (long long)rr[i].id);
        lm_table_add(&t, text);
        lm_table_add(&t, rr[i].table);
        lm_table_add(&t, rr[i].pk);
        lm_table_add(&t, rr[i].column);
        lm_value_format(&rr[i].value, "NULL", text, sizeof text);
        lm_table_add(&t, text);
        lm_table_add(&t, lm_errname(rr[i].code));
        lm_table_add(&t, rr[i].reason);
    }
    if (json) {
        lm_json_end_array(&j);
        code = lm_cli_emit_json(cmd, &j, &b);
    } else if (lm_table_print(&t, stdout) != LM_OK) {
        code = lm_cli_error(cmd, "cannot print the table");
    }
    lm_table_close(&t);
    lm_buf_close(&b);
    lm_refusal_records_free(rr, n);
    return code;
}

int lm_cmd_list(int argc, char **argv)
{
    lm_cli_common c = {0};
    lm_args a;
    const char *offset = NULL, *farmer = NULL, *since = NULL, *limit = NULL;
    const lm_opt opts[] = {LM_CLI_COMMON_OPTS(c),
                           LM_CLI_JSON_OPT(c),
                           {"utc-offset", LM_OPT_VALUE, &offset, NULL},
                           {"farmer", LM_OPT_VALUE, &farmer, NULL},
                           {"since", LM_OPT_VALUE, &since, NULL},
                           {"limit", LM_OPT_VALUE, &limit, NULL}};
    const char *cmd = "list";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional != 1)
        return lm_cli_usage_error(cmd, "say what to list: farmers, collections, gradings, "
                                       "adjustments, routes, stops or refusals");
    const char *what = a.positional[0];
    const kind *k = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kinds[i].name, what) == 0)
            k = &kinds[i];
    }
    if (!k && strcmp(what, "refusals") != 0)
        return lm_cli_usage_error(cmd, "cannot list '%s'", what);
    int is_coll = k && strcmp(k->name, "collections") == 0;
    if (!is_coll && (farmer || since || limit))
        return lm_cli_usage_error(cmd, "--farmer, --since and --limit filter collections only");
    list_opts o = {c.json, lm_text_utc_offset_default(), farmer, -1,
                   c.json ? -1 : LIST_DEFAULT_LIMIT};
    if (offset && lm_text_utc_offset_parse(offset, &o.offset_min) != LM_OK)
        return lm_cli_usage_error(cmd, "--utc-offset '%s' is not an offset such as +08:00", offset);
    const char *why = NULL;
    int64_t day;
    if (since && lm_date_parse(since, &day, &why) != LM_OK)
        return lm_cli_usage_error(cmd, "--since '%s' %s", since, why);
    if (since)
        o.since_ms = day * 86400000 - (int64_t)o.offset_min * 60000;
    if (limit) {
        int64_t n;
        if (lm_money_parse_decimal(limit, 0, &n, &why) != LM_OK || n < 0)
            return lm_cli_usage_error(cmd, "--limit '%s' is not a count (0: all)", limit);
        o.limit = n == 0 ? -1 : n;
    }

    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, 0, &r)) != LM_EXIT_OK)
        return code;
    char farmer_id[LM_ID_SIZE];
    if (farmer) {
        if ((code = lm_farmer_resolve(cmd, lm_replica_db(r), farmer, farmer_id)) != LM_EXIT_OK) {
            lm_replica_close(r);
            return code;
        }
        o.farmer = farmer_id;
    }
    code = k ? list_rows(cmd, r, k, &o) : list_refusals(cmd, r, c.json);
    lm_replica_close(r);
    return code;
}
