/*
 * test_vrp.c — the CVRPLIB reader: a whole instance with the depot in the
 * middle (renumbered first, file ids kept), EUC_2D rounding, and every
 * kind of bad file refused with a reason and nothing allocated; every
 * prefix of a good file is refused unless it ends with its last section; allocation failures are
 * clean.
 */
#include "route_test_util.h"

static const char good[] = "NAME : tiny\n"
                           "COMMENT : (a test)\n"
                           "TYPE : CVRP\n"
                           "DIMENSION : 4\n"
                           "EDGE_WEIGHT_TYPE : EUC_2D\n"
                           "CAPACITY : 10\n"
                           "NODE_COORD_SECTION\n"
                           " 1 0 0\n"
                           " 2 3 4\n"
                           " 3 1.5 2\n"
                           " 4 1 1\n"
                           "DEMAND_SECTION\n"
                           "1 4\n"
                           "2 0\n"
                           "3 7\n"
                           "4 2\n"
                           "DEPOT_SECTION\n"
                           " 2\n"
                           " -1\n"
                           "EOF\n";

static int parse(const char *text, lm_vrp *v, char *msg)
{
    return lm_vrp_parse(text, strlen(text), v, msg, 128);
}

static void test_good(void)
{
    lm_vrp v;
    char msg[128];
    CHECK_RC(parse(good, &v, msg), LM_OK);
    CHECK_STR(v.name, "tiny");
    CHECK_EQ_INT(v.n, 4);
    CHECK_EQ_INT(v.capacity, 10);
    int ids[4] = {2, 1, 3, 4};
    int64_t q[4] = {0, 4, 7, 2};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(v.id[i], ids[i]);
        CHECK_EQ_INT(v.demand[i], q[i]);
    }
    CHECK_EQ_INT(lm_vrp_euc2d(&v, 0, 1), 5); /* (3,4)-(0,0) */
    CHECK_EQ_INT(lm_vrp_euc2d(&v, 1, 2), 3); /* 2.5 rounds up */
    CHECK_EQ_INT(lm_vrp_euc2d(&v, 1, 3), 1); /* 1.414 rounds down */
    int64_t *d = lm_vrp_matrix(&v);
    CHECK(d && d[1] == 5 && d[4] == 5 && d[0] == 0);
    lm_free(d);
    lm_vrp_clear(&v);
}

static void test_bad(void)
{
    static const struct {
        const char *from, *to, *why;
    } edits[] = {
        {"TYPE : CVRP", "TYPE : TSP", "not CVRP"},
        {"EUC_2D", "EXPLICIT", "not EUC_2D"},
        {"DIMENSION : 4", "DIMENSION : 0", "DIMENSION"},
        {"DIMENSION : 4", "DIMENSION : 999999", "DIMENSION over"},
        {"DIMENSION : 4", "DIMENSION : four", "DIMENSION"},
        {"CAPACITY : 10", "CAPACITY : 0", "CAPACITY"},
        {"CAPACITY : 10\n", "", "missing CAPACITY"},
        {" 2 3 4\n", " 1 3 4\n", "twice"},
        {" 2 3 4\n", " 5 3 4\n", "id in 1..4"},
        {" 2 3 4\n", " 2 3 x\n", "id x y"},
        {" 2 3 4\n", " 2 3 1e300\n", "id x y"},
        {"2 0\n", "2 -1\n", "id demand"},
        {"2 0\n", "", "want"},
        {" 2\n -1", " 2\n 3\n -1", "more than one depot"},
        {" 2\n -1", " -1", "no depot"},
        {" -1\n", "", "depot id"},
        {"NAME", "BOGUS : 1\nNAME", "unknown line"},
        {"DIMENSION : 4\n", "DIMENSION : 4\nDIMENSION : 4\n", "twice"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char text[1024], msg[128];
        const char *at = strstr(good, edits[i].from);
        CHECK(at != NULL);
        if (!at)
            continue;
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good), good, edits[i].to,
                 at + strlen(edits[i].from));
        lm_vrp v;
        int rc = parse(text, &v, msg);
        CHECK(rc == LM_EMALFORMED || rc == LM_ETOOBIG);
        if (!strstr(msg, edits[i].why))
            fprintf(stderr, "edit %zu: \"%s\" lacks \"%s\"\n", i, msg, edits[i].why);
        CHECK(strstr(msg, edits[i].why) != NULL);
        CHECK(v.n == 0 && v.id == NULL);
    }
    char long_line[600], msg[128];
    memset(long_line, 'x', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = '\0';
    lm_vrp v;
    CHECK_RC(parse(long_line, &v, msg), LM_EMALFORMED);
    CHECK(strstr(msg, "too long") != NULL);
    CHECK_RC(lm_vrp_parse("TYPE : CVRP\0\n", 13, &v, msg, sizeof msg), LM_EMALFORMED);
    CHECK_RC(parse("", &v, msg), LM_EMALFORMED);
}

static void test_prefixes(void)
{
    /* whole once "-1" is in; a cut "EOF" is a line it does not know */
    size_t len = strlen(good), whole = (size_t)(strstr(good, "-1") + 2 - good);
    for (size_t k = 0; k < len; k++) {
        lm_vrp v;
        char msg[128];
        int rc = lm_vrp_parse(good, k, &v, msg, sizeof msg);
        if (k == whole || k == whole + 1 || k == len - 1) {
            CHECK_RC(rc, LM_OK);
            CHECK_EQ_INT(v.n, 4);
        } else {
            CHECK_RC(rc, LM_EMALFORMED);
            if (rc == LM_OK)
                fprintf(stderr, "prefix %zu of %zu parsed\n", k, len);
        }
        lm_vrp_clear(&v);
    }
}

static void test_allocation_failures(void)
{
    for (long long k = 1;; k++) {
        lm_vrp v;
        lm_test_heap_install(k);
        int rc = parse(good, &v, NULL);
        int failed = lm_test_heap_state.failed;
        lm_vrp_clear(&v);
        lm_test_heap_check_clean("lm_vrp_parse");
        CHECK(rc == (failed ? LM_ENOMEM : LM_OK));
        if (!failed)
            break;
    }
}

int main(void)
{
    test_good();
    test_bad();
    test_prefixes();
    test_allocation_failures();
    return lm_test_done("route_vrp");
}
