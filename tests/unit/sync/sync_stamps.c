/*
 * sync_stamps.c — received_at stamps handed back in the PUSH_ACK: the
 * server reports which rows of a batch it stamped; the agent writing them
 * from that report ends with the very versions a pull would have brought
 * (also for a row whose changes come in two runs of the batch);
 * the server's pull then leaves them out; rows whose stamp the agent could
 * not reproduce are not reported; reports that do not fit the batch are
 * refused and change nothing.
 */
#include "sync_test_util.h"

static const char *const villages_a[] = {"Xiacun", "Shangcun"};
static lm_scope agent_a = {LM_ROLE_AGENT, "agent-a", villages_a, 2, NULL};

#define STAMPS_SQL                                                                                 \
    "SELECT group_concat(pk || ':' || cid || ':' || hlc || ':' || prev_hlc, ' ') FROM"             \
    " (SELECT * FROM lm_versions WHERE site = 1 AND tid = 2 ORDER BY pk)"

static void seed(lm_replica *s, lm_replica *a)
{
    CHECK_RC(
        st_exec(
            s,
            "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan'),('Shangcun','Wuyuan')"),
        SQLITE_OK);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
}

/* Writes sql on the agent, then pushes what it has pending in one batch,
 * stamped at `at`. */
static void write_push(lm_replica *a, lm_replica *s, const char *sql, uint64_t at, lm_change **ch,
                       uint32_t *n, lm_apply_result *res)
{
    uint64_t after = 0, upto = 0;
    CHECK_RC(st_exec(a, sql), SQLITE_OK);
    CHECK_RC(lm_replica_push_acked_seq(a, &after), LM_OK);
    CHECK_RC(lm_replica_local_changes(a, after, 1 << 20, ch, n, &upto), LM_OK);
    lm_apply_ctx ctx = {
        .writer = &agent_a, .origin_site = 2, .origin_upto_seq = upto, .received_at_ms = at};
    CHECK_RC(lm_replica_apply(s, *ch, *n, &ctx, res), LM_OK);
    CHECK_RC(lm_replica_push_acked(a, upto, *ch, *n, res->refusals, res->n_refusals), LM_OK);
}

static void finish(lm_replica *s, lm_replica *a, lm_change *ch, uint32_t n, lm_apply_result *res)
{
    lm_apply_result_clear(res);
    lm_changes_free(ch, n);
    lm_replica_close(s);
    lm_replica_close(a);
}

static uint32_t first_index(const lm_change *ch, uint32_t n, const char *pk)
{
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(ch[i].pk, pk))
            return i;
    return UINT32_MAX;
}

/* Count of changes the agent's next pull brings, with the stamps of res
 * left out (res NULL: none left out). */
static uint32_t pull_count(lm_replica *s, lm_replica *a, const lm_apply_result *res)
{
    uint64_t hlcs[16], next = 0, cursor = 0;
    char *cur = NULL;
    if (lm_replica_meta_get(a, "pull_cursor", &cur) == LM_OK) {
        cursor = strtoull(cur, NULL, 10);
        lm_free(cur);
    }
    size_t nh = 0;
    for (uint32_t i = 0; res && i < res->n_stamps && nh < 16; i++)
        hlcs[nh++] = res->stamps[i].hlc;
    lm_change *ch = NULL;
    uint32_t n = 0;
    int more = 0;
    CHECK_RC(lm_replica_changes_since_except(s, cursor, &agent_a, 2, hlcs, nh, 1 << 20, &ch, &n,
                                             &next, &more),
             LM_OK);
    lm_changes_free(ch, n);
    return n;
}

/* The agent holds the server's stamp versions, cell for cell (and there
 * are some). */
static void check_same_stamps(lm_replica *s, lm_replica *a)
{
    char want[512], got[512];
    st_text(s, STAMPS_SQL, want, sizeof want);
    st_text(a, STAMPS_SQL, got, sizeof got);
    CHECK_STR(got, want);
    CHECK(strlen(want) > 0);
}

