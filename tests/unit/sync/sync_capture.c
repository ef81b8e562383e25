/*
 * sync_capture.c — change capture and the outgoing side: writes from the
 * sqlite3 shell (a program that never loaded lastmile) are captured and
 * stamped on the next open; local_changes; changes_since with a stable
 * cursor, a byte budget, scope filtering and a first sync served from the
 * current state.
 */
#include "sync_test_util.h"

static const char *const vil_a[] = {"Xiacun"};
static lm_scope agent_a = {LM_ROLE_AGENT, "agent-a", vil_a, 1, NULL};
static lm_scope disp = {LM_ROLE_DISPATCHER, "d1", NULL, 0, "Wuyuan"};

static int shell(const char *file, const char *sql)
{
    char path[400], cmd[1200];
    st_path(path, sizeof path, file);
    snprintf(cmd, sizeof cmd, "/usr/bin/sqlite3 '%s' \"%s\"", path, sql);
    return system(cmd);
}

static void test_shell_capture(void)
{
    lm_replica *a = st_open("shell_a.db", 2, NULL), *s = st_open("shell_s.db", 1, NULL);
    CHECK(a && s);
    CHECK_RC(st_exec(s, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan')"), SQLITE_OK);
    lm_replica_close(a);
    CHECK_EQ_INT(shell("shell_a.db", "INSERT INTO farmers(id,name,village) VALUES('f1','Li',"
                                     "'Xiacun'); UPDATE farmers SET phone='139' WHERE id='f1';"),
                 0);
    CHECK_EQ_INT(shell("shell_a.db", "UPDATE farmers SET name='Li Wei' WHERE id='f1';"), 0);
    /* captured, not yet stamped: the shell cannot run lastmile code */
    {
        char path[400];
        sqlite3 *db = NULL;
        st_path(path, sizeof path, "shell_a.db");
        CHECK_RC(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_stmt *st = NULL;
        sqlite3_prepare_v2(db, "SELECT count(*) FROM lm_versions WHERE hlc IS NULL", -1, &st, NULL);
        CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 3);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    a = st_open("shell_a.db", 2, NULL);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_versions WHERE hlc IS NULL"), 0);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_versions WHERE site=2"), 3);
    lm_change *ch = NULL;
    uint32_t n = 0;
    uint64_t upto = 0;
    CHECK_RC(lm_replica_local_changes(a, 0, 1 << 20, &ch, &n, &upto), LM_OK);
    CHECK_EQ_INT(n, 3);
    int saw_name = 0;
    for (uint32_t i = 0; i < n; i++) {
        CHECK_STR(ch[i].table, "farmers");
        CHECK_EQ_INT(ch[i].site, 2);
        CHECK(ch[i].hlc != 0);
        if (!strcmp(ch[i].column, "name"))
            saw_name = ch[i].value.len == 6 && !memcmp(ch[i].value.bytes, "Li Wei", 6);
        if (i)
            CHECK(ch[i].seq > ch[i - 1].seq);
    }
    CHECK(saw_name);
    CHECK_EQ_INT(upto, ch[n - 1].seq);
    lm_changes_free(ch, n);
    /* and it syncs */
    CHECK_RC(st_push(a, s, &agent_a, NULL), LM_OK);
    char buf[32];
    CHECK_STR(st_text(s, "SELECT name FROM farmers WHERE id='f1'", buf, sizeof buf), "Li Wei");
    CHECK_STR(st_text(s, "SELECT phone FROM farmers WHERE id='f1'", buf, sizeof buf), "139");
    /* a delete from the shell becomes a tombstone */
    lm_replica_close(a);
    CHECK_EQ_INT(shell("shell_a.db", "DELETE FROM farmers WHERE id='f1';"), 0);
    a = st_open("shell_a.db", 2, NULL);
    CHECK_RC(st_push(a, s, &agent_a, NULL), LM_OK);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM farmers"), 0);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE tid=3 AND cid=0"), 1);
    lm_replica_close(a);
    lm_replica_close(s);
}

/* changes_since: the cursor resumes exactly after a batch, the budget cuts
 * batches, excluded sites and other scopes are filtered. */
