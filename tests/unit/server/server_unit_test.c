/*
 * server_unit_test.c — the server's pure pieces: config file and flags,
 * --by parsing, log levels, and the
 * user scope built from a users row under allocation failure.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "lm_test.h"
#include "report.h"
#include "srvdb.h"

static void test_config(void)
{
    lm_server_config c;
    char err[256];
    lm_server_config_defaults(&c);
    CHECK_STR(c.listen, "127.0.0.1:7070");
    CHECK_EQ_INT(c.max_frame, LM_FRAME_DEFAULT_MAX);
    CHECK_RC(lm_server_config_set(&c, "max_sessions", "12", err, sizeof err), LM_OK);
    CHECK_EQ_INT(c.max_sessions, 12);
    CHECK_RC(lm_server_config_set(&c, "max_sessions", "0", err, sizeof err), LM_EINVAL);
    CHECK_RC(lm_server_config_set(&c, "max_sessions", "12x", err, sizeof err), LM_EINVAL);
    CHECK_RC(lm_server_config_set(&c, "max_sessions", "-3", err, sizeof err), LM_EINVAL);
    CHECK_EQ_INT(c.max_sessions, 12);
    CHECK_RC(lm_server_config_set(&c, "listen", "[::1]:0", err, sizeof err), LM_OK);
    CHECK_RC(lm_server_config_set(&c, "listen", "host:70000", err, sizeof err), LM_EINVAL);
    CHECK_RC(lm_server_config_set(&c, "listen", ":80", err, sizeof err), LM_EINVAL);
    CHECK_RC(lm_server_config_set(&c, "log_level", "loud", err, sizeof err), LM_EINVAL);
    CHECK_RC(lm_server_config_set(&c, "max_frame", "1000", err, sizeof err), LM_EINVAL);
    CHECK_EQ_INT(c.cache_mib, 32);
    CHECK_RC(lm_server_config_set(&c, "cache_mib", "256", err, sizeof err), LM_OK);
    CHECK_EQ_INT(c.cache_mib, 256);
    CHECK_RC(lm_server_config_set(&c, "cache_mib", "0", err, sizeof err), LM_EINVAL);
    CHECK_RC(lm_server_config_set(&c, "cache_mib", "65537", err, sizeof err), LM_EINVAL);
    CHECK_EQ_INT(c.cache_mib, 256);
    CHECK_EQ_INT(c.checkpoint_pages, 8000);
    CHECK_RC(lm_server_config_set(&c, "checkpoint_pages", "100", err, sizeof err), LM_OK);
    CHECK_EQ_INT(c.checkpoint_pages, 100);
    CHECK_RC(lm_server_config_set(&c, "checkpoint_pages", "99", err, sizeof err), LM_EINVAL);
    CHECK_RC(lm_server_config_set(&c, "checkpoint_pages", "1000001", err, sizeof err), LM_EINVAL);
    CHECK_EQ_INT(c.checkpoint_pages, 100);
    CHECK_EQ_INT(c.max_queued_mib, 16);
    CHECK_RC(lm_server_config_set(&c, "max_queued_mib", "1", err, sizeof err), LM_OK);
    CHECK_EQ_INT(c.max_queued_mib, 1);
    CHECK_RC(lm_server_config_set(&c, "max_queued_mib", "0", err, sizeof err), LM_EINVAL);
    CHECK_EQ_INT(c.max_queued_mib, 1);
    /* the two deflate windows the protocol knows, nothing between */
    CHECK_EQ_INT(c.stream_window_kib, 32);
    CHECK_RC(lm_server_config_set(&c, "stream_window_kib", "8", err, sizeof err), LM_OK);
    CHECK_EQ_INT(c.stream_window_kib, 8);
    CHECK_RC(lm_server_config_set(&c, "stream_window_kib", "16", err, sizeof err), LM_EINVAL);
    CHECK_RC(lm_server_config_set(&c, "stream_window_kib", "64", err, sizeof err), LM_EINVAL);
    CHECK_EQ_INT(c.stream_window_kib, 8);
    CHECK_RC(lm_server_config_set(&c, "colour", "blue", err, sizeof err), LM_EINVAL);
    CHECK(strstr(err, "unknown config key 'colour'") != NULL);
    /* each numeric key sets its own field, bounds inclusive, nothing else */
    CHECK_RC(lm_server_config_set(&c, "idle_timeout_ms", "100", err, sizeof err), LM_OK);
    CHECK_RC(lm_server_config_set(&c, "handshake_timeout_ms", "3600000", err, sizeof err), LM_OK);
    CHECK_RC(lm_server_config_set(&c, "handshake_timeout_ms", "3600001", err, sizeof err),
             LM_EINVAL);
    CHECK(strstr(err, "bad value '3600001' for handshake_timeout_ms") != NULL);
    CHECK_EQ_INT(c.idle_timeout_ms, 100);
    CHECK_EQ_INT(c.handshake_timeout_ms, 3600000);
    CHECK_EQ_INT(c.max_sessions, 12);
    CHECK_EQ_INT(c.cache_mib, 256);
    CHECK_EQ_INT(c.checkpoint_pages, 100);
    CHECK_EQ_INT(c.max_queued_mib, 1);
    CHECK_EQ_INT(c.max_frame, LM_FRAME_DEFAULT_MAX);

    char path[] = "/tmp/lm-server-conf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# comment\n\n  listen = 0.0.0.0:9000  \nlog_level=debug\nidle_timeout_ms = 5000\n", f);
    fclose(f);
    lm_server_config_defaults(&c);
    CHECK_RC(lm_server_config_load(&c, path, err, sizeof err), LM_OK);
    CHECK_STR(c.listen, "0.0.0.0:9000");
    CHECK_EQ_INT(c.log_level, LM_LOG_DEBUG);
    CHECK_EQ_INT(c.idle_timeout_ms, 5000);
    f = fopen(path, "w");
    fputs("db = /x.db\nthis line is wrong\n", f);
    fclose(f);
    CHECK_RC(lm_server_config_load(&c, path, err, sizeof err), LM_EINVAL);
    CHECK(strstr(err, ":2: expected key = value") != NULL);
    unlink(path);
    CHECK_RC(lm_server_config_load(&c, path, err, sizeof err), LM_EIO);
}