static void test_stamps_match_pull(void)
{
    lm_replica *s = st_open("m_s.db", 1, NULL), *a = st_open("m_a.db", 2, NULL);
    seed(s, a);
    /* c0 first, alone: next time it is an update, no stamp */
    lm_change *ch = NULL;
    uint32_t n = 0;
    lm_apply_result res;
    write_push(a, s,
               "INSERT INTO collections(id,agent_id,village,weight_g) "
               "VALUES('c0','agent-a','Xiacun',500)",
               111, &ch, &n, &res);
    CHECK_EQ_INT(res.n_stamps, 1);
    CHECK_RC(lm_replica_apply_stamps(a, ch, n, res.stamps, res.n_stamps, 1), LM_OK);
    lm_apply_result_clear(&res);
    lm_changes_free(ch, n);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK); /* the cursor past c0's stamp */

    /* c1, a farmer, c2, c0 again, c3, c4: two ranges, [c1, c2] (a row of
     * another table does not break one) and [c3, c4] (c0, a collection
     * with no stamp, does) */
    write_push(a, s,
               "INSERT INTO collections(id,agent_id,village,weight_g) "
               "VALUES('c1','agent-a','Xiacun',1000);"
               "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun');"
               "INSERT INTO collections(id,agent_id,village,weight_g) "
               "VALUES('c2','agent-a','Xiacun',1500);"
               "UPDATE collections SET note = 'wet' WHERE id = 'c0';"
               "INSERT INTO collections(id,agent_id,village,weight_g) "
               "VALUES('c3','agent-a','Xiacun',2000),('c4','agent-a','Shangcun',3000)",
               222, &ch, &n, &res);
    CHECK_EQ_INT(res.n_refusals, 0);
    CHECK_EQ_INT(res.n_stamps, 2);
    if (res.n_stamps == 2) {
        CHECK(first_index(ch, n, "c1") < first_index(ch, n, "f1"));
        CHECK_EQ_INT(res.stamps[0].lo, first_index(ch, n, "c1"));
        CHECK_EQ_INT(res.stamps[0].hi, first_index(ch, n, "c2"));
        CHECK_EQ_INT(res.stamps[1].lo, first_index(ch, n, "c3"));
        CHECK_EQ_INT(res.stamps[1].hi, first_index(ch, n, "c4"));
        CHECK(res.stamps[0].hlc == res.stamps[1].hlc);
        CHECK_EQ_INT(res.stamps[1].received_at_ms, 222);
    }
    /* the pull leaves out exactly the reported stamps */
    CHECK_EQ_INT(pull_count(s, a, NULL), 4);
    CHECK_EQ_INT(pull_count(s, a, &res), 0);

    CHECK_RC(lm_replica_apply_stamps(a, ch, n, res.stamps, res.n_stamps, 1), LM_OK);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM collections WHERE received_at = 222"), 4);
    CHECK_EQ_INT(st_int(a, "SELECT received_at FROM collections WHERE id = 'c0'"), 111);
    check_same_stamps(s, a);
    /* nothing queued on the agent, and a full pull changes nothing */
    uint64_t pend = 1;
    CHECK_RC(lm_replica_pending_count(a, &pend), LM_OK);
    CHECK_EQ_INT(pend, 0);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    check_same_stamps(s, a);
    CHECK(st_hash_eq(s, a, &agent_a));
    lm_apply_result_clear(&res);
    lm_changes_free(ch, n);

    /* c5 in two runs of the batch (inserted, c6, then updated): its stamp
     * is at its first change and the agent writes it once, as the server */
    write_push(a, s,
               "INSERT INTO collections(id,agent_id,village,weight_g) "
               "VALUES('c5','agent-a','Xiacun',1000);"
               "INSERT INTO collections(id,agent_id,village,weight_g) "
               "VALUES('c6','agent-a','Xiacun',2000);"
               "UPDATE collections SET note = 'late' WHERE id = 'c5'",
               555, &ch, &n, &res);
    uint32_t c5 = first_index(ch, n, "c5"), c6 = first_index(ch, n, "c6"), later = 0;
    for (uint32_t i = c6; i < n; i++)
        if (!strcmp(ch[i].pk, "c5"))
            later = i;
    CHECK(c5 < c6 && c6 < later);
    CHECK_EQ_INT(res.n_refusals, 0);
    CHECK_EQ_INT(res.n_stamps, 1);
    if (res.n_stamps == 1) {
        CHECK_EQ_INT(res.stamps[0].lo, c5);
        CHECK_EQ_INT(res.stamps[0].hi, c6);
    }
    CHECK_EQ_INT(pull_count(s, a, &res), 0);
    CHECK_RC(lm_replica_apply_stamps(a, ch, n, res.stamps, res.n_stamps, 1), LM_OK);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM collections WHERE received_at = 555"), 2);
    check_same_stamps(s, a);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK(st_hash_eq(s, a, &agent_a));
    finish(s, a, ch, n, &res);
}

