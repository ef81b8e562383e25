/*
 * cmd_init.c — `lastmile-server init --db PATH`: creates the server replica
 * and its starter catalog. Running it again changes nothing.
 *
 * The catalog rows are written as plain SQL on the replica's own connection
 * (the SYSTEM role: no rights checks), so the capture triggers log them like
 * any other local write and every agent receives them on its first pull.
 * INSERT OR IGNORE keeps a second run from touching existing rows, and an
 * ignored insert fires no trigger, so nothing new is logged either.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds.h"
#include "identity.h"
#include "args.h"
#include "srvdb.h"

static const char usage[] =
    "usage: lastmile-server init --db PATH\n"
    "\n"
    "Creates the server database (idempotent) with a starter catalog:\n"
    "products potato, corn, apple, kiwi, tea; grades A, B, C; villages and\n"
    "their counties; a price per product and grade. Also makes the server's\n"
    "identity, PATH.key (Ed25519, mode 0600) and PATH.crt (self-signed), unless\n"
    "both exist, and prints the certificate's SHA-256 fingerprint, which every\n"
    "enrolment string carries and agents pin.\n";

static const char *const villages[][2] = {
    {"shangba", "pingshan"}, {"xiaba", "pingshan"}, {"liangshui", "pingshan"},
    {"baishi", "yunxi"},     {"heping", "yunxi"},   {"qingshan", "yunxi"},
};

static const char *const products[][3] = {
    {"potato", "Potato", "kg"},  {"corn", "Corn", "kg"},      {"apple", "Apple", "kg"},
    {"kiwi", "Kiwifruit", "kg"}, {"tea", "Tea leaves", "kg"},
};

static const char *const grades[][2] = {{"A", "Grade A"}, {"B", "Grade B"}, {"C", "Grade C"}};

/* Farm-gate prices in fen per kg for grades A, B, C, per product above. */
static const int prices_fen[5][3] = {
    {180, 150, 120}, {260, 230, 200}, {600, 480, 350}, {800, 650, 500}, {6000, 4500, 3000},
};

#define PRICE_EFFECTIVE_FROM "2026-01-01"

/* Runs one statement: text parameters ?1..?4 (NULL = not bound) and the
 * integer ?5 when the statement has one. */
static int exec_bind(sqlite3 *db, const char *sql, const char *a, const char *b, const char *c,
                     const char *d, long long n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    const char *texts[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++) {
        if (sqlite3_bind_parameter_count(st) > i && texts[i])
            sqlite3_bind_text(st, i + 1, texts[i], -1, SQLITE_STATIC);
    }
    if (sqlite3_bind_parameter_count(st) >= 5)
        sqlite3_bind_int64(st, 5, n);
    int rc = sqlite3_step(st) == SQLITE_DONE ? LM_OK : LM_EDB;
    sqlite3_finalize(st);
    return rc;
}

