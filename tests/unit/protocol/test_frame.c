/*
 * test_frame.c — frame encoder and incremental decoder: exact wire bytes,
 * any slicing of the stream, limits checked from the header before the body
 * is buffered, zlib bombs and corrupt streams, sticky errors, allocation
 * failure at every point; the session deflate stream.
 */
#include <zlib.h>

#include "lm_test.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void put_header(uint8_t *h, uint32_t length, uint8_t type, uint8_t flags)
{
    h[0] = (uint8_t)(length >> 24);
    h[1] = (uint8_t)(length >> 16);
    h[2] = (uint8_t)(length >> 8);
    h[3] = (uint8_t)length;
    h[4] = type;
    h[5] = flags;
}

/* A raw frame carrying a zlib stream made by zlib itself (libc heap). */
static void make_deflated_frame(lm_buf *out, uint8_t type, const uint8_t *plain, size_t len)
{
    uLongf zlen = compressBound((uLong)len);
    uint8_t *z = malloc(zlen);
    CHECK(compress2(z, &zlen, plain, (uLong)len, 9) == Z_OK);
    uint8_t h[6];
    put_header(h, (uint32_t)zlen + 2, type, LM_FRAME_DEFLATED);
    lm_buf_append(out, h, 6);
    lm_buf_append(out, z, zlen);
    free(z);
}

static void test_encode_bytes(void)
{
    lm_buf b;
    lm_buf_init(&b);
    CHECK_RC(lm_frame_encode(&b, LM_MSG_BYE, (const uint8_t *)"\x80", 1, 0, 0), LM_OK);
    const uint8_t want[] = {0, 0, 0, 3, LM_MSG_BYE, 0, 0x80};
    CHECK_EQ_INT(b.len, sizeof want);
    CHECK(memcmp(b.data, want, sizeof want) == 0);

    /* too big for max_frame: refused, out untouched */
    uint8_t payload[100] = {0};
    CHECK_RC(lm_frame_encode(&b, LM_MSG_PUSH, payload, sizeof payload, 0, 101), LM_ETOOBIG);
    CHECK_EQ_INT(b.len, sizeof want);
    CHECK_RC(lm_frame_encode(&b, LM_MSG_PUSH, payload, sizeof payload, 0, 102), LM_OK);
    CHECK_RC(lm_frame_encode(&b, 0, payload, 1, 0, 0), LM_EINVAL);
    CHECK_RC(lm_frame_encode(&b, 11, payload, 1, 0, 0), LM_EINVAL);
    CHECK_RC(lm_frame_encode(&b, LM_MSG_BYE, NULL, 1, 0, 0), LM_EINVAL);

    /* compressible payload deflates; random one stays raw */
    lm_buf_reset(&b);
    uint8_t text[2000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (uint8_t)("collection;"[i % 11]);
    CHECK_RC(lm_frame_encode(&b, LM_MSG_PUSH, text, sizeof text, 64, 0), LM_OK);
    CHECK_EQ_INT(b.data[5], LM_FRAME_DEFLATED);
    CHECK(b.len < 200);
    lm_buf_reset(&b);
    uint8_t noise[2000];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)rnd();
    CHECK_RC(lm_frame_encode(&b, LM_MSG_PUSH, noise, sizeof noise, 64, 0), LM_OK);
    CHECK_EQ_INT(b.data[5], 0);
    CHECK_EQ_INT(b.len, sizeof noise + 6);
    /* below deflate_min: raw */
    lm_buf_reset(&b);
    CHECK_RC(lm_frame_encode(&b, LM_MSG_PUSH, text, 63, 64, 0), LM_OK);
    CHECK_EQ_INT(b.data[5], 0);
    lm_buf_close(&b);
}

/* A stream of frames of mixed sizes and compression plus their payloads. */
typedef struct stream {
    lm_buf wire;
    uint8_t *payloads[40];
    size_t lens[40];
    uint8_t types[40];
    int n;
} stream;

