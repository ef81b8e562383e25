/*
 * cmd_user.c — `lastmile-server user add|list|revoke|unrevoke|rekey`:
 * provisioning and the key lifecycle.
 *
 * `add` and `rekey` print a one-time enrolment string (lm1-..., the last
 * line of stdout): the server's address and certificate fingerprint and a
 * 32-byte random token. Only the token's SHA-256 and expiry are stored;
 * the device makes its own Ed25519 key pair and registers the public key
 * with the token in its first HELLO, which spends the token. So the
 * database holds nothing that lets anybody log in. revoke / unrevoke /
 * rekey bump the user's auth_gen: a running server ends the user's open
 * sessions within a second (auth_watch.c). The enrolment string itself is
 * user_enrol.c's, `add --csv` is cmd_user_batch.c's.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "args.h"
#include "lm_rules.h"
#include "lm_text.h"
#include "json.h"
#include "table.h"
#include "srvdb.h"
#include "user_cmd.h"

static const char usage[] =
    "usage: lastmile-server user add --db PATH --id ID --role agent|dispatcher|hq\n"
    "                                [--villages V1,V2] [--county C] [--name NAME]\n"
    "                                [--address HOST:PORT] [--expires DURATION]\n"
    "       lastmile-server user add --db PATH --csv FILE [--address HOST:PORT]\n"
    "                                [--expires DURATION] [--json]\n"
    "       lastmile-server user update --db PATH --id ID [--villages V1,V2 | --county C]\n"
    "                                   [--name NAME]\n"
    "       lastmile-server user rekey --db PATH --id ID [--address HOST:PORT]\n"
    "                                  [--expires DURATION] [--qr]\n"
    "       lastmile-server user list --db PATH [--json]\n"
    "       lastmile-server user revoke|unrevoke --db PATH --id ID\n"
    "\n"
    "add       provisions a user and prints a one-time enrolment string (lm1-...)\n"
    "          alone as the last line of stdout, for `lastmile init --enrol`.\n"
    "          It carries --address (the server as agents reach it; else the\n"
    "          agent gives --server), the server's fingerprint and a token that\n"
    "          works once, until --expires (7d by default; 30m, 12h, 3d...).\n"
    "          On a terminal (or with --qr) a QR code of the string comes\n"
    "          first, for the agent's phone camera.\n"
    "          Agents need --villages (villages of the catalog), dispatchers\n"
    "          need --county (a county of the catalog).\n"
    "add --csv adds a batch in one transaction, all or nothing: a UTF-8 file\n"
    "          (a byte-order mark and CRLF line ends are fine) whose header\n"
    "          names its columns, id and role required, villages, county and\n"
    "          name optional, in any order; villages in one field, quoted\n"
    "          (\"v1,v2\") or with ; between them. A bad line is named\n"
    "          (FILE:LINE: reason) and nothing is added. Prints \"ID STRING\"\n"
    "          per user, or with --json [{\"id\",\"role\",\"enrolment\"}].\n"
    "rekey     issues a new enrolment string and invalidates the user's device\n"
    "          (a lost phone); its open sessions end within a second.\n"
    "update    moves an agent to other --villages or a dispatcher to another\n"
    "          --county (its open sessions end within a second; at its next\n"
    "          sync its replica pushes what it holds, drops the rows it no\n"
    "          longer sees and pulls those it now sees), or renames it\n"
    "          (--name). Changes its device made before it heard of the move\n"
    "          are still accepted in the old scope (docs/sync.md).\n"
    "list      lists users: id, role, villages, county, revoked, last sync, name.\n"
    "revoke    refuses the user's sessions, ending open ones within a second;\n"
    "          its data stays. unrevoke lets the same device in again.\n";

#define EXPIRES_DEFAULT_MS (7ull * 24 * 3600 * 1000)

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
static int villages_valid(sqlite3 *db, const char *list, const char *cmd)
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
            fprintf(stderr, "lastmile-server user %s: unknown village '%s'\n", cmd, name);
            return 0;
        }
        if (!end)
            return 1;
        p = end + 1;
    }
fail_bad:
    fprintf(stderr, "lastmile-server user %s: --villages wants a comma list like v1,v2\n", cmd);
    return 0;
}

/* A user's display name: NULL (none) or short text without control
 * characters (the text rules of the ledger, lm_rules_text). */
