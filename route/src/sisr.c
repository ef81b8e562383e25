/*
 * sisr.c — slack induction by string removals (Christiansen, Pisinger and
 * Ropke's SISR, 2018): each step removes a few strings of consecutive
 * pieces from routes near a random seed piece (ruin), puts them back one by
 * one at the cheapest feasible place, skipping each place with a small
 * "blink" probability (recreate), and keeps the result under simulated
 * annealing. Parameters as published (average removal c̄ = 10, string
 * length L_max = 10, blink rate 0.01); the temperature falls geometrically
 * from T0 to Tf, both set from the instance's mean depot distance so that
 * a kilometre matrix and CVRPLIB's 0..100 grid are searched alike.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route_internal.h"

#define AVG_REMOVED 10.0
#define MAX_STRING 10.0
#define BLINK 0.01
#define SPLIT_RATE 0.5
#define SPLIT_DEPTH 0.01

/* A piece and the key it sorts by (decreasing key, then increasing piece,
 * so the order never depends on the sort algorithm). */
typedef struct keyed {
    int64_t key;
    int piece;
} keyed;

static int keyed_cmp(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key > b->key ? -1 : 1;
    return a->piece < b->piece ? -1 : a->piece > b->piece;
}

typedef struct work {
    const lm__vrp *v;
    uint64_t rng;
    int *adj;      /* m*m: for piece c, all pieces by distance from c, c first */
    int *route_of; /* m+1 */
    int *pos_of;   /* m+1 */
    char *ruined;  /* m+1 routes */
    int *removed;  /* m */
    int n_removed;
    keyed *order; /* m: the removed pieces with their recreate sort keys */
} work;

static int *stops_of(lm__sol *s, int r)
{
    return s->stop + (size_t)r * (size_t)s->m;
}

static int build_adjacency(work *w)
{
    int m = w->v->m;
    w->adj = lm_calloc((size_t)m * (size_t)m, sizeof *w->adj);
    keyed *row = lm_calloc((size_t)m, sizeof *row);
    if (!w->adj || !row) {
        lm_free(row);
        return LM_ENOMEM;
    }
    for (int c = 1; c <= m; c++) {
        for (int k = 0; k < m; k++) {
            int64_t d = lm__d(w->v, c, k + 1) + lm__d(w->v, k + 1, c);
            row[k] = (keyed){k + 1 == c ? INT64_MAX : -d, k + 1}; /* c itself first */
        }
        qsort(row, (size_t)m, sizeof *row, keyed_cmp);
        for (int k = 0; k < m; k++)
            w->adj[(size_t)(c - 1) * (size_t)m + (size_t)k] = row[k].piece;
    }
    lm_free(row);
    return LM_OK;
}

/* Removes from route r a string of l pieces containing position p, or (the
 * split string) a string of l + k pieces of which k consecutive stay. */
static void remove_string(work *w, lm__sol *s, int r, int p, int l)
{
    int *t = stops_of(s, r), n = s->len[r], keep = 0;
    if (l < n && lm__rng_unit(&w->rng) < SPLIT_RATE) {
        keep = 1;
        while (l + keep < n && lm__rng_unit(&w->rng) < SPLIT_DEPTH)
            keep++;
    }
    int span = l + keep, lo = p - span + 1 < 0 ? 0 : p - span + 1;
    int hi = p < n - span ? p : n - span;
    int first = lo + lm__rng_below(&w->rng, hi - lo + 1);
    int kept_at = keep ? first + lm__rng_below(&w->rng, span - keep + 1) : -1;
    int out = first;
    for (int i = first; i < first + span; i++) {
        if (keep && i >= kept_at && i < kept_at + keep)
            t[out++] = t[i];
        else
            w->removed[w->n_removed++] = t[i];
    }
    for (int i = first + span; i < n; i++)
        t[out++] = t[i];
    s->len[r] = out;
}

