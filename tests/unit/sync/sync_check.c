/*
 * sync_check.c — a damaged replica: SQLite's checks through
 * lm_replica_check and lm_file_check, the read-only open a full disk
 * needs, and lm_replica_salvage (a new replica gets exactly the damaged
 * one's own work the server lacks, readable past an unreadable page).
 */
#include "sync_test_util.h"

static const char *const villages[] = {"v1"};
static const lm_scope agent_scope = {LM_ROLE_AGENT, "ag", villages, 1, NULL};

static void collections(lm_replica *r, int from, int to)
{
    char sql[600];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE k(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM k WHERE i < %d) "
             "INSERT INTO collections (id, agent_id, farmer_id, village, product, grade, "
             "weight_g, unit_price_fen, amount_fen, collected_at, note) SELECT printf('c%%05d', "
             "i), 'ag', 'f1', 'v1', 'potato', 'A', 1000 + i, 250, 250 + i, 1700000000000 + i, "
             "'a note long enough to fill pages a little faster than bare rows' FROM k",
             from, to);
    CHECK_RC(st_exec(r, sql), SQLITE_OK);
}

/* Garbage over the middle leaf page of collections; its page number. */
static int damage(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int page = 0, n = 0, pages[4096];
    CHECK_RC(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    if (sqlite3_prepare_v2(db,
                           "SELECT pageno FROM dbstat WHERE name = 'collections' AND pagetype = "
                           "'leaf' ORDER BY path",
                           -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW && n < 4096)
            pages[n++] = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    CHECK(n >= 3);
    if (n < 3)
        return 0;
    page = pages[n / 2];
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 37u + 11u);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f)
        return 0;
    fseek(f, (long)(page - 1) * 4096, SEEK_SET);
    CHECK(fwrite(junk, 1, sizeof junk, f) == sizeof junk);
    fclose(f);
    return page;
}

static void count_line(const char *line, void *ud)
{
    (void)line;
    (*(int *)ud)++;
}

static void test_check(void)
{
    uint64_t clock = 1700000000000ull;
    char path[400], err[256];
    lm_replica *r = st_open("chk.db", 3, &clock);
    collections(r, 1, 600);
    CHECK_RC(lm_replica_check(r, 0, NULL, NULL), LM_OK);
    CHECK_RC(lm_replica_check(r, 1, NULL, NULL), LM_OK);
    CHECK_RC(lm_replica_check(NULL, 0, NULL, NULL), LM_EINVAL);
    lm_replica_close(r);
    st_path(path, sizeof path, "chk.db");
    CHECK_RC(lm_file_check(path, 1, NULL, NULL, err, sizeof err), LM_OK);
    CHECK(damage(path) > 0);
    int lines = 0;
    CHECK_RC(lm_file_check(path, 1, count_line, &lines, err, sizeof err), LM_ECORRUPT);
    CHECK(lines > 0 && err[0]);
    lines = 0;
    CHECK_RC(lm_file_check(path, 0, count_line, &lines, err, sizeof err), LM_ECORRUPT);
    CHECK(lines > 0);
    /* the page is not on the open's path: it opens, the quick check finds it */
    lm_replica_options o = {.now_ms = st_now, .now_ud = &clock};
    CHECK_RC(lm_replica_open(path, &o, &r, err, sizeof err), LM_OK);
    CHECK_RC(lm_replica_check(r, 0, NULL, NULL), LM_ECORRUPT);
    CHECK(strlen(lm_replica_errmsg(r)) > 0);
    lm_replica_close(r);
    st_path(path, sizeof path, "missing.db");
    CHECK(lm_file_check(path, 0, NULL, NULL, err, sizeof err) != LM_OK);
}

