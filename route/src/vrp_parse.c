/*
 * vrp_parse.c — TSPLIB CVRP instances as CVRPLIB publishes them:
 *
 *   NAME : P-n16-k8            keyword lines, "KEY : value" (colon optional)
 *   TYPE : CVRP                only CVRP
 *   DIMENSION : 16             nodes, depot included; before the sections
 *   EDGE_WEIGHT_TYPE : EUC_2D  only EUC_2D
 *   CAPACITY : 35
 *   NODE_COORD_SECTION         DIMENSION lines "id x y", ids 1..DIMENSION
 *   DEMAND_SECTION             DIMENSION lines "id demand"
 *   DEPOT_SECTION              "id" lines up to "-1"; exactly one depot
 *   EOF                        optional
 *
 * Input is untrusted (a file from anywhere): each line is copied into a
 * bounded buffer before numbers are read, every id and count is checked,
 * and the first problem is reported with its line number.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_route.h"

#define MAX_NODES 100000
#define MAX_LINE 256
#define MAX_COORD 1e9
#define MAX_QTY 1000000000000LL

typedef struct parser {
    const char *p, *end;
    int line;
    char buf[MAX_LINE + 1];
    char *msg;
    size_t msg_size;
} parser;

static int fail(parser *ps, int rc, const char *fmt, ...)
{
    if (ps->msg && ps->msg_size) {
        int k = snprintf(ps->msg, ps->msg_size, "line %d: ", ps->line);
        if (k >= 0 && (size_t)k < ps->msg_size) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->msg + k, ps->msg_size - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return rc;
}

/* Next non-blank line into ps->buf, trimmed; 0 at the end of the input,
 * -1 when a line is too long. */
static int next_line(parser *ps)
{
    while (ps->p < ps->end) {
        const char *nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
        const char *stop = nl ? nl : ps->end;
        ps->line++;
        while (ps->p < stop && isspace((unsigned char)*ps->p))
            ps->p++;
        const char *e = stop;
        while (e > ps->p && isspace((unsigned char)e[-1]))
            e--;
        size_t n = (size_t)(e - ps->p);
        const char *from = ps->p;
        ps->p = nl ? nl + 1 : ps->end;
        if (n == 0)
            continue;
        if (n > MAX_LINE)
            return -1;
        memcpy(ps->buf, from, n);
        ps->buf[n] = '\0';
        if (memchr(ps->buf, '\0', n))
            return -1;
        return 1;
    }
    return 0;
}

static int read_int(char **s, long long lo, long long hi, long long *out)
{
    errno = 0;
    char *e;
    long long x = strtoll(*s, &e, 10);
    if (e == *s || errno || x < lo || x > hi || (*e && !isspace((unsigned char)*e)))
        return 0;
    *s = e;
    *out = x;
    return 1;
}

static int read_coord(char **s, double *out)
{
    errno = 0;
    char *e;
    double x = strtod(*s, &e);
    if (e == *s || errno || !isfinite(x) || fabs(x) > MAX_COORD ||
        (*e && !isspace((unsigned char)*e)))
        return 0;
    *s = e;
    *out = x;
    return 1;
}

