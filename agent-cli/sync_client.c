/*
 * sync_client.c — the agent's side of a sync session, on a private libuv
 * loop (see sync_client.h).
 *
 * Happy path:
 *   resolve HOST → connect (timer: connect timeout) → TLS 1.3 handshake
 *   (net/: the server must present the pinned certificate) → HELLO{user,
 *   site, public key, Ed25519 signature over the channel's TLS exporter,
 *   user and site; the enrolment token on a new device's first session}
 *   WELCOME     → adopt the server clock and its watermark of our changes
 *     (lm_replica_adopt_watermark); push loop:
 *     local changes after max(push_watermark, acked seq) within the budget,
 *     made durable first with the batch's digest kept (lm_replica_push_mark)
 *     → PUSH → PUSH_ACK → lm_replica_push_acked() → next batch; while
 *     acks are fast, PUSH_DEPTH batches are in flight (the server answers
 *     them in order), so the server merges one while this side reads and
 *     encodes the next; the budget doubles while acks come back within a
 *     second
 *   nothing left → pull loop: PULL{cursor, budget} → CHANGES → lm_replica_apply()
 *     with the cursor in the same transaction → again while "more"
 *   local work appeared meanwhile (another program wrote the replica) → push
 *   again, a bounded number of rounds → BYE → close.
 *
 * Failure modes: connect refused or timed out, the server silent for longer
 * than the I/O timeout, EOF or reset mid-session, a server that does not
 * hold the pinned identity, an ERROR frame (wrong key, used token: LM_EAUTH), a malformed or
 * unexpected frame. Each fails the session with one reason; nothing is rolled back because every
 * completed step committed on its own and the incomplete one never touched the replica.
 *
 * SQLite work runs on the loop thread: the agent has one session and nothing
 * else to serve, so a blocking commit only delays its own next frame.
 */
#include "sync_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "cli.h"
#include "lm_net.h"
#include "lm_text.h"

/* The first PUSH batch, in changes before deflate (about 3 KB on the wire:
 * under a second even at 32 kbit/s). It stays this size while acks are
 * slower than a second, as on 2G or under a burst: from 8 KiB, 1,000 agents
 * at once took 50-61 s at 41-46 B/record, 32 KiB 26-29 s at 28 B/record,
 * and a 2G day at 32 kbit/s 25.5-25.8 s, 18.1 KB -> 18.6-18.8 s, 17.0 KB
 * (docs/benchmarks.md); the price is server memory in such a burst. */
#define BUDGET_START (32u << 10)
/* Pulls start bigger: the budget counts changes before deflate, and what
 * comes back (stamps, catalog rows) deflates 5-10x; every PULL also costs
 * the server a scan of the change log from the cursor. */
#define PULL_BUDGET_START (64u << 10)
#define BUDGET_MAX LM_SYNC_PUSH_BUDGET_MAX
#define FAST_ACK_MS 1000u
#define DEFLATE_MIN 512u
#define MAX_ROUNDS 4
/* PUSH batches in flight. Two let client and server work at once (records
 * push: see docs/benchmarks.md); an unacknowledged batch is simply read
 * and sent again by the next session, so more only adds bytes at risk.
 * The second goes out only while acks come back within PIPELINE_ACK_MS:
 * on a slow link it gains nothing, and since a pipelined batch's ack waits
 * behind the batch before it, the budget stopped doubling there: more,
 * smaller frames (2G link, a day of 300 purchases: 18-20 KB sent with two
 * in flight, 14-15 KB with one; docs/benchmarks.md). */
#define PUSH_DEPTH 2
#define PIPELINE_ACK_MS 200u

enum state {
    S_CONNECTING,
    S_WELCOME,  /* HELLO sent */
    S_PUSH_ACK, /* PUSHes in flight */
    S_CHANGES,  /* PULL in flight */
    S_BYE,      /* BYE queued; done once it is written */
    S_DONE,
};

/* A PUSH sent and not yet acknowledged. */
typedef struct push_batch {
    lm_change *v; /* owned */
    uint32_t n;
    uint64_t upto; /* the PUSH's upto_seq */
    uint64_t sent_at_ms;
} push_batch;

