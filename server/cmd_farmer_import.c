/*
 * cmd_farmer_import.c — `lastmile-server farmer import --csv FILE`: loads
 * the official register of poor households (household id, name, village)
 * and matches the farmers agents recorded in the field to it by household
 * id. Nothing is guessed:
 *   matched     same household id, same name and village: the farmer is
 *               marked registered_poor = 1 (a SYSTEM write, synced to the
 *               agents of that village);
 *   doubtful    same household id but the name or the village differs:
 *               listed, the farmer is left as it is;
 *   unmatched   a register entry no recorded farmer carries: listed;
 *   unregistered a farmer recorded as poor whose household id is not in
 *               the register (or who has none): listed, left as it is.
 * The register is kept in the server-only table lm_poor_register (not
 * synced); a new import replaces it.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "lm_text.h"
#include "args.h"
#include "register_file.h"

static const char usage[] =
    "usage: lastmile-server farmer import --db PATH --csv FILE [--encoding utf-8|gbk]\n"
    "                                     [--replace-with-empty]\n"
    "\n"
    "FILE: CSV, one household per line: household_id,name,village. A first line\n"
    "household_id,name,village or 户号,姓名,村 is a header; fields may be\n"
    "double-quoted; CRLF line ends and a UTF-8 byte-order mark are fine. The file\n"
    "must be UTF-8, or GBK with --encoding gbk (converted). Every village must be\n"
    "in the catalog. The whole file replaces the register, or nothing changes: a\n"
    "bad line names FILE:LINE, and a file without households is refused unless\n"
    "--replace-with-empty. Farmers are matched by household id; the report lists\n"
    "matched, doubtful, unmatched and unregistered households.\n"
    "\n"
    "usage: lastmile-server farmer deactivate|reactivate --db PATH --farmer ID\n"
    "(see lastmile-server farmer deactivate --help)\n";

#define LINE_MAX_BYTES 4096

/* The header names of each column, in English and Chinese. */
static const char *const header_names[3][3] = {
    {"household_id", "household", "户号"}, {"name", "姓名", NULL}, {"village", "村", NULL}};

/* 1 when field is one of column k's header names (ASCII case ignored). */
static int is_header_name(int k, const char *field)
{
    for (int i = 0; i < 3; i++) {
        const char *h = header_names[k][i];
        if (h && strlen(h) == strlen(field)) {
            size_t j = 0;
            while (h[j] && (h[j] | 0x20) == (field[j] | 0x20))
                j++;
            if (!h[j])
                return 1;
        }
    }
    return 0;
}

/* Checks one line's fields and inserts it; LM_OK or LM_EINVAL/LM_EDB
 * with "PATH:LINE: reason" in err. */
static int insert_line(sqlite3 *db, sqlite3_stmt *ins, char **fields, const char *path, long no,
                       char *err, size_t err_size)
{
    for (int i = 0; i < 3; i++) {
        fields[i] = lm__csv_trim(fields[i]);
        sqlite3_bind_text(ins, i + 1, fields[i], -1, SQLITE_STATIC);
    }
    if (!*fields[0] || !*fields[1] || !*fields[2]) {
        snprintf(err, err_size, "%s:%ld: empty field", path, no);
        return LM_EINVAL;
    }
    int known = lm__hq_exists(db, "villages", "name", fields[2]);
    if (known != 1) {
        snprintf(err, err_size, "%s:%ld: %s '%s'%s", path, no,
                 known == 0 ? "unknown village" : "cannot look up village", fields[2],
                 known == 0 ? " (not in the catalog)" : "");
        return known == 0 ? LM_EINVAL : LM_EDB;
    }
    int step = sqlite3_step(ins);
    sqlite3_reset(ins);
    if (step != SQLITE_DONE) {
        snprintf(err, err_size, "%s:%ld: %s", path, no,
                 sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_PRIMARYKEY
                     ? "household id listed twice"
                     : sqlite3_errmsg(db));
        return LM_EINVAL;
    }
    return LM_OK;
}

