/*
 * sync_prev.c — the prev_hlc a local write carries when it replaces a local
 * version no push acknowledgement covers yet (schema.c, capture_cell_sql):
 * the replaced version's own prev_hlc, the last version the server can
 * know. Two writes between pushes (a stop arrived, then loaded, while the
 * dispatcher re-plans it) reach the server as a fast-forward, whichever
 * syncs first, also when the first push was cut before it committed or
 * committed with its ack lost; a write the agent really did not see still
 * makes a conflict.
 */
#include "sync_test_util.h"

static const char *const villages_a[] = {"Xiacun", "Shangcun"};
static lm_scope agent_a = {LM_ROLE_AGENT, "agent-a", villages_a, 2, NULL};
static lm_scope disp = {LM_ROLE_DISPATCHER, "disp-1", NULL, 0, "Wuyuan"};
static lm_scope hq = {LM_ROLE_HQ, "hq-1", NULL, 0, NULL};

/* Version (hlc) of a stop's status on a replica, its own entry or the row
 * entry covering it (status is column 6 of route_stops). */
static long long status_hlc(lm_replica *r, const char *stop)
{
    char q[256];
    snprintf(q, sizeof q,
             "SELECT v.hlc FROM lm_versions v JOIN lm_columns c ON c.tid = v.tid"
             " WHERE c.tbl = 'route_stops' AND c.col = 'status' AND v.pk = '%s' AND"
             " (v.cid = c.cid OR v.cid = -1 AND (v.cols >> c.cid) & 1)",
             stop);
    return st_int(r, q);
}

static long long status_prev(lm_replica *r, const char *stop)
{
    char q[256];
    snprintf(q, sizeof q,
             "SELECT v.prev_hlc FROM lm_versions v JOIN lm_columns c ON c.tid = v.tid"
             " WHERE c.tbl = 'route_stops' AND c.col = 'status' AND v.pk = '%s' AND v.cid = c.cid",
             stop);
    return st_int(r, q);
}

/* prev_hlc of the status change a push would send now (-1 when none). */
static long long pushed_status_prev(lm_replica *a, const char *stop)
{
    uint64_t after = 0, upto = 0;
    lm_change *ch = NULL;
    uint32_t n = 0;
    long long prev = -1;
    CHECK_RC(lm_replica_push_acked_seq(a, &after), LM_OK);
    CHECK_RC(lm_replica_local_changes(a, after, 1u << 30, &ch, &n, &upto), LM_OK);
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(ch[i].table, "route_stops") && !strcmp(ch[i].pk, stop) &&
            !strcmp(ch[i].column, "status"))
            prev = (long long)ch[i].prev_hlc;
    lm_changes_free(ch, n);
    return prev;
}

/* Server, dispatcher and agent with one planned route of stops s1, s2. */
static void setup(const char *tag, lm_replica **s, lm_replica **d, lm_replica **a)
{
    char f[64];
    snprintf(f, sizeof f, "%s_s.db", tag);
    *s = st_open(f, 1, NULL);
    snprintf(f, sizeof f, "%s_d.db", tag);
    *d = st_open(f, 4, NULL);
    snprintf(f, sizeof f, "%s_a.db", tag);
    *a = st_open(f, 2, NULL);
    CHECK(*s && *d && *a);
    CHECK_RC(
        st_exec(
            *s,
            "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan'),('Shangcun','Wuyuan')"),
        SQLITE_OK);
    CHECK_RC(st_pull(*s, *d, &disp), LM_OK);
    CHECK_RC(st_exec(*d, "INSERT INTO routes(id,county,status) VALUES('r1','Wuyuan','planned');"
                         "INSERT INTO route_stops(id,route_id,seq,agent_id,village,planned_at,"
                         "status) VALUES('s1','r1',1,'agent-a','Xiacun',100,'planned'),"
                         "('s2','r1',2,'agent-a','Shangcun',200,'planned')"),
             SQLITE_OK);
    lm_apply_result res;
    CHECK_RC(st_push(*d, *s, &disp, &res), LM_OK);
    CHECK_EQ_INT(res.n_refusals, 0);
    lm_apply_result_clear(&res);
    CHECK_RC(st_pull(*s, *a, &agent_a), LM_OK);
}

