/*
 * cmd_salvage.c — `lastmile salvage --db BAD --out NEW`: a new replica
 * built from a damaged one. NEW gets a fresh site id under BAD's user and
 * does a first sync (everything the server holds for the user); then every
 * readable row of BAD that NEW lacks and BAD's own site wrote is copied in
 * as NEW's own change (lm_replica_salvage) and a second sync sends it.
 * BAD is only read, never changed: it stays for a closer look.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>
#include <unistd.h>

#include "cli.h"
#include "sync_client.h"

static const char usage[] =
    "usage: lastmile salvage --db BAD --out NEW [--json]\n"
    "\n"
    "Builds the new replica NEW from the damaged replica BAD, which is only\n"
    "read: NEW takes BAD's user, server and device key (BAD.key, copied to\n"
    "NEW.key) and a new site id, syncs\n"
    "everything the server holds for the user, then copies in every record\n"
    "BAD can still read that the server does not have yet and sends it.\n"
    "Nothing is sent twice. Use NEW from then on (--db NEW, or move it in\n"
    "place of BAD). Records on unreadable pages of BAD are lost; the output\n"
    "names the tables that had some.\n"
    "--json keys: db, out, site, copied, known, foreign, damaged_tables,\n"
    "pushed_changes, pulled_changes.\n";

typedef struct creds {
    char *server, *user, *server_fp, *server_fp_next, *role, *plaintext;
} creds;

static char *read_meta(sqlite3 *db, const char *key)
{
    sqlite3_stmt *st = NULL;
    char *v = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM lm_meta WHERE key = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            v = lm_strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return v;
}

/* The credentials `lastmile init` stored in BAD; 0 when all are readable. */
static int read_creds(const char *path, creds *c)
{
    sqlite3 *db = NULL;
    memset(c, 0, sizeof *c);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        c->server = read_meta(db, "server");
        c->user = read_meta(db, "user");
        c->server_fp = read_meta(db, "server_fp");
        c->server_fp_next = read_meta(db, "server_fp_next"); /* a rotation's; may be absent */
        c->role = read_meta(db, "role");
        c->plaintext = read_meta(db, "insecure_plaintext");
    }
    sqlite3_close_v2(db);
    return c->server && c->user && c->server_fp && c->role ? 0 : -1;
}

static void creds_free(creds *c)
{
    lm_free(c->server);
    lm_free(c->user);
    lm_free(c->server_fp);
    lm_free(c->server_fp_next);
    lm_free(c->role);
    lm_free(c->plaintext);
}

static void remove_replica(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal", ".key"};
    char name[4096];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        if ((size_t)snprintf(name, sizeof name, "%s%s", path, suffix[i]) < sizeof name)
            unlink(name);
    }
}

/* BAD.key to NEW.key (0600): the device stays the one the server enrolled;
 * only the site is new. */
static int copy_key(const char *bad, const char *out)
{
    char from[4200], to[4200], buf[4096];
    if (lm_cli_key_path(bad, from, sizeof from) != LM_OK ||
        lm_cli_key_path(out, to, sizeof to) != LM_OK)
        return -1;
    int in = open(from, O_RDONLY), ok = in >= 0;
    int dst = ok ? open(to, O_WRONLY | O_CREAT | O_EXCL, 0600) : -1;
    ok = dst >= 0;
    ssize_t n;
    while (ok && (n = read(in, buf, sizeof buf)) != 0)
        ok = n > 0 && write(dst, buf, (size_t)n) == n;
    ok = ok && fsync(dst) == 0;
    if (dst >= 0 && close(dst) != 0)
        ok = 0;
    if (in >= 0)
        close(in);
    return ok ? 0 : -1;
}

/* One session of NEW with BAD's credentials. */
static int sync_new(lm_replica *r, const char *out, const creds *c, lm_sync_stats *st, char *err,
                    size_t err_size)
{
    char key_path[4200];
    lm_sync_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (lm_cli_key_path(out, key_path, sizeof key_path) != LM_OK ||
        lm_key_from_hex(c->server_fp, cfg.pin) != LM_OK) {
        snprintf(err, err_size, "the pinned server identity in the damaged replica is unreadable");
        return LM_EINVAL;
    }
    cfg.server = c->server;
    cfg.user = c->user;
    cfg.key_path = key_path;
    cfg.insecure_plaintext = c->plaintext && strcmp(c->plaintext, "1") == 0;
    cfg.has_next_pin = c->server_fp_next && *c->server_fp_next &&
                       lm_key_from_hex(c->server_fp_next, cfg.next_pin) == LM_OK;
    return lm_cli_run_sync(r, &cfg, st, err, err_size);
}

/* NEW, created and synced with BAD's credentials, which it keeps. */
static int build_new(const char *path, const char *out, const creds *c, lm_replica **r,
                     lm_sync_stats *st)
{
    char err[256] = "";
    lm_replica_options o;
    memset(&o, 0, sizeof o);
    o.cache_kib = LM_AGENT_CACHE_KIB;
    o.create = 1;
    int rc = lm_replica_open(out, &o, r, err, sizeof err);
    if (rc != LM_OK)
        return lm_cli_disk_full(out, rc)
                   ? lm_cli_disk_full_error("salvage", out, "nothing was written")
                   : lm_cli_error("salvage", "cannot create %s: %s", out, err);
    lm_cli_private_files(out);
    if (copy_key(path, out) != 0)
        return lm_cli_error("salvage", "cannot copy the device key %s.key to %s.key", path, out);
    if (lm_replica_meta_set(*r, "server", c->server) != LM_OK ||
        lm_replica_meta_set(*r, "server_fp", c->server_fp) != LM_OK ||
        lm_replica_meta_set(*r, "server_fp_next", c->server_fp_next ? c->server_fp_next : "") !=
            LM_OK ||
        lm_replica_meta_set(*r, "insecure_plaintext", c->plaintext ? c->plaintext : "0") != LM_OK ||
        lm_replica_meta_set(*r, "user", c->user) != LM_OK)
        return lm_cli_error("salvage", "cannot store the credentials in %s: %s", out,
                            lm_strerror(LM_EDB));
    rc = sync_new(*r, out, c, st, err, sizeof err);
    if (rc != LM_OK)
        return lm_cli_error("salvage", "first sync of %s: %s", out, err);
    if (lm_replica_meta_set(*r, "role", st->role[0] ? st->role : c->role) != LM_OK)
        return lm_cli_error("salvage", "cannot store the credentials in %s: %s", out,
                            lm_strerror(LM_EDB));
    return LM_EXIT_OK;
}