/* Replaces lm_poor_register with the households of text (the file's
 * UTF-8 content, modified in place) inside the caller's transaction;
 * *n_rows gets how many, *n_before how many the register held. */
static int load_register(sqlite3 *db, char *text, const char *path, int *n_rows, int *n_before,
                         char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS lm_poor_register(household_id TEXT PRIMARY KEY,"
                     " name TEXT NOT NULL, village TEXT NOT NULL);",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM lm_poor_register", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        snprintf(err, err_size, "%s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return LM_EDB;
    }
    *n_before = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_exec(db, "DELETE FROM lm_poor_register", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO lm_poor_register VALUES(?1, ?2, ?3)", -1, &st, NULL) !=
            SQLITE_OK) {
        snprintf(err, err_size, "%s", sqlite3_errmsg(db));
        return LM_EDB;
    }
    int rc = LM_OK, seen_data = 0, n;
    *n_rows = 0;
    lm__csv_lines it;
    char *fields[3];
    lm__csv_lines_init(&it, text, LINE_MAX_BYTES);
    while (rc == LM_OK && (n = lm__csv_next(&it, fields, 3)) != LM__CSV_END) {
        long no = it.no;
        if (n == LM__CSV_LONG) {
            rc = lm__csv_long(&it, path, err, err_size);
            break;
        }
        if (n != 3) {
            snprintf(err, err_size, "%s:%ld: expected household_id,name,village", path, no);
            rc = LM_EINVAL;
            break;
        }
        if (!seen_data++ && is_header_name(0, fields[0])) {
            if (!is_header_name(1, fields[1]) || !is_header_name(2, fields[2])) {
                snprintf(err, err_size,
                         "%s:%ld: header must be household_id,name,village (or 户号,姓名,村)", path,
                         no);
                rc = LM_EINVAL;
            }
            continue;
        }
        rc = insert_line(db, st, fields, path, no, err, err_size);
        *n_rows += rc == LM_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Prints every row of sql, a tab-separated line each after the label; the
 * cells go through lm_text_fput, so a TAB or newline inside a name shows as
 * \t or \n and cannot forge a field or a line (a summary, say). */
static int list(sqlite3 *db, const char *label, const char *sql, int *count)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    int step;
    *count = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        fputs(label, stdout);
        for (int k = 0; k < sqlite3_column_count(st); k++) {
            const char *t = (const char *)sqlite3_column_text(st, k);
            putchar('\t');
            lm_text_fput(stdout, t);
        }
        putchar('\n');
        (*count)++;
    }
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? LM_OK : LM_EDB;
}

static const char sql_mark[] =
    "UPDATE farmers SET registered_poor = 1 WHERE COALESCE(registered_poor, 0) != 1 AND"
    " EXISTS (SELECT 1 FROM lm_poor_register r WHERE r.household_id = farmers.household_id"
    " AND r.name = farmers.name AND r.village = farmers.village)";
static const char sql_matched[] =
    "SELECT COUNT(*) FROM farmers f JOIN lm_poor_register r ON r.household_id = f.household_id"
    " AND r.name = f.name AND r.village = f.village";
static const char sql_doubtful[] =
    "SELECT r.household_id, r.name, r.village, f.id, f.name, f.village FROM farmers f"
    " JOIN lm_poor_register r ON r.household_id = f.household_id"
    " WHERE r.name != f.name OR r.village != f.village ORDER BY r.household_id, f.id";
static const char sql_unmatched[] =
    "SELECT r.household_id, r.name, r.village FROM lm_poor_register r WHERE NOT EXISTS"
    " (SELECT 1 FROM farmers f WHERE f.household_id = r.household_id) ORDER BY 1";
static const char sql_unregistered[] =
    "SELECT f.id, f.name, f.village, COALESCE(f.household_id, '') FROM farmers f"
    " WHERE f.registered_poor = 1 AND NOT EXISTS (SELECT 1 FROM lm_poor_register r"
    " WHERE r.household_id = f.household_id) ORDER BY f.id";

