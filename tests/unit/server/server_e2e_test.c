/*
 * server_e2e_test.c — the real `lastmile-server` binary, driven as a child
 * process over loopback: init (twice), user add/list/revoke, serve with a
 * config file, the handshake, refusals (wrong key, unknown user, garbage,
 * an oversized frame header, a message out of state, a handshake timeout)
 * with the server still answering afterwards, a PUSH built by a real agent
 * replica applied exactly once, scoped PULLs, the volume report on a known
 * data set, and SIGTERM: exit 0 with a consistent database.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lm_sync.h"
#include "lm_test.h"
#include "proc.h"

static char dir[64], db[128], logp[128], cfgp[128];
static char out[1 << 16];

/* Runs `lastmile-server ARGS...` (NULL-terminated); stdout into out. */
#define SERVER(...) run_server((char *[]){(char *)LM_SERVER_BIN, __VA_ARGS__, NULL})

static int run_server(char **argv)
{
    return lmt_run(argv, out, sizeof out, logp);
}

/* 1 when the server log holds needle (O_APPEND: every server's lines). */
static int log_has(const char *needle)
{
    static char text[1 << 20];
    FILE *f = fopen(logp, "r");
    if (!f)
        return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, needle) != NULL;
}

/* One integer from a query on the server database. */
static long long query_int(const char *sql)
{
    sqlite3 *h = NULL;
    long long v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(h, 5000);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

/* The device: `user add`'s enrolment string (its last line) and a key
 * pair made here. */
static int add_user(const char *id, const char *role, const char *flag, const char *value,
                    lmt_identity *key)
{
    int code = flag ? SERVER("user", "add", "--db", db, "--id", (char *)id, "--role", (char *)role,
                             (char *)flag, (char *)value)
                    : SERVER("user", "add", "--db", db, "--id", (char *)id, "--role", (char *)role);
    if (code != 0)
        return code;
    lmt_identity_close(key);
    CHECK_EQ_INT(lmt_identity_init(key, out), 0);
    return 0;
}

static void test_init_and_users(lmt_identity *key_a1, lmt_identity *key_a2)
{
    CHECK_EQ_INT(SERVER("init", "--db", db), 0);
    long long seq1 = query_int("SELECT v FROM lm_seq");
    CHECK_EQ_INT(query_int("SELECT count(*) FROM products WHERE code IN"
                           " ('potato','corn','apple','kiwi','tea')"),
                 5);
    CHECK_EQ_INT(query_int("SELECT count(*) FROM grades WHERE code IN ('A','B','C')"), 3);
    CHECK_EQ_INT(query_int("SELECT count(*) FROM prices"), 15);
    CHECK(seq1 > 0); /* the catalog was captured as changes to sync */
    CHECK_EQ_INT(SERVER("init", "--db", db), 0);
    CHECK_EQ_INT(query_int("SELECT count(*) FROM prices"), 15);
    CHECK_EQ_INT(query_int("SELECT v FROM lm_seq"), seq1); /* nothing new logged */

    CHECK_EQ_INT(add_user("a1", "agent", "--villages", "shangba,xiaba", key_a1), 0);
    CHECK_EQ_INT(add_user("a2", "agent", "--villages", "liangshui", key_a2), 0);
    lmt_identity k;
    memset(&k, 0, sizeof k);
    CHECK_EQ_INT(add_user("d1", "dispatcher", "--county", "pingshan", &k), 0);
    CHECK_EQ_INT(add_user("boss", "hq", NULL, NULL, &k), 0);
    CHECK_EQ_INT(add_user("x1", "agent", "--villages", "atlantis", &k), 1);   /* unknown village */
    CHECK_EQ_INT(add_user("x2", "dispatcher", "--county", "nowhere", &k), 1); /* unknown county */
    CHECK_EQ_INT(add_user("a1", "agent", "--villages", "shangba", &k), 1);    /* exists */
    CHECK_EQ_INT(add_user("x3", "king", NULL, NULL, &k), 2);                  /* bad role */
    CHECK_EQ_INT(add_user("x4", "agent", NULL, NULL, &k), 2);                 /* no villages */
    CHECK_EQ_INT(add_user("bad id!", "hq", NULL, NULL, &k), 2);
    CHECK_EQ_INT(query_int("SELECT count(*) FROM lm_users"), 4);

    CHECK_EQ_INT(add_user("gone", "hq", NULL, NULL, &k), 0);
    lmt_identity_close(&k);
    CHECK_EQ_INT(SERVER("user", "revoke", "--db", db, "--id", "gone"), 0);
    CHECK_EQ_INT(SERVER("user", "revoke", "--db", db, "--id", "nobody"), 1);
    CHECK_EQ_INT(SERVER("user", "list", "--db", db, "--json"), 0);
    CHECK(strstr(out, "{\"id\":\"a1\",\"role\":\"agent\",\"villages\":\"shangba,xiaba\","
                      "\"county\":null,\"revoked\":false") != NULL);
    CHECK(strstr(out, "{\"id\":\"gone\",\"role\":\"hq\",\"villages\":null,\"county\":null,"
                      "\"revoked\":true") != NULL);
    CHECK_EQ_INT(SERVER("user", "add", "--help"), 0);
    CHECK_EQ_INT(SERVER("bogus"), 2);
    CHECK_EQ_INT(SERVER("serve", "--db", db, "--listen", "nonsense"), 2);
    CHECK_EQ_INT(SERVER("report", "volumes", "--db", db, "--by", "planet"), 2);
    CHECK_EQ_INT(SERVER("report", "volumes", "--db", "/nonexistent/x.db"), 1);
    CHECK_EQ_INT(SERVER("serve", "--db", "/nonexistent/x.db", "--listen", "127.0.0.1:0"), 1);
    CHECK_EQ_INT(SERVER("user", "list", "--db", "/nonexistent/x.db"), 1);
}

/* Fills an agent replica with a known day: a farmer, three collections
 * (one adjusted, one voided). Returns the local batch to push. */
static void make_agent_batch(lm_replica **rep, lm_change **ch, uint32_t *n, uint64_t *upto)
{
    char path[160];
    snprintf(path, sizeof path, "%s/agent.db", dir);
    lm_replica_options o;
    memset(&o, 0, sizeof o);
    o.create = 1;
    CHECK_RC(lm_replica_open(path, &o, rep, NULL, 0), LM_OK);
    /* 2026-11-28 20:00 UTC is 2026-11-29 in China Standard Time. */
    const char *sql =
        "INSERT INTO farmers(id, name, village, phone, registered_poor, household_id, created_by,"
        " created_at) VALUES('f1', 'Wang Fang', 'shangba', NULL, 1, 'h1', 'a1', 1795896000000);"
        "INSERT INTO collections(id, agent_id, farmer_id, village, product, grade, weight_g,"
        " unit_price_fen, amount_fen, collected_at, note) VALUES"
        " ('c1', 'a1', 'f1', 'shangba', 'potato', 'A', 10000, 180, 1800, 1795896000000, NULL),"
        " ('c2', 'a1', 'f1', 'shangba', 'apple', 'B', 2500, 480, 1200, 1795896000000, 'ok'),"
        " ('c3', 'a1', 'f1', 'shangba', 'corn', 'C', 1234, 200, 247, 1795896000000, NULL);"
        "INSERT INTO adjustments(id, collection_id, delta_weight_g, delta_amount_fen, voided,"
        " reason, by, at) VALUES"
        " ('j1', 'c1', -500, -90, 0, 'wet sacks', 'a1', 1795896100000),"
        " ('j2', 'c3', 0, 0, 1, 'wrong farmer', 'a1', 1795896200000);";
    CHECK_EQ_INT(sqlite3_exec(lm_replica_db(*rep), sql, NULL, NULL, NULL), SQLITE_OK);
    CHECK_RC(lm_replica_local_changes(*rep, 0, 1 << 20, ch, n, upto), LM_OK);
    CHECK(*n > 20);
}

static const char expected_total[] =
    "[\n {\"weight_g\":12000,\"amount_fen\":2910,\"count\":2}\n]\n";
static const char expected_by_product_day[] =
    "[\n {\"product\":\"apple\",\"day\":\"2026-11-29\",\"weight_g\":2500,\"amount_fen\":1200,"
    "\"count\":1,\"future_dated\":0},\n {\"product\":\"potato\",\"day\":\"2026-11-29\","
    "\"weight_g\":9500,\"amount_fen\":1710,\"count\":1,\"future_dated\":0}\n]\n";

static void test_push_pull(int port, lmt_identity *key_a1, lmt_identity *key_a2)
{
    lm_replica *agent = NULL;
    lm_change *ch = NULL;
    uint32_t n = 0;
    uint64_t upto = 0;
    make_agent_batch(&agent, &ch, &n, &upto);
    uint64_t site = agent ? lm_replica_site(agent) : 7;

    for (int round = 0; round < 2; round++) {
        lmt_client c;
        lm_msg w, m;
        CHECK_RC(lmt_connect(&c, port), LM_OK);
        CHECK_RC(lmt_handshake(&c, "a1", site, key_a1, &w), LM_OK);
        CHECK_STR(w.u.welcome.role, "agent");
        CHECK(w.u.welcome.server_site != 0);
        CHECK(w.u.welcome.server_seq > 0);
        /* the server's change-log head (lm_replica_seq); nothing else runs */
        CHECK_EQ_INT((long long)w.u.welcome.server_seq, query_int("SELECT v FROM lm_seq"));
        CHECK_EQ_INT(w.u.welcome.max_frame, 524288); /* the config file's */
        /* The second time the server already holds the batch. */
        CHECK_EQ_INT(w.u.welcome.push_watermark, round == 0 ? 0 : upto);
        lm_msg_clear(&w);
        memset(&m, 0, sizeof m);
        m.type = LM_MSG_PUSH;
        m.u.push.upto_seq = upto;
        m.u.push.changes = ch;
        m.u.push.n_changes = n;
        CHECK_RC(lmt_send(&c, &m), LM_OK);
        lm_msg ack;
        CHECK_RC(lmt_recv(&c, &ack), LM_OK);
        CHECK_EQ_INT(ack.type, LM_MSG_PUSH_ACK);
        CHECK_EQ_INT(ack.u.push_ack.upto_seq, upto);
        CHECK_EQ_INT(ack.u.push_ack.n_refusals, 0);
        if (round == 0)
            CHECK(ack.u.push_ack.applied > 0);
        else
            CHECK_EQ_INT(ack.u.push_ack.applied, 0); /* re-sent: a no-op */
        lm_msg_clear(&ack);

        /* PULL from scratch: the catalog, and of the agent's own rows only
         * what the server itself wrote (received_at): the rest came from
         * this site and is not echoed. */
        memset(&m, 0, sizeof m);
        m.type = LM_MSG_PULL;
        m.u.pull.max_bytes = 1 << 20;
        CHECK_RC(lmt_send(&c, &m), LM_OK);
        lm_msg chg;
        CHECK_RC(lmt_recv(&c, &chg), LM_OK);
        CHECK_EQ_INT(chg.type, LM_MSG_CHANGES);
        int products = 0, collections = 0;
        for (uint32_t i = 0; i < chg.u.changes.n_changes; i++) {
            products += strcmp(chg.u.changes.changes[i].table, "products") == 0;
            collections += strcmp(chg.u.changes.changes[i].table, "collections") == 0 &&
                           strcmp(chg.u.changes.changes[i].column, "received_at") != 0;
        }
        CHECK(products > 0);
        CHECK_EQ_INT(collections, 0);
        CHECK(chg.u.changes.next_cursor > 0);
        lm_msg_clear(&chg);

        memset(&m, 0, sizeof m);
        m.type = LM_MSG_BYE;
        CHECK_RC(lmt_send(&c, &m), LM_OK);
        CHECK(lmt_closed_by_peer(&c));
        lmt_close(&c);

        CHECK_EQ_INT(SERVER("report", "volumes", "--db", db, "--format", "json"), 0);
        CHECK_STR(out, expected_total);
    }
    CHECK_EQ_INT(query_int("SELECT count(*) FROM collections WHERE received_at > 0"), 3);

    /* Another agent of other villages sees none of a1's farmers or rows. */
    lmt_client c;
    lm_msg w, m, chg;
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_handshake(&c, "a2", site + 1, key_a2, &w), LM_OK);
    lm_msg_clear(&w);
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_PULL;
    m.u.pull.max_bytes = 1 << 20;
    CHECK_RC(lmt_send(&c, &m), LM_OK);
    CHECK_RC(lmt_recv(&c, &chg), LM_OK);
    int foreign = 0, catalog = 0;
    for (uint32_t i = 0; i < chg.u.changes.n_changes; i++) {
        const char *t = chg.u.changes.changes[i].table;
        foreign += strcmp(t, "farmers") == 0 || strcmp(t, "collections") == 0 ||
                   strcmp(t, "adjustments") == 0;
        catalog += strcmp(t, "prices") == 0;
    }
    CHECK_EQ_INT(foreign, 0);
    CHECK(catalog > 0);
    lm_msg_clear(&chg);
    lmt_close(&c);

    CHECK_EQ_INT(SERVER("report", "volumes", "--db", db, "--by", "product,day", "--format", "json"),
                 0);
    CHECK_STR(out, expected_by_product_day);
    CHECK_EQ_INT(SERVER("report", "volumes", "--db", db, "--by", "agent", "--format", "csv"), 0);
    CHECK_STR(out, "agent,weight_g,amount_fen,count\na1,12000,2910,2\n");
    CHECK_EQ_INT(SERVER("report", "volumes", "--db", db, "--by", "village"), 0);
    /* The table is for people (kg, yuan); CSV and JSON above keep grams and fen. */
    CHECK_STR(out,
              "village  weight_kg  amount_yuan  count\nshangba     12.000       ¥29.10      2\n");

    lm_changes_free(ch, n);

    /* Outside its rights: a collection in a village a1 does not serve. The
     * batch is acknowledged, the row refused change by change with
     * LM_ESCOPE, and nothing of it reaches the report. */
    CHECK_EQ_INT(sqlite3_exec(lm_replica_db(agent),
                              "INSERT INTO collections(id, agent_id, farmer_id, village, product,"
                              " grade, weight_g, unit_price_fen, amount_fen, collected_at) VALUES"
                              " ('c9', 'a1', 'f1', 'heping', 'tea', 'A', 1000, 6000, 6000,"
                              " 1795896000000)",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    uint64_t upto2 = 0;
    CHECK_RC(lm_replica_local_changes(agent, upto, 1 << 20, &ch, &n, &upto2), LM_OK);
    CHECK(n > 0 && upto2 > upto);
    lm_msg ack;
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_handshake(&c, "a1", site, key_a1, &w), LM_OK);
    lm_msg_clear(&w);
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_PUSH;
    m.u.push.upto_seq = upto2;
    m.u.push.changes = ch;
    m.u.push.n_changes = n;
    CHECK_RC(lmt_send(&c, &m), LM_OK);
    CHECK_RC(lmt_recv(&c, &ack), LM_OK);
    CHECK_EQ_INT(ack.type, LM_MSG_PUSH_ACK);
    CHECK_EQ_INT(ack.u.push_ack.n_refusals, n);
    CHECK_EQ_INT(ack.u.push_ack.applied, 0);
    if (ack.u.push_ack.n_refusals > 0)
        CHECK_EQ_INT(ack.u.push_ack.refusals[0].code, LM_ESCOPE);
    lm_msg_clear(&ack);
    lmt_close(&c);
    lm_changes_free(ch, n);
    CHECK_EQ_INT(query_int("SELECT count(*) FROM collections WHERE id = 'c9'"), 0);
    lm_replica_close(agent);
}

/* Expects an ERROR frame with code want (0 = any) and then a close. */
static void expect_error_close(lmt_client *c, int want)
{
    lm_msg m;
    CHECK_RC(lmt_recv(c, &m), LM_OK);
    CHECK_EQ_INT(m.type, LM_MSG_ERROR);
    if (want)
        CHECK_EQ_INT(m.u.error.code, want);
    lm_msg_clear(&m);
    CHECK(lmt_closed_by_peer(c));
    lmt_close(c);
}

/* The server still completes a handshake for a good client. */
static void expect_alive(int port, lmt_identity *key)
{
    lmt_client c;
    lm_msg w;
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_handshake(&c, "a1", 99, key, &w), LM_OK);
    lm_msg_clear(&w);
    lmt_close(&c);
}

