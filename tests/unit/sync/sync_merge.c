/*
 * sync_merge.c — the merge: fast-forward, concurrent writes and the
 * conflict log, each column policy, tombstones, refusals with repair,
 * bad inputs, re-applied batches, watermarks, received_at, resolution.
 */
#include "sync_test_util.h"

static const char *const villages_a[] = {"Xiacun", "Shangcun"};
static lm_scope agent_a = {LM_ROLE_AGENT, "agent-a", villages_a, 2, NULL};
static lm_scope disp = {LM_ROLE_DISPATCHER, "disp-1", NULL, 0, "Wuyuan"};
static lm_scope hq = {LM_ROLE_HQ, "hq-1", NULL, 0, NULL};

static lm_change mk(const char *t, const char *pk, const char *col, lm_value v, uint64_t hlc,
                    uint64_t site, uint64_t prev)
{
    lm_change c = {(char *)t, (char *)pk, (char *)col, v, hlc, site, prev, 0};
    return c;
}

static lm_value txt(const char *s)
{
    lm_value v = {.type = LM_VAL_TEXT, .bytes = (uint8_t *)s, .len = strlen(s)};
    return v;
}

static lm_value num(int64_t i)
{
    lm_value v = {.type = LM_VAL_INTEGER, .i = i};
    return v;
}

static lm_value nul(void)
{
    lm_value v = {.type = LM_VAL_NULL};
    return v;
}

static void seed_catalog(lm_replica *s)
{
    CHECK_RC(
        st_exec(
            s, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan'),('Shangcun','Wuyuan'),"
               "('Beicun','Other')"),
        SQLITE_OK);
}

/* Flow: agent writes with plain SQL, pushes; server merges; a second agent
 * of the same scope pulls and holds the same state. */
static void test_roundtrip(void)
{
    lm_replica *s = st_open("rt_s.db", 1, NULL), *a = st_open("rt_a.db", 2, NULL),
               *a2 = st_open("rt_a2.db", 3, NULL);
    CHECK(s && a && a2);
    seed_catalog(s);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_RC(st_exec(a, "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun');"
                        "INSERT INTO collections(id,agent_id,farmer_id,village,product,grade,"
                        "weight_g,unit_price_fen,amount_fen,collected_at) VALUES('c1','agent-a',"
                        "'f1','Xiacun','apple','A',10000,500,5000,1)"),
             SQLITE_OK);
    uint64_t pend = 0;
    CHECK_RC(lm_replica_pending_count(a, &pend), LM_OK);
    CHECK_EQ_INT(pend, 11);
    lm_apply_result res;
    CHECK_RC(st_push(a, s, &agent_a, &res), LM_OK);
    CHECK_EQ_INT(res.applied, 11);
    CHECK_EQ_INT(res.n_refusals, 0);
    lm_apply_result_clear(&res);
    CHECK_RC(lm_replica_pending_count(a, &pend), LM_OK);
    CHECK_EQ_INT(pend, 0);
    CHECK_EQ_INT(st_int(s, "SELECT weight_g FROM collections WHERE id='c1'"), 10000);
    /* the server's own tables are not re-captured as local writes */
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE site=1 AND tid<>11"), 0);
    CHECK_RC(st_pull(s, a2, &agent_a), LM_OK);
    CHECK(st_hash_eq(s, a2, &agent_a));
    CHECK(st_hash_eq(a, a2, &agent_a));
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK(st_hash_eq(s, a, &agent_a));
    lm_replica_close(s);
    lm_replica_close(a);
    lm_replica_close(a2);
}

/* LWW: fast-forward, then two concurrent writes; the larger (hlc, site)
 * wins on both sides and the loser is in each side's conflict log. */
