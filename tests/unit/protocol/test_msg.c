/*
 * test_msg.c — message codec: round trip of every message and of arbitrary
 * change lists, forward compatibility, every refusal with its code and field
 * path, hostile counts refused without allocating, msgpack-c as an oracle,
 * allocation failure at every point.
 */
#include <msgpack.h>

#include "mp.h"
#include "proto_util.h"

/* Random change list exercising every corner of the compact layout: runs
 * that group, interleaving, deletes, extreme hlc/seq/site, every value type. */
static lm_change *random_changes(uint32_t n)
{
    static const char *tables[] = {"collections", "farmers", "routes"};
    static const char *pks[] = {"01JD00000000000000000000AA", "b", ""};
    static const char *cols[] = {"id", "x", "", "weight_g"};
    lm_change *ch = lm_calloc(n ? n : 1, sizeof *ch);
    for (uint32_t i = 0; i < n; i++) {
        lm_change *prev = i ? &ch[i - 1] : NULL;
        uint8_t blob[5] = {0, 1, 2, 0xff, 0x80};
        lm_value v;
        switch (pu_rnd() % 12) {
        case 0:
            v = pu_int(INT64_MIN);
            break;
        case 1:
            v = pu_int(INT64_MAX);
            break;
        case 2:
            v = pu_int((int64_t)pu_rnd() - 2000000000);
            break;
        case 3:
            v = (lm_value){LM_VAL_FLOAT, 0, 0.5, NULL, 0};
            break;
        case 4:
            v = (lm_value){LM_VAL_FLOAT, 0, pu_rnd() % 2 ? NAN : -0.0, NULL, 0};
            break;
        case 5:
            v = (lm_value){LM_VAL_FLOAT, 0, 1e300 * (pu_rnd() % 3), NULL, 0};
            break;
        case 6:
            v = (lm_value){LM_VAL_TEXT, 0, 0, (uint8_t *)"a\0b", 3};
            break;
        case 7:
            v = pu_text("");
            break;
        case 8:
            v = (lm_value){LM_VAL_BLOB, 0, 0, pu_rnd() % 2 ? blob : NULL, pu_rnd() % 2 ? 5 : 0};
            if (!v.bytes)
                v.len = 0;
            break;
        case 9:
            v = pu_text("walnut");
            break;
        default:
            v = (lm_value){LM_VAL_NULL, 0, 0, NULL, 0};
            break;
        }
        int same = prev && pu_rnd() % 3 != 0;
        uint64_t r64 = (uint64_t)pu_rnd() << 32 | pu_rnd();
        uint64_t hlc = same ? prev->hlc : (pu_rnd() % 4 == 0 ? UINT64_MAX - pu_rnd() % 2 : r64);
        uint64_t site = same ? prev->site : (uint64_t[]){1, 2, UINT64_MAX, 0}[pu_rnd() % 4];
        uint64_t pseq = prev ? prev->seq : 0;
        uint64_t seq = (uint64_t[]){pseq, pseq + 1, r64, 0, UINT64_MAX, pseq - 1}[pu_rnd() % 6];
        pu_change(&ch[i], same ? prev->table : tables[pu_rnd() % 3],
                  same ? prev->pk : pks[pu_rnd() % 3], cols[pu_rnd() % 4], &v, hlc, site,
                  pu_rnd() % 2 ? 0 : r64 ^ 0x5555, seq);
    }
    return ch;
}

/* A sample of every message type, owning its data. */
static void sample(int type, lm_msg *m, uint32_t n_changes)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    switch (type) {
    case LM_MSG_HELLO:
        m->u.hello = (lm_msg_hello){LM_PROTOCOL_VERSION,
                                    lm_strdup("agent-007"),
                                    UINT64_C(0xfeedface12345678),
                                    lm_strdup("lastmile/0.1.0"),
                                    1,
                                    4242,
                                    LM_FEATURE_ACK_STAMPS,
                                    {7, 7, 7},
                                    {9, 9, 9},
                                    1,
                                    {5}};
        break;
    case LM_MSG_WELCOME:
        m->u.welcome = (lm_msg_welcome){.server_time_ms = UINT64_C(1764300000999),
                                        .server_site = 1,
                                        .push_watermark = 4711,
                                        .server_seq = UINT64_MAX,
                                        .role = lm_strdup("dispatcher"),
                                        .max_frame = 262144,
                                        .has_next_identity = 1,
                                        .push_digest = UINT64_C(0x7fffffffffffffff)};
        memset(m->u.welcome.next_identity, 0x6b, 32);
        break;
    case LM_MSG_PUSH:
        m->u.push.upto_seq = 123456789;
        m->u.push.changes = random_changes(n_changes);
        m->u.push.n_changes = n_changes;
        break;
    case LM_MSG_PUSH_ACK:
        m->u.push_ack.upto_seq = 99;
        m->u.push_ack.applied = 40;
        m->u.push_ack.conflicts = 2;
        m->u.push_ack.n_refusals = 3;
        m->u.push_ack.refusals = lm_calloc(3, sizeof(lm_refusal));
        m->u.push_ack.refusals[0] = (lm_refusal){0, LM_EIMMUTABLE, lm_strdup("weight_g")};
        m->u.push_ack.refusals[1] = (lm_refusal){7, LM_ESCOPE, NULL};
        m->u.push_ack.refusals[2] = (lm_refusal){UINT32_MAX, INT32_MIN, lm_strdup("")};
        m->u.push_ack.n_stamps = 2;
        m->u.push_ack.stamps = lm_calloc(2, sizeof(lm_stamp_range));
        m->u.push_ack.stamps[0] = (lm_stamp_range){UINT64_MAX, 1764300000123, 0, 0};
        m->u.push_ack.stamps[1] = (lm_stamp_range){12345, 0, 7, LM_MAX_CHANGES - 1};
        break;
    case LM_MSG_PULL:
        m->u.pull = (lm_msg_pull){UINT64_C(1) << 40, 65536};
        break;
    case LM_MSG_CHANGES:
        m->u.changes.next_cursor = 77;
        m->u.changes.more = 1;
        m->u.changes.changes = random_changes(n_changes);
        m->u.changes.n_changes = n_changes;
        break;
    case LM_MSG_ERROR:
        m->u.error = (lm_msg_error){LM_EDENIED, lm_strdup("role agent may not write routes")};
        break;
    case LM_MSG_BYE:
        m->u.bye.reason = NULL;
        break;
    }
}

