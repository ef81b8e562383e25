/*
 * cmd_status.c — `lastmile status`: what is waiting to be pushed, when the
 * last sync succeeded, and what needs a person (open conflicts, refusals).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: lastmile status [--db PATH] [--json]\n"
    "\n"
    "Shows the replica's user and server, the changes waiting to be pushed,\n"
    "the time of the last successful sync (and the last failure's reason),\n"
    "open conflicts and refusals. --json keys: db, user, role, server, site,\n"
    "pending_changes, last_sync_ms (null when never), last_error,\n"
    "open_conflicts, refusals.\n";

typedef struct status {
    char *user, *role, *server, *last_sync, *last_error;
    uint64_t pending;
    size_t open_conflicts, refusals;
} status;

static int gather(lm_replica *r, status *s)
{
    lm_conflict *cf = NULL;
    lm_refusal_record *rr = NULL;
    size_t n = 0;
    int rc;
    s->user = lm_cli_meta(r, "user");
    s->role = lm_cli_meta(r, "role");
    s->server = lm_cli_meta(r, "server");
    s->last_sync = lm_cli_meta(r, "last_sync");
    s->last_error = lm_cli_meta(r, "last_error");
    if ((rc = lm_replica_pending_count(r, &s->pending)) != LM_OK)
        return rc;
    if ((rc = lm_replica_conflicts(r, 0, &cf, &n)) != LM_OK)
        return rc;
    s->open_conflicts = n;
    lm_conflicts_free(cf, n);
    if ((rc = lm_replica_refusals(r, &rr, &n)) != LM_OK)
        return rc;
    s->refusals = n;
    lm_refusal_records_free(rr, n);
    return LM_OK;
}

static void clear(status *s)
{
    lm_free(s->user);
    lm_free(s->role);
    lm_free(s->server);
    lm_free(s->last_sync);
    lm_free(s->last_error);
}

static int print_json(const char *path, lm_replica *r, const status *s)
{
    lm_buf b;
    lm_json j;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_json_begin_object(&j);
    lm_json_key(&j, "db");
    lm_json_string(&j, path);
    lm_json_key(&j, "user");
    lm_json_string(&j, s->user);
    lm_json_key(&j, "role");
    lm_json_string(&j, s->role);
    lm_json_key(&j, "server");
    lm_json_string(&j, s->server);
    lm_json_key(&j, "site");
    lm_cli_json_site(&j, lm_replica_site(r));
    lm_json_key(&j, "pending_changes");
    lm_json_uint(&j, s->pending);
    lm_json_key(&j, "last_sync_ms");
    if (s->last_sync && *s->last_sync)
        lm_json_uint(&j, strtoull(s->last_sync, NULL, 10));
    else
        lm_json_null(&j);
    lm_json_key(&j, "last_error");
    lm_json_string(&j, s->last_error && *s->last_error ? s->last_error : NULL);
    lm_json_key(&j, "open_conflicts");
    lm_json_uint(&j, s->open_conflicts);
    lm_json_key(&j, "refusals");
    lm_json_uint(&j, s->refusals);
    lm_json_end_object(&j);
    int code = lm_cli_emit_json("status", &j, &b);
    lm_buf_close(&b);
    return code;
}

static void print_text(const char *path, lm_replica *r, const status *s)
{
    char when[64] = "never";
    if (s->last_sync && *s->last_sync)
        lm_text_time((int64_t)strtoull(s->last_sync, NULL, 10), lm_text_utc_offset_default(), when,
                     sizeof when);
    printf("replica:    %s (site %016llx)\n", path, (unsigned long long)lm_replica_site(r));
    printf("user:       %s (%s) at %s\n", s->user ? s->user : "(not initialised)",
           s->role ? s->role : "?", s->server ? s->server : "?");
    printf("pending:    %llu changes to push\n", (unsigned long long)s->pending);
    printf("last sync:  %s\n", when);
    if (s->last_error && *s->last_error) {
        fputs("last error: ", stdout);
        lm_text_fput(stdout, s->last_error);
        fputc('\n', stdout);
    }
    printf("conflicts:  %zu open%s\n", s->open_conflicts,
           s->open_conflicts ? " (see 'lastmile conflicts')" : "");
    printf("refusals:   %zu%s\n", s->refusals,
           s->refusals ? " (see 'lastmile list refusals'), the newest records:" : "");
    if (s->refusals)
        lm_cli_print_refused(r, 0, 10, stdout, "  ");
}

int lm_cmd_status(int argc, char **argv)
{
    lm_cli_common c = {0};
    lm_args a;
    const lm_opt opts[] = {LM_CLI_COMMON_OPTS(c), LM_CLI_JSON_OPT(c)};
    int code =
        lm_cli_parse("status", usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error("status", "unexpected argument '%s'", a.positional[0]);
    lm_replica *r;
    if ((code = lm_cli_open("status", c.db, 0, &r)) != LM_EXIT_OK)
        return code;
    status s;
    memset(&s, 0, sizeof s);
    if (gather(r, &s) != LM_OK) {
        code = lm_cli_error("status", "cannot read the replica: %s", lm_replica_errmsg(r));
    } else if (c.json) {
        code = print_json(lm_cli_db_path(c.db), r, &s);
    } else {
        print_text(lm_cli_db_path(c.db), r, &s);
        code = fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_RUNTIME;
    }
    clear(&s);
    lm_replica_close(r);
    return code;
}