static void make_stream(stream *s)
{
    memset(s, 0, sizeof *s);
    lm_buf_init(&s->wire);
    for (int i = 0; i < 40; i++) {
        size_t len = i % 7 == 0 ? 0 : (size_t)(rnd() % (i % 5 == 0 ? 5000 : 60));
        uint8_t *p = malloc(len + 1);
        for (size_t k = 0; k < len; k++)
            p[k] = (uint8_t)(i % 3 ? 'a' + k % 3 : rnd());
        s->payloads[i] = p;
        s->lens[i] = len;
        s->types[i] = (uint8_t)(1 + i % 10);
        CHECK_RC(lm_frame_encode(&s->wire, s->types[i], p, len, i % 2 ? 16 : 0, 0), LM_OK);
    }
    s->n = 40;
}

static void free_stream(stream *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->payloads[i]);
    lm_buf_close(&s->wire);
}

/* Feeds the stream in slices of at most max_slice bytes (1 = byte at a
 * time) and checks every frame comes out intact and in order, and that
 * lm_frame_decoder_peek agrees with lm_frame_decoder_next at every step. */
static void feed_sliced(const stream *s, size_t max_slice)
{
    lm_frame_decoder d;
    lm_frame_decoder_init(&d, 0, 0);
    int got = 0, bad = 0;
    size_t off = 0, wire_total = 0;
    while (off < s->wire.len) {
        size_t n = max_slice == 1 ? 1 : 1 + rnd() % max_slice;
        if (n > s->wire.len - off)
            n = s->wire.len - off;
        CHECK_RC(lm_frame_decoder_feed(&d, s->wire.data + off, n), LM_OK);
        off += n;
        lm_frame f;
        int rc;
        for (;;) {
            /* peek tells a whole frame and its type without taking it */
            uint8_t type = 0;
            int peeked = lm_frame_decoder_peek(&d, &type);
            rc = lm_frame_decoder_next(&d, &f);
            if (peeked != rc || (rc == 1 && type != f.type))
                bad++;
            if (rc != 1)
                break;
            if (got >= s->n || f.type != s->types[got] || f.payload_len != s->lens[got] ||
                (f.payload_len && memcmp(f.payload, s->payloads[got], f.payload_len) != 0))
                bad++;
            wire_total += f.wire_len;
            got++;
        }
        CHECK_EQ_INT(rc, 0);
    }
    CHECK_EQ_INT(got, s->n);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(wire_total, s->wire.len);
    lm_frame_decoder_close(&d);
}

static void test_slicing(void)
{
    stream s;
    make_stream(&s);
    feed_sliced(&s, 1);
    feed_sliced(&s, 7);
    feed_sliced(&s, 300);
    feed_sliced(&s, s.wire.len); /* everything coalesced in few reads */
    free_stream(&s);
}

static int feed_all(lm_frame_decoder *d, const uint8_t *p, size_t n, lm_frame *f)
{
    int rc = lm_frame_decoder_feed(d, p, n);
    if (rc != LM_OK)
        return rc;
    return lm_frame_decoder_next(d, f);
}