static void test_lww_conflict(void)
{
    uint64_t ca = 1700000000000ull, cb = 1700000000000ull;
    lm_replica *s = st_open("lww_s.db", 1, NULL), *a = st_open("lww_a.db", 2, &ca),
               *b = st_open("lww_b.db", 3, &cb);
    seed_catalog(s);
    CHECK_RC(
        st_exec(s, "INSERT INTO farmers(id,name,village,phone) VALUES('f1','Li','Xiacun','1')"),
        SQLITE_OK);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_RC(st_pull(s, b, &agent_a), LM_OK);
    /* fast-forward */
    ca += 10;
    CHECK_RC(st_exec(a, "UPDATE farmers SET phone='2' WHERE id='f1'"), SQLITE_OK);
    lm_apply_result res;
    CHECK_RC(st_push(a, s, &agent_a, &res), LM_OK);
    CHECK_EQ_INT(res.applied, 1);
    CHECK_EQ_INT(res.conflicts, 0);
    lm_apply_result_clear(&res);
    /* concurrent: b has not seen '2'; b's clock is later, so b wins */
    cb += 50;
    CHECK_RC(st_exec(b, "UPDATE farmers SET phone='3' WHERE id='f1'"), SQLITE_OK);
    CHECK_RC(st_push(b, s, &agent_a, &res), LM_OK);
    CHECK_EQ_INT(res.applied, 1);
    CHECK_EQ_INT(res.conflicts, 1);
    lm_apply_result_clear(&res);
    char buf[64];
    CHECK_STR(st_text(s, "SELECT phone FROM farmers WHERE id='f1'", buf, sizeof buf), "3");
    lm_conflict *cf = NULL;
    size_t n = 0;
    CHECK_RC(lm_replica_conflicts(s, 0, &cf, &n), LM_OK);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_STR(cf[0].table, "farmers");
        CHECK_STR(cf[0].column, "phone");
        CHECK_EQ_INT(cf[0].loser.type, LM_VAL_TEXT);
        CHECK(cf[0].loser.len == 1 && cf[0].loser.bytes[0] == '2');
        CHECK_EQ_INT(cf[0].winner_site, 3);
        CHECK_EQ_INT(cf[0].loser_site, 2);
        CHECK(cf[0].winner_hlc > cf[0].loser_hlc);
    }
    /* a pulls: it holds '2' which loses to '3' here too */
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_STR(st_text(a, "SELECT phone FROM farmers WHERE id='f1'", buf, sizeof buf), "3");
    /* the server resolves keeping the loser: a new write that syncs */
    int64_t id = n ? cf[0].id : 0;
    lm_conflicts_free(cf, n);
    CHECK_RC(lm_replica_conflict_resolve(s, id, 1), LM_OK);
    CHECK_RC(lm_replica_conflict_resolve(s, 9999, 1), LM_ENOTFOUND);
    CHECK_RC(lm_replica_conflicts(s, 0, &cf, &n), LM_OK);
    CHECK_EQ_INT(n, 0);
    lm_conflicts_free(cf, n);
    CHECK_RC(lm_replica_conflicts(s, 1, &cf, &n), LM_OK);
    CHECK_EQ_INT(n, 1);
    CHECK(n == 1 && cf[0].resolved == 1);
    lm_conflicts_free(cf, n);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_RC(st_pull(s, b, &agent_a), LM_OK);
    CHECK_STR(st_text(a, "SELECT phone FROM farmers WHERE id='f1'", buf, sizeof buf), "2");
    CHECK_STR(st_text(b, "SELECT phone FROM farmers WHERE id='f1'", buf, sizeof buf), "2");
    CHECK(st_hash_eq(s, a, &agent_a) && st_hash_eq(s, b, &agent_a));
    lm_replica_close(s);
    lm_replica_close(a);
    lm_replica_close(b);
}

/* Immutable, monotonic and ownership refusals: recorded, returned, and the
 * refused writer converges back to the server's value. */
