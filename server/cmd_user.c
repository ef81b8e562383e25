/*
 * cmd_user.c — `lastmile-server user add|list|revoke`: provisioning.
 *
 * A user's key is 32 random bytes from OpenSSL, stored only in the server
 * database and shown once, as the last line `user add` prints, for the
 * operator to hand to the agent. The key never crosses the sync wire: the
 * client proves it with an HMAC over a server nonce.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "opts.h"
#include "json.h"
#include "table.h"
#include "srvdb.h"

static const char usage[] =
    "usage: lastmile-server user add --db PATH --id ID --role agent|dispatcher|hq\n"
    "                                [--villages V1,V2] [--county C]\n"
    "       lastmile-server user list --db PATH [--json]\n"
    "       lastmile-server user revoke --db PATH --id ID\n"
    "\n"
    "add     provisions a user and prints its secret key (64 hex digits) alone\n"
    "        as the last line of stdout. Agents need --villages (villages of the\n"
    "        catalog), dispatchers need --county (a county of the catalog).\n"
    "list    lists users: id, role, villages, county, revoked, last sync.\n"
    "revoke  refuses the user's future sessions; its data stays.\n";

/* Opens the server database and makes sure the server tables exist. */
static int open_db(const char *path, lm_replica **r, const char *cmd)
{
    char err[512] = "";
    int rc = lm__server_db_open(path, 0, 0, r, err, sizeof err);
    if (rc == LM_OK)
        rc = lm__srvdb_ensure_schema(lm_replica_db(*r), err, sizeof err);
    if (rc != LM_OK) {
        fprintf(stderr, "lastmile-server user %s: %s\n", cmd, *err ? err : lm_strerror(rc));
        lm_replica_close(*r);
        *r = NULL;
    }
    return rc;
}

/* 1 when the single-column query with one text parameter returns a row. */
static int exists(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* Checks every name of a comma list against the catalog's villages. */
static int villages_valid(sqlite3 *db, const char *list)
{
    char name[LM_MAX_PK + 1];
    const char *p = list;
    if (!*p)
        goto fail_bad;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len > LM_MAX_PK)
            goto fail_bad;
        memcpy(name, p, len);
        name[len] = '\0';
        if (!exists(db, "SELECT 1 FROM villages WHERE name = ?1", name)) {
            fprintf(stderr, "lastmile-server user add: unknown village '%s'\n", name);
            return 0;
        }
        if (!end)
            return 1;
        p = end + 1;
    }
fail_bad:
    fprintf(stderr, "lastmile-server user add: --villages wants a comma list like v1,v2\n");
    return 0;
}

/* `user add`: validates everything before writing; the key is the last
 * stdout line. Exit 0/1/2. */
static int user_add(int argc, char **argv)
{
    const char *db = NULL, *id = NULL, *role_name = NULL, *vlist = NULL, *county = NULL;
    lm_opt opts[] = {{"db", &db, NULL},
                     {"id", &id, NULL},
                     {"role", &role_name, NULL},
                     {"villages", &vlist, NULL},
                     {"county", &county, NULL}};
    int prc = lm__opts_run(argc, argv, opts, sizeof opts / sizeof opts[0], "user add", usage,
                           "db,id,role");
    if (prc != LM_OPTS_GO)
        return prc;
    if (!lm__user_id_valid(id)) {
        fprintf(stderr,
                "lastmile-server user add: --id must be 1-64 characters of A-Z a-z 0-9 _ . - @\n");
        return 2;
    }
    int role = lm_role_parse(role_name);
    if (role != LM_ROLE_AGENT && role != LM_ROLE_DISPATCHER && role != LM_ROLE_HQ) {
        fprintf(stderr, "lastmile-server user add: --role must be agent, dispatcher or hq\n");
        return 2;
    }
    if (role == LM_ROLE_AGENT && !vlist) {
        fprintf(stderr, "lastmile-server user add: an agent needs --villages\n");
        return 2;
    }
    if (role == LM_ROLE_DISPATCHER && !county) {
        fprintf(stderr, "lastmile-server user add: a dispatcher needs --county\n");
        return 2;
    }

    lm_replica *r = NULL;
    if (open_db(db, &r, "add") != LM_OK)
        return 1;
    sqlite3 *sdb = lm_replica_db(r);
    int code = 1;
    if (vlist && !villages_valid(sdb, vlist))
        goto fail_validate;
    if (county && !exists(sdb, "SELECT 1 FROM villages WHERE county = ?1", county)) {
        fprintf(stderr, "lastmile-server user add: unknown county '%s'\n", county);
        goto fail_validate;
    }
    uint8_t key[LM_KEY_SIZE];
    char hex[LM_KEY_HEX_SIZE];
    if (lm_random_bytes(key, sizeof key) != LM_OK || lm_key_to_hex(key, hex) != LM_OK) {
        fprintf(stderr, "lastmile-server user add: no random bytes for the key\n");
        goto fail_validate;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sdb,
                           "INSERT INTO lm_users(id, role, villages, county, key, revoked,"
                           " created_at) VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6)",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail_db;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, lm_role_name(role), -1, SQLITE_STATIC);
    if (vlist)
        sqlite3_bind_text(st, 3, vlist, -1, SQLITE_STATIC);
    if (county)
        sqlite3_bind_text(st, 4, county, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, key, sizeof key, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)lm__now_ms());
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step == SQLITE_CONSTRAINT) {
        fprintf(stderr, "lastmile-server user add: user '%s' already exists\n", id);
        goto fail_validate;
    }
    if (step != SQLITE_DONE)
        goto fail_db;
    printf("added %s %s", lm_role_name(role), id);
    if (vlist)
        printf(" villages=%s", vlist);
    if (county)
        printf(" county=%s", county);
    printf("\n%s\n", hex);
    fprintf(stderr, "keep this key secret; it is not shown again\n");
    code = 0;
    goto fail_validate;

