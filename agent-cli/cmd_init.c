/*
 * cmd_init.c — `lastmile init --enrol STRING`: create the replica and the
 * device's own Ed25519 key pair, enrol with the server and do the first
 * sync.
 *
 * The enrolment string (from `lastmile-server user add` / `rekey`) carries
 * the user, the server's address and certificate fingerprint, and a
 * one-time token. The private key goes to DB.key (mode 0600) and never
 * leaves the device; the first HELLO carries the token, the public key and
 * a signature over the TLS channel, and the server binds the key and this
 * replica's site to the user. The credentials are stored only after that
 * sync succeeded, and meta "user" is written last: its presence is what
 * marks a replica as initialised, so a failed or interrupted init never
 * leaves a replica (or a key) that looks usable.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sync_client.h"

static const char usage[] =
    "usage: lastmile init --enrol STRING [--server HOST:PORT] [--user ID]\n"
    "                     [--insecure-plaintext] [--db PATH] [--json]\n"
    "\n"
    "Creates the local replica (default $LASTMILE_DB, else ./lastmile.db) and\n"
    "the device's key pair (private key in DB.key, mode 0600), enrols with the\n"
    "server using the one-time string `lastmile-server user add` printed\n"
    "(lm1-...), and does the first sync (catalog, prices, the user's farmers\n"
    "and routes). The string names the server; --server overrides it (and is\n"
    "needed when the string carries no address). --user, when given, must be\n"
    "the string's user. A wrong, used or expired string, a server that does not\n"
    "hold the identity the string names, or an unreachable server exits 1 and\n"
    "leaves no replica and no key behind. --insecure-plaintext (debugging\n"
    "only) talks to a server run with the same flag, without TLS.\n";

/* Removes a replica (and its key) that init created and could not complete. */
static void remove_replica(const char *path, const char *key_path)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char name[4096];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        if ((size_t)snprintf(name, sizeof name, "%s%s", path, suffix[i]) < sizeof name)
            unlink(name);
    }
    if (key_path)
        unlink(key_path);
}

/* Stores what later syncs need; "user" last (see the top). */
static int store_credentials(lm_replica *r, const char *server, const lm_enrolment *e,
                             const char *role, int plaintext)
{
    char fp[LM_FINGERPRINT_HEX_SIZE];
    lm_fingerprint_hex(e->fingerprint, fp);
    if (lm_replica_meta_set(r, "server", server) != LM_OK ||
        lm_replica_meta_set(r, "server_fp", fp) != LM_OK ||
        lm_replica_meta_set(r, "insecure_plaintext", plaintext ? "1" : "0") != LM_OK ||
        lm_replica_meta_set(r, "role", role) != LM_OK ||
        lm_replica_meta_set(r, "user", e->user) != LM_OK)
        return LM_EDB;
    return LM_OK;
}