static void test_policies(void)
{
    lm_replica *s = st_open("pol_s.db", 1, NULL), *a = st_open("pol_a.db", 2, NULL),
               *d = st_open("pol_d.db", 4, NULL);
    seed_catalog(s);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_RC(st_exec(a, "INSERT INTO collections(id,agent_id,village,weight_g) "
                        "VALUES('c1','agent-a','Xiacun',1000)"),
             SQLITE_OK);
    CHECK_RC(st_push(a, s, &agent_a, NULL), LM_OK);
    /* immutable: the agent edits the weight in place */
    CHECK_RC(st_exec(a, "UPDATE collections SET weight_g=2000, note='wet' WHERE id='c1'"),
             SQLITE_OK);
    lm_apply_result res;
    CHECK_RC(st_push(a, s, &agent_a, &res), LM_OK);
    CHECK_EQ_INT(res.n_refusals, 1);
    CHECK_EQ_INT(res.applied, 1); /* the note */
    if (res.n_refusals)
        CHECK_EQ_INT(res.refusals[0].code, LM_EIMMUTABLE);
    lm_apply_result_clear(&res);
    CHECK_EQ_INT(st_int(s, "SELECT weight_g FROM collections WHERE id='c1'"), 1000);
    lm_refusal_record *rr = NULL;
    size_t nr = 0;
    CHECK_RC(lm_replica_refusals(a, &rr, &nr), LM_OK);
    CHECK_EQ_INT(nr, 1);
    if (nr) {
        CHECK_STR(rr[0].column, "weight_g");
        CHECK_EQ_INT(rr[0].code, LM_EIMMUTABLE);
        CHECK_EQ_INT(rr[0].value.i, 2000);
    }
    lm_refusal_records_free(rr, nr);
    CHECK_RC(lm_replica_refusals(s, &rr, &nr), LM_OK);
    CHECK_EQ_INT(nr, 1);
    lm_refusal_records_free(rr, nr);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_EQ_INT(st_int(a, "SELECT weight_g FROM collections WHERE id='c1'"), 1000);
    CHECK(st_hash_eq(s, a, &agent_a));
    /* received_at is the server's: an agent may not write it */
    CHECK_RC(st_exec(a, "UPDATE collections SET received_at=5 WHERE id='c1'"), SQLITE_OK);
    CHECK_RC(st_push(a, s, &agent_a, &res), LM_OK);
    CHECK(res.n_refusals == 1 && res.refusals[0].code == LM_EOWNER);
    lm_apply_result_clear(&res);

    /* monotonic: a dispatcher plans a route with a stop for agent-a */
    CHECK_RC(st_pull(s, d, &disp), LM_OK);
    CHECK_RC(st_exec(d, "INSERT INTO routes(id,county,status) VALUES('r1','Wuyuan','planned');"
                        "INSERT INTO route_stops(id,route_id,agent_id,village,status) "
                        "VALUES('s1','r1','agent-a','Xiacun','planned')"),
             SQLITE_OK);
    CHECK_RC(st_push(d, s, &disp, &res), LM_OK);
    CHECK_EQ_INT(res.n_refusals, 0);
    lm_apply_result_clear(&res);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_RC(st_exec(a, "UPDATE route_stops SET status='loaded', loaded_weight_g=900 "
                        "WHERE id='s1'"),
             SQLITE_OK);
    CHECK_RC(st_push(a, s, &agent_a, &res), LM_OK);
    CHECK_EQ_INT(res.n_refusals, 0);
    lm_apply_result_clear(&res);
    /* backwards is refused */
    CHECK_RC(st_exec(a, "UPDATE route_stops SET status='arrived' WHERE id='s1'"), SQLITE_OK);
    CHECK_RC(st_push(a, s, &agent_a, &res), LM_OK);
    CHECK(res.n_refusals == 1 && res.refusals[0].code == LM_EMONOTONIC);
    lm_apply_result_clear(&res);
    /* a value outside the declared order is refused */
    CHECK_RC(st_exec(a, "UPDATE route_stops SET status='lost' WHERE id='s1'"), SQLITE_OK);
    CHECK_RC(st_push(a, s, &agent_a, &res), LM_OK);
    CHECK(res.n_refusals == 1 && res.refusals[0].code == LM_EINVAL);
    lm_apply_result_clear(&res);
    /* the dispatcher does not own a stop's status; the agent not its plan */
    CHECK_RC(st_pull(s, d, &disp), LM_OK);
    CHECK_RC(st_exec(d, "UPDATE route_stops SET loaded_weight_g=1 WHERE id='s1'"), SQLITE_OK);
    CHECK_RC(st_push(d, s, &disp, &res), LM_OK);
    CHECK(res.n_refusals == 1 && res.refusals[0].code == LM_EOWNER);
    lm_apply_result_clear(&res);
    CHECK_RC(st_exec(a, "UPDATE route_stops SET village='Shangcun' WHERE id='s1'"), SQLITE_OK);
    CHECK_RC(st_push(a, s, &agent_a, &res), LM_OK);
    CHECK(res.n_refusals == 1 && res.refusals[0].code == LM_EOWNER);
    lm_apply_result_clear(&res);
    /* scope: another agent's collection, a village not its own, a table
     * agents do not write */
    CHECK_RC(st_exec(a, "INSERT INTO collections(id,agent_id,village) VALUES('c2','agent-b',"
                        "'Xiacun');"
                        "INSERT INTO farmers(id,name,village) VALUES('f9','Wu','Beicun');"
                        "INSERT INTO receipts(id,warehouse) VALUES('w1','Main')"),
             SQLITE_OK);
    CHECK_RC(st_push(a, s, &agent_a, &res), LM_OK);
    CHECK_EQ_INT(res.n_refusals, 5);
    int scope = 0, denied = 0;
    for (uint32_t i = 0; i < res.n_refusals; i++) {
        scope += res.refusals[i].code == LM_ESCOPE;
        denied += res.refusals[i].code == LM_EDENIED;
    }
    CHECK_EQ_INT(scope, 4);
    CHECK_EQ_INT(denied, 1);
    lm_apply_result_clear(&res);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM collections WHERE id='c2'"), 0);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_RC(st_pull(s, d, &disp), LM_OK);
    char buf[32];
    CHECK_STR(st_text(a, "SELECT status FROM route_stops WHERE id='s1'", buf, sizeof buf),
              "loaded");
    /* refused new rows were taken back out of the agent by tombstones */
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM collections WHERE id='c2'"), 0);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM farmers WHERE id='f9'"), 0);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM receipts"), 0);
    /* each refusal is kept once, in the refusal log: not also as a losing
     * write, neither to those tombstones nor to the repairs above */
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_refusals WHERE pk IN ('c2','f9','w1')"), 5);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_conflicts"), 0);
    CHECK(st_hash_eq(s, a, &agent_a));
    CHECK(st_hash_eq(s, d, &disp));
    lm_replica_close(s);
    lm_replica_close(a);
    lm_replica_close(d);
}