static void test_refusals(int port, lmt_identity *key_a1, lmt_identity *key_a2)
{
    lmt_client c;
    lm_msg w;
    /* Wrong key, unknown user, revoked user: all the same LM_EAUTH. */
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_handshake(&c, "a1", 5, key_a2, &w), LM_EAUTH);
    CHECK(lmt_closed_by_peer(&c));
    lmt_close(&c);
    expect_alive(port, key_a1);
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_handshake(&c, "nobody", 5, key_a1, &w), LM_EAUTH);
    lmt_close(&c);
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_handshake(&c, "gone", 5, key_a1, &w), LM_EAUTH);
    lmt_close(&c);

    /* Garbage: "GET " read as a length is far over the limit. */
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_send_raw(&c, "GET / HTTP/1.1\r\n\r\n", 18), LM_OK);
    expect_error_close(&c, LM_ETOOBIG);
    expect_alive(port, key_a1);

    /* An oversized frame header, then nothing. */
    const uint8_t big[6] = {0x7f, 0xff, 0xff, 0xff, LM_MSG_HELLO, 0};
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_send_raw(&c, big, sizeof big), LM_OK);
    expect_error_close(&c, LM_ETOOBIG);

    /* 100 KiB is a fine PUSH but no HELLO: before WELCOME frames are small. */
    const uint8_t hello100k[6] = {0x00, 0x01, 0x86, 0xa0, LM_MSG_HELLO, 0};
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_send_raw(&c, hello100k, sizeof hello100k), LM_OK);
    expect_error_close(&c, LM_ETOOBIG);

    /* A well-formed frame whose payload is not msgpack of a HELLO. */
    const uint8_t junk[] = {0, 0, 0, 5, LM_MSG_HELLO, 0, 0xc1, 0xc1, 0xc1};
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_send_raw(&c, junk, sizeof junk), LM_OK);
    expect_error_close(&c, 0);

    /* PULL before the handshake. */
    lm_msg m;
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_PULL;
    m.u.pull.max_bytes = 4096;
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_send(&c, &m), LM_OK);
    expect_error_close(&c, LM_ESTATE);

    /* A second HELLO after WELCOME. */
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_handshake(&c, "a1", 5, key_a1, &w), LM_OK);
    lm_msg_clear(&w);
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_HELLO;
    m.u.hello.version = LM_PROTOCOL_VERSION;
    m.u.hello.user = (char *)"a1";
    CHECK_RC(lmt_send(&c, &m), LM_OK);
    expect_error_close(&c, LM_ESTATE);

    /* Unsupported version. */
    m.u.hello.version = 99;
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_send(&c, &m), LM_OK);
    expect_error_close(&c, LM_EVERSION);

    /* Silence: the handshake timeout of the config file (600 ms). */
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    expect_error_close(&c, LM_ETIMEDOUT);

    expect_alive(port, key_a1);
}

