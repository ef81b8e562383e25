/*
 * sol.c — a plan being searched (route_internal.h): storage, copies, route
 * totals and a 2-opt polish.
 */
#include <string.h>

#include "route_internal.h"

int lm__sol_init(lm__sol *s, int m)
{
    memset(s, 0, sizeof *s);
    s->m = m;
    size_t slots = (size_t)m + 1, per = m > 0 ? (size_t)m : 1;
    s->len = lm_calloc(slots, sizeof *s->len);
    s->stop = lm_calloc(slots * per, sizeof *s->stop);
    s->load = lm_calloc(slots, sizeof *s->load);
    s->dist = lm_calloc(slots, sizeof *s->dist);
    s->time = lm_calloc(slots, sizeof *s->time);
    if (!s->len || !s->stop || !s->load || !s->dist || !s->time) {
        lm__sol_close(s);
        return LM_ENOMEM;
    }
    return LM_OK;
}

void lm__sol_close(lm__sol *s)
{
    lm_free(s->len);
    lm_free(s->stop);
    lm_free(s->load);
    lm_free(s->dist);
    lm_free(s->time);
    memset(s, 0, sizeof *s);
}

void lm__sol_copy(lm__sol *dst, const lm__sol *src)
{
    dst->nr = src->nr;
    for (int r = 0; r < src->nr; r++) {
        size_t at = (size_t)r * (size_t)src->m;
        memcpy(dst->stop + at, src->stop + at, (size_t)src->len[r] * sizeof *src->stop);
    }
    memcpy(dst->len, src->len, (size_t)src->nr * sizeof *src->len);
    memcpy(dst->load, src->load, (size_t)src->nr * sizeof *src->load);
    memcpy(dst->dist, src->dist, (size_t)src->nr * sizeof *src->dist);
    memcpy(dst->time, src->time, (size_t)src->nr * sizeof *src->time);
}

void lm__sol_update(const lm__vrp *v, lm__sol *s, int r)
{
    const int *t = s->stop + (size_t)r * (size_t)s->m;
    int64_t load = 0, dist = 0, time = 0;
    int prev = 0;
    for (int i = 0; i < s->len[r]; i++) {
        load += v->q[t[i]];
        dist += lm__d(v, prev, t[i]);
        time += lm__t(v, prev, t[i]);
        prev = t[i];
    }
    s->load[r] = load;
    s->dist[r] = s->len[r] ? dist + lm__d(v, prev, 0) : 0;
    s->time[r] = s->len[r] ? time + lm__t(v, prev, 0) : 0;
}

int64_t lm__sol_objective(const lm__vrp *v, const lm__sol *s)
{
    int64_t total = 0;
    for (int r = 0; r < s->nr; r++)
        total += s->dist[r];
    if (v->max_routes > 0 && s->nr > v->max_routes)
        total += v->penalty * (s->nr - v->max_routes);
    return total;
}

void lm__sol_drop_if_empty(lm__sol *s, int r)
{
    if (s->len[r] != 0)
        return;
    int last = --s->nr;
    if (r == last)
        return;
    size_t m = (size_t)s->m;
    memcpy(s->stop + (size_t)r * m, s->stop + (size_t)last * m,
           (size_t)s->len[last] * sizeof *s->stop);
    s->len[r] = s->len[last];
    s->load[r] = s->load[last];
    s->dist[r] = s->dist[last];
    s->time[r] = s->time[last];
    s->len[last] = 0;
}

/* Length of route t[0..n) with t[i..j] reversed; its time in *time. */
static int64_t reversed_len(const lm__vrp *v, const int *t, int n, int i, int j, int64_t *time)
{
    int64_t len = 0, tm = 0;
    int prev = 0;
    for (int k = 0; k < n; k++) {
        int c = k >= i && k <= j ? t[i + j - k] : t[k];
        len += lm__d(v, prev, c);
        tm += lm__t(v, prev, c);
        prev = c;
    }
    *time = tm + lm__t(v, prev, 0);
    return len + lm__d(v, prev, 0);
}

static void reverse(int *t, int i, int j)
{
    for (; i < j; i++, j--) {
        int x = t[i];
        t[i] = t[j];
        t[j] = x;
    }
}

void lm__sol_two_opt(const lm__vrp *v, lm__sol *s)
{
    for (int r = 0; r < s->nr; r++) {
        int *t = s->stop + (size_t)r * (size_t)s->m;
        int n = s->len[r], improved = 1;
        while (improved) {
            improved = 0;
            for (int i = 0; i < n - 1 && !improved; i++) {
                for (int j = i + 1; j < n && !improved; j++) {
                    int64_t time;
                    if (reversed_len(v, t, n, i, j, &time) < s->dist[r] &&
                        (v->max_time <= 0 || time <= v->max_time)) {
                        reverse(t, i, j);
                        lm__sol_update(v, s, r);
                        improved = 1;
                    }
                }
            }
        }
    }
}