/* Concurrent monotonic writes: the later status wins whatever the clocks. */
static void test_monotonic_concurrent(void)
{
    lm_replica *s = st_open("mono.db", 1, NULL);
    seed_catalog(s);
    lm_change c[2] = {mk("routes", "r1", "status", txt("done"), LM_HLC_MAKE(1000, 0), 5, 0),
                      mk("routes", "r1", "status", txt("dispatched"), LM_HLC_MAKE(2000, 0), 6, 0)};
    lm_apply_result res;
    CHECK_RC(lm_replica_apply(s, c, 2, NULL, &res), LM_OK);
    CHECK_EQ_INT(res.conflicts, 1);
    lm_apply_result_clear(&res);
    char buf[32];
    CHECK_STR(st_text(s, "SELECT status FROM routes WHERE id='r1'", buf, sizeof buf), "done");
    /* keeping the winner writes nothing to the cell: only the resolution
     * record is new to send (schema 11), so the closing reaches the other
     * replicas that logged the conflict */
    uint64_t before = 0, after = 0;
    CHECK_RC(lm_replica_pending_count(s, &before), LM_OK);
    CHECK_RC(lm_replica_conflict_resolve(s, st_int(s, "SELECT max(id) FROM lm_conflicts"), 0),
             LM_OK);
    CHECK_RC(lm_replica_pending_count(s, &after), LM_OK);
    CHECK(after > before);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM conflict_resolutions WHERE tbl='routes'"
                           " AND row_pk='r1' AND col='status' AND kept='winner'"),
                 1);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_conflicts WHERE resolved=0"), 0);
    CHECK_STR(st_text(s, "SELECT status FROM routes WHERE id='r1'", buf, sizeof buf), "done");
    lm_replica_close(s);
}

/* Tombstones: delete wins over a concurrent update, which is logged. */
static void test_tombstones(void)
{
    lm_replica *s = st_open("tomb_s.db", 1, NULL), *h = st_open("tomb_h.db", 7, NULL);
    seed_catalog(s);
    CHECK_RC(st_exec(s, "INSERT INTO products(code,name,unit) VALUES('apple','Apple','kg'),"
                        "('pear','Pear','kg')"),
             SQLITE_OK);
    CHECK_RC(st_pull(s, h, &hq), LM_OK);
    CHECK_RC(st_exec(h, "DELETE FROM products WHERE code='apple'"), SQLITE_OK);
    CHECK_RC(st_exec(s, "UPDATE products SET unit='jin' WHERE code='apple'"), SQLITE_OK);
    lm_apply_result res;
    CHECK_RC(st_push(h, s, &hq, &res), LM_OK);
    CHECK_EQ_INT(res.applied, 1);
    CHECK_EQ_INT(res.conflicts, 1);
    lm_apply_result_clear(&res);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM products WHERE code='apple'"), 0);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_conflicts WHERE col='unit'"), 1);
    /* a late update to the dead row is logged, not applied */
    lm_change late =
        mk("products", "apple", "name", txt("Apfel"), LM_HLC_MAKE(1700000000500ull, 0), 9, 0);
    CHECK_RC(lm_replica_apply(s, &late, 1, NULL, &res), LM_OK);
    CHECK_EQ_INT(res.conflicts, 1);
    lm_apply_result_clear(&res);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM products WHERE code='apple'"), 0);
    CHECK_RC(st_pull(s, h, &hq), LM_OK);
    CHECK(st_hash_eq(s, h, &hq));
    /* keep_loser on a deleted row's value cannot write it back */
    CHECK_RC(lm_replica_conflict_resolve(s, st_int(s, "SELECT max(id) FROM lm_conflicts"), 1),
             LM_ESTATE);
    /* ledger rows are never deleted by remote writers */
    CHECK_RC(st_exec(s, "INSERT INTO adjustments(id,collection_id,voided) VALUES('j1','c',1)"),
             SQLITE_OK);
    lm_change del = mk("adjustments", "j1", "", nul(), LM_HLC_MAKE(1ull << 40, 5), 7, 0);
    CHECK_RC(lm_replica_apply(s, &del, 1, &(lm_apply_ctx){.writer = &hq}, &res), LM_OK);
    CHECK(res.n_refusals == 1 && res.refusals[0].code == LM_EIMMUTABLE);
    lm_apply_result_clear(&res);
    lm_replica_close(s);
    lm_replica_close(h);
}

