/*
 * cmd_conflicts.c — `lastmile-server conflicts list|show|resolve`: hq's
 * view of the server's conflict log (concurrent writes the merge decided,
 * the loser set aside) and its way of closing one.
 *
 * The server logs a conflict when a push is concurrent with what it holds;
 * a replica that pulls the winner over its own write logs the same one.
 * Closing goes through the engine (lm_replica_conflict_close): a resolution
 * record, synced like any write, closes the conflict wherever it was
 * logged — here when an agent resolves it, on the agents' replicas when hq
 * does. Sites are named by the user whose replica they are
 * (lm_sessions_log), the server's own as "hq".
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"
#include "json.h"
#include "lm_text.h"
#include "args.h"
#include "table.h"

static const char usage[] =
    "usage: lastmile-server conflicts list --db PATH [--all] [--json]\n"
    "       lastmile-server conflicts show --db PATH --id N [--json]\n"
    "       lastmile-server conflicts resolve --db PATH --id N --keep winner|loser\n"
    "                                         --reason TEXT [--by NAME]\n"
    "\n"
    "The server's conflict log: a cell two replicas wrote concurrently, the\n"
    "record it belongs to (a farmer's name and village, a purchase's farmer,\n"
    "product and village...), the value kept (winner) and the one set aside\n"
    "(loser), and whose replicas wrote them. list shows the open ones (--all:\n"
    "closed ones too, with who closed them); show one in full. resolve closes\n"
    "one: --keep winner leaves the value as it is, --keep loser writes the\n"
    "set-aside value back as hq's write; --reason says why, --by who (default\n"
    "hq). The closing syncs: agents that show the conflict see it closed after\n"
    "their next sync. A conflict an agent resolved is closed here when its\n"
    "replica syncs. Exit 0, 1 when the conflict is unknown, already closed or\n"
    "the database fails, 2 on bad usage. See docs/hq.md.\n";

#define CMD "lastmile-server conflicts"

/* The user whose replica is site, or "hq" for the server's own. */
static void site_name(sqlite3 *db, uint64_t server_site, uint64_t site, char *out, size_t size)
{
    if (site == server_site) {
        snprintf(out, size, "hq");
        return;
    }
    snprintf(out, size, "site %016llx", (unsigned long long)site);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT user FROM lm_sessions_log WHERE site = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, (int64_t)site);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static void record_text(const lm_conflict *c, char *out, size_t size)
{
    if (c->label && c->label[0])
        snprintf(out, size, "%s", c->label);
    else
        snprintf(out, size, "%s %s", c->table, c->pk);
}

static void conflict_json(lm_json *j, sqlite3 *db, uint64_t server_site, const lm_conflict *c)
{
    char who[128];
    lm_json_begin_object(j);
    lm_json_key(j, "id");
    lm_json_int(j, c->id);
    lm_json_key(j, "table");
    lm_json_string(j, c->table);
    lm_json_key(j, "pk");
    lm_json_string(j, c->pk);
    lm_json_key(j, "column");
    lm_json_string(j, c->column);
    lm_json_key(j, "record");
    lm_json_string(j, c->label);
    lm_json_key(j, "winner");
    lm_json_value(j, &c->winner);
    lm_json_key(j, "loser");
    lm_json_value(j, &c->loser);
    site_name(db, server_site, c->winner_site, who, sizeof who);
    lm_json_key(j, "winner_by");
    lm_json_string(j, who);
    site_name(db, server_site, c->loser_site, who, sizeof who);
    lm_json_key(j, "loser_by");
    lm_json_string(j, who);
    lm_json_key(j, "winner_at");
    lm_json_uint(j, LM_HLC_MS(c->winner_hlc));
    lm_json_key(j, "loser_at");
    lm_json_uint(j, LM_HLC_MS(c->loser_hlc));
    lm_json_key(j, "at");
    lm_json_uint(j, c->at_ms);
    lm_json_key(j, "resolved");
    lm_json_bool(j, c->resolved);
    lm_json_key(j, "resolved_by");
    lm_json_string(j, c->resolved_by);
    lm_json_key(j, "kept");
    lm_json_string(j, c->kept);
    lm_json_key(j, "reason");
    lm_json_string(j, c->reason);
    lm_json_key(j, "resolved_at");
    lm_json_uint(j, c->resolved_at_ms);
    lm_json_end_object(j);
}

static int emit_json(lm_json *j, lm_buf *b)
{
    int rc = lm_json_finish(j);
    if (rc == LM_OK)
        rc = lm_buf_append(b, "\n", 1);
    if (rc != LM_OK) {
        fprintf(stderr, CMD ": cannot write JSON: %s\n", lm_strerror(rc));
        return 1;
    }
    if (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout) != 0) {
        fprintf(stderr, CMD ": cannot write to stdout\n");
        return 1;
    }
    return 0;
}