static int name_valid(const char *name, const char *cmd)
{
    const char *why = NULL;
    if (!name)
        return 1;
    if (!*name) {
        fprintf(stderr, "lastmile-server user %s: --name is empty\n", cmd);
        return 0;
    }
    if (lm_rules_text(name, strlen(name), LM_RULES_MAX_SHORT_TEXT, &why)) {
        fprintf(stderr, "lastmile-server user %s: --name: %s\n", cmd, why);
        return 0;
    }
    return 1;
}

/* `user add`: validates everything before writing; the key is the last
 * stdout line. Exit 0/1/2. */
static int user_add(int argc, char **argv)
{
    const char *db = NULL, *id = NULL, *role_name = NULL, *vlist = NULL, *county = NULL,
               *address = NULL, *expires = NULL, *uname = NULL, *csv = NULL;
    int json = 0, qr = 0;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                     {"id", LM_OPT_VALUE, &id, NULL},
                     {"role", LM_OPT_VALUE, &role_name, NULL},
                     {"villages", LM_OPT_VALUE, &vlist, NULL},
                     {"county", LM_OPT_VALUE, &county, NULL},
                     {"address", LM_OPT_VALUE, &address, NULL},
                     {"expires", LM_OPT_VALUE, &expires, NULL},
                     {"name", LM_OPT_VALUE, &uname, NULL},
                     {"csv", LM_OPT_VALUE, &csv, NULL},
                     {"json", LM_OPT_FLAG, NULL, &json},
                     {"qr", LM_OPT_FLAG, NULL, &qr}};
    int prc = lm_args_run(argc, argv, opts, sizeof opts / sizeof opts[0],
                          "lastmile-server user add", usage, "db");
    if (prc != LM_ARGS_GO)
        return prc;
    if (csv && (id || role_name || vlist || county || uname)) {
        fprintf(stderr, "lastmile-server user add: --csv takes the users from the file: no --id, "
                        "--role, --villages, --county or --name\n");
        return 2;
    }
    if (!csv && (!id || !*id || !role_name || !*role_name)) {
        fprintf(stderr, "lastmile-server user add: --id and --role are required (or --csv "
                        "FILE)\n");
        return 2;
    }
    if (json && !csv) {
        fprintf(stderr, "lastmile-server user add: --json goes with --csv\n");
        return 2;
    }
    if (csv) {
        uint64_t ems = expires ? lm__user_parse_duration(expires) : EXPIRES_DEFAULT_MS;
        if (!ems || (address && strlen(address) > 127)) {
            fprintf(stderr, "lastmile-server user add: %s\n",
                    ems ? "--address is too long"
                        : "--expires wants a duration like 30m, 12h or 7d (at most a year)");
            return 2;
        }
        return lm__user_add_csv(db, csv, address, ems, json);
    }
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
    uint64_t expires_ms = expires ? lm__user_parse_duration(expires) : EXPIRES_DEFAULT_MS;
    if (!expires_ms) {
        fprintf(stderr, "lastmile-server user add: --expires wants a duration like 30m, 12h or "
                        "7d (at most a year)\n");
        return 2;
    }
    if (address && strlen(address) > 127) {
        fprintf(stderr, "lastmile-server user add: --address is too long\n");
        return 2;
    }
    if (!name_valid(uname, "add"))
        return 2;

    lm_replica *r = NULL;
    if (lm__user_open_db(db, &r, "add") != LM_OK)
        return 1;
    sqlite3 *sdb = lm_replica_db(r);
    int code = 1;
    if (vlist && !villages_valid(sdb, vlist, "add"))
        goto fail_validate;
    if (county && !exists(sdb, "SELECT 1 FROM villages WHERE county = ?1", county)) {
        fprintf(stderr, "lastmile-server user add: unknown county '%s'\n", county);
        goto fail_validate;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(sdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail_db;
    if (sqlite3_prepare_v2(sdb,
                           "INSERT INTO lm_users(id, role, villages, county, revoked,"
                           " created_at, name) VALUES(?1, ?2, ?3, ?4, 0, ?5, ?6)",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail_db;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, lm_role_name(role), -1, SQLITE_STATIC);
    if (vlist)
        sqlite3_bind_text(st, 3, vlist, -1, SQLITE_STATIC);
    if (county)
        sqlite3_bind_text(st, 4, county, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)lm__now_ms());
    if (uname)
        sqlite3_bind_text(st, 6, uname, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step == SQLITE_CONSTRAINT) {
        fprintf(stderr, "lastmile-server user add: user '%s' already exists\n", id);
        goto fail_rollback;
    }
    if (step != SQLITE_DONE)
        goto fail_db;
    printf("added %s %s", lm_role_name(role), id);
    if (vlist)
        printf(" villages=%s", vlist);
    if (county)
        printf(" county=%s", county);
    printf("\n");
    if (lm__user_issue_enrolment(sdb, db, "add", id, address, expires_ms, qr) != LM_OK)
        goto fail_rollback;
    if (sqlite3_exec(sdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail_db;
    code = 0;
    goto fail_validate;
fail_db:
    fprintf(stderr, "lastmile-server user add: %s\n", sqlite3_errmsg(sdb));
fail_rollback:
    sqlite3_exec(sdb, "ROLLBACK", NULL, NULL, NULL);
fail_validate:
    lm_replica_close(r);
    return code;
}

/* `user list [--json]`: users with their last completed session. */
static int user_list(int argc, char **argv)
{
    const char *db = NULL;
    int json = 0;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL}, {"json", LM_OPT_FLAG, NULL, &json}};
    int prc = lm_args_run(argc, argv, opts, sizeof opts / sizeof opts[0],
                          "lastmile-server user list", usage, "db");
    if (prc != LM_ARGS_GO)
        return prc;
    lm_replica *r = NULL;
    if (lm__user_open_db(db, &r, "list") != LM_OK)
        return 1;
    sqlite3 *sdb = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    int code = 1;
    if (sqlite3_prepare_v2(sdb,
                           "SELECT u.id, u.role, u.villages, u.county, u.revoked, u.created_at,"
                           " s.last_sync_at, u.name FROM lm_users u"
                           " LEFT JOIN lm_sessions_log s ON s.user = u.id ORDER BY u.id",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail_db;
    static const char *const head[] = {"ID",      "ROLE",         "VILLAGES", "COUNTY",
                                       "REVOKED", "LAST_SYNC_AT", "NAME"};
    lm_table t;
    lm_table_init(&t, 7);
    if (json)
        fputs("[", stdout);
    for (size_t k = 0; !json && k < 7; k++)
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
        const char *uname = (const char *)sqlite3_column_text(st, 7);
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
                printf("%lld", last);
            else
                fputs("null", stdout);
            fputs(",\"name\":", stdout);
            lm_json_fput_string(stdout, uname);
            fputs("}", stdout);
        } else {
            char lastbuf[32] = "-";
            if (synced)
                snprintf(lastbuf, sizeof lastbuf, "%lld", last);
            const char *cells[] = {cid,
                                   role,
                                   vl ? vl : "-",
                                   cty ? cty : "-",
                                   revoked ? "yes" : "no",
                                   lastbuf,
                                   uname ? uname : "-"};
            for (size_t k = 0; k < 7; k++)
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

/* Runs sql (?1 = id) and bumps the user's auth_gen, in a transaction the
 * caller commits; 0 when it changed the user, else 1 (rolled back) with
 * the reason on stderr. */
static int update_user(sqlite3 *sdb, const char *cmd, const char *id, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(sdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail_db;
    if (sqlite3_prepare_v2(sdb, sql, -1, &st, NULL) != SQLITE_OK)
        goto fail_db;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE)
        goto fail_db;
    if (sqlite3_changes(sdb) == 0) {
        fprintf(stderr, "lastmile-server user %s: no user '%s'\n", cmd, id);
        sqlite3_exec(sdb, "ROLLBACK", NULL, NULL, NULL);
        return 1;
    }
    if (lm__srvdb_bump_auth_gen(sdb, id) != LM_OK)
        goto fail_db;
    return 0;
fail_db:
    fprintf(stderr, "lastmile-server user %s: %s\n", cmd, sqlite3_errmsg(sdb));
    sqlite3_exec(sdb, "ROLLBACK", NULL, NULL, NULL);
    return 1;
}

/* `user update`: a new scope (villages or county) and/or name. A new
 * scope keeps the old one as the user's previous scope (changes its device
 * made before it heard of the move are checked against it, merge.c) and
 * ends the user's open sessions, so the next one is told the new scope.
 * Exit 0/1/2. */
static int user_update(int argc, char **argv)
{
    const char *db = NULL, *id = NULL, *vlist = NULL, *county = NULL, *uname = NULL;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                     {"id", LM_OPT_VALUE, &id, NULL},
                     {"villages", LM_OPT_VALUE, &vlist, NULL},
                     {"county", LM_OPT_VALUE, &county, NULL},
                     {"name", LM_OPT_VALUE, &uname, NULL}};
    int prc = lm_args_run(argc, argv, opts, sizeof opts / sizeof opts[0],
                          "lastmile-server user update", usage, "db,id");
    if (prc != LM_ARGS_GO)
        return prc;
    if (!vlist && !county && !uname) {
        fprintf(stderr, "lastmile-server user update: nothing to change: give --villages, "
                        "--county or --name\n");
        return 2;
    }
    if (vlist && county) {
        fprintf(stderr, "lastmile-server user update: --villages (an agent) or --county (a "
                        "dispatcher), not both\n");
        return 2;
    }
    if (!name_valid(uname, "update"))
        return 2;
    lm_replica *r = NULL;
    if (lm__user_open_db(db, &r, "update") != LM_OK)
        return 1;
    sqlite3 *sdb = lm_replica_db(r);
    lm_user u;
    int code = 1, rc = lm__srvdb_user_get(sdb, id, &u);
    if (rc == LM_ENOTFOUND) {
        fprintf(stderr, "lastmile-server user update: no user '%s'\n", id);
        goto out_close;
    }
    if (rc != LM_OK) {
        fprintf(stderr, "lastmile-server user update: %s\n", sqlite3_errmsg(sdb));
        goto out_close;
    }
    code = 2;
    if (vlist && u.role != LM_ROLE_AGENT) {
        fprintf(stderr, "lastmile-server user update: '%s' is a %s: only agents have --villages\n",
                id, lm_role_name(u.role));
        goto out_user;
    }
    if (county && u.role != LM_ROLE_DISPATCHER) {
        fprintf(stderr,
                "lastmile-server user update: '%s' is a %s: only dispatchers have a --county\n", id,
                lm_role_name(u.role));
        goto out_user;
    }
    code = 1;
    if (vlist && !villages_valid(sdb, vlist, "update"))
        goto out_user;
    if (county && !exists(sdb, "SELECT 1 FROM villages WHERE county = ?1", county)) {
        fprintf(stderr, "lastmile-server user update: unknown county '%s'\n", county);
        goto out_user;
    }
    int moved = (vlist && strcmp(vlist, u.villages ? u.villages : "")) ||
                (county && strcmp(county, u.county ? u.county : ""));
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(sdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail_db;
    /* the right-hand sides read the row as it was: the old scope becomes
     * the previous one, unless the device never heard of the last move
     * (no session since): then the scope it last heard stays the previous */
    if (sqlite3_prepare_v2(sdb,
                           "UPDATE lm_users SET name = COALESCE(?2, name),"
                           " prev_villages = CASE WHEN ?5 AND (moved_at IS NULL OR seen_at IS NOT"
                           "  NULL) THEN villages ELSE prev_villages END,"
                           " prev_county = CASE WHEN ?5 AND (moved_at IS NULL OR seen_at IS NOT"
                           "  NULL) THEN county ELSE prev_county END,"
                           " moved_at = CASE WHEN ?5 THEN ?6 ELSE moved_at END,"
                           " seen_at = CASE WHEN ?5 THEN NULL ELSE seen_at END,"
                           " villages = COALESCE(?3, villages), county = COALESCE(?4, county)"
                           " WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail_db;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (uname)
        sqlite3_bind_text(st, 2, uname, -1, SQLITE_STATIC);
    if (vlist)
        sqlite3_bind_text(st, 3, vlist, -1, SQLITE_STATIC);
    if (county)
        sqlite3_bind_text(st, 4, county, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, moved);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)lm__now_ms());
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE || (moved && lm__srvdb_bump_auth_gen(sdb, id) != LM_OK) ||
        sqlite3_exec(sdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail_db;
    printf("updated %s %s", lm_role_name(u.role), id);
    if (vlist)
        printf(" villages=%s (was %s)", vlist, u.villages ? u.villages : "-");
    if (county)
        printf(" county=%s (was %s)", county, u.county ? u.county : "-");
    if (uname)
        printf(" name=%s", uname);
    printf("\n");
    code = 0;
    goto out_user;
fail_db:
    fprintf(stderr, "lastmile-server user update: %s\n", sqlite3_errmsg(sdb));
    sqlite3_exec(sdb, "ROLLBACK", NULL, NULL, NULL);
out_user:
    lm__user_clear(&u);
out_close:
    lm_replica_close(r);
    return code;
}

/* `user revoke|unrevoke|rekey`. Exit 0/1/2. */
static int user_change(int argc, char **argv, const char *cmd)
{
    const char *db = NULL, *id = NULL, *address = NULL, *expires = NULL;
    int rekey = strcmp(cmd, "rekey") == 0, qr = 0;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                     {"id", LM_OPT_VALUE, &id, NULL},
                     {"address", LM_OPT_VALUE, &address, NULL},
                     {"expires", LM_OPT_VALUE, &expires, NULL},
                     {"qr", LM_OPT_FLAG, NULL, &qr}};
    char name[48];
    snprintf(name, sizeof name, "lastmile-server user %s", cmd);
    int prc = lm_args_run(argc, argv, opts, rekey ? 5 : 2, name, usage, "db,id");
    if (prc != LM_ARGS_GO)
        return prc;
    uint64_t expires_ms = expires ? lm__user_parse_duration(expires) : EXPIRES_DEFAULT_MS;
    if (!expires_ms) {
        fprintf(stderr, "lastmile-server user rekey: --expires wants a duration like 30m, 12h or "
                        "7d (at most a year)\n");
        return 2;
    }
    lm_replica *r = NULL;
    if (lm__user_open_db(db, &r, cmd) != LM_OK)
        return 1;
    sqlite3 *sdb = lm_replica_db(r);
    const char *sql = strcmp(cmd, "revoke") == 0 ? "UPDATE lm_users SET revoked = 1 WHERE id = ?1"
                      : strcmp(cmd, "unrevoke") == 0
                          ? "UPDATE lm_users SET revoked = 0 WHERE id = ?1"
                          : "UPDATE lm_users SET pubkey = NULL, device_site = NULL WHERE id = ?1";
    int code = update_user(sdb, cmd, id, sql);
    if (code == 0 && rekey &&
        lm__user_issue_enrolment(sdb, db, cmd, id, address, expires_ms, qr) != LM_OK) {
        sqlite3_exec(sdb, "ROLLBACK", NULL, NULL, NULL);
        code = 1;
    }
    if (code == 0 && sqlite3_exec(sdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "lastmile-server user %s: %s\n", cmd, sqlite3_errmsg(sdb));
        sqlite3_exec(sdb, "ROLLBACK", NULL, NULL, NULL);
        code = 1;
    }
    if (code == 0 && !rekey)
        printf("%s %s\n", strcmp(cmd, "revoke") == 0 ? "revoked" : "unrevoked", id);
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
    if (strcmp(argv[0], "update") == 0)
        return user_update(argc - 1, argv + 1);
    if (strcmp(argv[0], "revoke") == 0 || strcmp(argv[0], "unrevoke") == 0 ||
        strcmp(argv[0], "rekey") == 0)
        return user_change(argc - 1, argv + 1, argv[0]);
    fprintf(stderr,
            "lastmile-server user: unknown subcommand '%s' (add, update, list, revoke, unrevoke, "
            "rekey)\n",
            argv[0]);
    return 2;
}
