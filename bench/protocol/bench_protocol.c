/*
 * bench_protocol.c — what a PUSH of collection records costs on the wire and
 * in CPU.
 *
 * Records are generated as one agent would produce them in a day of buying:
 * ULID-style 26-char ids (time-ordered, random tail), one agent, ~200
 * farmers of 5 villages (UTF-8 Chinese names), 6 products, grades A-C,
 * weights in grams, prices in fen per kg, amount = round(weight * price /
 * 1000), collected_at a few minutes apart, an occasional note, received_at
 * NULL (the server stamps it). Each record is 12 column changes of table
 * "collections" sharing the record's HLC, with one change-log seq each.
 *
 * Printed: for several batch sizes the encoded PUSH payload, the frame with
 * its payload deflated (level 9), and the same records as CSV under gzip -9
 * (zlib level 9, gzip container) with the ratio; then encode and decode
 * throughput for a 1000-record batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "lm_protocol.h"

static uint64_t rng = 0x853c49e6748fea9bu;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* 10 chars of ms time + 16 random chars, like lm_replica_new_id(). */
static void ulid(char out[27], uint64_t ms)
{
    for (int i = 9; i >= 0; i--) {
        out[i] = b32[ms & 31];
        ms >>= 5;
    }
    for (int i = 10; i < 26; i++)
        out[i] = b32[rnd() & 31];
    out[26] = 0;
}

typedef struct record {
    char id[27], farmer[27], note[64];
    const char *village, *product, *grade;
    int64_t weight_g, unit_price_fen, amount_fen, collected_at;
} record;

static const char *villages[] = {"小河村", "东山村", "刘家湾", "上坪村", "石门村"};
static const struct {
    const char *code;
    int price; /* fen per kg for grade A */
} products[] = {{"walnut", 2600}, {"sichuan-pepper", 9800}, {"apple", 420},
                {"potato", 160},  {"tea-leaf", 6400},       {"chestnut", 1100}};
static const char *notes[] = {"潮湿，已复称", "部分虫眼", "farmer asked for cash"};

static char agent_id[27];
static char farmers[200][27];

static void make_records(record *r, size_t n, uint64_t start_ms)
{
    uint64_t t = start_ms;
    for (size_t i = 0; i < n; i++) {
        t += 60000 + rnd() % 540000; /* 1-10 minutes apart */
        ulid(r[i].id, t);
        int f = (int)(rnd() % 200);
        memcpy(r[i].farmer, farmers[f], 27);
        r[i].village = villages[f % 5];
        int p = (int)(rnd() % 6), g = (int)(rnd() % 10);
        r[i].product = products[p].code;
        r[i].grade = g < 5 ? "A" : g < 8 ? "B" : "C";
        r[i].weight_g = 2000 + rnd() % 60000;
        r[i].unit_price_fen = products[p].price * (g < 5 ? 100 : g < 8 ? 85 : 70) / 100;
        r[i].amount_fen = (r[i].weight_g * r[i].unit_price_fen + 500) / 1000;
        r[i].collected_at = (int64_t)t;
        if (rnd() % 8 == 0)
            snprintf(r[i].note, sizeof r[i].note, "%s", notes[rnd() % 3]);
        else
            r[i].note[0] = 0;
    }
}

static lm_value text(const char *s)
{
    return (lm_value){LM_VAL_TEXT, 0, 0, (uint8_t *)(uintptr_t)s, strlen(s)};
}

static lm_value integer(int64_t i)
{
    return (lm_value){LM_VAL_INTEGER, i, 0, NULL, 0};
}

static const char *cols[12] = {"id",         "agent_id",     "farmer_id", "village",
                               "product",    "grade",        "weight_g",  "unit_price_fen",
                               "amount_fen", "collected_at", "note",      "received_at"};

/* The changes borrow the records' strings: the encoder only reads them. */
static void make_changes(const record *r, size_t n, lm_change *ch, uint64_t site)
{
    uint64_t seq = 1000;
    for (size_t i = 0; i < n; i++) {
        uint64_t hlc = LM_HLC_MAKE((uint64_t)r[i].collected_at, 0);
        lm_value v[12] = {text(r[i].id),
                          text(agent_id),
                          text(r[i].farmer),
                          text(r[i].village),
                          text(r[i].product),
                          text(r[i].grade),
                          integer(r[i].weight_g),
                          integer(r[i].unit_price_fen),
                          integer(r[i].amount_fen),
                          integer(r[i].collected_at),
                          text(r[i].note),
                          {LM_VAL_NULL, 0, 0, NULL, 0}};
        for (int c = 0; c < 12; c++) {
            lm_change *x = &ch[i * 12 + (size_t)c];
            x->table = (char *)(uintptr_t) "collections";
            x->pk = (char *)(uintptr_t)r[i].id;
            x->column = (char *)(uintptr_t)cols[c];
            x->value = v[c];
            x->hlc = hlc;
            x->site = site;
            x->prev_hlc = 0;
            x->seq = seq++;
        }
    }
}

static size_t csv(const record *r, size_t n, lm_buf *out)
{
    char line[512];
    const char *hdr = "id,agent_id,farmer_id,village,product,grade,weight_g,unit_price_fen,"
                      "amount_fen,collected_at,note,received_at\n";
    lm_buf_append(out, hdr, strlen(hdr));
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(line, sizeof line, "%s,%s,%s,%s,%s,%s,%lld,%lld,%lld,%lld,%s,\n",
                           r[i].id, agent_id, r[i].farmer, r[i].village, r[i].product, r[i].grade,
                           (long long)r[i].weight_g, (long long)r[i].unit_price_fen,
                           (long long)r[i].amount_fen, (long long)r[i].collected_at, r[i].note);
        lm_buf_append(out, line, (size_t)len);
    }
    return out->len;
}