/* Pushes a's pending changes as the agent; checks no conflict, no refusal. */
static void push_clean(lm_replica *from, lm_replica *s, const lm_scope *w, const char *what)
{
    lm_apply_result res;
    CHECK_RC(st_push(from, s, w, &res), LM_OK);
    if (res.conflicts || res.n_refusals)
        fprintf(stderr, "%s: %u conflicts, %u refusals\n", what, res.conflicts, res.n_refusals);
    CHECK_EQ_INT(res.conflicts, 0);
    CHECK_EQ_INT(res.n_refusals, 0);
    lm_apply_result_clear(&res);
}

static void check_merged(lm_replica *s, lm_replica *d, lm_replica *a, const char *stop, int seq)
{
    char q[160], buf[32];
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_RC(st_pull(s, d, &disp), LM_OK);
    lm_replica *all[3] = {s, d, a};
    for (int i = 0; i < 3; i++) {
        snprintf(q, sizeof q, "SELECT status FROM route_stops WHERE id='%s'", stop);
        CHECK_STR(st_text(all[i], q, buf, sizeof buf), "loaded");
        snprintf(q, sizeof q, "SELECT loaded_weight_g FROM route_stops WHERE id='%s'", stop);
        CHECK_EQ_INT(st_int(all[i], q), 812500);
        snprintf(q, sizeof q, "SELECT seq FROM route_stops WHERE id='%s'", stop);
        CHECK_EQ_INT(st_int(all[i], q), seq);
        CHECK_EQ_INT(st_int(all[i], "SELECT count(*) FROM lm_conflicts"), 0);
        CHECK_EQ_INT(st_int(all[i], "SELECT count(*) FROM lm_refusals"), 0);
    }
    CHECK(st_hash_eq(s, a, &agent_a));
    CHECK(st_hash_eq(s, d, &disp));
}

/* Arrive then load between two pushes while the dispatcher re-plans: the
 * pushed status names the dispatcher's version, the one the server holds,
 * in both sync orders; the arrival's batch is read (a push begun) and cut
 * before the server commits it. */
static void test_two_writes_between_pushes(void)
{
    lm_replica *s, *d, *a;
    setup("two", &s, &d, &a);
    for (int order = 0; order < 2; order++) {
        const char *stop = order ? "s2" : "s1";
        char q[160];
        long long planned = status_hlc(s, stop);
        CHECK(planned > 0);
        CHECK_EQ_INT(status_hlc(a, stop), planned);
        snprintf(q, sizeof q, "UPDATE route_stops SET seq = 3, planned_at = 999 WHERE id='%s'",
                 stop);
        CHECK_RC(st_exec(d, q), SQLITE_OK);
        snprintf(q, sizeof q, "UPDATE route_stops SET status='arrived' WHERE id='%s'", stop);
        CHECK_RC(st_exec(a, q), SQLITE_OK);
        CHECK_RC(lm_replica_stamp(a, NULL), LM_OK);
        long long arrived = status_hlc(a, stop);
        CHECK(arrived > planned);
        CHECK_EQ_INT(status_prev(a, stop), planned);
        /* a push starts (reads the arrival) and is cut: nothing acked */
        CHECK_EQ_INT(pushed_status_prev(a, stop), planned);
        snprintf(q, sizeof q,
                 "UPDATE route_stops SET status='loaded', loaded_weight_g=812500 WHERE id='%s'",
                 stop);
        CHECK_RC(st_exec(a, q), SQLITE_OK);
        CHECK_RC(lm_replica_stamp(a, NULL), LM_OK);
        CHECK(status_hlc(a, stop) > arrived);
        /* the load replaced an unacknowledged local version: it keeps that
         * version's prev, the dispatcher's, which the server holds */
        CHECK_EQ_INT(status_prev(a, stop), planned);
        CHECK_EQ_INT(pushed_status_prev(a, stop), planned);
        if (order == 0) {
            push_clean(d, s, &disp, "dispatcher first: dispatcher");
            push_clean(a, s, &agent_a, "dispatcher first: agent");
        } else {
            push_clean(a, s, &agent_a, "agent first: agent");
            push_clean(d, s, &disp, "agent first: dispatcher");
        }
        check_merged(s, d, a, stop, 3);
    }
    lm_replica_close(s);
    lm_replica_close(d);
    lm_replica_close(a);
}