static int at_end(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* "KEY : value" → value (NULL when the line is not KEY). */
static char *keyword(char *line, const char *key)
{
    size_t k = strlen(key);
    if (strncmp(line, key, k) != 0)
        return NULL;
    char *v = line + k;
    if (*v && !isspace((unsigned char)*v) && *v != ':')
        return NULL;
    while (isspace((unsigned char)*v))
        v++;
    if (*v == ':')
        v++;
    while (isspace((unsigned char)*v))
        v++;
    return v;
}

typedef struct raw {
    long long dim, cap, depot;
    double *x, *y;
    long long *demand;
    char *has_xy, *has_q;
} raw;

static int coord_section(parser *ps, raw *r)
{
    for (long long k = 0; k < r->dim; k++) {
        int got = next_line(ps);
        if (got <= 0)
            return fail(ps, LM_EMALFORMED, got ? "line too long" : "NODE_COORD_SECTION cut short");
        char *s = ps->buf;
        long long id;
        double x, y;
        if (!read_int(&s, 1, r->dim, &id) || !read_coord(&s, &x) || !read_coord(&s, &y) ||
            !at_end(s))
            return fail(ps, LM_EMALFORMED, "want \"id x y\" with id in 1..%lld", r->dim);
        if (r->has_xy[id - 1])
            return fail(ps, LM_EMALFORMED, "node %lld has coordinates twice", id);
        r->has_xy[id - 1] = 1;
        r->x[id - 1] = x;
        r->y[id - 1] = y;
    }
    return LM_OK;
}

static int demand_section(parser *ps, raw *r)
{
    for (long long k = 0; k < r->dim; k++) {
        int got = next_line(ps);
        if (got <= 0)
            return fail(ps, LM_EMALFORMED, got ? "line too long" : "DEMAND_SECTION cut short");
        char *s = ps->buf;
        long long id, q;
        if (!read_int(&s, 1, r->dim, &id) || !read_int(&s, 0, MAX_QTY, &q) || !at_end(s))
            return fail(ps, LM_EMALFORMED, "want \"id demand\" with id in 1..%lld", r->dim);
        if (r->has_q[id - 1])
            return fail(ps, LM_EMALFORMED, "node %lld has a demand twice", id);
        r->has_q[id - 1] = 1;
        r->demand[id - 1] = q;
    }
    return LM_OK;
}

static int depot_section(parser *ps, raw *r)
{
    for (;;) {
        int got = next_line(ps);
        if (got <= 0)
            return fail(ps, LM_EMALFORMED, got ? "line too long" : "DEPOT_SECTION has no -1");
        char *s = ps->buf;
        long long id;
        if (!read_int(&s, -1, r->dim, &id) || id == 0 || !at_end(s))
            return fail(ps, LM_EMALFORMED, "want a depot id in 1..%lld or -1", r->dim);
        if (id == -1)
            return r->depot ? LM_OK : fail(ps, LM_EMALFORMED, "no depot");
        if (r->depot)
            return fail(ps, LM_EMALFORMED, "more than one depot");
        r->depot = id;
    }
}

static int allocate(parser *ps, raw *r)
{
    size_t n = (size_t)r->dim;
    r->x = lm_calloc(n, sizeof *r->x);
    r->y = lm_calloc(n, sizeof *r->y);
    r->demand = lm_calloc(n, sizeof *r->demand);
    r->has_xy = lm_calloc(n, 1);
    r->has_q = lm_calloc(n, 1);
    if (!r->x || !r->y || !r->demand || !r->has_xy || !r->has_q)
        return fail(ps, LM_ENOMEM, "out of memory");
    return LM_OK;
}

static void raw_close(raw *r)
{
    lm_free(r->x);
    lm_free(r->y);
    lm_free(r->demand);
    lm_free(r->has_xy);
    lm_free(r->has_q);
}

/* Reads keyword lines and sections into r. */
static int parse_raw(parser *ps, raw *r, char *name, size_t name_size)
{
    int got, rc;
    while ((got = next_line(ps)) > 0) {
        char *v, *line = ps->buf;
        if ((v = keyword(line, "EOF")) && !*v)
            break;
        if ((v = keyword(line, "NAME"))) {
            size_t k = strlen(v) < name_size - 1 ? strlen(v) : name_size - 1;
            memcpy(name, v, k); /* a longer name is cut */
            name[k] = '\0';
        } else if (keyword(line, "COMMENT")) {
            continue;
        } else if ((v = keyword(line, "TYPE"))) {
            if (strcmp(v, "CVRP") != 0)
                return fail(ps, LM_EMALFORMED, "TYPE %s is not CVRP", v);
        } else if ((v = keyword(line, "EDGE_WEIGHT_TYPE"))) {
            if (strcmp(v, "EUC_2D") != 0)
                return fail(ps, LM_EMALFORMED, "EDGE_WEIGHT_TYPE %s is not EUC_2D", v);
        } else if ((v = keyword(line, "DIMENSION"))) {
            if (r->dim)
                return fail(ps, LM_EMALFORMED, "DIMENSION twice");
            if (!read_int(&v, 1, LLONG_MAX, &r->dim) || !at_end(v))
                return fail(ps, LM_EMALFORMED, "DIMENSION must be a whole number >= 1");
            if (r->dim > MAX_NODES)
                return fail(ps, LM_ETOOBIG, "DIMENSION over %d", MAX_NODES);
            if ((rc = allocate(ps, r)) != LM_OK)
                return rc;
        } else if ((v = keyword(line, "CAPACITY"))) {
            if (!read_int(&v, 1, MAX_QTY, &r->cap) || !at_end(v))
                return fail(ps, LM_EMALFORMED, "CAPACITY must be a whole number >= 1");
        } else if (strcmp(line, "NODE_COORD_SECTION") == 0 || strcmp(line, "DEMAND_SECTION") == 0 ||
                   strcmp(line, "DEPOT_SECTION") == 0) {
            if (!r->dim)
                return fail(ps, LM_EMALFORMED, "%s before DIMENSION", line);
            rc = line[1] == 'O'                     ? coord_section(ps, r)
                 : line[1] == 'E' && line[2] == 'M' ? demand_section(ps, r)
                                                    : depot_section(ps, r);
            if (rc != LM_OK)
                return rc;
        } else {
            return fail(ps, LM_EMALFORMED, "unknown line \"%.40s\"", line);
        }
    }
    if (got < 0)
        return fail(ps, LM_EMALFORMED, "line too long");
    if (!r->dim || !r->cap || !r->depot)
        return fail(ps, LM_EMALFORMED, "missing %s",
                    !r->dim   ? "DIMENSION"
                    : !r->cap ? "CAPACITY"
                              : "DEPOT_SECTION");
    for (long long i = 0; i < r->dim; i++) {
        if (!r->has_xy[i] || !r->has_q[i])
            return fail(ps, LM_EMALFORMED, "node %lld has no %s", i + 1,
                        r->has_xy[i] ? "demand" : "coordinates");
    }
    return LM_OK;
}

int lm_vrp_parse(const char *text, size_t len, lm_vrp *out, char *msg, size_t msg_size)
{
    memset(out, 0, sizeof *out);
    parser ps = {.p = text, .end = text + len, .msg = msg, .msg_size = msg_size};
    raw r = {0};
    int rc = parse_raw(&ps, &r, out->name, sizeof out->name);
    if (rc != LM_OK)
        goto fail_raw;
    size_t n = (size_t)r.dim;
    out->id = lm_calloc(n, sizeof *out->id);
    out->x = lm_calloc(n, sizeof *out->x);
    out->y = lm_calloc(n, sizeof *out->y);
    out->demand = lm_calloc(n, sizeof *out->demand);
    if (!out->id || !out->x || !out->y || !out->demand) {
        lm_vrp_clear(out);
        rc = fail(&ps, LM_ENOMEM, "out of memory");
        goto fail_raw;
    }
    out->n = n;
    out->capacity = r.cap;
    size_t k = 0, depot = (size_t)r.depot - 1;
    for (size_t i = 0; i < n; i++) {
        size_t from = i == 0 ? depot : (i - 1 < depot ? i - 1 : i);
        out->id[k] = (int)from + 1;
        out->x[k] = r.x[from];
        out->y[k] = r.y[from];
        out->demand[k++] = i == 0 ? 0 : r.demand[from];
    }
fail_raw:
    raw_close(&r);
    return rc;
}

int64_t lm_vrp_euc2d(const lm_vrp *v, size_t a, size_t b)
{
    double dx = v->x[a] - v->x[b], dy = v->y[a] - v->y[b];
    return (int64_t)(sqrt(dx * dx + dy * dy) + 0.5);
}

int64_t *lm_vrp_matrix(const lm_vrp *v)
{
    int64_t *d = lm_calloc(v->n * v->n, sizeof *d);
    for (size_t a = 0; d && a < v->n; a++) {
        for (size_t b = 0; b < v->n; b++)
            d[a * v->n + b] = lm_vrp_euc2d(v, a, b);
    }
    return d;
}

void lm_vrp_clear(lm_vrp *v)
{
    lm_free(v->id);
    lm_free(v->x);
    lm_free(v->y);
    lm_free(v->demand);
    memset(v, 0, sizeof *v);
}
