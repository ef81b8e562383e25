/*
 * lm_route.h — the capacitated vehicle routing solver that `lastmile route
 * suggest` and bench/routing/bench_routing share, and the reader of
 * TSPLIB/CVRPLIB instance files the benchmark and its fuzz target use.
 * Pure functions over memory: no files, no SQLite; allocation through
 * lm_malloc (lm_protocol.h).
 *
 * Method (docs/dispatch.md): Clarke–Wright savings builds a first plan,
 * then slack induction by string removals (SISR, Christiansen et al.,
 * 2018) ruins and recreates it under simulated-annealing acceptance for a
 * fixed number of iterations. Everything random comes from one generator
 * seeded by the caller, so a seed gives the same plan on every run unless
 * the time limit cuts the search short (lm_route_plan.stopped_by_time).
 *
 * Ownership: the problem's arrays are borrowed for the call and not kept;
 * the plan owns its arrays, freed by lm_route_plan_clear().
 */
#ifndef LM_ROUTE_H
#define LM_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "lm_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Node 0 is the depot (the warehouse), 1..n-1 the customers (villages).
 * dist is n*n row-major, dist[i*n + j] the cost of driving i -> j (any unit:
 * metres, CVRPLIB's rounded units); it may be asymmetric. A customer whose
 * demand exceeds the capacity is served by full trips of its own plus one
 * visit for the rest (split deliveries, one customer per full trip). */
typedef struct lm_route_problem {
    size_t n;               /* nodes, depot included; 1 = no customer */
    const int64_t *dist;    /* n*n, every entry >= 0 */
    const int64_t *demand;  /* n entries, >= 0; demand[0] is ignored */
    int64_t capacity;       /* > 0 */
    size_t max_routes;      /* 0 = any number of routes */
    int64_t max_route_dist; /* 0 = no limit on one route's length */
    /* A second, independent measure of a route (`route suggest` --max-hours:
     * driving time plus the time at each stop, in seconds): time[i*n + j] is
     * what going from i to j costs of it, the time spent at j included;
     * NULL = none. Only limited, never minimised. */
    const int64_t *time;    /* n*n, every entry in 0..LM_ROUTE_MAX_QTY, or NULL */
    int64_t max_route_time; /* 0 = no limit; needs time */
} lm_route_problem;

typedef struct lm_route_options {
    uint64_t seed;
    uint32_t iterations;    /* ruin-and-recreate steps; 0 = a default by size */
    uint32_t time_limit_ms; /* 0 = none; else stop the search at this wall time */
    int construct_only;     /* 1 = Clarke–Wright savings alone (the floor) */
} lm_route_options;

/* One visit: the customer and what is loaded there (its whole demand, or a
 * part of it when the demand exceeds the capacity). */
typedef struct lm_route_stop {
    size_t node;
    int64_t load;
} lm_route_stop;

/* Routes in a stable order (by first stop's node, then more stops first). Route r
 * visits stops[start[r]] .. stops[start[r+1]-1], depot to depot. */
typedef struct lm_route_plan {
    size_t n_routes;
    size_t *start;        /* n_routes + 1 offsets */
    lm_route_stop *stops; /* start[n_routes] visits */
    int64_t *route_dist;  /* per route, depot to depot */
    int64_t *route_load;  /* per route */
    int64_t *route_time;  /* per route, depot to depot (0s without a time matrix) */
    int64_t cost;         /* sum of route_dist */
    uint32_t iterations;  /* search steps run */
    int stopped_by_time;  /* 1 when time_limit_ms ended the search */
} lm_route_plan;

#define LM_ROUTE_MAX_NODES 5000
#define LM_ROUTE_MAX_QTY 1000000000000000LL /* capacity, demand, one distance: sums fit */
#define LM_ROUTE_MAX_TRIPS 100000           /* full trips of split deliveries, all together */

/* Solves p into *out (zeroed first). LM_EINVAL: n == 0 or over
 * LM_ROUTE_MAX_NODES, a capacity, demand or distance outside
 * 1..LM_ROUTE_MAX_QTY (0.. for demand and distance; msg says which), more than LM_ROUTE_MAX_TRIPS
 * full trips. LM_ERANGE: no feasible plan found — a customer's round trip is longer than
 * max_route_dist, or the plan needs more than max_routes (msg gives the number found). LM_ENOMEM.
 * msg (may be NULL) receives a one-line reason on failure. */
int lm_route_solve(const lm_route_problem *p, const lm_route_options *o, lm_route_plan *out,
                   char *msg, size_t msg_size);

/* Frees the plan's arrays and zeroes it; safe on a zeroed plan. */
void lm_route_plan_clear(lm_route_plan *plan);

/* ------------------------------------------------------------ CVRPLIB */

/* A TSPLIB CVRP instance: nodes renumbered from 0 with the depot first;
 * id[k] is node k's number in the file. */
typedef struct lm_vrp {
    char name[64];
    size_t n; /* nodes, depot included */
    int64_t capacity;
    int *id;         /* n: file numbering */
    double *x, *y;   /* n: coordinates */
    int64_t *demand; /* n: demand[0] = the depot's, 0 */
} lm_vrp;

/* Parses text[0..len) (need not be NUL-terminated): TYPE CVRP,
 * EDGE_WEIGHT_TYPE EUC_2D, DIMENSION, CAPACITY, NODE_COORD_SECTION,
 * DEMAND_SECTION, DEPOT_SECTION (one depot), EOF optional. Every node needs
 * coordinates and a demand. LM_EMALFORMED with a reason in msg (naming the
 * line) for anything else, LM_ETOOBIG over 100,000 nodes, LM_ENOMEM. */
int lm_vrp_parse(const char *text, size_t len, lm_vrp *out, char *msg, size_t msg_size);

/* TSPLIB EUC_2D: the Euclidean distance rounded to the nearest integer. */
int64_t lm_vrp_euc2d(const lm_vrp *v, size_t a, size_t b);

/* The n*n matrix of lm_vrp_euc2d, owned by the caller (lm_free); NULL when
 * out of memory. */
int64_t *lm_vrp_matrix(const lm_vrp *v);

void lm_vrp_clear(lm_vrp *v);

#ifdef __cplusplus
}
#endif
#endif