static int round_trip(const lm_msg *m)
{
    lm_buf b;
    lm_msg out;
    char err[200];
    lm_buf_init(&b);
    int rc = lm_msg_encode(m, &b);
    if (rc == LM_OK) {
        rc = lm_msg_decode(m->type, b.data, b.len, &out, err, sizeof err);
        if (rc != LM_OK)
            fprintf(stderr, "decode %s: %s\n", lm_errname(rc), err);
        else if (!pu_msg_eq(m, &out))
            rc = LM_ECONFLICT;
        lm_msg_clear(&out);
    }
    lm_buf_close(&b);
    return rc;
}

static void test_round_trips(void)
{
    lm_test_heap_install(0);
    for (int t = LM_MSG_HELLO; t <= LM_MSG_BYE; t++) {
        if (t == 2 || t == 3) /* retired CHALLENGE, AUTH: unknown types now */
            continue;
        for (uint32_t n = 0; n < 60; n += 7) {
            lm_msg m;
            sample(t, &m, n);
            CHECK_RC(round_trip(&m), LM_OK);
            lm_msg_clear(&m);
            if (t != LM_MSG_PUSH && t != LM_MSG_CHANGES)
                break;
        }
    }
    /* CHALLENGE (2) and AUTH (3) of protocol 1 are retired: unknown now */
    lm_msg m;
    const uint8_t empty_map = 0x80;
    CHECK_RC(lm_msg_decode(2, &empty_map, 1, &m, NULL, 0), LM_EUNKNOWNTYPE);
    CHECK_RC(lm_msg_decode(3, &empty_map, 1, &m, NULL, 0), LM_EUNKNOWNTYPE);
    /* optional fields present and absent */
    sample(LM_MSG_BYE, &m, 0);
    m.u.bye.reason = lm_strdup("draining");
    CHECK_RC(round_trip(&m), LM_OK);
    lm_msg_clear(&m);
    sample(LM_MSG_HELLO, &m, 0);
    lm_free(m.u.hello.client);
    m.u.hello.client = NULL;
    CHECK_RC(round_trip(&m), LM_OK);
    lm_msg_clear(&m);

    /* many random change lists, including long ones, half of them with
     * integers as deltas (INT64_MIN next to INT64_MAX among them: the
     * difference wraps) */
    for (int i = 0; i < 200; i++) {
        sample(i % 2 ? LM_MSG_PUSH : LM_MSG_CHANGES, &m, pu_rnd() % (i % 10 == 0 ? 2000 : 40));
        if (i % 4 >= 2 && m.type == LM_MSG_PUSH)
            m.u.push.int_deltas = 1;
        else if (i % 4 >= 2)
            m.u.changes.int_deltas = 1;
        CHECK_RC(round_trip(&m), LM_OK);
        lm_msg_clear(&m);
    }
    /* realistic records, both seq conventions */
    for (int step = 0; step <= 1; step++) {
        memset(&m, 0, sizeof m);
        m.type = LM_MSG_PUSH;
        m.u.push.changes = pu_collections(50, step, 42, &m.u.push.n_changes);
        CHECK_RC(round_trip(&m), LM_OK);
        m.u.push.int_deltas = 1;
        CHECK_RC(round_trip(&m), LM_OK);
        lm_msg_clear(&m);
    }
    lm_test_heap_check_clean("round trips");
}

static size_t encoded_size(const lm_msg *m)
{
    lm_buf b;
    lm_buf_init(&b);
    CHECK_RC(lm_msg_encode(m, &b), LM_OK);
    size_t n = b.len;
    lm_buf_close(&b);
    return n;
}

/* Grouping must pay: a record's changes cost far less than if each change
 * stood alone, whichever seq convention the replica uses. */
static void test_compactness(void)
{
    lm_msg m = {.type = LM_MSG_PUSH};
    for (int step = 0; step <= 1; step++) {
        m.u.push.changes = pu_collections(100, step, UINT64_C(0x1234567890), &m.u.push.n_changes);
        size_t grouped = encoded_size(&m);
        /* the same changes with a distinct hlc each can no longer group */
        for (uint32_t i = 0; i < m.u.push.n_changes; i++)
            m.u.push.changes[i].hlc += i % 12;
        size_t flat = encoded_size(&m);
        CHECK(grouped * 10 < flat * 7);
        /* the per-change overhead beyond the values themselves stays small:
         * count the bytes of all TEXT values as a floor */
        size_t text = 0;
        for (uint32_t i = 0; i < m.u.push.n_changes; i++)
            text += m.u.push.changes[i].value.len;
        CHECK(grouped < text + 12 * (size_t)m.u.push.n_changes);
        lm_msg_clear(&m);
        m.type = LM_MSG_PUSH;
    }
}

/* Integer deltas: records whose timestamps climb a few ms apart take fewer
 * bytes with them, and an integer never costs more than it would alone. */
static void test_int_deltas(void)
{
    lm_msg m = {.type = LM_MSG_PUSH};
    m.u.push.changes = pu_collections(100, 0, UINT64_C(0x1234567890), &m.u.push.n_changes);
    int64_t t = INT64_C(1796600771175);
    for (uint32_t i = 0; i < m.u.push.n_changes; i++)
        if (m.u.push.changes[i].value.type == LM_VAL_INTEGER)
            m.u.push.changes[i].value.i = t += 47; /* every integer a timestamp */
    size_t plain = encoded_size(&m);
    m.u.push.int_deltas = 1;
    size_t delta = encoded_size(&m);
    CHECK(delta < plain);
    /* small integers that do not repeat: no delta is shorter, nothing changes */
    for (uint32_t i = 0; i < m.u.push.n_changes; i++)
        if (m.u.push.changes[i].value.type == LM_VAL_INTEGER)
            m.u.push.changes[i].value.i = (int64_t)(i % 100);
    size_t small_delta = encoded_size(&m);
    m.u.push.int_deltas = 0;
    CHECK_EQ_INT(small_delta, encoded_size(&m));
    lm_msg_clear(&m);
}