typedef struct client {
    uv_loop_t loop;
    lm_conn *conn; /* NULL before connecting and after its on_close */
    lm_tls *tls;   /* NULL with insecure_plaintext */
    lm_device_key *key;
    int closing;

    lm_replica *r;
    const lm_sync_config *cfg;
    lm_sync_stats *st;
    int state;
    /* HELLO's count of queued changes, taken before connecting: the
     * server's handshake timer should not wait on our database */
    int has_pending;
    uint64_t pending;
    int rc;
    char *err;
    size_t err_size;
    uint64_t started_ms;
    uint64_t last_progress_ms;

    uint64_t push_watermark;
    uint64_t server_site;
    push_batch inflight[PUSH_DEPTH]; /* oldest first */
    int n_inflight;
    int depth;          /* batches allowed in flight now: 1 until an ack is fast */
    uint64_t read_upto; /* the log is read up to here */
    int push_drained;   /* the last read found nothing after read_upto */
    size_t budget;
    /* the budget grows no further than this: BUDGET_MAX, or below the
     * budget whose frame outgrew max_frame (values that do not deflate),
     * so that the next fast ack does not have it read and encoded again */
    size_t budget_max;
    uint32_t max_frame;   /* PUSH frames stay within it: the server's, if smaller */
    lm_frame_deflater *z; /* the session deflate stream, once WELCOME grants it */
    int int_deltas;       /* WELCOME granted LM_FEATURE_INT_DELTAS */
    uint64_t pull_cursor;
    size_t pull_budget;
    uint64_t pulled_at_ms; /* when the PULL in flight was sent */
    int rounds;
    int resumed; /* the TLS session was resumed from a ticket */
} client;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Closes the connection once; the loop then runs out of work and ends. A
 * session that failed resets its connection: a plain close leaves the
 * unsent rest of its PUSHes in the kernel, which keeps delivering them
 * when a cut link comes back, beside the next session's copy of the same
 * batches (seen on the emulated 2G link, docs/benchmarks.md). */
static void shutdown_client(client *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->conn)
        lm_conn_close(c->conn, c->state != S_DONE);
}

/* Fails the session with the first reason given; later ones are echoes of
 * the first (a reset after an ERROR frame, say) and are dropped. */
static void fail(client *c, int rc, const char *fmt, ...)
{
    if (c->rc == LM_OK && c->state != S_DONE) {
        va_list ap;
        c->rc = rc;
        va_start(ap, fmt);
        vsnprintf(c->err, c->err_size, fmt, ap);
        va_end(ap);
    }
    shutdown_client(c);
}

static void timer_cb(lm_conn *conn)
{
    client *c = lm_conn_data(conn);
    if (c->state == S_CONNECTING)
        fail(c, LM_ETIMEDOUT, "cannot connect to %s: timed out", c->cfg->server);
    else
        fail(c, LM_ETIMEDOUT, "the server stopped answering (timed out)");
}

static void arm_timer(client *c, unsigned ms)
{
    if (!c->closing && c->conn)
        lm_conn_timer(c->conn, ms, timer_cb);
}

static unsigned io_timeout(const client *c)
{
    return c->cfg->io_timeout_ms ? c->cfg->io_timeout_ms : 30000u;
}

static void progress(client *c, int final)
{
    if (!c->cfg->progress)
        return;
    uint64_t now = mono_ms();
    if (!final && now - c->last_progress_ms < 200)
        return;
    c->last_progress_ms = now;
    if (c->conn) {
        c->st->bytes_sent = lm_conn_bytes_out(c->conn);
        c->st->bytes_received = lm_conn_bytes_in(c->conn);
    }
    double secs = (double)(now - c->started_ms) / 1000.0;
    double bytes = (double)(c->st->bytes_sent + c->st->bytes_received);
    fprintf(stderr,
            "\rsync: pushed %llu, pulled %llu changes; %llu B sent, %llu B received, %.1f KiB/s ",
            (unsigned long long)c->st->pushed_changes, (unsigned long long)c->st->pulled_changes,
            (unsigned long long)c->st->bytes_sent, (unsigned long long)c->st->bytes_received,
            secs > 0 ? bytes / 1024.0 / secs : 0.0);
    if (final)
        fputc('\n', stderr);
}

/* Everything queued is on the wire: progress (a big batch on a slow link
 * may take longer than the I/O timeout before the server can answer), and
 * after BYE the end. */
static void drain_cb(lm_conn *conn)
{
    client *c = lm_conn_data(conn);
    c->st->bytes_sent = lm_conn_bytes_out(conn);
    arm_timer(c, io_timeout(c));
    if (c->state == S_BYE) {
        c->state = S_DONE;
        shutdown_client(c);
    }
}

/* Queues an encoded frame (taken, left empty). */
static int send_frame(client *c, lm_buf *frame)
{
    int rc = lm_conn_send(c->conn, frame);
    if (rc != LM_OK) {
        fail(c, rc, "connection lost while sending");
        return rc;
    }
    c->st->bytes_sent = lm_conn_bytes_out(c->conn);
    return LM_OK;
}

/* Encodes m as one frame and queues it. */
static int send_msg(client *c, const lm_msg *m)
{
    lm_buf frame;
    lm_buf_init(&frame);
    int rc = lm_msg_encode_frame_z(m, c->z, &frame, DEFLATE_MIN, c->max_frame);
    if (rc != LM_OK) {
        fail(c, rc, "cannot encode %s: %s", lm_msg_type_name(m->type), lm_strerror(rc));
        lm_buf_close(&frame);
        return rc;
    }
    return send_frame(c, &frame);
}