/* Writes the catalog rows that are missing, in one transaction. */
static int write_catalog(lm_replica *r, char *err, size_t err_size)
{
    sqlite3 *db = lm_replica_db(r);
    int rc = LM_EDB;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail_begin;
    for (size_t i = 0; i < sizeof villages / sizeof villages[0]; i++) {
        rc = exec_bind(db, "INSERT OR IGNORE INTO villages(name, county) VALUES(?1, ?2)",
                       villages[i][0], villages[i][1], NULL, NULL, 0);
        if (rc != LM_OK)
            goto fail_write;
    }
    for (size_t i = 0; i < sizeof products / sizeof products[0]; i++) {
        rc = exec_bind(db, "INSERT OR IGNORE INTO products(code, name, unit) VALUES(?1, ?2, ?3)",
                       products[i][0], products[i][1], products[i][2], NULL, 0);
        if (rc != LM_OK)
            goto fail_write;
    }
    for (size_t i = 0; i < sizeof grades / sizeof grades[0]; i++) {
        rc = exec_bind(db, "INSERT OR IGNORE INTO grades(code, name, rank) VALUES(?1, ?2, ?5)",
                       grades[i][0], grades[i][1], NULL, NULL, (long long)i + 1);
        if (rc != LM_OK)
            goto fail_write;
    }
    for (size_t p = 0; p < sizeof products / sizeof products[0]; p++) {
        for (size_t g = 0; g < sizeof grades / sizeof grades[0]; g++) {
            char id[LM_ID_SIZE];
            rc = lm_replica_new_id(r, id);
            if (rc != LM_OK)
                goto fail_write;
            /* A price row has a generated id, so idempotence is by (product,
             * grade): a price someone already set is never overwritten. */
            rc =
                exec_bind(db,
                          "INSERT INTO prices(id, product, grade, effective_from, price_fen)"
                          " SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS"
                          " (SELECT 1 FROM prices WHERE product = ?2 AND grade = ?3)",
                          id, products[p][0], grades[g][0], PRICE_EFFECTIVE_FROM, prices_fen[p][g]);
            if (rc != LM_OK)
                goto fail_write;
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail_write;
    return lm_replica_stamp(r, NULL);

fail_write:
    snprintf(err, err_size, "writing the starter catalog: %s", sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc == LM_OK ? LM_EDB : rc;
fail_begin:
    snprintf(err, err_size, "writing the starter catalog: %s", sqlite3_errmsg(db));
    return LM_EDB;
}

int lm__server_db_init(const char *path, char *err, size_t err_size)
{
    lm_replica_options o;
    memset(&o, 0, sizeof o);
    o.create = 1;
    o.scope_keys = 1; /* agents' pulls read by scope key (sync/src/scope_key.c) */
    lm_replica *r = NULL;
    int rc = lm_replica_open(path, &o, &r, err, err_size);
    if (rc != LM_OK)
        goto fail_open;
    rc = lm__srvdb_ensure_schema(lm_replica_db(r), err, err_size);
    if (rc != LM_OK)
        goto fail_schema;
    rc = write_catalog(r, err, err_size);
    if (rc != LM_OK && !*err)
        snprintf(err, err_size, "%s", lm_replica_errmsg(r));
fail_schema:
    lm_replica_close(r);
fail_open:
    return rc;
}

/* Files from before the 0600 rule (or copied in) become private. */
static void private_files(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char name[4200];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++)
        if ((size_t)snprintf(name, sizeof name, "%s%s", path, suffix[i]) < sizeof name)
            chmod(name, 0600);
}

int lm__server_db_open(const char *path, int busy_timeout_ms, int cache_kib, lm_replica **out,
                       char *err, size_t err_size)
{
    private_files(path);
    lm_replica_options o;
    memset(&o, 0, sizeof o);
    o.busy_timeout_ms = busy_timeout_ms;
    o.cache_kib = cache_kib;
    o.scope_keys = 1;
    int rc = lm_replica_open(path, &o, out, err, err_size);
    if (rc == LM_ENOTFOUND)
        snprintf(err, err_size, "%s: no such database (run `lastmile-server init --db %s`)", path,
                 path);
    return rc;
}

int lm__cmd_init(int argc, char **argv)
{
    const char *db = NULL;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL}};
    int prc = lm_args_run(argc, argv, opts, 1, "lastmile-server init", usage, "db");
    if (prc != LM_ARGS_GO)
        return prc;
    char err[512] = "";
    int rc = lm__server_db_init(db, err, sizeof err);
    if (rc != LM_OK) {
        fprintf(stderr, "lastmile-server init: %s\n", *err ? err : lm_strerror(rc));
        return 1;
    }
    uint8_t fp[LM_FINGERPRINT_SIZE];
    char hex[LM_FINGERPRINT_HEX_SIZE];
    int created = 0;
    rc = lm__identity_ensure(db, &created, fp, err, sizeof err);
    if (rc != LM_OK) {
        fprintf(stderr, "lastmile-server init: %s\n", err);
        return 1;
    }
    lm_fingerprint_hex(fp, hex);
    printf("server identity %s: sha256 %s\n", created ? "created" : "kept", hex);
    printf("initialized %s\n", db);
    return 0;
}