/* The arrival's batch committed at the server but its ack was lost: the
 * load (prev = the dispatcher's version) meets the agent's own arrival
 * there and is sequential after it (same site). Re-sending changes
 * nothing. Once a push is acknowledged, the next write names the acked
 * version itself. */
static void test_ack_lost_and_acked(void)
{
    lm_replica *s, *d, *a;
    setup("ack", &s, &d, &a);
    long long planned = status_hlc(s, "s1");
    CHECK_RC(st_exec(a, "UPDATE route_stops SET status='arrived' WHERE id='s1'"), SQLITE_OK);
    CHECK_RC(lm_replica_stamp(a, NULL), LM_OK);
    long long arrived = status_hlc(a, "s1");
    uint64_t after = 0, upto = 0;
    lm_change *ch = NULL;
    uint32_t n = 0;
    CHECK_RC(lm_replica_push_acked_seq(a, &after), LM_OK);
    CHECK_RC(lm_replica_local_changes(a, after, 1u << 30, &ch, &n, &upto), LM_OK);
    lm_apply_ctx ctx = {.writer = &agent_a, .origin_site = 2, .origin_upto_seq = upto};
    lm_apply_result res;
    CHECK_RC(lm_replica_apply(s, ch, n, &ctx, &res), LM_OK);
    CHECK_EQ_INT(res.conflicts, 0);
    lm_apply_result_clear(&res);
    lm_changes_free(ch, n); /* no lm_replica_push_acked: the ack was lost */
    CHECK_EQ_INT(status_hlc(s, "s1"), arrived);

    CHECK_RC(st_exec(a, "UPDATE route_stops SET status='loaded', loaded_weight_g=812500"
                        " WHERE id='s1'"),
             SQLITE_OK);
    CHECK_RC(lm_replica_stamp(a, NULL), LM_OK);
    CHECK_EQ_INT(status_prev(a, "s1"), planned);
    CHECK_RC(lm_replica_push_acked_seq(a, &after), LM_OK);
    CHECK_RC(lm_replica_local_changes(a, after, 1u << 30, &ch, &n, &upto), LM_OK);
    ctx.origin_upto_seq = upto;
    CHECK_RC(lm_replica_apply(s, ch, n, &ctx, &res), LM_OK);
    CHECK_EQ_INT(res.conflicts, 0);
    CHECK_EQ_INT(res.n_refusals, 0);
    lm_apply_result_clear(&res);
    /* the same batch again (ack lost again): a no-op */
    CHECK_RC(lm_replica_apply(s, ch, n, &ctx, &res), LM_OK);
    CHECK_EQ_INT(res.applied, 0);
    CHECK_EQ_INT(res.conflicts, 0);
    lm_apply_result_clear(&res);
    CHECK_RC(lm_replica_push_acked(a, upto, ch, n, NULL, 0), LM_OK);
    lm_changes_free(ch, n);
    long long loaded = status_hlc(a, "s1");
    CHECK_EQ_INT(status_hlc(s, "s1"), loaded);
    check_merged(s, d, a, "s1", 1);

    /* acknowledged: a later local write names the acked version. (The
     * server refuses going back; only the prev is checked here.) */
    CHECK_RC(st_exec(a, "UPDATE route_stops SET loaded_weight_g=900000 WHERE id='s1'"), SQLITE_OK);
    CHECK_RC(st_exec(a, "UPDATE route_stops SET loaded_weight_g=812500 WHERE id='s1'"), SQLITE_OK);
    CHECK_RC(lm_replica_stamp(a, NULL), LM_OK);
    CHECK_EQ_INT(st_int(a, "SELECT prev_hlc FROM lm_versions WHERE pk='s1' AND cid=7"), loaded);
    lm_replica_close(s);
    lm_replica_close(d);
    lm_replica_close(a);
}