int lm__cmd_farmer(int argc, char **argv)
{
    if (argc >= 1 && (!strcmp(argv[0], "deactivate") || !strcmp(argv[0], "reactivate")))
        return lm__cmd_farmer_state(argc, argv);
    if (argc < 1 || strcmp(argv[0], "import") != 0) {
        int help = argc >= 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0);
        fputs(usage, help ? stdout : stderr);
        return help ? 0 : 2;
    }
    const char *db = NULL, *csv = NULL, *encoding = NULL;
    int replace_with_empty = 0;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                     {"csv", LM_OPT_VALUE, &csv, NULL},
                     {"encoding", LM_OPT_VALUE, &encoding, NULL},
                     {"replace-with-empty", LM_OPT_FLAG, NULL, &replace_with_empty}};
    int prc = lm_args_run(argc - 1, argv + 1, opts, sizeof opts / sizeof opts[0],
                          "lastmile-server farmer import", usage, "db,csv");
    if (prc != LM_ARGS_GO)
        return prc;
    if (encoding && strcmp(encoding, "utf-8") != 0 && strcmp(encoding, "gbk") != 0 &&
        strcmp(encoding, "gb18030") != 0) {
        fprintf(stderr, "lastmile-server farmer import: --encoding must be utf-8, gbk or "
                        "gb18030\n");
        return 2;
    }
    char err[512] = "";
    char *text = NULL;
    size_t len = 0;
    int rc = lm__register_file_read(csv, encoding, &text, &len, err, sizeof err);
    if (rc != LM_OK) {
        fprintf(stderr, "lastmile-server farmer import: %s\n", err);
        return 1;
    }
    int result = 1, marked = 0, n_match = 0, n_doubt = 0, n_unmatched = 0, n_unreg = 0;
    int n_rows = 0, n_before = 0;
    lm_replica *r = lm__hq_open(db, "farmer import");
    if (!r)
        goto fail_open;
    sqlite3 *sdb = lm_replica_db(r);
    if (sqlite3_exec(sdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, sizeof err, "%s", sqlite3_errmsg(sdb));
        goto fail_tx;
    }
    if (load_register(sdb, text, csv, &n_rows, &n_before, err, sizeof err) != LM_OK)
        goto fail_rollback;
    if (n_rows == 0 && !replace_with_empty) {
        snprintf(err, sizeof err,
                 "%s: no households (empty, or a header only); the register of %d households"
                 " is left as it is (--replace-with-empty empties it)",
                 csv, n_before);
        goto fail_rollback;
    }
    if (sqlite3_exec(sdb, sql_mark, NULL, NULL, NULL) != SQLITE_OK)
        goto fail_db;
    marked = sqlite3_changes(sdb);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sdb, sql_matched, -1, &st, NULL) != SQLITE_OK)
        goto fail_db;
    if (sqlite3_step(st) == SQLITE_ROW)
        n_match = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    printf("register\t%d households (replacing %d)\n", n_rows, n_before);
    if (list(sdb, "doubtful", sql_doubtful, &n_doubt) != LM_OK ||
        list(sdb, "unmatched", sql_unmatched, &n_unmatched) != LM_OK ||
        list(sdb, "unregistered", sql_unregistered, &n_unreg) != LM_OK)
        goto fail_db;
    if (sqlite3_exec(sdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail_db;
    if (lm_replica_stamp(r, NULL) != LM_OK) {
        snprintf(err, sizeof err, "%s", lm_replica_errmsg(r));
        goto fail_tx;
    }
    printf("matched %d (newly marked poor %d), doubtful %d, unmatched %d, unregistered %d\n",
           n_match, marked, n_doubt, n_unmatched, n_unreg);
    result = 0;
    goto done;

fail_db:
    snprintf(err, sizeof err, "%s", sqlite3_errmsg(sdb));
fail_rollback:
    sqlite3_exec(sdb, "ROLLBACK", NULL, NULL, NULL);
fail_tx:
    fprintf(stderr, "lastmile-server farmer import: %s\n", err);
done:
    lm_replica_close(r);
fail_open:
    lm_free(text);
    return result;
}
