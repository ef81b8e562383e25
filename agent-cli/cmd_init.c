/*
 * cmd_init.c — `lastmile init`: create the replica, check the credentials
 * with the server and do the first sync. The credentials are stored only
 * after that sync succeeded, and meta "user" is written last: its presence
 * is what marks a replica as initialised, so a failed or interrupted init
 * never leaves a replica that looks usable.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sync_client.h"

static const char usage[] =
    "usage: lastmile init --server HOST:PORT --user ID --key KEY [--db PATH] [--json]\n"
    "\n"
    "Creates the local replica (default $LASTMILE_DB, else ./lastmile.db),\n"
    "checks the user id and its 64-hex-digit key with the server, and does the\n"
    "first sync (catalog, prices, the user's farmers and routes). A wrong key\n"
    "or an unreachable server exits 1 and leaves no replica behind.\n";

/* Removes a replica that init created and could not complete. */
static void remove_replica(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char name[4096];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        if ((size_t)snprintf(name, sizeof name, "%s%s", path, suffix[i]) < sizeof name)
            unlink(name);
    }
}

int lm_cmd_init(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *server = NULL, *user = NULL, *key_hex = NULL;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c),
        LM_CLI_JSON_OPT(c),
        {"server", LM_OPT_VALUE, &server, NULL},
        {"user", LM_OPT_VALUE, &user, NULL},
        {"key", LM_OPT_VALUE, &key_hex, NULL},
    };
    int code = lm_cli_parse("init", usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error("init", "unexpected argument '%s'", a.positional[0]);
    if (!server || !user || !key_hex)
        return lm_cli_usage_error("init", "--server, --user and --key are required");
    char host[256];
    int port;
    if (lm_sync_parse_server(server, host, sizeof host, &port) != LM_OK)
        return lm_cli_usage_error("init", "--server '%s' is not HOST:PORT", server);
    if (!*user || strlen(user) > LM_MAX_NAME)
        return lm_cli_usage_error("init", "--user must be 1 to %d characters", LM_MAX_NAME);
    uint8_t key[LM_KEY_SIZE];
    if (lm_key_from_hex(key_hex, key) != LM_OK)
        return lm_cli_usage_error("init", "--key must be the 64 hex digits 'user add' printed");

    const char *path = lm_cli_db_path(c.db);
    int existed = access(path, F_OK) == 0;
    lm_replica *r = NULL;
    char err[256] = "";
    lm_replica_options o;
    memset(&o, 0, sizeof o);
    o.cache_kib = LM_AGENT_CACHE_KIB;
    o.create = 1;
    int rc = lm_replica_open(path, &o, &r, err, sizeof err);
    if (rc != LM_OK) {
        code = lm_cli_error("init", "cannot create %s: %s", path, err[0] ? err : lm_strerror(rc));
        goto fail_open;
    }
    char *old_user = lm_cli_meta(r, "user");
    if (old_user && strcmp(old_user, user) != 0) {
        code = lm_cli_error("init", "%s already belongs to user '%s'; use another --db", path,
                            old_user);
        lm_free(old_user);
        goto fail_sync;
    }
    lm_free(old_user);

    lm_sync_stats st;
    rc = lm_cli_run_sync(r, server, user, key, &st, err, sizeof err);
    memset(key, 0, sizeof key);
    if (rc != LM_OK) {
        code = lm_cli_error("init", "%s", err);
        goto fail_sync;
    }
    if (lm_replica_meta_set(r, "server", server) != LM_OK ||
        lm_replica_meta_set(r, "key", key_hex) != LM_OK ||
        lm_replica_meta_set(r, "role", st.role) != LM_OK ||
        lm_replica_meta_set(r, "user", user) != LM_OK) {
        code = lm_cli_error("init", "cannot store the credentials: %s", lm_replica_errmsg(r));
        goto fail_sync;
    }
    lm_replica_close(r);
    if (!c.json)
        printf("initialised %s for %s (%s) at %s\n", path, user, st.role[0] ? st.role : "?",
               server);
    return lm_cli_print_sync_summary("init", &st, c.json);

fail_sync:
    lm_replica_close(r);
    if (!existed)
        remove_replica(path);
fail_open:
    return code;
}
