/*
 * sync_clock.c — the hybrid logical clock (monotonic, across restarts,
 * receive rule, clamping), ids, server time, and the schema's versioning:
 * create, reopen, upgrade of an untouched file, refusal of a newer one,
 * all-or-nothing migration.
 */
#include "sync_test_util.h"

static void test_hlc(void)
{
    uint64_t clock = 1700000000000ull;
    lm_replica *r = st_open("hlc.db", 5, &clock);
    uint64_t a = 0, b = 0, c = 0;
    CHECK_RC(lm_replica_hlc_next(r, &a), LM_OK);
    CHECK_RC(lm_replica_hlc_next(r, &b), LM_OK);
    CHECK(b > a);
    CHECK_EQ_INT(LM_HLC_MS(a), clock);
    /* the wall clock steps back: the HLC does not */
    clock -= 5000;
    CHECK_RC(lm_replica_hlc_next(r, &c), LM_OK);
    CHECK(c > b);
    lm_replica_close(r);
    /* nor across a restart with the clock still behind */
    r = st_open("hlc.db", 5, &clock);
    uint64_t d = 0;
    CHECK_RC(lm_replica_hlc_next(r, &d), LM_OK);
    CHECK(d > c);
    CHECK_EQ_INT(lm_replica_site(r), 5);
    /* receive rule: after applying a version from the future (within the
     * drift) local writes order after it */
    uint64_t remote = LM_HLC_MAKE(clock + 60000, 3);
    lm_change ch = {"products", "p1", "name", {.type = LM_VAL_NULL}, remote, 9, 0, 0};
    lm_apply_result res;
    CHECK_RC(lm_replica_apply(r, &ch, 1, NULL, &res), LM_OK);
    CHECK_EQ_INT(res.clamped, 0);
    lm_apply_result_clear(&res);
    uint64_t e = 0;
    CHECK_RC(lm_replica_hlc_next(r, &e), LM_OK);
    CHECK(e > remote);
    /* too far ahead: clamped to our clock and flagged */
    uint64_t far = LM_HLC_MAKE(clock + 24ull * 3600 * 1000, 0);
    lm_change ch2 = {"products", "p2", "name", {.type = LM_VAL_NULL}, far, 9, 0, 0};
    CHECK_RC(lm_replica_apply(r, &ch2, 1, NULL, &res), LM_OK);
    CHECK_EQ_INT(res.clamped, 1);
    lm_apply_result_clear(&res);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_flags WHERE pk='p2'"), 1);
    long long stored = st_int(r, "SELECT hlc FROM lm_versions WHERE pk='p2'");
    CHECK(stored > 0 && (uint64_t)stored < far);
    uint64_t f = 0;
    CHECK_RC(lm_replica_hlc_next(r, &f), LM_OK);
    CHECK(f < far);
    /* server time: an offset applied to the physical part */
    CHECK_RC(lm_replica_set_server_time(r, clock + 3600000), LM_OK);
    CHECK_RC(lm_replica_hlc_next(r, &f), LM_OK);
    CHECK_EQ_INT(LM_HLC_MS(f), clock + 3600000);
    lm_replica_close(r);
    r = st_open("hlc.db", 5, &clock);
    CHECK_RC(lm_replica_hlc_next(r, &f), LM_OK);
    CHECK_EQ_INT(LM_HLC_MS(f), clock + 3600000);
    CHECK_RC(lm_replica_hlc_next(NULL, &f), LM_EINVAL);
    lm_replica_close(r);
}

static void test_ids(void)
{
    uint64_t clock = 1700000000000ull;
    lm_replica *a = st_open("id_a.db", 11, &clock), *b = st_open("id_b.db", 12, &clock);
    char prev[LM_ID_SIZE] = "", id[LM_ID_SIZE], other[LM_ID_SIZE];
    int ordered = 1, distinct = 1;
    for (int i = 0; i < 2000; i++) {
        if (i % 500 == 0)
            clock++;
        CHECK_RC(lm_replica_new_id(a, id), LM_OK);
        CHECK_RC(lm_replica_new_id(b, other), LM_OK);
        ordered &= strcmp(prev, id) < 0;
        distinct &= strcmp(id, other) != 0;
        memcpy(prev, id, sizeof id);
    }
    CHECK(ordered);
    CHECK(distinct);
    CHECK_EQ_INT(strlen(id), LM_ID_SIZE - 1);
    lm_replica_close(a);
    lm_replica_close(b);
}

