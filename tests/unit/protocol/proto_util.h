/*
 * proto_util.h — helpers shared by the protocol tests: sample messages of
 * every type and deep equality.
 */
#ifndef PROTO_UTIL_H
#define PROTO_UTIL_H

#include <math.h>

#include "lm_test.h"

static uint64_t pu_rng = 0x2545f4914f6cdd1du;
static inline uint32_t pu_rnd(void)
{
    pu_rng ^= pu_rng << 13;
    pu_rng ^= pu_rng >> 7;
    pu_rng ^= pu_rng << 17;
    return (uint32_t)(pu_rng >> 11);
}

/* Builds a change owning copies of its strings (lm_malloc). */
static inline void pu_change(lm_change *c, const char *table, const char *pk, const char *col,
                             const lm_value *v, uint64_t hlc, uint64_t site, uint64_t prev,
                             uint64_t seq)
{
    memset(c, 0, sizeof *c);
    c->table = lm_strdup(table);
    c->pk = lm_strdup(pk);
    c->column = lm_strdup(col);
    lm_value_copy(&c->value, v);
    c->hlc = hlc;
    c->site = site;
    c->prev_hlc = prev;
    c->seq = seq;
}

static inline lm_value pu_int(int64_t i)
{
    lm_value v = {LM_VAL_INTEGER, i, 0, NULL, 0};
    return v;
}

static inline lm_value pu_text(const char *s)
{
    lm_value v = {LM_VAL_TEXT, 0, 0, (uint8_t *)(uintptr_t)s, strlen(s)};
    return v;
}

static inline int pu_value_eq(const lm_value *a, const lm_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case LM_VAL_INTEGER:
        return a->i == b->i;
    case LM_VAL_FLOAT:
        return memcmp(&a->f, &b->f, sizeof a->f) == 0 || (isnan(a->f) && isnan(b->f));
    case LM_VAL_TEXT:
    case LM_VAL_BLOB:
        return a->len == b->len && (a->len == 0 || memcmp(a->bytes, b->bytes, a->len) == 0);
    default:
        return 1;
    }
}

static inline int pu_change_eq(const lm_change *a, const lm_change *b)
{
    return strcmp(a->table, b->table) == 0 && strcmp(a->pk, b->pk) == 0 &&
           strcmp(a->column, b->column) == 0 && pu_value_eq(&a->value, &b->value) &&
           a->hlc == b->hlc && a->site == b->site && a->prev_hlc == b->prev_hlc && a->seq == b->seq;
}

static inline int pu_changes_eq(const lm_change *a, uint32_t na, const lm_change *b, uint32_t nb)
{
    if (na != nb)
        return 0;
    for (uint32_t i = 0; i < na; i++)
        if (!pu_change_eq(&a[i], &b[i]))
            return 0;
    return 1;
}