/* Bad inputs are refused one by one while the rest of the batch applies. */
static void test_bad_inputs(void)
{
    lm_replica *s = st_open("bad.db", 1, NULL);
    uint64_t h = LM_HLC_MAKE(1700000000000ull, 0);
    lm_change c[] = {
        mk("nosuch", "x", "a", num(1), h, 5, 0),
        mk("farmers", "f1", "nosuch", num(1), h, 5, 0),
        mk("farmers", "f1", "name", num(1), h, 5, 0),
        mk("farmers", "f1", "registered_poor", txt("yes"), h, 5, 0),
        mk("farmers", "", "name", txt("x"), h, 5, 0),
        mk("farmers", NULL, "name", txt("x"), h, 5, 0),
        mk("farmers", "f1", "name", txt("x"), 0, 5, 0),
        mk("farmers", "f1", "", txt("x"), h, 5, 0),
        mk(NULL, "f1", "name", txt("x"), h, 5, 0),
        mk("farmers", "f1", "name", txt("Li"), h, 5, 0),
    };
    uint32_t n = sizeof c / sizeof c[0];
    lm_apply_result res;
    CHECK_RC(lm_replica_apply(s, c, n, NULL, &res), LM_OK);
    CHECK_EQ_INT(res.n_refusals, n - 1);
    CHECK_EQ_INT(res.applied, 1);
    int type = 0;
    for (uint32_t i = 0; i < res.n_refusals; i++)
        type += res.refusals[i].code == LM_ETYPE;
    CHECK_EQ_INT(type, 3);
    lm_apply_result_clear(&res);
    char buf[32];
    CHECK_STR(st_text(s, "SELECT name FROM farmers WHERE id='f1'", buf, sizeof buf), "Li");
    CHECK_RC(lm_replica_apply(s, NULL, 1, NULL, &res), LM_EINVAL);
    CHECK_RC(lm_replica_apply(s, c, 0, NULL, &res), LM_OK);
    lm_apply_result_clear(&res);
    lm_replica_close(s);
}

/* Re-applying a batch is a no-op; the watermark commits with the batch and
 * a batch below the watermark is skipped; received_at is stamped. */
static void test_reapply_watermark(void)
{
    lm_replica *s = st_open("wm_s.db", 1, NULL), *a = st_open("wm_a.db", 2, NULL);
    seed_catalog(s);
    CHECK_RC(st_exec(a, "INSERT INTO collections(id,agent_id,village,weight_g) "
                        "VALUES('c1','agent-a','Xiacun',1000)"),
             SQLITE_OK);
    lm_change *ch = NULL;
    uint32_t n = 0;
    uint64_t upto = 0, wm = 0;
    CHECK_RC(lm_replica_local_changes(a, 0, 1 << 20, &ch, &n, &upto), LM_OK);
    CHECK_EQ_INT(n, 3);
    lm_apply_ctx ctx = {
        .writer = &agent_a, .origin_site = 2, .origin_upto_seq = upto, .received_at_ms = 4242};
    lm_apply_result res;
    /* a failing batch leaves no watermark: the connection is made to fail
     * by a read-only query_only pragma */
    CHECK_RC(st_exec(s, "PRAGMA query_only=1"), SQLITE_OK);
    CHECK(lm_replica_apply(s, ch, n, &ctx, &res) != LM_OK);
    CHECK_RC(st_exec(s, "PRAGMA query_only=0"), SQLITE_OK);
    CHECK_RC(lm_replica_watermark(s, 2, &wm), LM_OK);
    CHECK_EQ_INT(wm, 0);
    CHECK_RC(lm_replica_apply(s, ch, n, &ctx, &res), LM_OK);
    CHECK_EQ_INT(res.applied, 3);
    lm_apply_result_clear(&res);
    CHECK_RC(lm_replica_watermark(s, 2, &wm), LM_OK);
    CHECK_EQ_INT(wm, upto);
    CHECK_EQ_INT(st_int(s, "SELECT received_at FROM collections WHERE id='c1'"), 4242);
    /* the same batch again: below the watermark */
    CHECK_RC(lm_replica_apply(s, ch, n, &ctx, &res), LM_OK);
    CHECK_EQ_INT(res.applied, 0);
    CHECK_EQ_INT(res.noops, 3);
    lm_apply_result_clear(&res);
    /* and without a watermark: same versions, still no-ops */
    CHECK_RC(lm_replica_apply(s, ch, n, NULL, &res), LM_OK);
    CHECK_EQ_INT(res.applied, 0);
    CHECK_EQ_INT(res.noops, 3);
    lm_apply_result_clear(&res);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_conflicts"), 0);
    lm_changes_free(ch, n);
    /* received_at reaches the agent as the server's write */
    CHECK_RC(lm_replica_push_acked(a, upto, NULL, 0, NULL, 0), LM_OK);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_EQ_INT(st_int(a, "SELECT received_at FROM collections WHERE id='c1'"), 4242);
    uint64_t pend = 1;
    CHECK_RC(lm_replica_pending_count(a, &pend), LM_OK);
    CHECK_EQ_INT(pend, 0);
    lm_replica_close(s);
    lm_replica_close(a);
}

/* Row entries: a new row from one write is logged as one version row (cid
 * -1, a mask of its columns); pulls expand it into cells with the seqs it
 * reserved; a covered cell written again (by a local UPDATE or by the
 * merge) leaves the mask with its own entry, fast-forward and conflict
 * rules unchanged; a delete removes it. */