/* Two connections on one replica file (the server's writer and a reader,
 * the CLI and another process) each keep the clock in memory: every HLC
 * and id they hand out is still unique, and a connection that stamps
 * after the other's HLCs orders after them. Also inside a transaction the
 * caller opened. */
static void test_hlc_two_connections(void)
{
    uint64_t clock = 1700000000000ull;
    lm_replica *a = st_open("two.db", 21, &clock), *b = st_open("two.db", 21, &clock);
    CHECK(a && b);
    if (!a || !b)
        return;
    CHECK_EQ_INT(lm_replica_site(b), 21);
    uint64_t seen[400], h = 0;
    int n = 0, increasing = 1;
    char ida[LM_ID_SIZE], idb[LM_ID_SIZE];
    for (int i = 0; i < 100; i++) {
        /* the physical clock stands still: only the counter separates */
        CHECK_RC(lm_replica_hlc_next(a, &h), LM_OK);
        increasing &= n == 0 || h > seen[n - 1];
        seen[n++] = h;
        CHECK_RC(lm_replica_hlc_next(b, &h), LM_OK);
        increasing &= h > seen[n - 1];
        seen[n++] = h;
        CHECK_RC(lm_replica_new_id(a, ida), LM_OK);
        CHECK_RC(lm_replica_new_id(b, idb), LM_OK);
        increasing &= strcmp(ida, idb) < 0;
    }
    CHECK(increasing);
    /* inside the caller's write transaction, on that transaction */
    CHECK_RC(st_exec(a, "BEGIN IMMEDIATE"), SQLITE_OK);
    CHECK_RC(lm_replica_hlc_next(a, &h), LM_OK);
    CHECK(h > seen[n - 1]);
    seen[n++] = h;
    CHECK_RC(st_exec(a, "COMMIT"), SQLITE_OK);
    CHECK_RC(lm_replica_hlc_next(b, &h), LM_OK);
    CHECK(h > seen[n - 1]);
    /* a capture stamped on b orders after a's HLCs */
    CHECK_RC(lm_replica_hlc_next(a, &h), LM_OK);
    CHECK_RC(st_exec(b, "INSERT INTO products(code,name) VALUES('pear','Pear')"), SQLITE_OK);
    CHECK_RC(lm_replica_stamp(b, NULL), LM_OK);
    CHECK(st_int(b, "SELECT min(hlc) FROM lm_versions WHERE pk='pear'") > (long long)h);
    /* the persisted clock is the highest handed out */
    CHECK_RC(lm_replica_hlc_next(a, &h), LM_OK);
    CHECK_EQ_INT(st_int(b, "SELECT value FROM lm_meta WHERE key='hlc_last'"), h);
    lm_replica_close(a);
    lm_replica_close(b);
}

static void test_meta(void)
{
    lm_replica *r = st_open("meta.db", 3, NULL);
    char *v = NULL;
    CHECK_RC(lm_replica_meta_get(r, "user", &v), LM_ENOTFOUND);
    CHECK(v == NULL);
    CHECK_RC(lm_replica_meta_set(r, "user", "agent-a"), LM_OK);
    CHECK_RC(lm_replica_meta_get(r, "user", &v), LM_OK);
    CHECK_STR(v, "agent-a");
    lm_free(v);
    CHECK_RC(lm_replica_meta_set(r, NULL, "x"), LM_EINVAL);
    CHECK_STR(lm_role_name(LM_ROLE_DISPATCHER), "dispatcher");
    CHECK_EQ_INT(lm_role_parse("hq"), LM_ROLE_HQ);
    CHECK_EQ_INT(lm_role_parse("boss"), -1);
    lm_replica_close(r);
}

