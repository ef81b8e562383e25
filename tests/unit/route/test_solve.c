/*
 * test_solve.c — lm_route_solve against exact optima found by brute force
 * (up to 8 customers), with and without a limit on routes and on a route's
 * length, symmetric and not; feasibility of every plan; the same plan for
 * the same seed; a limit on a route's time (not the length minimised);
 * the edge cases (no customer, one, demand over the
 * capacity, identical points, zero demand); bad problems refused; every
 * allocation failure a clean LM_ENOMEM with nothing leaked.
 */
#include "route_test_util.h"

#define INF INT64_MAX

/* Exact optimum with a time limit: every order of every subset (up to 7
 * customers), the time checked per tour; then the same partition. */
static int64_t brute_force_timed(const lm_route_problem *p)
{
    int m = (int)p->n - 1, full = (1 << m) - 1;
    static int64_t tour[1 << 7], best[1 << 7][8];
    for (int s = 1; s <= full; s++) {
        int seq[7], k = 0;
        int64_t load = 0;
        tour[s] = INF;
        for (int j = 0; j < m; j++) {
            if (s & (1 << j)) {
                seq[k++] = j + 1;
                load += p->demand[j + 1];
            }
        }
        if (load > p->capacity)
            continue;
        for (;;) { /* every permutation of seq, in lexicographic order */
            int64_t len = 0, time = 0;
            size_t prev = 0;
            for (int i = 0; i <= k; i++) {
                size_t c = i < k ? (size_t)seq[i] : 0;
                len += p->dist[prev * p->n + c];
                time += p->time[prev * p->n + c];
                prev = c;
            }
            if ((!p->max_route_dist || len <= p->max_route_dist) &&
                (!p->max_route_time || time <= p->max_route_time) && len < tour[s])
                tour[s] = len;
            int i = k - 2;
            while (i >= 0 && seq[i] >= seq[i + 1])
                i--;
            if (i < 0)
                break;
            int j = k - 1;
            while (seq[j] <= seq[i])
                j--;
            int x = seq[i];
            seq[i] = seq[j];
            seq[j] = x;
            for (int a = i + 1, b = k - 1; a < b; a++, b--) {
                x = seq[a];
                seq[a] = seq[b];
                seq[b] = x;
            }
        }
    }
    int kmax = p->max_routes ? (int)p->max_routes : m;
    for (int s = 0; s <= full; s++) {
        for (int k = 0; k <= m; k++)
            best[s][k] = s == 0 ? 0 : INF;
    }
    for (int s = 1; s <= full; s++) {
        int low = s & -s;
        for (int sub = s; sub; sub = (sub - 1) & s) {
            if (!(sub & low) || tour[sub] == INF)
                continue;
            for (int k = 1; k <= m; k++) {
                if (best[s ^ sub][k - 1] != INF && tour[sub] + best[s ^ sub][k - 1] < best[s][k])
                    best[s][k] = tour[sub] + best[s ^ sub][k - 1];
            }
        }
    }
    int64_t opt = INF;
    for (int k = 0; k <= kmax; k++)
        opt = best[full][k] < opt ? best[full][k] : opt;
    return opt;
}

/* Exact optimum by dynamic programming: the shortest closed tour over each
 * subset of customers (Held–Karp, directed), then the best partition of
 * all customers into at most max_routes feasible subsets. */
static int64_t brute_force(const lm_route_problem *p)
{
    int m = (int)p->n - 1, full = (1 << m) - 1;
    static int64_t path[1 << 8][8], tour[1 << 8], best[1 << 8][9];
    if (p->time) /* the time of a route is not what is minimised: by enumeration */
        return brute_force_timed(p);
    for (int s = 0; s <= full; s++) {
        for (int j = 0; j < m; j++)
            path[s][j] = INF;
    }
    for (int j = 0; j < m; j++)
        path[1 << j][j] = p->dist[j + 1];
    for (int s = 1; s <= full; s++) {
        for (int j = 0; j < m; j++) {
            if (!(s & (1 << j)) || path[s][j] == INF)
                continue;
            for (int k = 0; k < m; k++) {
                if (s & (1 << k))
                    continue;
                int64_t c = path[s][j] + p->dist[(size_t)(j + 1) * p->n + (size_t)k + 1];
                if (c < path[s | (1 << k)][k])
                    path[s | (1 << k)][k] = c;
            }
        }
    }
    for (int s = 1; s <= full; s++) {
        int64_t load = 0;
        tour[s] = INF;
        for (int j = 0; j < m; j++)
            load += s & (1 << j) ? p->demand[j + 1] : 0;
        for (int j = 0; j < m && load <= p->capacity; j++) {
            if (path[s][j] == INF)
                continue;
            int64_t c = path[s][j] + p->dist[(size_t)(j + 1) * p->n];
            if (p->max_route_dist && c > p->max_route_dist)
                continue;
            if (c < tour[s])
                tour[s] = c;
        }
    }
    int kmax = p->max_routes ? (int)p->max_routes : m;
    for (int s = 0; s <= full; s++) {
        for (int k = 0; k <= m; k++)
            best[s][k] = s == 0 ? 0 : INF;
    }
    for (int s = 1; s <= full; s++) {
        int low = s & -s; /* the subset holding the lowest customer comes first */
        for (int sub = s; sub; sub = (sub - 1) & s) {
            if (!(sub & low) || tour[sub] == INF)
                continue;
            for (int k = 1; k <= m; k++) {
                if (best[s ^ sub][k - 1] != INF && tour[sub] + best[s ^ sub][k - 1] < best[s][k])
                    best[s][k] = tour[sub] + best[s ^ sub][k - 1];
            }
        }
    }
    int64_t opt = INF;
    for (int k = 0; k <= kmax; k++)
        opt = best[full][k] < opt ? best[full][k] : opt;
    return opt;
}

