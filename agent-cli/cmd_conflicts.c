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
    "       lastmile conflicts resolve ID --keep mine|theirs [--db PATH] [--json]\n"
    "\n"
    "Lists open conflicts: a cell two sites wrote concurrently, the value kept\n"
    "(winner) and the one set aside (loser); 'mine' says which one this replica\n"
    "wrote. --all includes resolved ones. 'resolve' settles one: --keep theirs\n"
    "accepts the other site's value, --keep mine writes this replica's value\n"
    "back as a new change that the next sync sends; with --json it prints\n"
    "{\"id\", \"kept\", \"queued\"}.\n";

/* Which side of the conflict this replica wrote: "winner", "loser" or "". */
static const char *mine_side(const lm_conflict *cf, uint64_t site)
{
    if (cf->loser_site == site)
        return "loser";
    if (cf->winner_site == site)
        return "winner";
    return "";
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
    lm_table_init(&t, 8);
    if (json) {
        lm_json_begin_array(&j);
    } else {
        static const char *const head[] = {"id",     "table", "pk",   "column",
                                           "winner", "loser", "mine", "resolved"};
        for (size_t i = 0; i < 8; i++)
            lm_table_add(&t, head[i]);
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
            lm_json_key(&j, "winner");
            lm_cli_json_value(&j, &cf[i].winner);
            lm_json_key(&j, "loser");
            lm_cli_json_value(&j, &cf[i].loser);
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
            lm_json_end_object(&j);
            continue;
        }
        snprintf(text, sizeof text, "%lld", (long long)cf[i].id);
        lm_table_add(&t, text);
        lm_table_add(&t, cf[i].table);
        lm_table_add(&t, cf[i].pk);
        lm_table_add(&t, cf[i].column);
        lm_cli_value_text(&cf[i].winner, text, sizeof text);
        lm_table_add(&t, text);
        lm_cli_value_text(&cf[i].loser, text, sizeof text);
        lm_table_add(&t, text);
        lm_table_add(&t, mine_side(&cf[i], site));
        lm_table_add(&t, cf[i].resolved ? "yes" : "no");
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
static int resolve(const char *cmd, lm_replica *r, int64_t id, int keep_mine, int json)
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
        code = lm_cli_error(cmd, "conflict %lld is already resolved", (long long)id);
        goto done;
    }
    int loser_is_mine = hit->loser_site == lm_replica_site(r);
    int keep_loser = keep_mine ? loser_is_mine : !loser_is_mine;
    if (lm_replica_conflict_resolve(r, id, keep_loser) != LM_OK) {
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
    const char *keep = NULL;
    int all = 0;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c),
        LM_CLI_JSON_OPT(c),
        {"keep", LM_OPT_VALUE, &keep, NULL},
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
    } else if (keep) {
        return lm_cli_usage_error(cmd, "--keep only goes with 'resolve ID'");
    }
    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, resolving ? LM_CLI_WRITE : 0, &r)) != LM_EXIT_OK)
        return code;
    code = resolving ? resolve(cmd, r, id, keep_mine, c.json) : list(cmd, r, all, c.json);
    lm_replica_close(r);
    return code;
}