/* lm_push_rows: the rows of a PUSH read from its header, never more than
 * its changes and at least one for a non-empty batch; garbage is
 * LM_EMALFORMED, a PULL has no rows. */
static void test_push_rows(void)
{
    lm_msg m = {.type = LM_MSG_PUSH};
    m.u.push.changes = pu_collections(100, 0, UINT64_C(0x1234567890), &m.u.push.n_changes);
    lm_buf b;
    lm_buf_init(&b);
    CHECK_RC(lm_msg_encode(&m, &b), LM_OK);
    uint32_t rows = 0;
    CHECK_RC(lm_push_rows(b.data, b.len, &rows), LM_OK);
    CHECK(rows >= 100 && rows <= m.u.push.n_changes);
    /* with a distinct hlc each, every change is a row of its own */
    for (uint32_t i = 0; i < m.u.push.n_changes; i++)
        m.u.push.changes[i].hlc += i;
    lm_buf_reset(&b);
    CHECK_RC(lm_msg_encode(&m, &b), LM_OK);
    CHECK_RC(lm_push_rows(b.data, b.len, &rows), LM_OK);
    CHECK_EQ_INT(rows, m.u.push.n_changes);
    CHECK_RC(lm_push_rows(b.data, 3, &rows), LM_EMALFORMED);
    const uint8_t junk[] = {0xc1, 0x00};
    CHECK_RC(lm_push_rows(junk, sizeof junk, &rows), LM_EMALFORMED);
    lm_msg_clear(&m);
    lm_msg pull = {.type = LM_MSG_PULL};
    pull.u.pull.cursor = 7;
    pull.u.pull.max_bytes = 1024;
    lm_buf_reset(&b);
    CHECK_RC(lm_msg_encode(&pull, &b), LM_OK);
    CHECK_RC(lm_push_rows(b.data, b.len, &rows), LM_OK);
    CHECK_EQ_INT(rows, 0);
    lm_buf_close(&b);
}

/* ------------------------------------------------------ hand-made inputs */

typedef struct pb {
    lm_buf b;
    lm__mp_writer w;
} pb;

static void pb_init(pb *p)
{
    lm_buf_init(&p->b);
    p->w = (lm__mp_writer){&p->b, LM_OK};
}

static int decode_pb(pb *p, int type, char *err, size_t n)
{
    lm_msg m;
    CHECK_RC(p->w.rc, LM_OK);
    int rc = lm_msg_decode(type, p->b.data, p->b.len, &m, err, n);
    if (rc == LM_OK)
        lm_msg_clear(&m);
    lm_buf_close(&p->b);
    return rc;
}

/* A PUSH_ACK's required fields, then the key of the list under test. */
static void ack_head(pb *p, const char *list_key)
{
    pb_init(p);
    lm__mp_put_map(&p->w, 4);
    lm__mp_put_cstr(&p->w, "u");
    lm__mp_put_u64(&p->w, 1);
    lm__mp_put_cstr(&p->w, "a");
    lm__mp_put_u64(&p->w, 1);
    lm__mp_put_cstr(&p->w, "c");
    lm__mp_put_u64(&p->w, 0);
    lm__mp_put_cstr(&p->w, list_key);
}

#define EXPECT_ERR(p, type, want_rc, want_text)                                                    \
    do {                                                                                           \
        char err_[200] = "";                                                                       \
        CHECK_RC(decode_pb(p, type, err_, sizeof err_), want_rc);                                  \
        if (!strstr(err_, want_text)) {                                                            \
            lm_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, err_,      \
                    want_text);                                                                    \
        }                                                                                          \
        lm_test_checks++;                                                                          \
    } while (0)

static void hello_fields(lm__mp_writer *w, int skip, const char *user)
{
    if (skip != 0) {
        lm__mp_put_cstr(w, "v");
        lm__mp_put_u64(w, 1);
    }
    if (skip != 1) {
        lm__mp_put_cstr(w, "u");
        lm__mp_put_cstr(w, user);
    }
    if (skip != 2) {
        lm__mp_put_cstr(w, "s");
        lm__mp_put_u64(w, 9);
    }
    uint8_t zeros[64] = {0};
    lm__mp_put_cstr(w, "k"); /* the device key and signature: always */
    lm__mp_put_bin(w, zeros, 32);
    lm__mp_put_cstr(w, "g");
    lm__mp_put_bin(w, zeros, 64);
}

