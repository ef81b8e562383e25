/*
 * scenario_day.c — `bench_agents day`: N agents, each with its own replica,
 * sync a day's work to one server at the same moment.
 *
 * Untimed preparation (a few worker threads): each agent's replica is
 * created, its farmers registered and a first sync run (pushes the farmers,
 * pulls the catalog and prices: what `lastmile init` does), then a day of
 * collections with gradings is written locally.
 *
 * Timed: one thread per agent opens its replica, all wait on one barrier,
 * then each runs one full lm_sync_client_run session (its own libuv loop and
 * TCP connection) and takes its own wall time. The figures are the time from
 * the barrier to the last session's end, per-session p50/p99, bytes on the
 * wire summed from the clients' counters, and the server's peak RSS (VmHWM)
 * over the timed phase. Every session must end LM_OK with nothing refused
 * and nothing left pending, otherwise the run fails: figures of a partly
 * failed run would flatter the system.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

#include "agent_day.h"
#include "bench_common.h"

static const char usage[] =
    "usage: bench_agents day --server HOST:PORT --users FILE --dir DIR\n"
    "                        [--collections N] [--farmers N] [--server-pid PID]\n"
    "                        [--prep-threads N] [--concurrency K]\n"
    "                        [--then-concurrency K] [--deadline S] [--label TEXT]\n"
    "\n"
    "FILE has one agent per line: USER KEY_HEX VILLAGE. --concurrency K lets at\n"
    "most K sessions run at a time (default: all at once); per-sync times then\n"
    "exclude the wait for a slot. --then-concurrency K writes a second day on\n"
    "every replica and syncs it again with at most K sessions at a time.\n"
    "A pass still running after S seconds (default 600) is cut: the figures of\n"
    "the finished sessions are printed and the process exits 1.\n";

#define MAX_AGENTS 5000

typedef struct agent {
    char user[72];
    char key[LM_ENROL_TEXT_MAX]; /* the enrolment string (lm1-...) */
    char village[72];
    char path[4096];
    lm_replica *r;
    lm_sync_stats st;
    uint64_t ns;
    int rc;
    int finished; /* under day_run.lock */
} agent;

typedef struct day_run {
    const char *server;
    agent *agents;
    size_t n;
    size_t collections, farmers;
    pthread_mutex_t lock;
    size_t next; /* preparation: next agent to take */
    int failed;
    pthread_barrier_t start;
    /* At most `slots` sessions at a time (0 = all at once). */
    pthread_cond_t freed;
    size_t slots, busy;
    /* Sessions finished in the current pass, signalled on `finished`. */
    pthread_cond_t finished;
    size_t done;
} day_run;

/* Untimed: replica, farmers, first sync, the day's records. */
static int prepare_agent(day_run *d, size_t i)
{
    agent *a = &d->agents[i];
    char *ids = lm_malloc(d->farmers * LM_ID_SIZE);
    lm_replica *r = NULL;
    lm_sync_stats st;
    int rc = LM_ENOMEM;
    if (!ids)
        goto fail_ids;
    if ((rc = lm_bench_replica_fresh(a->path, &r)) != LM_OK)
        goto fail_open;
    if ((rc = lm_bench_farmers(r, a->user, a->village, 1000003u * i + 1, d->farmers, ids)) != LM_OK)
        goto fail_work;
    if ((rc = lm_bench_sync(r, d->server, a->user, a->key, &st, NULL, "prepare")) != LM_OK)
        goto fail_work;
    if (st.refusals) {
        fprintf(stderr, "bench_agents: prepare %s: %llu refusals\n", a->user,
                (unsigned long long)st.refusals);
        rc = LM_EDENIED;
        goto fail_work;
    }
    rc = lm_bench_day(r, a->user, a->village, 7919u * i + 3, ids, d->farmers, d->collections);
    if (rc == LM_OK)
        rc = lm_replica_stamp(r, NULL);
fail_work:
    lm_replica_close(r);
fail_open:
    lm_free(ids);
fail_ids:
    return rc;
}

static void *prepare_worker(void *arg)
{
    day_run *d = arg;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        size_t i = d->next++;
        int stop = d->failed || i >= d->n;
        pthread_mutex_unlock(&d->lock);
        if (stop)
            return NULL;
        if (prepare_agent(d, i) != LM_OK) {
            pthread_mutex_lock(&d->lock);
            d->failed = 1;
            pthread_mutex_unlock(&d->lock);
        }
    }
}