static void test_schema(void)
{
    char path[400], err[256];
    lm_replica *r = NULL;
    /* missing file without create */
    st_path(path, sizeof path, "missing.db");
    lm_replica_options o = {.create = 0};
    CHECK_RC(lm_replica_open(path, &o, &r, err, sizeof err), LM_ENOTFOUND);
    CHECK(r == NULL && err[0]);
    CHECK_RC(lm_replica_open(NULL, &o, &r, err, sizeof err), LM_EINVAL);

    /* an existing SQLite file lastmile never touched (version 0) is
     * upgraded in place, keeping what was there */
    sqlite3 *db = NULL;
    st_path(path, sizeof path, "old.db");
    CHECK_RC(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_RC(
        sqlite3_exec(db, "CREATE TABLE notes(x); INSERT INTO notes VALUES(1)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    r = st_open("old.db", 8, NULL);
    CHECK(r != NULL);
    CHECK_EQ_INT(st_int(r, "SELECT value FROM lm_meta WHERE key='schema_version'"),
                 LM_SCHEMA_VERSION);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM notes"), 1);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_columns WHERE policy='monotonic'"), 2);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_columns WHERE policy='immutable'"), 49);
    lm_replica_close(r);
    /* reopen: nothing to migrate, same site */
    r = st_open("old.db", 99, NULL);
    CHECK(r && lm_replica_site(r) == 8);
    /* a file from a newer lastmile is refused with a clear message */
    CHECK_RC(st_exec(r, "UPDATE lm_meta SET value='99' WHERE key='schema_version'"), SQLITE_OK);
    lm_replica_close(r);
    r = NULL;
    o.create = 1;
    CHECK_RC(lm_replica_open(path, &o, &r, err, sizeof err), LM_ESCHEMA);
    CHECK(r == NULL);
    CHECK(strstr(err, "newer") != NULL && strstr(err, "99") != NULL);

    /* a migration that fails half way leaves the file as it was */
    st_path(path, sizeof path, "clash.db");
    CHECK_RC(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_RC(sqlite3_exec(db, "CREATE TABLE routes(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    CHECK_RC(lm_replica_open(path, &o, &r, err, sizeof err), LM_EDB);
    CHECK(r == NULL);
    CHECK_RC(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* What version 4 added (scope keys), taken out again. */
#define SCOPE_KEYS_DROP                                                                            \
    "DROP INDEX lm_versions_scope; ALTER TABLE lm_versions DROP COLUMN scope;"                     \
    "DROP TABLE lm_keyed;"

/* What version 7 added (load_corrections), taken out again: no older
 * version had it. */
#define LOAD_CORRECTIONS_DROP                                                                      \
    "DROP TABLE load_corrections; DELETE FROM lm_columns WHERE tbl = 'load_corrections';"

/* What version 11 added (conflict_resolutions), taken out again. */
#define RESOLUTIONS_DROP                                                                           \
    "DROP TABLE conflict_resolutions; DELETE FROM lm_columns WHERE tbl = 'conflict_resolutions';"

/* What version 15 added (road_distances, routing_settings), taken out
 * again: no older version had them. */
#define ROADS_DROP                                                                                 \
    "DROP TABLE road_distances; DROP TABLE routing_settings;"                                      \
    "DELETE FROM lm_columns WHERE tbl IN ('road_distances', 'routing_settings');"

/* What version 9 added (villages.lat/lon, warehouses), taken out again:
 * no older version had it. The villages triggers name the columns. */
#define GEOGRAPHY_DROP                                                                             \
    "DROP TRIGGER IF EXISTS lm_ins_villages; DROP TRIGGER IF EXISTS lm_upd_villages;"              \
    "DROP TRIGGER IF EXISTS lm_del_villages; ALTER TABLE villages DROP COLUMN lat;"                \
    "ALTER TABLE villages DROP COLUMN lon; DROP TABLE warehouses;"                                 \
    "DELETE FROM lm_columns WHERE tbl = 'warehouses' OR col IN ('lat', 'lon');"

/* What version 12 added (farmers.deactivated_at, receipts.voided_at and
 * void_reason, routes.status 'cancelled'), taken out again. */
#define ADMIN_DROP                                                                                 \
    "DROP TRIGGER IF EXISTS lm_ins_farmers; DROP TRIGGER IF EXISTS lm_upd_farmers;"                \
    "DROP TRIGGER IF EXISTS lm_del_farmers; DROP TRIGGER IF EXISTS lm_ins_receipts;"               \
    "DROP TRIGGER IF EXISTS lm_upd_receipts; DROP TRIGGER IF EXISTS lm_del_receipts;"              \
    "ALTER TABLE farmers DROP COLUMN deactivated_at; ALTER TABLE receipts DROP COLUMN voided_at;"  \
    "ALTER TABLE receipts DROP COLUMN void_reason;"                                                \
    "DELETE FROM lm_columns WHERE col IN ('deactivated_at', 'voided_at', 'void_reason');"          \
    "UPDATE lm_columns SET mono_order = 'planned,dispatched,done' WHERE tbl = 'routes'"            \
    " AND col = 'status';"

/* Drops every trigger: an older schema's triggers cannot name a column
 * that version did not have, and SQLite checks them when one is dropped. */
static void drop_triggers(lm_replica *r)
{
    sqlite3_stmt *st = NULL;
    CHECK_RC(sqlite3_prepare_v2(lm_replica_db(r),
                                "SELECT name FROM sqlite_master WHERE type='trigger'", -1, &st,
                                NULL),
             SQLITE_OK);
    char drop[8192] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t len = strlen(drop);
        snprintf(drop + len, sizeof drop - len, "DROP TRIGGER \"%s\";",
                 (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    CHECK_RC(st_exec(r, drop), SQLITE_OK);
}

/* Takes r's file back to an older schema with sql (which ends by setting
 * its schema_version), closes it and reopens it: it must come back at the
 * current version, with all its versions and the triggers of this build
 * (insert, update and delete on each of the 16 synced tables, and the two
 * that close conflicts, schema 11). NULL if it did not open. Every older
 * version lacks version 15's, 14's, 12's and 11's additions, all but version 9 version 9's
 * geography, and all but versions 8 and 9 version 8's table. */
static lm_replica *take_back_and_reopen(lm_replica *r, const char *name, const char *sql)
{
    CHECK_RC(st_exec(r, ROADS_DROP), SQLITE_OK);
    CHECK_RC(st_exec(r, RESOLUTIONS_DROP), SQLITE_OK);
    CHECK_RC(st_exec(r, ADMIN_DROP), SQLITE_OK);
    /* version 14: the watermark's digest, the push marks */
    CHECK_RC(st_exec(r, "ALTER TABLE lm_watermarks DROP COLUMN digest; DROP TABLE lm_push_marks"),
             SQLITE_OK);
    if (strstr(sql, "value='9'") == NULL)
        CHECK_RC(st_exec(r, GEOGRAPHY_DROP), SQLITE_OK);
    if (strstr(sql, "value='8'") == NULL && strstr(sql, "value='9'") == NULL)
        CHECK_RC(st_exec(r, LOAD_CORRECTIONS_DROP), SQLITE_OK);
    CHECK_RC(st_exec(r, sql), SQLITE_OK);
    long long versions = st_int(r, "SELECT count(*) FROM lm_versions");
    lm_replica_close(r);
    r = st_open(name, 5, NULL);
    CHECK(r);
    if (!r)
        return NULL;
    CHECK_EQ_INT(st_int(r, "SELECT value FROM lm_meta WHERE key='schema_version'"),
                 LM_SCHEMA_VERSION);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_versions"), versions);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM sqlite_master WHERE type='trigger'"), 3 * 16 + 2);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM pragma_table_info('lm_watermarks')"
                           " WHERE name='digest'"),
                 1);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_push_marks"), 0);
    return r;
}

/* A version 1 replica (per-cell log, seq index without the site, triggers
 * of that version) is upgraded to the current version on open, in one
 * transaction, keeping its versions; its capture works after. The v1 file
 * is made by taking a new file back to version 1's shape. */
static void test_migrate_v1(void)
{
    lm_replica *r = st_open("v1.db", 5, NULL);
    CHECK(r);
    CHECK_RC(st_exec(r, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan');"
                        "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun')"),
             SQLITE_OK);
    CHECK_RC(lm_replica_stamp(r, NULL), LM_OK);
    drop_triggers(r);
    if (!(r = take_back_and_reopen(
              r, "v1.db",
              SCOPE_KEYS_DROP
              "DROP INDEX lm_versions_seq; ALTER TABLE lm_versions DROP COLUMN cols;"
              "CREATE INDEX lm_versions_seq ON lm_versions(seq);"
              "CREATE TRIGGER lm_ins_farmers AFTER INSERT ON farmers BEGIN SELECT 1; END;"
              "UPDATE lm_meta SET value='1' WHERE key='schema_version'")))
        return;
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM pragma_table_info('lm_versions')"
                           " WHERE name='cols'"),
                 1);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM pragma_index_info('lm_versions_seq')"), 5);
    CHECK_RC(st_exec(r, "INSERT INTO farmers(id,name,village) VALUES('f2','Wang','Xiacun')"),
             SQLITE_OK);
    /* the version 5 trigger: one row entry of name and village */
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_versions WHERE pk='f2'"), 1);
    CHECK_EQ_INT(st_int(r, "SELECT cols FROM lm_versions WHERE pk='f2' AND cid=-1"), 6);
    lm_replica_close(r);
}

/* A version 2 replica gets version 3's triggers on open (a write that
 * replaces an unacknowledged local one keeps its prev_hlc), in one
 * transaction, keeping its versions. */
static void test_migrate_v2(void)
{
    lm_replica *r = st_open("v2.db", 5, NULL);
    CHECK(r);
    CHECK_RC(st_exec(r, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan');"
                        "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun')"),
             SQLITE_OK);
    CHECK_RC(lm_replica_stamp(r, NULL), LM_OK);
    long long first = st_int(r, "SELECT hlc FROM lm_versions WHERE pk='f1' AND cid=1");
    /* version 2's update trigger, as far as prev_hlc goes: always the
     * replaced version */
    drop_triggers(r);
    if (!(r = take_back_and_reopen(
              r, "v2.db",
              SCOPE_KEYS_DROP
              "CREATE TRIGGER lm_upd_farmers AFTER UPDATE ON farmers BEGIN"
              " UPDATE lm_seq SET v = v + 1;"
              " UPDATE lm_versions SET prev_hlc = hlc, hlc = NULL, site = NULL,"
              " seq = (SELECT v FROM lm_seq) WHERE tid = 3 AND pk = NEW.id AND cid = 1;"
              " END;"
              "UPDATE lm_meta SET value='2' WHERE key='schema_version'")))
        return;
    /* f1's name was never pushed: two renames both name the first write's
     * prev (0, an insert) */
    CHECK_RC(st_exec(r, "UPDATE farmers SET name='Li Ming' WHERE id='f1'"), SQLITE_OK);
    CHECK_RC(lm_replica_stamp(r, NULL), LM_OK);
    CHECK(st_int(r, "SELECT hlc FROM lm_versions WHERE pk='f1' AND cid=1") > first);
    CHECK_EQ_INT(st_int(r, "SELECT prev_hlc FROM lm_versions WHERE pk='f1' AND cid=1"), 0);
    lm_replica_close(r);
}

/* A version 3 replica gets the scope column and index on open; an agent's
 * file keeps no keys, and a server opening it (scope_keys) keys every
 * stored version from its row, '*' for tombstones and the catalog.
 * Capture writes keys after. */
static void test_migrate_v3(void)
{
    lm_replica *r = st_open("v3.db", 5, NULL);
    CHECK(r);
    CHECK_RC(st_exec(r, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan');"
                        "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun');"
                        "INSERT INTO farmers(id,name,village) VALUES('f2','Wang','Xiacun');"
                        "INSERT INTO collections(id,agent_id,farmer_id,village,weight_g)"
                        " VALUES('c1','agent-a','f1','Xiacun',1000);"
                        "INSERT INTO gradings(id,collection_id,grade) VALUES('g1','c1','A');"
                        "DELETE FROM farmers WHERE id='f2'"),
             SQLITE_OK);
    CHECK_RC(lm_replica_stamp(r, NULL), LM_OK);
    drop_triggers(r);
    if (!(r = take_back_and_reopen(r, "v3.db",
                                   SCOPE_KEYS_DROP
                                   "UPDATE lm_meta SET value='3' WHERE key='schema_version'")))
        return;
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM pragma_index_info('lm_versions_scope')"), 2);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_versions WHERE scope IS NOT NULL"), 0);
    lm_replica_close(r);

    r = st_open_as("v3.db", 5, NULL, 1);
    CHECK(r);
    if (!r)
        return;
    char buf[256];
    CHECK_STR(st_text(r,
                      "SELECT group_concat(pk || '=' || COALESCE(scope, '-'), ' ') FROM"
                      " (SELECT DISTINCT pk, scope FROM lm_versions ORDER BY pk)",
                      buf, sizeof buf),
              "Xiacun=* c1=a:agent-a f1=v:Xiacun f2=* g1=a:agent-a");
    CHECK_RC(st_exec(r, "INSERT INTO farmers(id,name,village) VALUES('f3','Zhao','Xiacun')"),
             SQLITE_OK);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_versions WHERE pk='f3' AND scope='v:Xiacun'"
                           " AND cid=-1"),
                 1);
    lm_replica_close(r);
    /* the file keeps keys for an opener that does not ask for them */
    r = st_open("v3.db", 5, NULL);
    CHECK(r);
    if (!r)
        return;
    CHECK_RC(st_exec(r, "INSERT INTO farmers(id,name,village) VALUES('f4','Qian','Xiacun')"),
             SQLITE_OK);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_versions WHERE pk='f4' AND scope='v:Xiacun'"
                           " AND cid=-1"),
                 1);
    lm_replica_close(r);
}

