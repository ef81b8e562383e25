/*
 * cmd_conflicts.c — `lastmile conflicts`: concurrent writes the merge
 * decided deterministically, kept for a person to review, and
 * `conflicts resolve ID --keep mine|theirs` to settle one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "table.h"

static const char usage[] =
    "usage: lastmile conflicts [--all] [--db PATH] [--json]\n"
    "       lastmile conflicts resolve ID --keep mine|theirs [--reason TEXT] [--db PATH]\n"
    "                                      [--json]\n"
    "\n"
    "Lists open conflicts: a cell two sites wrote concurrently, the record it\n"
    "belongs to (a farmer's name and village, a purchase's farmer, product and\n"
    "village...), the value kept (winner) and the one set aside (loser); 'mine'\n"
    "says which one this replica wrote. --all includes closed ones and who\n"
    "closed them. 'resolve' settles one: --keep theirs accepts the other site's\n"
    "value, --keep mine writes this replica's value back as a new change; either\n"
    "way the closing (with --reason) is sent by the next sync, and the conflict\n"
    "closes at the server and on every replica that shows it. With --json it\n"
    "prints {\"id\", \"kept\", \"queued\"}.\n";

/* Which side of the conflict this replica wrote: "winner", "loser" or "". */
static const char *mine_side(const lm_conflict *cf, uint64_t site)
{
    if (cf->loser_site == site)
        return "loser";
    if (cf->winner_site == site)
        return "winner";
    return "";
}

/* The record a conflict is about, in words (a farmer's name and village,
 * a purchase's farmer, product and village...), else its table and key:
 * the table printer shows it through the text layer. */
static void conflict_record(const lm_conflict *cf, char *out, size_t size)
{
    if (cf->label && cf->label[0])
        snprintf(out, size, "%s", cf->label);
    else
        snprintf(out, size, "%s %s", cf->table, cf->pk);
}

static int list(const char *cmd, lm_replica *r, int all, int json)
{
    lm_conflict *cf = NULL;
    size_t n = 0;
    int code = LM_EXIT_OK;
    if (lm_replica_conflicts(r, all, &cf, &n) != LM_OK)
        return lm_cli_error(cmd, "cannot read conflicts: %s", lm_replica_errmsg(r));
    uint64_t site = lm_replica_site(r);
    lm_buf b;
    lm_json j;
    lm_table t;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_table_init(&t, 7);
    if (json) {
        lm_json_begin_array(&j);
    } else {
        static const char *const head[] = {"id",    "record", "column",  "winner",
                                           "loser", "mine",   "resolved"};
        for (size_t i = 0; i < 7; i++)
            lm_table_add(&t, head[i]);
        lm_table_align_right(&t, 0);
    }
    for (size_t i = 0; i < n; i++) {
        char text[256];
        if (json) {
            lm_json_begin_object(&j);
            lm_json_key(&j, "id");
            lm_json_int(&j, cf[i].id);
            lm_json_key(&j, "table");
            lm_json_string(&j, cf[i].table);
            lm_json_key(&j, "pk");
            lm_json_string(&j, cf[i].pk);
            lm_json_key(&j, "column");
            lm_json_string(&j, cf[i].column);
            lm_json_key(&j, "record");
            lm_json_string(&j, cf[i].label);
            lm_json_key(&j, "winner");
            lm_json_value(&j, &cf[i].winner);
            lm_json_key(&j, "loser");
            lm_json_value(&j, &cf[i].loser);
            lm_json_key(&j, "winner_site");
            lm_cli_json_site(&j, cf[i].winner_site);
            lm_json_key(&j, "loser_site");
            lm_cli_json_site(&j, cf[i].loser_site);
            lm_json_key(&j, "mine");
            lm_json_string(&j, mine_side(&cf[i], site));
            lm_json_key(&j, "at");
            lm_json_uint(&j, cf[i].at_ms);
            lm_json_key(&j, "resolved");
            lm_json_bool(&j, cf[i].resolved);
            lm_json_key(&j, "resolved_by");
            lm_json_string(&j, cf[i].resolved_by);
            lm_json_key(&j, "kept");
            lm_json_string(&j, cf[i].kept);
            lm_json_key(&j, "reason");
            lm_json_string(&j, cf[i].reason);
            lm_json_end_object(&j);
            continue;
        }
        snprintf(text, sizeof text, "%lld", (long long)cf[i].id);
        lm_table_add(&t, text);
        conflict_record(&cf[i], text, sizeof text);
        lm_table_add(&t, text);
        lm_table_add(&t, cf[i].column);
        lm_value_format(&cf[i].winner, "NULL", text, sizeof text);
        lm_table_add(&t, text);
        lm_value_format(&cf[i].loser, "NULL", text, sizeof text);
        lm_table_add(&t, text);
        lm_table_add(&t, mine_side(&cf[i], site));
        if (cf[i].resolved && cf[i].resolved_by[0])
            snprintf(text, sizeof text, "by %s", cf[i].resolved_by);
        else
            snprintf(text, sizeof text, "%s", cf[i].resolved ? "yes" : "no");
        lm_table_add(&t, text);
    }
    if (json) {
        lm_json_end_array(&j);
        code = lm_cli_emit_json(cmd, &j, &b);
    } else if (lm_table_print(&t, stdout) != LM_OK) {
        code = lm_cli_error(cmd, "cannot print the table");
    }
    lm_table_close(&t);
    lm_buf_close(&b);
    lm_conflicts_free(cf, n);
    return code;
}