/* "open", or "closed by X" (kept winner/loser). */
static void status_text(const lm_conflict *c, char *out, size_t size)
{
    if (!c->resolved)
        snprintf(out, size, "open");
    else if (c->resolved_by[0])
        snprintf(out, size, "closed by %s", c->resolved_by);
    else
        snprintf(out, size, "closed");
}

static int list(lm_replica *r, const lm_conflict *cf, size_t n, int json)
{
    sqlite3 *db = lm_replica_db(r);
    uint64_t me = lm_replica_site(r);
    lm_buf b;
    lm_json j;
    int code = 0;
    if (json) {
        lm_buf_init(&b);
        lm_json_init(&j, &b);
        lm_json_begin_array(&j);
        for (size_t i = 0; i < n; i++)
            conflict_json(&j, db, me, &cf[i]);
        lm_json_end_array(&j);
        code = emit_json(&j, &b);
        lm_buf_close(&b);
        return code;
    }
    static const char *const head[] = {"id",    "record",    "column",   "winner",
                                       "loser", "winner_by", "loser_by", "status"};
    lm_table t;
    lm_table_init(&t, 8);
    for (size_t k = 0; k < 8; k++)
        lm_table_add(&t, head[k]);
    lm_table_align_right(&t, 0);
    for (size_t i = 0; i < n; i++) {
        char text[512];
        snprintf(text, sizeof text, "%lld", (long long)cf[i].id);
        lm_table_add(&t, text);
        record_text(&cf[i], text, sizeof text);
        lm_table_add(&t, text);
        lm_table_add(&t, cf[i].column);
        lm_value_format(&cf[i].winner, "(deleted)", text, sizeof text);
        lm_table_add(&t, text);
        lm_value_format(&cf[i].loser, "(deleted)", text, sizeof text);
        lm_table_add(&t, text);
        site_name(db, me, cf[i].winner_site, text, sizeof text);
        lm_table_add(&t, text);
        site_name(db, me, cf[i].loser_site, text, sizeof text);
        lm_table_add(&t, text);
        status_text(&cf[i], text, sizeof text);
        lm_table_add(&t, text);
    }
    if (lm_table_print(&t, stdout) != LM_OK || fflush(stdout) != 0) {
        fprintf(stderr, CMD " list: cannot print the table\n");
        code = 1;
    }
    lm_table_close(&t);
    return code;
}

static void line(const char *key, const char *value)
{
    printf("%-12s ", key);
    lm_text_fput(stdout, value);
    putchar('\n');
}

static int show(lm_replica *r, const lm_conflict *c, int json)
{
    sqlite3 *db = lm_replica_db(r);
    uint64_t me = lm_replica_site(r);
    if (json) {
        lm_buf b;
        lm_json j;
        lm_buf_init(&b);
        lm_json_init(&j, &b);
        conflict_json(&j, db, me, c);
        int code = emit_json(&j, &b);
        lm_buf_close(&b);
        return code;
    }
    char text[512], who[128], when[64];
    int off = lm_text_utc_offset_default();
    snprintf(text, sizeof text, "%lld", (long long)c->id);
    line("conflict", text);
    record_text(c, text, sizeof text);
    line("record", text);
    snprintf(text, sizeof text, "%s %s, column %s", c->table, c->pk, c->column);
    line("cell", text);
    lm_value_format(&c->winner, "(deleted)", text, sizeof text);
    site_name(db, me, c->winner_site, who, sizeof who);
    lm_text_time((int64_t)LM_HLC_MS(c->winner_hlc), off, when, sizeof when);
    line("kept", text);
    snprintf(text, sizeof text, "written by %s at %s", who, when);
    line("", text);
    lm_value_format(&c->loser, "(deleted)", text, sizeof text);
    site_name(db, me, c->loser_site, who, sizeof who);
    lm_text_time((int64_t)LM_HLC_MS(c->loser_hlc), off, when, sizeof when);
    line("set aside", text);
    snprintf(text, sizeof text, "written by %s at %s", who, when);
    line("", text);
    lm_text_time((int64_t)c->at_ms, off, when, sizeof when);
    line("logged", when);
    status_text(c, text, sizeof text);
    line("status", text);
    if (c->resolved && c->kept[0]) {
        lm_text_time((int64_t)c->resolved_at_ms, off, when, sizeof when);
        snprintf(text, sizeof text, "%s, at %s", c->kept, when);
        line("kept side", text);
        line("reason", c->reason);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static int parse_id(const char *text, int64_t *id)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || errno || v <= 0)
        return -1;
    *id = v;
    return 0;
}