static void test_row_entries(void)
{
    uint64_t ca = 1700000000000ull, ch_ = 1700000000000ull;
    lm_replica *s = st_open("re_s.db", 1, NULL), *a = st_open("re_a.db", 2, &ca),
               *h = st_open("re_h.db", 3, &ch_);
    CHECK(s && a && h);
    seed_catalog(s);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_RC(st_exec(a, "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun');"
                        "INSERT INTO collections(id,agent_id,farmer_id,village,weight_g)"
                        " VALUES('c1','agent-a','f1','Xiacun',700),"
                        " ('c2','agent-a','f1','Xiacun',800)"),
             SQLITE_OK);
    /* pushed with received_at: one row entry per row, plus received_at */
    uint64_t after = 0, upto = 0;
    lm_change *ch = NULL;
    uint32_t n = 0;
    CHECK_RC(lm_replica_local_changes(a, 0, 1 << 20, &ch, &n, &upto), LM_OK);
    CHECK_EQ_INT(n, 2 + 4 + 4);
    lm_apply_ctx ctx = {
        .writer = &agent_a, .origin_site = 2, .origin_upto_seq = upto, .received_at_ms = 99};
    lm_apply_result res;
    CHECK_RC(lm_replica_apply(s, ch, n, &ctx, &res), LM_OK);
    CHECK_EQ_INT(res.applied, n);
    lm_apply_result_clear(&res);
    CHECK_RC(lm_replica_push_acked(a, upto, ch, n, NULL, 0), LM_OK);
    lm_changes_free(ch, n);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE pk='f1'"), 1);
    CHECK_EQ_INT(st_int(s, "SELECT cols FROM lm_versions WHERE pk='f1' AND cid=-1"), 2 | 4);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE pk='c1'"), 2);
    /* both received_at cells carry one stamp */
    CHECK_EQ_INT(st_int(s, "SELECT count(DISTINCT hlc) FROM lm_versions WHERE site=1"
                           " AND tid=2"),
                 1);
    CHECK_EQ_INT(st_int(s, "SELECT received_at FROM collections WHERE id='c2'"), 99);
    /* a pull expands it: cells with the seqs the entry reserved, in order */
    uint64_t next = 0;
    int more = 0;
    CHECK_RC(lm_replica_changes_since(s, 0, &hq, 0, 1 << 20, &ch, &n, &next, &more), LM_OK);
    int f1 = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            CHECK(ch[i].seq > ch[i - 1].seq);
        if (!strcmp(ch[i].pk, "f1")) {
            f1++;
            CHECK(ch[i].site == 2 && ch[i].prev_hlc == 0 && ch[i].hlc != 0);
        }
    }
    CHECK_EQ_INT(f1, 2);
    CHECK_EQ_INT(n, 3 + 2 + 5 + 5);
    /* a cursor inside a row entry's range gives the rest of its cells */
    for (uint32_t i = 0; i + 1 < n; i++)
        if (!strcmp(ch[i].pk, "f1") && !strcmp(ch[i + 1].pk, "f1")) {
            lm_change *c2 = NULL;
            uint32_t n2 = 0;
            uint64_t x = 0;
            CHECK_RC(lm_replica_changes_since(s, ch[i].seq, &hq, 0, 1 << 20, &c2, &n2, &x, &more),
                     LM_OK);
            CHECK(n2 > 0 && !strcmp(c2[0].pk, "f1") && c2[0].seq == ch[i + 1].seq);
            lm_changes_free(c2, n2);
        }
    lm_changes_free(ch, n);
    /* the agent's own rows come back as received_at only */
    CHECK_RC(lm_replica_changes_since(s, 0, &agent_a, 2, 1 << 20, &ch, &n, &next, &more), LM_OK);
    CHECK_EQ_INT(n, 3 + 2);
    lm_changes_free(ch, n);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK(st_hash_eq(s, a, &agent_a));
    /* hq pulls: its copy is a row entry too, and the same state */
    CHECK_RC(st_pull(s, h, &hq), LM_OK);
    CHECK(st_hash_eq(s, h, &hq));
    CHECK_EQ_INT(st_int(h, "SELECT count(*) FROM lm_versions WHERE pk='f1'"), 1);
    long long hre = st_int(h, "SELECT hlc FROM lm_versions WHERE pk='f1' AND cid=-1");
    /* a local UPDATE of a covered cell: own entry whose prev is the row
     * entry's version; the mask loses it */
    ch_ += 100;
    CHECK_RC(st_exec(h, "UPDATE farmers SET name='Li Wei', phone='139' WHERE id='f1'"), SQLITE_OK);
    CHECK_RC(lm_replica_stamp(h, NULL), LM_OK);
    CHECK_EQ_INT(st_int(h, "SELECT cols FROM lm_versions WHERE pk='f1' AND cid=-1"), 4);
    CHECK_EQ_INT(st_int(h, "SELECT prev_hlc FROM lm_versions WHERE pk='f1' AND cid=1"), hre);
    CHECK_EQ_INT(st_int(h, "SELECT prev_hlc FROM lm_versions WHERE pk='f1' AND cid=3"), 0);
    uint64_t pend = 0;
    CHECK_RC(lm_replica_pending_count(h, &pend), LM_OK);
    CHECK_EQ_INT(pend, 2);
    /* on the server: a fast-forward, the mask shrinks the same way */
    CHECK_RC(st_push(h, s, &hq, &res), LM_OK);
    CHECK_EQ_INT(res.applied, 2);
    CHECK_EQ_INT(res.conflicts, 0);
    lm_apply_result_clear(&res);
    CHECK_EQ_INT(st_int(s, "SELECT cols FROM lm_versions WHERE pk='f1' AND cid=-1"), 4);
    CHECK_EQ_INT(st_int(s, "SELECT site FROM lm_versions WHERE pk='f1' AND cid=1"), 3);
    /* the agent changes the name without having seen 'Li Wei': concurrent,
     * its earlier clock loses and the conflict is logged */
    CHECK_RC(st_exec(a, "UPDATE farmers SET name='Li Na' WHERE id='f1'"), SQLITE_OK);
    CHECK_RC(lm_replica_push_acked_seq(a, &after), LM_OK);
    CHECK_RC(st_push(a, s, &agent_a, &res), LM_OK);
    CHECK_EQ_INT(res.conflicts, 1);
    lm_apply_result_clear(&res);
    char buf[32];
    CHECK_STR(st_text(s, "SELECT name FROM farmers WHERE id='f1'", buf, sizeof buf), "Li Wei");
    /* the last covered cell written: the row entry goes */
    ch_ += 100;
    CHECK_RC(st_exec(h, "UPDATE farmers SET village='Shangcun' WHERE id='f1'"), SQLITE_OK);
    CHECK_EQ_INT(st_int(h, "SELECT count(*) FROM lm_versions WHERE pk='f1' AND cid=-1"), 0);
    /* a delete of a row held as a row entry: the tombstone alone remains */
    CHECK_RC(st_exec(s, "DELETE FROM farmers WHERE id='f1'"), SQLITE_OK);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE pk='f1' AND cid<>0"), 0);
    CHECK_RC(st_exec(h, "DELETE FROM collections WHERE id='c2'"), SQLITE_OK);
    CHECK_EQ_INT(st_int(h, "SELECT count(*) FROM lm_versions WHERE pk='c2' AND cid<>0"), 0);
    CHECK_EQ_INT(st_int(h, "SELECT count(*) FROM lm_versions WHERE pk='c2' AND cid=0"), 1);
    /* (ledger rows are never deleted by remote writers: a trusted push) */
    CHECK_RC(st_push(h, s, NULL, NULL), LM_OK);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM collections WHERE id='c2'"), 0);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE pk='c2' AND cid<>0"), 0);
    CHECK_RC(st_pull(s, h, &hq), LM_OK);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK(st_hash_eq(s, h, &hq));
    CHECK(st_hash_eq(s, a, &agent_a));
    lm_replica_close(s);
    lm_replica_close(a);
    lm_replica_close(h);
}

