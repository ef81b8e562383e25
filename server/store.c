/*
 * store.c — SQLite work off the loop: a reader pool and one FIFO writer
 * (see store.h for the happy path and failure modes).
 *
 * Why a loop-side write queue rather than a mutex around the writer: a
 * worker thread blocked on a mutex is a thread-pool slot the readers cannot
 * use; with the queue at most one pool thread ever holds write work.
 * Readers do block on the pool's condition variable when every reader is
 * lent out, but there are as many readers as pool threads (see serve.c),
 * so that wait is momentary.
 */
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "log.h"
#include "srvdb.h"

#define MAX_READERS 64
/* Reads run in deferred (snapshot) transactions and do not wait for the
 * writer, except the rare read that finds plain-SQL captures to stamp and
 * takes the write lock for that. The writer itself can wait on a
 * checkpoint. Workers waiting do not block the loop, so wait long rather
 * than fail a sync. */
#define STORE_BUSY_TIMEOUT_MS 30000

/* Checkpoints run on their own connection on the pool, not on the writer:
 * SQLite's automatic checkpoint (at 1,000 WAL pages, inside the commit
 * that crosses it) made batches wait for the copy into the database and
 * its fsync — a quarter of the writer's time on a 100,000-record push,
 * whose random keys leave a page per row dirty. One starts once a write
 * leaves ckpt_pages in the WAL and none is running; the next batches
 * commit while it copies. CKPT_FORCE times that bounds the WAL should the
 * background ones fall behind: the writer then checkpoints inside its
 * commit, as SQLite would. */
#define CKPT_DEFAULT_PAGES 1000
#define CKPT_FORCE 4

struct lm_store {
    uv_loop_t *loop;
    lm_replica *writer;
    lm_store_job *wq_head, *wq_tail; /* writes waiting their turn */
    int writing;                     /* a write job is on the pool */
    uv_mutex_t mu;
    uv_cond_t cv;
    lm_replica *readers[MAX_READERS];
    int reader_busy[MAX_READERS];
    unsigned n_readers;

    lm_replica *checkpointer; /* used by the checkpoint job only */
    uv_work_t ckpt_work;
    int ckpt_running;
    int ckpt_pages; /* start a checkpoint from this WAL size */
    int wal_pages;  /* WAL size after the writer's last commit (writer thread) */
    int forcing;    /* the writer is checkpointing itself (writer thread) */
    int ckpt_log, ckpt_done, ckpt_rc;
    uint64_t ckpt_ms;
};

/* The writer's commit hook (writer thread): notes the WAL size for
 * after_work_cb; checkpoints inline only past CKPT_FORCE x ckpt_pages. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    lm_store *s = arg;
    s->wal_pages = pages;
    if (pages < CKPT_FORCE * s->ckpt_pages) {
        s->forcing = 0;
        return SQLITE_OK;
    }
    if (!s->forcing) /* once per episode: a reader pinning the WAL would repeat it per batch */
        lm_log(LM_LOG_WARN, "WAL at %d pages: checkpointing in the writer", pages);
    s->forcing = 1;
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

int lm__store_open(uv_loop_t *loop, const char *path, unsigned n_readers, int cache_kib,
                   int ckpt_pages, lm_store **out, char *err, size_t err_size)
{
    *out = NULL;
    if (n_readers == 0 || n_readers > MAX_READERS)
        return LM_EINVAL;
    lm_store *s = lm_calloc(1, sizeof *s);
    if (!s)
        return LM_ENOMEM;
    s->loop = loop;
    s->ckpt_pages = ckpt_pages > 0 ? ckpt_pages : CKPT_DEFAULT_PAGES;
    int rc = LM_EIO;
    if (uv_mutex_init(&s->mu) != 0)
        goto fail_mutex;
    if (uv_cond_init(&s->cv) != 0)
        goto fail_cond;
    rc = lm__server_db_open(path, STORE_BUSY_TIMEOUT_MS, cache_kib, &s->writer, err, err_size);
    if (rc != LM_OK)
        goto fail_writer;
    rc = lm__srvdb_ensure_schema(lm_replica_db(s->writer), err, err_size);
    if (rc != LM_OK)
        goto fail_readers;
    rc = lm__server_db_open(path, STORE_BUSY_TIMEOUT_MS, 0, &s->checkpointer, err, err_size);
    if (rc != LM_OK)
        goto fail_readers;
    /* replaces SQLite's automatic checkpoint on this connection */
    sqlite3_wal_hook(lm_replica_db(s->writer), on_wal_commit, s);
    for (; s->n_readers < n_readers; s->n_readers++) {
        rc = lm__server_db_open(path, STORE_BUSY_TIMEOUT_MS, cache_kib, &s->readers[s->n_readers],
                                err, err_size);
        if (rc != LM_OK)
            goto fail_readers;
    }
    *out = s;
    return LM_OK;

fail_readers:
    for (unsigned i = 0; i < s->n_readers; i++)
        lm_replica_close(s->readers[i]);
    lm_replica_close(s->checkpointer);
    lm_replica_close(s->writer);
fail_writer:
    uv_cond_destroy(&s->cv);
fail_cond:
    uv_mutex_destroy(&s->mu);
fail_mutex:
    lm_free(s);
    return rc;
}