/* 1 when the query plan of sql names `index` (e.g. "COVERING INDEX x"). */
static int plan_uses(lm_replica *r, const char *sql, const char *index)
{
    char q[512];
    sqlite3_stmt *st = NULL;
    int found = 0;
    snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
    if (sqlite3_prepare_v2(lm_replica_db(r), q, -1, &st, NULL) != SQLITE_OK)
        return 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        found |= strstr((const char *)sqlite3_column_text(st, 3), index) != NULL;
    sqlite3_finalize(st);
    return found;
}

/* A version 5 replica's seq index (seq, site) becomes version 6's, which
 * covers reading the log by seq (outgoing.c): the read no longer looks a
 * version up by its key. Versions kept; the pending count unchanged. */
static void test_migrate_v5(void)
{
    lm_replica *r = st_open("v5.db", 5, NULL);
    CHECK(r);
    CHECK_RC(st_exec(r, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan');"
                        "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun');"
                        "UPDATE farmers SET name='Li Ming' WHERE id='f1'"),
             SQLITE_OK);
    uint64_t pending = 0, after = 0;
    CHECK_RC(lm_replica_pending_count(r, &pending), LM_OK);
    if (!(r = take_back_and_reopen(r, "v5.db",
                                   "DROP INDEX lm_versions_seq;"
                                   "CREATE INDEX lm_versions_seq ON lm_versions(seq, site);"
                                   "UPDATE lm_meta SET value='5' WHERE key='schema_version'")))
        return;
    char buf[256];
    CHECK_STR(st_text(r,
                      "SELECT group_concat(name, ',') FROM"
                      " (SELECT name FROM pragma_index_info('lm_versions_seq') ORDER BY seqno)",
                      buf, sizeof buf),
              "seq,site,hlc,prev_hlc,cols");
    /* outgoing.c's read (READ_COLS, READ_FILTER) walks the index alone */
    CHECK(plan_uses(r,
                    "SELECT tid, pk, cid, hlc, site, prev_hlc, seq, cols FROM lm_versions"
                    " WHERE seq > ?1 AND (?2 = 0 OR site = ?2) AND (?3 = 0 OR site <> ?3)"
                    " ORDER BY seq",
                    "COVERING INDEX lm_versions_seq"));
    CHECK_RC(lm_replica_pending_count(r, &after), LM_OK);
    CHECK_EQ_INT(after, pending);
    lm_replica_close(r);
}