/* A real concurrent write still conflicts: hq marks the stop arrived while
 * the agent, offline, arrives and loads; and on an lww cell hq renames a
 * farmer the agent renames twice. The server logs both, with the agent's
 * write winning the status by rank and the larger version the name. */
static void test_concurrent_still_conflicts(void)
{
    lm_replica *s, *d, *a;
    setup("conc", &s, &d, &a);
    lm_replica *h = st_open("conc_h.db", 7, NULL);
    CHECK(h);
    CHECK_RC(st_exec(a, "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun')"),
             SQLITE_OK);
    push_clean(a, s, &agent_a, "farmer");
    CHECK_RC(st_pull(s, h, &hq), LM_OK);

    CHECK_RC(st_exec(h, "UPDATE route_stops SET status='arrived' WHERE id='s1';"
                        "UPDATE farmers SET name='Li Ming' WHERE id='f1'"),
             SQLITE_OK);
    CHECK_RC(st_exec(a, "UPDATE route_stops SET status='arrived' WHERE id='s1';"
                        "UPDATE farmers SET name='Li M.' WHERE id='f1'"),
             SQLITE_OK);
    CHECK_RC(lm_replica_stamp(a, NULL), LM_OK);
    CHECK_RC(st_exec(a, "UPDATE route_stops SET status='loaded', loaded_weight_g=812500"
                        " WHERE id='s1';"
                        "UPDATE farmers SET name='Li Mingzhu' WHERE id='f1'"),
             SQLITE_OK);
    lm_apply_result res;
    CHECK_RC(st_push(h, s, &hq, &res), LM_OK);
    CHECK_EQ_INT(res.conflicts, 0);
    CHECK_EQ_INT(res.n_refusals, 0);
    lm_apply_result_clear(&res);
    CHECK_RC(st_push(a, s, &agent_a, &res), LM_OK);
    CHECK_EQ_INT(res.conflicts, 2);
    CHECK_EQ_INT(res.n_refusals, 0);
    lm_apply_result_clear(&res);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_conflicts WHERE col='status' AND"
                           " winner_value='loaded' AND winner_site=2 AND"
                           " loser_value='arrived' AND loser_site=7"),
                 1);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_conflicts WHERE col='name' AND"
                           " ((winner_value='Li Mingzhu' AND loser_value='Li Ming') OR"
                           " (winner_value='Li Ming' AND loser_value='Li Mingzhu'))"),
                 1);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_RC(st_pull(s, h, &hq), LM_OK);
    CHECK(st_hash_eq(s, a, &agent_a));
    CHECK(st_hash_eq(s, h, &hq));
    lm_replica_close(h);
    lm_replica_close(s);
    lm_replica_close(d);
    lm_replica_close(a);
}

/* A row inserted locally is one row entry (schema 5): its non-NULL cells,
 * n_cols seqs reserved, prev 0. Editing a cell it covers before any
 * acknowledgement names prev 0 (the insert may never have reached the
 * server); once acknowledged, the entry's version. A push's upto covers
 * the entry even when its last column is NULL. INSERT OR REPLACE over a
 * logged row goes cell by cell; a row revived after a delete is whole,
 * NULL cells included (the server still held a phone). */