static void test_report_parse(void)
{
    lm_report_spec s;
    char err[256];
    CHECK_RC(lm__report_parse_by("day,agent", &s, err, sizeof err), LM_OK);
    CHECK_EQ_INT(s.n_dims, 2);
    CHECK_EQ_INT(s.dims[0], LM_DIM_DAY);
    CHECK_EQ_INT(s.dims[1], LM_DIM_AGENT);
    CHECK_RC(lm__report_parse_by(NULL, &s, err, sizeof err), LM_OK);
    CHECK_EQ_INT(s.n_dims, 0);
    CHECK_RC(lm__report_parse_by("agent,agent", &s, err, sizeof err), LM_EINVAL);
    CHECK_RC(lm__report_parse_by("agent,", &s, err, sizeof err), LM_EINVAL);
    CHECK_RC(lm__report_parse_by("farmer", &s, err, sizeof err), LM_EINVAL);
    CHECK(strstr(err, "farmer") != NULL);
    CHECK_EQ_INT(lm__report_parse_format("json"), LM_FMT_JSON);
    CHECK_EQ_INT(lm__report_parse_format("xml"), -1);
    CHECK_EQ_INT(lm_log_parse_level("debug"), LM_LOG_DEBUG);
    CHECK_EQ_INT(lm_log_parse_level("warning"), LM_LOG_WARN);
    CHECK_EQ_INT(lm_log_parse_level("chatty"), -1);
}

