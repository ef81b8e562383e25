/*
 * hq_table_test.c — the HQ reports' row printer: exact output in the three
 * formats, and every allocation failure while building rows leaves no leak.
 */
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "lm_test.h"
#include "report.h"

static const char *const names[] = {"village", "weight_g", "flag"};
static const int numeric[] = {0, 1, 0};

/* Builds two rows; returns LM_OK or LM_ENOMEM (table then partly filled). */
static int build(lm_hq_rows *t)
{
    static const char *const cells[2][3] = {{"shangba", "1200", ""}, {"xi\"a,ba", NULL, "x>y"}};
    for (int i = 0; i < 2; i++) {
        char **row = lm__hq_rows_add(t);
        if (!row)
            return LM_ENOMEM;
        for (int k = 0; k < 3; k++) {
            if (cells[i][k] && !(row[k] = lm_strdup(cells[i][k])))
                return LM_ENOMEM;
        }
    }
    return LM_OK;
}

/* Prints t in format into a string (static buffer). */
static const char *render(const lm_hq_rows *t, int format)
{
    static char buf[1024];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    lm__hq_rows_print(t, format, f);
    fclose(f);
    return buf;
}

int main(void)
{
    lm_test_heap_install(0);
    lm_hq_rows t = {names, numeric, 3, NULL, 0, 0};
    CHECK_RC(build(&t), LM_OK);
    CHECK_STR(render(&t, LM_FMT_CSV),
              "village,weight_g,flag\nshangba,1200,\n\"xi\"\"a,ba\",,x>y\n");
    CHECK_STR(render(&t, LM_FMT_JSON), "[\n {\"village\":\"shangba\",\"weight_g\":1200,"
                                       "\"flag\":\"\"},\n {\"village\":\"xi\\\"a,ba\","
                                       "\"weight_g\":null,\"flag\":\"x>y\"}\n]\n");
    /* The table is for people: grams as kg (CSV and JSON keep grams). */
    CHECK_STR(render(&t, LM_FMT_TABLE), "village  weight_kg  flag\n"
                                        "shangba      1.200\n"
                                        "xi\"a,ba          -  x>y\n");
    lm__hq_rows_free(&t);
    lm_test_heap_check_clean("table");

    /* A numeric last column stays right-aligned. */
    static const char *const figures[] = {"village", "count"};
    lm_hq_rows c = {figures, numeric, 2, NULL, 0, 0};
    const char *counts[] = {"7", "12"};
    for (int i = 0; i < 2; i++) {
        char **row = lm__hq_rows_add(&c);
        CHECK(row && (row[0] = lm_strdup("v")) && (row[1] = lm_strdup(counts[i])));
    }
    CHECK_STR(render(&c, LM_FMT_TABLE), "village  count\nv            7\nv           12\n");
    lm__hq_rows_free(&c);
    lm_test_heap_check_clean("numeric last column");

    /* Every allocation of build() failing in turn: ENOMEM, then no leak. */
    for (long long n = 1; n <= 16; n++) {
        lm_test_heap_install(n);
        lm_hq_rows f = {names, numeric, 3, NULL, 0, 0};
        int rc = build(&f);
        CHECK(rc == LM_OK || rc == LM_ENOMEM);
        lm__hq_rows_free(&f);
        lm_test_heap_check_clean("failing allocation");
    }
    lm_test_heap_install(0);
    return lm_test_done("hq_table");
}