typedef struct result {
    const char *db, *out;
    uint64_t site;
    const lm_salvage_stats *sv;
    const lm_sync_stats *first, *second;
} result;

static void members(lm_json *j, const void *arg)
{
    const result *x = arg;
    lm_json_key(j, "db");
    lm_json_string(j, x->db);
    lm_json_key(j, "out");
    lm_json_string(j, x->out);
    lm_json_key(j, "site");
    lm_cli_json_site(j, x->site);
    lm_json_key(j, "copied");
    lm_json_uint(j, x->sv->rows_copied);
    lm_json_key(j, "known");
    lm_json_uint(j, x->sv->rows_known);
    lm_json_key(j, "foreign");
    lm_json_uint(j, x->sv->rows_foreign);
    lm_json_key(j, "changes_copied");
    lm_json_uint(j, x->sv->cells_copied);
    lm_json_key(j, "conflicts_copied");
    lm_json_uint(j, x->sv->conflicts_copied);
    lm_json_key(j, "refusals_copied");
    lm_json_uint(j, x->sv->refusals_copied);
    lm_json_key(j, "damaged_tables");
    lm_json_string(j, x->sv->damaged);
    lm_json_key(j, "pushed_changes");
    lm_json_uint(j, x->second->pushed_changes);
    lm_json_key(j, "pulled_changes");
    lm_json_uint(j, x->first->pulled_changes + x->second->pulled_changes);
}

int lm_cmd_salvage(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *out = NULL;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c), LM_CLI_JSON_OPT(c), {"out", LM_OPT_VALUE, &out, NULL}};
    const char *cmd = "salvage";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error(cmd, "unexpected argument '%s'", a.positional[0]);
    if (!out || !*out)
        return lm_cli_usage_error(cmd, "--out NEW is required");
    const char *path = lm_cli_db_path(c.db);
    if (access(path, F_OK) != 0)
        return lm_cli_error(cmd, "no replica at %s", path);
    char out_key[4200];
    if (access(out, F_OK) == 0 || lm_cli_key_path(out, out_key, sizeof out_key) != LM_OK ||
        access(out_key, F_OK) == 0)
        return lm_cli_error(cmd, "%s or %s.key already exists; --out must name a new file", out,
                            out);
    creds cr;
    if (read_creds(path, &cr) != 0) {
        creds_free(&cr);
        return lm_cli_error(cmd,
                            "cannot read the user and server from %s: start a new replica "
                            "with 'lastmile init'",
                            path);
    }
    lm_replica *r = NULL;
    lm_sync_stats first, second;
    memset(&first, 0, sizeof first);
    memset(&second, 0, sizeof second);
    lm_salvage_stats sv;
    memset(&sv, 0, sizeof sv);
    if ((code = build_new(path, out, &cr, &r, &first)) != LM_EXIT_OK) {
        lm_replica_close(r);
        remove_replica(out);
        goto done;
    }
    int rc = lm_replica_salvage(r, path, &sv);
    if (rc != LM_OK) {
        code = lm_cli_disk_full(out, rc)
                   ? lm_cli_disk_full_error(cmd, out, "nothing was copied")
                   : lm_cli_error(cmd, "cannot copy from %s: %s", path, lm_replica_errmsg(r));
        lm_replica_close(r);
        remove_replica(out);
        goto done;
    }
    if (sv.tables_damaged)
        fprintf(stderr,
                "lastmile: %s: %s in %s had unreadable pages: the records there that the "
                "server did not have yet could not be re-sent\n",
                cmd, sv.damaged, path);
    char err[256] = "";
    rc = sync_new(r, out, &cr, &second, err, sizeof err);
    if (rc != LM_OK) {
        code = lm_cli_error(cmd,
                            "%s holds the %llu salvaged records but could not send them: %s "
                            "(run 'lastmile sync --db %s')",
                            out, (unsigned long long)sv.rows_copied, err, out);
        lm_replica_close(r);
        goto done;
    }
    result x = {path, out, lm_replica_site(r), &sv, &first, &second};
    lm_replica_close(r);
    if (c.json) {
        code = lm_cli_print_object(cmd, members, &x);
    } else {
        printf("salvaged %s into %s (new site %016llx): %llu records re-sent, %llu changes to "
               "records the server had re-sent, %llu already on the server; %llu conflicts and "
               "%llu refusals kept\n",
               path, out, (unsigned long long)x.site, (unsigned long long)sv.rows_copied,
               (unsigned long long)sv.cells_copied, (unsigned long long)sv.rows_known,
               (unsigned long long)sv.conflicts_copied, (unsigned long long)sv.refusals_copied);
        code = fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_RUNTIME;
    }
done:
    creds_free(&cr);
    return code;
}