/* A version 6 replica gains the counted refusal log and the index of
 * corrections by collection (schema 7), then load_corrections (schema 8):
 * the table, its six immutable columns and its capture triggers; its rows
 * are logged. */
static void test_migrate_v6(void)
{
    lm_replica *r = st_open("v6.db", 5, NULL);
    CHECK(r);
    if (!r)
        return;
    if (!(r = take_back_and_reopen(r, "v6.db",
                                   "DROP TABLE lm_refusal_counts;"
                                   "DROP INDEX adjustments_collection;"
                                   "UPDATE lm_meta SET value='6' WHERE key='schema_version'")))
        return;
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM sqlite_master WHERE name IN"
                           " ('lm_refusal_counts', 'adjustments_collection')"),
                 2);
    CHECK_RC(st_exec(r, "INSERT INTO lm_refusal_counts(user, code, tbl, reason, n)"
                        " VALUES('u', -8, 'collections', 'why', 1)"),
             SQLITE_OK);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_columns WHERE tbl = 'load_corrections'"
                           " AND policy = 'immutable'"),
                 6);
    CHECK_RC(st_exec(r, "INSERT INTO load_corrections(id, stop_id, county, loaded_weight_g)"
                        " VALUES('c1', 's1', 'Wuyuan', 61800)"),
             SQLITE_OK);
    CHECK(st_int(r, "SELECT count(*) FROM lm_versions WHERE pk = 'c1'") >= 1);
    lm_replica_close(r);
}