/* Timed: every agent thread syncs once, all released by one barrier. */
static void *sync_worker(void *arg)
{
    void **p = arg;
    day_run *d = p[0];
    agent *a = p[1];
    pthread_barrier_wait(&d->start);
    if (d->slots) {
        pthread_mutex_lock(&d->lock);
        while (d->busy >= d->slots)
            pthread_cond_wait(&d->freed, &d->lock);
        d->busy++;
        pthread_mutex_unlock(&d->lock);
    }
    a->rc = lm_bench_sync(a->r, d->server, a->user, a->key, &a->st, &a->ns, "day");
    pthread_mutex_lock(&d->lock);
    if (d->slots) {
        d->busy--;
        pthread_cond_signal(&d->freed);
    }
    a->finished = 1;
    d->done++;
    pthread_cond_signal(&d->finished);
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static uint64_t percentile(const uint64_t *v, size_t n, double q)
{
    size_t k = (size_t)(q * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    return v[k > n ? n - 1 : k - 1];
}

static int read_users(const char *file, agent **out, size_t *n, const char *dir)
{
    FILE *f = fopen(file, "r");
    char line[512];
    size_t cap = 0;
    agent *v = NULL;
    *n = 0;
    if (!f) {
        fprintf(stderr, "bench_agents: cannot open %s: %s\n", file, strerror(errno));
        return LM_EIO;
    }
    while (fgets(line, sizeof line, f)) {
        if (*n == MAX_AGENTS)
            break;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            agent *nv = lm_realloc(v, nc * sizeof *nv);
            if (!nv) {
                lm_free(v);
                fclose(f);
                return LM_ENOMEM;
            }
            v = nv;
            cap = nc;
        }
        agent *a = &v[*n];
        memset(a, 0, sizeof *a);
        if (sscanf(line, "%71s %255s %71s", a->user, a->key, a->village) != 3)
            continue;
        snprintf(a->path, sizeof a->path, "%s/%s.db", dir, a->user);
        (*n)++;
    }
    fclose(f);
    *out = v;
    return *n ? LM_OK : LM_EINVAL;
}

/* Farmer ids the agent registered (for its second day). Caller frees. */
static int agent_farmers(agent *a, size_t cap, char **ids, size_t *n)
{
    sqlite3 *db = lm_replica_db(a->r);
    sqlite3_stmt *st = NULL;
    *n = 0;
    *ids = lm_malloc(cap * LM_ID_SIZE);
    if (!*ids)
        return LM_ENOMEM;
    if (sqlite3_prepare_v2(db, "SELECT id FROM farmers WHERE created_by = ? ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK) {
        lm_free(*ids);
        *ids = NULL;
        return LM_EDB;
    }
    sqlite3_bind_text(st, 1, a->user, -1, SQLITE_STATIC);
    while (*n < cap && sqlite3_step(st) == SQLITE_ROW)
        snprintf(*ids + (*n)++ * LM_ID_SIZE, LM_ID_SIZE, "%s",
                 (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return LM_OK;
}

/* Untimed: one more day of records on every (open) replica. */
static int write_second_day(day_run *d)
{
    for (size_t i = 0; i < d->n; i++) {
        agent *a = &d->agents[i];
        char *ids;
        size_t n;
        int rc = agent_farmers(a, d->farmers, &ids, &n);
        if (rc == LM_OK)
            rc = lm_bench_day(a->r, a->user, a->village, 104729u * i + 5, ids, n, d->collections);
        lm_free(ids);
        if (rc == LM_OK)
            rc = lm_replica_stamp(a->r, NULL);
        if (rc != LM_OK)
            return rc;
    }
    return LM_OK;
}

/* Timed: every agent syncs once, at most slots at a time (0 = all), all
 * released by one barrier; prints the figures. 0 when every session
 * succeeded with nothing refused or left pending, 1 otherwise. */
static int timed_pass(day_run *d, size_t slots, const char *label, long server_pid, long deadline_s)
{
    int code = 1;
    d->slots = slots;
    d->busy = 0;
    d->done = 0;
    pthread_t *threads = lm_calloc(d->n, sizeof *threads);
    void **args = lm_calloc(d->n * 2, sizeof *args);
    uint64_t *ns = lm_calloc(d->n, sizeof *ns);
    if (!threads || !args || !ns)
        goto fail_alloc;
    if (pthread_barrier_init(&d->start, NULL, (unsigned)d->n + 1) != 0)
        goto fail_alloc;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* 1,000 default 8 MiB stacks would be 8 GiB of address space. */
    pthread_attr_setstacksize(&attr, 1u << 20);
    int reset_ok = server_pid > 0 && lm_bench_vmhwm_reset(server_pid) == 0;
    size_t running = 0;
    for (; running < d->n; running++) {
        args[2 * running] = d;
        args[2 * running + 1] = &d->agents[running];
        if (pthread_create(&threads[running], &attr, sync_worker, &args[2 * running]) != 0)
            break;
    }
    pthread_attr_destroy(&attr);
    if (running < d->n) {
        /* The barrier can never open, and a smaller run would not be the
         * figure asked for: give up loudly. */
        fprintf(stderr, "bench_agents: could only start %zu of %zu threads\n", running, d->n);
        exit(1);
    }
    pthread_barrier_wait(&d->start);
    uint64_t t0 = lm_bench_mono_ns();
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += deadline_s;
    pthread_mutex_lock(&d->lock);
    while (d->done < d->n) {
        if (pthread_cond_timedwait(&d->finished, &d->lock, &until) == ETIMEDOUT)
            break;
    }
    size_t done = d->done;
    for (size_t i = 0; i < d->n; i++)
        if (!d->agents[i].finished)
            d->agents[i].rc = LM_ETIMEDOUT;
    pthread_mutex_unlock(&d->lock);
    uint64_t wall = lm_bench_mono_ns() - t0;
    long rss_kb = server_pid > 0 ? lm_bench_vmhwm_kb(server_pid) : -1;
    int cut = done < d->n;
    if (!cut) {
        for (size_t i = 0; i < d->n; i++)
            pthread_join(threads[i], NULL);
        pthread_barrier_destroy(&d->start);
    }

    uint64_t sent = 0, recv = 0, pushed = 0, pulled = 0, refused = 0, pending = 0;
    int failures = 0;
    size_t nt = 0; /* sessions with a time: all, or the finished ones when cut */
    for (size_t i = 0; i < d->n; i++) {
        agent *a = &d->agents[i];
        uint64_t p = 0;
        if (cut) {
            /* Unfinished sessions still run: read nothing of theirs. */
            pthread_mutex_lock(&d->lock);
            int fin = a->finished;
            pthread_mutex_unlock(&d->lock);
            if (!fin) {
                failures++;
                continue;
            }
        }
        ns[nt++] = a->ns;
        sent += a->st.bytes_sent;
        recv += a->st.bytes_received;
        pushed += a->st.pushed_changes;
        pulled += a->st.pulled_changes;
        refused += a->st.refusals;
        if (a->rc != LM_OK || lm_replica_pending_count(a->r, &p) != LM_OK)
            failures++;
        pending += p;
    }
    if (nt == 0) {
        printf("%s: no session finished within %ld s\n", label, deadline_s);
        printf("RESULT scenario=%s agents=%zu concurrency=%zu collections=%zu total_s=%.3f "
               "finished=0 failures=%zu cut=1\n",
               label, d->n, slots ? slots : d->n, d->collections, (double)wall / 1e9, d->n);
        fflush(stdout);
        _exit(1);
    }
    qsort(ns, nt, sizeof *ns, cmp_u64);
    /* Per record of the sessions counted (all of them unless cut). */
    double records = (double)nt * (double)d->collections * 2.0;
    double p50 = (double)percentile(ns, nt, 0.50) / 1e6;
    double p99 = (double)percentile(ns, nt, 0.99) / 1e6;
    double mx = (double)ns[nt - 1] / 1e6;
    size_t conc = slots ? slots : d->n;
    printf("%s: %zu agents (%zu at a time) x %zu collections + %zu gradings: total %.2f s, per "
           "sync p50 %.1f ms p99 %.1f ms max %.1f ms\n",
           label, d->n, conc, d->collections, d->collections, (double)wall / 1e9, p50, p99, mx);
    printf("%s: wire %llu B sent + %llu B received = %.1f B per record (row), %.1f B per "
           "collection with its grading; changes pushed %llu pulled %llu\n",
           label, (unsigned long long)sent, (unsigned long long)recv,
           (double)(sent + recv) / records, (double)(sent + recv) / (records / 2.0),
           (unsigned long long)pushed, (unsigned long long)pulled);
    printf("%s: server peak RSS %ld kB (%s); %d failed sessions\n", label, rss_kb,
           reset_ok ? "this pass only" : "whole server life: clear_refs refused", failures);
    printf("RESULT scenario=%s agents=%zu concurrency=%zu collections=%zu total_s=%.3f "
           "p50_ms=%.1f p99_ms=%.1f max_ms=%.1f bytes_sent=%llu bytes_received=%llu "
           "bytes_per_record=%.1f bytes_per_collection=%.1f server_vmhwm_kb=%ld vmhwm_reset=%d "
           "failures=%d refusals=%llu pending=%llu pushed=%llu pulled=%llu finished=%zu "
           "cut=%d\n",
           label, d->n, conc, d->collections, (double)wall / 1e9, p50, p99, mx,
           (unsigned long long)sent, (unsigned long long)recv, (double)(sent + recv) / records,
           (double)(sent + recv) / (records / 2.0), rss_kb, reset_ok, failures,
           (unsigned long long)refused, (unsigned long long)pending, (unsigned long long)pushed,
           (unsigned long long)pulled, done, cut);
    fflush(stdout);
    if (cut) {
        /* Sessions still hold their replicas and sockets; they cannot be
         * stopped from outside lm_sync_client_run, so the process ends
         * here with the figures printed. */
        fprintf(stderr, "bench_agents: %s: %zu of %zu sessions unfinished after %ld s\n", label,
                d->n - done, d->n, deadline_s);
        _exit(1);
    }
    if (failures || refused || pending)
        fprintf(stderr, "bench_agents: %s: %d failed sessions, %llu refusals, %llu pending\n",
                label, failures, (unsigned long long)refused, (unsigned long long)pending);
    else
        code = 0;
fail_alloc:
    lm_free(threads);
    lm_free(args);
    lm_free(ns);
    return code;
}

int lm_bench_day_main(int argc, char **argv)
{
    const char *server = NULL, *users = NULL, *dir = NULL, *label = "day";
    long collections = 300, farmers = 50, server_pid = 0, prep = 4, slots = 0, then = -1;
    long deadline = 600;
    for (int i = 0; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--server"))
            server = v;
        else if (!strcmp(k, "--users"))
            users = v;
        else if (!strcmp(k, "--dir"))
            dir = v;
        else if (!strcmp(k, "--label"))
            label = v;
        else if (!strcmp(k, "--collections"))
            collections = strtol(v, NULL, 10);
        else if (!strcmp(k, "--farmers"))
            farmers = strtol(v, NULL, 10);
        else if (!strcmp(k, "--server-pid"))
            server_pid = strtol(v, NULL, 10);
        else if (!strcmp(k, "--prep-threads"))
            prep = strtol(v, NULL, 10);
        else if (!strcmp(k, "--concurrency"))
            slots = strtol(v, NULL, 10);
        else if (!strcmp(k, "--then-concurrency"))
            then = strtol(v, NULL, 10);
        else if (!strcmp(k, "--deadline"))
            deadline = strtol(v, NULL, 10);
        else
            argc = -1;
    }
    if (argc < 0 || argc % 2 || !server || !users || !dir || collections < 1 ||
        collections > 100000 || farmers < 1 || farmers > 10000 || prep < 1 || prep > 64 ||
        slots < 0 || then < -1 || deadline < 1) {
        fputs(usage, stderr);
        return 2;
    }

    day_run d;
    memset(&d, 0, sizeof d);
    d.server = server;
    d.collections = (size_t)collections;
    d.farmers = (size_t)farmers;
    if (read_users(users, &d.agents, &d.n, dir) != LM_OK) {
        fprintf(stderr, "bench_agents: no agents in %s\n", users);
        return 1;
    }
    int code = 1;
    pthread_mutex_init(&d.lock, NULL);
    pthread_cond_init(&d.freed, NULL);
    pthread_cond_init(&d.finished, NULL);

    /* Preparation, untimed. */
    uint64_t t_prep = lm_bench_mono_ns();
    pthread_t workers[64];
    long started = 0;
    for (; started < prep; started++) {
        if (pthread_create(&workers[started], NULL, prepare_worker, &d) != 0)
            break;
    }
    for (long i = 0; i < started; i++)
        pthread_join(workers[i], NULL);
    if (d.failed || started == 0) {
        fprintf(stderr, "bench_agents: preparation failed\n");
        goto fail_prep;
    }
    fprintf(stderr, "%s: prepared %zu agents in %.1f s\n", label, d.n,
            (double)(lm_bench_mono_ns() - t_prep) / 1e9);

    /* Open every replica before the clock starts. */
    size_t opened = 0;
    for (; opened < d.n; opened++) {
        char err[256] = "";
        lm_replica_options o;
        memset(&o, 0, sizeof o);
        o.cache_kib = LM_AGENT_CACHE_KIB;
        if (lm_replica_open(d.agents[opened].path, &o, &d.agents[opened].r, err, sizeof err) !=
            LM_OK) {
            fprintf(stderr, "bench_agents: reopen %s: %s\n", d.agents[opened].path, err);
            goto fail_open;
        }
    }
    code = timed_pass(&d, (size_t)slots, label, server_pid, deadline);
    if (then >= 0) {
        /* A second day on the same replicas, synced with at most `then`
         * sessions at a time: shows the server without the all-at-once
         * burst. Sessions that failed in the first pass resume here. */
        char label2[128];
        snprintf(label2, sizeof label2, "%s_k%ld", label, then);
        if (write_second_day(&d) != LM_OK) {
            code = 1;
            goto fail_open;
        }
        code |= timed_pass(&d, (size_t)then, label2, server_pid, deadline);
    }

fail_open:
    for (size_t i = 0; i < opened; i++)
        lm_replica_close(d.agents[i].r);
fail_prep:
    pthread_cond_destroy(&d.freed);
    pthread_cond_destroy(&d.finished);
    pthread_mutex_destroy(&d.lock);
    lm_free(d.agents);
    return code;
}
