/*
 * cmd_user_batch.c — `lastmile-server user add --csv FILE`: many users in
 * one transaction, all or nothing, every line checked first and named when
 * wrong (docs/server.md).
 */
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "json.h"
#include "lm_rules.h"
#include "lm_text.h"
#include "register_file.h"
#include "srvdb.h"
#include "user_cmd.h"

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
        if (lm__user_make_enrolment(sdb, fp, "add", u->id, address, expires_ms, u->enrolment) !=
            LM_OK)
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
int lm__user_add_csv(const char *db, const char *path, const char *address, uint64_t expires_ms,
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
    if (code || lm__user_open_db(db, &r, "add") != LM_OK ||
        lm__user_server_fp(db, "add", fp) != LM_OK) {
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