int lm_cmd_init(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *server = NULL, *user = NULL, *enrol = NULL, *key_hex = NULL;
    int plaintext = 0;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c),
        LM_CLI_JSON_OPT(c),
        {"server", LM_OPT_VALUE, &server, NULL},
        {"user", LM_OPT_VALUE, &user, NULL},
        {"enrol", LM_OPT_VALUE, &enrol, NULL},
        {"key", LM_OPT_VALUE, &key_hex, NULL},
        {"insecure-plaintext", LM_OPT_FLAG, NULL, &plaintext},
    };
    int code = lm_cli_parse("init", usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error("init", "unexpected argument '%s'", a.positional[0]);
    if (key_hex && !enrol)
        return lm_cli_usage_error("init", "shared keys are gone: enrol with the string "
                                          "'lastmile-server user add' (or 'user rekey') printed: "
                                          "--enrol lm1-...");
    if (!enrol)
        return lm_cli_usage_error("init", "--enrol is required");
    lm_enrolment e;
    if (lm_enrol_decode(enrol, &e) != LM_OK)
        return lm_cli_usage_error("init", "--enrol: not an enrolment string (it starts with "
                                          "lm1- and is printed by 'lastmile-server user add')");
    if (user && strcmp(user, e.user) != 0)
        return lm_cli_usage_error("init", "--user %s does not match the enrolment string's user %s",
                                  user, e.user);
    if (!server)
        server = e.address;
    char host[256];
    int port;
    if (!*server)
        return lm_cli_usage_error("init", "the enrolment string names no server: give --server "
                                          "HOST:PORT");
    if (lm_text_host_port_parse(server, 1, host, sizeof host, &port) != LM_OK)
        return lm_cli_usage_error("init", "--server '%s' is not HOST:PORT", server);

    const char *path = lm_cli_db_path(c.db);
    char key_path[4200], new_key[4300];
    if (lm_cli_key_path(path, key_path, sizeof key_path) != LM_OK ||
        (size_t)snprintf(new_key, sizeof new_key, "%s.new", key_path) >= sizeof new_key)
        return lm_cli_usage_error("init", "--db path too long");
    int existed = access(path, F_OK) == 0;
    lm_replica *r = NULL;
    lm_device_key *key = NULL;
    const char *made_key = NULL;
    char err[512] = "";
    lm_replica_options o;
    memset(&o, 0, sizeof o);
    o.cache_kib = LM_AGENT_CACHE_KIB;
    o.create = 1;
    int rc = lm_replica_open(path, &o, &r, err, sizeof err);
    if (rc != LM_OK) {
        code = lm_cli_error("init", "cannot create %s: %s", path, err[0] ? err : lm_strerror(rc));
        goto fail_open;
    }
    lm_cli_private_files(path);
    char *old_user = lm_cli_meta(r, "user");
    if (old_user && strcmp(old_user, e.user) != 0) {
        code = lm_cli_error("init", "%s already belongs to user '%s'; use another --db", path,
                            old_user);
        lm_free(old_user);
        goto fail_sync;
    }
    lm_free(old_user);
    /* A new key pair for every enrolment (a rekeyed device starts afresh),
     * in DB.key.new until the server took it: a refused init leaves the
     * replica's working key as it was. */
    unlink(new_key);
    if ((rc = lm_device_key_create(new_key, &key, err, sizeof err)) != LM_OK) {
        code = lm_cli_error("init", "%s", err);
        goto fail_sync;
    }
    made_key = new_key;
    lm_device_key_free(key);

    lm_sync_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.server = server;
    cfg.user = e.user;
    cfg.key_path = new_key;
    memcpy(cfg.pin, e.fingerprint, sizeof cfg.pin);
    cfg.has_token = 1;
    memcpy(cfg.token, e.token, sizeof cfg.token);
    cfg.insecure_plaintext = plaintext;
    lm_sync_stats st;
    rc = lm_cli_run_sync(r, &cfg, &st, err, sizeof err);
    memset(cfg.token, 0, sizeof cfg.token);
    if (rc != LM_OK) {
        code = lm_cli_error("init", "%s", err);
        goto fail_sync;
    }
    if (rename(new_key, key_path) != 0) {
        code = lm_cli_error("init", "cannot keep the device key in %s", key_path);
        goto fail_sync;
    }
    made_key = key_path;
    if (store_credentials(r, server, &e, st.role, plaintext) != LM_OK) {
        code = lm_cli_error("init", "cannot store the credentials: %s", lm_replica_errmsg(r));
        goto fail_sync;
    }
    lm_replica_close(r);
    if (!c.json)
        printf("initialised %s for %s (%s) at %s\n", path, e.user, st.role[0] ? st.role : "?",
               server);
    return lm_cli_print_sync_summary("init", &st, c.json);

fail_sync:
    lm_replica_close(r);
    if (!existed)
        remove_replica(path, made_key);
    else if (made_key == new_key)
        unlink(new_key);
fail_open:
    return code;
}