static void test_local_insert_row_entry(void)
{
    lm_replica *s, *d, *a;
    setup("rowent", &s, &d, &a);
    long long seq0 = st_int(a, "SELECT v FROM lm_seq");
    CHECK_RC(st_exec(a, "INSERT INTO farmers(id,name,village,phone) VALUES('f1','Li','Xiacun',"
                        "'139')"),
             SQLITE_OK);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_versions WHERE pk='f1'"), 1);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_versions WHERE pk='f1' AND cid=-1 AND"
                           " cols=14 AND hlc IS NULL AND prev_hlc=0"),
                 1);
    CHECK_EQ_INT(st_int(a, "SELECT seq FROM lm_versions WHERE pk='f1'"), seq0 + 8);
    uint64_t pend = 0;
    CHECK_RC(lm_replica_pending_count(a, &pend), LM_OK);
    CHECK_EQ_INT(pend, 3);
    CHECK_RC(lm_replica_stamp(a, NULL), LM_OK);
    long long ins = st_int(a, "SELECT hlc FROM lm_versions WHERE pk='f1'");
    CHECK(ins > 0);

    /* a push reads the three cells and is cut: nothing acked */
    uint64_t after = 0, upto = 0;
    lm_change *ch = NULL;
    uint32_t n = 0;
    CHECK_RC(lm_replica_push_acked_seq(a, &after), LM_OK);
    CHECK_RC(lm_replica_local_changes(a, after, 1u << 30, &ch, &n, &upto), LM_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(upto, seq0 + 8); /* phone, the last cell, took seq0 + 3 */
    for (uint32_t i = 0; i < n; i++) {
        CHECK_EQ_INT(ch[i].hlc, ins);
        CHECK_EQ_INT(ch[i].prev_hlc, 0);
    }
    lm_changes_free(ch, n);
    CHECK_RC(st_exec(a, "UPDATE farmers SET name='Li Wei' WHERE id='f1'"), SQLITE_OK);
    CHECK_EQ_INT(st_int(a, "SELECT prev_hlc FROM lm_versions WHERE pk='f1' AND cid=1"), 0);
    CHECK_EQ_INT(st_int(a, "SELECT cols FROM lm_versions WHERE pk='f1' AND cid=-1"), 12);
    push_clean(a, s, &agent_a, "insert then edit");
    CHECK_RC(lm_replica_pending_count(a, &pend), LM_OK);
    CHECK_EQ_INT(pend, 0);
    char buf[32];
    CHECK_STR(st_text(s, "SELECT name FROM farmers WHERE id='f1'", buf, sizeof buf), "Li Wei");

    /* acknowledged: a cell the entry still covers names the entry */
    CHECK_RC(st_exec(a, "UPDATE farmers SET phone='138' WHERE id='f1'"), SQLITE_OK);
    CHECK_EQ_INT(st_int(a, "SELECT prev_hlc FROM lm_versions WHERE pk='f1' AND cid=3"), ins);
    push_clean(a, s, &agent_a, "edit after ack");
    long long phone = st_int(a, "SELECT hlc FROM lm_versions WHERE pk='f1' AND cid=3");

    CHECK_RC(st_exec(a, "INSERT OR REPLACE INTO farmers(id,name,village,phone) VALUES('f1',"
                        "'Li Wei','Xiacun','137')"),
             SQLITE_OK);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_versions WHERE pk='f1' AND cid=-1"), 0);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_versions WHERE pk='f1'"), 3);
    CHECK_EQ_INT(st_int(a, "SELECT prev_hlc FROM lm_versions WHERE pk='f1' AND cid=3"), phone);
    CHECK_EQ_INT(st_int(a, "SELECT prev_hlc FROM lm_versions WHERE pk='f1' AND cid=2"), ins);
    push_clean(a, s, &agent_a, "insert or replace");
    CHECK_STR(st_text(s, "SELECT phone FROM farmers WHERE id='f1'", buf, sizeof buf), "137");

    CHECK_RC(st_exec(a, "DELETE FROM farmers WHERE id='f1';"
                        "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun')"),
             SQLITE_OK);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_versions WHERE pk='f1'"), 1);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_versions WHERE pk='f1' AND cid=-1 AND"
                           " cols=510 AND prev_hlc=0"),
                 1);
    push_clean(a, s, &agent_a, "revived");
    CHECK_STR(st_text(s, "SELECT name FROM farmers WHERE id='f1'", buf, sizeof buf), "Li");
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM farmers WHERE id='f1' AND phone IS NULL"), 1);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK(st_hash_eq(s, a, &agent_a));
    lm_replica_close(s);
    lm_replica_close(d);
    lm_replica_close(a);
}

int main(void)
{
    st_mkdir("prev");
    test_two_writes_between_pushes();
    test_ack_lost_and_acked();
    test_concurrent_still_conflicts();
    test_local_insert_row_entry();
    st_rmdir();
    return lm_test_done("sync_prev");
}