static uint64_t push_after(client *c)
{
    uint64_t acked = 0;
    if (lm_replica_push_acked_seq(c->r, &acked) != LM_OK)
        acked = 0;
    return acked > c->push_watermark ? acked : c->push_watermark;
}

static void start_pull(client *c);

static int same_row(const lm_change *a, const lm_change *b)
{
    return strcmp(a->table, b->table) == 0 && strcmp(a->pk, b->pk) == 0;
}

/* The byte budget may end a batch in the middle of a row's columns. The
 * server checks a new row's scope (agent, village...) on the whole row, so a
 * half row would be refused: extend the batch with the rest of the last
 * row's changes (one INSERT's columns are consecutive in the change log).
 * Bounded by ROW_TAIL_ROUNDS lookups; ownership of the moved changes passes
 * to the batch. */
#define ROW_TAIL_ROUNDS 64
static int complete_last_row(client *c, push_batch *b)
{
    for (int round = 0; round < ROW_TAIL_ROUNDS; round++) {
        lm_change *more = NULL;
        uint32_t m = 0, take = 0;
        uint64_t more_upto = 0;
        int rc = lm_replica_local_changes(c->r, b->upto, 1024, &more, &m, &more_upto);
        if (rc != LM_OK)
            return rc;
        const lm_change *last = &b->v[b->n - 1];
        while (take < m && same_row(&more[take], last))
            take++;
        if (take > 0) {
            lm_change *grown = lm_realloc(b->v, (b->n + take) * sizeof *grown);
            if (!grown) {
                lm_changes_free(more, m);
                return LM_ENOMEM;
            }
            b->v = grown;
            memcpy(&b->v[b->n], more, take * sizeof *more);
            memset(more, 0, take * sizeof *more); /* moved, not freed below */
            b->n += take;
            /* all of it taken: what the read covered (a row entry's
             * reserved seqs too, see lm_replica_local_changes) */
            b->upto = take == m ? more_upto : b->v[b->n - 1].seq;
        }
        lm_changes_free(more, m);
        if (take < m || m == 0)
            return LM_OK;
    }
    return LM_OK;
}

/* 1 when every change of b is of one row (a batch cannot shrink further). */
static int one_row(const push_batch *b)
{
    for (uint32_t i = 1; i < b->n; i++)
        if (!same_row(&b->v[0], &b->v[i]))
            return 0;
    return 1;
}

/* The first change in b whose value is over the protocol's limit, or NULL. */
static const lm_change *oversized_value(const push_batch *b)
{
    for (uint32_t i = 0; i < b->n; i++)
        if ((b->v[i].value.type == LM_VAL_TEXT || b->v[i].value.type == LM_VAL_BLOB) &&
            b->v[i].value.len > LM_MAX_VALUE)
            return &b->v[i];
    return NULL;
}

/* Reads the batch after c->read_upto into b and encodes its PUSH frame
 * into w. A frame over the frame limit (values that do not deflate) is
 * read again with half the budget, down to a single row. A value over the
 * protocol's limit (written with plain SQL: the commands refuse one) or a
 * single row over the frame limit cannot be sent: LM_ETOOBIG, naming the
 * row. b->n == 0: nothing left to read. */
static int read_push_frame(client *c, push_batch *b, lm_buf *frame)
{
    for (;;) {
        int rc = lm_replica_local_changes(c->r, c->read_upto, c->budget, &b->v, &b->n, &b->upto);
        if (rc == LM_OK && b->n > 0)
            rc = complete_last_row(c, b);
        if (rc != LM_OK) {
            fail(c, rc, "cannot read local changes: %s", lm_replica_errmsg(c->r));
            return rc;
        }
        if (b->n == 0)
            return LM_OK;
        lm_msg m;
        memset(&m, 0, sizeof m);
        m.type = LM_MSG_PUSH;
        m.u.push.upto_seq = b->upto;
        m.u.push.changes = b->v; /* borrowed for the encode only */
        m.u.push.n_changes = b->n;
        m.u.push.int_deltas = (uint8_t)c->int_deltas;
        lm_buf_reset(frame);
        rc = lm_msg_encode_frame_z(&m, c->z, frame, DEFLATE_MIN, c->max_frame);
        /* One durable commit before the batch leaves, keeping its digest:
         * the server's watermark will name these changes for good (a
         * counter rolled back under it would give a new purchase a seq the
         * server says it has), and the digest tells a lost ack of this
         * batch from a clone's batch at the next WELCOME. */
        if (rc == LM_OK && (rc = lm_replica_push_mark(c->r, b->v, b->n, b->upto))) {
            fail(c, rc, "cannot make the changes durable before sending them: %s",
                 lm_replica_errmsg(c->r));
            return rc;
        }
        if (rc == LM_OK)
            return LM_OK;
        const lm_change *big = rc == LM_ETOOBIG ? oversized_value(b) : NULL;
        if (big) {
            fail(c, rc, "cannot push %s %s: its %s holds %zu bytes, over the %u a value may hold",
                 big->table, big->pk, big->column, big->value.len, LM_MAX_VALUE);
        } else if (rc == LM_ETOOBIG && !one_row(b) && c->budget > 1) {
            lm_changes_free(b->v, b->n);
            memset(b, 0, sizeof *b);
            c->budget /= 2;
            c->budget_max = c->budget;
            continue;
        } else if (rc == LM_ETOOBIG) {
            fail(c, rc, "cannot push %s %s: the row is larger than a frame may be (%u bytes)",
                 b->v[0].table, b->v[0].pk, c->max_frame);
        } else {
            fail(c, rc, "cannot encode PUSH: %s", lm_strerror(rc));
        }
        return rc;
    }
}

