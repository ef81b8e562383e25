/*
 * store.h — the server's SQLite work, off the event loop.
 *
 * Happy path: a session fills a job (an lm_store_job embedded first in its
 * own struct) and submits it. Read jobs (auth lookups, PULL) run on the
 * libuv thread pool, each borrowing one of a fixed pool of reader replicas,
 * so several run in parallel under WAL. Write jobs (PUSH batches, the
 * session log) are queued on the loop and run one at a time on the single
 * writer replica: each batch is one transaction, applied in arrival order.
 * When a job is done its done callback runs on the loop thread.
 *
 * Failure modes: a job's run function reports its own errors in its own
 * struct; done always runs, with status 0. Nothing is ever canceled: on
 * shutdown every submitted batch runs to its commit (the drain) — each
 * session has at most one job, so the queue is bounded by the session
 * count. Opening fails cleanly when the database is missing or locked.
 *
 * Ownership: the store owns its replicas; jobs are owned by the submitter
 * and must stay alive until done runs.
 */
#ifndef LM_SERVER_STORE_H
#define LM_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lm_sync.h"

typedef struct lm_store lm_store;
typedef struct lm_store_job lm_store_job;

/* Runs on a worker thread with a replica nobody else uses meanwhile. */
typedef void (*lm_store_run_fn)(lm_store_job *job, lm_replica *r);
/* Runs on the loop thread after run. */
typedef void (*lm_store_done_fn)(lm_store_job *job, int status);

struct lm_store_job {
    lm_store_run_fn run;
    lm_store_done_fn done;
    /* private */
    uv_work_t work;
    lm_store *store;
    lm_replica *replica;
    lm_store_job *next;
    int write;
};

/* Opens the writer and n_readers reader replicas on path (which must exist:
 * `lastmile-server init` creates it), each with a page cache of cache_kib
 * (0: SQLite's default), and a connection for checkpoints, which start on
 * the pool once a write leaves ckpt_pages in the WAL (0: 1,000). */
int lm__store_open(uv_loop_t *loop, const char *path, unsigned n_readers, int cache_kib,
                   int ckpt_pages, lm_store **out, char *err, size_t err_size);
/* Closes the replicas. Only when no job is queued or running. NULL is fine. */
void lm__store_close(lm_store *s);

uint64_t lm__store_site(const lm_store *s);

/* Queues job (write = 1: on the writer, one at a time, FIFO). */
void lm__store_submit(lm_store *s, lm_store_job *job, int write);

#endif
