/*
 * cmd_sync.c — `lastmile sync`: push local work, pull the server's, until
 * both sides are up to date. Also the session runner `init` shares.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sync_client.h"

static const char usage[] =
    "usage: lastmile sync [--db PATH] [--json]\n"
    "\n"
    "Pushes every change recorded on this replica to the server, then pulls\n"
    "what the server has for this user, until both sides are up to date.\n"
    "Prints one summary line: \"synced: pushed N changes (B bytes), pulled M\n"
    "changes (B bytes)\" (bytes: everything sent / received on the wire).\n"
    "On a failure nothing is lost: unacknowledged work stays queued and the\n"
    "next sync resumes. Exit 0 when fully synced, 1 otherwise.\n";

int lm_cli_run_sync(lm_replica *r, const char *server, const char *user,
                    const uint8_t key[LM_KEY_SIZE], lm_sync_stats *st, char *err, size_t err_size)
{
    lm_sync_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.server = server;
    cfg.user = user;
    memcpy(cfg.key, key, LM_KEY_SIZE);
    cfg.progress = isatty(STDERR_FILENO);
    int rc = lm_sync_client_run(r, &cfg, st, err, err_size);
    memset(cfg.key, 0, sizeof cfg.key);
    char text[32];
    if (rc == LM_OK) {
        snprintf(text, sizeof text, "%llu", (unsigned long long)lm_cli_now_ms());
        if (lm_replica_meta_set(r, "last_sync", text) != LM_OK ||
            lm_replica_meta_set(r, "last_error", "") != LM_OK) {
            snprintf(err, err_size, "synced, but cannot record it: %s", lm_replica_errmsg(r));
            return LM_EDB;
        }
    } else {
        /* Best effort: the reason is printed anyway; status shows it later. */
        lm_replica_meta_set(r, "last_error", err);
    }
    return rc;
}

int lm_cli_print_sync_summary(const char *cmd, const lm_sync_stats *st, int json)
{
    if (!json) {
        printf("synced: pushed %llu changes (%llu bytes), pulled %llu changes (%llu bytes)\n",
               (unsigned long long)st->pushed_changes, (unsigned long long)st->bytes_sent,
               (unsigned long long)st->pulled_changes, (unsigned long long)st->bytes_received);
        /* Refused changes are settled, not lost: say where they are kept. */
        if (st->refusals)
            fprintf(stderr,
                    "lastmile: %s: the server refused %llu changes (see 'lastmile list "
                    "refusals')\n",
                    cmd, (unsigned long long)st->refusals);
        if (st->conflicts)
            fprintf(stderr,
                    "lastmile: %s: %llu concurrent writes were merged (see 'lastmile "
                    "conflicts')\n",
                    cmd, (unsigned long long)st->conflicts);
        return fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_RUNTIME;
    }
    lm_buf b;
    lm_json j;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_json_begin_object(&j);
    lm_json_key(&j, "pushed_changes");
    lm_json_uint(&j, st->pushed_changes);
    lm_json_key(&j, "pushed_bytes");
    lm_json_uint(&j, st->bytes_sent);
    lm_json_key(&j, "pulled_changes");
    lm_json_uint(&j, st->pulled_changes);
    lm_json_key(&j, "pulled_bytes");
    lm_json_uint(&j, st->bytes_received);
    lm_json_key(&j, "conflicts");
    lm_json_uint(&j, st->conflicts);
    lm_json_key(&j, "refusals");
    lm_json_uint(&j, st->refusals);
    lm_json_key(&j, "elapsed_ms");
    lm_json_uint(&j, st->elapsed_ms);
    lm_json_end_object(&j);
    int code = lm_cli_emit_json(cmd, &j, &b);
    lm_buf_close(&b);
    return code;
}

int lm_cmd_sync(int argc, char **argv)
{
    lm_cli_common c = {0};
    lm_args a;
    const lm_opt opts[] = {LM_CLI_COMMON_OPTS(c), LM_CLI_JSON_OPT(c)};
    int code = lm_cli_parse("sync", usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error("sync", "unexpected argument '%s'", a.positional[0]);

    lm_replica *r;
    if ((code = lm_cli_open("sync", c.db, 1, &r)) != LM_EXIT_OK)
        return code;
    char *server = lm_cli_meta(r, "server");
    char *user = lm_cli_meta(r, "user");
    char *key_hex = lm_cli_meta(r, "key");
    uint8_t key[LM_KEY_SIZE];
    if (!server || !user || !key_hex || lm_key_from_hex(key_hex, key) != LM_OK) {
        code = lm_cli_error("sync", "credentials on this replica are incomplete (run 'lastmile "
                                    "init' again)");
        goto done;
    }
    lm_sync_stats st;
    char err[256];
    int rc = lm_cli_run_sync(r, server, user, key, &st, err, sizeof err);
    memset(key, 0, sizeof key);
    if (rc != LM_OK) {
        uint64_t pending = 0;
        lm_replica_pending_count(r, &pending);
        code = lm_cli_error("sync", "%s (%llu changes still queued)", err,
                            (unsigned long long)pending);
        goto done;
    }
    code = lm_cli_print_sync_summary("sync", &st, c.json);
done:
    lm_free(server);
    lm_free(user);
    lm_free(key_hex);
    lm_replica_close(r);
    return code;
}