static void test_scope(void)
{
    /* Every allocation failure is a clean LM_ENOMEM with nothing leaked. */
    for (long long fail = 1; fail < 20; fail++) {
        lm_test_heap_install(fail);
        lm_user u;
        memset(&u, 0, sizeof u);
        snprintf(u.id, sizeof u.id, "a1");
        u.role = LM_ROLE_AGENT;
        u.villages = lm_strdup("shangba,xiaba,heping");
        int rc = u.villages ? lm__user_scope_build(&u) : LM_ENOMEM;
        int failed = lm_test_heap_state.failed;
        if (rc == LM_OK) {
            CHECK_EQ_INT(u.scope.n_villages, 3);
            CHECK_STR(u.scope.villages[2], "heping");
            CHECK_STR(u.scope.user_id, "a1");
        } else {
            CHECK_RC(rc, LM_ENOMEM);
        }
        lm__user_clear(&u);
        lm_test_heap_check_clean("scope");
        if (!failed)
            break;
    }
    CHECK(lm__user_id_valid("agent-li.01@x"));
    CHECK(!lm__user_id_valid(""));
    CHECK(!lm__user_id_valid("a b"));
}

/* A file from before enrolment: the shared keys are wiped and the column
 * dropped; the sites users synced from stay theirs. */
