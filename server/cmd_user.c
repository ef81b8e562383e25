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
 * sessions within a second (auth_watch.c).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <qrencode.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "identity.h"
#include "args.h"
#include "json.h"
#include "table.h"
#include "srvdb.h"

static const char usage[] =
    "usage: lastmile-server user add --db PATH --id ID --role agent|dispatcher|hq\n"
    "                                [--villages V1,V2] [--county C]\n"
    "                                [--address HOST:PORT] [--expires DURATION] [--qr]\n"
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
    "rekey     issues a new enrolment string and invalidates the user's device\n"
    "          (a lost phone); its open sessions end within a second.\n"
    "list      lists users: id, role, villages, county, revoked, last sync.\n"
    "revoke    refuses the user's sessions, ending open ones within a second;\n"
    "          its data stays. unrevoke lets the same device in again.\n";

#define EXPIRES_DEFAULT_MS (7ull * 24 * 3600 * 1000)

/* "30m", "12h", "7d" (or plain seconds) -> ms; 0 when malformed. */
static uint64_t parse_duration(const char *text)
{
    char *end = NULL;
    if (!text || *text < '0' || *text > '9')
        return 0;
    unsigned long long v = strtoull(text, &end, 10);
    uint64_t unit = 1000;
    if (*end == 'm')
        unit = 60 * 1000;
    else if (*end == 'h')
        unit = 3600 * 1000;
    else if (*end == 'd')
        unit = 24 * 3600 * 1000;
    else if (*end == 's')
        unit = 1000;
    else if (*end)
        return 0;
    if (*end && end[1])
        return 0;
    if (v == 0 || v > 366ull * 24 * 3600)
        return 0;
    return v * unit;
}

/* The enrolment string as a QR code (libqrencode, level L, 8-bit mode:
 * what `qrencode -t ANSIUTF8` makes of it) on stdout: two modules per
 * character cell, the upper one the foreground colour of an upper half
 * block, the lower one its background, black on white whatever the
 * terminal's own colours, a quiet zone of QR_MARGIN modules. */
#define QR_MARGIN 2
static void print_qr(const char *text)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
    if (!q) {
        fprintf(stderr,
                "lastmile-server user: cannot make a QR code of the string (%s); "
                "type it instead\n",
                strerror(errno));
        return;
    }
    int n = q->width, side = n + 2 * QR_MARGIN;
    for (int y = 0; y < side; y += 2) {
        for (int x = 0; x < side; x++) {
            int dark[2];
            for (int k = 0; k < 2; k++) {
                int my = y + k - QR_MARGIN, mx = x - QR_MARGIN;
                dark[k] = my >= 0 && my < n && mx >= 0 && mx < n && (q->data[my * n + mx] & 1);
            }
            /* 30/40 black, 37/47 white */
            printf("\x1b[%d;%dm\xe2\x96\x80", dark[0] ? 30 : 37, dark[1] ? 40 : 47);
        }
        printf("\x1b[0m\n");
    }
    QRcode_free(q);
}

/* A new token for user: its hash and expiry stored (in the caller's
 * transaction), the enrolment string printed as the last stdout line
 * (after its QR code when qr). */