/* Reads and sends batches after read_upto until c->depth are in flight
 * or the log is drained; with none in flight and nothing left, pulls. */
static void fill_pipeline(client *c)
{
    while (c->n_inflight < c->depth && !c->push_drained && c->rc == LM_OK && !c->closing) {
        push_batch *b = &c->inflight[c->n_inflight];
        memset(b, 0, sizeof *b);
        lm_buf frame;
        lm_buf_init(&frame);
        int rc = read_push_frame(c, b, &frame);
        if (rc != LM_OK || b->n == 0) {
            lm_buf_close(&frame);
            lm_changes_free(b->v, b->n);
            memset(b, 0, sizeof *b);
            if (rc != LM_OK)
                return;
            c->push_drained = 1;
            break;
        }
        b->sent_at_ms = mono_ms();
        c->read_upto = b->upto;
        c->n_inflight++;
        c->state = S_PUSH_ACK;
        if (send_frame(c, &frame) != LM_OK)
            return;
    }
    if (c->n_inflight == 0 && c->rc == LM_OK && !c->closing)
        start_pull(c);
}

/* Pushes everything logged after what the server has: starts the pipeline. */
static void start_push(client *c)
{
    c->read_upto = push_after(c);
    c->push_drained = 0;
    fill_pipeline(c);
}

static void finish_batches(client *c)
{
    for (int i = 0; i < c->n_inflight; i++)
        lm_changes_free(c->inflight[i].v, c->inflight[i].n);
    c->n_inflight = 0;
}

/* Batch sizing for both directions: a batch acknowledged (PUSH) or
 * delivered (PULL) within a second may double; a slow one keeps the size.
 * On a slow link batches therefore stay small, so a drop costs little. A
 * slow answer does not halve the budget: the round trip also holds the
 * server's queueing, and under load halving turned every session into
 * hundreds of 1 KiB batches (each PULL rescanning the change log), which
 * made the server slower still — 100 concurrent agents, 19 of 100 sessions
 * done in 300 s. */
static void adapt(size_t *budget, size_t max, uint64_t took_ms)
{
    if (took_ms < FAST_ACK_MS && *budget < max)
        *budget *= 2;
}

static void on_push_ack(client *c, const lm_msg_push_ack *ack)
{
    if (c->n_inflight == 0) {
        fail(c, LM_ESTATE, "server acknowledged seq %llu with no batch in flight",
             (unsigned long long)ack->upto_seq);
        return;
    }
    push_batch head = c->inflight[0]; /* answers come in the order sent */
    if (ack->upto_seq != head.upto) {
        fail(c, LM_ESTATE, "server acknowledged seq %llu, expected %llu",
             (unsigned long long)ack->upto_seq, (unsigned long long)head.upto);
        return;
    }
    int rc =
        lm_replica_push_acked(c->r, ack->upto_seq, head.v, head.n, ack->refusals, ack->n_refusals);
    if (rc != LM_OK) {
        fail(c, rc, "cannot record the acknowledgement: %s", lm_replica_errmsg(c->r));
        return;
    }
    c->st->pushed_changes += head.n;
    /* ack->conflicts counts the server's log, which holds conflicts this
     * replica wrote the winning side of and never sees: the loser ones
     * arrive with the pull and are counted there, in this replica's log */
    c->st->refusals += ack->n_refusals;
    lm_change *acked = head.v;
    uint32_t n_acked = head.n;
    c->n_inflight--;
    memmove(&c->inflight[0], &c->inflight[1], (size_t)c->n_inflight * sizeof c->inflight[0]);
    /* Size batches to the link: a fast ack means the link can take more per
     * round trip; a slow one means a drop would cost too much resending. */
    uint64_t took = mono_ms() - head.sent_at_ms;
    adapt(&c->budget, c->budget_max, took);
    c->depth = took < PIPELINE_ACK_MS ? PUSH_DEPTH : 1;
    progress(c, 0);
    fill_pipeline(c);
    /* The server's received_at stamps for the acknowledged batch, written
     * while it works on the next ones: they do not come back in CHANGES
     * (the answer to a PULL just sent is read only after this returns). */
    if (c->rc == LM_OK && !c->closing) {
        rc = lm_replica_apply_stamps(c->r, acked, n_acked, ack->stamps, ack->n_stamps,
                                     c->server_site);
        if (rc != LM_OK)
            fail(c, rc, "cannot apply the server's receipt stamps: %s", lm_replica_errmsg(c->r));
    }
    lm_changes_free(acked, n_acked);
}