static void test_users_migration(void)
{
    sqlite3 *db = NULL;
    char err[256];
    CHECK_EQ_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
    CHECK_EQ_INT(
        sqlite3_exec(db,
                     "CREATE TABLE lm_users(id TEXT PRIMARY KEY, role TEXT NOT NULL,"
                     " villages TEXT, county TEXT, key BLOB NOT NULL,"
                     " revoked INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
                     "INSERT INTO lm_users VALUES('a1', 'agent', 'shangba', NULL,"
                     " x'00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',"
                     " 0, 1);"
                     "CREATE TABLE lm_sessions_log(user TEXT PRIMARY KEY, site INTEGER,"
                     " last_sync_at INTEGER, bytes_in INTEGER, bytes_out INTEGER,"
                     " pushed INTEGER, pulled INTEGER, sessions INTEGER NOT NULL DEFAULT 0);"
                     "INSERT INTO lm_sessions_log(user, site, last_sync_at) VALUES('a1', 77, 5);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    CHECK_RC(lm__srvdb_ensure_schema(db, err, sizeof err), LM_OK);
    CHECK_EQ_INT(lm__srvdb_has_column(db, "lm_users", "key"), 0);
    CHECK_EQ_INT(lm__srvdb_has_column(db, "lm_users", "pubkey"), 1);
    int bound = 0;
    CHECK_RC(lm__srvdb_site_check(db, 77, "a1", &bound), LM_OK);
    CHECK_EQ_INT(bound, 1);
    CHECK_RC(lm__srvdb_site_check(db, 77, "b2", &bound), LM_OK);
    CHECK_EQ_INT(bound, -1);
    CHECK_RC(lm__srvdb_site_check(db, 78, "b2", &bound), LM_OK);
    CHECK_EQ_INT(bound, 0);
    lm_user u;
    CHECK_RC(lm__srvdb_user_get(db, "a1", &u), LM_OK);
    CHECK_EQ_INT(u.has_pubkey, 0); /* must be rekeyed */
    lm__user_clear(&u);
    sqlite3_close(db);
}

/* A users row read back under every allocation failure: LM_OK with the
 * right record or LM_ENOMEM, never a leak. */
static void test_user_get(void)
{
    sqlite3 *db = NULL;
    char err[256];
    CHECK_EQ_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
    CHECK_RC(lm__srvdb_ensure_schema(db, err, sizeof err), LM_OK);
    CHECK_RC(lm__srvdb_ensure_schema(db, err, sizeof err), LM_OK); /* idempotent */
    CHECK_EQ_INT(sqlite3_exec(db,
                              "INSERT INTO lm_users(id, role, villages, county, pubkey, revoked,"
                              " created_at) VALUES('a1', 'agent', 'shangba,xiaba', NULL,"
                              " zeroblob(32), 0, 1);"
                              "INSERT INTO lm_users(id, role, villages, county, revoked,"
                              " created_at) VALUES('bad', 'king', NULL, NULL, 0, 1);",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    lm_user u;
    CHECK_RC(lm__srvdb_user_get(db, "nobody", &u), LM_ENOTFOUND);
    CHECK_RC(lm__srvdb_user_get(db, "bad id", &u), LM_ENOTFOUND);
    CHECK_RC(lm__srvdb_user_get(db, "bad", &u), LM_EDB); /* a corrupt row authenticates nobody */
    for (long long fail = 1; fail < 20; fail++) {
        lm_test_heap_install(fail);
        int rc = lm__srvdb_user_get(db, "a1", &u);
        if (rc == LM_OK)
            rc = lm__user_scope_build(&u);
        int failed = lm_test_heap_state.failed;
        if (rc == LM_OK) {
            CHECK_EQ_INT(u.role, LM_ROLE_AGENT);
            CHECK_EQ_INT(u.scope.n_villages, 2);
            CHECK(u.county == NULL);
        } else {
            CHECK_RC(rc, LM_ENOMEM);
        }
        lm__user_clear(&u);
        lm_test_heap_check_clean("user_get");
        if (!failed)
            break;
    }
    CHECK_RC(lm__srvdb_session_log(db, "a1", 7, 100, 1, 2, 3, 4), LM_OK);
    CHECK_RC(lm__srvdb_session_log(db, "a1", 7, 200, 1, 2, 3, 4), LM_OK);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT last_sync_at, sessions FROM lm_sessions_log", -1, &st, NULL);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int64(st, 0), 200);
    CHECK_EQ_INT(sqlite3_column_int64(st, 1), 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* The ledger tables the reports read, without the sync machinery. */
static const char ledger_tables[] =
    "CREATE TABLE collections(id TEXT PRIMARY KEY, agent_id, farmer_id, village, product,"
    " grade, weight_g, unit_price_fen, amount_fen, collected_at, received_at, note);"
    "CREATE TABLE adjustments(id TEXT PRIMARY KEY, collection_id, delta_weight_g,"
    " delta_amount_fen, voided, reason, by, at);";

/* The report's arithmetic on hand-made tables (the ledger rules of
 * docs/schema.md), in every format, and its table layout under every
 * allocation failure. */
static void test_report_sums(void)
{
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, ledger_tables, NULL, NULL, NULL), SQLITE_OK);
    const char *sql =
        /* 15:59:59 and 16:00:00 UTC fall on two China Standard Time days. */
        "INSERT INTO collections VALUES"
        " ('c1','a1','f','v1','tea','A',1000,6000,6000,1795881599000,0,NULL),"
        " ('c2','a1','f','v1','tea','A',3001,6000,18006,1795881600000,0,NULL),"
        " ('c3','a2','f','v2','kiwi','B',2000,650,1300,1795881600000,0,NULL),"
        " ('c4','a2','f','v2','kiwi','B',9999,650,6499,1795881600000,0,NULL);"
        "INSERT INTO adjustments VALUES"
        " ('j1','c2',-1,-6,0,'scale','a1',0), ('j2','c2',500,3000,0,'sack','a1',0),"
        " ('j3','c4',0,0,1,'void','a2',0), ('j4','c4',-9,-6,0,'scale','a2',0);";
    CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    lm_report_spec spec;
    char err[256], buf[1024];
    CHECK_RC(lm__report_parse_by("agent,day", &spec, err, sizeof err), LM_OK);
    spec.format = LM_FMT_JSON;
    FILE *f = fmemopen(buf, sizeof buf, "w");
    CHECK_RC(lm__report_volumes(db, &spec, f, err, sizeof err), LM_OK);
    fclose(f);
    CHECK_STR(buf, "[\n {\"agent\":\"a1\",\"day\":\"2026-11-28\",\"weight_g\":1000,"
                   "\"amount_fen\":6000,\"count\":1,\"future_dated\":0},\n "
                   "{\"agent\":\"a1\",\"day\":\"2026-11-29\","
                   "\"weight_g\":3500,\"amount_fen\":21000,\"count\":1,\"future_dated\":0},\n "
                   "{\"agent\":\"a2\","
                   "\"day\":\"2026-11-29\",\"weight_g\":2000,\"amount_fen\":1300,\"count\":1,"
                   "\"future_dated\":0}\n]\n");
    CHECK_RC(lm__report_parse_by("grade", &spec, err, sizeof err), LM_OK);
    spec.format = LM_FMT_CSV;
    f = fmemopen(buf, sizeof buf, "w");
    CHECK_RC(lm__report_volumes(db, &spec, f, err, sizeof err), LM_OK);
    fclose(f);
    CHECK_STR(buf, "grade,weight_g,amount_fen,count\nA,4500,27000,2\nB,2000,1300,1\n");
    spec.format = LM_FMT_TABLE;
    for (long long fail = 1; fail < 40; fail++) {
        lm_test_heap_install(fail);
        f = fmemopen(buf, sizeof buf, "w");
        int rc = lm__report_volumes(db, &spec, f, err, sizeof err);
        fclose(f);
        int failed = lm_test_heap_state.failed;
        lm_test_heap_check_clean("report table");
        if (rc == LM_OK)
            CHECK_STR(buf, "grade  weight_kg  amount_yuan  count\nA          4.500      ¥270.00"
                           "      2\nB          2.000       ¥13.00      1\n");
        else
            CHECK_RC(rc, LM_ENOMEM);
        if (!failed)
            break;
    }
    sqlite3_close(db);
}

/* Values past lastmile's bounds (plain SQL on a replica) push a total past
 * 64 bits, either in SUM (an error) or in weight + delta (a REAL): every
 * format then prints nothing at all and the error names a row. */
static void test_report_overflow(void)
{
    static const char *const cases[] = {
        "INSERT INTO collections VALUES"
        " ('big1','a1','f','v1','tea','A',9223372036854775807,1,1,0,0,NULL),"
        " ('big2','a1','f','v1','tea','A',9223372036854775807,1,1,0,0,NULL);",
        "INSERT INTO collections VALUES ('big1','a1','f','v1','tea','A',1000,1,1,0,0,NULL);"
        "INSERT INTO adjustments VALUES ('j1','big1',9223372036854775807,0,0,'x','a1',0);",
    };
    static const char *const named[] = {"collection big", "adjustment j1"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sqlite3 *db = NULL;
        CHECK_EQ_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
        CHECK_EQ_INT(sqlite3_exec(db, ledger_tables, NULL, NULL, NULL), SQLITE_OK);
        CHECK_EQ_INT(sqlite3_exec(db, cases[i], NULL, NULL, NULL), SQLITE_OK);
        lm_report_spec spec;
        char err[256], buf[256];
        CHECK_RC(lm__report_parse_by("product", &spec, err, sizeof err), LM_OK);
        for (int fmt = LM_FMT_TABLE; fmt <= LM_FMT_JSON; fmt++) {
            spec.format = fmt;
            err[0] = '\0';
            FILE *f = fmemopen(buf, sizeof buf, "w");
            CHECK_RC(lm__report_volumes(db, &spec, f, err, sizeof err), LM_ERANGE);
            CHECK_EQ_INT(ftell(f), 0);
            fclose(f);
            CHECK(strstr(err, "does not fit 64-bit integers") && strstr(err, named[i]));
        }
        sqlite3_close(db);
    }
}

int main(void)
{
    test_config();
    test_report_parse();
    test_scope();
    test_user_get();
    test_users_migration();
    test_report_sums();
    test_report_overflow();
    return lm_test_done("server_unit");
}