/* Every allocation of an apply + read cycle may fail: the result is either
 * success or a clean error, and nothing leaks. */
static void test_alloc_faults(void)
{
    lm_replica *s = st_open("fault_s.db", 1, NULL), *a = st_open("fault_a.db", 2, NULL);
    seed_catalog(s);
    CHECK_RC(st_exec(a, "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun');"
                        "INSERT INTO farmers(id,name,village) VALUES('f2','Wu','Beicun')"),
             SQLITE_OK);
    int ok = 0, failed = 0;
    for (long long k = 1; k < 3000; k++) {
        lm_test_heap_install(k);
        lm_change *ch = NULL;
        uint32_t n = 0;
        uint64_t upto = 0;
        lm_apply_result res;
        int rc = lm_replica_local_changes(a, 0, 1 << 20, &ch, &n, &upto);
        if (!rc)
            /* with the watermark, a batch that committed once is a no-op
             * after, so the logs stop growing and the loop reaches a
             * failure-free run */
            rc = lm_replica_apply(
                s, ch, n,
                &(lm_apply_ctx){.writer = &agent_a, .origin_site = 2, .origin_upto_seq = upto},
                &res);
        if (!rc) {
            lm_apply_result_clear(&res);
            lm_conflict *cf = NULL;
            size_t nc = 0;
            rc = lm_replica_conflicts(s, 1, &cf, &nc);
            lm_conflicts_free(cf, nc);
        }
        if (!rc) {
            lm_refusal_record *rr = NULL;
            size_t nr = 0;
            rc = lm_replica_refusals(s, &rr, &nr);
            lm_refusal_records_free(rr, nr);
        }
        if (!rc) {
            lm_change *out = NULL;
            uint32_t no = 0;
            uint64_t next;
            int more;
            rc = lm_replica_changes_since(s, 0, &agent_a, 0, 1 << 20, &out, &no, &next, &more);
            lm_changes_free(out, no);
        }
        if (!rc) {
            uint8_t h[32];
            rc = lm_replica_state_hash(s, &agent_a, h);
        }
        lm_changes_free(ch, n);
        int hit = lm_test_heap_state.failed;
        lm_test_heap_check_clean("alloc fault");
        CHECK(rc == LM_OK || rc == LM_ENOMEM);
        if (rc)
            failed++;
        else
            ok++;
        if (!hit)
            break;
    }
    CHECK(failed > 5);
    CHECK(ok >= 1);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM farmers"), 1);
    lm_replica_close(s);
    lm_replica_close(a);
}