static void start_pull(client *c)
{
    char *cursor = NULL;
    c->pull_cursor = 0;
    int rc = lm_replica_meta_get(c->r, "pull_cursor", &cursor);
    if (rc == LM_OK) {
        c->pull_cursor = strtoull(cursor, NULL, 10);
        lm_free(cursor);
    } else if (rc != LM_ENOTFOUND) {
        fail(c, rc, "cannot read the pull cursor: %s", lm_replica_errmsg(c->r));
        return;
    }
    lm_msg m;
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_PULL;
    m.u.pull.cursor = c->pull_cursor;
    m.u.pull.max_bytes = (uint32_t)c->pull_budget;
    c->pulled_at_ms = mono_ms();
    c->state = S_CHANGES;
    send_msg(c, &m);
}

static void send_bye(client *c)
{
    lm_msg m;
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_BYE;
    c->state = S_BYE;
    send_msg(c, &m);
}

static int prune_scope(client *c, uint64_t pending);

static void on_changes(client *c, const lm_msg_changes *ch)
{
    int rc;
    adapt(&c->pull_budget, BUDGET_MAX, mono_ms() - c->pulled_at_ms);
    if (ch->n_changes > 0) {
        lm_apply_ctx ctx;
        lm_apply_result res;
        memset(&ctx, 0, sizeof ctx);
        memset(&res, 0, sizeof res);
        ctx.cursor_key = "pull_cursor";
        ctx.cursor_value = ch->next_cursor;
        rc = lm_replica_apply(c->r, ch->changes, ch->n_changes, &ctx, &res);
        c->st->conflicts += res.conflicts;
        lm_apply_result_clear(&res);
        if (rc != LM_OK) {
            fail(c, rc, "cannot apply the server's changes: %s", lm_replica_errmsg(c->r));
            return;
        }
        c->st->pulled_changes += ch->n_changes;
    } else if (ch->next_cursor != c->pull_cursor) {
        char text[32];
        snprintf(text, sizeof text, "%llu", (unsigned long long)ch->next_cursor);
        rc = lm_replica_meta_set(c->r, "pull_cursor", text);
        if (rc != LM_OK) {
            fail(c, rc, "cannot store the pull cursor: %s", lm_replica_errmsg(c->r));
            return;
        }
    }
    progress(c, 0);
    if (ch->more) {
        if (ch->n_changes == 0 && ch->next_cursor == c->pull_cursor) {
            fail(c, LM_ESTATE, "server said more changes follow but sent none");
            return;
        }
        start_pull(c);
        return;
    }
    /* Another program may have written the replica while we pulled. */
    uint64_t pending = 0;
    if (lm_replica_stamp(c->r, NULL) == LM_OK &&
        lm_replica_pending_count(c->r, &pending) == LM_OK && pending > 0 &&
        c->rounds + 1 < MAX_ROUNDS) {
        c->rounds++;
        start_push(c);
        return;
    }
    if ((rc = prune_scope(c, pending))) {
        fail(c, rc, "cannot drop the rows that left the scope: %s", lm_replica_errmsg(c->r));
        return;
    }
    send_bye(c);
}

/* The scope WELCOME names, kept in lm_meta (cli_scope.c reads it). A
 * scope other than the last one kept means hq moved the user: the pull
 * starts again from the beginning (rows the new scope sees were skipped
 * by the old cursor), and the rows it does not see leave once nothing of
 * theirs waits to be pushed (prune_scope). A server that does not say
 * (an older one, a list too long for a WELCOME) changes nothing. */
static int follow_scope(client *c, const lm_msg_welcome *w)
{
    int role = lm_role_parse(w->role);
    const char *want = role == LM_ROLE_AGENT        ? w->villages
                       : role == LM_ROLE_DISPATCHER ? w->county
                       : role == LM_ROLE_HQ         ? ""
                                                    : NULL;
    if (!want)
        return LM_OK;
    const char *key = role == LM_ROLE_AGENT ? "scope_villages" : "scope_county";
    char *old_role = NULL, *old = NULL;
    int rc = lm_replica_meta_get(c->r, "scope_role", &old_role);
    if (rc == LM_OK && role != LM_ROLE_HQ)
        rc = lm_replica_meta_get(c->r, key, &old);
    int known = rc == LM_OK;
    if (rc != LM_OK && rc != LM_ENOTFOUND)
        goto out;
    rc = LM_OK;
    if (known && !strcmp(old_role, w->role) && (role == LM_ROLE_HQ || !strcmp(old, want)))
        goto out;
    if (known) {
        /* first the cursor, then the scope: a session cut in between finds
         * the old scope and starts again */
        c->st->scope_changed = 1;
        if ((rc = lm_replica_meta_set(c->r, "pull_cursor", "0")) ||
            (rc = lm_replica_meta_set(c->r, "scope_prune", "1")))
            goto out;
    }
    if ((role != LM_ROLE_HQ && (rc = lm_replica_meta_set(c->r, key, want))) ||
        (rc = lm_replica_meta_set(c->r, "scope_role", w->role)))
        goto out;
out:
    lm_free(old_role);
    lm_free(old);
    return rc;
}

