/*
 * sync_scope_keys.c — scope keys (sync/src/scope_key.c): every version a
 * server stores, whether the merge wrote it or a capture trigger did, has
 * its row's key or '*' (every agent); an agent's replica keeps none; and an
 * agent's pull that reads by key returns exactly what the walk over every
 * version returned.
 */
#include "sync_test_util.h"

static const char *const villages_a[] = {"Xiacun", "Shangcun"};
static const char *const villages_b[] = {"Beicun"};
static lm_scope agent_a = {LM_ROLE_AGENT, "agent-a", villages_a, 2, NULL};
static lm_scope agent_b = {LM_ROLE_AGENT, "agent-b", villages_b, 1, NULL};
static lm_scope agent_none = {LM_ROLE_AGENT, "agent-z", NULL, 0, NULL};

/* The server's own writes (capture triggers), then two agents' pushes
 * (the merge), then server writes that replace and delete. */
static void build(lm_replica *s, lm_replica *a, lm_replica *b)
{
    CHECK_RC(
        st_exec(
            s, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan'),('Shangcun','Wuyuan'),"
               "('Beicun','Other');"
               "INSERT INTO products(code,name) VALUES('potato','Potato');"
               "INSERT INTO farmers(id,name,village) VALUES('fs1','Zhou','Xiacun'),"
               "('fs2','Qian','Beicun'),('fs3','Sun','Beicun');"
               "INSERT INTO routes(id,county,date) VALUES('r1','Wuyuan','2026-11-29'),"
               "('r2','Other','2026-11-29');"
               "INSERT INTO route_stops(id,route_id,village,agent_id)"
               " VALUES('rs1','r1','Xiacun','agent-a'),('rs2','r2','Beicun','agent-b');"
               "INSERT INTO receipts(id,route_id,weight_g) VALUES('rc1','r1',9000)"),
        SQLITE_OK);
    CHECK_RC(st_pull(s, a, &agent_a), LM_OK);
    CHECK_RC(st_pull(s, b, &agent_b), LM_OK);
    /* a collection with its grading and an adjustment in one batch */
    CHECK_RC(st_exec(a, "INSERT INTO farmers(id,name,village) VALUES('fa1','Li','Shangcun');"
                        "INSERT INTO collections(id,agent_id,farmer_id,village,weight_g)"
                        " VALUES('ca1','agent-a','fa1','Shangcun',1000),"
                        "('ca2','agent-a','fs1','Xiacun',2000);"
                        "INSERT INTO gradings(id,collection_id,grade) VALUES('ga1','ca1','A');"
                        "INSERT INTO adjustments(id,collection_id,delta_weight_g,reason)"
                        " VALUES('aa1','ca1',-10,'wet')"),
             SQLITE_OK);
    CHECK_RC(st_push(a, s, &agent_a, NULL), LM_OK);
    CHECK_RC(st_exec(a, "INSERT INTO adjustments(id,collection_id,delta_weight_g,reason)"
                        " VALUES('aa2','ca2',-20,'stones');"
                        "UPDATE collections SET note='checked' WHERE id='ca1'"),
             SQLITE_OK);
    CHECK_RC(st_push(a, s, &agent_a, NULL), LM_OK);
    CHECK_RC(st_exec(b, "INSERT INTO farmers(id,name,village) VALUES('fb1','Wu','Beicun');"
                        "INSERT INTO collections(id,agent_id,farmer_id,village,weight_g)"
                        " VALUES('cb1','agent-b','fb1','Beicun',3000);"
                        "INSERT INTO gradings(id,collection_id,grade) VALUES('gb1','cb1','B')"),
             SQLITE_OK);
    CHECK_RC(st_push(b, s, &agent_b, NULL), LM_OK);
    CHECK_RC(st_exec(s, "UPDATE collections SET note='seen at hq' WHERE id='ca2';"
                        "UPDATE route_stops SET status='arrived' WHERE id='rs1';"
                        "UPDATE farmers SET phone='139' WHERE id='fs2';"
                        "DELETE FROM farmers WHERE id='fs3';"
                        "INSERT INTO gradings(id,collection_id,grade) VALUES('gs1','cz','C');"
                        /* scope columns changed by hand, which the merge
                         * would refuse: keys follow */
                        "UPDATE collections SET agent_id='agent-b', village='Beicun'"
                        " WHERE id='ca2';"
                        "UPDATE farmers SET village='Beicun' WHERE id='fs1'"),
             SQLITE_OK);
    CHECK_RC(lm_replica_stamp(s, NULL), LM_OK);
}

/* Versions of table whose key is not '*' (every agent) and differs from
 * want (an SQL expression over the row, alias t), and versions that have
 * want; may_be_any: some may have '*'. */
static void check_keys(lm_replica *s, const char *table, const char *want, int may_be_any)
{
    char sql[800];
    char from[400];
    snprintf(from, sizeof from,
             "FROM lm_versions v JOIN \"%s\" t ON t.id = v.pk WHERE v.tid ="
             " (SELECT tid FROM lm_columns WHERE tbl = '%s' LIMIT 1) AND v.cid <> 0",
             table, table);
    snprintf(sql, sizeof sql, "SELECT count(*) %s AND v.scope IS NOT '*' AND v.scope IS NOT (%s)",
             from, want);
    CHECK_EQ_INT(st_int(s, sql), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) %s AND v.scope IS (%s)", from, want);
    CHECK(st_int(s, sql) > 0);
    if (!may_be_any) {
        snprintf(sql, sizeof sql, "SELECT count(*) %s AND v.scope IS '*'", from);
        CHECK_EQ_INT(st_int(s, sql), 0);
    }
}

