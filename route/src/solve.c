/*
 * solve.c — lm_route_solve: checks the problem, takes the full trips of a
 * customer whose demand exceeds the capacity out of the search (one trip
 * each, depot - customer - depot), runs Clarke–Wright and SISR over the
 * rest, and writes the plan in a stable order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route_internal.h"

static int fail(char *msg, size_t size, int rc, const char *fmt, ...)
{
    if (msg && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, size, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int check(const lm_route_problem *p, char *msg, size_t size)
{
    if (!p || p->n == 0 || !p->dist || !p->demand)
        return fail(msg, size, LM_EINVAL, "no depot: the problem needs at least one node");
    if (p->capacity <= 0 || p->capacity > LM_ROUTE_MAX_QTY)
        return fail(msg, size, LM_EINVAL, "capacity must be in 1..%lld", LM_ROUTE_MAX_QTY);
    if (p->max_route_dist < 0)
        return fail(msg, size, LM_EINVAL, "maximum route length must not be negative");
    if (p->max_route_time < 0 || (p->max_route_time > 0 && !p->time))
        return fail(msg, size, LM_EINVAL, "a maximum route time needs a time matrix");
    if (p->n > LM_ROUTE_MAX_NODES)
        return fail(msg, size, LM_EINVAL, "%zu nodes, at most %d", p->n, LM_ROUTE_MAX_NODES);
    int64_t trips = 0;
    for (size_t i = 1; i < p->n; i++) {
        if (p->demand[i] < 0 || p->demand[i] > LM_ROUTE_MAX_QTY)
            return fail(msg, size, LM_EINVAL, "node %zu: demand not in 0..%lld", i,
                        LM_ROUTE_MAX_QTY);
        trips += p->demand[i] / p->capacity;
        if (trips > LM_ROUTE_MAX_TRIPS)
            return fail(msg, size, LM_EINVAL, "over %d full trips: capacity too small",
                        LM_ROUTE_MAX_TRIPS);
    }
    for (size_t i = 0; i < p->n * p->n; i++) {
        if (p->dist[i] < 0 || p->dist[i] > LM_ROUTE_MAX_QTY)
            return fail(msg, size, LM_EINVAL, "distance from node %zu to node %zu not in 0..%lld",
                        i / p->n, i % p->n, LM_ROUTE_MAX_QTY);
    }
    for (size_t i = 0; p->time && i < p->n * p->n; i++) {
        if (p->time[i] < 0 || p->time[i] > LM_ROUTE_MAX_QTY)
            return fail(msg, size, LM_EINVAL, "time from node %zu to node %zu not in 0..%lld",
                        i / p->n, i % p->n, LM_ROUTE_MAX_QTY);
    }
    for (size_t i = 1; i < p->n; i++) {
        int64_t ttrip = p->time ? p->time[i] + p->time[i * p->n] : 0;
        if (p->max_route_time > 0 && ttrip > p->max_route_time)
            return fail(msg, size, LM_ERANGE,
                        "node %zu: its round trip takes %lld, longer than a route may (%lld)", i,
                        (long long)ttrip, (long long)p->max_route_time);
        int64_t trip = p->dist[i] + p->dist[i * p->n];
        if (p->max_route_dist > 0 && trip > p->max_route_dist)
            return fail(msg, size, LM_ERANGE,
                        "node %zu: its round trip (%lld) is longer than a route may be (%lld)", i,
                        (long long)trip, (long long)p->max_route_dist);
    }
    return LM_OK;
}

/* The search's problem: piece k (1..m) is node[k] with demand q[k]. */
typedef struct pieces {
    int m;
    size_t *node;
    int64_t *q;
    int64_t *d;
    int64_t *t; /* NULL without a time matrix */
    size_t full_trips;
} pieces;

static void pieces_close(pieces *pc)
{
    lm_free(pc->node);
    lm_free(pc->q);
    lm_free(pc->d);
    lm_free(pc->t);
}

static int pieces_init(pieces *pc, const lm_route_problem *p)
{
    memset(pc, 0, sizeof *pc);
    size_t m = 0;
    for (size_t i = 1; i < p->n; i++) {
        if (p->demand[i] > p->capacity) {
            pc->full_trips += (size_t)(p->demand[i] / p->capacity);
            m += p->demand[i] % p->capacity != 0;
        } else {
            m++;
        }
    }
    pc->m = (int)m;
    pc->node = lm_calloc(m + 1, sizeof *pc->node);
    pc->q = lm_calloc(m + 1, sizeof *pc->q);
    pc->d = lm_calloc((m + 1) * (m + 1), sizeof *pc->d);
    pc->t = p->time ? lm_calloc((m + 1) * (m + 1), sizeof *pc->t) : NULL;
    if (!pc->node || !pc->q || !pc->d || (p->time && !pc->t)) {
        pieces_close(pc);
        return LM_ENOMEM;
    }
    size_t k = 1;
    for (size_t i = 1; i < p->n; i++) {
        int64_t q = p->demand[i] > p->capacity ? p->demand[i] % p->capacity : p->demand[i];
        if (p->demand[i] > p->capacity && q == 0)
            continue;
        pc->node[k] = i;
        pc->q[k++] = q;
    }
    for (size_t a = 0; a <= m; a++) {
        for (size_t b = 0; b <= m; b++) {
            pc->d[a * (m + 1) + b] = p->dist[pc->node[a] * p->n + pc->node[b]];
            if (pc->t)
                pc->t[a * (m + 1) + b] = p->time[pc->node[a] * p->n + pc->node[b]];
        }
    }
    return LM_OK;
}