/* After a session that left nothing to push: the rows the new scope does
 * not see leave (lm_replica_scope_prune keeps any row with a change still
 * to push; the mark stays until a sync ends with nothing pending). */
static int prune_scope(client *c, uint64_t pending)
{
    char *mark = NULL;
    int rc = lm_replica_meta_get(c->r, "scope_prune", &mark);
    int marked = rc == LM_OK && mark && *mark;
    lm_free(mark);
    if (rc == LM_ENOTFOUND || (rc == LM_OK && !marked))
        return LM_OK;
    lm_cli_scope s;
    int loaded = rc == LM_OK ? lm_cli_scope_load(c->r, &s) : 0;
    if (rc == LM_OK && loaded < 0)
        rc = LM_ENOMEM;
    if (rc == LM_OK && loaded) {
        uint64_t left = 0;
        rc = lm_replica_scope_prune(c->r, &s.scope, &left);
        c->st->scope_left += left;
        lm_cli_scope_free(&s);
    }
    if (rc == LM_OK && pending == 0)
        rc = lm_replica_meta_set(c->r, "scope_prune", "");
    return rc;
}

static void on_welcome(client *c, const lm_msg_welcome *w)
{
    int rc = lm_replica_set_server_time(c->r, w->server_time_ms);
    if (rc != LM_OK) {
        fail(c, rc, "cannot adopt the server clock: %s", lm_replica_errmsg(c->r));
        return;
    }
    snprintf(c->st->role, sizeof c->st->role, "%s", w->role ? w->role : "");
    c->push_watermark = w->push_watermark;
    if ((rc = lm_replica_adopt_watermark_digest(c->r, w->push_watermark, w->push_digest))) {
        fail(c, rc, "cannot adopt the server's watermark: %s", lm_replica_errmsg(c->r));
        return;
    }
    c->server_site = w->server_site;
    c->st->welcomed = 1;
    if (c->tls && w->has_next_identity) {
        c->st->has_next = 1;
        memcpy(c->st->next, w->next_identity, sizeof c->st->next);
    }
    if (c->tls && lm_tls_presented(c->tls, c->st->presented) == LM_OK)
        c->st->has_presented = 1;
    if ((rc = follow_scope(c, w))) {
        fail(c, rc, "cannot keep the scope the server named: %s", lm_replica_errmsg(c->r));
        return;
    }
    /* A server configured below the protocol's 1 MiB would refuse bigger
     * PUSH frames (and end the session); an older one does not say. */
    if (w->max_frame > 0 && w->max_frame < c->max_frame)
        c->max_frame = w->max_frame;
    /* what this server decodes: deltas in PUSH, a 32 KiB stream window */
    c->int_deltas = (w->features & LM_FEATURE_INT_DELTAS) != 0;
    int wbits =
        (w->features & LM_FEATURE_WIDE_WINDOW) ? LM_FRAME_STREAM_WIDE_WBITS : LM_FRAME_STREAM_WBITS;
    if ((w->features & LM_FEATURE_DEFLATE_STREAM) && (rc = lm_frame_deflater_new(&c->z, wbits))) {
        fail(c, rc, "cannot start deflating: %s", lm_strerror(rc));
        return;
    }
    start_push(c);
}

static const int expected_type[] = {
    [S_WELCOME] = LM_MSG_WELCOME,
    [S_PUSH_ACK] = LM_MSG_PUSH_ACK,
    [S_CHANGES] = LM_MSG_CHANGES,
};

static void on_frame(client *c, const lm_frame *f)
{
    char why[160];
    lm_msg m;
    int rc = lm_msg_decode(f->type, f->payload, f->payload_len, &m, why, sizeof why);
    if (rc != LM_OK) {
        fail(c, rc, "bad %s frame from the server: %s", lm_msg_type_name(f->type), why);
        return;
    }
    if (m.type == LM_MSG_ERROR) {
        if (m.u.error.code == LM_EAUTH && m.u.error.message &&
            strncmp(m.u.error.message, "authentication failed", 21) != 0)
            fail(c, LM_EAUTH, "%s", m.u.error.message);
        else if (m.u.error.code == LM_EAUTH)
            fail(c, LM_EAUTH,
                 "authentication failed: unknown user, a key the server does not "
                 "know for it (rekeyed?), or user revoked");
        else
            fail(c, m.u.error.code < 0 ? m.u.error.code : LM_EIO, "server error %s: %s",
                 lm_errname(m.u.error.code), m.u.error.message ? m.u.error.message : "");
        goto done;
    }
    if (c->state < S_WELCOME || c->state > S_CHANGES || m.type != expected_type[c->state]) {
        fail(c, LM_ESTATE, "unexpected %s from the server", lm_msg_type_name(m.type));
        goto done;
    }
    switch (c->state) {
    case S_WELCOME:
        on_welcome(c, &m.u.welcome);
        break;
    case S_PUSH_ACK:
        on_push_ack(c, &m.u.push_ack);
        break;
    case S_CHANGES:
        on_changes(c, &m.u.changes);
        break;
    default:
        break;
    }
done:
    lm_msg_clear(&m);
}

