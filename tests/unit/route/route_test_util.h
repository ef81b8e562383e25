/*
 * route_test_util.h — what the route tests share: small random instances
 * and a feasibility check of a plan that knows nothing of the solver.
 */
#ifndef ROUTE_TEST_UTIL_H
#define ROUTE_TEST_UTIL_H

#include <math.h>

#include "lm_route.h"
#include "lm_test.h"

#define RT_MAX_N 16

typedef struct rt_instance {
    size_t n;
    double x[RT_MAX_N], y[RT_MAX_N];
    int64_t dist[RT_MAX_N * RT_MAX_N];
    int64_t time[RT_MAX_N * RT_MAX_N];
    int64_t demand[RT_MAX_N];
    lm_route_problem p;
} rt_instance;

static inline uint32_t rt_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffu;
}

/* n nodes on a 100x100 grid, EUC_2D distances, demands 1..max_q. */
static inline void rt_random(rt_instance *t, size_t n, uint32_t seed, int64_t max_q, int64_t cap)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    for (size_t i = 0; i < n; i++) {
        t->x[i] = rt_rand(&seed) % 101;
        t->y[i] = rt_rand(&seed) % 101;
        t->demand[i] = i ? 1 + (int64_t)(rt_rand(&seed) % (uint32_t)max_q) : 0;
    }
    for (size_t a = 0; a < n; a++) {
        for (size_t b = 0; b < n; b++) {
            double dx = t->x[a] - t->x[b], dy = t->y[a] - t->y[b];
            t->dist[a * n + b] = (int64_t)(sqrt(dx * dx + dy * dy) + 0.5);
        }
    }
    t->p = (lm_route_problem){n, t->dist, t->demand, cap, 0, 0, NULL, 0};
}

/* Checks what any plan must satisfy: each customer's demand served exactly
 * (split over visits only when it exceeds the capacity), no route over the
 * capacity, max_routes, max_route_dist or max_route_time, and the lengths and cost as the
 * matrix gives them. Returns the number of failed checks. */
static inline int rt_check_plan(const lm_route_problem *p, const lm_route_plan *pl)
{
    int before = lm_test_failures;
    int64_t served[RT_MAX_N * 64] = {0}, cost = 0;
    CHECK(p->n <= RT_MAX_N * 64);
    if (p->max_routes)
        CHECK(pl->n_routes <= p->max_routes);
    for (size_t r = 0; r < pl->n_routes; r++) {
        int64_t load = 0, len = 0, time = 0;
        size_t prev = 0;
        CHECK(pl->start[r + 1] > pl->start[r]);
        for (size_t k = pl->start[r]; k < pl->start[r + 1]; k++) {
            size_t c = pl->stops[k].node;
            CHECK(c >= 1 && c < p->n);
            CHECK(pl->stops[k].load >= 0);
            served[c] += pl->stops[k].load;
            load += pl->stops[k].load;
            len += p->dist[prev * p->n + c];
            time += p->time ? p->time[prev * p->n + c] : 0;
            prev = c;
        }
        len += p->dist[prev * p->n];
        time += p->time ? p->time[prev * p->n] : 0;
        CHECK_EQ_INT(time, pl->route_time[r]);
        if (p->max_route_time)
            CHECK(time <= p->max_route_time);
        CHECK(load <= p->capacity);
        CHECK_EQ_INT(load, pl->route_load[r]);
        CHECK_EQ_INT(len, pl->route_dist[r]);
        if (p->max_route_dist)
            CHECK(len <= p->max_route_dist);
        cost += len;
    }
    CHECK_EQ_INT(cost, pl->cost);
    for (size_t c = 1; c < p->n; c++)
        CHECK_EQ_INT(served[c], p->demand[c]);
    return lm_test_failures - before;
}

#endif