static void test_changes_since(void)
{
    lm_replica *s = st_open("cs_s.db", 1, NULL);
    CHECK_RC(
        st_exec(s,
                "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan'),('Beicun','Other')"),
        SQLITE_OK);
    char sql[256];
    for (int i = 0; i < 40; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO farmers(id,name,village,phone) VALUES('f%02d','n%d','%s','p')", i, i,
                 i % 2 ? "Xiacun" : "Beicun");
        CHECK_RC(st_exec(s, sql), SQLITE_OK);
    }
    /* all of it in small batches: every change exactly once */
    uint64_t cursor = 0, next = 0;
    int more = 1, batches = 0;
    uint32_t total = 0;
    while (more && batches < 1000) {
        lm_change *ch = NULL;
        uint32_t n = 0;
        CHECK_RC(lm_replica_changes_since(s, cursor, NULL, 0, 200, &ch, &n, &next, &more), LM_OK);
        CHECK(n >= 1 || !more);
        for (uint32_t i = 0; i < n; i++)
            CHECK(ch[i].seq > cursor && ch[i].seq <= next);
        total += n;
        lm_changes_free(ch, n);
        cursor = next;
        batches++;
    }
    CHECK_EQ_INT(total, 2 + 40 * 3);
    CHECK(batches > 5);
    /* the same cursor gives the same batch */
    lm_change *c1 = NULL, *c2 = NULL;
    uint32_t n1 = 0, n2 = 0;
    uint64_t x1, x2;
    CHECK_RC(lm_replica_changes_since(s, 10, NULL, 0, 300, &c1, &n1, &x1, &more), LM_OK);
    CHECK_RC(lm_replica_changes_since(s, 10, NULL, 0, 300, &c2, &n2, &x2, &more), LM_OK);
    CHECK(n1 == n2 && x1 == x2 && n1 > 0 && c1[0].seq == c2[0].seq);
    lm_changes_free(c1, n1);
    lm_changes_free(c2, n2);
    /* agent scope: the catalog and the 20 farmers of Xiacun */
    CHECK_RC(lm_replica_changes_since(s, 0, &agent_a, 0, 1 << 20, &c1, &n1, &x1, &more), LM_OK);
    CHECK_EQ_INT(n1, 2 + 20 * 3);
    CHECK_EQ_INT(more, 0);
    for (uint32_t i = 0; i < n1; i++)
        if (!strcmp(c1[i].column, "village"))
            CHECK(c1[i].value.len == 6 && !memcmp(c1[i].value.bytes, "Xiacun", 6));
    lm_changes_free(c1, n1);
    /* dispatcher of Wuyuan: the same farmers */
    CHECK_RC(lm_replica_changes_since(s, 0, &disp, 0, 1 << 20, &c1, &n1, &x1, &more), LM_OK);
    CHECK_EQ_INT(n1, 2 + 20 * 3);
    lm_changes_free(c1, n1);
    /* excluding the origin site drops all (they are the server's own) */
    CHECK_RC(lm_replica_changes_since(s, 0, NULL, 1, 1 << 20, &c1, &n1, &x1, &more), LM_OK);
    CHECK_EQ_INT(n1, 0);
    CHECK(x1 > 0);
    lm_changes_free(c1, n1);
    /* history is not replayed: 10 updates of one cell are one change */
    for (int i = 0; i < 10; i++) {
        snprintf(sql, sizeof sql, "UPDATE farmers SET phone='%d' WHERE id='f01'", i);
        CHECK_RC(st_exec(s, sql), SQLITE_OK);
    }
    CHECK_RC(lm_replica_changes_since(s, 0, NULL, 0, 1 << 20, &c1, &n1, &x1, &more), LM_OK);
    CHECK_EQ_INT(n1, 2 + 40 * 3);
    lm_changes_free(c1, n1);
    CHECK_RC(lm_replica_changes_since(s, 0, NULL, 0, 1 << 20, NULL, &n1, &x1, &more), LM_EINVAL);
    lm_replica_close(s);
}

/* An agent's own pushes come back filtered; the initial sync of a fresh
 * replica from a server with history gives the same state. */