static void test_read_only(void)
{
    uint64_t clock = 1700000000000ull, pending = 0, before = 0;
    char path[400], err[256];
    lm_replica *r = st_open("ro.db", 4, &clock);
    collections(r, 1, 3);
    CHECK_RC(lm_replica_pending_count(r, &before), LM_OK);
    lm_replica_close(r);
    st_path(path, sizeof path, "ro.db");
    lm_replica_options o = {.now_ms = st_now, .now_ud = &clock, .read_only = 1};
    CHECK_RC(lm_replica_open(path, &o, &r, err, sizeof err), LM_OK);
    CHECK_EQ_INT(lm_replica_site(r), 4);
    CHECK_RC(lm_replica_pending_count(r, &pending), LM_OK);
    CHECK_EQ_INT(pending, before);
    CHECK(st_exec(r, "DELETE FROM collections") != SQLITE_OK); /* query_only */
    lm_replica_close(r);
    /* a file that would need a migration is not migrated read-only */
    sqlite3 *db = NULL;
    st_path(path, sizeof path, "plain.db");
    CHECK_RC(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_RC(sqlite3_exec(db, "CREATE TABLE x(y)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    CHECK_RC(lm_replica_open(path, &o, &r, err, sizeof err), LM_ESCHEMA);
    CHECK(r == NULL);
}

static void test_salvage(void)
{
    uint64_t clock = 1700000000000ull;
    lm_replica *srv = st_open_as("s_srv.db", 1, &clock, 1);
    lm_replica *bad = st_open("s_bad.db", 7, &clock);
    /* three purchases the server has, a farmer it deleted since */
    collections(bad, 1, 3);
    CHECK_RC(st_push(bad, srv, &agent_scope, NULL), LM_OK);
    CHECK_RC(st_exec(srv, "INSERT INTO farmers (id, name, village) VALUES ('f9', 'Gone', 'v1')"),
             SQLITE_OK);
    CHECK_RC(st_pull(srv, bad, &agent_scope), LM_OK);
    CHECK_RC(st_exec(srv, "DELETE FROM farmers WHERE id = 'f9'"), SQLITE_OK);
    /* a farmer another site wrote that never reached this server */
    lm_change ch = {"farmers",
                    "f8",
                    "name",
                    {.type = LM_VAL_TEXT, .bytes = (uint8_t *)"x", .len = 1},
                    LM_HLC_MAKE(clock, 0),
                    9,
                    0,
                    0};
    lm_apply_result res;
    CHECK_RC(lm_replica_apply(bad, &ch, 1, NULL, &res), LM_OK);
    lm_apply_result_clear(&res);
    /* two purchases only the damaged replica has */
    collections(bad, 4, 5);
    /* a change to a purchase the server holds, never pushed; a conflict
     * and a refusal in the local logs */
    CHECK_RC(st_exec(bad, "UPDATE collections SET note = 'wet sacks' WHERE id = 'c00001'"),
             SQLITE_OK);
    CHECK_RC(st_exec(bad,
                     "INSERT INTO lm_conflicts(tbl, pk, col, winner_value, loser_value,"
                     " winner_hlc, winner_site, loser_hlc, loser_site, at)"
                     " VALUES('farmers', 'f1', 'phone', '139', '138', 5, 1, 4, 7, 9);"
                     "INSERT INTO lm_refusals(tbl, pk, col, value, hlc, site, code, reason, at)"
                     " VALUES('collections', 'c00002', 'weight_g', 5, 3, 7, -20, 'immutable',"
                     " 9)"),
             SQLITE_OK);
    lm_replica_close(bad);

    lm_replica *fresh = st_open("s_new.db", 8, &clock);
    CHECK_RC(st_pull(srv, fresh, &agent_scope), LM_OK);
    char path[400];
    st_path(path, sizeof path, "s_bad.db");
    lm_salvage_stats sv;
    CHECK_RC(lm_replica_salvage(fresh, path, &sv), LM_OK);
    CHECK_EQ_INT(sv.rows_copied, 2);
    CHECK_EQ_INT(sv.rows_foreign, 1);
    CHECK_EQ_INT(sv.rows_known, 4); /* c1..c3 and the deleted farmer */
    CHECK_EQ_INT(sv.tables_damaged, 0);
    CHECK_EQ_INT(sv.cells_copied, 1);
    CHECK_EQ_INT(sv.conflicts_copied, 1);
    CHECK_EQ_INT(sv.refusals_copied, 1);
    char note[64];
    CHECK(strcmp(
              st_text(fresh, "SELECT note FROM collections WHERE id = 'c00001'", note, sizeof note),
              "wet sacks") == 0);
    CHECK_EQ_INT(st_int(fresh, "SELECT count(*) FROM lm_conflicts WHERE pk = 'f1' AND"
                               " loser_value = '138' AND resolved = 0"),
                 1);
    CHECK_EQ_INT(st_int(fresh, "SELECT count(*) FROM lm_refusals WHERE pk = 'c00002' AND"
                               " reason = 'immutable'"),
                 1);
    CHECK_EQ_INT(st_int(fresh, "SELECT count(*) FROM farmers"), 0);
    CHECK_EQ_INT(st_int(fresh, "SELECT count(*) FROM collections WHERE received_at IS NULL "
                               "AND id IN ('c00004', 'c00005')"),
                 2);
    /* sent under the new site, once */
    CHECK_RC(st_push(fresh, srv, &agent_scope, NULL), LM_OK);
    CHECK_EQ_INT(st_int(srv, "SELECT count(*) FROM collections"), 5);
    CHECK_EQ_INT(st_int(srv, "SELECT count(DISTINCT site) FROM lm_versions v JOIN lm_columns c "
                             "ON c.tid = v.tid AND c.tbl = 'collections' "
                             "WHERE v.pk IN ('c00004', 'c00005') AND v.site <> 1"),
                 1);
    uint64_t pending = 1;
    CHECK_RC(lm_replica_pending_count(fresh, &pending), LM_OK);
    CHECK_EQ_INT(pending, 0);
    /* the note reached the server, as a fast-forward: no conflict */
    CHECK(
        strcmp(st_text(srv, "SELECT note FROM collections WHERE id = 'c00001'", note, sizeof note),
               "wet sacks") == 0);
    CHECK_EQ_INT(st_int(srv, "SELECT count(*) FROM lm_conflicts"), 0);
    /* salvaging again finds nothing new */
    CHECK_RC(lm_replica_salvage(fresh, path, &sv), LM_OK);
    CHECK_EQ_INT(sv.rows_copied, 0);
    CHECK_EQ_INT(sv.cells_copied, 0);
    CHECK_EQ_INT(sv.conflicts_copied + sv.refusals_copied, 0);
    CHECK_EQ_INT(st_int(fresh, "SELECT count(*) FROM lm_conflicts"), 1);
    lm_replica_close(fresh);
    lm_replica_close(srv);
}

static void test_salvage_damaged(void)
{
    uint64_t clock = 1700000000000ull;
    lm_replica *bad = st_open("d_bad.db", 7, &clock);
    collections(bad, 1, 600);
    lm_replica_close(bad);
    char path[400];
    st_path(path, sizeof path, "d_bad.db");
    CHECK(damage(path) > 0);
    lm_replica *fresh = st_open("d_new.db", 8, &clock);
    lm_salvage_stats sv;
    CHECK_RC(lm_replica_salvage(fresh, path, &sv), LM_OK);
    CHECK_EQ_INT(sv.tables_damaged, 1);
    CHECK(strcmp(sv.damaged, "collections") == 0);
    CHECK(sv.rows_copied > 400 && sv.rows_copied < 600);
    /* both ends of the table: read forward and backward around the page */
    CHECK_EQ_INT(st_int(fresh, "SELECT count(*) FROM collections WHERE id IN ('c00001', "
                               "'c00600')"),
                 2);
    CHECK_RC(lm_replica_salvage(NULL, path, &sv), LM_EINVAL);
    st_path(path, sizeof path, "nothing-here/x.db");
    CHECK(lm_replica_salvage(fresh, path, &sv) != LM_OK);
    lm_replica_close(fresh);
}

int main(void)
{
    st_mkdir("check");
    test_check();
    test_read_only();
    test_salvage();
    test_salvage_damaged();
    st_rmdir();
    return lm_test_done("sync_check");
}
