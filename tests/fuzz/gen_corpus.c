/*
 * gen_corpus.c — writes the committed seed corpora: valid encodings of every
 * message (msg/: type byte + payload) and frame streams (frame/: a slicing
 * seed byte + frames, raw and deflated). Run it to regenerate after a wire
 * change: gen_corpus <dir containing msg/ and frame/>. Output is
 * deterministic.
 */
#include <stdio.h>

#include "proto_util.h"

static int write_file(const char *dir, const char *sub, const char *name, uint8_t first,
                      const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(&first, 1, 1, f) == 1 && fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void fill(lm_msg *m, int type, int variant)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    switch (type) {
    case LM_MSG_HELLO:
        m->u.hello = (lm_msg_hello){LM_PROTOCOL_VERSION,
                                    lm_strdup(variant ? "hq" : "agent-17"),
                                    (uint64_t)variant * 0x1234567,
                                    variant ? NULL : lm_strdup("lastmile/0.1.0"),
                                    variant ? 0 : 1,
                                    variant ? 0 : 73,
                                    variant ? 0 : LM_FEATURE_ACK_STAMPS,
                                    {0x11},
                                    {0x22},
                                    (uint8_t)(variant ? 0 : 1),
                                    {0x33}};
        break;
    case LM_MSG_WELCOME:
        m->u.welcome = (lm_msg_welcome){.server_time_ms = UINT64_C(1764300000000),
                                        .server_site = 1,
                                        .push_watermark = (uint64_t)variant * 1000,
                                        .server_seq = UINT64_C(987654),
                                        .role = lm_strdup(variant ? "hq" : "agent"),
                                        .max_frame = variant ? 262144u : 0u,
                                        .has_next_identity = variant == 2,
                                        .push_digest = (uint64_t)variant * UINT64_C(0x1234567)};
        memset(m->u.welcome.next_identity, variant == 2 ? 0x44 : 0, 32);
        break;
    case LM_MSG_PUSH:
        m->u.push.upto_seq = 100 + (uint64_t)variant;
        m->u.push.changes =
            pu_collections(1 + (uint32_t)variant * 2, variant % 2, 7, &m->u.push.n_changes);
        if (variant == 2 && m->u.push.n_changes > 13) {
            /* a delete and an update with prev_hlc in the mix */
            lm_change *c = &m->u.push.changes[12];
            lm_free(c->column);
            c->column = lm_strdup("");
            lm_value_clear(&c->value);
            m->u.push.changes[13].prev_hlc = 12345;
        }
        m->u.push.int_deltas = variant >= 1; /* integers as deltas */
        break;
    case LM_MSG_PUSH_ACK:
        m->u.push_ack.upto_seq = 100;
        m->u.push_ack.applied = 10;
        m->u.push_ack.conflicts = (uint32_t)variant;
        if (variant) {
            m->u.push_ack.n_refusals = 2;
            m->u.push_ack.refusals = lm_calloc(2, sizeof(lm_refusal));
            m->u.push_ack.refusals[0] = (lm_refusal){3, LM_EIMMUTABLE, lm_strdup("weight_g")};
            m->u.push_ack.refusals[1] = (lm_refusal){4, LM_ESCOPE, NULL};
            m->u.push_ack.n_stamps = 2;
            m->u.push_ack.stamps = lm_calloc(2, sizeof(lm_stamp_range));
            m->u.push_ack.stamps[0] =
                (lm_stamp_range){UINT64_C(0x19a0000000001), 1764300000000, 0, 2};
            m->u.push_ack.stamps[1] =
                (lm_stamp_range){UINT64_C(0x19a0000000002), 1764300000000, 5, 9};
        }
        break;
    case LM_MSG_PULL:
        m->u.pull = (lm_msg_pull){(uint64_t)variant * 77, 16384};
        break;
    case LM_MSG_CHANGES:
        m->u.changes.next_cursor = 500;
        m->u.changes.more = (uint8_t)(variant & 1);
        m->u.changes.int_deltas = variant == 2; /* integers as deltas */
        m->u.changes.changes =
            pu_collections((uint32_t)variant * 3, 0, 99, &m->u.changes.n_changes);
        break;
    case LM_MSG_ERROR:
        m->u.error = (lm_msg_error){variant ? LM_EAUTH : LM_ETOOBIG,
                                    variant ? NULL : lm_strdup("frame over 1048576 bytes")};
        break;
    case LM_MSG_BYE:
        m->u.bye.reason = variant ? lm_strdup("sync complete") : NULL;
        break;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
        return 2;
    }
    int failures = 0, files = 0;
    lm_buf stream, zstream;
    lm_buf_init(&stream);
    lm_buf_init(&zstream);
    lm_frame_deflater *z = NULL;
    failures += lm_frame_deflater_new(&z, LM_FRAME_STREAM_WIDE_WBITS) != LM_OK;
    for (int type = LM_MSG_HELLO; type <= LM_MSG_BYE; type++) {
        if (type == 2 || type == 3) /* CHALLENGE, AUTH: retired with protocol 1 */
            continue;
        for (int variant = 0; variant < 3; variant++) {
            lm_msg m;
            lm_buf b;
            char name[64];
            lm_buf_init(&b);
            fill(&m, type, variant);
            failures += lm_msg_encode(&m, &b) != LM_OK;
            snprintf(name, sizeof name, "%s-%d", lm_msg_type_name(type), variant);
            /* the type byte the fuzzer maps to this type */
            failures += write_file(argv[1], "msg", name, (uint8_t)(type - 1), b.data, b.len) != 0;
            lm_buf_reset(&b);
            failures += lm_msg_encode_frame(&m, &b, variant == 1 ? 32 : 0, 0) != LM_OK;
            failures += write_file(argv[1], "frame", name, (uint8_t)variant, b.data, b.len) != 0;
            lm_buf_append(&stream, b.data, b.len);
            failures += lm_msg_encode_frame_z(&m, z, &zstream, 32, 0) != LM_OK;
            files += 2;
            lm_msg_clear(&m);
            lm_buf_close(&b);
        }
    }
    /* one whole session's worth of frames back to back */
    failures += write_file(argv[1], "frame", "session", 7, stream.data, stream.len) != 0;
    /* the same through a session deflate stream: fuzz_frame accepts
     * LM_FRAME_STREAM when the first byte's top bit is set, with the wide
     * window when the next bit is */
    failures +=
        write_file(argv[1], "frame", "session-stream", 0xc7, zstream.data, zstream.len) != 0;
    lm_frame_deflater_free(z);
    lm_buf_close(&stream);
    lm_buf_close(&zstream);
    printf("wrote %d corpus files, %d failures\n", files + 2, failures);
    return failures ? 1 : 0;
}
