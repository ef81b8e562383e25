/*
 * route_internal.h — what the solver's files share, private to route/src.
 * The files, lowest first: sol.c (a plan being searched), savings.c
 * (Clarke–Wright), sisr.c (ruin and recreate), solve.c (the public entry:
 * checks, split deliveries, the output plan). vrp_parse.c stands apart.
 *
 * Inside the search the depot is 0 and the customers are "pieces" 1..m: a
 * village whose demand exceeds the capacity leaves its full trips outside
 * the search and enters it with the rest only (solve.c).
 */
#ifndef LM_ROUTE_INTERNAL_H
#define LM_ROUTE_INTERNAL_H

#include <stdint.h>

#include "lm_route.h"

/* splitmix64: small, fast, and the same sequence on every platform. */
static inline uint64_t lm__rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double lm__rng_unit(uint64_t *s)
{
    return (double)(lm__rng_next(s) >> 11) * 0x1p-53;
}

/* Uniform in [0, n), n > 0. */
static inline int lm__rng_below(uint64_t *s, int n)
{
    return (int)(((lm__rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

/* The problem the search sees. d is (m+1)*(m+1), q has m+1 entries. */
typedef struct lm__vrp {
    int m;
    const int64_t *d;
    const int64_t *q;
    int64_t cap;
    int64_t max_len;  /* 0 = none */
    int max_routes;   /* 0 = any */
    int64_t penalty;  /* added per route over max_routes */
    const int64_t *t; /* (m+1)*(m+1) time matrix, or NULL */
    int64_t max_time; /* 0 = none */
} lm__vrp;

static inline int64_t lm__d(const lm__vrp *v, int a, int b)
{
    return v->d[(size_t)a * (size_t)(v->m + 1) + (size_t)b];
}

/* Time from a to b (0 without a time matrix). */
static inline int64_t lm__t(const lm__vrp *v, int a, int b)
{
    return v->t ? v->t[(size_t)a * (size_t)(v->m + 1) + (size_t)b] : 0;
}

/* A plan being searched: routes 0..nr-1, route r's pieces in
 * stop[r*m .. r*m+len[r]). Every piece is on exactly one route. */
typedef struct lm__sol {
    int m, nr;
    int *len;
    int *stop;
    int64_t *load, *dist, *time;
} lm__sol;

int lm__sol_init(lm__sol *s, int m);
void lm__sol_close(lm__sol *s);
void lm__sol_copy(lm__sol *dst, const lm__sol *src);
/* Recomputes route r's load, length and time from its stops. */
void lm__sol_update(const lm__vrp *v, lm__sol *s, int r);
/* Total length plus the penalty for routes over max_routes. */
int64_t lm__sol_objective(const lm__vrp *v, const lm__sol *s);
/* Drops route r when empty (the last route moves into its slot). */
void lm__sol_drop_if_empty(lm__sol *s, int r);
/* Best intra-route 2-opt on every route (exact for asymmetric costs). */
void lm__sol_two_opt(const lm__vrp *v, lm__sol *s);

/* Clarke–Wright parallel savings into s (initialised for v->m). */
int lm__savings(const lm__vrp *v, lm__sol *s);

/* SISR from s, leaving the best plan found in s. */
int lm__sisr(const lm__vrp *v, lm__sol *s, const lm_route_options *o, uint32_t *iterations,
             int *stopped_by_time);

#endif
