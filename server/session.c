/*
 * session.c — one client connection: the protocol state machine
 *
 *   TLS handshake (net/) → HELLO{user, site, public key, signature over
 *   the channel's exporter, enrolment token?} → (auth job) → WELCOME →
 *   { PUSH → (write job)
 *   → PUSH_ACK | PULL → (read job) → CHANGES }* → BYE
 *
 * Happy path: bytes go into the session's frame decoder; each complete
 * frame is decoded and handled; database work is a store job, and while it
 * runs the session stops reading (back-pressure: one request in flight per
 * session), then answers and resumes with any frames already buffered.
 *
 * Failure modes: bad bytes, an oversized frame header, an undecodable
 * payload or a message the state does not expect get ERROR{code, text} and
 * a graceful end: the ERROR is written, the write side shut down, and input
 * is read and discarded until the peer closes or a linger timer fires, so
 * the peer sees the ERROR rather than a reset. A failed login (wrong key
 * or signature, unknown or revoked user, a bad enrolment token:
 * indistinguishable to the peer) is ERROR LM_EAUTH; a site that is not the
 * device's own is LM_EDENIED. A user revoked or rekeyed while its session
 * is open is ended within a poll period (lm__session_auth_changed). A timeout (handshake, idle) is
 * ERROR LM_ETIMEDOUT. A peer that vanishes is closed at once; a job it started still finishes (a
 * batch is one transaction either way) and its answer is dropped.
 */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity.h"
#include "log.h"
#include "server.h"
#include "srvdb.h"

#define LINGER_MS 2000u
#define DEFLATE_MIN 512u
#define PULL_MIN_BUDGET 1024u
/* received_at stamps remembered per session, to leave out of its CHANGES
 * (one per PUSH as a rule; past this many, the rest travel back as before) */
#define ACKED_STAMPS_MAX 4096u
/* HELLO at its largest: a 64-byte user and a 4 KiB client string. */
#define HANDSHAKE_MAX_FRAME (16u * 1024u)

enum state { ST_HELLO, ST_AUTHING, ST_READY };

static const char *const state_names[] = {"HELLO", "HELLO (checking)", "READY"};

struct lm_session {
    lm_server *srv;
    lm_session *prev, *next;
    lm_conn *conn; /* NULL once its on_close ran */
    int reqs;      /* store job */
    int state;
    int job_busy;
    int ending;  /* graceful end begun: input is discarded */
    int closing; /* handles are closing */
    int stop_requested;
    char peer[64];
    char user[LM_MAX_NAME + 1];
    uint64_t site;
    int64_t auth_gen; /* the user's lm_users.auth_gen when it logged in */
    lm_user *u;       /* after WELCOME; owned */
    uint64_t started_ms;
    uint64_t welcomed_ms; /* when WELCOME told the client its scope; 0 before */
    /* the staged next identity WELCOME announced (identity rotate) */
    int announced_next;
    uint8_t next_fp[LM_FINGERPRINT_SIZE];
    uint64_t bytes_in, bytes_out, changes_in, changes_out;
    /* Sync progress for lm_sessions_log: the server seq the client
     * confirmed holding (its PULL cursor; the CHANGES cursor once it says
     * BYE after it). */
    uint64_t pull_cursor, sent_cursor;
    int has_pull_cursor, sent_unconfirmed;
    /* The changes the client said it had queued (HELLO "p") and those of
     * its batches applied since, committed even if it vanished meanwhile. */
    uint64_t pending, push_applied;
    int has_pending;
    /* changes of this session's PUSHes the ledger's rules refused: past
     * max_refusals_per_session the server ends the session */
    uint64_t refused;
    char end_reason[96];
    /* HELLO "f", and the hlcs of the received_at stamps this session's
     * PUSH_ACKs handed a client that applies them (ascending) */
    uint64_t features;
    uint64_t *acked_stamps;
    size_t n_acked_stamps, cap_acked_stamps;
    /* its next PUSH waits for the writer's queue to shrink (lm_server) */
    int parked;
    lm_session *park_next;
    /* Bounds (docs/server.md "Limits"): what lm_server counts it as
     * (COUNT_*), the input buffer it holds for an unfinished frame and
     * since when, and whether it is not read because its replies are not
     * (max_unsent_kib). */
    int counted;
    size_t partial;
    uint64_t partial_since_ms;
    int out_paused;
};

enum { COUNT_NONE, COUNT_PRELOGIN, COUNT_READY };

/* A user whose session ended on refusals (max_refusals_per_session). */
struct lm_penalty {
    struct lm_penalty *next;
    char user[LM_MAX_NAME + 1];
    uint64_t until_ms;
    unsigned strikes;
};

typedef struct auth_job {
    lm_store_job base; /* first: the store hands back &base */
    lm_session *s;
    char user[LM_MAX_NAME + 1];
    uint64_t site, server_site;
    uint8_t pubkey[LM_PUBKEY_SIZE];
    uint8_t sig[LM_SIGNATURE_SIZE];
    uint8_t transcript[LM_HELLO_TRANSCRIPT_MAX];
    size_t transcript_len;
    int has_token;
    uint8_t token_hash[32];
    int write;     /* runs on the writer (enrolment, binding a new site) */
    int need_bind; /* the site is nobody's yet: bind it on the writer */
    int ok;
    int rc;
    char why[128]; /* for the client when !ok */
    lm_user *u;
    uint64_t watermark, digest, head;
    const char *db; /* for the staged next identity; NULL with plaintext (borrowed) */
    uint64_t polls; /* srv->auth_polls when this run was submitted */
    int reruns;
    long test_delay_ms; /* LASTMILE_TEST_AUTH_DELAY_MS: tests widen the race below */
    int has_next;
    uint8_t next_fp[LM_FINGERPRINT_SIZE];
} auth_job;

typedef struct push_job {
    lm_store_job base;
    lm_session *s;
    lm_msg msg;   /* the PUSH, owned */
    size_t bytes; /* its share of lm_server.queued_bytes */
    int rc;
    char err[256];
    lm_apply_result res;
} push_job;

typedef struct pull_job {
    lm_store_job base;
    lm_session *s;
    uint64_t cursor;
    size_t budget;
    int rc;
    char err[256];
    lm_buf frame; /* the CHANGES frame, encoded on the worker */
    uint32_t n_changes;
    uint64_t next_cursor;
} pull_job;

/* One finished session's figures for lm_sessions_log. */
struct lm_log_entry {
    struct lm_log_entry *next;
    char user[LM_MAX_NAME + 1];
    uint64_t site, at_ms, bytes_in, bytes_out, pushed, pulled;
    uint64_t pull_cursor, push_queued;
    int has_pull_cursor, has_push_queued;
    uint64_t welcomed_ms; /* the session told the client its scope then (0: it did not) */
    int announced_next;   /* its WELCOME carried next_fp */
    uint8_t next_fp[LM_FINGERPRINT_SIZE];
};

/* Writes every entry gathered since the last one ran, in one transaction:
 * a thousand agents ending their sessions cost a few commits, not a
 * thousand, in the writer's queue. */
typedef struct log_job {
    lm_store_job base;
    lm_server *srv;
    struct lm_log_entry *entries; /* owned */
} log_job;

