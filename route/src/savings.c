/*
 * savings.c — Clarke and Wright's parallel savings (1964): every piece on a
 * route of its own, then, by decreasing saving s(i,j) = d(i,0) + d(0,j) -
 * d(i,j), join the route ending in i to the route starting with j when both
 * are route ends, the load fits and the joined route keeps within max_len
 * (and max_time).
 * A route may be reversed to put i last or j first; its length is
 * recomputed, so asymmetric costs stay exact (the savings then only guide).
 */
#include <stdlib.h>
#include <string.h>

#include "route_internal.h"

typedef struct saving {
    int64_t s;
    int i, j;
} saving;

/* Decreasing saving, then by pieces so the order never depends on qsort. */
static int saving_cmp(const void *pa, const void *pb)
{
    const saving *a = pa, *b = pb;
    if (a->s != b->s)
        return a->s > b->s ? -1 : 1;
    if (a->i != b->i)
        return a->i < b->i ? -1 : 1;
    return a->j < b->j ? -1 : a->j > b->j;
}

static int *route_stops(lm__sol *s, int r)
{
    return s->stop + (size_t)r * (size_t)s->m;
}

static void reverse_route(const lm__vrp *v, lm__sol *s, int r)
{
    int *t = route_stops(s, r);
    for (int a = 0, b = s->len[r] - 1; a < b; a++, b--) {
        int x = t[a];
        t[a] = t[b];
        t[b] = x;
    }
    lm__sol_update(v, s, r);
}

/* Length of route a followed by route b (a's last piece to b's first). */
static int64_t joined_len(const lm__vrp *v, lm__sol *s, int a, int b)
{
    int last = route_stops(s, a)[s->len[a] - 1], first = route_stops(s, b)[0];
    return s->dist[a] + s->dist[b] - lm__d(v, last, 0) - lm__d(v, 0, first) + lm__d(v, last, first);
}

/* Time of route a followed by route b. */
static int64_t joined_time(const lm__vrp *v, lm__sol *s, int a, int b)
{
    int last = route_stops(s, a)[s->len[a] - 1], first = route_stops(s, b)[0];
    return s->time[a] + s->time[b] - lm__t(v, last, 0) - lm__t(v, 0, first) + lm__t(v, last, first);
}

/* Tries to join the routes of i and j with i last and j first. */
static void try_join(const lm__vrp *v, lm__sol *s, int *route_of, int i, int j)
{
    int a = route_of[i], b = route_of[j];
    if (a == b || s->load[a] + s->load[b] > v->cap)
        return;
    int *ta = route_stops(s, a), *tb = route_stops(s, b);
    if (ta[0] != i && ta[s->len[a] - 1] != i)
        return;
    if (tb[0] != j && tb[s->len[b] - 1] != j)
        return;
    /* a reversal can lengthen a route when costs are asymmetric: undone
     * when the join does not happen, so every route stays feasible */
    int rev_a = ta[s->len[a] - 1] != i, rev_b = tb[0] != j;
    if (rev_a)
        reverse_route(v, s, a);
    if (rev_b)
        reverse_route(v, s, b);
    if ((v->max_len > 0 && joined_len(v, s, a, b) > v->max_len) ||
        (v->max_time > 0 && joined_time(v, s, a, b) > v->max_time)) {
        if (rev_a)
            reverse_route(v, s, a);
        if (rev_b)
            reverse_route(v, s, b);
        return;
    }
    memcpy(ta + s->len[a], tb, (size_t)s->len[b] * sizeof *tb);
    for (int k = 0; k < s->len[b]; k++)
        route_of[tb[k]] = a;
    s->len[a] += s->len[b];
    s->len[b] = 0;
    lm__sol_update(v, s, a);
    int last = s->nr - 1;
    lm__sol_drop_if_empty(s, b);
    if (b != last) {
        int *moved = route_stops(s, b);
        for (int k = 0; k < s->len[b]; k++)
            route_of[moved[k]] = b;
    }
}

int lm__savings(const lm__vrp *v, lm__sol *s)
{
    int m = v->m;
    s->nr = m;
    for (int c = 1; c <= m; c++) {
        route_stops(s, c - 1)[0] = c;
        s->len[c - 1] = 1;
        lm__sol_update(v, s, c - 1);
    }
    if (m < 2)
        return LM_OK;
    size_t n_pairs = (size_t)m * (size_t)(m - 1) / 2, k = 0;
    saving *sv = lm_calloc(n_pairs, sizeof *sv);
    int *route_of = lm_calloc((size_t)m + 1, sizeof *route_of);
    if (!sv || !route_of) {
        lm_free(sv);
        lm_free(route_of);
        return LM_ENOMEM;
    }
    for (int c = 1; c <= m; c++)
        route_of[c] = c - 1;
    for (int i = 1; i <= m; i++) {
        for (int j = i + 1; j <= m; j++) {
            int64_t ij = lm__d(v, i, 0) + lm__d(v, 0, j) - lm__d(v, i, j);
            int64_t ji = lm__d(v, j, 0) + lm__d(v, 0, i) - lm__d(v, j, i);
            sv[k++] = ij >= ji ? (saving){ij, i, j} : (saving){ji, j, i};
        }
    }
    qsort(sv, n_pairs, sizeof *sv, saving_cmp);
    for (k = 0; k < n_pairs && sv[k].s > 0; k++)
        try_join(v, s, route_of, sv[k].i, sv[k].j);
    lm_free(sv);
    lm_free(route_of);
    return LM_OK;
}