/* gzip -9 equivalent: level 9, default memLevel, gzip container. */
static size_t gzip9(const uint8_t *p, size_t n)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    size_t cap = deflateBound(&zs, (uLong)n);
    uint8_t *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    size_t res = deflate(&zs, Z_FINISH) == Z_STREAM_END ? zs.total_out : 0;
    deflateEnd(&zs);
    free(out);
    return res;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (seconds <= 0 || seconds > 20)
        seconds = 2.0;
    uint64_t day = UINT64_C(1764288000000); /* a morning in late 2025, ms */
    ulid(agent_id, day - 86400000u * 300);
    for (int f = 0; f < 200; f++)
        ulid(farmers[f], day - 86400000u * (uint64_t)(400 - f));
    uint64_t site = ((uint64_t)rnd() << 32) | rnd();

    enum { MAXREC = 1000 };
    record *recs = calloc(MAXREC, sizeof *recs);
    lm_change *ch = calloc(MAXREC * 12, sizeof *ch);
    make_records(recs, MAXREC, day);
    make_changes(recs, MAXREC, ch, site);

    printf("bench_protocol: PUSH of collection records (12 column changes each)\n\n");
    printf("%8s %12s %12s %12s %12s %12s %12s %8s\n", "records", "payload B", "B/change",
           "B/record", "deflated B", "defl B/rec", "csv.gz B", "ratio");
    static const size_t sizes[] = {1, 10, 50, 100, 250, 1000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        lm_msg m = {.type = LM_MSG_PUSH};
        m.u.push.upto_seq = ch[n * 12 - 1].seq;
        m.u.push.changes = ch;
        m.u.push.n_changes = (uint32_t)(n * 12);
        lm_buf payload, frame, text_csv;
        lm_buf_init(&payload);
        lm_buf_init(&frame);
        lm_buf_init(&text_csv);
        if (lm_msg_encode(&m, &payload) != LM_OK ||
            lm_msg_encode_frame(&m, &frame, 1, 0) != LM_OK) {
            fprintf(stderr, "encode failed\n");
            return 1;
        }
        size_t csv_gz = gzip9(text_csv.data, csv(recs, n, &text_csv));
        size_t deflated = frame.len - LM_FRAME_HEADER_SIZE; /* payload as sent */
        printf("%8zu %12zu %12.1f %12.1f %12zu %12.1f %12zu %8.3f\n", n, payload.len,
               (double)payload.len / (double)(n * 12), (double)payload.len / (double)n, deflated,
               (double)deflated / (double)n, csv_gz, (double)frame.len / (double)csv_gz);
        lm_buf_close(&payload);
        lm_buf_close(&frame);
        lm_buf_close(&text_csv);
    }
    printf("(deflated = frame payload as sent, header excluded; ratio = whole frame incl. its\n"
           " 6-byte header / gzip -9 of the same records as CSV with a header line)\n\n");

    /* Throughput on the 1000-record batch. */
    lm_msg m = {.type = LM_MSG_PUSH};
    m.u.push.changes = ch;
    m.u.push.n_changes = MAXREC * 12;
    lm_buf b;
    lm_buf_init(&b);
    size_t iters = 0;
    double t0 = now(), t;
    do {
        lm_buf_reset(&b);
        if (lm_msg_encode(&m, &b) != LM_OK)
            return 1;
        iters++;
    } while ((t = now() - t0) < seconds);
    double changes = (double)iters * MAXREC * 12;
    printf("encode        %10.0f changes/s %8.1f MB/s of payload (%zu batches in %.2f s)\n",
           changes / t, (double)iters * (double)b.len / t / 1e6, iters, t);

    size_t plen = b.len;
    iters = 0;
    t0 = now();
    do {
        lm_msg out;
        if (lm_msg_decode(LM_MSG_PUSH, b.data, b.len, &out, NULL, 0) != LM_OK)
            return 1;
        lm_msg_clear(&out);
        iters++;
    } while ((t = now() - t0) < seconds);
    changes = (double)iters * MAXREC * 12;
    printf("decode        %10.0f changes/s %8.1f MB/s of payload (%zu batches in %.2f s)\n",
           changes / t, (double)iters * (double)plen / t / 1e6, iters, t);

    lm_buf fr;
    lm_buf_init(&fr);
    iters = 0;
    t0 = now();
    do {
        lm_buf_reset(&fr);
        if (lm_msg_encode_frame(&m, &fr, 1, 0) != LM_OK)
            return 1;
        iters++;
    } while ((t = now() - t0) < seconds);
    changes = (double)iters * MAXREC * 12;
    printf("encode+deflate%10.0f changes/s %8.1f MB/s of payload (%zu batches in %.2f s)\n",
           changes / t, (double)iters * (double)plen / t / 1e6, iters, t);

    iters = 0;
    t0 = now();
    do {
        lm_frame_decoder d;
        lm_frame f;
        lm_msg out;
        lm_frame_decoder_init(&d, 0, 0);
        if (lm_frame_decoder_feed(&d, fr.data, fr.len) != LM_OK ||
            lm_frame_decoder_next(&d, &f) != 1 ||
            lm_msg_decode(f.type, f.payload, f.payload_len, &out, NULL, 0) != LM_OK)
            return 1;
        lm_msg_clear(&out);
        lm_frame_decoder_close(&d);
        iters++;
    } while ((t = now() - t0) < seconds);
    changes = (double)iters * MAXREC * 12;
    printf("inflate+decode%10.0f changes/s %8.1f MB/s of payload (%zu batches in %.2f s)\n",
           changes / t, (double)iters * (double)plen / t / 1e6, iters, t);

    lm_buf_close(&fr);
    lm_buf_close(&b);
    free(ch);
    free(recs);
    return 0;
}