/* A second server on the same database with room for one session and a
 * short idle timeout: the second login is refused with LM_EBUSY, the
 * first, once silent, gets LM_ETIMEDOUT; then a newcomer fits again, and
 * SIGINT stops the server with exit code 0. */
static void test_limits(lmt_identity *key_a1)
{
    pid_t pid = 0;
    int port = 0;
    char *argv[] = {(char *)LM_SERVER_BIN,
                    (char *)"serve",
                    (char *)"--db",
                    db,
                    (char *)"--listen",
                    (char *)"127.0.0.1:0",
                    (char *)"--max-sessions",
                    (char *)"1",
                    (char *)"--idle-timeout-ms",
                    (char *)"500",
                    (char *)"--cache-mib",
                    (char *)"3",
                    (char *)"--insecure-plaintext",
                    NULL};
    if (lmt_serve_start(argv, logp, &pid, &port) != 0) {
        CHECK(!"second server started");
        return;
    }
    lmt_client a, b;
    lm_msg w;
    CHECK_RC(lmt_connect(&a, port), LM_OK);
    CHECK_RC(lmt_handshake(&a, "a1", 77, key_a1, &w), LM_OK);
    lm_msg_clear(&w);
    /* max_sessions counts logged-in sessions: b is refused at its login */
    CHECK_RC(lmt_connect(&b, port), LM_OK);
    CHECK_RC(lmt_handshake(&b, "a1", 78, key_a1, &w), LM_EBUSY);
    CHECK(lmt_closed_by_peer(&b));
    lmt_close(&b);
    expect_error_close(&a, LM_ETIMEDOUT);
    /* The slot frees once the server has closed a's handles. */
    int ok = 0;
    for (int attempt = 0; attempt < 50 && !ok; attempt++) {
        CHECK_RC(lmt_connect(&b, port), LM_OK);
        ok = lmt_handshake(&b, "a1", 78, key_a1, &w) == LM_OK;
        if (ok)
            lm_msg_clear(&w);
        lmt_close(&b);
        struct timespec pause = {0, 20 * 1000000L};
        if (!ok)
            nanosleep(&pause, NULL);
    }
    CHECK(ok);
    CHECK_EQ_INT(kill(pid, SIGINT), 0);
    CHECK_EQ_INT(lmt_wait_exit(pid, 15000), 0);
}