/* A version 8 replica gains villages.lat/lon (its villages keep their
 * rows, with NULL coordinates) and the warehouses table with its lm_columns
 * rows and capture triggers (version 9), then version 12's columns and
 * route status; a write of each is logged. */
static void test_migrate_v8(void)
{
    lm_replica *r = st_open("v8.db", 5, NULL);
    CHECK(r);
    if (!r)
        return;
    CHECK_RC(st_exec(r, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan')"), SQLITE_OK);
    if (!(r = take_back_and_reopen(r, "v8.db",
                                   "UPDATE lm_meta SET value='8' WHERE key='schema_version'")))
        return;
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM villages WHERE name = 'Xiacun' AND lat IS NULL"
                           " AND lon IS NULL"),
                 1);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_columns WHERE (tbl = 'villages' AND col IN"
                           " ('lat', 'lon') AND cid IN (2, 3)) OR tbl = 'warehouses'"),
                 5);
    CHECK_RC(st_exec(r, "UPDATE villages SET lat = 29.25, lon = 117.85 WHERE name = 'Xiacun';"
                        "INSERT INTO warehouses(name, county, lat, lon)"
                        " VALUES('Wuyuan depot', 'Wuyuan', 29.2, 117.8)"),
             SQLITE_OK);
    CHECK(st_int(r, "SELECT count(*) FROM lm_versions WHERE pk = 'Xiacun' AND cid IN (2, 3)") == 2);
    CHECK(st_int(r, "SELECT count(*) FROM lm_versions WHERE pk = 'Wuyuan depot'") >= 1);
    /* version 12: a farmer's deactivation, a receipt's void, a cancelled route */
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_columns WHERE (col = 'deactivated_at' AND"
                           " owner_role = 'system') OR (col IN ('voided_at', 'void_reason') AND"
                           " policy = 'immutable') OR (col = 'status' AND tbl = 'routes' AND"
                           " mono_order = 'planned,dispatched,done,cancelled')"),
                 4);
    CHECK_RC(st_exec(r, "INSERT INTO farmers(id, name, village) VALUES('f1', 'Li', 'Xiacun');"
                        "UPDATE farmers SET deactivated_at = 1700000000000 WHERE id = 'f1'"),
             SQLITE_OK);
    CHECK(st_int(r, "SELECT count(*) FROM lm_versions WHERE pk = 'f1' AND cid = 8") == 1);
    lm_replica_close(r);
}