static void hard_close(lm_session *s, const char *reason);
static void conn_close_cb(lm_conn *c);
static void end_graceful(lm_session *s, const char *reason);
static void process_frames(lm_session *s);
static void set_counted(lm_session *s, int kind);
static void partial_update(lm_session *s);
static void penalize(lm_session *s);
static void penalty_forgive(lm_session *s);
static int admit(lm_session *s);

/* ----------------------------------------------------------- lifetime */

static void log_run(lm_store_job *job, lm_replica *r)
{
    log_job *j = (log_job *)job;
    sqlite3 *db = lm_replica_db(r);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? LM_OK : LM_EDB;
    for (struct lm_log_entry *e = j->entries; e && rc == LM_OK; e = e->next)
        rc = lm__srvdb_session_log_progress(db, e->user, e->site, e->at_ms, e->bytes_in,
                                            e->bytes_out, e->pushed, e->pulled,
                                            e->has_pull_cursor ? &e->pull_cursor : NULL,
                                            e->has_push_queued ? &e->push_queued : NULL);
    for (struct lm_log_entry *e = j->entries; e && rc == LM_OK; e = e->next)
        if (e->welcomed_ms && (rc = lm__srvdb_user_seen(db, e->user, e->welcomed_ms)) == LM_OK &&
            e->announced_next)
            rc = lm__srvdb_user_next_pin_sent(db, e->user, e->next_fp);
    if (rc == LM_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = LM_EDB;
    if (rc != LM_OK) {
        lm_log(LM_LOG_WARN, "recording last syncs failed: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
}

static void flush_session_log(lm_server *srv);

static void log_done(lm_store_job *job, int status)
{
    log_job *j = (log_job *)job;
    lm_server *srv = j->srv;
    while (j->entries) {
        struct lm_log_entry *e = j->entries;
        j->entries = e->next;
        lm_free(e);
    }
    lm_free(j);
    srv->log_busy = 0;
    flush_session_log(srv);
}

/* Starts a log job for the gathered entries unless one is running (its
 * done callback comes back here). */
static void flush_session_log(lm_server *srv)
{
    if (srv->log_busy || !srv->log_pending)
        return;
    log_job *j = lm_calloc(1, sizeof *j);
    if (!j)
        return; /* retried when the next session ends */
    j->srv = srv;
    j->entries = srv->log_pending;
    srv->log_pending = NULL;
    srv->log_busy = 1;
    j->base.run = log_run;
    j->base.done = log_done;
    lm__store_submit(srv->store, &j->base, 1);
}

void lm__session_log_discard(lm_server *srv)
{
    while (srv->log_pending) {
        struct lm_log_entry *e = srv->log_pending;
        srv->log_pending = e->next;
        lm_log(LM_LOG_WARN, "last sync of %s not recorded", e->user);
        lm_free(e);
    }
}

/* Queues s's figures for lm_sessions_log. */
static void record_session(lm_session *s)
{
    struct lm_log_entry *e = lm_calloc(1, sizeof *e);
    if (!e) {
        lm_log(LM_LOG_WARN, "out of memory recording the last sync of %s", s->user);
        return;
    }
    snprintf(e->user, sizeof e->user, "%s", s->user);
    e->site = s->site;
    e->at_ms = lm__now_ms();
    e->bytes_in = s->bytes_in;
    e->bytes_out = s->bytes_out;
    e->pushed = s->changes_in;
    e->pulled = s->changes_out;
    e->pull_cursor = s->pull_cursor;
    e->has_pull_cursor = s->has_pull_cursor;
    e->has_push_queued = s->has_pending;
    e->push_queued = s->pending > s->push_applied ? s->pending - s->push_applied : 0;
    e->welcomed_ms = s->welcomed_ms;
    e->announced_next = s->announced_next;
    memcpy(e->next_fp, s->next_fp, sizeof e->next_fp);
    e->next = s->srv->log_pending;
    s->srv->log_pending = e;
    flush_session_log(s->srv);
}

/* Takes s out of the parked FIFO (a session freed while parked). */
static void unpark_remove(lm_server *srv, lm_session *s)
{
    lm_session **p = &srv->parked_head, *prev = NULL;
    while (*p && *p != s) {
        prev = *p;
        p = &(*p)->park_next;
    }
    if (!*p)
        return;
    *p = s->park_next;
    if (srv->parked_tail == s)
        srv->parked_tail = prev;
    s->parked = 0;
    s->park_next = NULL;
}

/* Frees s once nothing refers to it any more. */
static void maybe_free(lm_session *s)
{
    if (!s->closing || s->conn || s->reqs > 0)
        return;
    lm_server *srv = s->srv;
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    srv->n_sessions--;
    set_counted(s, COUNT_NONE);
    if (s->parked)
        unpark_remove(srv, s);
    if (s->u) {
        /* The "last sync" row is a write like any other: it waits its turn
         * behind the batches, and the loop runs until it is done. */
        record_session(s);
        lm__user_clear(s->u);
        lm_free(s->u);
    }
    lm_free(s->acked_stamps);
    lm_free(s);
}

/* The connection is gone (after hard_close, a graceful end or the peer's
 * end): its byte counts are final. */
static void conn_close_cb(lm_conn *c)
{
    lm_session *s = lm_conn_data(c);
    if (!s->closing)
        hard_close(s, s->end_reason[0] ? s->end_reason : "closed"); /* logs the end */
    s->conn = NULL;
    maybe_free(s);
}

/* Closes the connection now; pending writes are canceled by libuv. */
static void hard_close(lm_session *s, const char *reason)
{
    if (s->closing)
        return;
    s->closing = 1;
    if (!s->end_reason[0])
        snprintf(s->end_reason, sizeof s->end_reason, "%s", reason);
    set_counted(s, COUNT_NONE);
    if (s->conn) {
        s->bytes_in = lm_conn_bytes_in(s->conn);
        s->bytes_out = lm_conn_bytes_out(s->conn);
    }
    uint64_t ms = lm__now_ms() - s->started_ms;
    lm_log(LM_LOG_INFO,
           "session end user=%s site=%016llx peer=%s bytes_in=%llu bytes_out=%llu "
           "changes_in=%llu changes_out=%llu duration_ms=%llu reason=%s",
           s->user[0] ? s->user : "-", (unsigned long long)s->site, s->peer,
           (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out,
           (unsigned long long)s->changes_in, (unsigned long long)s->changes_out,
           (unsigned long long)ms, s->end_reason);
    if (s->conn)
        lm_conn_close(s->conn, 0);
}

/* ------------------------------------------------------------- output */

/* Queues an already framed buffer; takes ownership of *frame (left
 * empty). A failed write ends the session through the connection. */
static int send_frame(lm_session *s, lm_buf *frame)
{
    if (!s->conn || s->closing) {
        lm_buf_close(frame);
        lm_buf_init(frame);
        return LM_ENET;
    }
    return lm_conn_send(s->conn, frame);
}

/* Encodes (deflating from DEFLATE_MIN bytes) and writes m; on failure the
 * session is closed. */
static int send_msg(lm_session *s, const lm_msg *m)
{
    lm_buf frame;
    lm_buf_init(&frame);
    int rc = lm_msg_encode_frame(m, &frame, DEFLATE_MIN, s->srv->cfg.max_frame);
    if (rc != LM_OK) {
        lm_log(LM_LOG_ERROR, "encoding %s for %s: %s", lm_msg_type_name(m->type), s->peer,
               lm_strerror(rc));
        lm_buf_close(&frame);
        hard_close(s, "encode failed");
        return rc;
    }
    return send_frame(s, &frame);
}

/* Sends ERROR{code, text} and ends the session gracefully. */
static void fail_session(lm_session *s, int code, const char *text)
{
    lm_msg m;
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_ERROR;
    m.u.error.code = code;
    m.u.error.message = (char *)text; /* borrowed: the encoder keeps no reference */
    lm_log(code == LM_ETIMEDOUT ? LM_LOG_INFO : LM_LOG_WARN, "session %s user=%s: %s: %s", s->peer,
           s->user[0] ? s->user : "-", lm_errname(code), text);
    snprintf(s->end_reason, sizeof s->end_reason, "%s", lm_errname(code));
    if (send_msg(s, &m) == LM_OK)
        end_graceful(s, lm_errname(code));
}

/* ------------------------------------------------------------ timers */

static void timer_cb(lm_conn *c)
{
    lm_session *s = lm_conn_data(c);
    if (s->closing || s->ending)
        return;
    if (s->job_busy || s->parked) {
        /* The database, not the peer, is slow: wait for the job. */
        lm_conn_timer(c, s->srv->cfg.idle_timeout_ms, timer_cb);
        return;
    }
    fail_session(s, LM_ETIMEDOUT, s->state == ST_READY ? "idle timeout" : "handshake timeout");
}

static void arm_timer(lm_session *s, unsigned ms)
{
    if (s->conn)
        lm_conn_timer(s->conn, ms, timer_cb);
}

/* -------------------------------------------------------------- input */

/* New plaintext in the connection's decoder (or bytes that do not frame). */
static void frames_cb(lm_conn *c, int rc)
{
    lm_session *s = lm_conn_data(c);
    if (s->ending || s->closing)
        return;
    if (rc != LM_OK) {
        fail_session(s, rc, lm_strerror(rc));
        return;
    }
    process_frames(s);
}

/* The transport ended under us: EOF, reset, a bad TLS record or
 * handshake. */
static void end_cb(lm_conn *c, int rc, const char *text)
{
    lm_session *s = lm_conn_data(c);
    if (rc != LM_OK)
        lm_log(LM_LOG_DEBUG, "connection from %s: %s", s->peer, text);
    hard_close(s, rc == LM_OK ? "peer closed" : text);
}

static void drain_cb(lm_conn *c);

static const lm_conn_cbs conn_cbs = {
    .on_frames = frames_cb,
    .on_drain = drain_cb,
    .on_end = end_cb,
    .on_close = conn_close_cb,
};

static void start_reading(lm_session *s)
{
    if (s->conn && !s->closing && !s->out_paused)
        lm_conn_read_start(s->conn);
}

static void stop_reading(lm_session *s)
{
    if (s->conn)
        lm_conn_read_stop(s->conn);
}

/* --------------------------------------------------------- graceful end */

/* Flushes what is queued, half-closes (TLS close_notify first), then
 * discards input until the peer closes (or LINGER_MS) so the last frame
 * is not lost to a reset. */
static void end_graceful(lm_session *s, const char *reason)
{
    if (s->ending || s->closing)
        return;
    s->ending = 1;
    if (!s->end_reason[0])
        snprintf(s->end_reason, sizeof s->end_reason, "%s", reason);
    set_counted(s, COUNT_NONE);
    lm_conn_end(s->conn, LINGER_MS);
}

/* BYE{reason}, then the graceful end. */
static void send_bye_and_end(lm_session *s, const char *reason)
{
    lm_msg m;
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_BYE;
    m.u.bye.reason = (char *)reason; /* borrowed */
    if (send_msg(s, &m) == LM_OK)
        end_graceful(s, reason);
}

/* Shutdown of one session: BYE now, or after its job is answered. */
static void session_stop(lm_session *s)
{
    if (s->ending || s->closing)
        return;
    if (s->job_busy) {
        s->stop_requested = 1; /* answered and ended in the job's done */
        return;
    }
    send_bye_and_end(s, "server shutting down");
}

void lm__session_auth_changed(lm_server *srv, const char *user, int64_t gen)
{
    for (lm_session *s = srv->sessions; s; s = s->next) {
        if (s->u && !s->ending && !s->closing && s->auth_gen < gen && strcmp(s->user, user) == 0)
            fail_session(s, LM_EAUTH, "access revoked or the device rekeyed: session ended");
    }
}

void lm__session_stop_all(lm_server *srv)
{
    /* Safe to walk: stopping a session never frees it synchronously. */
    for (lm_session *s = srv->sessions; s; s = s->next)
        session_stop(s);
}

/* Common tail of every job's done callback: 1 when the session may go on. */
static int job_finished(lm_session *s)
{
    s->job_busy = 0;
    s->reqs--;
    if (s->closing) {
        maybe_free(s);
        return 0;
    }
    return 1;
}

/* After an answer went out: stop if the server is stopping, else continue
 * with buffered frames and more input. */
static void resume(lm_session *s)
{
    if (s->closing || s->ending)
        return;
    if (s->stop_requested || s->srv->stopping) {
        send_bye_and_end(s, "server shutting down");
        return;
    }
    arm_timer(s, s->state == ST_READY ? s->srv->cfg.idle_timeout_ms
                                      : s->srv->cfg.handshake_timeout_ms);
    if (s->conn && lm_conn_queued(s->conn) > (size_t)s->srv->cfg.max_unsent_kib * 1024u) {
        /* its client does not read our replies: read nothing more of it
         * (not even frames already buffered) until they have gone out;
         * drain_cb goes on. The idle timer still runs. */
        s->out_paused = 1;
        s->srv->out_paused_total++;
        stop_reading(s);
        lm_log(LM_LOG_DEBUG, "session %s user=%s: not read, %zu KiB of replies unsent", s->peer,
               s->user, lm_conn_queued(s->conn) >> 10);
        return;
    }
    if (s->partial) /* its unfinished frame waited for us, not for its client */
        s->partial_since_ms = lm__now_ms();
    process_frames(s);
    if (!s->job_busy && !s->ending && !s->parked)
        start_reading(s);
}

/* Every reply has been written to the socket: a session paused on its
 * unsent replies goes on. */
static void drain_cb(lm_conn *c)
{
    lm_session *s = lm_conn_data(c);
    if (!s->out_paused || s->closing || s->ending)
        return;
    s->out_paused = 0;
    resume(s);
}

/* Hands a job to the store; reading pauses until its done callback. */
static void submit(lm_session *s, lm_store_job *job, int write)
{
    s->job_busy = 1;
    s->reqs++;
    stop_reading(s);
    lm__store_submit(s->srv->store, job, write);
}

/* --------------------------------------------------------------- AUTH */

/* Worker: look the user up, check the device's signature over this
 * channel and its site; with an enrolment token, enrol the device first
 * (a write job then). Unknown, revoked, wrong key: one answer, LM_EAUTH. */
static void auth_run(lm_store_job *job, lm_replica *r)
{
    auth_job *j = (auth_job *)job;
    sqlite3 *db = lm_replica_db(r);
    j->u = lm_calloc(1, sizeof *j->u);
    if (!j->u) {
        j->rc = LM_ENOMEM;
        return;
    }
    snprintf(j->why, sizeof j->why, "authentication failed");
    /* possession of the key on this channel, before anything is looked up */
    if (!lm_ed25519_verify(j->pubkey, j->transcript, j->transcript_len, j->sig))
        return;
    if (j->site == j->server_site || j->site == 0) {
        j->rc = LM_EDENIED;
        snprintf(j->why, sizeof j->why, "site %016llx is not a device's site",
                 (unsigned long long)j->site);
        return;
    }
    if (j->has_token) {
        int rc = lm__srvdb_enrol(db, j->user, j->token_hash, j->pubkey, j->site, lm__now_ms(),
                                 j->why, sizeof j->why);
        if (rc == LM_EAUTH || rc == LM_EDENIED) {
            j->rc = rc == LM_EDENIED ? LM_EDENIED : LM_OK;
            return;
        }
        if (rc != LM_OK) {
            j->rc = rc;
            return;
        }
    }
    int rc = lm__srvdb_user_get(db, j->user, j->u);
    if (j->test_delay_ms > 0 && j->reruns == 0) { /* the first look only */
        struct timespec ts = {j->test_delay_ms / 1000, (j->test_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (rc != LM_OK && rc != LM_ENOTFOUND) {
        j->rc = rc;
        return;
    }
    if (rc != LM_OK || j->u->revoked || !j->u->has_pubkey ||
        CRYPTO_memcmp(j->u->pubkey, j->pubkey, LM_PUBKEY_SIZE) != 0)
        return;
    /* A site is its first user's for good: nobody else's HELLO may name
     * it, so nobody else can move its watermark. */
    int bound = 0;
    j->rc = j->write ? lm__srvdb_site_bind(db, j->site, j->user, lm__now_ms(), &bound)
                     : lm__srvdb_site_check(db, j->site, j->user, &bound);
    if (j->rc != LM_OK)
        return;
    if (bound < 0) {
        j->rc = LM_EDENIED;
        snprintf(j->why, sizeof j->why, "site %016llx belongs to another user",
                 (unsigned long long)j->site);
        return;
    }
    if (bound == 0) { /* nobody's yet: bind it on the writer */
        j->need_bind = 1;
        return;
    }
    j->ok = 1;
    j->rc = lm__user_scope_build(j->u);
    if (j->rc == LM_OK)
        j->rc = lm_replica_watermark_digest(r, j->site, &j->watermark, &j->digest);
    if (j->rc == LM_OK)
        j->rc = lm_replica_seq(r, &j->head);
    /* A staged rotation is announced to every device that logs in, inside
     * this channel (which the device's pin authenticated). Read per login,
     * a file of some 600 bytes: `identity rotate` needs no restart. */
    if (j->rc == LM_OK && j->db)
        lm__identity_next(j->db, &j->has_next, j->next_fp);
}

/* Loop: WELCOME on success (the session takes the user record), else
 * ERROR LM_EAUTH — the same answer for every kind of failed login. */
static void auth_done(lm_store_job *job, int status)
{
    auth_job *j = (auth_job *)job;
    lm_session *s = j->s;
    if (!job_finished(s))
        goto out;
    if (j->need_bind && j->rc == LM_OK && !j->write) {
        lm__user_clear(j->u);
        lm_free(j->u);
        j->u = NULL;
        j->need_bind = 0;
        j->write = 1;
        submit(s, &j->base, 1); /* the same job again, on the writer */
        return;
    }
    if (j->rc == LM_EDENIED) {
        fail_session(s, LM_EDENIED, j->why);
        goto out;
    }
    if (j->rc != LM_OK) {
        lm_log(LM_LOG_ERROR, "auth of %s: %s", s->user, lm_strerror(j->rc));
        fail_session(s, j->rc == LM_ENOMEM ? LM_ENOMEM : LM_EDB, "server error during auth");
        goto out;
    }
    if (!j->ok) {
        fail_session(s, LM_EAUTH, j->why);
        goto out;
    }
    /* A revoke / rekey that the auth watch saw while this login was being
     * looked up would end no session (this one was not registered yet):
     * when a poll finished meanwhile, look the user up again before
     * WELCOME. Polls are 250 ms apart and a lookup takes milliseconds, so
     * this is rare and ends. */
    if (s->srv->auth_polls != j->polls && j->reruns < 5) {
        lm__user_clear(j->u);
        lm_free(j->u);
        j->u = NULL;
        j->ok = 0;
        j->has_token = 0; /* enrolled by the first run, if it carried one */
        j->write = 0;
        j->reruns++;
        j->polls = s->srv->auth_polls;
        submit(s, &j->base, 0);
        return;
    }
    if (!admit(s))
        goto out;
    s->auth_gen = j->u->auth_gen;
    s->u = j->u;
    j->u = NULL;
    s->state = ST_READY;
    lm_frame_decoder *dec = lm_conn_decoder(s->conn);
    dec->max_frame = s->srv->cfg.max_frame;
    dec->max_inflated = LM_FRAME_DEFAULT_MAX_INFLATED;
    lm_msg m;
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_WELCOME;
    m.u.welcome.server_time_ms = lm__now_ms();
    m.u.welcome.server_site = lm__store_site(s->srv->store);
    m.u.welcome.push_watermark = j->watermark;
    /* which batch set it: a replica that never sent it is a clone */
    m.u.welcome.push_digest = j->digest;
    m.u.welcome.server_seq = j->head;
    m.u.welcome.role = (char *)lm_role_name(s->u->role); /* borrowed */
    /* the scope, which the client checks entries against and follows when
     * it changes (a list too long for a WELCOME is not sent: the client
     * then does neither) */
    if (s->u->role == LM_ROLE_AGENT && s->u->villages && strlen(s->u->villages) <= LM_MAX_TEXT)
        m.u.welcome.villages = s->u->villages; /* borrowed */
    if (s->u->role == LM_ROLE_DISPATCHER && s->u->county && strlen(s->u->county) <= LM_MAX_TEXT)
        m.u.welcome.county = s->u->county; /* borrowed */
    s->welcomed_ms = lm__now_ms();
    /* config.c bounds it to 64 MiB; clients frame PUSHes within it */
    m.u.welcome.max_frame = (uint32_t)s->srv->cfg.max_frame;
    /* The client may deflate its frames as one stream from its next frame
     * on (inflate state made here at its first piece: about 15 KB with an
     * 8 KiB window, 40 KB with a 32 KiB one). */
    if (s->features & LM_FEATURE_DEFLATE_STREAM) {
        int wide = (s->features & LM_FEATURE_WIDE_WINDOW) && s->srv->cfg.stream_window_kib >= 32;
        m.u.welcome.features |= LM_FEATURE_DEFLATE_STREAM | (wide ? LM_FEATURE_WIDE_WINDOW : 0);
        lm_frame_decoder_accept_stream(dec,
                                       wide ? LM_FRAME_STREAM_WIDE_WBITS : LM_FRAME_STREAM_WBITS);
    }
    /* PUSHes may carry integer deltas (every build that knows the bit
     * decodes them) */
    m.u.welcome.features |= s->features & LM_FEATURE_INT_DELTAS;
    if (j->has_next) {
        m.u.welcome.has_next_identity = 1;
        memcpy(m.u.welcome.next_identity, j->next_fp, sizeof j->next_fp);
        s->announced_next = 1;
        memcpy(s->next_fp, j->next_fp, sizeof s->next_fp);
    }
    lm_log(LM_LOG_DEBUG,
           "session %s: %s %s authenticated, site %016llx watermark %llu features 0x%llx", s->peer,
           lm_role_name(s->u->role), s->user, (unsigned long long)s->site,
           (unsigned long long)j->watermark, (unsigned long long)m.u.welcome.features);
    if (send_msg(s, &m) == LM_OK)
        resume(s);
out:
    if (j->u) {
        lm__user_clear(j->u);
        lm_free(j->u);
    }
    lm_free(j);
}

/* --------------------------------------------------------------- PUSH */

/* What a decoded batch holds on the heap, roughly: the change array, three
 * small strings per change, and text or blob values. */
static size_t batch_heap(const lm_change *c, uint32_t n)
{
    size_t b = (size_t)n * (sizeof *c + 3 * 32);
    for (uint32_t i = 0; i < n; i++) {
        if (c[i].pk)
            b += strlen(c[i].pk);
        if (c[i].value.bytes)
            b += c[i].value.len + 16;
    }
    return b;
}

/* Memory bound: while the decoded batches waiting for (or in) the writer
 * hold max_queued_mib, a session's next PUSH stays in its frame decoder,
 * deflated as it came. An empty queue always takes one, whatever its size. */
static int queue_full(const lm_server *srv)
{
    return srv->queued_bytes > 0 &&
           srv->queued_bytes >= (size_t)srv->cfg.max_queued_mib * 1024u * 1024u;
}

/* Parks s until unpark: no reading (its socket's window fills and its
 * client waits, as for any slow batch); the idle timer waits too. */
static void park(lm_session *s)
{
    lm_server *srv = s->srv;
    stop_reading(s);
    s->parked = 1;
    s->park_next = NULL;
    if (srv->parked_tail)
        srv->parked_tail->park_next = s;
    else
        srv->parked_head = s;
    srv->parked_tail = s;
    srv->parked_total++;
    lm_log(LM_LOG_DEBUG, "session %s user=%s: PUSH waits, %zu KiB of batches queued", s->peer,
           s->user, srv->queued_bytes >> 10);
}

/* After a batch left the queue: parked sessions go on, oldest first, while
 * there is room. */
static void unpark(lm_server *srv)
{
    while (srv->parked_head && !queue_full(srv)) {
        lm_session *s = srv->parked_head;
        srv->parked_head = s->park_next;
        if (!srv->parked_head)
            srv->parked_tail = NULL;
        s->parked = 0;
        s->park_next = NULL;
        if (s->closing || s->ending)
            continue;
        process_frames(s);
        if (!s->job_busy && !s->ending && !s->closing && !s->parked)
            start_reading(s);
    }
}

/* Worker: the batch in one transaction with its watermark; the server
 * stamps received_at. */
static void push_run(lm_store_job *job, lm_replica *r)
{
    push_job *j = (push_job *)job;
    lm_apply_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.writer = &j->s->u->scope;
    if ((ctx.writer_before_until_ms = lm__user_prev_scope_until(j->s->u)))
        ctx.writer_before = &j->s->u->prev_scope;
    ctx.origin_site = j->s->site;
    ctx.origin_upto_seq = j->msg.u.push.upto_seq;
    /* kept with the watermark this batch may move, and sent in WELCOME */
    ctx.origin_digest =
        lm_push_digest(j->msg.u.push.changes, j->msg.u.push.n_changes, j->msg.u.push.upto_seq);
    ctx.received_at_ms = lm__now_ms();
    ctx.ledger_rules = 1;
    ctx.max_ahead_ms = j->s->srv->cfg.max_clock_ahead_ms;
    ctx.refusals_by = j->s->user;
    j->rc = lm_replica_apply(r, j->msg.u.push.changes, j->msg.u.push.n_changes, &ctx, &j->res);
    if (j->rc != LM_OK)
        snprintf(j->err, sizeof j->err, "%s", lm_replica_errmsg(r));
}

/* Remembers a stamp hlc the client was handed, keeping the set sorted
 * (stamps are ticks of the server's clock, so mostly appended). */
static void remember_stamp(lm_session *s, uint64_t hlc)
{
    size_t i = s->n_acked_stamps;
    while (i > 0 && s->acked_stamps[i - 1] >= hlc) {
        if (s->acked_stamps[i - 1] == hlc)
            return;
        i--;
    }
    if (s->n_acked_stamps == s->cap_acked_stamps) {
        size_t cap = s->cap_acked_stamps ? s->cap_acked_stamps * 2 : 16;
        if (cap > ACKED_STAMPS_MAX)
            return;
        uint64_t *v = lm_realloc(s->acked_stamps, cap * sizeof *v);
        if (!v)
            return; /* the stamp travels back in CHANGES instead */
        s->acked_stamps = v;
        s->cap_acked_stamps = cap;
    }
    memmove(&s->acked_stamps[i + 1], &s->acked_stamps[i],
            (s->n_acked_stamps - i) * sizeof *s->acked_stamps);
    s->acked_stamps[i] = hlc;
    s->n_acked_stamps++;
}

/* Loop: PUSH_ACK with the engine's counts and refusals, or ERROR and close
 * when the batch could not be applied (nothing of it committed). */
static void push_done(lm_store_job *job, int status)
{
    push_job *j = (push_job *)job;
    lm_session *s = j->s;
    lm_server *srv = s->srv;
    srv->queued_bytes -= j->bytes;
    if (j->rc == LM_OK)
        s->push_applied += j->msg.u.push.n_changes;
    if (!job_finished(s))
        goto out;
    if (j->rc != LM_OK) {
        lm_log(LM_LOG_ERROR, "PUSH from %s (%u changes): %s: %s", s->user, j->msg.u.push.n_changes,
               lm_errname(j->rc), j->err);
        fail_session(s, j->rc, j->rc == LM_EBUSY ? "server busy, try again" : j->err);
        goto out;
    }
    s->changes_in += j->msg.u.push.n_changes;
    lm_msg m;
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_PUSH_ACK;
    m.u.push_ack.upto_seq = j->msg.u.push.upto_seq;
    m.u.push_ack.applied = j->res.applied;
    m.u.push_ack.conflicts = j->res.conflicts;
    m.u.push_ack.refusals = j->res.refusals; /* borrowed from the result */
    m.u.push_ack.n_refusals = j->res.n_refusals;
    if (s->features & LM_FEATURE_ACK_STAMPS) {
        /* the client writes these itself (or fails the session): they need
         * not come back in this session's CHANGES */
        m.u.push_ack.stamps = j->res.stamps; /* borrowed from the result */
        m.u.push_ack.n_stamps = j->res.n_stamps;
        for (uint32_t i = 0; i < j->res.n_stamps; i++)
            remember_stamp(s, j->res.stamps[i].hlc);
    }
    lm_log(LM_LOG_DEBUG,
           "PUSH from %s upto %llu: %u changes, %u applied, %u no-ops, %u conflicts, "
           "%u refused",
           s->user, (unsigned long long)j->msg.u.push.upto_seq, j->msg.u.push.n_changes,
           j->res.applied, j->res.noops, j->res.conflicts, j->res.n_refusals);
    s->refused += j->res.n_refusals;
    if (send_msg(s, &m) != LM_OK)
        goto out;
    if (s->refused > srv->cfg.max_refusals_per_session) {
        /* a client sending what the ledger refuses, by the thousand: its
         * refusals are kept (PUSH_ACK) but it gets no more of our time */
        char why[96];
        snprintf(why, sizeof why, "%llu changes refused in this session (limit %u)",
                 (unsigned long long)s->refused, srv->cfg.max_refusals_per_session);
        fail_session(s, LM_EDENIED, why);
        penalize(s);
        goto out;
    }
    resume(s);
out:
    lm_apply_result_clear(&j->res);
    lm_msg_clear(&j->msg);
    lm_free(j);
    unpark(srv);
}

/* --------------------------------------------------------------- PULL */

/* Worker: read the scope's changes and encode (and deflate) the CHANGES
 * frame here, off the loop. It reads the session's scope and acked stamps
 * in place: the session handles no other frame while its job runs. A batch
 * that will not fit a frame is retried with half the budget. */
static void pull_run(lm_store_job *job, lm_replica *r)
{
    pull_job *j = (pull_job *)job;
    lm_session *s = j->s;
    size_t budget = j->budget;
    for (int attempt = 0; attempt < 8; attempt++) {
        lm_msg m;
        memset(&m, 0, sizeof m);
        m.type = LM_MSG_CHANGES;
        int more = 0;
        j->rc = lm_replica_changes_since_except(
            r, j->cursor, &s->u->scope, s->site, s->acked_stamps, s->n_acked_stamps, budget,
            &m.u.changes.changes, &m.u.changes.n_changes, &m.u.changes.next_cursor, &more);
        if (j->rc != LM_OK) {
            snprintf(j->err, sizeof j->err, "%s", lm_replica_errmsg(r));
            return;
        }
        m.u.changes.more = more ? 1 : 0;
        m.u.changes.int_deltas = (s->features & LM_FEATURE_INT_DELTAS) != 0;
        lm_buf_reset(&j->frame);
        j->rc = lm_msg_encode_frame(&m, &j->frame, DEFLATE_MIN, LM_FRAME_DEFAULT_MAX);
        j->n_changes = m.u.changes.n_changes;
        j->next_cursor = m.u.changes.next_cursor;
        lm_msg_clear(&m);
        if (j->rc != LM_ETOOBIG || budget <= PULL_MIN_BUDGET)
            break;
        budget /= 2;
    }
    if (j->rc != LM_OK)
        snprintf(j->err, sizeof j->err, "encoding CHANGES: %s", lm_strerror(j->rc));
}

/* Loop: writes the CHANGES frame the worker encoded, or ERROR and close. */
static void pull_done(lm_store_job *job, int status)
{
    pull_job *j = (pull_job *)job;
    lm_session *s = j->s;
    if (!job_finished(s))
        goto out;
    if (j->rc != LM_OK) {
        lm_log(LM_LOG_ERROR, "PULL for %s from cursor %llu: %s: %s", s->user,
               (unsigned long long)j->cursor, lm_errname(j->rc), j->err);
        fail_session(s, j->rc, j->rc == LM_EBUSY ? "server busy, try again" : j->err);
        goto out;
    }
    s->changes_out += j->n_changes;
    s->sent_cursor = j->next_cursor;
    s->sent_unconfirmed = 1;
    lm_log(LM_LOG_DEBUG, "PULL for %s from cursor %llu: %u changes, %zu bytes", s->user,
           (unsigned long long)j->cursor, j->n_changes, j->frame.len);
    if (send_frame(s, &j->frame) == LM_OK)
        resume(s);
out:
    lm_buf_close(&j->frame);
    lm_free(j);
}

/* ------------------------------------------------------------- frames */

/* HELLO: the signature check, enrolment and lookups go to the pool (a
 * writer when the HELLO enrols a device). */
static void on_hello(lm_session *s, lm_msg *m)
{
    if (m->u.hello.version != LM_PROTOCOL_VERSION) {
        char text[96];
        snprintf(text, sizeof text, "protocol version %u not supported (this server speaks %u)",
                 m->u.hello.version, LM_PROTOCOL_VERSION);
        fail_session(s, LM_EVERSION, text);
        return;
    }
    snprintf(s->user, sizeof s->user, "%s", m->u.hello.user ? m->u.hello.user : "");
    s->site = m->u.hello.site;
    s->has_pending = m->u.hello.has_pending;
    s->pending = m->u.hello.pending;
    s->features = m->u.hello.features;
    auth_job *j = lm_calloc(1, sizeof *j);
    if (!j) {
        fail_session(s, LM_ENOMEM, "out of memory");
        return;
    }
    j->s = s;
    snprintf(j->user, sizeof j->user, "%s", s->user);
    j->site = s->site;
    j->server_site = lm__store_site(s->srv->store);
    memcpy(j->pubkey, m->u.hello.public_key, sizeof j->pubkey);
    memcpy(j->sig, m->u.hello.signature, sizeof j->sig);
    /* The exporter binds the signature to this TLS channel; with
     * --insecure-plaintext it is all zeros and binds nothing. */
    uint8_t exporter[LM_EXPORTER_SIZE];
    lm_conn_exporter(s->conn, LM_HELLO_EXPORTER_LABEL, exporter);
    j->transcript_len = lm_hello_transcript(exporter, s->user, s->site, j->transcript);
    j->db = lm_conn_is_tls(s->conn) ? s->srv->cfg.db : NULL;
    j->polls = s->srv->auth_polls;
    const char *delay = getenv("LASTMILE_TEST_AUTH_DELAY_MS");
    j->test_delay_ms = delay ? strtol(delay, NULL, 10) : 0;
    j->has_token = m->u.hello.has_token;
    if (j->has_token)
        SHA256(m->u.hello.token, sizeof m->u.hello.token, j->token_hash);
    j->base.run = auth_run;
    j->base.done = auth_done;
    s->state = ST_AUTHING;
    j->write = j->has_token;
    submit(s, &j->base, j->write);
}

/* ERROR LM_ETOOBIG for a PUSH of at least n changes, over the limit. */
static void push_too_big(lm_session *s, uint32_t n)
{
    char text[160];
    snprintf(text, sizeof text,
             "PUSH of %u changes or more, over this server's limit of %u changes a PUSH "
             "(max_changes_per_push)",
             n, s->srv->cfg.max_changes_per_push);
    fail_session(s, LM_ETOOBIG, text);
}

/* PUSH: the decoded batch moves into a write job (m is left empty). */
static void on_push(lm_session *s, lm_msg *m)
{
    if (m->u.push.n_changes > s->srv->cfg.max_changes_per_push) {
        push_too_big(s, m->u.push.n_changes);
        return;
    }
    push_job *j = lm_calloc(1, sizeof *j);
    if (!j) {
        fail_session(s, LM_ENOMEM, "out of memory");
        return;
    }
    j->s = s;
    j->msg = *m; /* takes the decoded changes */
    memset(m, 0, sizeof *m);
    j->bytes = batch_heap(j->msg.u.push.changes, j->msg.u.push.n_changes);
    lm_server *srv = s->srv;
    srv->queued_bytes += j->bytes;
    if (srv->queued_bytes > srv->queued_peak)
        srv->queued_peak = srv->queued_bytes;
    j->base.run = push_run;
    j->base.done = push_done;
    submit(s, &j->base, 1);
}

/* PULL: a read job with the client's budget, bounded to fit a frame. */
static void on_pull(lm_session *s, lm_msg *m)
{
    pull_job *j = lm_calloc(1, sizeof *j);
    if (!j) {
        fail_session(s, LM_ENOMEM, "out of memory");
        return;
    }
    /* The budget is the client's (it knows its link) but bounded so the
     * batch fits one frame even before compression. */
    size_t budget = m->u.pull.max_bytes;
    size_t cap = s->srv->cfg.max_frame / 2;
    /* Clients decode with the protocol's default limit: a bigger max_frame
     * lets them push larger batches but must not make CHANGES they refuse. */
    if (cap > LM_FRAME_DEFAULT_MAX / 2)
        cap = LM_FRAME_DEFAULT_MAX / 2;
    if (budget < PULL_MIN_BUDGET)
        budget = PULL_MIN_BUDGET;
    if (budget > cap)
        budget = cap;
    j->s = s;
    j->cursor = m->u.pull.cursor;
    s->pull_cursor = m->u.pull.cursor; /* the client holds everything up to it */
    s->has_pull_cursor = 1;
    s->sent_unconfirmed = 0;
    j->budget = budget;
    lm_buf_init(&j->frame);
    j->base.run = pull_run;
    j->base.done = pull_done;
    submit(s, &j->base, 0);
}

/* Decodes one frame and dispatches on (state, type); anything the state
 * does not expect is ERROR LM_ESTATE. */
static void handle_frame(lm_session *s, const lm_frame *f)
{
    lm_msg m;
    char err[160] = "";
    uint32_t rows;
    if (s->state == ST_READY && f->type == LM_MSG_PUSH &&
        lm_push_rows(f->payload, f->payload_len, &rows) == LM_OK &&
        rows > s->srv->cfg.max_changes_per_push) {
        /* each row is a change or more: refused before the loop pays for
         * decoding it (100,000 changes: most of a second) */
        push_too_big(s, rows);
        return;
    }
    int rc = lm_msg_decode(f->type, f->payload, f->payload_len, &m, err, sizeof err);
    if (rc != LM_OK) {
        fail_session(s, rc, err[0] ? err : lm_strerror(rc));
        return;
    }
    int want = s->state == ST_HELLO ? LM_MSG_HELLO : -1;
    if (m.type == LM_MSG_BYE && s->state != ST_AUTHING) {
        if (s->sent_unconfirmed) { /* a client says BYE once it applied them */
            s->pull_cursor = s->sent_cursor;
            s->has_pull_cursor = 1;
        }
        if (s->u && s->refused <= s->srv->cfg.max_refusals_per_session)
            penalty_forgive(s);
        end_graceful(s, "bye");
    } else if (m.type == LM_MSG_ERROR) {
        lm_log(LM_LOG_INFO, "session %s user=%s: peer sent ERROR %s: %s", s->peer,
               s->user[0] ? s->user : "-", lm_errname(m.u.error.code),
               m.u.error.message ? m.u.error.message : "");
        end_graceful(s, "peer error");
    } else if (want == LM_MSG_HELLO && m.type == want) {
        on_hello(s, &m);
    } else if (s->state == ST_READY && m.type == LM_MSG_PUSH) {
        on_push(s, &m);
    } else if (s->state == ST_READY && m.type == LM_MSG_PULL) {
        on_pull(s, &m);
    } else {
        char text[128];
        snprintf(text, sizeof text, "%s not expected in state %s", lm_msg_type_name(m.type),
                 state_names[s->state]);
        fail_session(s, LM_ESTATE, text);
    }
    lm_msg_clear(&m);
}

/* Handles buffered frames until one starts a job, the session ends, more
 * bytes are needed, or a PUSH must wait for room in the writer's queue. */
static void take_frames(lm_session *s)
{
    while (s->conn && !s->job_busy && !s->ending && !s->closing && !s->parked && !s->out_paused) {
        uint8_t type;
        if (s->state == ST_READY && queue_full(s->srv) &&
            lm_frame_decoder_peek(lm_conn_decoder(s->conn), &type) == 1 && type == LM_MSG_PUSH) {
            park(s);
            return;
        }
        lm_frame f;
        int rc = lm_frame_decoder_next(lm_conn_decoder(s->conn), &f);
        if (rc == 0)
            return;
        if (rc < 0) {
            fail_session(s, rc, lm_strerror(rc));
            return;
        }
        if (s->state == ST_READY)
            arm_timer(s, s->srv->cfg.idle_timeout_ms);
        handle_frame(s, &f);
    }
}

/* take_frames, then the partial-frame budget's account of what is left. */
static void process_frames(lm_session *s)
{
    take_frames(s);
    partial_update(s);
}

/* ------------------------------------------------------------- bounds */

/* Moves s between the pre-login and the logged-in counts (or out). */
static void set_counted(lm_session *s, int kind)
{
    lm_server *srv = s->srv;
    if (s->counted == kind)
        return;
    if (s->counted == COUNT_PRELOGIN)
        srv->n_prelogin--;
    else if (s->counted == COUNT_READY)
        srv->n_ready--;
    if (kind == COUNT_PRELOGIN)
        srv->n_prelogin++;
    else if (kind == COUNT_READY)
        srv->n_ready++;
    s->counted = kind;
    if (kind == COUNT_NONE && s->partial) {
        srv->partial_bytes -= s->partial;
        s->partial = 0;
    }
}

/* A session the partial-frame budget may end: its client, not the server,
 * keeps its frame unfinished. */
static int partial_evictable(const lm_session *s)
{
    return s->partial && !s->job_busy && !s->parked && !s->out_paused && !s->ending &&
           !s->closing && s->conn;
}

/* Past max_partial_mib, the sessions whose unfinished frame began longest
 * ago are ended (ERROR LM_EBUSY) and their buffers freed at once, until
 * the rest fits: a frame held one byte short loses to one that is
 * arriving. */
static void partial_enforce(lm_server *srv)
{
    size_t budget = (size_t)srv->cfg.max_partial_mib << 20;
    while (srv->partial_bytes > budget) {
        lm_session *oldest = NULL;
        for (lm_session *x = srv->sessions; x; x = x->next)
            if (partial_evictable(x) &&
                (!oldest || x->partial_since_ms <= oldest->partial_since_ms))
                oldest = x;
        if (!oldest)
            return;
        srv->partial_evicted++;
        lm_log(LM_LOG_WARN,
               "session %s user=%s: unfinished frame of %zu KiB for %llu ms ended, %zu KiB of "
               "unfinished frames buffered (max_partial_mib %u)",
               oldest->peer, oldest->user[0] ? oldest->user : "-", oldest->partial >> 10,
               (unsigned long long)(lm__now_ms() - oldest->partial_since_ms),
               srv->partial_bytes >> 10, srv->cfg.max_partial_mib);
        lm_conn *c = oldest->conn;
        fail_session(oldest, LM_EBUSY, "server busy: too many unfinished frames, try again");
        set_counted(oldest, COUNT_NONE);
        /* nothing reads this decoder again; the connection's close frees it
         * a second time harmlessly */
        lm_frame_decoder_close(lm_conn_decoder(c));
    }
}

/* Accounts s's input buffer when it holds an unfinished frame. */
static void partial_update(lm_session *s)
{
    lm_server *srv = s->srv;
    size_t held = 0;
    if (s->conn && s->counted != COUNT_NONE && !s->ending && !s->closing) {
        lm_frame_decoder *dec = lm_conn_decoder(s->conn);
        uint8_t type;
        held = lm_frame_decoder_held(dec);
        if (held && lm_frame_decoder_peek(dec, &type) != 0)
            held = 0; /* whole frames, waiting for this session's turn */
    }
    if (held && !s->partial)
        s->partial_since_ms = lm__now_ms();
    srv->partial_bytes = srv->partial_bytes - s->partial + held;
    s->partial = held;
    if (srv->partial_bytes > srv->partial_peak)
        srv->partial_peak = srv->partial_bytes;
    if (held)
        partial_enforce(srv);
}

/* The user's back-off after a session ended on refusals, or NULL. */
static struct lm_penalty *penalty_find(lm_server *srv, const char *user)
{
    for (struct lm_penalty *p = srv->penalties; p; p = p->next)
        if (strcmp(p->user, user) == 0)
            return p;
    return NULL;
}

/* s ended on refusals: its user's next logins wait refusal_backoff_ms,
 * doubled for each such end since its last clean session (at most 1 h). */
static void penalize(lm_session *s)
{
    lm_server *srv = s->srv;
    struct lm_penalty *p = penalty_find(srv, s->user);
    if (!p) {
        p = lm_calloc(1, sizeof *p);
        if (!p)
            return;
        snprintf(p->user, sizeof p->user, "%s", s->user);
        p->next = srv->penalties;
        srv->penalties = p;
    }
    uint64_t wait = srv->cfg.refusal_backoff_ms;
    for (unsigned i = 0; i < p->strikes && wait < 3600000u; i++)
        wait *= 2;
    if (wait > 3600000u)
        wait = 3600000u;
    p->strikes++;
    p->until_ms = lm__now_ms() + wait;
    lm_log(LM_LOG_WARN, "user %s: logins wait %llu ms (refusal flood number %u)", s->user,
           (unsigned long long)wait, p->strikes);
}

/* A clean end (BYE) under the refusal cap forgives the user's past floods
 * once its back-off is over. */
static void penalty_forgive(lm_session *s)
{
    lm_server *srv = s->srv;
    for (struct lm_penalty **pp = &srv->penalties; *pp; pp = &(*pp)->next) {
        struct lm_penalty *p = *pp;
        if (strcmp(p->user, s->user) == 0) {
            if (p->until_ms <= lm__now_ms()) {
                *pp = p->next;
                lm_free(p);
            }
            return;
        }
    }
}

void lm__session_penalties_free(lm_server *srv)
{
    while (srv->penalties) {
        struct lm_penalty *p = srv->penalties;
        srv->penalties = p->next;
        lm_free(p);
    }
}

/* Logged in: the user's back-off, its sessions beyond max_sessions_per_user
 * (the oldest end), the server's max_sessions. 1 when s may go on. */
static int admit(lm_session *s)
{
    lm_server *srv = s->srv;
    struct lm_penalty *p = penalty_find(srv, s->user);
    uint64_t now = lm__now_ms();
    if (p && p->until_ms > now) {
        char text[160];
        snprintf(text, sizeof text,
                 "too many refused changes from this user: logins wait %llu s more",
                 (unsigned long long)((p->until_ms - now + 999) / 1000));
        fail_session(s, LM_EBUSY, text);
        return 0;
    }
    for (;;) {
        unsigned mine = 0;
        lm_session *oldest = NULL;
        for (lm_session *x = srv->sessions; x; x = x->next)
            if (x != s && x->counted == COUNT_READY && strcmp(x->user, s->user) == 0) {
                mine++;
                oldest = x; /* the list is newest first */
            }
        if (mine < srv->cfg.max_sessions_per_user || !oldest)
            break;
        srv->replaced++;
        fail_session(oldest, LM_EBUSY, "a newer session of this user replaced this one");
        set_counted(oldest, COUNT_NONE);
    }
    if (srv->n_ready >= srv->cfg.max_sessions) {
        fail_session(s, LM_EBUSY, "server full, try again later");
        return 0;
    }
    set_counted(s, COUNT_READY);
    return 1;
}

/* ------------------------------------------------------------- accept */

void lm__session_accept(lm_server *srv)
{
    lm_session *s = lm_calloc(1, sizeof *s);
    if (!s) {
        lm_log(LM_LOG_ERROR, "out of memory accepting a connection");
        return;
    }
    s->srv = srv;
    s->started_ms = lm__now_ms();
    snprintf(s->peer, sizeof s->peer, "?");
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    srv->n_sessions++;
    srv->sessions_total++;
    /* Until WELCOME only HELLO is valid, and it is small: a stranger
     * cannot make the server buffer a megabyte per connection. */
    int rc = lm_conn_accept((uv_stream_t *)&srv->listener, srv->tls, &conn_cbs, s,
                            HANDSHAKE_MAX_FRAME, HANDSHAKE_MAX_FRAME, &s->conn);
    if (rc != LM_OK) {
        lm_log(LM_LOG_WARN, "accept: %s", lm_strerror(rc));
        if (s->conn) {
            hard_close(s, "accept failed"); /* freed in conn_close_cb */
        } else {
            s->closing = 1;
            maybe_free(s);
        }
        return;
    }
    snprintf(s->peer, sizeof s->peer, "%s", lm_conn_peer(s->conn));
    lm_log(LM_LOG_DEBUG, "connection from %s (%u open)", s->peer, srv->n_sessions);
    if (srv->stopping) {
        fail_session(s, LM_EBUSY, "server shutting down");
        return;
    }
    if (srv->n_prelogin >= srv->cfg.max_prelogin) {
        /* full of connections that have not logged in: the one waiting
         * longest (not one whose login is being checked) makes room; an
         * agent logs in within a round trip or two, a held socket does not */
        lm_session *oldest = NULL;
        for (lm_session *x = srv->sessions; x; x = x->next)
            if (x->counted == COUNT_PRELOGIN && x->state == ST_HELLO && !x->job_busy)
                oldest = x; /* the list is newest first */
        if (!oldest) {
            fail_session(s, LM_EBUSY, "server busy with logins, try again later");
            return;
        }
        srv->prelogin_evicted++;
        lm_log(LM_LOG_DEBUG, "connection from %s closed: %u not logged in (max_prelogin)",
               oldest->peer, srv->n_prelogin);
        hard_close(oldest, "not logged in, room needed (max_prelogin)");
    }
    set_counted(s, COUNT_PRELOGIN);
    arm_timer(s, srv->cfg.handshake_timeout_ms);
}