static void test_keys_match_rows(void)
{
    lm_replica *s = st_open_as("k_s.db", 1, NULL, 1), *a = st_open("k_a.db", 2, NULL),
               *b = st_open("k_b.db", 3, NULL);
    build(s, a, b);
    check_keys(s, "farmers", "'v:' || t.village", 0);
    check_keys(s, "collections", "'a:' || t.agent_id", 0);
    check_keys(s, "route_stops", "'a:' || t.agent_id", 0);
    check_keys(s, "routes", "'c:' || t.county", 0);
    check_keys(s, "receipts", "'n'", 0);
    const char *parent =
        "(SELECT 'a:' || agent_id FROM collections c WHERE c.id = t.collection_id)";
    check_keys(s, "gradings", parent, 1);
    /* aa2's collection moved to another agent: every agent reads it since */
    check_keys(s, "adjustments", parent, 1);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE pk='aa2' AND scope = '*'"), 1);
    /* a grading whose collection is not there (yet): every agent reads it */
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE pk='gs1'"), 1); /* row entry */
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE pk='gs1' AND scope = '*'"), 1);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE pk IN ('Xiacun','potato')"
                           " AND scope IS NOT '*'"),
                 0);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE pk='fs3' AND cid=0"
                           " AND scope = '*'"),
                 1);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE scope IS NULL"), 0);
    /* an agent's replica keeps none, whether pulled, pushed or captured */
    CHECK(st_int(a, "SELECT count(*) FROM lm_versions") > 10);
    CHECK_EQ_INT(st_int(a, "SELECT count(*) FROM lm_versions WHERE scope IS NOT NULL"), 0);
    lm_replica_close(s);
    lm_replica_close(a);
    lm_replica_close(b);
}

/* Everything reader pulls from cursor 0 in small batches, one line per
 * change, into out (malloc'd). */
static char *pull_all(lm_replica *s, const lm_scope *reader, uint64_t exclude_site)
{
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    uint64_t cursor = 0, next = 0;
    int more = 1, rounds = 0;
    while (out && more && rounds++ < 1000) {
        lm_change *ch = NULL;
        uint32_t n = 0;
        CHECK_RC(
            lm_replica_changes_since(s, cursor, reader, exclude_site, 300, &ch, &n, &next, &more),
            LM_OK);
        for (uint32_t i = 0; i < n && len + 200 < cap; i++)
            len += (size_t)snprintf(out + len, cap - len, "%s/%s/%s/%llu/%llu\n", ch[i].table,
                                    ch[i].pk, ch[i].column, (unsigned long long)ch[i].hlc,
                                    (unsigned long long)ch[i].seq);
        lm_changes_free(ch, n);
        cursor = next;
    }
    return out;
}

static void test_keyed_pull_equals_walk(void)
{
    lm_replica *s = st_open_as("p_s.db", 1, NULL, 1), *a = st_open("p_a.db", 2, NULL),
               *b = st_open("p_b.db", 3, NULL);
    build(s, a, b);
    const lm_scope *readers[] = {&agent_a, &agent_b, &agent_none, &agent_a};
    const uint64_t exclude[] = {2, 3, 0, 0};
    char *keyed[4], *walked[4];
    for (int i = 0; i < 4; i++)
        keyed[i] = pull_all(s, readers[i], exclude[i]);
    /* the same file without keys: every agent's pull walks every version */
    CHECK_RC(st_exec(s, "UPDATE lm_keyed SET v = 0; UPDATE lm_versions SET scope = NULL"),
             SQLITE_OK);
    lm_replica_close(s);
    s = st_open("p_s.db", 1, NULL);
    for (int i = 0; i < 4; i++) {
        walked[i] = pull_all(s, readers[i], exclude[i]);
        CHECK(keyed[i] && walked[i]);
        if (keyed[i] && walked[i])
            CHECK_STR(keyed[i], walked[i]);
    }
    /* not vacuous: agent-a sees its route, stop, farmers and the other
     * agent's nothing; agent-b sees its own */
    CHECK(keyed[3] && strstr(keyed[3], "routes/r1/") && strstr(keyed[3], "route_stops/rs1/") &&
          strstr(keyed[3], "gradings/ga1/") && strstr(keyed[3], "adjustments/aa1/") &&
          !strstr(keyed[3], "cb1") && !strstr(keyed[3], "receipts/"));
    CHECK(keyed[1] && strstr(keyed[1], "farmers/fs2/phone") && !strstr(keyed[1], "ca1") &&
          strstr(keyed[1], "collections/ca2/weight_g") && strstr(keyed[1], "adjustments/aa2/") &&
          strstr(keyed[1], "farmers/fs1/name"));
    for (int i = 0; i < 4; i++) {
        free(keyed[i]);
        free(walked[i]);
    }
    lm_replica_close(s);
    lm_replica_close(a);
    lm_replica_close(b);
}

int main(void)
{
    st_mkdir("scope_keys");
    test_keys_match_rows();
    test_keyed_pull_equals_walk();
    st_rmdir();
    return lm_test_done("sync_scope_keys");
}
