/*
 * farmer_lookup.c — resolving --farmer references, the duplicate check and
 * the phone check (see farmer_lookup.h).
 */
#include "farmer_lookup.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Exact id first: a name may look like an id prefix, an id never loses to
 * it. Then names and prefixes together, so an ambiguity between them is
 * shown rather than silently settled. */
static const char exact_sql[] = "SELECT id FROM farmers WHERE id = ?1";
static const char candidates_sql[] =
    "SELECT id, name, village, phone FROM farmers WHERE name = ?1"
    " OR (length(?1) >= ?2 AND substr(id, 1, length(?1)) = upper(?1))"
    " ORDER BY created_at, id LIMIT ?3";

static void copy_id(char id_out[LM_ID_SIZE], const unsigned char *id)
{
    snprintf(id_out, LM_ID_SIZE, "%s", id ? (const char *)id : "");
}

int lm_farmer_resolve(const char *cmd, sqlite3 *db, const char *ref, char id_out[LM_ID_SIZE])
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, exact_sql, -1, &st, NULL) != SQLITE_OK)
        return lm_cli_error(cmd, "cannot read farmers: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        copy_id(id_out, sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return LM_EXIT_OK;
    if (rc != SQLITE_DONE)
        return lm_cli_error(cmd, "cannot read farmers: %s", sqlite3_errmsg(db));

    if (sqlite3_prepare_v2(db, candidates_sql, -1, &st, NULL) != SQLITE_OK)
        return lm_cli_error(cmd, "cannot read farmers: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, LM_FARMER_MIN_PREFIX);
    sqlite3_bind_int(st, 3, LM_FARMER_MAX_CANDIDATES + 1);
    char first[LM_ID_SIZE] = "";
    int n = 0;
    char list[LM_FARMER_MAX_CANDIDATES][512];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == 0)
            copy_id(first, sqlite3_column_text(st, 0));
        if (n < LM_FARMER_MAX_CANDIDATES) {
            const unsigned char *phone = sqlite3_column_text(st, 3);
            snprintf(list[n], sizeof list[n], "  %s  %s  %s%s%s", sqlite3_column_text(st, 0),
                     sqlite3_column_text(st, 1), sqlite3_column_text(st, 2), phone ? "  " : "",
                     phone ? (const char *)phone : "");
        }
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return lm_cli_error(cmd, "cannot read farmers: %s", sqlite3_errmsg(db));
    if (n == 1) {
        memcpy(id_out, first, LM_ID_SIZE);
        return LM_EXIT_OK;
    }
    if (n == 0)
        return lm_cli_error(cmd, "unknown farmer '%s' (try 'lastmile farmer find %s')", ref, ref);
    fprintf(stderr, "lastmile: %s: '%s' matches %s%d farmers; give the id:\n", cmd, ref,
            n > LM_FARMER_MAX_CANDIDATES ? "more than " : "",
            n > LM_FARMER_MAX_CANDIDATES ? LM_FARMER_MAX_CANDIDATES : n);
    for (int i = 0; i < n && i < LM_FARMER_MAX_CANDIDATES; i++)
        fprintf(stderr, "%s\n", list[i]);
    return LM_EXIT_USAGE;
}

int lm_farmer_duplicate(sqlite3 *db, const char *name, const char *village, const char *except_id,
                        char id_out[LM_ID_SIZE])
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT id FROM farmers WHERE name = ?1 AND village = ?2"
                           " AND (?3 IS NULL OR id <> ?3) ORDER BY created_at, id LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, village, -1, SQLITE_STATIC);
    if (except_id)
        sqlite3_bind_text(st, 3, except_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : LM_EDB;
    if (found == 1)
        copy_id(id_out, sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return found;
}

int lm_farmer_phone_ok(const char *phone)
{
    const char *p = phone + (phone[0] == '+');
    int digits = 0;
    char first_digit = *p;
    for (; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            digits++;
            continue;
        }
        /* a space or '-' only between two digits: "138 0013 8000" */
        int between = digits > 0 && isdigit((unsigned char)p[-1]) && isdigit((unsigned char)p[1]);
        if (!((*p == ' ' || *p == '-') && between))
            return 0;
    }
    if (digits < 7 || digits > 15)
        return 0;
    /* 11 digits without a country code: a mainland mobile (1xx xxxx xxxx)
     * or a landline with its 0-prefixed area code */
    if (digits == 11 && phone[0] != '+' && first_digit != '1' && first_digit != '0')
        return 0;
    return 1;
}