static inline int pu_str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static inline int pu_msg_eq(const lm_msg *a, const lm_msg *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case LM_MSG_HELLO:
        return a->u.hello.version == b->u.hello.version &&
               pu_str_eq(a->u.hello.user, b->u.hello.user) && a->u.hello.site == b->u.hello.site &&
               pu_str_eq(a->u.hello.client, b->u.hello.client) &&
               a->u.hello.has_pending == b->u.hello.has_pending &&
               a->u.hello.features == b->u.hello.features &&
               (!a->u.hello.has_pending || a->u.hello.pending == b->u.hello.pending);
    case LM_MSG_WELCOME:
        return a->u.welcome.server_time_ms == b->u.welcome.server_time_ms &&
               a->u.welcome.server_site == b->u.welcome.server_site &&
               a->u.welcome.push_watermark == b->u.welcome.push_watermark &&
               a->u.welcome.server_seq == b->u.welcome.server_seq &&
               a->u.welcome.max_frame == b->u.welcome.max_frame &&
               a->u.welcome.has_next_identity == b->u.welcome.has_next_identity &&
               memcmp(a->u.welcome.next_identity, b->u.welcome.next_identity, 32) == 0 &&
               a->u.welcome.push_digest == b->u.welcome.push_digest &&
               pu_str_eq(a->u.welcome.role, b->u.welcome.role);
    case LM_MSG_PUSH:
        return a->u.push.upto_seq == b->u.push.upto_seq &&
               pu_changes_eq(a->u.push.changes, a->u.push.n_changes, b->u.push.changes,
                             b->u.push.n_changes);
    case LM_MSG_PUSH_ACK:
        if (a->u.push_ack.upto_seq != b->u.push_ack.upto_seq ||
            a->u.push_ack.applied != b->u.push_ack.applied ||
            a->u.push_ack.conflicts != b->u.push_ack.conflicts ||
            a->u.push_ack.n_refusals != b->u.push_ack.n_refusals ||
            a->u.push_ack.n_stamps != b->u.push_ack.n_stamps)
            return 0;
        for (uint32_t i = 0; i < a->u.push_ack.n_stamps; i++) {
            const lm_stamp_range *x = &a->u.push_ack.stamps[i], *y = &b->u.push_ack.stamps[i];
            if (x->hlc != y->hlc || x->received_at_ms != y->received_at_ms || x->lo != y->lo ||
                x->hi != y->hi)
                return 0;
        }
        for (uint32_t i = 0; i < a->u.push_ack.n_refusals; i++) {
            const lm_refusal *x = &a->u.push_ack.refusals[i], *y = &b->u.push_ack.refusals[i];
            if (x->index != y->index || x->code != y->code || !pu_str_eq(x->reason, y->reason))
                return 0;
        }
        return 1;
    case LM_MSG_PULL:
        return a->u.pull.cursor == b->u.pull.cursor && a->u.pull.max_bytes == b->u.pull.max_bytes;
    case LM_MSG_CHANGES:
        return a->u.changes.next_cursor == b->u.changes.next_cursor &&
               a->u.changes.more == b->u.changes.more &&
               pu_changes_eq(a->u.changes.changes, a->u.changes.n_changes, b->u.changes.changes,
                             b->u.changes.n_changes);
    case LM_MSG_ERROR:
        return a->u.error.code == b->u.error.code &&
               pu_str_eq(a->u.error.message, b->u.error.message);
    case LM_MSG_BYE:
        return pu_str_eq(a->u.bye.reason, b->u.bye.reason);
    default:
        return 0;
    }
}

static const char *const pu_cols[] = {"id",         "agent_id",     "farmer_id", "village",
                                      "product",    "grade",        "weight_g",  "unit_price_fen",
                                      "amount_fen", "collected_at", "note",      "received_at"};

/* n_records realistic collection rows as changes: each record's 12 columns
 * share hlc and site; seq_step 0 gives each record one seq, 1 numbers every
 * change. The array and its strings are lm_malloc'd. */
static inline lm_change *pu_collections(uint32_t n_records, int seq_step, uint64_t site,
                                        uint32_t *n_out)
{
    lm_change *ch = lm_calloc((size_t)n_records * 12, sizeof *ch);
    uint64_t hlc = LM_HLC_MAKE(UINT64_C(1764300000000), 0), seq = 1;
    static const char *villages[] = {"Xiaohe", "Dongshan", "Liujia", "Shangping"};
    static const char *products[] = {"walnut", "pepper", "apple", "potato", "tea"};
    static const char *grades[] = {"A", "B", "C"};
    uint32_t n = 0;
    for (uint32_t r = 0; r < n_records; r++) {
        char id[32], farmer[32], note[64];
        hlc += LM_HLC_MAKE(1000 + pu_rnd() % 60000, 0) + (pu_rnd() % 3);
        snprintf(id, sizeof id, "01JD%08X%014u", (unsigned)(hlc >> 20), (unsigned)pu_rnd());
        snprintf(farmer, sizeof farmer, "01JC%022u", 1000u + pu_rnd() % 400u);
        int64_t weight = 500 + pu_rnd() % 50000, price = 200 + pu_rnd() % 3000;
        snprintf(note, sizeof note, "%s", pu_rnd() % 4 ? "" : "wet, reweighed");
        lm_value v[12] = {
            pu_text(id),
            pu_text("01JA0000000000000000000007"),
            pu_text(farmer),
            pu_text(villages[pu_rnd() % 4]),
            pu_text(products[pu_rnd() % 5]),
            pu_text(grades[pu_rnd() % 3]),
            pu_int(weight),
            pu_int(price),
            pu_int((weight * price + 500) / 1000),
            pu_int((int64_t)LM_HLC_MS(hlc) - 2000),
            pu_text(note),
            pu_int(0),
        };
        for (int c = 0; c < 12; c++) {
            pu_change(&ch[n++], "collections", id, pu_cols[c], &v[c], hlc, site, 0, seq);
            seq += (uint64_t)seq_step;
        }
        seq += 1 - (uint64_t)seq_step;
    }
    *n_out = n;
    return ch;
}

static inline void pu_free_changes(lm_change *ch, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        lm_change_clear(&ch[i]);
    lm_free(ch);
}

#endif