/* SIGTERM with an authenticated idle session: BYE to the client, exit 0,
 * and the database intact with the session recorded. */
static void test_sigterm(pid_t pid, int port, lmt_identity *key_a1)
{
    lmt_client c;
    lm_msg w, m;
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_handshake(&c, "a1", 5, key_a1, &w), LM_OK);
    lm_msg_clear(&w);
    CHECK_EQ_INT(kill(pid, SIGTERM), 0);
    CHECK_RC(lmt_recv(&c, &m), LM_OK);
    CHECK_EQ_INT(m.type, LM_MSG_BYE);
    lm_msg_clear(&m);
    lmt_close(&c);
    CHECK_EQ_INT(lmt_wait_exit(pid, 15000), 0);
    CHECK_EQ_INT(query_int("SELECT count(*) FROM lm_sessions_log WHERE user = 'a1'"), 1);
    CHECK_EQ_INT(query_int("SELECT sessions >= 3 FROM lm_sessions_log WHERE user = 'a1'"), 1);
    CHECK_EQ_INT(SERVER("report", "volumes", "--db", db, "--format", "json"), 0);
    CHECK_STR(out, expected_total);
    sqlite3 *h = NULL;
    CHECK_EQ_INT(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK_EQ_INT(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(h);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/lm-server-e2e-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(db, sizeof db, "%s/server.db", dir);
    snprintf(logp, sizeof logp, "%s/server.log", dir);
    snprintf(cfgp, sizeof cfgp, "%s/server.conf", dir);
    FILE *f = fopen(cfgp, "w");
    if (!f)
        return 1;
    fprintf(f, "# test settings\nlog_level = debug\nhandshake_timeout_ms = 600\n"
               "idle_timeout_ms = 20000\nlisten = 127.0.0.1:0\ncache_mib = 8\n"
               "max_frame = 524288\n");
    fclose(f);

    lmt_identity id_a1, id_a2;
    memset(&id_a1, 0, sizeof id_a1);
    memset(&id_a2, 0, sizeof id_a2);
    lmt_identity *key_a1 = &id_a1, *key_a2 = &id_a2;
    test_init_and_users(key_a1, key_a2);

    pid_t pid = 0;
    int port = 0;
    char *argv[] = {(char *)LM_SERVER_BIN,
                    (char *)"serve",
                    (char *)"--config",
                    cfgp,
                    (char *)"--db",
                    db,
                    (char *)"--insecure-plaintext",
                    NULL};
    if (lmt_serve_start(argv, logp, &pid, &port) != 0) {
        CHECK(!"server started");
        return lm_test_done("server_e2e");
    }
    test_push_pull(port, key_a1, key_a2);
    /* the config file's cache_mib, then test_limits' --cache-mib flag (read
     * after some traffic: the log line follows the stdout line) */
    CHECK(log_has("8 MiB page cache each"));
    test_refusals(port, key_a1, key_a2);
    test_limits(key_a1);
    CHECK(log_has("3 MiB page cache each"));
    test_sigterm(pid, port, key_a1);
    lmt_identity_close(key_a1);
    lmt_identity_close(key_a2);

    /* LM_KEEP=1 keeps the folder of a passing run too, as the CLI tests do. */
    if (lm_test_failures || getenv("LM_KEEP")) {
        fprintf(stderr, "server log and database kept in %s\n", dir);
    } else {
        char cmd[160];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return lm_test_done("server_e2e");
}