static void solve_ok(const lm_route_problem *p, uint64_t seed, lm_route_plan *pl)
{
    lm_route_options o = {.seed = seed};
    char msg[128];
    int rc = lm_route_solve(p, &o, pl, msg, sizeof msg);
    CHECK_RC(rc, LM_OK);
    if (rc != LM_OK)
        fprintf(stderr, "  %s\n", msg);
    rt_check_plan(p, pl);
}

static void test_optimum(void)
{
    int missed = 0;
    for (uint32_t seed = 1; seed <= 40; seed++) {
        rt_instance t;
        size_t n = 4 + seed % 6; /* 3..8 customers */
        rt_random(&t, n, seed, 9, 10 + seed % 15);
        if (seed % 4 == 1) /* some with a limit on the number of routes */
            t.p.max_routes = n - 2;
        if (seed % 5 == 2) /* some with a limit on a route's length */
            t.p.max_route_dist = 180;
        if (seed % 7 == 3) { /* some asymmetric: uphill costs more */
            for (size_t a = 0; a < n; a++) {
                for (size_t b = 0; b < n; b++)
                    t.dist[a * n + b] += t.y[b] > t.y[a] ? (int64_t)(t.y[b] - t.y[a]) : 0;
            }
        }
        int64_t opt = brute_force(&t.p);
        lm_route_plan pl;
        lm_route_options o = {.seed = seed};
        int rc = lm_route_solve(&t.p, &o, &pl, NULL, 0);
        if (opt == INF) {
            CHECK_RC(rc, LM_ERANGE);
            continue;
        }
        CHECK_RC(rc, LM_OK);
        rt_check_plan(&t.p, &pl);
        if (pl.cost != opt) {
            missed++;
            fprintf(stderr, "instance %u (%zu customers): cost %lld, optimum %lld\n", seed, n - 1,
                    (long long)pl.cost, (long long)opt);
        }
        lm_route_options cw = {.construct_only = 1};
        lm_route_plan floor;
        if (lm_route_solve(&t.p, &cw, &floor, NULL, 0) == LM_OK) {
            rt_check_plan(&t.p, &floor);
            CHECK(floor.cost >= pl.cost);
        }
        lm_route_plan_clear(&floor);
        lm_route_plan_clear(&pl);
    }
    CHECK_EQ_INT(missed, 0);
}

/* Capacity, max routes and max length hold on instances too big to solve
 * exactly, and a seed gives the same plan twice. */
static void test_feasible_and_deterministic(void)
{
    for (uint32_t seed = 1; seed <= 6; seed++) {
        rt_instance t;
        rt_random(&t, RT_MAX_N, seed * 77, 30, 60);
        t.p.max_route_dist = seed % 2 ? 400 : 0;
        lm_route_plan a, b;
        solve_ok(&t.p, seed, &a);
        solve_ok(&t.p, seed, &b);
        CHECK_EQ_INT(a.cost, b.cost);
        CHECK_EQ_INT(a.n_routes, b.n_routes);
        CHECK_EQ_INT(a.iterations, b.iterations);
        CHECK(a.start[a.n_routes] == b.start[b.n_routes] &&
              memcmp(a.stops, b.stops, a.start[a.n_routes] * sizeof *a.stops) == 0);
        lm_route_plan_clear(&a);
        lm_route_plan_clear(&b);
    }
}

/* A limit on a route's time (driving plus the time at each stop, folded
 * into the matrix): instances where the fastest roads are not the shortest
 * (time = distance x a factor per destination), brute-forced exactly. */
