/*
 * bench_common.c — PRNG, clocks, fresh replicas, a timed sync, /proc reads.
 */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

uint64_t lm_bench_rng_next(lm_bench_rng *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t lm_bench_rng_below(lm_bench_rng *g, uint64_t n)
{
    return lm_bench_rng_next(g) % n;
}

double lm_bench_rng_unit(lm_bench_rng *g)
{
    return (double)(lm_bench_rng_next(g) >> 11) / 9007199254740992.0;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t lm_bench_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t lm_bench_thread_cpu_ns(void)
{
    return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

uint64_t lm_bench_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

int lm_bench_replica_fresh(const char *path, lm_replica **out)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal", ".key"};
    char name[4096], err[256] = "";
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        if ((size_t)snprintf(name, sizeof name, "%s%s", path, suffix[i]) < sizeof name)
            unlink(name);
    }
    lm_replica_options o;
    memset(&o, 0, sizeof o);
    o.cache_kib = LM_AGENT_CACHE_KIB;
    o.create = 1;
    int rc = lm_replica_open(path, &o, out, err, sizeof err);
    if (rc != LM_OK)
        fprintf(stderr, "bench_agents: cannot create %s: %s\n", path,
                err[0] ? err : lm_strerror(rc));
    return rc;
}

int lm_bench_sync(lm_replica *r, const char *server, const char *user, const char *key_hex,
                  lm_sync_stats *st, uint64_t *ns, const char *what)
{
    lm_sync_config cfg;
    char err[256] = "";
    memset(&cfg, 0, sizeof cfg);
    cfg.server = server;
    cfg.user = user;
    /* A loaded server with 1,000 sessions queued on one writer can stay
     * silent for longer than the interactive default. */
    cfg.connect_timeout_ms = 60000;
    cfg.io_timeout_ms = 300000;

    /* key_hex is the enrolment string: the first sync of a replica makes
     * its device key (DB.key) and spends the token, later ones sign only;
     * TLS pinned to the string's fingerprint, as `lastmile` does it. */
    lm_enrolment e;
    char key_path[4200];
    const char *db_path = sqlite3_db_filename(lm_replica_db(r), "main");
    if (lm_enrol_decode(key_hex, &e) != LM_OK || !db_path ||
        (size_t)snprintf(key_path, sizeof key_path, "%s.key", db_path) >= sizeof key_path) {
        fprintf(stderr, "bench_agents: %s: bad enrolment string for %s\n", what, user);
        return LM_EINVAL;
    }
    memcpy(cfg.pin, e.fingerprint, sizeof cfg.pin);
    cfg.key_path = key_path;
    /* scripts/bench-agents.sh times TLS against --insecure-plaintext */
    const char *plain = getenv("LM_BENCH_PLAINTEXT");
    cfg.insecure_plaintext = plain && strcmp(plain, "1") == 0;
    if (access(key_path, F_OK) != 0) {
        lm_device_key *k = NULL;
        if (lm_device_key_create(key_path, &k, err, sizeof err) != LM_OK) {
            fprintf(stderr, "bench_agents: %s: %s\n", what, err);
            return LM_EIO;
        }
        lm_device_key_free(k);
        cfg.has_token = 1;
        memcpy(cfg.token, e.token, sizeof cfg.token);
    }
    uint64_t t0 = lm_bench_mono_ns();
    int rc = lm_sync_client_run(r, &cfg, st, err, sizeof err);
    if (ns)
        *ns = lm_bench_mono_ns() - t0;
    if (rc != LM_OK)
        fprintf(stderr, "bench_agents: %s: sync of %s failed after %.1f s: %s (%s)\n", what, user,
                (double)(lm_bench_mono_ns() - t0) / 1e9, err, lm_errname(rc));
    return rc;
}

int lm_bench_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return LM_OK;
    fprintf(stderr, "bench_agents: %s: %s\n", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return LM_EDB;
}

long lm_bench_vmhwm_kb(long pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    }
    fclose(f);
    return kb;
}

int lm_bench_vmhwm_reset(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/clear_refs", pid);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}