/* New plaintext from the server: handle every whole frame. */
static void frames_cb(lm_conn *conn, int rc)
{
    client *c = lm_conn_data(conn);
    c->st->bytes_received = lm_conn_bytes_in(conn);
    arm_timer(c, io_timeout(c));
    while (rc == LM_OK && !c->closing) {
        lm_frame f;
        rc = lm_frame_decoder_next(lm_conn_decoder(conn), &f);
        if (rc == 1) {
            on_frame(c, &f);
            rc = LM_OK;
        } else if (rc == 0) {
            break;
        }
    }
    if (rc < 0)
        fail(c, rc, "bad frame from the server: %s", lm_strerror(rc));
}

/* The transport ended: expected after our BYE, else the session failed. */
static void end_cb(lm_conn *conn, int rc, const char *text)
{
    client *c = lm_conn_data(conn);
    c->st->bytes_received = lm_conn_bytes_in(conn);
    if (c->state == S_BYE || c->state == S_DONE) {
        c->state = S_DONE; /* the server closed after our BYE */
        shutdown_client(c);
    } else if (c->state == S_CONNECTING && strncmp(text, "cannot connect", 14) == 0) {
        fail(c, LM_ENET, "cannot connect to %s: %s", c->cfg->server, text + 16);
    } else if (rc == LM_OK) {
        fail(c, LM_ENET, "the server closed the connection");
    } else {
        fail(c, rc, "%s", text);
    }
}

static void close_cb(lm_conn *conn)
{
    client *c = lm_conn_data(conn);
    c->st->bytes_sent = lm_conn_bytes_out(conn);
    c->st->bytes_received = lm_conn_bytes_in(conn);
    c->conn = NULL;
    c->closing = 1;
}

/* The channel is up: HELLO. */
static void ready_cb(lm_conn *conn)
{
    client *c = lm_conn_data(conn);
    c->resumed = lm_conn_resumed(conn);
    arm_timer(c, io_timeout(c));
    char name[32];
    snprintf(name, sizeof name, "lastmile/%s", LM_VERSION);
    lm_msg m;
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_HELLO;
    m.u.hello.version = LM_PROTOCOL_VERSION;
    m.u.hello.user = (char *)c->cfg->user; /* borrowed for the encode only */
    m.u.hello.site = lm_replica_site(c->r);
    m.u.hello.client = name;
    m.u.hello.features = LM_FEATURE_ACK_STAMPS | LM_FEATURE_DEFLATE_STREAM |
                         LM_FEATURE_WIDE_WINDOW | LM_FEATURE_INT_DELTAS;
    /* Test hook: announce only these bits, as an older build would. */
    const char *only = getenv("LASTMILE_TEST_HELLO_FEATURES");
    if (only && *only)
        m.u.hello.features &= strtoull(only, NULL, 0);
    /* What is still queued here, so the server can tell headquarters
     * (`report agents`); a server that does not know the key skips it. */
    m.u.hello.has_pending = c->has_pending;
    m.u.hello.pending = c->pending;
    /* The signature covers this channel's exporter value: a relay that
     * passes it on to another connection to the server gets nothing. */
    uint8_t exporter[LM_EXPORTER_SIZE], transcript[LM_HELLO_TRANSCRIPT_MAX];
    lm_conn_exporter(conn, LM_HELLO_EXPORTER_LABEL, exporter);
    size_t n = lm_hello_transcript(exporter, c->cfg->user, m.u.hello.site, transcript);
    lm_device_key_public(c->key, m.u.hello.public_key);
    if (lm_device_key_sign(c->key, transcript, n, m.u.hello.signature) != LM_OK) {
        fail(c, LM_EIO, "cannot sign HELLO with the device key");
        return;
    }
    if (c->cfg->has_token) {
        m.u.hello.has_token = 1;
        memcpy(m.u.hello.token, c->cfg->token, sizeof m.u.hello.token);
    }
    c->state = S_WELCOME;
    send_msg(c, &m);
}

static const lm_conn_cbs conn_cbs = {
    .on_ready = ready_cb,
    .on_frames = frames_cb,
    .on_drain = drain_cb,
    .on_end = end_cb,
    .on_close = close_cb,
};