typedef struct out_route {
    size_t first_node, n;
    const int *stops; /* pieces, or NULL for a full trip to first_node */
    int64_t dist, load, time;
} out_route;

static int out_route_cmp(const void *pa, const void *pb)
{
    const out_route *a = pa, *b = pb;
    if (a->first_node != b->first_node)
        return a->first_node < b->first_node ? -1 : 1;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return a->load > b->load ? -1 : a->load < b->load;
}

static int write_plan(const lm_route_problem *p, const pieces *pc, const lm__sol *s,
                      lm_route_plan *out)
{
    size_t nr = pc->full_trips + (size_t)s->nr, n_stops = pc->full_trips + (size_t)pc->m;
    out_route *rs = lm_calloc(nr ? nr : 1, sizeof *rs);
    out->start = lm_calloc(nr + 1, sizeof *out->start);
    out->stops = lm_calloc(n_stops ? n_stops : 1, sizeof *out->stops);
    out->route_dist = lm_calloc(nr ? nr : 1, sizeof *out->route_dist);
    out->route_load = lm_calloc(nr ? nr : 1, sizeof *out->route_load);
    out->route_time = lm_calloc(nr ? nr : 1, sizeof *out->route_time);
    if (!rs || !out->start || !out->stops || !out->route_dist || !out->route_load ||
        !out->route_time) {
        lm_free(rs);
        return LM_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 1; i < p->n; i++) {
        for (int64_t t = 0; p->demand[i] > p->capacity && t < p->demand[i] / p->capacity; t++)
            rs[k++] = (out_route){i,           1,
                                  NULL,        p->dist[i] + p->dist[i * p->n],
                                  p->capacity, p->time ? p->time[i] + p->time[i * p->n] : 0};
    }
    for (int r = 0; r < s->nr; r++) {
        const int *t = s->stop + (size_t)r * (size_t)s->m;
        rs[k++] =
            (out_route){pc->node[t[0]], (size_t)s->len[r], t, s->dist[r], s->load[r], s->time[r]};
    }
    qsort(rs, nr, sizeof *rs, out_route_cmp);
    size_t at = 0;
    for (size_t r = 0; r < nr; r++) {
        out->start[r] = at;
        for (size_t i = 0; i < rs[r].n; i++) {
            int piece = rs[r].stops ? rs[r].stops[i] : 0;
            out->stops[at].node = rs[r].stops ? pc->node[piece] : rs[r].first_node;
            out->stops[at++].load = rs[r].stops ? pc->q[piece] : p->capacity;
        }
        out->route_dist[r] = rs[r].dist;
        out->route_load[r] = rs[r].load;
        out->route_time[r] = rs[r].time;
        out->cost += rs[r].dist;
    }
    out->start[nr] = at;
    out->n_routes = nr;
    lm_free(rs);
    return LM_OK;
}

int lm_route_solve(const lm_route_problem *p, const lm_route_options *o, lm_route_plan *out,
                   char *msg, size_t msg_size)
{
    memset(out, 0, sizeof *out);
    if (msg && msg_size)
        msg[0] = '\0';
    int rc = check(p, msg, msg_size);
    if (rc != LM_OK)
        return rc;
    lm_route_options defaults = {0};
    if (!o)
        o = &defaults;
    pieces pc;
    if (pieces_init(&pc, p) != LM_OK)
        return fail(msg, msg_size, LM_ENOMEM, "out of memory");
    lm__vrp v = {pc.m, pc.d, pc.q, p->capacity, p->max_route_dist, 0, 1, pc.t, p->max_route_time};
    if (p->max_routes > 0) {
        if (pc.full_trips + (pc.m > 0) > p->max_routes) {
            rc = fail(msg, msg_size, LM_ERANGE, "needs at least %zu routes, at most %zu allowed",
                      pc.full_trips + 1, p->max_routes);
            goto fail_pieces;
        }
        v.max_routes = (int)(p->max_routes - pc.full_trips);
        for (int c = 1; c <= pc.m; c++)
            v.penalty += lm__d(&v, 0, c) + lm__d(&v, c, 0);
    }
    lm__sol s;
    if (lm__sol_init(&s, pc.m) != LM_OK) {
        rc = fail(msg, msg_size, LM_ENOMEM, "out of memory");
        goto fail_pieces;
    }
    if ((rc = lm__savings(&v, &s)) == LM_OK && !o->construct_only)
        rc = lm__sisr(&v, &s, o, &out->iterations, &out->stopped_by_time);
    if (rc != LM_OK) {
        rc = fail(msg, msg_size, rc, "out of memory");
        goto fail_sol;
    }
    if (v.max_routes > 0 && s.nr > v.max_routes) {
        rc = fail(msg, msg_size, LM_ERANGE, "needs %zu routes, at most %zu allowed",
                  pc.full_trips + (size_t)s.nr, p->max_routes);
        goto fail_sol;
    }
    if (write_plan(p, &pc, &s, out) != LM_OK) {
        lm_route_plan_clear(out);
        rc = fail(msg, msg_size, LM_ENOMEM, "out of memory");
    }
fail_sol:
    lm__sol_close(&s);
fail_pieces:
    pieces_close(&pc);
    return rc;
}

void lm_route_plan_clear(lm_route_plan *plan)
{
    lm_free(plan->start);
    lm_free(plan->stops);
    lm_free(plan->route_dist);
    lm_free(plan->route_load);
    lm_free(plan->route_time);
    memset(plan, 0, sizeof *plan);
}