static void test_field_errors(void)
{
    pb p;
    lm_test_heap_install(0);

    /* unknown keys from a newer peer are skipped, whatever they hold */
    pb_init(&p);
    lm__mp_put_map(&p.w, 7);
    lm__mp_put_cstr(&p.w, "zz");
    lm__mp_put_array(&p.w, 2);
    lm__mp_put_map(&p.w, 1);
    lm__mp_put_cstr(&p.w, "k");
    lm__mp_put_bin(&p.w, "xy", 2);
    lm__mp_put_double(&p.w, 1.5);
    hello_fields(&p.w, -1, "u1");
    lm__mp_put_cstr(&p.w, "future_flag");
    lm__mp_put_bool(&p.w, 1);
    {
        lm_msg m;
        CHECK_RC(lm_msg_decode(LM_MSG_HELLO, p.b.data, p.b.len, &m, NULL, 0), LM_OK);
        CHECK_STR(m.u.hello.user, "u1");
        CHECK_EQ_INT(m.u.hello.site, 9);
        CHECK(m.u.hello.client == NULL);
        lm_msg_clear(&m);
        lm_buf_close(&p.b);
    }

    /* an older server's WELCOME, without max_frame: 0, "not said" */
    pb_init(&p);
    lm__mp_put_map(&p.w, 5);
    const char *keys[] = {"t", "s", "w", "q"};
    for (int i = 0; i < 4; i++) {
        lm__mp_put_cstr(&p.w, keys[i]);
        lm__mp_put_u64(&p.w, (uint64_t)i + 1);
    }
    lm__mp_put_cstr(&p.w, "r");
    lm__mp_put_cstr(&p.w, "agent");
    {
        lm_msg m;
        CHECK_RC(lm_msg_decode(LM_MSG_WELCOME, p.b.data, p.b.len, &m, NULL, 0), LM_OK);
        CHECK_EQ_INT(m.u.welcome.server_seq, 4);
        CHECK_EQ_INT(m.u.welcome.max_frame, 0);
        lm_msg_clear(&m);
        lm_buf_close(&p.b);
    }

    /* missing required field */
    pb_init(&p);
    lm__mp_put_map(&p.w, 4);
    hello_fields(&p.w, 1, "u");
    EXPECT_ERR(&p, LM_MSG_HELLO, LM_EMISSING, "HELLO.user: required field missing");

    /* wrong types */
    pb_init(&p);
    lm__mp_put_map(&p.w, 5);
    hello_fields(&p.w, 2, "u");
    lm__mp_put_cstr(&p.w, "s");
    lm__mp_put_cstr(&p.w, "nine");
    EXPECT_ERR(&p, LM_MSG_HELLO, LM_ETYPE, "HELLO.site: expected integer, got str");
    pb_init(&p);
    lm__mp_put_array(&p.w, 0);
    EXPECT_ERR(&p, LM_MSG_BYE, LM_ETYPE, "BYE.map: expected map, got array");
    pb_init(&p);
    lm__mp_put_map(&p.w, 1);
    lm__mp_put_u64(&p.w, 1);
    lm__mp_put_u64(&p.w, 1);
    EXPECT_ERR(&p, LM_MSG_BYE, LM_ETYPE, "BYE.key: expected str");

    /* out of range */
    pb_init(&p);
    lm__mp_put_map(&p.w, 5);
    hello_fields(&p.w, 0, "u");
    lm__mp_put_cstr(&p.w, "v");
    lm__mp_put_u64(&p.w, UINT64_C(1) << 32);
    EXPECT_ERR(&p, LM_MSG_HELLO, LM_ERANGE, "HELLO.version");
    pb_init(&p);
    lm__mp_put_map(&p.w, 5);
    hello_fields(&p.w, 2, "u");
    lm__mp_put_cstr(&p.w, "s");
    lm__mp_put_i64(&p.w, -1);
    EXPECT_ERR(&p, LM_MSG_HELLO, LM_ERANGE, "HELLO.site");
    pb_init(&p);
    lm__mp_put_map(&p.w, 1);
    lm__mp_put_cstr(&p.w, "c");
    lm__mp_put_i64(&p.w, INT64_C(1) << 31);
    EXPECT_ERR(&p, LM_MSG_ERROR, LM_ERANGE, "ERROR.code");
    pb_init(&p);
    lm__mp_put_map(&p.w, 1);
    lm__mp_put_cstr(&p.w, "n");
    lm__mp_put_bin(&p.w, "short", 5);
    EXPECT_ERR(&p, LM_MSG_WELCOME, LM_ERANGE, "WELCOME.next_identity: must be 32 bytes");
    pb_init(&p);
    lm__mp_put_map(&p.w, 4);
    lm__mp_put_cstr(&p.w, "n");
    lm__mp_put_u64(&p.w, 1);
    lm__mp_put_cstr(&p.w, "m");
    lm__mp_put_u64(&p.w, 2);
    lm__mp_put_cstr(&p.w, "d");
    lm__mp_put_array(&p.w, 0);
    lm__mp_put_cstr(&p.w, "r");
    lm__mp_put_array(&p.w, 0);
    EXPECT_ERR(&p, LM_MSG_CHANGES, LM_ERANGE, "CHANGES.more");

    /* over-long strings */
    char long_user[LM_MAX_NAME + 2];
    memset(long_user, 'u', sizeof long_user - 1);
    long_user[sizeof long_user - 1] = 0;
    pb_init(&p);
    lm__mp_put_map(&p.w, 5);
    hello_fields(&p.w, -1, long_user);
    EXPECT_ERR(&p, LM_MSG_HELLO, LM_ETOOBIG, "HELLO.user: string longer than 64");
    long_user[LM_MAX_NAME] = 0; /* exactly at the limit is fine */
    pb_init(&p);
    lm__mp_put_map(&p.w, 5);
    hello_fields(&p.w, -1, long_user);
    CHECK_RC(decode_pb(&p, LM_MSG_HELLO, NULL, 0), LM_OK);

    /* NUL inside a string, duplicate keys, trailing bytes */
    pb_init(&p);
    lm__mp_put_map(&p.w, 1);
    lm__mp_put_cstr(&p.w, "r");
    lm__mp_put_str(&p.w, "a\0b", 3);
    EXPECT_ERR(&p, LM_MSG_BYE, LM_EMALFORMED, "BYE.reason: string contains a NUL");
    pb_init(&p);
    lm__mp_put_map(&p.w, 2);
    lm__mp_put_cstr(&p.w, "r");
    lm__mp_put_cstr(&p.w, "a");
    lm__mp_put_cstr(&p.w, "r");
    lm__mp_put_cstr(&p.w, "b");
    EXPECT_ERR(&p, LM_MSG_BYE, LM_EMALFORMED, "BYE.reason: duplicate key");
    pb_init(&p);
    lm__mp_put_map(&p.w, 0);
    lm__mp_put_nil(&p.w);
    EXPECT_ERR(&p, LM_MSG_BYE, LM_EMALFORMED, "trailing");
    pb_init(&p);
    EXPECT_ERR(&p, LM_MSG_BYE, LM_ETRUNC, "BYE.map");
    pb_init(&p);
    lm__mp_put_map(&p.w, 0);
    EXPECT_ERR(&p, 99, LM_EUNKNOWNTYPE, "type");
    pb_init(&p);
    uint8_t reserved = 0xc1;
    lm_buf_append(&p.b, &reserved, 1);
    EXPECT_ERR(&p, LM_MSG_BYE, LM_EMALFORMED, "BYE.map");

    /* refusals: short entry, bad code */
    ack_head(&p, "f");
    lm__mp_put_array(&p.w, 2);
    lm__mp_put_array(&p.w, 3);
    lm__mp_put_u64(&p.w, 0);
    lm__mp_put_i64(&p.w, -16);
    lm__mp_put_nil(&p.w);
    lm__mp_put_array(&p.w, 2);
    lm__mp_put_u64(&p.w, 1);
    lm__mp_put_i64(&p.w, -16);
    EXPECT_ERR(&p, LM_MSG_PUSH_ACK, LM_EMISSING, "PUSH_ACK.refusals[1]: needs");

    /* stamps: short entry, lo after hi, index beyond any PUSH */
    for (int bad = 0; bad < 3; bad++) {
        ack_head(&p, "s");
        lm__mp_put_array(&p.w, 1);
        lm__mp_put_array(&p.w, bad == 0 ? 3 : 4);
        lm__mp_put_u64(&p.w, UINT64_MAX);
        lm__mp_put_u64(&p.w, 1764300000000);
        lm__mp_put_u64(&p.w, bad == 1 ? 5 : 0);
        if (bad)
            lm__mp_put_u64(&p.w, bad == 1 ? 4 : LM_MAX_CHANGES);
        if (bad == 0)
            EXPECT_ERR(&p, LM_MSG_PUSH_ACK, LM_EMISSING, "PUSH_ACK.stamps[0]: needs");
        else if (bad == 1)
            EXPECT_ERR(&p, LM_MSG_PUSH_ACK, LM_ERANGE, "PUSH_ACK.stamps[0]: lo 5 is after hi 4");
        else
            EXPECT_ERR(&p, LM_MSG_PUSH_ACK, LM_ERANGE, "PUSH_ACK.stamps[0].hi: out of range");
    }
    lm_test_heap_check_clean("field errors");
}