static void test_initial_sync(void)
{
    lm_replica *s = st_open("init_s.db", 1, NULL), *a = st_open("init_a.db", 2, NULL);
    CHECK_RC(st_exec(s, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan');"
                        "INSERT INTO products VALUES('apple','Apple','kg');"
                        "UPDATE products SET name='Red apple';"
                        "INSERT INTO products VALUES('pear','Pear','kg');"
                        "DELETE FROM products WHERE code='pear'"),
             SQLITE_OK);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK(st_hash_eq(s, a, &agent_a));
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM products"), 1);
    /* pulled changes are not captured as the agent's own */
    uint64_t pend = 9;
    CHECK_RC(lm_replica_pending_count(a, &pend), LM_OK);
    CHECK_EQ_INT(pend, 0);
    lm_replica_close(s);
    lm_replica_close(a);
}

/* Read scopes of routes, stops and receipts; tombstones reach everyone. */
static void test_route_scopes(void)
{
    lm_replica *s = st_open("rs_s.db", 1, NULL);
    CHECK_RC(
        st_exec(s,
                "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan'),('Beicun','Other');"
                "INSERT INTO routes(id,county,status) VALUES('r1','Wuyuan','planned'),"
                "('r2','Other','planned');"
                "INSERT INTO route_stops(id,route_id,agent_id,village) VALUES"
                "('s1','r1','agent-a','Xiacun'),('s2','r1','agent-b','Xiacun'),"
                "('s3','r2','agent-c','Beicun');"
                "INSERT INTO receipts(id,route_id,weight_g) VALUES('w1','r1',5),"
                "('w2','r2',6);"
                "INSERT INTO products VALUES('x','X','kg');"
                "DELETE FROM products WHERE code='x'"),
        SQLITE_OK);
    struct {
        const lm_scope *sc;
        const char *table;
        int rows;
    } want[] = {{&agent_a, "routes", 1}, {&agent_a, "route_stops", 1}, {&agent_a, "receipts", 0},
                {&disp, "routes", 1},    {&disp, "route_stops", 2},    {&disp, "receipts", 1},
                {NULL, "routes", 2},     {NULL, "receipts", 2}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        lm_change *ch = NULL;
        uint32_t n = 0;
        uint64_t next;
        int more;
        CHECK_RC(lm_replica_changes_since(s, 0, want[k].sc, 0, 1 << 20, &ch, &n, &next, &more),
                 LM_OK);
        /* distinct rows of the table among the changes */
        int rows = 0, tomb = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (!strcmp(ch[i].table, "products") && !ch[i].column[0])
                tomb++;
            if (strcmp(ch[i].table, want[k].table))
                continue;
            int seen = 0;
            for (uint32_t j = 0; j < i; j++)
                seen |= !strcmp(ch[j].table, ch[i].table) && !strcmp(ch[j].pk, ch[i].pk);
            rows += !seen;
        }
        if (rows != want[k].rows)
            fprintf(stderr, "scope case %zu (%s)\n", k, want[k].table);
        CHECK_EQ_INT(rows, want[k].rows);
        CHECK_EQ_INT(tomb, 1);
        lm_changes_free(ch, n);
    }
    lm_replica_close(s);
}

/* Readers do not take the write lock: while another connection holds it,
 * changes_since and local_changes read their snapshot; captures without a
 * version are stamped first (then the reader does need the lock); a pull
 * that excludes the site of every change moves its cursor to the end. */