/* A batch big enough for the merge's chunked inserts (rowio.c: new rows and
 * version rows wait and go in 16 at a time): every row lands, a correction
 * right after its collection passes the scope check (the pending
 * collections are inserted before it is checked), a re-sent batch is all
 * no-ops, and a second agent pulls the same state. */
static void test_pending_inserts(void)
{
    lm_replica *s = st_open("pi_s.db", 1, NULL), *a = st_open("pi_a.db", 2, NULL),
               *a2 = st_open("pi_a2.db", 3, NULL);
    CHECK(s && a && a2);
    seed_catalog(s);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_RC(st_exec(a, "BEGIN; INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun')"),
             SQLITE_OK);
    char sql[512];
    for (int i = 0; i < 45; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO collections(id,agent_id,farmer_id,village,product,grade,weight_g,"
                 "unit_price_fen,amount_fen,collected_at,note) VALUES('c%02d','agent-a','f1',"
                 "'Xiacun','apple','A',%d,500,%d,1,%s)",
                 i, 1000 + i, 500 + i, i % 3 ? "NULL" : "'wet'");
        CHECK_RC(st_exec(a, sql), SQLITE_OK);
        if (i == 5 || i == 20 || i == 44) {
            snprintf(sql, sizeof sql,
                     "INSERT INTO adjustments(id,collection_id,delta_weight_g,voided,reason)"
                     " VALUES('j%02d','c%02d',-5,0,'wet')",
                     i, i);
            CHECK_RC(st_exec(a, sql), SQLITE_OK);
        }
    }
    CHECK_RC(st_exec(a, "INSERT INTO gradings(id,collection_id,grade) VALUES('g20','c20','B');"
                        "COMMIT"),
             SQLITE_OK);
    uint64_t upto = 0;
    lm_change *ch = NULL;
    uint32_t n = 0;
    CHECK_RC(lm_replica_local_changes(a, 0, 1u << 30, &ch, &n, &upto), LM_OK);
    CHECK(n >= 256);
    lm_apply_ctx ctx = {
        .writer = &agent_a, .origin_site = 2, .origin_upto_seq = upto, .received_at_ms = 77};
    lm_apply_result res;
    CHECK_RC(lm_replica_apply(s, ch, n, &ctx, &res), LM_OK);
    CHECK_EQ_INT(res.n_refusals, 0);
    CHECK_EQ_INT(res.applied, n);
    lm_apply_result_clear(&res);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM collections WHERE received_at=77"), 45);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM collections WHERE note='wet'"), 15);
    CHECK_EQ_INT(st_int(s, "SELECT sum(weight_g) FROM collections"), 45 * 1000 + 44 * 45 / 2);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM adjustments"), 3);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM gradings"), 1);
    /* a row entry and the received_at stamp per collection */
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE tid=2"), 90);
    long long vrows = st_int(s, "SELECT count(*) FROM lm_versions");
    /* re-sent without the watermark: every change is a no-op */
    ctx.origin_site = 0;
    CHECK_RC(lm_replica_apply(s, ch, n, &ctx, &res), LM_OK);
    CHECK_EQ_INT(res.applied, 0);
    CHECK_EQ_INT(res.noops, n);
    CHECK_EQ_INT(res.n_refusals, 0);
    lm_apply_result_clear(&res);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions"), vrows);
    CHECK_RC(lm_replica_push_acked(a, upto, ch, n, NULL, 0), LM_OK);
    lm_changes_free(ch, n);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_RC(st_pull(s, a2, &agent_a), LM_OK);
    CHECK(st_hash_eq(s, a, &agent_a));
    CHECK(st_hash_eq(s, a2, &agent_a));
    lm_replica_close(s);
    lm_replica_close(a);
    lm_replica_close(a2);
}

int main(void)
{
    st_mkdir("merge");
    test_roundtrip();
    test_lww_conflict();
    test_policies();
    test_monotonic_concurrent();
    test_tombstones();
    test_bad_inputs();
    test_reapply_watermark();
    test_row_entries();
    test_pending_inserts();
    test_alloc_faults();
    st_rmdir();
    return lm_test_done("sync_merge");
}