int lm__cmd_conflicts(int argc, char **argv)
{
    const char *sub = argc >= 1 ? argv[0] : "";
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(usage, stdout);
        return 0;
    }
    int is_list = !strcmp(sub, "list"), is_show = !strcmp(sub, "show"),
        is_resolve = !strcmp(sub, "resolve");
    if (!is_list && !is_show && !is_resolve) {
        if (argc >= 1)
            fprintf(stderr, CMD ": unknown subcommand '%s' (list, show or resolve)\n", sub);
        fputs(usage, stderr);
        return 2;
    }
    const char *db = NULL, *id_text = NULL, *keep = NULL, *reason = NULL, *by = "hq";
    int all = 0, json = 0;
    lm_opt list_opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                          {"all", LM_OPT_FLAG, NULL, &all},
                          {"json", LM_OPT_FLAG, NULL, &json}};
    lm_opt show_opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                          {"id", LM_OPT_VALUE, &id_text, NULL},
                          {"json", LM_OPT_FLAG, NULL, &json}};
    lm_opt resolve_opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                             {"id", LM_OPT_VALUE, &id_text, NULL},
                             {"keep", LM_OPT_VALUE, &keep, NULL},
                             {"reason", LM_OPT_VALUE, &reason, NULL},
                             {"by", LM_OPT_VALUE, &by, NULL}};
    int prc = is_list   ? lm_args_run(argc - 1, argv + 1, list_opts, 3, CMD " list", usage, "db")
              : is_show ? lm_args_run(argc - 1, argv + 1, show_opts, 3, CMD " show", usage, "db,id")
                        : lm_args_run(argc - 1, argv + 1, resolve_opts, 5, CMD " resolve", usage,
                                      "db,id,keep,reason,by");
    if (prc != LM_ARGS_GO)
        return prc;
    int64_t id = 0;
    if (id_text && parse_id(id_text, &id) != 0) {
        fprintf(stderr, CMD " %s: --id '%s' is not a conflict number\n", sub, id_text);
        return 2;
    }
    if (is_resolve && strcmp(keep, "winner") != 0 && strcmp(keep, "loser") != 0) {
        fprintf(stderr, CMD " resolve: --keep must be winner or loser, not '%s'\n", keep);
        return 2;
    }
    const char *bad = is_resolve ? lm_text_option_value_problem(reason) : NULL;
    if (bad) {
        fprintf(stderr, CMD " resolve: --reason %s\n", bad);
        return 2;
    }
    lm_replica *r = lm__hq_open(db, is_list   ? "conflicts list"
                                    : is_show ? "conflicts show"
                                              : "conflicts resolve");
    if (!r)
        return 1;
    int code = 1;
    lm_conflict *cf = NULL;
    size_t n = 0;
    if (lm_replica_conflicts(r, is_list ? all : 1, &cf, &n) != LM_OK) {
        fprintf(stderr, CMD " %s: cannot read the conflict log: %s\n", sub, lm_replica_errmsg(r));
        goto done;
    }
    if (is_list) {
        code = list(r, cf, n, json);
        goto done;
    }
    const lm_conflict *hit = NULL;
    for (size_t i = 0; i < n; i++)
        if (cf[i].id == id)
            hit = &cf[i];
    if (!hit) {
        fprintf(stderr, CMD " %s: no conflict %lld (see 'lastmile-server conflicts list --all')\n",
                sub, (long long)id);
        goto done;
    }
    if (is_show) {
        code = show(r, hit, json);
        goto done;
    }
    if (hit->resolved) {
        fprintf(stderr, CMD " resolve: conflict %lld is already closed%s", (long long)id,
                hit->resolved_by[0] ? " by " : "");
        lm_text_fput(stderr, hit->resolved_by);
        fputc('\n', stderr);
        goto done;
    }
    int keep_loser = !strcmp(keep, "loser");
    if (lm_replica_conflict_close(r, id, keep_loser, by, reason) != LM_OK) {
        fprintf(stderr, CMD " resolve: cannot close conflict %lld: %s\n", (long long)id,
                lm_replica_errmsg(r));
        goto done;
    }
    printf("closed conflict %lld: kept the %s%s\n", (long long)id, keep,
           keep_loser ? " (written back as hq's change; agents get it on their next sync)" : "");
    code = fflush(stdout) == 0 ? 0 : 1;
done:
    lm_conflicts_free(cf, n);
    lm_replica_close(r);
    return code;
}