static void test_read_without_lock(void)
{
    char path[400], err[256];
    lm_replica *w = st_open("lock.db", 1, NULL);
    CHECK(w);
    CHECK_RC(st_exec(w, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan');"
                        "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun')"),
             SQLITE_OK);
    CHECK_RC(lm_replica_stamp(w, NULL), LM_OK);
    st_path(path, sizeof path, "lock.db");
    lm_replica_options o = {.now_ms = st_now, .busy_timeout_ms = 1};
    lm_replica *rd = NULL;
    CHECK_RC(lm_replica_open(path, &o, &rd, err, sizeof err), LM_OK);
    /* the writer's clock moves on after the reader loaded it */
    CHECK_RC(st_exec(w, "UPDATE farmers SET phone='139' WHERE id='f1'"), SQLITE_OK);
    CHECK_RC(lm_replica_stamp(w, NULL), LM_OK);
    long long seq_end = st_int(w, "SELECT v FROM lm_seq");

    /* the writer holds the lock with an uncommitted write */
    CHECK_RC(st_exec(w, "BEGIN IMMEDIATE; UPDATE farmers SET name='Li Wei' WHERE id='f1'"),
             SQLITE_OK);
    lm_change *ch = NULL;
    uint32_t n = 0;
    uint64_t next = 0, upto = 0;
    int more = 1;
    CHECK_RC(lm_replica_changes_since(rd, 0, NULL, 0, 1 << 20, &ch, &n, &next, &more), LM_OK);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(more, 0);
    CHECK_EQ_INT(next, seq_end);
    for (uint32_t i = 0; i < n; i++)
        CHECK(ch[i].hlc != 0 && ch[i].site == 1);
    lm_changes_free(ch, n);
    CHECK_RC(lm_replica_local_changes(rd, 0, 1 << 20, &ch, &n, &upto), LM_OK);
    CHECK_EQ_INT(n, 4);
    lm_changes_free(ch, n);
    /* the site of every change excluded: nothing, and the cursor at the end */
    CHECK_RC(lm_replica_changes_since(rd, 0, NULL, 1, 1 << 20, &ch, &n, &next, &more), LM_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(next, seq_end);
    lm_changes_free(ch, n);
    CHECK_RC(st_exec(w, "COMMIT"), SQLITE_OK);

    /* an unstamped capture: the reader stamps it before reading */
    CHECK_EQ_INT(st_int(w, "SELECT count(*) FROM lm_versions WHERE hlc IS NULL"), 1);
    CHECK_RC(
        lm_replica_changes_since(rd, (uint64_t)seq_end, NULL, 0, 1 << 20, &ch, &n, &next, &more),
        LM_OK);
    CHECK_EQ_INT(n, 1);
    CHECK(n == 1 && ch[0].hlc != 0 && ch[0].site == 1 && !strcmp(ch[0].column, "name"));
    /* the stamp orders after the writer's clock, which the reader's copy
     * of it had not seen */
    CHECK(n == 1 && (long long)ch[0].hlc >
                        st_int(w, "SELECT max(hlc) FROM lm_versions WHERE cid <> 1 OR tid <> 3"));
    lm_changes_free(ch, n);
    CHECK_EQ_INT(st_int(w, "SELECT count(*) FROM lm_versions WHERE hlc IS NULL"), 0);
    lm_replica_close(rd);
    lm_replica_close(w);
}

/* pull_scan_max: a pull over many rows the reader may not see answers
 * after that many versions, empty, with more set and the cursor past them;
 * pulling on reaches the visible row, whole. The hidden rows carry the
 * reader's scope key (its own collections) but fail the row check (a
 * village not its own), so the keyed read steps over them too. */
static void test_scan_limit(void)
{
    char path[400], err[256];
    st_path(path, sizeof path, "scan.db");
    lm_replica_options o = {.create = 1, .site = 1, .pull_scan_max = 5, .scope_keys = 1};
    lm_replica *s = NULL;
    CHECK_RC(lm_replica_open(path, &o, &s, err, sizeof err), LM_OK);
    if (!s)
        return;
    CHECK_RC(
        st_exec(s,
                "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan'),('Beicun','Other')"),
        SQLITE_OK);
    for (int i = 0; i < 12; i++) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "INSERT INTO collections(id,agent_id,village,weight_g)"
                 " VALUES('hidden%02d','agent-a','Beicun',1000)",
                 i);
        CHECK_RC(st_exec(s, sql), SQLITE_OK);
    }
    CHECK_RC(st_exec(s, "INSERT INTO farmers(id,name,village) VALUES('seen','Li','Xiacun')"),
             SQLITE_OK);
    uint64_t cursor = 0, next = 0;
    int more = 1, calls = 0, empty = 0, seen = 0, villages = 0;
    while (more && calls < 100) {
        lm_change *ch = NULL;
        uint32_t n = 0;
        CHECK_RC(lm_replica_changes_since(s, cursor, &agent_a, 0, 1 << 20, &ch, &n, &next, &more),
                 LM_OK);
        calls++;
        if (n == 0 && more) {
            empty++;
            CHECK(next > cursor);
        }
        for (uint32_t i = 0; i < n; i++) {
            seen += !strcmp(ch[i].pk, "seen");
            villages += !strcmp(ch[i].table, "villages");
        }
        lm_changes_free(ch, n);
        cursor = next;
    }
    CHECK(calls >= 3 && empty >= 1);
    CHECK_EQ_INT(seen, 2);     /* name and village: the row travels whole */
    CHECK_EQ_INT(villages, 2); /* the catalog: every reader sees it */
    lm_replica_close(s);
}

