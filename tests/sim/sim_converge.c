/*
 * sim_converge.c — randomized convergence simulation of the replica engine.
 *
 * One server replica and 2..12 agents plus a dispatcher and an hq client
 * (real SQLite files in a temp dir), each with its own skewed clock. Every
 * step one client writes with plain SQL (every table, every policy,
 * including writes the server must refuse), pushes (sometimes in several
 * small batches, sometimes re-sent, sometimes with the ack lost) or pulls
 * (sometimes two batches applied out of order, sometimes twice); now and
 * then a replica dies in the middle of applying a batch: a forked child runs
 * the apply and _exit()s from SQLite's progress handler, so the transaction
 * never commits, and the parent reopens the file.
 *
 * After a final full exchange:
 *   - every client's state hash in its scope equals the server's in that
 *     scope (same values, whatever path the changes took);
 *   - every pushed write is accounted for: at the server it is the current
 *     version, or in the conflict log (as winner or loser), or was refused,
 *     or a later write named it as its prev_hlc, or a tombstone covered it;
 *     or it lost on its writer's replica before reaching the server and
 *     sits in that replica's conflict log, or the same site wrote the cell
 *     again later (a site's writes are sequential);
 *   - a re-sent batch changed nothing;
 *   - each agent's ledger sums (weight and money after adjustments) equal
 *     the server's for that agent, and no accepted collection is missing.
 *
 * Restore and clone (issue 20): now and then an agent's phone is copied,
 * key and all, into a new phone that goes on working beside it (a live
 * clone with the same site and change counter), or backed up, and later
 * restored from that backup, losing what it did since. Each session
 * starts with the WELCOME check (lm_replica_adopt_watermark_digest with
 * the server's watermark and its batch digest); a copy it finds goes on
 * under a fresh site. The checks above then also say that no purchase
 * made on any copy that lives on was lost, and that clones converge.
 * Ids made on a copy carry the copy's tag: clones share site and clock
 * state, so two could make one id in the same millisecond (a limit of
 * the id scheme, docs/sync.md), which is not what is tested here.
 *
 * Usage: sim_converge [--seed N] [--seeds K] [--first N] [--agents M]
 *        [--ops K] [--verbose]
 * CI runs a bounded number of seeds (see tests/sim.cmake); a soak is
 * `sim_converge --seeds 10000`. Every failing seed is printed with the
 * command that reproduces it.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lm_sync.h"

#define MAX_AGENTS 12
#define MAX_COPIES 4 /* clones per world */
#define MAX_CLIENTS (2 + MAX_AGENTS + MAX_COPIES)
#define N_VILLAGES 5

static const char *const village_names[N_VILLAGES] = {"Xiacun", "Shangcun", "Dongcun", "Nancun",
                                                      "Beicun"};
static const char *const village_county[N_VILLAGES] = {"Wuyuan", "Wuyuan", "Wuyuan", "Dexing",
                                                       "Dexing"};

/* ------------------------------------------------------------ random */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint32_t rn(uint32_t n)
{
    return n ? (uint32_t)(rnd() % n) : 0;
}

static int chance(int percent)
{
    return (int)rn(100) < percent;
}

/* ---------------------------------------------------------- replicas */

typedef struct clockref {
    uint64_t *now;
    int64_t skew;
} clockref;

typedef struct node {
    lm_replica *r;
    char path[300];
    uint64_t site;
    clockref clk;
    lm_scope scope;
    const char *villages[3];
    char user[32];
    int tag;        /* > 0: a copy; its ids carry the tag */
    int has_backup; /* backup_path holds a copy of the file */
    char backup_path[320];
} node;

typedef struct rec {
    char table[24], pk[48], col[24];
    uint64_t hlc, site, prev;
    uint64_t value; /* a hash of the value */
} rec;

typedef struct sim {
    uint64_t seed, now;
    char dir[256];
    node server;
    node cl[MAX_CLIENTS];
    int n_cl;
    rec *writes; /* every change pushed to or made by the server */
    size_t n_writes, cap_writes;
    uint64_t server_seen; /* server's own changes recorded up to this seq */
    int verbose;
    int failures;
    /* stats */
    unsigned crashes, crash_committed, dups, reorders, lost_acks, conflicts, refusals;
    unsigned clones, backups, restores, new_sites;
    int n_copies, next_tag;
} sim;

static int fail(sim *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "seed %llu: ", (unsigned long long)s->seed);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    s->failures++;
    return -1;
}

static uint64_t node_now(void *ud)
{
    clockref *c = ud;
    return (uint64_t)((int64_t)*c->now + c->skew);
}

/* Creating the schema (tables, 33 capture triggers) dominates a small
 * seed under ASan, so every seed's replicas start as copies of one fresh
 * replica made per process, each given its own site id before it is
 * opened: what provisioning a phone from an image would do. */
static char template_path[300];

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t k;
    int rc = in && out ? 0 : -1;
    while (!rc && (k = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, k, out) != k)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out))
        rc = -1;
    return rc;
}

static int provision(const char *path, uint64_t site)
{
    if (copy_file(template_path, path))
        return -1;
    sqlite3 *db = NULL;
    char q[128];
    snprintf(q, sizeof q, "UPDATE lm_meta SET value='%lld' WHERE key='site'", (long long)site);
    int rc =
        sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK
            ? 0
            : -1;
    sqlite3_close(db);
    return rc;
}