typedef struct resolved {
    int64_t id;
    const char *kept; /* "mine" or "theirs" */
    int queued;       /* the kept value is a new change for the next sync */
} resolved;

static void resolved_members(lm_json *j, const void *arg)
{
    const resolved *rv = arg;
    lm_json_key(j, "id");
    lm_json_int(j, rv->id);
    lm_json_key(j, "kept");
    lm_json_string(j, rv->kept);
    lm_json_key(j, "queued");
    lm_json_bool(j, rv->queued);
}

/* What resolve did: one line, or {"id", "kept", "queued"} with --json. */
static int print_resolved(const char *cmd, const resolved *rv, int json)
{
    if (json)
        return lm_cli_print_object(cmd, resolved_members, rv);
    printf("resolved conflict %lld: kept %s%s\n", (long long)rv->id, rv->kept,
           rv->queued ? " (queued for the next sync)" : "");
    return fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_RUNTIME;
}

/* Settles conflict id. "mine"/"theirs" are relative to this replica, the
 * engine's keep_loser to the merge outcome: translate through the sites. */
static int resolve(const char *cmd, lm_replica *r, int64_t id, int keep_mine, const char *reason,
                   int json)
{
    lm_conflict *cf = NULL;
    size_t n = 0;
    int code = LM_EXIT_OK;
    if (lm_replica_conflicts(r, 1, &cf, &n) != LM_OK)
        return lm_cli_error(cmd, "cannot read conflicts: %s", lm_replica_errmsg(r));
    const lm_conflict *hit = NULL;
    for (size_t i = 0; i < n; i++) {
        if (cf[i].id == id)
            hit = &cf[i];
    }
    if (!hit) {
        code = lm_cli_error(cmd, "no conflict %lld (see 'lastmile conflicts')", (long long)id);
        goto done;
    }
    if (hit->resolved) {
        code = lm_cli_error(cmd, "conflict %lld is already resolved%s%s", (long long)id,
                            hit->resolved_by[0] ? " by " : "", hit->resolved_by);
        goto done;
    }
    int loser_is_mine = hit->loser_site == lm_replica_site(r);
    int keep_loser = keep_mine ? loser_is_mine : !loser_is_mine;
    if (lm_replica_conflict_close(r, id, keep_loser, NULL, reason) != LM_OK) {
        code = lm_cli_error(cmd, "cannot resolve conflict %lld: %s", (long long)id,
                            lm_replica_errmsg(r));
        goto done;
    }
    resolved rv = {id, keep_mine ? "mine" : "theirs", keep_loser};
    code = print_resolved(cmd, &rv, json);
done:
    lm_conflicts_free(cf, n);
    return code;
}

int lm_cmd_conflicts(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *keep = NULL, *reason = NULL;
    int all = 0;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c),
        LM_CLI_JSON_OPT(c),
        {"keep", LM_OPT_VALUE, &keep, NULL},
        {"reason", LM_OPT_VALUE, &reason, NULL},
        {"all", LM_OPT_FLAG, NULL, &all},
    };
    const char *cmd = "conflicts";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    int resolving = a.n_positional > 0 && strcmp(a.positional[0], "resolve") == 0;
    int64_t id = 0;
    int keep_mine = 0;
    if (resolving) {
        char *end = NULL;
        if (a.n_positional != 2)
            return lm_cli_usage_error(cmd, "resolve takes one conflict ID");
        id = strtoll(a.positional[1], &end, 10);
        if (!*a.positional[1] || *end || id <= 0)
            return lm_cli_usage_error(cmd, "conflict ID '%s' is not a number", a.positional[1]);
        if (!keep || (strcmp(keep, "mine") != 0 && strcmp(keep, "theirs") != 0))
            return lm_cli_usage_error(cmd, "resolve needs --keep mine or --keep theirs");
        keep_mine = strcmp(keep, "mine") == 0;
    } else if (a.n_positional) {
        return lm_cli_usage_error(cmd, "unexpected argument '%s'", a.positional[0]);
    } else if (keep || reason) {
        return lm_cli_usage_error(cmd, "--%s only goes with 'resolve ID'",
                                  keep ? "keep" : "reason");
    }
    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, resolving ? LM_CLI_WRITE : 0, &r)) != LM_EXIT_OK)
        return code;
    code = resolving ? resolve(cmd, r, id, keep_mine, reason, c.json) : list(cmd, r, all, c.json);
    lm_replica_close(r);
    return code;
}