/* A version 9 replica gains road_distances and routing_settings (schema
 * 15): the tables, their columns' policies and their capture triggers. */
static void test_migrate_v9(void)
{
    lm_replica *r = st_open("v9.db", 5, NULL);
    CHECK(r);
    if (!r)
        return;
    if (!(r = take_back_and_reopen(r, "v9.db",
                                   "UPDATE lm_meta SET value='9' WHERE key='schema_version'")))
        return;
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_columns WHERE tbl = 'road_distances'"), 5);
    CHECK_EQ_INT(st_int(r, "SELECT count(*) FROM lm_columns WHERE tbl = 'routing_settings'"
                           " AND policy = 'lww'"),
                 3);
    CHECK_RC(st_exec(r, "INSERT INTO road_distances(id, county, from_place, to_place, metres)"
                        " VALUES('a|b', 'Wuyuan', 'a', 'b', 12000)"),
             SQLITE_OK);
    CHECK_RC(st_exec(r, "INSERT INTO routing_settings(county, detour_permille)"
                        " VALUES('Wuyuan', 1400)"),
             SQLITE_OK);
    CHECK(st_int(r, "SELECT count(*) FROM lm_versions WHERE pk IN ('a|b', 'Wuyuan')") >= 2);
    lm_replica_close(r);
}

int main(void)
{
    st_mkdir("clock");
    test_hlc();
    test_hlc_two_connections();
    test_ids();
    test_meta();
    test_schema();
    test_migrate_v1();
    test_migrate_v2();
    test_migrate_v3();
    test_migrate_v5();
    test_migrate_v6();
    test_migrate_v8();
    test_migrate_v9();
    st_rmdir();
    return lm_test_done("sync_clock");
}