static void test_time_limit(void)
{
    int missed = 0, limited = 0;
    for (uint32_t seed = 1; seed <= 30; seed++) {
        rt_instance t;
        size_t n = 4 + seed % 4; /* 3..6 customers */
        rt_random(&t, n, seed + 100, 9, 20 + seed % 10);
        for (size_t a = 0; a < n; a++) {
            for (size_t b = 0; b < n; b++)
                t.time[a * n + b] = t.dist[a * n + b] * (int64_t)(1 + b % 3) + (b ? 5 : 0);
        }
        int64_t round_max = 0;
        for (size_t c = 1; c < n; c++) {
            int64_t rt = t.time[c] + t.time[c * n];
            round_max = rt > round_max ? rt : round_max;
        }
        t.p.time = t.time;
        t.p.max_route_time = round_max + (int64_t)(seed % 5) * 20; /* every village alone fits */
        int64_t opt = brute_force(&t.p), unlimited;
        t.p.max_route_time = 0;
        unlimited = brute_force(&t.p);
        t.p.max_route_time = round_max + (int64_t)(seed % 5) * 20;
        limited += opt > unlimited;
        lm_route_plan pl;
        lm_route_options o = {.seed = seed};
        CHECK_RC(lm_route_solve(&t.p, &o, &pl, NULL, 0), LM_OK);
        rt_check_plan(&t.p, &pl);
        if (pl.cost != opt) {
            missed++;
            fprintf(stderr, "timed instance %u: cost %lld, optimum %lld\n", seed,
                    (long long)pl.cost, (long long)opt);
            for (size_t r = 0; r < pl.n_routes; r++) {
                for (size_t k = pl.start[r]; k < pl.start[r + 1]; k++)
                    fprintf(stderr, " %zu", pl.stops[k].node);
                fprintf(stderr, " | len %lld time %lld\n", (long long)pl.route_dist[r],
                        (long long)pl.route_time[r]);
            }
        }
        lm_route_plan_clear(&pl);
    }
    CHECK_EQ_INT(missed, 0);
    CHECK(limited >= 5); /* the limit did change the optimum often */

    /* a village whose round trip alone takes too long is refused */
    rt_instance t;
    rt_random(&t, 5, 3, 5, 12);
    for (size_t i = 0; i < 25; i++)
        t.time[i] = t.dist[i];
    t.p.time = t.time;
    t.p.max_route_time = 1;
    lm_route_plan pl;
    char msg[128];
    CHECK_RC(lm_route_solve(&t.p, NULL, &pl, msg, sizeof msg), LM_ERANGE);
    CHECK(strstr(msg, "round trip takes") != NULL);
    t.p.time = NULL; /* a limit without a matrix is a bad problem */
    CHECK_RC(lm_route_solve(&t.p, NULL, &pl, msg, sizeof msg), LM_EINVAL);
}

static void test_edge_cases(void)
{
    lm_route_plan pl;
    int64_t d1[1] = {0}, q1[1] = {0};
    lm_route_problem none = {1, d1, q1, 10, 0, 0, NULL, 0};
    solve_ok(&none, 1, &pl);
    CHECK_EQ_INT(pl.n_routes, 0);
    CHECK_EQ_INT(pl.cost, 0);
    lm_route_plan_clear(&pl);

    int64_t d2[4] = {0, 7, 5, 0}, q2[2] = {0, 4};
    lm_route_problem one = {2, d2, q2, 10, 0, 0, NULL, 0};
    solve_ok(&one, 1, &pl);
    CHECK_EQ_INT(pl.n_routes, 1);
    CHECK_EQ_INT(pl.cost, 12);
    lm_route_plan_clear(&pl);

    /* 25 over a capacity of 10: two full trips and one of 5, which may
     * share its truck with the other customer's 4 */
    int64_t d3[9] = {0, 10, 10, 10, 0, 1, 10, 1, 0}, q3[3] = {0, 25, 4};
    lm_route_problem split = {3, d3, q3, 10, 0, 0, NULL, 0};
    solve_ok(&split, 1, &pl);
    CHECK_EQ_INT(pl.n_routes, 3);
    CHECK_EQ_INT(pl.cost, 20 + 20 + 21);
    lm_route_plan_clear(&pl);
    /* exactly twice the capacity: two full trips, nothing left over */
    q3[1] = 20;
    solve_ok(&split, 1, &pl);
    CHECK_EQ_INT(pl.n_routes, 3);
    lm_route_plan_clear(&pl);
    /* ... and too few vehicles for the full trips */
    split.max_routes = 2;
    char msg[128];
    CHECK_RC(lm_route_solve(&split, NULL, &pl, msg, sizeof msg), LM_ERANGE);
    CHECK(strstr(msg, "needs at least 3 routes") != NULL);

    /* villages with no road between them: one trip each is shortest; a
     * limit on trucks makes them share at a cost */
    int64_t d4[25], q4[5] = {0, 1, 1, 1, 1};
    for (size_t i = 0; i < 25; i++)
        d4[i] = i % 6 == 0 ? 0 : i < 5 || i % 5 == 0 ? 10 : 100;
    lm_route_problem far = {5, d4, q4, 10, 0, 0, NULL, 0};
    solve_ok(&far, 1, &pl);
    CHECK_EQ_INT(pl.cost, 80);
    lm_route_plan_clear(&pl);
    far.max_routes = 2;
    solve_ok(&far, 1, &pl);
    CHECK_EQ_INT(pl.cost, 240);
    lm_route_plan_clear(&pl);
    far.max_routes = 1;
    solve_ok(&far, 1, &pl);
    CHECK_EQ_INT(pl.cost, 320);
    lm_route_plan_clear(&pl);

    /* identical points: every distance 0, one route per capacity's worth */
    rt_instance t;
    rt_random(&t, 9, 5, 5, 12);
    memset(t.dist, 0, sizeof t.dist);
    solve_ok(&t.p, 3, &pl);
    CHECK_EQ_INT(pl.cost, 0);
    lm_route_plan_clear(&pl);

    /* a customer with nothing to load is still visited */
    rt_random(&t, 6, 9, 5, 12);
    t.demand[2] = 0;
    solve_ok(&t.p, 3, &pl);
    lm_route_plan_clear(&pl);
}