/* Writes a PUSH with one hand-made row; `variant` breaks one thing:
 * 0 valid, 1 table index out of range, 2 pk too long, 3 no columns, 4 value
 * too long, 5 `false` as value, 6 NUL in a name, 7 valid with every option
 * (dseq, prev_hlc, pk-valued column, site, unknown trailing row fields),
 * 8 entry cut short, 9 column index out of range. */
static void push_with_row(pb *p, int variant)
{
    pb_init(p);
    lm__mp_writer *w = &p->w;
    lm__mp_put_map(w, 3);
    lm__mp_put_cstr(w, "r"); /* rows before the dictionary: order is free */
    lm__mp_put_array(w, variant == 13 ? 2 : 1);
    lm__mp_put_array(w, variant == 7 ? 8 : 5);
    lm__mp_put_u64(w, variant == 1 ? 5 : 0); /* table index */
    if (variant == 2) {
        char pk[LM_MAX_PK + 2];
        memset(pk, 'k', sizeof pk - 1);
        pk[sizeof pk - 1] = 0;
        lm__mp_put_cstr(w, pk);
    } else {
        lm__mp_put_cstr(w, "pk1");
    }
    lm__mp_put_i64(w, 1000);
    lm__mp_put_i64(w, 2 * 7 + 1); /* first dseq 7, step 1 */
    if (variant == 3) {
        lm__mp_put_array(w, 0);
    } else if (variant == 8) {
        lm__mp_put_array(w, 2);
        lm__mp_put_u64(w, 1 << 2 | 1); /* says prev_hlc follows, but nothing does */
        lm__mp_put_u64(w, 42);
    } else {
        lm__mp_put_array(w, variant == 7 ? 8 : 5);
        lm__mp_put_u64(w, variant == 9 ? 9 << 2 : variant == 7 ? 1 << 2 | 2 : 1 << 2);
        if (variant == 4) {
            uint8_t *big = calloc(1, LM_MAX_VALUE + 1);
            lm__mp_put_str(w, big, LM_MAX_VALUE + 1);
            free(big);
        } else if (variant == 5) {
            lm__mp_put_bool(w, 0);
        } else if (variant == 10 || variant == 11) {
            lm__mp_put_ext_int(w, variant == 10 ? 1 : 2, 5);
        } else if (variant == 12) {
            static const uint8_t ext16[18] = {0xd8, 1};
            lm_buf_append(&p->b, ext16, sizeof ext16);
        } else {
            lm__mp_put_u64(w, 42);
        }
        if (variant == 7)
            lm__mp_put_i64(w, 1);      /* explicit dseq */
        lm__mp_put_u64(w, 2 << 2 | 1); /* the tombstone column, with prev_hlc */
        lm__mp_put_nil(w);
        lm__mp_put_u64(w, 77);
        if (variant == 7) {
            lm__mp_put_u64(w, 3 << 2); /* "id", value = the pk */
            lm__mp_put_bool(w, 1);
        }
    }
    if (variant == 7) { /* site, then two unknown trailing row fields */
        lm__mp_put_u64(w, 3);
        lm__mp_put_map(w, 0);
        lm__mp_put_cstr(w, "x");
    }
    if (variant == 13) { /* a second row: weight_g as a delta from 42 */
        lm__mp_put_array(w, 5);
        lm__mp_put_u64(w, 0);
        lm__mp_put_cstr(w, "pk2");
        lm__mp_put_i64(w, 1);
        lm__mp_put_i64(w, 2);
        lm__mp_put_array(w, 4);
        lm__mp_put_u64(w, 1 << 2);
        lm__mp_put_ext_int(w, 1, -50);
        lm__mp_put_u64(w, 2 << 2);
        lm__mp_put_nil(w);
    }
    lm__mp_put_cstr(w, "d");
    lm__mp_put_array(w, 4);
    lm__mp_put_cstr(w, "collections");
    lm__mp_put_str(w, variant == 6 ? "we\0ght" : "weight_g", variant == 6 ? 6 : 8);
    lm__mp_put_cstr(w, "");
    lm__mp_put_cstr(w, "id");
    lm__mp_put_cstr(w, "u");
    lm__mp_put_u64(w, 5);
}

