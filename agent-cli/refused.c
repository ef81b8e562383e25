/*
 * refused.c — what the server refused, one line per record (issue 22 item
 * 4): the phone keeps one lm_refusals row per refused cell (a new purchase
 * refused whole is nine), which is what the engine needs and nobody reads.
 * People get "collections 王秀英 50.000 kg: <reason>", named from the
 * refused cells' own values (the row itself is gone: the server answered
 * a refused new row with a tombstone) or from the replica's farmers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <string.h>

#include "cli.h"

int64_t lm_cli_refusal_head(lm_replica *r)
{
    sqlite3_stmt *st = NULL;
    int64_t head = 0;
    if (sqlite3_prepare_v2(lm_replica_db(r), "SELECT COALESCE(MAX(id), 0) FROM lm_refusals", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        head = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return head;
}

/* The refused value of table.col for row pk (text, as stored), else NULL.
 * Owned by the caller. */
static char *refused_value(sqlite3 *db, const char *table, const char *pk, const char *col)
{
    sqlite3_stmt *st = NULL;
    char *v = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT CAST(value AS TEXT) FROM lm_refusals WHERE tbl = ?1 AND pk = ?2"
                           " AND col = ?3 AND value IS NOT NULL ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pk, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, col, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = lm_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

/* A farmer's name by id: the replica's, else a refused farmer's. */
static char *farmer_name(sqlite3 *db, const char *id)
{
    sqlite3_stmt *st = NULL;
    char *v = NULL;
    if (sqlite3_prepare_v2(db, "SELECT name FROM farmers WHERE id = ?1", -1, &st, NULL) ==
            SQLITE_OK &&
        (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), sqlite3_step(st) == SQLITE_ROW) &&
        sqlite3_column_text(st, 0))
        v = lm_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v ? v : refused_value(db, "farmers", id, "name");
}

/* "<name>", "<farmer> <kg> kg", "<date> <vehicle>"... for people; the id
 * when nothing better is known. */
static void record_name(sqlite3 *db, const char *table, const char *pk, char *out, size_t size)
{
    char *a = NULL, *b = NULL;
    if (!strcmp(table, "farmers")) {
        a = refused_value(db, table, pk, "name");
    } else if (!strcmp(table, "collections")) {
        char *fid = refused_value(db, table, pk, "farmer_id");
        a = fid ? farmer_name(db, fid) : NULL;
        lm_free(fid);
        b = refused_value(db, table, pk, "weight_g");
    } else if (!strcmp(table, "routes")) {
        a = refused_value(db, table, pk, "date");
        b = refused_value(db, table, pk, "vehicle");
    } else if (!strcmp(table, "route_stops")) {
        a = refused_value(db, table, pk, "village");
    } else if (!strcmp(table, "adjustments")) {
        b = refused_value(db, table, pk, "delta_weight_g");
    }
    if (b && (!strcmp(table, "collections") || !strcmp(table, "adjustments"))) {
        char kg[LM_TEXT_UNIT_SIZE], with_unit[LM_TEXT_UNIT_SIZE + 4];
        lm_text_kg(strtoll(b, NULL, 10), kg, sizeof kg);
        snprintf(with_unit, sizeof with_unit, "%s kg", kg);
        lm_free(b);
        b = lm_strdup(with_unit);
    }
    if (a && b)
        snprintf(out, size, "%s %s", a, b);
    else if (a || b)
        snprintf(out, size, "%s", a ? a : b);
    else
        snprintf(out, size, "%s", pk);
    lm_free(a);
    lm_free(b);
}

size_t lm_cli_print_refused(lm_replica *r, int64_t after_id, size_t limit, FILE *out,
                            const char *prefix)
{
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT tbl, pk, reason, MIN(id) AS first FROM lm_refusals WHERE id > ?1"
                           " GROUP BY tbl, pk, reason ORDER BY first DESC",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, after_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(st, 0);
        const char *pk = (const char *)sqlite3_column_text(st, 1);
        const char *reason = (const char *)sqlite3_column_text(st, 2);
        if (n++ >= limit)
            continue; /* counted, not printed */
        char name[512];
        record_name(db, table ? table : "?", pk ? pk : "?", name, sizeof name);
        fputs(prefix, out);
        lm_text_fput(out, table ? table : "?");
        fputc(' ', out);
        lm_text_fput(out, name);
        fputs(": ", out);
        lm_text_fput(out, reason ? reason : "refused");
        fputc('\n', out);
    }
    sqlite3_finalize(st);
    return n;
}
