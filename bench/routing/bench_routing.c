/*
 * bench_routing.c — runs the route solver `lastmile route suggest` uses on
 * CVRPLIB instances (TSPLIB CVRP, EUC_2D, rounded edges, any number of
 * routes) and prints one JSON line per instance:
 *
 *   {"name":…, "file":…, "cost":…, "ms":…, "cpu_ms":…, "iterations":…, "time_limited":…,
 *    "routes":[[ids],…], "cw_cost":…, "cw_ms":…, "cw_routes":[[ids],…]}
 *
 * ids are node numbers as in the file, depot excluded, in visiting order;
 * cw_* is Clarke–Wright savings alone (the floor) in the same run, any
 * number of routes. A last
 * line {"summary":…} totals the run. bench/routing/check_routes.py
 * recomputes every cost from the file and checks the routes.
 *
 * Usage: bench_routing [--seed N] [--ms LIMIT] [--iterations N] [--fleet 1]
 *                      FILE.vrp…
 * --ms caps one instance's search (default 1000; 0 = no cap): a run the cap
 * cut short says "time_limited":true and is no longer reproducible.
 * --fleet 1 limits the routes to the N of the instance's name ("-kN"), the
 * fleet its best-known cost was found with, and prints "max_routes".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lm_route.h"

#define MAX_FILE (16u << 20)

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The whole file as a new buffer (lm_free), or NULL with a reason. */
static char *read_file(const char *path, size_t *len, const char **why)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = "cannot open";
        return NULL;
    }
    char *buf = lm_malloc(MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_FILE + 1, f) : 0;
    int bad = !buf || ferror(f) || n > MAX_FILE;
    fclose(f);
    if (bad) {
        *why = !buf ? "out of memory" : n > MAX_FILE ? "over 16 MiB" : "cannot read";
        lm_free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_routes(const lm_vrp *v, const lm_route_plan *pl)
{
    putchar('[');
    for (size_t r = 0; r < pl->n_routes; r++) {
        printf("%s[", r ? "," : "");
        for (size_t k = pl->start[r]; k < pl->start[r + 1]; k++)
            printf("%s%d", k > pl->start[r] ? "," : "", v->id[pl->stops[k].node]);
        putchar(']');
    }
    putchar(']');
}

typedef struct totals {
    int instances, time_limited;
    long long cost, cw_cost;
    double ms, ms_max;
} totals;

static int fleet;

/* N of a name like "P-n16-k8" (0 when there is none). */
static size_t fleet_of(const char *name)
{
    const char *k = strstr(name, "-k");
    return k ? (size_t)strtoul(k + 2, NULL, 10) : 0;
}

static int run(const char *path, const lm_route_options *o, totals *t)
{
    const char *why = NULL;
    char msg[160];
    size_t len;
    char *text = read_file(path, &len, &why);
    if (!text) {
        fprintf(stderr, "bench_routing: %s: %s\n", path, why);
        return -1;
    }
    lm_vrp v;
    int rc = lm_vrp_parse(text, len, &v, msg, sizeof msg);
    lm_free(text);
    if (rc != LM_OK) {
        fprintf(stderr, "bench_routing: %s: %s\n", path, msg);
        return -1;
    }
    int64_t *d = lm_vrp_matrix(&v);
    lm_route_problem p = {v.n, d, v.demand, v.capacity, fleet ? fleet_of(v.name) : 0, 0, NULL, 0};
    lm_route_options cw = *o;
    cw.construct_only = 1;
    lm_route_plan plan = {0}, floor = {0};
    double w0 = clock_ms(CLOCK_MONOTONIC);
    lm_route_problem any_fleet = p; /* savings alone cannot aim at a fleet size */
    any_fleet.max_routes = 0;
    rc = d ? lm_route_solve(&any_fleet, &cw, &floor, msg, sizeof msg) : LM_ENOMEM;
    double w1 = clock_ms(CLOCK_MONOTONIC), c1 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
    if (rc == LM_OK)
        rc = lm_route_solve(&p, o, &plan, msg, sizeof msg);
    double w2 = clock_ms(CLOCK_MONOTONIC), c2 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
    if (rc != LM_OK) {
        fprintf(stderr, "bench_routing: %s: %s\n", path, d ? msg : "out of memory");
    } else {
        printf("{\"name\":");
        print_json_string(v.name[0] ? v.name : path);
        printf(",\"file\":");
        print_json_string(path);
        if (p.max_routes)
            printf(",\"max_routes\":%zu", p.max_routes);
        printf(",\"cost\":%lld,\"ms\":%.1f,\"cpu_ms\":%.1f,\"iterations\":%u,"
               "\"time_limited\":%s,\"routes\":",
               (long long)plan.cost, w2 - w1, c2 - c1, plan.iterations,
               plan.stopped_by_time ? "true" : "false");
        print_routes(&v, &plan);
        printf(",\"cw_cost\":%lld,\"cw_ms\":%.1f,\"cw_routes\":", (long long)floor.cost, w1 - w0);
        print_routes(&v, &floor);
        printf("}\n");
        t->instances++;
        t->time_limited += plan.stopped_by_time;
        t->cost += plan.cost;
        t->cw_cost += floor.cost;
        t->ms += w2 - w1;
        if (w2 - w1 > t->ms_max)
            t->ms_max = w2 - w1;
    }
    lm_route_plan_clear(&plan);
    lm_route_plan_clear(&floor);
    lm_free(d);
    lm_vrp_clear(&v);
    return rc == LM_OK ? 0 : -1;
}

static int number(const char *s, unsigned long long max, unsigned long long *out)
{
    char *e;
    if (!s || *s < '0' || *s > '9')
        return 0;
    *out = strtoull(s, &e, 10);
    return !*e && *out <= max;
}

int main(int argc, char **argv)
{
    lm_route_options o = {.seed = 1, .time_limit_ms = 1000};
    int first = 1, failed = 0;
    for (; first < argc && strncmp(argv[first], "--", 2) == 0; first += 2) {
        unsigned long long x;
        const char *opt = argv[first];
        if (strcmp(opt, "--help") == 0) {
            printf("usage: bench_routing [--seed N] [--ms LIMIT] [--iterations N] [--fleet 1]"
                   " FILE.vrp...\n");
            return 0;
        }
        if (!number(first + 1 < argc ? argv[first + 1] : NULL, UINT32_MAX, &x) ||
            (strcmp(opt, "--seed") != 0 && strcmp(opt, "--ms") != 0 &&
             strcmp(opt, "--iterations") != 0 && strcmp(opt, "--fleet") != 0)) {
            fprintf(stderr, "bench_routing: bad option %s (see --help)\n", opt);
            return 2;
        }
        if (strcmp(opt, "--seed") == 0)
            o.seed = x;
        else if (strcmp(opt, "--ms") == 0)
            o.time_limit_ms = (uint32_t)x;
        else if (strcmp(opt, "--fleet") == 0)
            fleet = x != 0;
        else
            o.iterations = (uint32_t)x;
    }
    if (first == argc) {
        fprintf(stderr, "bench_routing: no instance files (see --help)\n");
        return 2;
    }
    totals t = {0};
    for (int i = first; i < argc; i++)
        failed |= run(argv[i], &o, &t) != 0;
    printf("{\"summary\":{\"instances\":%d,\"cost\":%lld,\"cw_cost\":%lld,\"ms_total\":%.1f,"
           "\"ms_max\":%.1f,\"time_limited\":%d,\"seed\":%llu}}\n",
           t.instances, t.cost, t.cw_cost, t.ms, t.ms_max, t.time_limited,
           (unsigned long long)o.seed);
    return failed ? 1 : 0;
}