static int issue_enrolment(sqlite3 *sdb, const char *db_path, const char *cmd, const char *id,
                           const char *address, uint64_t expires_ms, int qr)
{
    lm_enrolment e;
    char err[512] = "", text[LM_ENROL_TEXT_MAX];
    int created = 0;
    memset(&e, 0, sizeof e);
    if (lm__identity_ensure(db_path, &created, e.fingerprint, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server user %s: %s\n", cmd, err);
        return LM_EIO;
    }
    if (lm_random_bytes(e.token, sizeof e.token) != LM_OK) {
        fprintf(stderr, "lastmile-server user %s: no random bytes for the token\n", cmd);
        return LM_EIO;
    }
    snprintf(e.user, sizeof e.user, "%s", id);
    snprintf(e.address, sizeof e.address, "%s", address ? address : "");
    uint8_t hash[32];
    SHA256(e.token, sizeof e.token, hash);
    sqlite3_stmt *st = NULL;
    int rc = LM_EDB;
    if (lm_enrol_encode(&e, text) != LM_OK ||
        sqlite3_prepare_v2(sdb,
                           "UPDATE lm_users SET enrol_hash = ?2, enrol_expires = ?3 WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, hash, sizeof hash, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(lm__now_ms() + expires_ms));
    if (sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(sdb) == 1)
        rc = LM_OK;
    sqlite3_finalize(st);
out:
    OPENSSL_cleanse(&e, sizeof e);
    if (rc != LM_OK) {
        fprintf(stderr, "lastmile-server user %s: %s\n", cmd, sqlite3_errmsg(sdb));
        return rc;
    }
    fprintf(stderr,
            "give this enrolment string to %s's device (lastmile init --enrol ...); it "
            "works once, within %llu h, and is not shown again\n",
            id, (unsigned long long)(expires_ms / 3600000u));
    if (qr || isatty(STDOUT_FILENO))
        print_qr(text);
    printf("%s\n", text);
    OPENSSL_cleanse(text, sizeof text);
    return LM_OK;
}

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
    const char *db = NULL, *id = NULL, *role_name = NULL, *vlist = NULL, *county = NULL,
               *address = NULL, *expires = NULL;
    int qr = 0;
    lm_opt opts[] = {
        {"db", LM_OPT_VALUE, &db, NULL},           {"id", LM_OPT_VALUE, &id, NULL},
        {"role", LM_OPT_VALUE, &role_name, NULL},  {"villages", LM_OPT_VALUE, &vlist, NULL},
        {"county", LM_OPT_VALUE, &county, NULL},   {"address", LM_OPT_VALUE, &address, NULL},
        {"expires", LM_OPT_VALUE, &expires, NULL}, {"qr", LM_OPT_FLAG, NULL, &qr}};
    int prc = lm_args_run(argc, argv, opts, sizeof opts / sizeof opts[0],
                          "lastmile-server user add", usage, "db,id,role");
    if (prc != LM_ARGS_GO)
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
    uint64_t expires_ms = expires ? parse_duration(expires) : EXPIRES_DEFAULT_MS;
    if (!expires_ms) {
        fprintf(stderr, "lastmile-server user add: --expires wants a duration like 30m, 12h or "
                        "7d (at most a year)\n");
        return 2;
    }
    if (address && strlen(address) > 127) {
        fprintf(stderr, "lastmile-server user add: --address is too long\n");
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
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(sdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail_db;
    if (sqlite3_prepare_v2(sdb,
                           "INSERT INTO lm_users(id, role, villages, county, revoked,"
                           " created_at) VALUES(?1, ?2, ?3, ?4, 0, ?5)",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail_db;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, lm_role_name(role), -1, SQLITE_STATIC);
    if (vlist)
        sqlite3_bind_text(st, 3, vlist, -1, SQLITE_STATIC);
    if (county)
        sqlite3_bind_text(st, 4, county, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)lm__now_ms());
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
    if (issue_enrolment(sdb, db, "add", id, address, expires_ms, qr) != LM_OK)
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
    uint64_t expires_ms = expires ? parse_duration(expires) : EXPIRES_DEFAULT_MS;
    if (!expires_ms) {
        fprintf(stderr, "lastmile-server user rekey: --expires wants a duration like 30m, 12h or "
                        "7d (at most a year)\n");
        return 2;
    }
    lm_replica *r = NULL;
    if (open_db(db, &r, cmd) != LM_OK)
        return 1;
    sqlite3 *sdb = lm_replica_db(r);
    const char *sql = strcmp(cmd, "revoke") == 0 ? "UPDATE lm_users SET revoked = 1 WHERE id = ?1"
                      : strcmp(cmd, "unrevoke") == 0
                          ? "UPDATE lm_users SET revoked = 0 WHERE id = ?1"
                          : "UPDATE lm_users SET pubkey = NULL, device_site = NULL WHERE id = ?1";
    int code = update_user(sdb, cmd, id, sql);
    if (code == 0 && rekey && issue_enrolment(sdb, db, cmd, id, address, expires_ms, qr) != LM_OK) {
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
    if (strcmp(argv[0], "revoke") == 0 || strcmp(argv[0], "unrevoke") == 0 ||
        strcmp(argv[0], "rekey") == 0)
        return user_change(argc - 1, argv + 1, argv[0]);
    fprintf(stderr,
            "lastmile-server user: unknown subcommand '%s' (add, list, revoke, unrevoke, rekey)\n",
            argv[0]);
    return 2;
}