void lm__store_close(lm_store *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->n_readers; i++)
        lm_replica_close(s->readers[i]);
    lm_replica_close(s->checkpointer);
    lm_replica_close(s->writer); /* the last connection: checkpoints the rest */
    uv_cond_destroy(&s->cv);
    uv_mutex_destroy(&s->mu);
    lm_free(s);
}

uint64_t lm__store_site(const lm_store *s)
{
    return lm_replica_site(s->writer);
}

/* Worker thread: borrow a replica, run the job, give the replica back. */
static void work_cb(uv_work_t *w)
{
    lm_store_job *job = w->data;
    lm_store *s = job->store;
    if (job->write) {
        job->replica = s->writer; /* only one write job is ever on the pool */
    } else {
        uv_mutex_lock(&s->mu);
        for (;;) {
            for (unsigned i = 0; i < s->n_readers && !job->replica; i++) {
                if (!s->reader_busy[i]) {
                    s->reader_busy[i] = 1;
                    job->replica = s->readers[i];
                }
            }
            if (job->replica)
                break;
            uv_cond_wait(&s->cv, &s->mu);
        }
        uv_mutex_unlock(&s->mu);
    }
    job->run(job, job->replica);
    if (!job->write) {
        uv_mutex_lock(&s->mu);
        for (unsigned i = 0; i < s->n_readers; i++) {
            if (s->readers[i] == job->replica)
                s->reader_busy[i] = 0;
        }
        uv_cond_signal(&s->cv);
        uv_mutex_unlock(&s->mu);
    }
}

static void start_next_write(lm_store *s);

/* Worker thread: copies what the WAL holds into the database, alongside
 * the writer (PASSIVE: it never waits for, nor blocks, a commit). */
static void ckpt_work_cb(uv_work_t *w)
{
    lm_store *s = w->data;
    uint64_t t0 = uv_hrtime();
    s->ckpt_rc = sqlite3_wal_checkpoint_v2(lm_replica_db(s->checkpointer), NULL,
                                           SQLITE_CHECKPOINT_PASSIVE, &s->ckpt_log, &s->ckpt_done);
    s->ckpt_ms = (uv_hrtime() - t0) / 1000000u;
}

static void ckpt_after_cb(uv_work_t *w, int status)
{
    lm_store *s = w->data;
    s->ckpt_running = 0;
    if (status != 0 || (s->ckpt_rc != SQLITE_OK && s->ckpt_rc != SQLITE_BUSY))
        lm_log(LM_LOG_WARN, "checkpoint failed: %s",
               status ? uv_strerror(status) : sqlite3_errstr(s->ckpt_rc));
    else
        lm_log(LM_LOG_DEBUG, "checkpoint: %d of %d WAL pages in %llu ms", s->ckpt_done, s->ckpt_log,
               (unsigned long long)s->ckpt_ms);
}

/* Loop thread, after a write: starts a checkpoint when the WAL has grown
 * and none is running. wal_pages was set on the writer's thread, before
 * after_work_cb (the pool orders the two). */
static void maybe_checkpoint(lm_store *s)
{
    if (s->ckpt_running || s->wal_pages < s->ckpt_pages)
        return;
    s->wal_pages = 0; /* the next commit says how far it grew again */
    s->ckpt_work.data = s;
    if (uv_queue_work(s->loop, &s->ckpt_work, ckpt_work_cb, ckpt_after_cb) == 0)
        s->ckpt_running = 1;
}

/* Loop thread: the job is over; hand the writer to the next batch. */
static void after_work_cb(uv_work_t *w, int status)
{
    lm_store_job *job = w->data;
    lm_store *s = job->store;
    if (job->write) {
        s->writing = 0;
        maybe_checkpoint(s);
        start_next_write(s);
    }
    job->replica = NULL;
    job->done(job, status);
}

/* Puts a job on the libuv pool. */
static void queue(lm_store *s, lm_store_job *job)
{
    job->work.data = job;
    int rc = uv_queue_work(s->loop, &job->work, work_cb, after_work_cb);
    if (rc != 0) {
        /* uv_queue_work only fails for a NULL work_cb; keep the contract
         * that done always runs anyway. */
        lm_log(LM_LOG_ERROR, "uv_queue_work: %s", uv_strerror(rc));
        if (job->write)
            s->writing = 0;
        job->done(job, rc);
    }
}

/* Starts the oldest queued write unless one is already running. */
static void start_next_write(lm_store *s)
{
    if (s->writing || !s->wq_head)
        return;
    lm_store_job *job = s->wq_head;
    s->wq_head = job->next;
    if (!s->wq_head)
        s->wq_tail = NULL;
    job->next = NULL;
    s->writing = 1;
    queue(s, job);
}

void lm__store_submit(lm_store *s, lm_store_job *job, int write)
{
    job->store = s;
    job->write = write;
    job->replica = NULL;
    job->next = NULL;
    if (!write) {
        queue(s, job);
        return;
    }
    if (s->wq_tail)
        s->wq_tail->next = job;
    else
        s->wq_head = job;
    s->wq_tail = job;
    start_next_write(s);
}
