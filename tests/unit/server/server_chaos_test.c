/*
 * server_chaos_test.c — a seeded storm of hostile and careless clients
 * against the real binary (built with the sanitizers in CI, so a memory
 * error kills it): random message types in random states, random fields,
 * frames cut in half, random bytes, and peers that vanish while their PUSH
 * or PULL is on the thread pool. Afterwards the server must still complete
 * a handshake, stop on SIGTERM with exit code 0, and leave a sound database.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_test.h"
#include "proc.h"

#define N_ROUNDS 300

static char dir[64], db[128], logp[128];
static char out[1 << 16];
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

#define SERVER(...)                                                                                \
    lmt_run((char *[]){(char *)LM_SERVER_BIN, __VA_ARGS__, NULL}, out, sizeof out, logp)

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *const tables[] = {"collections", "farmers", "prices", "lm_users", "nope", ""};
static const char *const columns[] = {"weight_g", "village", "agent_id", "", "received_at", "x"};

/* A message of a random type with random (but encodable) fields. Strings
 * point at static text; changes at the caller's array. */
static void random_msg(lm_msg *m, lm_change *ch, uint32_t *n_ch)
{
    memset(m, 0, sizeof *m);
    m->type = 1 + (int)rnd(10);
    switch (m->type) {
    case LM_MSG_HELLO:
        m->u.hello.version = rnd(4) ? LM_PROTOCOL_VERSION : rnd(5);
        m->u.hello.user = (char *)(rnd(2) ? "a1" : "zz");
        m->u.hello.site = rnd(1000);
        m->u.hello.client = (char *)"chaos";
        break;
    case LM_MSG_PUSH:
    case LM_MSG_CHANGES:
        *n_ch = rnd(4);
        for (uint32_t i = 0; i < *n_ch; i++) {
            memset(&ch[i], 0, sizeof ch[i]);
            ch[i].table = (char *)tables[rnd(6)];
            ch[i].pk = (char *)(rnd(2) ? "c1" : "x");
            ch[i].column = (char *)columns[rnd(6)];
            ch[i].value.type = rnd(2) ? LM_VAL_INTEGER : LM_VAL_NULL;
            ch[i].value.i = (int64_t)rnd(100000) - 50000;
            ch[i].hlc = ((uint64_t)rnd(1u << 30) << 20) | rnd(1000);
            ch[i].site = rnd(1000);
            ch[i].prev_hlc = rnd(3);
            ch[i].seq = rnd(50);
        }
        if (m->type == LM_MSG_PUSH) {
            m->u.push.upto_seq = rnd(60);
            m->u.push.changes = ch;
            m->u.push.n_changes = *n_ch;
        } else {
            m->u.changes.changes = ch;
            m->u.changes.n_changes = *n_ch;
        }
        break;
    case LM_MSG_PULL:
        m->u.pull.cursor = rnd(3) ? 0 : rnd(1u << 31);
        m->u.pull.max_bytes = rnd(1u << 21);
        break;
    case LM_MSG_ERROR:
        m->u.error.code = -(int32_t)rnd(40);
        m->u.error.message = (char *)"chaos";
        break;
    case LM_MSG_WELCOME:
        m->u.welcome.role = (char *)"hq";
        break;
    default:
        break;
    }
}

/* One careless or hostile client. */
static void one_round(int port, lmt_identity *key)
{
    lmt_client c;
    if (lmt_connect(&c, port) != LM_OK) {
        CHECK(!"connect");
        return;
    }
    int authed = 0;
    if (rnd(2)) {
        lm_msg w;
        authed = lmt_handshake(&c, "a1", 500 + rnd(50), key, &w) == LM_OK;
        CHECK(authed);
        lm_msg_clear(&w);
    }
    int steps = 1 + (int)rnd(4);
    for (int s = 0; s < steps; s++) {
        lm_change ch[4];
        uint32_t n_ch = 0;
        lm_msg m;
        random_msg(&m, ch, &n_ch);
        lm_buf b;
        lm_buf_init(&b);
        if (lm_msg_encode_frame(&m, &b, 512, 0) != LM_OK) {
            lm_buf_close(&b);
            continue;
        }
        uint32_t how = rnd(10);
        if (how == 0) { /* half a frame, then gone */
            lmt_send_raw(&c, b.data, b.len / 2);
            lm_buf_close(&b);
            break;
        }
        if (how == 1) { /* flip a byte past the header */
            if (b.len > 7)
                b.data[6 + rnd((uint32_t)b.len - 6)] ^= (uint8_t)(1 + rnd(255));
        }
        if (how == 2) { /* random bytes instead */
            for (size_t i = 0; i < b.len; i++)
                b.data[i] = (uint8_t)rnd(256);
        }
        int sent = lmt_send_raw(&c, b.data, b.len) == LM_OK;
        lm_buf_close(&b);
        if (!sent)
            break;
        if (rnd(3) == 0)
            break; /* vanish with the request (maybe a store job) in flight */
        lm_msg reply;
        int rc = lmt_recv(&c, &reply);
        if (rc != LM_OK)
            break; /* the server hung up: fine */
        int type = reply.type;
        lm_msg_clear(&reply);
        if (type == LM_MSG_ERROR || type == LM_MSG_BYE)
            break;
    }
    lmt_close(&c);
}

int main(void)
{
    /* LM_CHAOS_SEED=N replays or explores another storm. */
    const char *seed = getenv("LM_CHAOS_SEED");
    if (seed && strtoull(seed, NULL, 10) != 0)
        rng_state = strtoull(seed, NULL, 10);
    snprintf(dir, sizeof dir, "/tmp/lm-server-chaos-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(db, sizeof db, "%s/server.db", dir);
    snprintf(logp, sizeof logp, "%s/server.log", dir);
    CHECK_EQ_INT(SERVER("init", "--db", db), 0);
    CHECK_EQ_INT(
        SERVER("user", "add", "--db", db, "--id", "a1", "--role", "agent", "--villages", "shangba"),
        0);
    lmt_identity key;
    CHECK_EQ_INT(lmt_identity_init(&key, out), 0);

    pid_t pid;
    int port;
    char *argv[] = {(char *)LM_SERVER_BIN,
                    (char *)"serve",
                    (char *)"--db",
                    db,
                    (char *)"--listen",
                    (char *)"127.0.0.1:0",
                    (char *)"--log-level",
                    (char *)"error",
                    (char *)"--insecure-plaintext",
                    NULL};
    if (lmt_serve_start(argv, logp, &pid, &port) != 0) {
        CHECK(!"server started");
        return lm_test_done("server_chaos");
    }
    for (int i = 0; i < N_ROUNDS; i++)
        one_round(port, &key);

    lmt_client c;
    lm_msg w;
    CHECK_RC(lmt_connect(&c, port), LM_OK);
    CHECK_RC(lmt_handshake(&c, "a1", 9999, &key, &w), LM_OK);
    lm_msg_clear(&w);
    lmt_close(&c);
    CHECK_EQ_INT(kill(pid, SIGTERM), 0);
    CHECK_EQ_INT(lmt_wait_exit(pid, 20000), 0);

    sqlite3 *h = NULL;
    CHECK_EQ_INT(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK_EQ_INT(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(h);

    if (lm_test_failures || getenv("LM_KEEP")) {
        fprintf(stderr, "server log and database kept in %s\n", dir);
    } else {
        char cmd[160];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    lmt_identity_close(&key);
    return lm_test_done("server_chaos");
}