static void test_change_errors(void)
{
    pb p;
    lm_test_heap_install(0);

    /* a valid row using every option, with unknown trailing row fields */
    push_with_row(&p, 7);
    {
        lm_msg m;
        char err[200];
        CHECK_RC(lm_msg_decode(LM_MSG_PUSH, p.b.data, p.b.len, &m, err, sizeof err), LM_OK);
        CHECK_EQ_INT(m.u.push.n_changes, 3);
        if (m.u.push.n_changes == 3) {
            lm_change *c = m.u.push.changes;
            CHECK_STR(c[0].table, "collections");
            CHECK_STR(c[0].column, "weight_g");
            CHECK_STR(c[0].pk, "pk1");
            CHECK_EQ_INT(c[0].value.i, 42);
            CHECK_EQ_INT(c[0].hlc, 1000);
            CHECK_EQ_INT(c[0].site, 3);
            CHECK_EQ_INT(c[0].prev_hlc, 0);
            CHECK_EQ_INT(c[0].seq, 1); /* explicit dseq 1 replaces the row's 7 */
            CHECK_STR(c[1].column, "");
            CHECK_EQ_INT(c[1].value.type, LM_VAL_NULL);
            CHECK_EQ_INT(c[1].prev_hlc, 77);
            CHECK_EQ_INT(c[1].seq, 2); /* then the row's step 1 */
            CHECK_STR(c[2].column, "id");
            CHECK_EQ_INT(c[2].value.type, LM_VAL_TEXT);
            CHECK_STR((const char *)c[2].value.bytes, "pk1");
            CHECK_EQ_INT(c[2].seq, 3);
        }
        lm_msg_clear(&m);
        lm_buf_close(&p.b);
    }
    push_with_row(&p, 0);
    {
        lm_msg m;
        CHECK_RC(lm_msg_decode(LM_MSG_PUSH, p.b.data, p.b.len, &m, NULL, 0), LM_OK);
        CHECK_EQ_INT(m.u.push.n_changes, 2);
        if (m.u.push.n_changes == 2) {
            CHECK_EQ_INT(m.u.push.changes[0].seq, 7);
            CHECK_EQ_INT(m.u.push.changes[1].seq, 8);
            CHECK_EQ_INT(m.u.push.changes[0].site, 0);
        }
        lm_msg_clear(&m);
        lm_buf_close(&p.b);
    }
    push_with_row(&p, 1);
    EXPECT_ERR(&p, LM_MSG_PUSH, LM_ERANGE, "PUSH.rows[0].table: not an index");
    push_with_row(&p, 2);
    EXPECT_ERR(&p, LM_MSG_PUSH, LM_ETOOBIG, "PUSH.rows[0].pk: string longer than 128");
    push_with_row(&p, 3);
    EXPECT_ERR(&p, LM_MSG_PUSH, LM_EMISSING, "PUSH.rows[0].cols: empty");
    push_with_row(&p, 4);
    EXPECT_ERR(&p, LM_MSG_PUSH, LM_ETOOBIG, "PUSH.rows[0].cols[0].value");
    push_with_row(&p, 5);
    EXPECT_ERR(&p, LM_MSG_PUSH, LM_ETYPE, "PUSH.rows[0].cols[0].value");
    push_with_row(&p, 6);
    EXPECT_ERR(&p, LM_MSG_PUSH, LM_EMALFORMED, "NUL");
    push_with_row(&p, 8);
    EXPECT_ERR(&p, LM_MSG_PUSH, LM_EMISSING, "PUSH.rows[0].cols[0]: entry cut short");
    push_with_row(&p, 9);
    EXPECT_ERR(&p, LM_MSG_PUSH, LM_ERANGE, "PUSH.rows[0].cols[0].column: not an index");
    /* integer deltas: a delta with no integer before it in its column, an
     * ext of another type, a delta of a width msgpack's fixext allows but
     * the protocol does not (16 bytes), and one cut short */
    push_with_row(&p, 10);
    EXPECT_ERR(&p, LM_MSG_PUSH, LM_EMISSING, "PUSH.rows[0].cols[0].value: a delta with no");
    push_with_row(&p, 11);
    EXPECT_ERR(&p, LM_MSG_PUSH, LM_ETYPE, "PUSH.rows[0].cols[0].value: an ext other");
    push_with_row(&p, 12);
    EXPECT_ERR(&p, LM_MSG_PUSH, LM_ETYPE, "PUSH.rows[0].cols[0].value: an ext other");
    /* a valid pair: 42, then 42 - 50 in the same column of the next row */
    push_with_row(&p, 13);
    {
        lm_msg m;
        char err[200];
        CHECK_RC(lm_msg_decode(LM_MSG_PUSH, p.b.data, p.b.len, &m, err, sizeof err), LM_OK);
        CHECK_EQ_INT(m.u.push.n_changes, 4);
        if (m.u.push.n_changes == 4) {
            CHECK_EQ_INT(m.u.push.changes[0].value.i, 42);
            CHECK_EQ_INT(m.u.push.changes[2].value.type, LM_VAL_INTEGER);
            CHECK_EQ_INT(m.u.push.changes[2].value.i, -8);
            CHECK_STR(m.u.push.changes[2].column, "weight_g");
        }
        lm_msg_clear(&m);
        lm_buf_close(&p.b);
    }

    /* missing dictionary */
    pb_init(&p);
    lm__mp_put_map(&p.w, 2);
    lm__mp_put_cstr(&p.w, "u");
    lm__mp_put_u64(&p.w, 1);
    lm__mp_put_cstr(&p.w, "r");
    lm__mp_put_array(&p.w, 0);
    EXPECT_ERR(&p, LM_MSG_PUSH, LM_EMISSING, "PUSH.dict: required field missing");
    lm_test_heap_check_clean("change errors");
}