/* Resolves HOST:PORT (blocking: the loop has nothing else to do yet) and
 * starts the connection. */
static int start_connect(client *c)
{
    char host[256], port_text[8];
    int port;
    if (lm_text_host_port_parse(c->cfg->server, 1, host, sizeof host, &port) != LM_OK) {
        fail(c, LM_EINVAL, "server address '%s' is not HOST:PORT", c->cfg->server);
        return LM_EINVAL;
    }
    snprintf(port_text, sizeof port_text, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    uv_getaddrinfo_t gai;
    int rc = uv_getaddrinfo(&c->loop, &gai, NULL, host, port_text, &hints);
    if (rc < 0) {
        fail(c, LM_ENET, "cannot resolve %s: %s", host, uv_strerror(rc));
        return LM_ENET;
    }
    /* Servers in the field listen on IPv4; "localhost" often resolves to ::1
     * first, so prefer the first IPv4 address and fall back to the first. */
    const struct addrinfo *ai = gai.addrinfo;
    for (const struct addrinfo *p = gai.addrinfo; p; p = p->ai_next) {
        if (p->ai_family == AF_INET) {
            ai = p;
            break;
        }
    }
    rc = lm_conn_connect(&c->loop, ai->ai_addr, c->tls, &conn_cbs, c, 0, 0, &c->conn);
    uv_freeaddrinfo(gai.addrinfo);
    if (rc < 0) {
        fail(c, LM_ENET, "cannot connect to %s: %s", c->cfg->server, lm_strerror(rc));
        return LM_ENET;
    }
    unsigned ms = c->cfg->connect_timeout_ms ? c->cfg->connect_timeout_ms : 10000u;
    arm_timer(c, ms);
    return LM_OK;
}

int lm_sync_client_run(lm_replica *r, const lm_sync_config *cfg, lm_sync_stats *st, char *err,
                       size_t err_size)
{
    memset(st, 0, sizeof *st);
    if (err_size)
        err[0] = '\0';
    client *c = lm_calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_size, "out of memory");
        return LM_ENOMEM;
    }
    c->r = r;
    c->cfg = cfg;
    c->st = st;
    c->err = err;
    c->err_size = err_size;
    c->budget = BUDGET_START;
    c->budget_max = BUDGET_MAX;
    c->max_frame = LM_FRAME_DEFAULT_MAX;
    c->depth = 1;
    c->pull_budget = PULL_BUDGET_START;
    c->started_ms = mono_ms();
    c->state = S_CONNECTING;

    int rc = lm_device_key_load(cfg->key_path, &c->key, err, err_size);
    if (rc != LM_OK)
        goto fail_key;
    if (!cfg->insecure_plaintext && (rc = lm_tls_client_new(cfg->pin, &c->tls, err, err_size)))
        goto fail_tls;
    if (c->tls && cfg->has_next_pin)
        lm_tls_client_add_next(c->tls, cfg->next_pin);
    if (c->tls && cfg->tls_session && cfg->tls_session_len)
        lm_tls_session_load(c->tls, cfg->tls_session, cfg->tls_session_len);
    rc = uv_loop_init(&c->loop);
    if (rc < 0) {
        snprintf(err, err_size, "cannot start the event loop: %s", uv_strerror(rc));
        rc = LM_EIO;
        goto fail_loop;
    }

    c->has_pending = lm_replica_pending_count(r, &c->pending) == LM_OK;
    /* What a session writes can be fetched again (lm_replica_set_durable):
     * an fsync per ack took 1,000 agents syncing at once on one disk from
     * 32.4 to 41.9 s. The agent's own records were made durable when they
     * were written; the first durable commit after the session syncs the
     * session's writes too. */
    lm_replica_set_durable(r, 0);
    start_connect(c);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    /* Every handle is closed by now (shutdown_client runs on every path that
     * ends the session); the loop closes cleanly. */
    if (c->conn || uv_loop_close(&c->loop) != 0) {
        uv_run(&c->loop, UV_RUN_DEFAULT);
        uv_loop_close(&c->loop);
    }
    if (c->state == S_DONE)
        c->rc = LM_OK;
    else if (c->rc == LM_OK) {
        c->rc = LM_ENET;
        snprintf(err, err_size, "the session ended early");
    }
    rc = c->rc;
    lm_replica_set_durable(r, 1);
    st->elapsed_ms = mono_ms() - c->started_ms;
    progress(c, 1);

    if (c->tls && cfg->save_tls_session)
        lm_tls_session_save(c->tls, &st->tls_session, &st->tls_session_len);
    st->tls_resumed = c->resumed;
fail_loop:
    lm_tls_free(c->tls);
fail_tls:
    lm_device_key_free(c->key);
fail_key:
    finish_batches(c);
    lm_frame_deflater_free(c->z);
    lm_free(c);
    return rc;
}