static void ruin(work *w, lm__sol *s)
{
    int m = w->v->m;
    w->n_removed = 0;
    for (int r = 0; r < s->nr; r++) {
        w->ruined[r] = 0;
        const int *t = stops_of(s, r);
        for (int i = 0; i < s->len[r]; i++) {
            w->route_of[t[i]] = r;
            w->pos_of[t[i]] = i;
        }
    }
    double avg_len = (double)m / (double)s->nr;
    double ls_max = avg_len < MAX_STRING ? avg_len : MAX_STRING;
    double ks_max = 4.0 * AVG_REMOVED / (1.0 + ls_max) - 1.0;
    int ks = (int)(lm__rng_unit(&w->rng) * ks_max) + 1, n_ruined = 0;
    int seed = 1 + lm__rng_below(&w->rng, m);
    const int *near = w->adj + (size_t)(seed - 1) * (size_t)m;
    for (int k = 0; k < m && n_ruined < ks; k++) {
        int c = near[k], r = w->route_of[c];
        if (r < 0 || w->ruined[r])
            continue;
        double lt_max = s->len[r] < ls_max ? s->len[r] : ls_max;
        int lt = (int)(lm__rng_unit(&w->rng) * lt_max) + 1;
        if (lt > s->len[r])
            lt = s->len[r];
        int before = w->n_removed;
        remove_string(w, s, r, w->pos_of[c], lt);
        for (int i = before; i < w->n_removed; i++)
            w->route_of[w->removed[i]] = -1;
        w->ruined[r] = 1;
        n_ruined++;
    }
    for (int r = s->nr - 1; r >= 0; r--) {
        if (w->ruined[r]) {
            lm__sol_update(w->v, s, r);
            /* where the triangle inequality fails (imported times), taking
             * a stop out can lengthen a route past its limit: then the
             * whole route is ruined, so every plan stays feasible */
            if ((w->v->max_len > 0 && s->dist[r] > w->v->max_len) ||
                (w->v->max_time > 0 && s->time[r] > w->v->max_time)) {
                const int *t = stops_of(s, r);
                for (int i = 0; i < s->len[r]; i++)
                    w->removed[w->n_removed++] = t[i];
                s->len[r] = 0;
                lm__sol_update(w->v, s, r);
            }
            lm__sol_drop_if_empty(s, r);
        }
    }
}

/* Orders the removed pieces: random, by demand, far first or near first
 * (weights 4:4:2:1, as published). */