/* Nesting at the limit passes, one deeper is refused with LM_EDEPTH. */
static void test_depth(void)
{
    for (int levels = 1; levels <= 40; levels++) {
        pb p;
        pb_init(&p);
        lm__mp_put_map(&p.w, 1);
        lm__mp_put_cstr(&p.w, "unknown");
        for (int i = 0; i < levels; i++)
            lm__mp_put_array(&p.w, 1);
        lm__mp_put_nil(&p.w);
        /* the top map is level 1, so `levels` arrays reach level levels+1 */
        CHECK_RC(decode_pb(&p, LM_MSG_BYE, NULL, 0),
                 levels + 1 <= LM_MAX_DEPTH ? LM_OK : LM_EDEPTH);
    }
    pb p;
    pb_init(&p);
    lm__mp_put_map(&p.w, 1);
    lm__mp_put_cstr(&p.w, "r");
    for (int i = 0; i < 100; i++)
        lm__mp_put_map(&p.w, 1), lm__mp_put_cstr(&p.w, "k");
    lm__mp_put_nil(&p.w);
    EXPECT_ERR(&p, LM_MSG_BYE, LM_ETYPE, "BYE.reason");
}

/* A 5-byte header declaring billions of elements is refused before a single
 * allocation: the count is checked against the bytes left. */
static void test_huge_counts(void)
{
    static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t map32[] = {0xdf, 0x7f, 0xff, 0xff, 0xff};
    static const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xf0, 'a'};
    const char *keys[] = {"d", "r", "zz"};
    for (int k = 0; k < 3; k++) {
        pb p;
        pb_init(&p);
        lm__mp_put_map(&p.w, 1);
        lm__mp_put_cstr(&p.w, keys[k]);
        lm_buf_append(&p.b, arr32, sizeof arr32);
        lm_buf_append(&p.b, "\x01\x02\x03", 3);
        lm_test_heap_install(0);
        lm_msg m;
        CHECK_RC(lm_msg_decode(LM_MSG_PUSH, p.b.data, p.b.len, &m, NULL, 0), LM_ETRUNC);
        CHECK_EQ_INT(lm_test_heap_state.calls, 0);
        lm_test_heap_check_clean("huge count");
        lm_buf_close(&p.b);
    }
    lm_msg m;
    lm_test_heap_install(0);
    CHECK_RC(lm_msg_decode(LM_MSG_PUSH_ACK, map32, sizeof map32, &m, NULL, 0), LM_ETRUNC);
    CHECK_RC(lm_msg_decode(LM_MSG_BYE, str32, sizeof str32, &m, NULL, 0), LM_ETYPE);
    CHECK_EQ_INT(lm_test_heap_state.calls, 0);
    lm_test_heap_check_clean("huge map");

    /* a refusal list claiming more entries than the limit */
    pb p;
    pb_init(&p);
    lm__mp_put_map(&p.w, 1);
    lm__mp_put_cstr(&p.w, "f");
    lm__mp_put_array(&p.w, LM_MAX_REFUSALS + 1);
    uint8_t *filler = calloc(1, LM_MAX_REFUSALS + 1);
    lm_buf_append(&p.b, filler, LM_MAX_REFUSALS + 1);
    free(filler);
    EXPECT_ERR(&p, LM_MSG_PUSH_ACK, LM_ETOOBIG, "PUSH_ACK.refusals: more than");
}

/* Every strict prefix of a valid payload is refused as truncated; random
 * garbage and bit flips never crash or leak. */
static void test_truncation_and_garbage(void)
{
    lm_msg m, out;
    lm_buf b;
    lm_buf_init(&b);
    sample(LM_MSG_PUSH, &m, 30);
    CHECK_RC(lm_msg_encode(&m, &b), LM_OK);
    lm_msg_clear(&m);
    lm_test_heap_install(0);
    int not_trunc = 0;
    for (size_t n = 0; n < b.len; n++) {
        int rc = lm_msg_decode(LM_MSG_PUSH, b.data, n, &out, NULL, 0);
        if (rc != LM_ETRUNC) {
            not_trunc++;
            fprintf(stderr, "prefix %zu of %zu: %s\n", n, b.len, lm_errname(rc));
        }
    }
    CHECK_EQ_INT(not_trunc, 0);
    uint8_t *copy = malloc(b.len);
    for (int i = 0; i < 3000; i++) {
        memcpy(copy, b.data, b.len);
        for (int k = 0; k < 1 + i % 4; k++)
            copy[pu_rnd() % b.len] ^= (uint8_t)(1u << (pu_rnd() % 8));
        int rc = lm_msg_decode(i % 2 ? LM_MSG_PUSH : LM_MSG_CHANGES, copy, b.len, &out, NULL, 0);
        CHECK(rc <= 0);
        lm_msg_clear(&out);
    }
    for (int i = 0; i < 2000; i++) {
        size_t n = pu_rnd() % 64;
        for (size_t k = 0; k < n; k++)
            copy[k] = (uint8_t)pu_rnd();
        int rc = lm_msg_decode(1 + i % 10, copy, n, &out, NULL, 0);
        CHECK(rc <= 0);
        lm_msg_clear(&out);
    }
    free(copy);
    lm_test_heap_check_clean("garbage");
    lm_buf_close(&b);
}

static void test_encoder_refusals(void)
{
    lm_buf b;
    lm_buf_init(&b);
    lm_msg m;
    sample(LM_MSG_HELLO, &m, 0);
    char *user = m.u.hello.user;
    m.u.hello.user = NULL;
    CHECK_RC(lm_msg_encode(&m, &b), LM_EINVAL);
    m.u.hello.user = user;
    CHECK_EQ_INT(b.len, 0);
    lm_msg_clear(&m);
    lm_msg bad = {.type = 0};
    CHECK_RC(lm_msg_encode(&bad, &b), LM_EUNKNOWNTYPE);
    CHECK_RC(lm_msg_encode(NULL, &b), LM_EINVAL);

    lm_change c;
    lm_value v = pu_int(1);
    pu_change(&c, "t", "pk", "col", &v, 1, 1, 0, 1);
    lm_msg push = {.type = LM_MSG_PUSH};
    push.u.push.changes = &c;
    push.u.push.n_changes = LM_MAX_CHANGES + 1;
    CHECK_RC(lm_msg_encode(&push, &b), LM_ETOOBIG);
    push.u.push.n_changes = 1;
    char *col = c.column;
    c.column = NULL;
    CHECK_RC(lm_msg_encode(&push, &b), LM_EINVAL);
    c.column = col;
    c.value.type = 77;
    CHECK_RC(lm_msg_encode(&push, &b), LM_EINVAL);
    c.value.type = LM_VAL_INTEGER;
    CHECK_RC(lm_msg_encode(&push, &b), LM_OK);
    CHECK(b.len > 0);
    lm_change_clear(&c);
    lm_buf_close(&b);
}

