/*
 * catalog.c — catalog lookups for the field commands (see catalog.h).
 */
#include "catalog.h"

#include <stdio.h>

#include "cli.h"
#include "lm_protocol.h"

int lm_catalog_price_today(sqlite3 *db, const char *product, const char *grade, int64_t *fen,
                           char effective_from[11])
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT price_fen, effective_from FROM prices"
                           " WHERE product = ?1 AND grade = ?2"
                           " AND effective_from <= date('now', " LM_TEXT_SQL_OFFSET ")"
                           " ORDER BY effective_from DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, product, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, grade, -1, SQLITE_STATIC);
    lm_cli_bind_utc_offset(st, lm_text_utc_offset_default());
    int rc = sqlite3_step(st), found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : LM_EDB;
    if (found == 1) {
        *fen = sqlite3_column_int64(st, 0);
        const unsigned char *from = sqlite3_column_text(st, 1);
        snprintf(effective_from, 11, "%s", from ? (const char *)from : "");
    }
    sqlite3_finalize(st);
    return found;
}
