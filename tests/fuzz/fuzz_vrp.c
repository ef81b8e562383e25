/*
 * fuzz_vrp.c — libFuzzer target for the CVRPLIB reader (lm_vrp_parse). A
 * file it accepts must hold what it promises (ids a permutation of
 * 1..DIMENSION, depot first, demands within range); a small one is then
 * solved with a short search and the plan checked for feasibility, so the
 * solver meets odd instances too (identical points, zero demands, demand
 * over the capacity).
 */
#include <stdlib.h>

#include "unit/route/route_test_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lm_vrp v;
    char msg[160];
    if (lm_vrp_parse((const char *)data, size, &v, msg, sizeof msg) != LM_OK) {
        if (v.n != 0 || v.id != NULL || msg[0] == '\0')
            abort();
        return 0;
    }
    char *seen = calloc(v.n + 1, 1);
    for (size_t i = 0; i < v.n; i++) {
        if (v.id[i] < 1 || (size_t)v.id[i] > v.n || seen[v.id[i]]++ || v.demand[i] < 0)
            abort();
    }
    free(seen);
    if (v.demand[0] != 0 || v.capacity < 1)
        abort();
    if (v.n <= 12) {
        int64_t *d = lm_vrp_matrix(&v);
        lm_route_problem p = {v.n, d, v.demand, v.capacity, 0, 0, NULL, 0};
        lm_route_options o = {.seed = 1, .iterations = 200};
        lm_route_plan pl;
        int rc = lm_route_solve(&p, &o, &pl, msg, sizeof msg);
        if (rc == LM_OK && rt_check_plan(&p, &pl) != 0)
            abort();
        if (rc != LM_OK && rc != LM_EINVAL) /* EINVAL: too many full trips */
            abort();
        lm_route_plan_clear(&pl);
        lm_free(d);
    }
    lm_vrp_clear(&v);
    return 0;
}