/* msgpack-c, an independent implementation, must read our bytes as one
 * complete map; and what it writes, we must read. */
static void test_msgpack_oracle(void)
{
    for (int t = LM_MSG_HELLO; t <= LM_MSG_BYE; t++) {
        if (t == 2 || t == 3) /* retired CHALLENGE, AUTH */
            continue;
        lm_msg m;
        lm_buf b;
        lm_buf_init(&b);
        sample(t, &m, 25);
        CHECK_RC(lm_msg_encode(&m, &b), LM_OK);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        CHECK_EQ_INT(msgpack_unpack_next(&u, (const char *)b.data, b.len, &off),
                     MSGPACK_UNPACK_SUCCESS);
        CHECK_EQ_INT(off, b.len);
        CHECK_EQ_INT(u.data.type, MSGPACK_OBJECT_MAP);
        msgpack_unpacked_destroy(&u);
        lm_msg_clear(&m);
        lm_buf_close(&b);
    }

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    msgpack_pack_str_with_body(&pk, "c", 1);
    msgpack_pack_int32(&pk, LM_EAUTH);
    msgpack_pack_str_with_body(&pk, "m", 1);
    msgpack_pack_str_with_body(&pk, "no", 2);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_int8(&pk, -5); /* unknown key */
    msgpack_pack_str_with_body(&pk, "y", 1);
    msgpack_pack_float(&pk, 2.5f);
    lm_msg m;
    CHECK_RC(lm_msg_decode(LM_MSG_ERROR, (const uint8_t *)sb.data, sb.size, &m, NULL, 0), LM_OK);
    CHECK_EQ_INT(m.u.error.code, LM_EAUTH);
    CHECK_STR(m.u.error.message, "no");
    lm_msg_clear(&m);
    msgpack_sbuffer_destroy(&sb);
}

/* Through frames, deflated and not, fed byte by byte. */
static void test_framed(void)
{
    lm_test_heap_install(0);
    lm_buf wire;
    lm_buf_init(&wire);
    lm_msg sent[10];
    int n_sent = 0;
    for (int t = LM_MSG_HELLO; t <= LM_MSG_BYE; t++) {
        if (t == 2 || t == 3) /* retired CHALLENGE, AUTH */
            continue;
        sample(t, &sent[n_sent], 40);
        CHECK_RC(lm_msg_encode_frame(&sent[n_sent], &wire, t % 2 ? 64 : 0, 0), LM_OK);
        n_sent++;
    }
    lm_frame_decoder d;
    lm_frame_decoder_init(&d, 0, 0);
    int got = 0;
    for (size_t i = 0; i < wire.len; i++) {
        CHECK_RC(lm_frame_decoder_feed(&d, wire.data + i, 1), LM_OK);
        lm_frame f;
        if (lm_frame_decoder_next(&d, &f) == 1) {
            lm_msg m;
            CHECK_RC(lm_msg_decode(f.type, f.payload, f.payload_len, &m, NULL, 0), LM_OK);
            CHECK(got < n_sent && pu_msg_eq(&sent[got], &m));
            lm_msg_clear(&m);
            got++;
        }
    }
    CHECK_EQ_INT(got, n_sent);
    lm_frame_decoder_close(&d);
    for (int i = 0; i < n_sent; i++)
        lm_msg_clear(&sent[i]);
    lm_buf_close(&wire);
    lm_test_heap_check_clean("framed");
}

/* Fail the 1st, 2nd, ... allocation of encode + frame + decode of every
 * message type: only LM_OK or LM_ENOMEM, never a leak, never a crash. */
static void test_alloc_failures(void)
{
    for (int t = LM_MSG_HELLO; t <= LM_MSG_BYE; t++) {
        if (t == 2 || t == 3) /* retired CHALLENGE, AUTH */
            continue;
        int completed = 0;
        for (long long n = 1; n < 2000 && !completed; n++) {
            lm_test_heap_install(0);
            lm_msg m;
            sample(t, &m, 12);
            lm_test_heap_state.fail_at = lm_test_heap_state.calls + n;
            lm_buf b;
            lm_buf_init(&b);
            int rc = lm_msg_encode_frame(&m, &b, 16, 0);
            CHECK(rc == LM_OK || rc == LM_ENOMEM);
            if (rc == LM_OK) {
                lm_frame_decoder d;
                lm_frame_decoder_init(&d, 0, 0);
                lm_frame f;
                rc = lm_frame_decoder_feed(&d, b.data, b.len);
                if (rc == LM_OK)
                    rc = lm_frame_decoder_next(&d, &f);
                CHECK(rc == 1 || rc == LM_ENOMEM);
                if (rc == 1) {
                    lm_msg out;
                    char err[120];
                    rc = lm_msg_decode(f.type, f.payload, f.payload_len, &out, err, sizeof err);
                    CHECK(rc == LM_OK || rc == LM_ENOMEM);
                    if (rc == LM_OK)
                        CHECK(pu_msg_eq(&m, &out));
                    lm_msg_clear(&out);
                }
                lm_frame_decoder_close(&d);
            }
            lm_buf_close(&b);
            lm_msg_clear(&m);
            completed = !lm_test_heap_state.failed;
            lm_test_heap_check_clean("msg alloc failure");
        }
        CHECK(completed);
    }
}

int main(void)
{
    test_round_trips();
    test_compactness();
    test_int_deltas();
    test_push_rows();
    test_field_errors();
    test_change_errors();
    test_depth();
    test_huge_counts();
    test_truncation_and_garbage();
    test_encoder_refusals();
    test_msgpack_oracle();
    test_framed();
    test_alloc_failures();
    return lm_test_done("protocol_msg");
}