static int make_template(void)
{
    snprintf(template_path, sizeof template_path, "/tmp/lm_sim_template_%ld.db", (long)getpid());
    unlink(template_path);
    lm_replica_options o = {.create = 1, .site = 1};
    lm_replica *r = NULL;
    char err[256];
    if (lm_replica_open(template_path, &o, &r, err, sizeof err)) {
        fprintf(stderr, "template: %s\n", err);
        return -1;
    }
    /* one file, no WAL beside it, so a plain copy is the whole replica */
    int rc = sqlite3_exec(lm_replica_db(r), "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    lm_replica_close(r);
    return rc == SQLITE_OK ? 0 : -1;
}

static int node_open(sim *s, node *n, int create)
{
    if (create && provision(n->path, n->site))
        return fail(s, "could not provision %s", n->path);
    /* the server keeps scope keys, as lastmile-server does */
    lm_replica_options o = {.create = create,
                            .site = n->site,
                            .now_ms = node_now,
                            .now_ud = &n->clk,
                            .scope_keys = n == &s->server};
    char err[256];
    int rc = lm_replica_open(n->path, &o, &n->r, err, sizeof err);
    if (rc)
        return fail(s, "open %s: %s %s", n->path, lm_errname(rc), err);
    /* a process crash is what the simulation injects, not a power cut:
     * skipping fsync keeps hundreds of seeds fast */
    sqlite3_exec(lm_replica_db(n->r), "PRAGMA synchronous=OFF", NULL, NULL, NULL);
    return 0;
}

static int node_reopen(sim *s, node *n)
{
    lm_replica_close(n->r);
    n->r = NULL;
    return node_open(s, n, 0);
}

static int sql(sim *s, node *n, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *err = NULL;
    if (sqlite3_exec(lm_replica_db(n->r), buf, NULL, NULL, &err) != SQLITE_OK) {
        fail(s, "SQL %s: %s", buf, err ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static long long qint(node *n, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sqlite3_stmt *st = NULL;
    long long v = 0;
    if (sqlite3_prepare_v2(lm_replica_db(n->r), buf, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The k-th (mod count) value of a query's first column, "" when none. */
static int pick(node *n, char *out, size_t size, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sqlite3_stmt *st = NULL;
    out[0] = 0;
    if (sqlite3_prepare_v2(lm_replica_db(n->r), buf, -1, &st, NULL) != SQLITE_OK)
        return 0;
    int count = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        count++;
    if (count) {
        int k = (int)rn((uint32_t)count);
        sqlite3_reset(st);
        for (int i = 0; i <= k; i++)
            sqlite3_step(st);
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, size, "%s", t ? (const char *)t : "");
    }
    sqlite3_finalize(st);
    return out[0] != 0;
}

static uint64_t value_hash(const lm_value *v)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)v->type;
    unsigned char b[8];
    const unsigned char *p = b;
    size_t len = 8;
    if (v->type == LM_VAL_INTEGER)
        memcpy(b, &v->i, 8);
    else if (v->type == LM_VAL_FLOAT)
        memcpy(b, &v->f, 8);
    else if (v->type == LM_VAL_TEXT || v->type == LM_VAL_BLOB)
        p = v->bytes, len = v->len;
    else
        len = 0;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void record(rec **v, size_t *n, size_t *cap, const lm_change *c)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        *v = realloc(*v, *cap * sizeof **v);
        if (!*v)
            abort();
    }
    rec *r = &(*v)[(*n)++];
    snprintf(r->table, sizeof r->table, "%s", c->table);
    snprintf(r->pk, sizeof r->pk, "%s", c->pk);
    snprintf(r->col, sizeof r->col, "%s", c->column);
    r->hlc = c->hlc;
    r->site = c->site;
    r->prev = c->prev_hlc;
    r->value = value_hash(&c->value);
}

/* The server's own writes (repairs, received_at, refusal tombstones) go
 * into the record too: they can supersede a pushed write. */
static int record_server_writes(sim *s)
{
    lm_change *ch = NULL;
    uint32_t n = 0;
    uint64_t upto = 0;
    int rc = lm_replica_local_changes(s->server.r, s->server_seen, 1u << 30, &ch, &n, &upto);
    if (rc)
        return fail(s, "server local_changes: %s", lm_errname(rc));
    for (uint32_t i = 0; i < n; i++)
        record(&s->writes, &s->n_writes, &s->cap_writes, &ch[i]);
    s->server_seen = upto;
    lm_changes_free(ch, n);
    return 0;
}

/* ------------------------------------------------------------ crashes */

static long crash_countdown;

static int crash_cb(void *ud)
{
    (void)ud;
    if (--crash_countdown <= 0)
        _exit(3); /* dies inside the transaction: nothing is committed */
    return 0;
}

/* Applies in a forked child that dies part way through; returns 1 when
 * the child happened to finish (and commit) before its countdown. */
static int crash_apply(sim *s, node *n, const lm_change *ch, uint32_t cnt, const lm_apply_ctx *ctx)
{
    fflush(stdout);
    fflush(stderr);
    crash_countdown = 1 + (long)rn(400);
    pid_t pid = fork();
    if (pid < 0)
        return fail(s, "fork failed");
    if (pid == 0) {
        sqlite3_progress_handler(lm_replica_db(n->r), 20, crash_cb, NULL);
        lm_apply_result res;
        int rc = lm_replica_apply(n->r, ch, cnt, ctx, &res);
        _exit(rc == LM_OK ? 0 : 4);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return fail(s, "waitpid failed");
    s->crashes++;
    int committed = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 4)
        return fail(s, "crash child: apply failed");
    s->crash_committed += committed;
    return node_reopen(s, n) ? -1 : committed;
}

/* --------------------------------------------------------------- sync */

/* What a session's WELCOME does: the server's watermark of the client's
 * site and the digest of the batch that set it. A restored or cloned copy
 * goes on under a fresh site (and pulls from the start). */
static int welcome(sim *s, node *c)
{
    uint64_t w = 0, d = 0;
    int rc = lm_replica_watermark_digest(s->server.r, c->site, &w, &d);
    if (rc)
        return fail(s, "watermark: %s", lm_errname(rc));
    rc = lm_replica_adopt_watermark_digest(c->r, w, d);
    if (rc == LM_ECONFLICT) {
        if (s->verbose)
            printf("  %s (%s): %s\n", c->path, c->user, lm_replica_errmsg(c->r));
        c->site = lm_replica_site(c->r);
        s->new_sites++;
        return 0;
    }
    return rc ? fail(s, "adopt watermark: %s %s", lm_errname(rc), lm_replica_errmsg(c->r)) : 0;
}

static int push(sim *s, node *c, size_t budget, int allow_faults)
{
    uint64_t after = 0, upto = 0;
    lm_change *ch = NULL;
    uint32_t n = 0;
    if (welcome(s, c))
        return -1;
    int rc = lm_replica_push_acked_seq(c->r, &after);
    if (!rc)
        rc = lm_replica_local_changes(c->r, after, budget, &ch, &n, &upto);
    if (rc)
        return fail(s, "local_changes: %s", lm_errname(rc));
    if (!n)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        record(&s->writes, &s->n_writes, &s->cap_writes, &ch[i]);
    /* the client keeps the batch's digest before sending it; the server
     * computes it from what it received */
    if ((rc = lm_replica_push_mark(c->r, ch, n, upto))) {
        lm_changes_free(ch, n);
        return fail(s, "push mark: %s", lm_errname(rc));
    }
    lm_apply_ctx ctx = {.writer = &c->scope,
                        .origin_site = c->site,
                        .origin_upto_seq = upto,
                        .origin_digest = lm_push_digest(ch, n, upto),
                        .received_at_ms = s->now};
    lm_apply_result res;
    if (allow_faults && chance(4)) {
        int r = crash_apply(s, &s->server, ch, n, &ctx);
        lm_changes_free(ch, n);
        if (r < 0)
            return -1;
        return record_server_writes(s); /* the agent never got an ack */
    }
    rc = lm_replica_apply(s->server.r, ch, n, &ctx, &res);
    if (rc) {
        lm_changes_free(ch, n);
        return fail(s, "server apply: %s %s", lm_errname(rc), lm_replica_errmsg(s->server.r));
    }
    s->conflicts += res.conflicts;
    s->refusals += res.n_refusals;
    if (allow_faults && chance(10)) {
        /* the same batch again (a retransmission): must change nothing */
        lm_apply_result again;
        rc = lm_replica_apply(s->server.r, ch, n, &ctx, &again);
        if (rc || again.applied || again.conflicts || again.n_refusals)
            fail(s, "re-sent batch was not a no-op (rc %d applied %u conflicts %u refused %u)", rc,
                 again.applied, again.conflicts, again.n_refusals);
        lm_apply_result_clear(&again);
        s->dups++;
    }
    if (allow_faults && chance(5)) {
        s->lost_acks++; /* ack lost: the agent will send this batch again */
    } else {
        rc = lm_replica_push_acked(c->r, upto, ch, n, res.refusals, res.n_refusals);
        if (rc)
            fail(s, "push_acked: %s", lm_errname(rc));
    }
    lm_apply_result_clear(&res);
    lm_changes_free(ch, n);
    return record_server_writes(s);
}

static int fetch(sim *s, node *c, uint64_t cursor, size_t budget, lm_change **ch, uint32_t *n,
                 uint64_t *next, int *more)
{
    int rc = lm_replica_changes_since(s->server.r, cursor, &c->scope, c->site, budget, ch, n, next,
                                      more);
    if (rc)
        return fail(s, "changes_since: %s", lm_errname(rc));
    return 0;
}

static int apply_pulled(sim *s, node *c, lm_change *ch, uint32_t n, const char *key,
                        uint64_t cursor, int allow_faults)
{
    lm_apply_ctx ctx = {.cursor_key = key, .cursor_value = cursor};
    lm_apply_result res;
    if (allow_faults && chance(3))
        return crash_apply(s, c, ch, n, &ctx) < 0 ? -1 : 0;
    int rc = lm_replica_apply(c->r, ch, n, &ctx, &res);
    if (rc)
        return fail(s, "client apply: %s %s", lm_errname(rc), lm_replica_errmsg(c->r));
    if (res.n_refusals)
        fail(s, "trusted apply refused %u changes (first: %s)", res.n_refusals,
             res.refusals[0].reason);
    lm_apply_result_clear(&res);
    if (allow_faults && chance(8)) {
        rc = lm_replica_apply(c->r, ch, n, &ctx, &res);
        if (rc || res.applied || res.n_refusals)
            fail(s, "re-applied pull was not a no-op (applied %u)", res.applied);
        lm_apply_result_clear(&res);
        s->dups++;
    }
    return 0;
}

static int pull(sim *s, node *c, size_t budget, int rounds, int allow_faults)
{
    if (welcome(s, c))
        return -1;
    for (int i = 0; i < rounds; i++) {
        char *cur = NULL;
        uint64_t cursor = 0, next = 0, next2 = 0;
        if (lm_replica_meta_get(c->r, "pull_cursor", &cur) == LM_OK) {
            cursor = strtoull(cur, NULL, 10);
            lm_free(cur);
        }
        lm_change *a = NULL, *b = NULL;
        uint32_t na = 0, nb = 0;
        int more = 0, more2 = 0;
        if (fetch(s, c, cursor, budget, &a, &na, &next, &more))
            return -1;
        if (allow_faults && more && chance(15)) {
            /* the second batch arrives first; only an in-order batch moves
             * the stored cursor, the early one is re-sent later */
            if (fetch(s, c, next, budget, &b, &nb, &next2, &more2) ||
                apply_pulled(s, c, b, nb, NULL, 0, allow_faults)) {
                lm_changes_free(a, na);
                lm_changes_free(b, nb);
                return -1;
            }
            lm_changes_free(b, nb);
            s->reorders++;
        }
        int rc = apply_pulled(s, c, a, na, "pull_cursor", next, allow_faults);
        lm_changes_free(a, na);
        if (rc)
            return -1;
        if (!more)
            break;
    }
    return 0;
}

/* ------------------------------------------------- restore and clone */

/* A consistent copy of n's file at path (SQLite's online backup: what a
 * phone backup of the closed app's files holds). */
static int snapshot(sim *s, node *n, const char *path)
{
    sqlite3 *to = NULL;
    unlink(path);
    int rc = sqlite3_open(path, &to);
    sqlite3_backup *b =
        rc == SQLITE_OK ? sqlite3_backup_init(to, "main", lm_replica_db(n->r), "main") : NULL;
    if (b) {
        sqlite3_backup_step(b, -1);
        rc = sqlite3_backup_finish(b);
    } else {
        rc = SQLITE_ERROR;
    }
    sqlite3_close(to);
    return rc == SQLITE_OK ? 0 : fail(s, "snapshot of %s failed", n->path);
}

/* A new phone copied from agent c: same user, villages and site, its own
 * clock; both go on working. */
static int clone_node(sim *s, node *c)
{
    node *n = &s->cl[s->n_cl];
    *n = *c;
    n->r = NULL;
    n->has_backup = 0;
    n->scope.villages = n->villages;
    n->tag = ++s->next_tag;
    n->clk = (clockref){&s->now, (int64_t)rn(120000) - 60000};
    snprintf(n->path, sizeof n->path, "%s/c%d.db", s->dir, s->n_cl);
    if (snapshot(s, c, n->path) || node_open(s, n, 0))
        return -1;
    s->n_cl++;
    s->n_copies++;
    s->clones++;
    return 0;
}

/* Agent c's phone is replaced by its backup: what it did since is gone
 * (the writes it pushed stay on the server), its file goes back. */
static int restore_node(sim *s, node *c)
{
    char side[330];
    lm_replica_close(c->r);
    c->r = NULL;
    for (int k = 0; k < 2; k++) {
        snprintf(side, sizeof side, "%s%s", c->path, k ? "-shm" : "-wal");
        unlink(side);
    }
    if (copy_file(c->backup_path, c->path))
        return fail(s, "restore of %s failed", c->path);
    if (node_open(s, c, 0))
        return -1;
    c->site = lm_replica_site(c->r);
    c->tag = ++s->next_tag;
    s->restores++;
    return 0;
}

/* One of: a clone of an agent's phone, a backup of one, a restore. */
static int copy_op(sim *s)
{
    node *c = &s->cl[2 + rn((uint32_t)(s->n_cl - 2))];
    uint32_t op = rn(3);
    if (op == 0 && s->n_cl < MAX_CLIENTS && s->n_copies < MAX_COPIES)
        return clone_node(s, c);
    if (op == 2) { /* a phone that was backed up, if any */
        int k = (int)rn((uint32_t)(s->n_cl - 2));
        for (int i = 0; i < s->n_cl - 2; i++) {
            node *b = &s->cl[2 + (k + i) % (s->n_cl - 2)];
            if (b->has_backup)
                return restore_node(s, b);
        }
    }
    char path[sizeof c->backup_path];
    snprintf(path, sizeof path, "%s.backup", c->path);
    memcpy(c->backup_path, path, sizeof path);
    if (snapshot(s, c, c->backup_path))
        return -1;
    c->has_backup = 1;
    s->backups++;
    return 0;
}

/* -------------------------------------------------------------- writes */

static const char *const statuses_stop[] = {"planned", "arrived", "loaded"};
static const char *const statuses_route[] = {"planned", "dispatched", "done"};

/* A new id; a copy's carry its tag (see the top of the file). */
static void node_id(node *c, char *id, size_t size)
{
    char raw[LM_ID_SIZE];
    lm_replica_new_id(c->r, raw);
    if (c->tag)
        snprintf(id, size, "%s-%d", raw, c->tag);
    else
        snprintf(id, size, "%s", raw);
}

static void agent_write(sim *s, node *c)
{
    char id[LM_ID_SIZE + 12], a[64], b[64];
    const char *v = c->villages[rn((uint32_t)c->scope.n_villages)];
    uint32_t op = rn(100);
    if (op < 15) { /* a farmer; now and then in a village not its own */
        const char *fv = chance(5) ? village_names[rn(N_VILLAGES)] : v;
        node_id(c, id, sizeof id);
        sql(s, c,
            "INSERT INTO farmers(id,name,village,phone,registered_poor,created_by,created_at)"
            " VALUES('%s','f%u','%s','%u',%u,'%s',%llu)",
            id, rn(1000), fv, rn(100000), rn(2), c->user, (unsigned long long)s->now);
    } else if (op < 40) { /* a collection */
        if (!pick(c, a, sizeof a, "SELECT id FROM farmers WHERE village='%s' ORDER BY id", v))
            return;
        int foreign = chance(4);
        long w = 1000 + (long)rn(50000), price = 200 + (long)rn(800);
        node_id(c, id, sizeof id);
        sql(s, c,
            "INSERT INTO collections(id,agent_id,farmer_id,village,product,grade,weight_g,"
            "unit_price_fen,amount_fen,collected_at,note) VALUES('%s','%s','%s','%s','apple',"
            "'A',%ld,%ld,%ld,%llu,%s)",
            id, foreign ? "someone-else" : c->user, a, v, w, price, (w * price + 500) / 1000,
            (unsigned long long)s->now, chance(50) ? "'ok'" : "NULL");
    } else if (op < 50) { /* a correction of one of its collections */
        if (!pick(c, a, sizeof a, "SELECT id FROM collections WHERE agent_id='%s' ORDER BY id",
                  c->user))
            return;
        node_id(c, id, sizeof id);
        long d = (long)rn(2000) - 1000;
        long price = (long)qint(c, "SELECT unit_price_fen FROM collections WHERE id='%s'", a);
        long amt = d * price >= 0 ? (d * price + 500) / 1000 : -((-d * price + 499) / 1000);
        if (chance(15))
            sql(s, c,
                "INSERT INTO adjustments(id,collection_id,voided,reason,\"by\",at) VALUES('%s',"
                "'%s',1,'void','%s',%llu)",
                id, a, c->user, (unsigned long long)s->now);
        else
            sql(s, c,
                "INSERT INTO adjustments(id,collection_id,delta_weight_g,delta_amount_fen,voided,"
                "reason,\"by\",at) VALUES('%s','%s',%ld,%ld,0,'scale','%s',%llu)",
                id, a, d, amt, c->user, (unsigned long long)s->now);
    } else if (op < 60) { /* a grading, new or revised */
        if (chance(50) && pick(c, a, sizeof a, "SELECT id FROM gradings ORDER BY id")) {
            if (chance(15))
                sql(s, c, "DELETE FROM gradings WHERE id='%s'", a);
            else
                sql(s, c, "UPDATE gradings SET grade='%c', moisture_permille=%u WHERE id='%s'",
                    'A' + (int)rn(3), rn(300), a);
        } else if (pick(c, a, sizeof a,
                        "SELECT id FROM collections WHERE agent_id='%s' ORDER BY id", c->user)) {
            node_id(c, id, sizeof id);
            sql(s, c,
                "INSERT INTO gradings(id,collection_id,grade,moisture_permille,graded_by,"
                "graded_at) VALUES('%s','%s','B',%u,'%s',%llu)",
                id, a, rn(300), c->user, (unsigned long long)s->now);
        }
    } else if (op < 72) { /* a farmer's details (concurrent with others) */
        if (pick(c, a, sizeof a, "SELECT id FROM farmers ORDER BY id"))
            sql(s, c, "UPDATE farmers SET phone='%u', household_id='h%u' WHERE id='%s'", rn(100000),
                rn(50), a);
    } else if (op < 80) { /* a note; or an edit of an immutable weight */
        if (pick(c, a, sizeof a, "SELECT id FROM collections WHERE agent_id='%s' ORDER BY id",
                 c->user)) {
            if (chance(20))
                sql(s, c, "UPDATE collections SET weight_g=weight_g+1 WHERE id='%s'", a);
            else
                sql(s, c, "UPDATE collections SET note='n%u' WHERE id='%s'", rn(100), a);
        }
    } else if (op < 95) { /* its stop: status forward (sometimes back) */
        if (pick(c, a, sizeof a, "SELECT id FROM route_stops WHERE agent_id='%s' ORDER BY id",
                 c->user)) {
            snprintf(b, sizeof b, "%s", statuses_stop[rn(3)]);
            sql(s, c, "UPDATE route_stops SET status='%s', loaded_weight_g=%u WHERE id='%s'", b,
                rn(90000), a);
        }
    } else { /* the server's column: refused */
        if (pick(c, a, sizeof a, "SELECT id FROM collections WHERE agent_id='%s' ORDER BY id",
                 c->user))
            sql(s, c, "UPDATE collections SET received_at=1 WHERE id='%s'", a);
    }
}

static void dispatcher_write(sim *s, node *c)
{
    char id[LM_ID_SIZE], sid[LM_ID_SIZE], a[64];
    uint32_t op = rn(100);
    if (op < 35) { /* a route with its stops, one transaction */
        const char *county = chance(5) ? "Dexing" : c->scope.county;
        lm_replica_new_id(c->r, id);
        sql(s, c, "BEGIN");
        sql(s, c,
            "INSERT INTO routes(id,county,date,vehicle,driver,dispatcher_id,capacity_g,status)"
            " VALUES('%s','%s','2026-11-%02u','truck%u','d%u','%s',%u,'planned')",
            id, county, 1 + rn(28), rn(9), rn(9), c->user, 1000000 + rn(9000000));
        int stops = 1 + (int)rn(3);
        for (int i = 0; i < stops; i++) {
            int ag = 2 + (int)rn((uint32_t)(s->n_cl - 2));
            lm_replica_new_id(c->r, sid);
            sql(s, c,
                "INSERT INTO route_stops(id,route_id,seq,village,agent_id,planned_at,status)"
                " VALUES('%s','%s',%d,'%s','%s',%llu,'planned')",
                sid, id, i, s->cl[ag].villages[0], s->cl[ag].user,
                (unsigned long long)s->now + rn(100000));
        }
        sql(s, c, "COMMIT");
    } else if (op < 60) {
        if (pick(c, a, sizeof a, "SELECT id FROM routes ORDER BY id"))
            sql(s, c, "UPDATE routes SET vehicle='truck%u', driver='d%u' WHERE id='%s'", rn(9),
                rn(9), a);
    } else if (op < 80) {
        if (pick(c, a, sizeof a, "SELECT id FROM routes ORDER BY id"))
            sql(s, c, "UPDATE routes SET status='%s' WHERE id='%s'", statuses_route[rn(3)], a);
    } else if (op < 95) {
        if (pick(c, a, sizeof a, "SELECT id FROM route_stops ORDER BY id"))
            sql(s, c, "UPDATE route_stops SET planned_at=%u, seq=%u WHERE id='%s'", rn(100000),
                rn(5), a);
    } else { /* not the dispatcher's column */
        if (pick(c, a, sizeof a, "SELECT id FROM route_stops ORDER BY id"))
            sql(s, c, "UPDATE route_stops SET loaded_weight_g=%u WHERE id='%s'", rn(1000), a);
    }
}

static void hq_write(sim *s, node *c)
{
    char id[LM_ID_SIZE], a[64];
    uint32_t op = rn(100);
    if (op < 15) {
        if (pick(c, a, sizeof a, "SELECT id FROM prices ORDER BY id"))
            sql(s, c, "UPDATE prices SET price_fen=%u WHERE id='%s'", 100 + rn(900), a);
    } else if (op < 22) {
        sql(s, c, "UPDATE products SET name='Apple %u' WHERE code='apple'", rn(10));
    } else if (op < 30) {
        sql(s, c, "UPDATE grades SET name='grade %u' WHERE code='%c'", rn(10), 'A' + (int)rn(3));
    } else if (op < 45) { /* concurrent with the agents' edits */
        if (pick(c, a, sizeof a, "SELECT id FROM farmers ORDER BY id"))
            sql(s, c, "UPDATE farmers SET phone='hq%u', name='N%u' WHERE id='%s'", rn(1000),
                rn(1000), a);
    } else if (op < 52) { /* delete wins over concurrent updates */
        if (pick(c, a, sizeof a, "SELECT id FROM farmers ORDER BY id"))
            sql(s, c, "DELETE FROM farmers WHERE id='%s'", a);
    } else if (op < 65) {
        lm_replica_new_id(c->r, id);
        sql(s, c,
            "INSERT INTO receipts(id,route_id,warehouse,product,grade,weight_g,received_at)"
            " VALUES('%s','r','W%u','apple','A',%u,%llu)",
            id, rn(3), rn(100000), (unsigned long long)s->now);
    } else if (op < 72) {
        if (pick(c, a, sizeof a, "SELECT id FROM receipts ORDER BY id"))
            sql(s, c, "UPDATE receipts SET weight_g=%u WHERE id='%s'", rn(100000), a);
    } else if (op < 82) { /* a correction by hq */
        if (pick(c, a, sizeof a, "SELECT id FROM collections ORDER BY id")) {
            lm_replica_new_id(c->r, id);
            sql(s, c,
                "INSERT INTO adjustments(id,collection_id,delta_weight_g,delta_amount_fen,voided,"
                "reason,\"by\",at) VALUES('%s','%s',-100,-50,0,'audit','%s',%llu)",
                id, a, c->user, (unsigned long long)s->now);
        }
    } else if (op < 90) {
        if (pick(c, a, sizeof a, "SELECT id FROM routes ORDER BY id"))
            sql(s, c, "UPDATE routes SET driver='hq%u', status='%s' WHERE id='%s'", rn(9),
                statuses_route[rn(3)], a);
    } else {
        if (pick(c, a, sizeof a, "SELECT id FROM gradings ORDER BY id"))
            sql(s, c, "UPDATE gradings SET defects='d%u' WHERE id='%s'", rn(9), a);
    }
}

/* --------------------------------------------------------------- checks */

static int cell_state(node *n, const rec *w, uint64_t *hlc, uint64_t *site, uint64_t *prev)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    sqlite3_prepare_v2(lm_replica_db(n->r),
                       "SELECT v.hlc, v.site, v.prev_hlc FROM lm_versions v JOIN lm_columns c"
                       " ON c.tid = v.tid WHERE c.tbl = ?1 AND v.pk = ?2 AND"
                       " (v.cid = c.cid AND c.col = ?3 OR ?3 = '' AND v.cid = 0 OR"
                       /* a row entry (cid -1) covers the columns of its mask */
                       " v.cid = -1 AND c.col = ?3 AND (v.cols >> c.cid) & 1)",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, w->table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, w->pk, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, w->col, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *hlc = (uint64_t)sqlite3_column_int64(st, 0);
        *site = (uint64_t)sqlite3_column_int64(st, 1);
        *prev = (uint64_t)sqlite3_column_int64(st, 2);
        found = 1;
    }
    sqlite3_finalize(st);
    return found;
}

static int tomb_prev(node *n, const rec *w, uint64_t *prev)
{
    rec t = *w;
    uint64_t h, si;
    t.col[0] = 0;
    return cell_state(n, &t, &h, &si, prev);
}

static int in_conflicts(node *n, const rec *w)
{
    return qint(n,
                "SELECT count(*) FROM lm_conflicts WHERE tbl='%s' AND pk='%s' AND col='%s' AND"
                " ((winner_hlc=%lld AND winner_site=%lld) OR (loser_hlc=%lld AND"
                " loser_site=%lld))",
                w->table, w->pk, w->col, (long long)w->hlc, (long long)w->site, (long long)w->hlc,
                (long long)w->site) > 0;
}

/* A later write of the same cell by the same site that never got pushed
 * itself (overwritten where it was made) but sits in a conflict log: it
 * superseded w on w's own replica. */
static int later_same_site(node *n, const rec *w)
{
    return qint(n,
                "SELECT count(*) FROM lm_conflicts WHERE tbl='%s' AND pk='%s' AND col='%s' AND"
                " ((winner_site=%lld AND winner_hlc>%lld) OR (loser_site=%lld AND"
                " loser_hlc>%lld))",
                w->table, w->pk, w->col, (long long)w->site, (long long)w->hlc, (long long)w->site,
                (long long)w->hlc) > 0;
}

static int cmp_rec(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    int c = strcmp(x->table, y->table);
    if (!c)
        c = strcmp(x->pk, y->pk);
    if (!c)
        c = strcmp(x->col, y->col);
    if (!c)
        c = x->prev < y->prev ? -1 : x->prev > y->prev;
    return c;
}

static int superseded(sim *s, const rec *w, const rec *by_prev)
{
    /* binary search the writes sorted by (table, pk, col, prev) */
    rec key = *w;
    key.prev = w->hlc;
    if (bsearch(&key, by_prev, s->n_writes, sizeof *by_prev, cmp_rec) != NULL)
        return 1;
    /* or a later write of the same cell by the same site: sequential */
    for (size_t i = 0; i < s->n_writes; i++) {
        const rec *x = &s->writes[i];
        if (x->site == w->site && x->hlc > w->hlc && !strcmp(x->pk, w->pk) &&
            !strcmp(x->col, w->col) && !strcmp(x->table, w->table))
            return 1;
    }
    return 0;
}

/* The server's current value of w's cell equals w's: nothing of it was
 * lost (a copy's change sent again under its fresh site, which the
 * server already held: a no-op on an immutable column). */
static int same_value(sim *s, const rec *w)
{
    char q[300];
    sqlite3_stmt *st = NULL;
    int same = 0;
    if (!w->col[0])
        return 0;
    char key[64];
    if (!pick(&s->server, key, sizeof key, "SELECT name FROM pragma_table_info('%s') WHERE pk = 1",
              w->table))
        return 0;
    snprintf(q, sizeof q, "SELECT \"%s\" FROM \"%s\" WHERE \"%s\" = ?", w->col, w->table, key);
    if (sqlite3_prepare_v2(lm_replica_db(s->server.r), q, -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, w->pk, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        lm_value v;
        memset(&v, 0, sizeof v);
        switch (sqlite3_column_type(st, 0)) {
        case SQLITE_INTEGER:
            v.type = LM_VAL_INTEGER;
            v.i = sqlite3_column_int64(st, 0);
            break;
        case SQLITE_FLOAT:
            v.type = LM_VAL_FLOAT;
            v.f = sqlite3_column_double(st, 0);
            break;
        case SQLITE_TEXT:
        case SQLITE_BLOB:
            v.type = sqlite3_column_type(st, 0) == SQLITE_TEXT ? LM_VAL_TEXT : LM_VAL_BLOB;
            v.bytes = (uint8_t *)sqlite3_column_blob(st, 0);
            v.len = (size_t)sqlite3_column_bytes(st, 0);
            break;
        default:
            v.type = LM_VAL_NULL;
        }
        same = value_hash(&v) == w->value;
    }
    sqlite3_finalize(st);
    return same;
}

/* Refused at the server: its lm_refusals table, which also holds what a
 * crashed-but-committed apply refused before the ack was lost. */
static int was_refused(sim *s, const rec *w)
{
    return qint(&s->server,
                "SELECT count(*) FROM lm_refusals WHERE tbl='%s' AND pk='%s' AND col='%s' AND"
                " hlc=%lld AND site=%lld",
                w->table, w->pk, w->col, (long long)w->hlc, (long long)w->site) > 0;
}

static void check_accounted(sim *s)
{
    rec *by_prev = malloc((s->n_writes ? s->n_writes : 1) * sizeof *by_prev);
    if (!by_prev)
        abort();
    memcpy(by_prev, s->writes, s->n_writes * sizeof *by_prev);
    qsort(by_prev, s->n_writes, sizeof *by_prev, cmp_rec);
    int lost = 0;
    for (size_t i = 0; i < s->n_writes; i++) {
        const rec *w = &s->writes[i];
        uint64_t h, si, pv, tp;
        if (cell_state(&s->server, w, &h, &si, &pv) && h == w->hlc && si == w->site)
            continue;
        if (in_conflicts(&s->server, w) || superseded(s, w, by_prev) || was_refused(s, w) ||
            same_value(s, w))
            continue;
        /* lost on the writer's own replica before it reached the server
         * (e.g. its push died with the server, then a delete came down):
         * that replica's conflict log holds it */
        int elsewhere = 0;
        for (int k = 0; k < s->n_cl && !elsewhere; k++)
            elsewhere = in_conflicts(&s->cl[k], w) || later_same_site(&s->cl[k], w);
        elsewhere = elsewhere || later_same_site(&s->server, w) ||
                    (cell_state(&s->server, w, &h, &si, &pv) && si == w->site && h > w->hlc);
        if (elsewhere)
            continue;
        if (tomb_prev(&s->server, w, &tp) && tp >= w->hlc)
            continue;
        if (lost++ < 5)
            fail(s, "write not accounted for: %s/%s/%s hlc %llu site %llu", w->table, w->pk, w->col,
                 (unsigned long long)w->hlc, (unsigned long long)w->site);
    }
    if (lost)
        fail(s, "%d writes not accounted for", lost);
    free(by_prev);
}

static void ledger(node *n, const char *user, const lm_scope *sc, long long *w, long long *m,
                   long long *cnt)
{
    char in[128] = "";
    for (size_t i = 0; i < sc->n_villages; i++) {
        strcat(in, i ? ",'" : "'");
        strcat(in, sc->villages[i]);
        strcat(in, "'");
    }
    const char *f = "FROM collections c WHERE agent_id='%s' AND village IN (%s)";
    char q[512];
    snprintf(q, sizeof q,
             "SELECT COALESCE(SUM(CASE WHEN EXISTS(SELECT 1 FROM adjustments a WHERE"
             " a.collection_id=c.id AND a.voided=1) THEN 0 ELSE COALESCE(weight_g,0)+"
             "(SELECT COALESCE(SUM(delta_weight_g),0) FROM adjustments a WHERE"
             " a.collection_id=c.id) END),0) %s",
             f);
    *w = qint(n, q, user, in);
    snprintf(q, sizeof q,
             "SELECT COALESCE(SUM(CASE WHEN EXISTS(SELECT 1 FROM adjustments a WHERE"
             " a.collection_id=c.id AND a.voided=1) THEN 0 ELSE COALESCE(amount_fen,0)+"
             "(SELECT COALESCE(SUM(delta_amount_fen),0) FROM adjustments a WHERE"
             " a.collection_id=c.id) END),0) %s",
             f);
    *m = qint(n, q, user, in);
    snprintf(q, sizeof q, "SELECT count(*) %s", f);
    *cnt = qint(n, q, user, in);
}

static void check_final(sim *s)
{
    for (int i = 0; i < s->n_cl; i++) {
        node *c = &s->cl[i];
        uint8_t a[32], b[32];
        if (lm_replica_state_hash(c->r, &c->scope, a) ||
            lm_replica_state_hash(s->server.r, &c->scope, b)) {
            fail(s, "state hash failed");
            continue;
        }
        if (memcmp(a, b, 32) != 0)
            fail(s, "client %d (%s %s) diverged from the server in its scope", i,
                 lm_role_name(c->scope.role), c->user);
        if (c->scope.role == LM_ROLE_AGENT) {
            long long w1, m1, n1, w2, m2, n2;
            ledger(c, c->user, &c->scope, &w1, &m1, &n1);
            ledger(&s->server, c->user, &c->scope, &w2, &m2, &n2);
            if (w1 != w2 || m1 != m2 || n1 != n2)
                fail(s,
                     "agent %s ledger differs: %lld g %lld fen %lld rows vs server %lld g"
                     " %lld fen %lld rows",
                     c->user, w1, m1, n1, w2, m2, n2);
            /* nothing lost: every collection the agent may own reached the
             * server */
            long long mine =
                qint(c, "SELECT count(*) FROM collections WHERE agent_id='%s'", c->user);
            if (mine != n2)
                fail(s, "agent %s has %lld collections, the server %lld", c->user, mine, n2);
        }
    }
    check_accounted(s);
    /* the server's open conflicts are all in its log with both versions */
    if (qint(&s->server, "SELECT count(*) FROM lm_conflicts WHERE loser_hlc=0 OR winner_hlc=0"))
        fail(s, "conflict without both versions");
}

/* ------------------------------------------------------------------ run */

static void setup_catalog(sim *s)
{
    node *sv = &s->server;
    for (int i = 0; i < N_VILLAGES; i++)
        sql(s, sv, "INSERT INTO villages(name, county) VALUES('%s','%s')", village_names[i],
            village_county[i]);
    sql(s, sv,
        "INSERT INTO products VALUES('apple','Apple','kg'),('pear','Pear','kg');"
        "INSERT INTO grades VALUES('A','first',1),('B','second',2),('C','third',3);"
        "INSERT INTO prices VALUES('p1','apple','A',600,'2026-11-01'),"
        "('p2','apple','B',450,'2026-11-01'),('p3','pear','A',300,'2026-11-01')");
}

/* over all seeds of the run */
static unsigned total_clones, total_restores, total_new_sites;

static int run_seed(uint64_t seed, int max_agents, int max_ops, int verbose)
{
    sim s;
    memset(&s, 0, sizeof s);
    s.seed = seed;
    s.verbose = verbose;
    s.now = 1790000000000ull;
    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
    snprintf(s.dir, sizeof s.dir, "/tmp/lm_sim_XXXXXX");
    if (!mkdtemp(s.dir)) {
        perror("mkdtemp");
        return 1;
    }
    int n_agents = 2 + (int)rn((uint32_t)(max_agents - 1));
    int ops = max_ops / 2 + (int)rn((uint32_t)max_ops / 2 + 1);
    s.n_cl = 2 + n_agents;

    s.server.site = 1000;
    s.server.clk = (clockref){&s.now, 0};
    snprintf(s.server.path, sizeof s.server.path, "%s/server.db", s.dir);
    if (node_open(&s, &s.server, 1))
        goto done;
    setup_catalog(&s);
    record_server_writes(&s);
    for (int i = 0; i < s.n_cl; i++) {
        node *c = &s.cl[i];
        c->site = 2000 + (uint64_t)i * 7919 + (rnd() & 0xffff) * 100000;
        /* clocks within a minute of the server: inside the drift limit */
        c->clk = (clockref){&s.now, (int64_t)rn(120000) - 60000};
        snprintf(c->path, sizeof c->path, "%s/c%d.db", s.dir, i);
        if (i == 0) {
            snprintf(c->user, sizeof c->user, "hq-1");
            c->scope = (lm_scope){LM_ROLE_HQ, c->user, NULL, 0, NULL};
        } else if (i == 1) {
            snprintf(c->user, sizeof c->user, "disp-1");
            c->scope = (lm_scope){LM_ROLE_DISPATCHER, c->user, NULL, 0, "Wuyuan"};
        } else {
            snprintf(c->user, sizeof c->user, "agent-%d", i);
            int nv = 1 + (int)rn(2);
            int first = (int)rn(N_VILLAGES);
            for (int k = 0; k < nv; k++)
                c->villages[k] = village_names[(first + k) % N_VILLAGES];
            c->scope = (lm_scope){LM_ROLE_AGENT, c->user, c->villages, (size_t)nv, NULL};
        }
        if (node_open(&s, c, 1))
            goto done;
        pull(&s, c, 1u << 20, 100, 0);
    }

    for (int step = 0; step < ops && !s.failures; step++) {
        s.now += rn(3000);
        if (chance(5)) {
            if (copy_op(&s))
                break;
            continue;
        }
        node *c = &s.cl[rn((uint32_t)s.n_cl)];
        uint32_t what = rn(100);
        if (what < 55) {
            if (c->scope.role == LM_ROLE_AGENT)
                agent_write(&s, c);
            else if (c->scope.role == LM_ROLE_DISPATCHER)
                dispatcher_write(&s, c);
            else
                hq_write(&s, c);
        } else if (what < 78) {
            push(&s, c, chance(50) ? 200 + rn(2000) : 1u << 20, 1);
        } else {
            pull(&s, c, chance(50) ? 200 + rn(2000) : 1u << 20, 1 + (int)rn(3), 1);
        }
    }
    /* final full exchange: everything up, everything down, twice so the
     * server's own repairs made in the first round travel too */
    for (int round = 0; round < 3 && !s.failures; round++) {
        for (int i = 0; i < s.n_cl; i++)
            for (int k = 0; k < 50 && !s.failures; k++) {
                uint64_t pend = 0;
                lm_replica_pending_count(s.cl[i].r, &pend);
                if (!pend)
                    break;
                push(&s, &s.cl[i], 1u << 20, 0);
            }
        for (int i = 0; i < s.n_cl; i++)
            pull(&s, &s.cl[i], 1u << 20, 1000, 0);
    }
    if (!s.failures)
        check_final(&s);
    if (verbose || s.failures)
        printf("seed %llu: %d agents, %d ops, %zu writes, %u conflicts, %u refusals, %u crashes"
               " (%u committed first), %u dups, %u reorders, %u lost acks, %u clones, %u backups,"
               " %u restores, %u new sites: %s\n",
               (unsigned long long)seed, n_agents, ops, s.n_writes, s.conflicts, s.refusals,
               s.crashes, s.crash_committed, s.dups, s.reorders, s.lost_acks, s.clones, s.backups,
               s.restores, s.new_sites, s.failures ? "FAIL" : "ok");
    total_clones += s.clones;
    total_restores += s.restores;
    total_new_sites += s.new_sites;
done:
    lm_replica_close(s.server.r);
    for (int i = 0; i < s.n_cl; i++)
        lm_replica_close(s.cl[i].r);
    free(s.writes);
    if (!s.failures || !getenv("LM_KEEP_TMP")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", s.dir);
    } else {
        fprintf(stderr, "files kept in %s\n", s.dir);
    }
    return s.failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    uint64_t first = 1, count = 20;
    int agents = 10, ops = 150, verbose = 0, single = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            first = strtoull(argv[++i], NULL, 10);
            count = 1;
            single = 1;
        } else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) {
            count = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--first") && i + 1 < argc) {
            first = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--agents") && i + 1 < argc) {
            agents = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
            ops = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--verbose")) {
            verbose = 1;
        } else {
            fprintf(stderr,
                    "usage: sim_converge [--seed N | --seeds K [--first N]] [--agents 2..12]"
                    " [--ops K] [--verbose]\n");
            return 2;
        }
    }
    if (agents < 2)
        agents = 2;
    if (agents > MAX_AGENTS)
        agents = MAX_AGENTS;
    if (ops < 2)
        ops = 2;
    signal(SIGPIPE, SIG_IGN);
    if (make_template())
        return 1;
    int failed = 0;
    for (uint64_t k = 0; k < count; k++) {
        uint64_t seed = first + k;
        if (run_seed(seed, agents, ops, verbose || single)) {
            failed++;
            fprintf(stderr, "reproduce: sim_converge --seed %llu --agents %d --ops %d\n",
                    (unsigned long long)seed, agents, ops);
        }
    }
    unlink(template_path);
    printf("sim_converge: %llu seeds from %llu (agents <= %d, ops <= %d; %u clones, %u restores,"
           " %u copies found), %d failed\n",
           (unsigned long long)count, (unsigned long long)first, agents, ops, total_clones,
           total_restores, total_new_sites, failed);
    return failed ? 1 : 0;
}