/* The agent wrote received_at itself: refused and repaired on the server,
 * so the agent cannot know the stamp's prev_hlc; that row travels back in
 * CHANGES as before. */
static void test_unreproducible_not_reported(void)
{
    lm_replica *s = st_open("u_s.db", 1, NULL), *a = st_open("u_a.db", 2, NULL);
    seed(s, a);
    lm_change *ch = NULL;
    uint32_t n = 0;
    lm_apply_result res;
    write_push(a, s,
               "INSERT INTO collections(id,agent_id,village,weight_g,received_at) "
               "VALUES('c1','agent-a','Xiacun',1000,5);"
               "INSERT INTO collections(id,agent_id,village,weight_g) "
               "VALUES('c2','agent-a','Xiacun',2000)",
               333, &ch, &n, &res);
    CHECK_EQ_INT(res.n_refusals, 1);
    CHECK_EQ_INT(res.n_stamps, 1);
    if (res.n_stamps == 1) {
        CHECK_EQ_INT(res.stamps[0].lo, first_index(ch, n, "c2"));
        CHECK_EQ_INT(res.stamps[0].hi, first_index(ch, n, "c2"));
    }
    CHECK_EQ_INT(pull_count(s, a, &res), 1); /* c1's stamp */
    CHECK_RC(lm_replica_apply_stamps(a, ch, n, res.stamps, res.n_stamps, 1), LM_OK);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM collections WHERE received_at = 333"), 2);
    check_same_stamps(s, a);
    CHECK(st_hash_eq(s, a, &agent_a));
    finish(s, a, ch, n, &res);
}

/* A report that does not fit the batch writes nothing. */
static void test_bad_reports(void)
{
    lm_replica *s = st_open("b_s.db", 1, NULL), *a = st_open("b_a.db", 2, NULL);
    seed(s, a);
    lm_change *ch = NULL;
    uint32_t n = 0;
    lm_apply_result res;
    write_push(a, s,
               "INSERT INTO farmers(id,name,village) VALUES('f1','Li','Xiacun');"
               "INSERT INTO collections(id,agent_id,village,weight_g) "
               "VALUES('c1','agent-a','Xiacun',1000),('c2','agent-a','Xiacun',2000)",
               444, &ch, &n, &res);
    uint32_t f1 = first_index(ch, n, "f1"), c1 = first_index(ch, n, "c1"),
             c2 = first_index(ch, n, "c2");
    CHECK(f1 < c1 && c1 < c2);
    const lm_stamp_range bad[] = {
        {UINT64_C(1) << 40, 444, f1, c2},     /* starts at the farmer */
        {UINT64_C(1) << 40, 444, c1 + 1, c2}, /* starts inside c1 */
        {UINT64_C(1) << 40, 444, c1, n},      /* past the batch */
        {UINT64_C(1) << 40, 444, c2, c1},     /* backwards */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(lm_replica_apply_stamps(a, ch, n, &bad[i], 1, 1), LM_ERANGE);
        CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM collections WHERE received_at IS NOT NULL"),
                     0);
    }
    CHECK_RC(lm_replica_apply_stamps(a, ch, n, NULL, 1, 1), LM_EINVAL);
    CHECK_RC(lm_replica_apply_stamps(a, ch, n, NULL, 0, 1), LM_OK);
    finish(s, a, ch, n, &res);
}

int main(void)
{
    st_mkdir("stamps");
    test_stamps_match_pull();
    test_unreproducible_not_reported();
    test_bad_reports();
    st_rmdir();
    return lm_test_done("sync_stamps");
}
