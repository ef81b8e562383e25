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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "identity.h"
#include "args.h"
#include "lm_rules.h"
#include "lm_text.h"
#include "register_file.h"
#include "json.h"
#include "table.h"
#include "srvdb.h"

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

/* A new token for user id: its hash and expiry stored (in the caller's
 * transaction) and the enrolment string (server address, fingerprint fp,
 * token) in text. LM_OK, else the reason on stderr. */
static int make_enrolment(sqlite3 *sdb, const uint8_t fp[LM_FINGERPRINT_SIZE], const char *cmd,
                          const char *id, const char *address, uint64_t expires_ms,
                          char text[LM_ENROL_TEXT_MAX])
{
    lm_enrolment e;
    memset(&e, 0, sizeof e);
    memcpy(e.fingerprint, fp, sizeof e.fingerprint);
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
    if (rc != LM_OK)
        fprintf(stderr, "lastmile-server user %s: %s\n", cmd, sqlite3_errmsg(sdb));
    return rc;
}

/* The server's certificate fingerprint (made with the identity when
 * missing). */
static int server_fingerprint(const char *db_path, const char *cmd, uint8_t fp[LM_FINGERPRINT_SIZE])
{
    char err[512] = "";
    int created = 0;
    if (lm__identity_ensure(db_path, &created, fp, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server user %s: %s\n", cmd, err);
        return LM_EIO;
    }
    return LM_OK;
}

/* A new token for user: its hash and expiry stored (in the caller's
 * transaction), the enrolment string printed as the last stdout line
 * (after its QR code when qr, or when stdout is a terminal). */
static int issue_enrolment(sqlite3 *sdb, const char *db_path, const char *cmd, const char *id,
                           const char *address, uint64_t expires_ms, int qr)
{
    uint8_t fp[LM_FINGERPRINT_SIZE];
    char text[LM_ENROL_TEXT_MAX];
    int rc = server_fingerprint(db_path, cmd, fp);
    if (rc == LM_OK)
        rc = make_enrolment(sdb, fp, cmd, id, address, expires_ms, text);
    if (rc != LM_OK)
        return rc;
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

/* One user of a --csv batch: fields point into the file's text. */
typedef struct csv_user {
    const char *id, *role, *villages, *county, *name;
    long line;
    char enrolment[LM_ENROL_TEXT_MAX];
} csv_user;

enum { CSV_ID, CSV_ROLE, CSV_VILLAGES, CSV_COUNTY, CSV_NAME, CSV_COLS };
static const char *const csv_names[CSV_COLS] = {"id", "role", "villages", "county", "name"};
#define CSV_MAX_USERS 100000
#define CSV_LINE_MAX 8192

/* "lastmile-server user add: PATH:LINE: reason"; returns 1. */
static int csv_fail(const char *path, long line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int csv_fail(const char *path, long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lastmile-server user add: %s:%ld: ", path, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* 1 when a and b are equal, ASCII case ignored. */
static int same_word(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if ((*a | 0x20) != (*b | 0x20))
            return 0;
    return *a == *b;
}

/* Reads the batch file into users (col[k] = the field index of column k,
 * -1 when absent); every line checked on its own (the database checks come
 * later). 0, or 1 with the line named on stderr. */
static int csv_parse(const char *path, char *text, csv_user **users, size_t *n_users)
{
    int col[CSV_COLS] = {-1, -1, -1, -1, -1}, n_cols = 0, nf;
    size_t cap = 0;
    long no = 0;
    *users = NULL;
    *n_users = 0;
    lm__csv_lines it;
    char *f[CSV_COLS + 1];
    lm__csv_lines_init(&it, text, CSV_LINE_MAX);
    while ((nf = lm__csv_next(&it, f, CSV_COLS + 1)) != LM__CSV_END) {
        no = it.no;
        if (nf == LM__CSV_LONG)
            return csv_fail(path, no, "line longer than %d bytes", CSV_LINE_MAX);
        if (!n_cols) { /* the header */
            if (nf < 0 || nf > CSV_COLS)
                return csv_fail(path, no, "the header names at most id,role,villages,county,name");
            for (int i = 0; i < nf; i++) {
                int k = 0;
                while (k < CSV_COLS && !same_word(f[i], csv_names[k]))
                    k++;
                if (k == CSV_COLS || col[k] >= 0)
                    return csv_fail(path, no,
                                    "header column '%s' is %s (id, role, villages, county, name)",
                                    f[i], k == CSV_COLS ? "unknown" : "given twice");
                col[k] = i;
            }
            if (col[CSV_ID] < 0 || col[CSV_ROLE] < 0)
                return csv_fail(path, no, "the header needs id and role columns");
            n_cols = nf;
            continue;
        }
        if (nf != n_cols)
            return csv_fail(path, no, "expected %d fields as the header says, found %s", n_cols,
                            nf < 0 ? "a malformed line (quotes?) or more" : "another number");
        if (*n_users == CSV_MAX_USERS)
            return csv_fail(path, no, "more than %d users in one batch", CSV_MAX_USERS);
        if (*n_users == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            csv_user *nu = lm_realloc(*users, ncap * sizeof *nu);
            if (!nu)
                return csv_fail(path, no, "out of memory");
            *users = nu;
            cap = ncap;
        }
        csv_user *u = &(*users)[(*n_users)++];
        memset(u, 0, sizeof *u);
        u->line = no;
        const char **slot[CSV_COLS] = {&u->id, &u->role, &u->villages, &u->county, &u->name};
        for (int k = 0; k < CSV_COLS; k++) {
            char *v = col[k] >= 0 ? f[col[k]] : NULL;
            *slot[k] = v && *v ? v : NULL;
        }
        if (u->villages)
            for (char *p = (char *)u->villages; *p; p++)
                *p = *p == ';' ? ',' : *p;
        const char *why = NULL;
        int role = lm_role_parse(u->role);
        if (!lm__user_id_valid(u->id))
            return csv_fail(path, no, "id must be 1-64 characters of A-Z a-z 0-9 _ . - @");
        if (role != LM_ROLE_AGENT && role != LM_ROLE_DISPATCHER && role != LM_ROLE_HQ)
            return csv_fail(path, no, "role must be agent, dispatcher or hq, not '%s'",
                            u->role ? u->role : "");
        if (role == LM_ROLE_AGENT && (!u->villages || u->county))
            return csv_fail(path, no, "an agent needs villages and no county");
        if (role == LM_ROLE_DISPATCHER && (!u->county || u->villages))
            return csv_fail(path, no, "a dispatcher needs a county and no villages");
        if (role == LM_ROLE_HQ && (u->county || u->villages))
            return csv_fail(path, no, "hq has no villages or county (it sees everything)");
        if (u->name && lm_rules_text(u->name, strlen(u->name), LM_RULES_MAX_SHORT_TEXT, &why))
            return csv_fail(path, no, "name: %s", why);
    }
    if (!n_cols)
        return csv_fail(path, no ? no : 1, "empty file: a header (id,role,...) comes first");
    if (!*n_users)
        return csv_fail(path, no, "no users after the header");
    return 0;
}

/* The batch's database checks and writes, in the caller's transaction:
 * villages and counties of the catalog, ids new, the rows and their
 * tokens. 0, or 1 with the line named. */
static int csv_write(sqlite3 *sdb, const char *path, csv_user *users, size_t n,
                     const uint8_t fp[LM_FINGERPRINT_SIZE], const char *address,
                     uint64_t expires_ms)
{
    sqlite3_stmt *village = NULL, *county = NULL, *ins = NULL;
    int code = 1;
    if (sqlite3_prepare_v2(sdb, "SELECT 1 FROM villages WHERE name = ?1", -1, &village, NULL) ||
        sqlite3_prepare_v2(sdb, "SELECT 1 FROM villages WHERE county = ?1 LIMIT 1", -1, &county,
                           NULL) ||
        sqlite3_prepare_v2(sdb,
                           "INSERT INTO lm_users(id, role, villages, county, revoked, created_at,"
                           " name) VALUES(?1, ?2, ?3, ?4, 0, ?5, ?6)",
                           -1, &ins, NULL)) {
        fprintf(stderr, "lastmile-server user add: %s\n", sqlite3_errmsg(sdb));
        goto out;
    }
    uint64_t now = lm__now_ms();
    for (size_t i = 0; i < n; i++) {
        csv_user *u = &users[i];
        for (const char *p = u->villages; p && *p;) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            char name[LM_MAX_PK + 1];
            if (len == 0 || len > LM_MAX_PK) {
                csv_fail(path, u->line, "villages wants a list like v1,v2");
                goto out;
            }
            memcpy(name, p, len);
            name[len] = '\0';
            sqlite3_bind_text(village, 1, name, -1, SQLITE_TRANSIENT);
            int found = sqlite3_step(village) == SQLITE_ROW;
            sqlite3_reset(village);
            if (!found) {
                csv_fail(path, u->line, "unknown village '%s'", name);
                goto out;
            }
            p = end ? end + 1 : p + len;
        }
        if (u->county) {
            sqlite3_bind_text(county, 1, u->county, -1, SQLITE_STATIC);
            int found = sqlite3_step(county) == SQLITE_ROW;
            sqlite3_reset(county);
            if (!found) {
                csv_fail(path, u->line, "unknown county '%s'", u->county);
                goto out;
            }
        }
        sqlite3_bind_text(ins, 1, u->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, u->role, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, u->villages, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, u->county, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 5, (sqlite3_int64)now);
        sqlite3_bind_text(ins, 6, u->name, -1, SQLITE_STATIC);
        int step = sqlite3_step(ins);
        sqlite3_reset(ins);
        if (step == SQLITE_CONSTRAINT) {
            long first = 0;
            for (size_t k = 0; k < i && !first; k++)
                first = strcmp(users[k].id, u->id) ? 0 : users[k].line;
            if (first)
                csv_fail(path, u->line, "user '%s' is also on line %ld", u->id, first);
            else
                csv_fail(path, u->line, "user '%s' already exists", u->id);
            goto out;
        }
        if (step != SQLITE_DONE) {
            csv_fail(path, u->line, "%s", sqlite3_errmsg(sdb));
            goto out;
        }
        if (make_enrolment(sdb, fp, "add", u->id, address, expires_ms, u->enrolment) != LM_OK)
            goto out;
    }
    code = 0;
out:
    sqlite3_finalize(village);
    sqlite3_finalize(county);
    sqlite3_finalize(ins);
    return code;
}

/* `user add --csv FILE`: the batch in one transaction, all or nothing;
 * "ID STRING" per user (or JSON) on stdout. Exit 0/1. */
static int user_add_csv(const char *db, const char *path, const char *address, uint64_t expires_ms,
                        int json)
{
    char err[512] = "", *text = NULL;
    size_t len = 0, n = 0;
    csv_user *users = NULL;
    if (lm__register_file_read(path, NULL, &text, &len, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server user add: %s\n", err);
        return 1;
    }
    int code = csv_parse(path, text, &users, &n);
    lm_replica *r = NULL;
    uint8_t fp[LM_FINGERPRINT_SIZE];
    if (code || open_db(db, &r, "add") != LM_OK || server_fingerprint(db, "add", fp) != LM_OK) {
        code = 1;
        goto out;
    }
    sqlite3 *sdb = lm_replica_db(r);
    code = 1;
    if (sqlite3_exec(sdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "lastmile-server user add: %s\n", sqlite3_errmsg(sdb));
        goto out;
    }
    if (csv_write(sdb, path, users, n, fp, address, expires_ms) ||
        sqlite3_exec(sdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        if (sqlite3_get_autocommit(sdb) == 0)
            fprintf(stderr, "lastmile-server user add: nothing added\n");
        sqlite3_exec(sdb, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    if (json)
        fputs("[", stdout);
    for (size_t i = 0; i < n; i++) {
        if (json) {
            fputs(i ? ",\n {\"id\":" : "\n {\"id\":", stdout);
            lm_json_fput_string(stdout, users[i].id);
            fputs(",\"role\":", stdout);
            lm_json_fput_string(stdout, users[i].role);
            fputs(",\"enrolment\":", stdout);
            lm_json_fput_string(stdout, users[i].enrolment);
            fputs("}", stdout);
        } else {
            printf("%s %s\n", users[i].id, users[i].enrolment);
        }
    }
    if (json)
        fputs("\n]\n", stdout);
    fprintf(stderr,
            "added %zu users; give each device its enrolment string (lastmile init --enrol "
            "...): each works once, within %llu h, and is not shown again\n",
            n, (unsigned long long)(expires_ms / 3600000u));
    code = fflush(stdout) == 0 ? 0 : 1;
out:
    for (size_t i = 0; i < n; i++)
        OPENSSL_cleanse(users[i].enrolment, sizeof users[i].enrolment);
    lm_free(users);
    lm_free(text);
    lm_replica_close(r);
    return code;
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
        uint64_t ems = expires ? parse_duration(expires) : EXPIRES_DEFAULT_MS;
        if (!ems || (address && strlen(address) > 127)) {
            fprintf(stderr, "lastmile-server user add: %s\n",
                    ems ? "--address is too long"
                        : "--expires wants a duration like 30m, 12h or 7d (at most a year)");
            return 2;
        }
        return user_add_csv(db, csv, address, ems, json);
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
    if (!name_valid(uname, "add"))
        return 2;

    lm_replica *r = NULL;
    if (open_db(db, &r, "add") != LM_OK)
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
    if (open_db(db, &r, "update") != LM_OK)
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