/* cache_kib sets the connection's page cache; 0 keeps SQLite's default. */
static void test_cache_option(void)
{
    char path[400], err[256];
    long long want[2] = {-2000, -4096};
    for (int i = 0; i < 2; i++) {
        st_path(path, sizeof path, i ? "cache_b.db" : "cache_a.db");
        lm_replica_options o = {.create = 1, .site = 9, .cache_kib = i ? 4096 : 0};
        lm_replica *r = NULL;
        CHECK_RC(lm_replica_open(path, &o, &r, err, sizeof err), LM_OK);
        if (r) {
            CHECK_EQ_INT(st_int(r, "PRAGMA cache_size"), want[i]);
            lm_replica_close(r);
        }
    }
}

/* Commits sync the WAL (synchronous FULL, 2) unless a sync session turned
 * that off (NORMAL, 1) for what it can fetch again. */
static void test_durable_commits(void)
{
    char path[400], err[256];
    st_path(path, sizeof path, "durable.db");
    lm_replica_options o = {.create = 1, .site = 9};
    lm_replica *r = NULL;
    CHECK_RC(lm_replica_open(path, &o, &r, err, sizeof err), LM_OK);
    if (!r)
        return;
    CHECK_EQ_INT(st_int(r, "PRAGMA synchronous"), 2);
    CHECK_RC(lm_replica_set_durable(r, 0), LM_OK);
    CHECK_EQ_INT(st_int(r, "PRAGMA synchronous"), 1);
    CHECK_RC(lm_replica_set_durable(r, 1), LM_OK);
    CHECK_EQ_INT(st_int(r, "PRAGMA synchronous"), 2);
    CHECK_RC(lm_replica_set_durable(NULL, 1), LM_EINVAL);
    lm_replica_close(r);
}

/* lm_replica_flush makes one durable commit and leaves the mode as it
 * was; *upto_seq covers every change logged so far, the head
 * lm_replica_seq reads. */