static void test_bad_problems(void)
{
    rt_instance t;
    lm_route_plan pl;
    char msg[128];
    rt_random(&t, 6, 4, 5, 12);
    lm_route_problem p = t.p;
    p.n = 0;
    CHECK_RC(lm_route_solve(&p, NULL, &pl, msg, sizeof msg), LM_EINVAL);
    p = t.p;
    p.capacity = 0;
    CHECK_RC(lm_route_solve(&p, NULL, &pl, msg, sizeof msg), LM_EINVAL);
    CHECK(strstr(msg, "capacity") != NULL);
    p = t.p;
    t.demand[3] = -1;
    CHECK_RC(lm_route_solve(&p, NULL, &pl, msg, sizeof msg), LM_EINVAL);
    t.demand[3] = 2;
    t.dist[7] = -4;
    CHECK_RC(lm_route_solve(&p, NULL, &pl, msg, sizeof msg), LM_EINVAL);
    rt_random(&t, 6, 4, 5, 12);
    p = t.p;
    p.capacity = 1;
    t.demand[1] = LM_ROUTE_MAX_TRIPS + 1;
    CHECK_RC(lm_route_solve(&p, NULL, &pl, msg, sizeof msg), LM_EINVAL);
    rt_random(&t, 6, 4, 5, 12);
    p = t.p;
    p.max_route_dist = 1; /* shorter than any round trip */
    CHECK_RC(lm_route_solve(&p, NULL, &pl, msg, sizeof msg), LM_ERANGE);
    CHECK(strstr(msg, "round trip") != NULL);
    p = t.p;
    p.max_routes = 1; /* 5 customers, demands up to 5, capacity 12 */
    int64_t total = 0;
    for (size_t i = 1; i < 6; i++)
        total += t.demand[i];
    if (total > 12) {
        CHECK_RC(lm_route_solve(&p, NULL, &pl, msg, sizeof msg), LM_ERANGE);
        CHECK(strstr(msg, "needs") != NULL);
    }
    CHECK_EQ_INT(pl.n_routes, 0); /* a failed solve leaves a zeroed plan */
}

static void test_allocation_failures(void)
{
    rt_instance t;
    rt_random(&t, 10, 8, 9, 20);
    t.demand[4] = 50; /* full trips too */
    lm_route_options o = {.seed = 2, .iterations = 50};
    for (long long k = 1;; k++) {
        lm_route_plan pl;
        lm_test_heap_install(k);
        int rc = lm_route_solve(&t.p, &o, &pl, NULL, 0);
        int failed = lm_test_heap_state.failed;
        if (rc == LM_OK)
            lm_route_plan_clear(&pl);
        lm_test_heap_check_clean("lm_route_solve");
        CHECK(rc == (failed ? LM_ENOMEM : LM_OK));
        if (!failed)
            break;
    }
}

int main(void)
{
    test_optimum();
    test_feasible_and_deterministic();
    test_time_limit();
    test_edge_cases();
    test_bad_problems();
    test_allocation_failures();
    return lm_test_done("route_solve");
}