fail_db:
    fprintf(stderr, "lastmile-server user add: %s\n", sqlite3_errmsg(sdb));
fail_validate:
    lm_replica_close(r);
    return code;
}

/* `user list [--json]`: users with their last completed session. */
static int user_list(int argc, char **argv)
{
    const char *db = NULL;
    int json = 0;
    lm_opt opts[] = {{"db", &db, NULL}, {"json", NULL, &json}};
    int prc =
        lm__opts_run(argc, argv, opts, sizeof opts / sizeof opts[0], "user list", usage, "db");
    if (prc != LM_OPTS_GO)
        return prc;
    lm_replica *r = NULL;
    if (open_db(db, &r, "list") != LM_OK)
        return 1;
    sqlite3 *sdb = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    int code = 1;
    if (sqlite3_prepare_v2(sdb,
                           "SELECT u.id, u.role, u.villages, u.county, u.revoked, u.created_at,"
                           " s.last_sync_at FROM lm_users u"
                           " LEFT JOIN lm_sessions_log s ON s.user = u.id ORDER BY u.id",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail_db;
    static const char *const head[] = {"ID",     "ROLE",    "VILLAGES",
                                       "COUNTY", "REVOKED", "LAST_SYNC_AT"};
    lm_table t;
    lm_table_init(&t, 6);
    if (json)
        fputs("[", stdout);
    for (size_t k = 0; !json && k < 6; k++)
        lm_table_add(&t, head[k]);
    int step, n = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *cid = (const char *)sqlite3_column_text(st, 0);
        const char *role = (const char *)sqlite3_column_text(st, 1);
        const char *vl = (const char *)sqlite3_column_text(st, 2);
        const char *cty = (const char *)sqlite3_column_text(st, 3);
        int revoked = sqlite3_column_int(st, 4);
        long long created = sqlite3_column_int64(st, 5);
        int synced = sqlite3_column_type(st, 6) != SQLITE_NULL;
        long long last = sqlite3_column_int64(st, 6);
        if (json) {
            fputs(n ? ",\n {\"id\":" : "\n {\"id\":", stdout);
            lm_json_fput_string(stdout, cid);
            fputs(",\"role\":", stdout);
            lm_json_fput_string(stdout, role);
            fputs(",\"villages\":", stdout);
            lm_json_fput_string(stdout, vl);
            fputs(",\"county\":", stdout);
            lm_json_fput_string(stdout, cty);
            printf(",\"revoked\":%s,\"created_at\":%lld,\"last_sync_at\":",
                   revoked ? "true" : "false", created);
            if (synced)
                printf("%lld}", last);
            else
                fputs("null}", stdout);
        } else {
            char lastbuf[32] = "-";
            if (synced)
                snprintf(lastbuf, sizeof lastbuf, "%lld", last);
            const char *cells[] = {
                cid, role, vl ? vl : "-", cty ? cty : "-", revoked ? "yes" : "no", lastbuf};
            for (size_t k = 0; k < 6; k++)
                lm_table_add(&t, cells[k]);
        }
        n++;
    }
    if (step != SQLITE_DONE)
        goto fail_step;
    if (json)
        fputs(n ? "\n]\n" : "]\n", stdout);
    else if (lm_table_print(&t, stdout) != LM_OK)
        goto fail_step;
    code = 0;
fail_step:
    lm_table_close(&t);
    sqlite3_finalize(st);
fail_db:
    if (code)
        fprintf(stderr, "lastmile-server user list: %s\n", sqlite3_errmsg(sdb));
    lm_replica_close(r);
    return code;
}

/* `user revoke`: exit 1 when there is no such user. */
static int user_revoke(int argc, char **argv)
{
    const char *db = NULL, *id = NULL;
    lm_opt opts[] = {{"db", &db, NULL}, {"id", &id, NULL}};
    int prc =
        lm__opts_run(argc, argv, opts, sizeof opts / sizeof opts[0], "user revoke", usage, "db,id");
    if (prc != LM_OPTS_GO)
        return prc;
    lm_replica *r = NULL;
    if (open_db(db, &r, "revoke") != LM_OK)
        return 1;
    sqlite3 *sdb = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    int code = 1;
    if (sqlite3_prepare_v2(sdb, "UPDATE lm_users SET revoked = 1 WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "lastmile-server user revoke: %s\n", sqlite3_errmsg(sdb));
        goto fail_prepare;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        fprintf(stderr, "lastmile-server user revoke: %s\n", sqlite3_errmsg(sdb));
    } else if (sqlite3_changes(sdb) == 0) {
        fprintf(stderr, "lastmile-server user revoke: no user '%s'\n", id);
    } else {
        printf("revoked %s\n", id);
        code = 0;
    }
    sqlite3_finalize(st);
fail_prepare:
    lm_replica_close(r);
    return code;
}

int lm__cmd_user(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) {
        fputs(usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (strcmp(argv[0], "add") == 0)
        return user_add(argc - 1, argv + 1);
    if (strcmp(argv[0], "list") == 0)
        return user_list(argc - 1, argv + 1);
    if (strcmp(argv[0], "revoke") == 0)
        return user_revoke(argc - 1, argv + 1);
    fprintf(stderr, "lastmile-server user: unknown subcommand '%s' (add, list, revoke)\n", argv[0]);
    return 2;
}