static void test_header_limits(void)
{
    lm_frame_decoder d;
    lm_frame f;
    uint8_t h[6];

    /* a length over the maximum is refused after 4 bytes, before any body
     * byte is buffered: the decoder never allocates more than the header */
    lm_test_heap_install(0);
    lm_frame_decoder_init(&d, 1000, 0);
    put_header(h, 0x7fffffffu, LM_MSG_PUSH, 0);
    CHECK_RC(lm_frame_decoder_feed(&d, h, 3), LM_OK);
    CHECK_RC(lm_frame_decoder_feed(&d, h + 3, 1), LM_ETOOBIG);
    CHECK(lm_test_heap_state.live_bytes <= 256);
    CHECK_RC(lm_frame_decoder_feed(&d, h, 1), LM_ETOOBIG); /* sticky */
    CHECK_RC(lm_frame_decoder_next(&d, &f), LM_ETOOBIG);
    lm_frame_decoder_close(&d);
    lm_test_heap_check_clean("oversized header");

    /* exactly max is fine, one more is not */
    lm_frame_decoder_init(&d, 10, 0);
    uint8_t frame[14] = {0};
    put_header(frame, 10, LM_MSG_BYE, 0);
    CHECK_EQ_INT(feed_all(&d, frame, 14, &f), 1);
    CHECK_EQ_INT(f.payload_len, 8);
    CHECK_EQ_INT(f.wire_len, 14);
    lm_frame_decoder_close(&d);
    lm_frame_decoder_init(&d, 10, 0);
    put_header(frame, 11, LM_MSG_BYE, 0);
    CHECK_RC(lm_frame_decoder_feed(&d, frame, 6), LM_ETOOBIG);
    lm_frame_decoder_close(&d);

    struct {
        uint32_t len;
        uint8_t type, flags;
        int want;
    } cases[] = {
        {1, LM_MSG_BYE, 0, LM_EMALFORMED}, {0, LM_MSG_BYE, 0, LM_EMALFORMED},
        {2, 0, 0, LM_EUNKNOWNTYPE},        {2, 11, 0, LM_EUNKNOWNTYPE},
        {2, 255, 0, LM_EUNKNOWNTYPE},      {2, LM_MSG_BYE, 0x02, LM_EFLAGS},
        {2, LM_MSG_BYE, 0x81, LM_EFLAGS},  {2, LM_MSG_HELLO, 0, LM_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lm_frame_decoder_init(&d, 0, 0);
        put_header(h, cases[i].len, cases[i].type, cases[i].flags);
        int rc = LM_OK;
        for (int k = 0; k < 6 && rc == LM_OK; k++) /* refused as soon as the byte arrives */
            rc = lm_frame_decoder_feed(&d, h + k, 1);
        CHECK_RC(rc, cases[i].want);
        if (cases[i].want != LM_OK)
            CHECK_RC(lm_frame_decoder_next(&d, &f), cases[i].want);
        else
            CHECK_EQ_INT(lm_frame_decoder_next(&d, &f), 1);
        lm_frame_decoder_close(&d);
    }

    /* a bad header after a good frame in the same read: the good frame was
     * validated, the error is reported by feed and then sticks */
    lm_buf b;
    lm_buf_init(&b);
    CHECK_RC(lm_frame_encode(&b, LM_MSG_BYE, (const uint8_t *)"\x80", 1, 0, 0), LM_OK);
    put_header(h, 2, 42, 0);
    lm_buf_append(&b, h, 6);
    lm_frame_decoder_init(&d, 0, 0);
    CHECK_RC(lm_frame_decoder_feed(&d, b.data, b.len), LM_EUNKNOWNTYPE);
    CHECK_RC(lm_frame_decoder_next(&d, &f), LM_EUNKNOWNTYPE);
    lm_frame_decoder_close(&d);
    lm_buf_close(&b);

    /* truncated: a partial frame is simply not ready */
    lm_frame_decoder_init(&d, 0, 0);
    put_header(frame, 10, LM_MSG_BYE, 0);
    CHECK_EQ_INT(feed_all(&d, frame, 13, &f), 0);
    CHECK_EQ_INT(feed_all(&d, frame + 13, 1, &f), 1);
    lm_frame_decoder_close(&d);
}

static void test_zlib(void)
{
    lm_frame_decoder d;
    lm_frame f;
    lm_buf b;
    lm_buf_init(&b);

    /* 16 MiB of zeros is ~16 KiB deflated: refused at the 8 MiB default
     * without inflating the rest */
    size_t big = 16u << 20;
    uint8_t *zeros = calloc(1, big);
    make_deflated_frame(&b, LM_MSG_PUSH, zeros, big);
    CHECK(b.len < 64 * 1024);
    lm_test_heap_install(0);
    lm_frame_decoder_init(&d, 0, 0);
    CHECK_EQ_INT(feed_all(&d, b.data, b.len, &f), LM_EBOMB);
    CHECK(d.inflated_cap <= LM_FRAME_DEFAULT_MAX_INFLATED);
    CHECK_RC(lm_frame_decoder_next(&d, &f), LM_EBOMB);
    lm_frame_decoder_close(&d);
    lm_test_heap_check_clean("bomb");

    /* exact fit passes, one byte more is a bomb */
    lm_buf_reset(&b);
    make_deflated_frame(&b, LM_MSG_PUSH, zeros, 5000);
    lm_frame_decoder_init(&d, 0, 5000);
    CHECK_EQ_INT(feed_all(&d, b.data, b.len, &f), 1);
    CHECK_EQ_INT(f.payload_len, 5000);
    CHECK_EQ_INT(f.flags, LM_FRAME_DEFLATED);
    lm_frame_decoder_close(&d);
    lm_frame_decoder_init(&d, 0, 4999);
    CHECK_EQ_INT(feed_all(&d, b.data, b.len, &f), LM_EBOMB);
    lm_frame_decoder_close(&d);

    /* corrupt, truncated, trailing garbage, empty */
    uint8_t good[64];
    size_t glen = b.len - 6 < sizeof good ? b.len - 6 : 0;
    CHECK(glen > 4);
    memcpy(good, b.data + 6, glen);
    struct {
        const char *what;
        size_t cut;  /* bytes of the stream kept */
        int flip;    /* byte to corrupt, -1 none */
        int garbage; /* bytes appended after the stream */
    } cases[] = {
        {"corrupt header", glen, 0, 0},
        {"corrupt body", glen, 3, 0},
        {"truncated", glen - 3, -1, 0},
        {"trailing", glen, -1, 2},
        {"empty", 0, -1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t frame[80];
        size_t n = cases[i].cut;
        memcpy(frame + 6, good, n);
        if (cases[i].flip >= 0)
            frame[6 + cases[i].flip] ^= 0x55;
        for (int g = 0; g < cases[i].garbage; g++)
            frame[6 + n++] = 0x42;
        put_header(frame, (uint32_t)n + 2, LM_MSG_PUSH, LM_FRAME_DEFLATED);
        lm_test_heap_install(0);
        lm_frame_decoder_init(&d, 0, 0);
        int rc = feed_all(&d, frame, n + 6, &f);
        if (rc != LM_EZLIB)
            fprintf(stderr, "zlib case %s: %s\n", cases[i].what, lm_errname(rc));
        CHECK_RC(rc, LM_EZLIB);
        lm_frame_decoder_close(&d);
        lm_test_heap_check_clean(cases[i].what);
    }
    free(zeros);
    lm_buf_close(&b);
}

/* Fail the 1st, 2nd, ... allocation of an encode + sliced decode of a
 * stream with deflated frames: only LM_OK or LM_ENOMEM, never a leak. */
static void test_alloc_failures(void)
{
    uint8_t text[3000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (uint8_t)("grade A;"[i % 8]);
    int completed = 0;
    for (long long n = 1; n < 500 && !completed; n++) {
        lm_test_heap_install(n);
        lm_buf b;
        lm_buf_init(&b);
        int rc = LM_OK, frames = 0;
        for (int i = 0; i < 3 && rc == LM_OK; i++)
            rc = lm_frame_encode(&b, LM_MSG_PUSH, text, sizeof text - (size_t)i * 100, 32, 0);
        CHECK(rc == LM_OK || rc == LM_ENOMEM);
        if (rc == LM_OK) {
            lm_frame_decoder d;
            lm_frame_decoder_init(&d, 0, 0);
            for (size_t off = 0; off < b.len && rc >= 0; off += 50) {
                size_t k = b.len - off < 50 ? b.len - off : 50;
                rc = lm_frame_decoder_feed(&d, b.data + off, k);
                lm_frame f;
                while (rc == LM_OK && (rc = lm_frame_decoder_next(&d, &f)) == 1) {
                    frames++;
                    rc = LM_OK;
                }
            }
            CHECK(rc == 0 || rc == LM_ENOMEM);
            lm_frame_decoder_close(&d);
        }
        lm_buf_close(&b);
        if (!lm_test_heap_state.failed) {
            completed = 1;
            CHECK_EQ_INT(frames, 3);
        }
        lm_test_heap_check_clean("frame alloc failure");
    }
    CHECK(completed);
}

static size_t be32(const uint8_t *p)
{
    return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
}

/* A purchase-like record line, varied by i: what a PUSH batch repeats. */
static size_t sample_payload(uint8_t *out, size_t cap, int i, size_t rows)
{
    size_t n = 0;
    for (size_t r = 0; r < rows && n + 96 < cap; r++)
        n += (size_t)snprintf((char *)out + n, cap - n,
                              "collections|%08u|agent-li|shangba|potato|%c|%u|%u;", rnd(),
                              "ABC"[(i + (int)r) % 3], 1000 + rnd() % 90000, 150 + rnd() % 200);
    return n;
}

/* Feeds the frames of b in 7-byte slices; each decoded payload must equal
 * want[i] (lengths wlen[i]). Returns the number decoded or an error. */
static int decode_all(lm_frame_decoder *d, const lm_buf *b, uint8_t *const *want,
                      const size_t *wlen, int n_want)
{
    int got = 0, rc = LM_OK;
    for (size_t off = 0; off < b->len && rc == LM_OK; off += 7) {
        size_t k = b->len - off < 7 ? b->len - off : 7;
        rc = lm_frame_decoder_feed(d, b->data + off, k);
        lm_frame f;
        while (rc == LM_OK && (rc = lm_frame_decoder_next(d, &f)) == 1) {
            CHECK(got < n_want && f.payload_len == wlen[got] &&
                  memcmp(f.payload, want[got], wlen[got]) == 0);
            got++;
            rc = LM_OK;
        }
    }
    return rc < 0 ? rc : got;
}

/* The session deflate stream: pieces decode in order to the payloads sent,
 * in fewer bytes than frames deflated alone; a payload too big for the
 * stream's worst case is deflated alone; small ones go plain. Refused:
 * stream frames before the decoder accepts them, both deflate flags at
 * once, a piece whose check or body is damaged, a bomb. */
static void test_stream(int wbits)
{
    enum { N = 12 };
    uint8_t *want[N];
    size_t wlen[N];
    lm_buf s, alone;
    lm_buf_init(&s);
    lm_buf_init(&alone);
    lm_frame_deflater *z = NULL;
    lm_test_heap_install(0);
    CHECK_RC(lm_frame_deflater_new(&z, wbits), LM_OK);
    for (int i = 0; i < N; i++) {
        /* 3: empty; 7: ~40 KB, whose worst case does not fit 16 KiB frames;
         * 9: ~200 KB, past what goes into the stream */
        size_t rows = i == 3 ? 0 : i == 7 ? 600 : i == 9 ? 3000 : 40;
        want[i] = malloc(256u << 10);
        wlen[i] = sample_payload(want[i], 256u << 10, i, rows);
        size_t before = s.len;
        CHECK_RC(
            lm_frame_encode_z(z, &s, LM_MSG_PUSH, want[i], wlen[i], 512, i == 9 ? 0 : 16u << 10),
            LM_OK);
        uint8_t flags = s.data[before + 5];
        CHECK_EQ_INT(flags, i == 3 ? 0 : i == 7 || i == 9 ? LM_FRAME_DEFLATED : LM_FRAME_STREAM);
        if (i != 7 && i != 9)
            CHECK_RC(lm_frame_encode(&alone, LM_MSG_PUSH, want[i], wlen[i], 512, 0), LM_OK);
    }
    lm_frame_deflater_free(z);
    /* frames 7 and 9 aside, the stream costs less than frames deflated alone */
    size_t f79 = 0;
    for (size_t off = 0, i = 0; off < s.len; off += 4 + be32(s.data + off), i++)
        if (i == 7 || i == 9)
            f79 += 4 + be32(s.data + off);
    CHECK(f79 > 0 && (s.len - f79) * 20 < alone.len * 19);

    lm_frame_decoder d;
    lm_frame_decoder_init(&d, 0, 0);
    lm_frame_decoder_accept_stream(&d, wbits);
    CHECK_EQ_INT(decode_all(&d, &s, want, wlen, N), N);
    lm_frame_decoder_close(&d);

    /* not accepted (no handshake agreed on it): refused at the header */
    size_t first = 4 + be32(s.data); /* frame 0, a piece */
    lm_frame_decoder_init(&d, 0, 0);
    CHECK_RC(lm_frame_decoder_feed(&d, s.data, first), LM_EFLAGS);
    lm_frame_decoder_close(&d);
    /* both deflate flags */
    lm_frame_decoder_init(&d, 0, 0);
    lm_frame_decoder_accept_stream(&d, wbits);
    s.data[5] = LM_FRAME_STREAM | LM_FRAME_DEFLATED;
    CHECK_RC(lm_frame_decoder_feed(&d, s.data, first), LM_EFLAGS);
    s.data[5] = LM_FRAME_STREAM;
    lm_frame_decoder_close(&d);
    /* a damaged check, a damaged body, a piece too short for its check */
    size_t at[] = {first - 1, LM_FRAME_HEADER_SIZE + 2};
    for (size_t k = 0; k < 2; k++) {
        uint8_t *copy = malloc(first);
        memcpy(copy, s.data, first);
        copy[at[k]] ^= 0x20;
        lm_frame f;
        lm_frame_decoder_init(&d, 0, 0);
        lm_frame_decoder_accept_stream(&d, wbits);
        CHECK_RC(feed_all(&d, copy, first, &f), LM_EZLIB);
        lm_frame_decoder_close(&d);
        free(copy);
    }
    uint8_t tiny[9];
    put_header(tiny, 5, LM_MSG_PUSH, LM_FRAME_STREAM);
    memset(tiny + 6, 0xff, 3);
    lm_frame f;
    lm_frame_decoder_init(&d, 0, 0);
    lm_frame_decoder_accept_stream(&d, wbits);
    CHECK_RC(feed_all(&d, tiny, sizeof tiny, &f), LM_EZLIB);
    lm_frame_decoder_close(&d);

    /* a bomb: 6,000 zeros through a 5,000-byte window; 5,000 fit */
    uint8_t *zeros = calloc(1, 6000);
    for (size_t n = 5000; n <= 6000; n += 1000) {
        lm_buf_reset(&s);
        CHECK_RC(lm_frame_deflater_new(&z, wbits), LM_OK);
        CHECK_RC(lm_frame_encode_z(z, &s, LM_MSG_PUSH, zeros, n, 512, 0), LM_OK);
        lm_frame_deflater_free(z);
        lm_frame_decoder_init(&d, 0, 5000);
        lm_frame_decoder_accept_stream(&d, wbits);
        CHECK_RC(feed_all(&d, s.data, s.len, &f), n == 5000 ? 1 : LM_EBOMB);
        lm_frame_decoder_close(&d);
    }
    free(zeros);
    lm_buf_close(&s);
    lm_buf_close(&alone);
    lm_test_heap_check_clean("stream");

    /* allocation failure at every point: LM_OK or LM_ENOMEM, no leak, and a
     * deflater that failed stays failed */
    int completed = 0;
    for (long long n = 1; n < 400 && !completed; n++) {
        lm_test_heap_install(n);
        lm_buf_init(&s);
        int rc = lm_frame_deflater_new(&z, wbits), got = 0;
        for (int i = 0; i < 3 && rc == LM_OK; i++)
            rc = lm_frame_encode_z(z, &s, LM_MSG_PUSH, want[i], wlen[i], 512, 0);
        CHECK(rc == LM_OK || rc == LM_ENOMEM);
        if (rc == LM_ENOMEM && z)
            CHECK_RC(lm_frame_encode_z(z, &s, LM_MSG_PUSH, want[0], wlen[0], 512, 0), LM_EZLIB);
        lm_frame_deflater_free(z);
        z = NULL;
        if (rc == LM_OK) {
            lm_frame_decoder_init(&d, 0, 0);
            lm_frame_decoder_accept_stream(&d, wbits);
            got = decode_all(&d, &s, want, wlen, 3);
            CHECK(got == 3 || got == LM_ENOMEM);
            lm_frame_decoder_close(&d);
        }
        lm_buf_close(&s);
        if (!lm_test_heap_state.failed) {
            completed = 1;
            CHECK_EQ_INT(got, 3);
        }
        lm_test_heap_check_clean("stream alloc failure");
    }
    CHECK(completed);
    for (int i = 0; i < N; i++)
        free(want[i]);
}

/* The two windows: a frame that repeats the one before, 12 KB back, costs
 * the wide stream a reference and the narrow one its bytes again; a
 * decoder that agreed on the narrow window refuses the wide stream's
 * reference (LM_EZLIB), never returns other bytes. A window the protocol
 * does not know is LM_EINVAL. */
static void test_stream_windows(void)
{
    enum { LEN = 12000 };
    uint8_t *p = malloc(LEN);
    uint32_t x = 12345;
    for (size_t i = 0; i < LEN; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)('a' + (x >> 16) % 26); /* text deflate cannot shrink much */
    }
    size_t second[2];
    lm_buf s[2];
    int wbits[2] = {LM_FRAME_STREAM_WBITS, LM_FRAME_STREAM_WIDE_WBITS};
    for (int k = 0; k < 2; k++) {
        lm_frame_deflater *z = NULL;
        lm_buf_init(&s[k]);
        CHECK_RC(lm_frame_deflater_new(&z, wbits[k]), LM_OK);
        CHECK_RC(lm_frame_encode_z(z, &s[k], LM_MSG_PUSH, p, LEN, 512, 0), LM_OK);
        size_t first = s[k].len;
        CHECK_RC(lm_frame_encode_z(z, &s[k], LM_MSG_PUSH, p, LEN, 512, 0), LM_OK);
        CHECK_EQ_INT(s[k].data[first + 5], LM_FRAME_STREAM);
        second[k] = s[k].len - first;
        lm_frame_deflater_free(z);
        for (int j = 0; j < 2; j++) { /* decoded with either window */
            lm_frame_decoder d;
            lm_frame f;
            lm_frame_decoder_init(&d, 0, 0);
            lm_frame_decoder_accept_stream(&d, wbits[j]);
            int rc = feed_all(&d, s[k].data, first, &f);
            CHECK_RC(rc, 1);
            rc = feed_all(&d, s[k].data + first, s[k].len - first, &f);
            if (j >= k) {
                CHECK_RC(rc, 1);
                CHECK(f.payload_len == LEN && memcmp(f.payload, p, LEN) == 0);
            } else {
                CHECK_RC(rc, LM_EZLIB);
            }
            lm_frame_decoder_close(&d);
        }
        lm_buf_close(&s[k]);
    }
    CHECK(second[1] * 10 < second[0]); /* the repeat is nearly free with 32 KiB */
    lm_frame_deflater *z = (lm_frame_deflater *)p;
    CHECK_RC(lm_frame_deflater_new(&z, 14), LM_EINVAL);
    CHECK(z == NULL);
    free(p);
}

/* The server starts a session with small handshake limits and raises them
 * once authenticated; frames buffered before and after both obey the limit
 * in force when their header completed. */
static void test_limits_change(void)
{
    lm_buf b;
    lm_buf_init(&b);
    uint8_t small[10] = {0}, big[3000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)("abc"[i % 3]);
    CHECK_RC(lm_frame_encode(&b, LM_MSG_HELLO, small, sizeof small, 0, 0), LM_OK);
    size_t first = b.len;
    CHECK_RC(lm_frame_encode(&b, LM_MSG_PUSH, big, sizeof big, 0, 0), LM_OK);
    size_t second = b.len;
    CHECK_RC(lm_frame_encode(&b, LM_MSG_PUSH, big, sizeof big, 16, 0), LM_OK);

    lm_frame_decoder d;
    lm_frame f;
    lm_frame_decoder_init(&d, 100, 100);
    CHECK_RC(lm_frame_decoder_feed(&d, b.data, first), LM_OK);
    CHECK_EQ_INT(lm_frame_decoder_next(&d, &f), 1);
    d.max_frame = 4000;
    d.max_inflated = 4000;
    CHECK_RC(lm_frame_decoder_feed(&d, b.data + first, b.len - first), LM_OK);
    CHECK_EQ_INT(lm_frame_decoder_next(&d, &f), 1);
    CHECK_EQ_INT(f.payload_len, sizeof big);
    CHECK_EQ_INT(lm_frame_decoder_next(&d, &f), 1);
    CHECK_EQ_INT(f.flags, LM_FRAME_DEFLATED);
    CHECK(f.payload_len == sizeof big && memcmp(f.payload, big, sizeof big) == 0);
    lm_frame_decoder_close(&d);

    /* with the small limit still in force the big frame is refused */
    lm_frame_decoder_init(&d, 100, 100);
    CHECK_RC(lm_frame_decoder_feed(&d, b.data, second), LM_ETOOBIG);
    lm_frame_decoder_close(&d);
    lm_buf_close(&b);
}

int main(void)
{
    test_limits_change();
    test_encode_bytes();
    test_slicing();
    test_header_limits();
    test_zlib();
    test_alloc_failures();
    test_stream(LM_FRAME_STREAM_WBITS);
    test_stream(LM_FRAME_STREAM_WIDE_WBITS);
    test_stream_windows();
    return lm_test_done("protocol_frame");
}