static void order_removed(work *w)
{
    int n = w->n_removed, pick = lm__rng_below(&w->rng, 11);
    if (pick < 4) {
        for (int i = n - 1; i > 0; i--) {
            int j = lm__rng_below(&w->rng, i + 1), x = w->removed[i];
            w->removed[i] = w->removed[j];
            w->removed[j] = x;
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        int c = w->removed[i];
        int64_t far = lm__d(w->v, 0, c) + lm__d(w->v, c, 0);
        w->order[i] = (keyed){pick < 8 ? w->v->q[c] : pick < 10 ? far : -far, c};
    }
    qsort(w->order, (size_t)n, sizeof *w->order, keyed_cmp);
    for (int i = 0; i < n; i++)
        w->removed[i] = w->order[i].piece;
}

static void insert_at(const lm__vrp *v, lm__sol *s, int r, int pos, int c, int64_t delta,
                      int64_t dtime)
{
    int *t = stops_of(s, r);
    memmove(t + pos + 1, t + pos, (size_t)(s->len[r] - pos) * sizeof *t);
    t[pos] = c;
    s->len[r]++;
    s->load[r] += v->q[c];
    s->dist[r] += delta;
    s->time[r] += dtime;
}

static void recreate(work *w, lm__sol *s)
{
    const lm__vrp *v = w->v;
    order_removed(w);
    for (int k = 0; k < w->n_removed; k++) {
        int c = w->removed[k], best_r = -1, best_p = 0;
        int64_t best = INT64_MAX, best_time = 0;
        for (int r = 0; r < s->nr; r++) {
            if (s->load[r] + v->q[c] > v->cap)
                continue;
            const int *t = stops_of(s, r);
            int prev = 0;
            for (int p = 0; p <= s->len[r]; p++) {
                int next = p < s->len[r] ? t[p] : 0, prev0 = prev;
                int64_t delta = lm__d(v, prev, c) + lm__d(v, c, next) - lm__d(v, prev, next);
                prev = next;
                int64_t dtime = lm__t(v, prev0, c) + lm__t(v, c, next) - lm__t(v, prev0, next);
                if (delta >= best || (v->max_len > 0 && s->dist[r] + delta > v->max_len) ||
                    (v->max_time > 0 && s->time[r] + dtime > v->max_time))
                    continue;
                if (lm__rng_unit(&w->rng) < BLINK)
                    continue;
                best = delta;
                best_time = dtime;
                best_r = r;
                best_p = p;
            }
        }
        if (best_r < 0) {
            best_r = s->nr++;
            s->len[best_r] = 0;
            s->load[best_r] = 0;
            s->dist[best_r] = 0;
            s->time[best_r] = 0;
            best = lm__d(v, 0, c) + lm__d(v, c, 0);
            best_time = lm__t(v, 0, c) + lm__t(v, c, 0);
        }
        insert_at(v, s, best_r, best_p, c, best, best_time);
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t default_iterations(int m)
{
    /* measured in docs/benchmarks.md: enough for set P within its second */
    return m <= 30 ? 20000u : 60000u;
}

int lm__sisr(const lm__vrp *v, lm__sol *s, const lm_route_options *o, uint32_t *iterations,
             int *stopped_by_time)
{
    int m = v->m, rc = LM_ENOMEM;
    *iterations = 0;
    *stopped_by_time = 0;
    if (m < 2)
        return LM_OK;
    work w = {.v = v, .rng = o->seed};
    lm__sol cur, next;
    if (lm__sol_init(&cur, m) != LM_OK)
        return LM_ENOMEM;
    if (lm__sol_init(&next, m) != LM_OK)
        goto fail_next;
    w.route_of = lm_calloc((size_t)m + 1, sizeof *w.route_of);
    w.pos_of = lm_calloc((size_t)m + 1, sizeof *w.pos_of);
    w.ruined = lm_calloc((size_t)m + 1, 1);
    w.removed = lm_calloc((size_t)m, sizeof *w.removed);
    w.order = lm_calloc((size_t)m, sizeof *w.order);
    if (!w.route_of || !w.pos_of || !w.ruined || !w.removed || !w.order ||
        build_adjacency(&w) != LM_OK)
        goto fail_work;

    double depot = 0;
    for (int c = 1; c <= m; c++)
        depot += (double)(lm__d(v, 0, c) + lm__d(v, c, 0)) / 2.0;
    double t0 = 0.2 * depot / m + 1e-9, tf = t0 / 100.0;
    uint32_t total = o->iterations ? o->iterations : default_iterations(m);
    uint64_t deadline = o->time_limit_ms ? now_ms() + o->time_limit_ms : 0;

    lm__sol_copy(&cur, s);
    int64_t cur_obj = lm__sol_objective(v, &cur), best_obj = cur_obj;
    uint32_t it;
    for (it = 0; it < total; it++) {
        if (deadline && (it & 63u) == 0 && now_ms() >= deadline) {
            *stopped_by_time = 1;
            break;
        }
        double temp = t0 * pow(tf / t0, (double)it / (double)total);
        lm__sol_copy(&next, &cur);
        ruin(&w, &next);
        recreate(&w, &next);
        int64_t obj = lm__sol_objective(v, &next);
        if ((double)obj < (double)cur_obj - temp * log(lm__rng_unit(&w.rng) + 1e-300)) {
            lm__sol tmp = cur;
            cur = next;
            next = tmp;
            cur_obj = obj;
            if (obj < best_obj) {
                best_obj = obj;
                lm__sol_copy(s, &cur);
            }
        }
    }
    *iterations = it;
    lm__sol_two_opt(v, s);
    rc = LM_OK;
fail_work:
    lm_free(w.adj);
    lm_free(w.route_of);
    lm_free(w.pos_of);
    lm_free(w.ruined);
    lm_free(w.removed);
    lm_free(w.order);
    lm__sol_close(&next);
fail_next:
    lm__sol_close(&cur);
    return rc;
}
