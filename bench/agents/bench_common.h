/*
 * bench_common.h — small pieces the agents benchmark shares between its
 * scenario files: a deterministic PRNG, clocks, opening a fresh replica and
 * running one timed sync session. Benchmark code only; nothing here is part
 * of a library other code links.
 */
#ifndef LM_BENCH_COMMON_H
#define LM_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "lm_sync.h"
#include "sync_client.h"

/* splitmix64: deterministic per seed, so every run generates the same days. */
typedef struct lm_bench_rng {
    uint64_t s;
} lm_bench_rng;

uint64_t lm_bench_rng_next(lm_bench_rng *g);
/* Uniform in [0, n) (n > 0; the tiny modulo bias is irrelevant here). */
uint64_t lm_bench_rng_below(lm_bench_rng *g, uint64_t n);
/* Uniform double in [0, 1). */
double lm_bench_rng_unit(lm_bench_rng *g);

/* CLOCK_MONOTONIC in nanoseconds, for durations. */
uint64_t lm_bench_mono_ns(void);
/* CPU time of the calling thread in nanoseconds (a sync session runs on
 * the thread that calls it). */
uint64_t lm_bench_thread_cpu_ns(void);
/* CLOCK_REALTIME in ms since the epoch, for record times. */
uint64_t lm_bench_wall_ms(void);

/* Creates a new replica at path (any old file with its -wal/-shm is removed
 * first, so every run starts fresh). On failure prints the reason to stderr
 * and returns an LM_E* code with *out NULL. */
int lm_bench_replica_fresh(const char *path, lm_replica **out);

/* One sync session of r against server as user/key_hex (borrowed). Fills *st
 * and, when ns is not NULL, the session's wall time in ns. Returns LM_OK or
 * the session's error after printing it with what (a label) to stderr. */
int lm_bench_sync(lm_replica *r, const char *server, const char *user, const char *key_hex,
                  lm_sync_stats *st, uint64_t *ns, const char *what);

/* Runs sql (no results) on db; LM_OK or LM_EDB after printing the error. */
int lm_bench_exec(sqlite3 *db, const char *sql);

/* Reads "VmHWM:" (peak resident set, kB) of process pid from /proc; -1 when
 * unreadable. */
long lm_bench_vmhwm_kb(long pid);
/* Resets the peak RSS of pid (writes 5 to /proc/pid/clear_refs) so a later
 * VmHWM covers only what follows. Returns 0 on success, -1 when the kernel
 * or permissions refuse (the peak then covers the process's whole life). */
int lm_bench_vmhwm_reset(long pid);

/* Scenario entry points (argv after the scenario name). Each returns a
 * process exit code: 0 success, 1 runtime failure, 2 usage error. */
int lm_bench_villages_main(int argc, char **argv);
int lm_bench_day_main(int argc, char **argv);
int lm_bench_records_main(int argc, char **argv);

#endif