static void test_flush(void)
{
    lm_replica *a = st_open("flush.db", 2, NULL);
    if (!a)
        return;
    CHECK_RC(st_exec(a, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan')"), SQLITE_OK);
    uint64_t upto = 0;
    CHECK_RC(lm_replica_set_durable(a, 0), LM_OK);
    CHECK_RC(st_exec(a, "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun')"),
             SQLITE_OK);
    CHECK_RC(lm_replica_flush(a, &upto), LM_OK);
    CHECK_EQ_INT((long long)upto, st_int(a, "SELECT v FROM lm_seq"));
    CHECK(upto > 0);
    uint64_t head = 0;
    CHECK_RC(lm_replica_seq(a, &head), LM_OK);
    CHECK_EQ_INT((long long)head, (long long)upto);
    CHECK_RC(st_exec(a, "UPDATE farmers SET phone = '139' WHERE id = 'f1'"), SQLITE_OK);
    CHECK_RC(lm_replica_seq(a, &head), LM_OK);
    CHECK_EQ_INT((long long)head, (long long)upto + 1); /* one cell written */
    CHECK_RC(lm_replica_seq(a, NULL), LM_EINVAL);
    CHECK_RC(lm_replica_seq(NULL, &head), LM_EINVAL);
    CHECK_EQ_INT((long long)head, 0);
    CHECK_EQ_INT(st_int(a, "PRAGMA synchronous"), 1); /* still NORMAL */
    CHECK_RC(lm_replica_set_durable(a, 1), LM_OK);
    CHECK_RC(lm_replica_flush(a, &upto), LM_OK);
    CHECK_EQ_INT(st_int(a, "PRAGMA synchronous"), 2);
    CHECK_RC(lm_replica_flush(a, NULL), LM_EINVAL);
    CHECK_RC(lm_replica_flush(NULL, &upto), LM_EINVAL);
    lm_replica_close(a);
}

/* The server's watermark catches the acks up (a power cut rolled them
 * back: the changes would show as waiting forever); past the counter it
 * means a file restored from before it, which takes a fresh site for what
 * it logged since its last ack (its seqs may be other changes' at the
 * server) and numbers it past the watermark. */
static void test_adopt_watermark(void)
{
    lm_replica *a = st_open("watermark.db", 2, NULL);
    if (!a)
        return;
    CHECK_RC(st_exec(a, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan');"
                        "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun');"
                        "INSERT INTO farmers(id,name,village) VALUES('f2','Wang','Xiacun')"),
             SQLITE_OK);
    uint64_t seq = (uint64_t)st_int(a, "SELECT v FROM lm_seq"), acked = 9, pending = 0;
    uint64_t half = (uint64_t)st_int(a, "SELECT seq FROM lm_versions WHERE pk = 'f1'");
    CHECK(half > 0 && half < seq);
    CHECK_RC(lm_replica_adopt_watermark(a, half), LM_OK);
    CHECK_RC(lm_replica_push_acked_seq(a, &acked), LM_OK);
    CHECK_EQ_INT((long long)acked, (long long)half);
    CHECK_RC(lm_replica_pending_count(a, &pending), LM_OK);
    CHECK(pending > 0);                                       /* f2 still waits */
    CHECK_RC(lm_replica_adopt_watermark(a, half - 1), LM_OK); /* never backwards */
    CHECK_RC(lm_replica_push_acked_seq(a, &acked), LM_OK);
    CHECK_EQ_INT((long long)acked, (long long)half);
    CHECK_EQ_INT(st_int(a, "SELECT v FROM lm_seq"), (long long)seq);

    /* past the counter: a restored or copied file. Its unacknowledged
     * change (f2) is logged again under a fresh site, past the watermark;
     * f1, acknowledged, stays the old site's */
    uint64_t w = seq + 1000, waiting = pending;
    CHECK_RC(lm_replica_adopt_watermark(a, w), LM_ECONFLICT);
    uint64_t site = lm_replica_site(a);
    CHECK(site != 2 && site != 0);
    CHECK_EQ_INT(st_int(a, "SELECT value FROM lm_meta WHERE key = 'previous_site'"), 2);
    CHECK_EQ_INT(st_int(a, "SELECT value FROM lm_meta WHERE key = 'site'"), (long long)site);
    CHECK_RC(lm_replica_pending_count(a, &pending), LM_OK);
    CHECK_EQ_INT((long long)pending, (long long)waiting);
    CHECK_EQ_INT(st_int(a, "SELECT v FROM lm_seq"), (long long)(seq + w - half));
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_versions WHERE pk = 'f2' AND site = 2"), 0);
    CHECK(st_int(a, "SELECT min(seq) FROM lm_versions WHERE pk = 'f2'") > (long long)w);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_versions WHERE pk = 'f1' AND site <> 2"), 0);
    CHECK_RC(st_exec(a, "UPDATE farmers SET phone = '139' WHERE id = 'f1'"), SQLITE_OK);
    lm_change *ch = NULL;
    uint32_t n = 0, theirs = 0;
    uint64_t upto = 0;
    CHECK_RC(lm_replica_local_changes(a, w, 1 << 20, &ch, &n, &upto), LM_OK);
    CHECK_EQ_INT(n, waiting + 1); /* f2 again and the new write, all after the watermark */
    for (uint32_t i = 0; i < n; i++)
        theirs += ch[i].site != site;
    CHECK_EQ_INT(theirs, 0);
    CHECK(upto > w);
    lm_changes_free(ch, n);
    /* the next watermark, this site's own, is ordinary again */
    CHECK_RC(lm_replica_adopt_watermark(a, upto), LM_OK);
    CHECK_EQ_INT((long long)lm_replica_site(a), (long long)site);
    CHECK_RC(lm_replica_adopt_watermark(NULL, 1), LM_EINVAL);
    lm_replica_close(a);
}

/* A push as the field tool and the server make it: the batch's digest is
 * kept on the agent before it is sent (lm_replica_push_mark) and by the
 * server beside the watermark it moves. ack = 0: the ack is lost. The
 * digest is taken from the batch after a PUSH encode and decode, as the
 * server takes it. */
static int push_marked(lm_replica *agent, lm_replica *server, int ack)
{
    uint64_t after = 0, upto = 0;
    lm_change *ch = NULL;
    uint32_t n = 0;
    int rc = lm_replica_push_acked_seq(agent, &after);
    if (!rc)
        rc = lm_replica_local_changes(agent, after, 1u << 30, &ch, &n, &upto);
    if (!rc)
        rc = lm_replica_push_mark(agent, ch, n, upto);
    lm_msg m, got;
    memset(&m, 0, sizeof m);
    memset(&got, 0, sizeof got);
    m.type = LM_MSG_PUSH;
    m.u.push.upto_seq = upto;
    m.u.push.changes = ch;
    m.u.push.n_changes = n;
    m.u.push.int_deltas = 1; /* as lastmile sends to a server that decodes them */
    lm_buf b;
    lm_buf_init(&b);
    if (!rc)
        rc = lm_msg_encode(&m, &b);
    if (!rc)
        rc = lm_msg_decode(LM_MSG_PUSH, b.data, b.len, &got, NULL, 0);
    lm_buf_close(&b);
    if (!rc) {
        CHECK_EQ_INT((long long)lm_push_digest(got.u.push.changes, got.u.push.n_changes, upto),
                     (long long)lm_push_digest(ch, n, upto));
        lm_apply_ctx ctx = {.origin_site = lm_replica_site(agent),
                            .origin_upto_seq = upto,
                            .origin_digest =
                                lm_push_digest(got.u.push.changes, got.u.push.n_changes, upto)};
        lm_apply_result res;
        rc = lm_replica_apply(server, got.u.push.changes, got.u.push.n_changes, &ctx, &res);
        if (!rc && ack)
            rc = lm_replica_push_acked(agent, upto, ch, n, res.refusals, res.n_refusals);
        lm_apply_result_clear(&res);
    }
    lm_msg_clear(&got);
    lm_changes_free(ch, n);
    return rc;
}

/* Two live clones of one replica (issue 20): the copy that syncs second
 * has logged as many changes as the server holds of the site since the
 * copy, so its counter reached the watermark and the counter rule alone
 * took the watermark for a lost ack of its own change. The digest of the
 * batch that set the watermark tells them apart: the original, whose ack
 * was lost, kept it and catches up; the clone did not, and goes on under a
 * fresh site with its change logged again. */
static void test_clone_digest(void)
{
    lm_replica *srv = st_open_as("clone_srv.db", 1, NULL, 1);
    lm_replica *a = st_open("clone_a.db", 2, NULL);
    if (!srv || !a)
        return;
    CHECK_RC(st_exec(a, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan');"
                        "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun')"),
             SQLITE_OK);
    CHECK_RC(push_marked(a, srv, 1), LM_OK);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_push_marks"), 0); /* acked: forgotten */
    lm_replica_close(a);
    char pa[400], pb[400], cmd[900];
    st_path(pa, sizeof pa, "clone_a.db");
    st_path(pb, sizeof pb, "clone_b.db");
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", pa, pb);
    CHECK_EQ_INT(system(cmd), 0);
    a = st_open("clone_a.db", 0, NULL);
    lm_replica *b = st_open("clone_b.db", 0, NULL);
    if (!a || !b)
        return;
    CHECK_EQ_INT((long long)lm_replica_site(b), 2);
    /* one farmer each, the same number of cells: equal counters */
    CHECK_RC(st_exec(a, "INSERT INTO farmers(id,name,village) VALUES('fa','Wang','Xiacun')"),
             SQLITE_OK);
    CHECK_RC(st_exec(b, "INSERT INTO farmers(id,name,village) VALUES('fb','Zhao','Xiacun')"),
             SQLITE_OK);
    CHECK_RC(push_marked(a, srv, 0), LM_OK); /* a's ack is lost */
    uint64_t w = 0, d = 0, acked = 0, pending = 0;
    CHECK_RC(lm_replica_watermark_digest(srv, 2, &w, &d), LM_OK);
    CHECK(d != 0);
    CHECK_EQ_INT(st_int(b, "SELECT v FROM lm_seq"), (long long)w);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_push_marks"), 1);

    /* the original: its own batch, a lost ack */
    CHECK_RC(lm_replica_adopt_watermark_digest(a, w, d), LM_OK);
    CHECK_EQ_INT((long long)lm_replica_site(a), 2);
    CHECK_RC(lm_replica_push_acked_seq(a, &acked), LM_OK);
    CHECK_EQ_INT((long long)acked, (long long)w);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_push_marks"), 0);

    /* the clone: never sent that batch */
    CHECK_RC(lm_replica_adopt_watermark_digest(b, w, d ^ 1), LM_ECONFLICT); /* a wrong digest */
    uint64_t site = lm_replica_site(b);
    CHECK(site != 2 && site != 0);
    CHECK(strstr(lm_replica_errmsg(b), "cloned") != NULL);
    CHECK_EQ_INT(st_int(b, "SELECT value FROM lm_meta WHERE key = 'previous_site'"), 2);
    CHECK_EQ_INT(st_int(b, "SELECT value FROM lm_meta WHERE key = 'pull_cursor'"), 0);
    CHECK_RC(lm_replica_pending_count(b, &pending), LM_OK);
    CHECK(pending > 0);
    CHECK(st_int(b, "SELECT min(seq) FROM lm_versions WHERE pk = 'fb'") > (long long)w);
    CHECK_EQ_INT(st_int(b, "SELECT count(*) FROM lm_versions WHERE pk = 'fb' AND site = 2"), 0);
    /* b goes on as its new site; both converge with every farmer once */
    CHECK_RC(lm_replica_watermark_digest(srv, site, &w, &d), LM_OK);
    CHECK_RC(lm_replica_adopt_watermark_digest(b, w, d), LM_OK);
    CHECK_RC(push_marked(b, srv, 1), LM_OK);
    CHECK_RC(st_pull(srv, b, NULL), LM_OK);
    CHECK_RC(st_pull(srv, a, NULL), LM_OK);
    CHECK_EQ_INT(st_int(srv, "SELECT count(*) FROM farmers"), 3);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM farmers WHERE id IN ('f1','fa','fb')"), 3);
    CHECK_EQ_INT(st_int(b, "SELECT count(*) FROM farmers WHERE id IN ('f1','fa','fb')"), 3);
    CHECK(st_hash_eq(a, srv, NULL) && st_hash_eq(b, srv, NULL));
    CHECK_RC(lm_replica_pending_count(b, &pending), LM_OK);
    CHECK_EQ_INT((long long)pending, 0);

    /* bad input */
    CHECK_RC(lm_replica_push_mark(NULL, NULL, 0, 1), LM_EINVAL);
    CHECK_RC(lm_replica_push_mark(a, NULL, 1, 1), LM_EINVAL);
    CHECK_RC(lm_replica_push_mark(a, NULL, 0, 0), LM_EINVAL);
    CHECK_RC(lm_replica_watermark_digest(srv, 2, &w, NULL), LM_EINVAL);
    CHECK_RC(lm_replica_adopt_watermark_digest(NULL, 1, 1), LM_EINVAL);
    CHECK(lm_push_digest(NULL, 0, 0) != 0);
    lm_replica_close(a);
    lm_replica_close(b);
    lm_replica_close(srv);
}

int main(void)
{
    st_mkdir("capture");
    test_cache_option();
    test_durable_commits();
    test_flush();
    test_adopt_watermark();
    test_clone_digest();
    test_scan_limit();
    test_shell_capture();
    test_changes_since();
    test_initial_sync();
    test_route_scopes();
    test_read_without_lock();
    st_rmdir();
    return lm_test_done("sync_capture");
}
