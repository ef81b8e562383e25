/*
 * changes.c — the compact encoding of a PUSH/CHANGES change list.
 *
 * A flat list of per-column changes (table, pk, column, value, hlc, site,
 * prev_hlc, seq) is mostly redundant: a row write produces a dozen changes
 * sharing table, pk, hlc and site, and consecutive rows have close HLCs and
 * the same site. The list travels as two entries of the message map:
 *
 *   "d": [name, ...]        dictionary of table and column names (msgpack
 *                           str, <= LM_MAX_NAME bytes, <= LM__MAX_DICT of
 *                           them) in first-use order; "" is the tombstone
 *                           column.
 *   "r": [row, ...]         rows; each groups a run of consecutive changes
 *                           with equal (table, pk, hlc, site):
 *
 *   row = [table, pk, dhlc, sq, cols]          or
 *         [table, pk, dhlc, sq, cols, site]
 *     table  uint  index into "d"
 *     pk     str   <= LM_MAX_PK bytes
 *     dhlc   int   hlc - hlc of the previous row (0 before the first row),
 *                  mod 2^64 as a signed integer: a handful of bytes instead
 *                  of nine.
 *     sq     int   2 * dseq + step. dseq = seq of the row's first change -
 *                  seq of the change before it in the message (0 at the
 *                  start), signed mod 2^64; step (0 or 1) is the seq
 *                  increment assumed between the row's later changes, so
 *                  rows whose changes share one seq and rows whose changes
 *                  number consecutively both cost nothing per column.
 *     cols   flat array of column entries, at least one:
 *     site   uint  present only when it differs from the previous row's
 *                  site (0 before the first row).
 *
 *   column entry = tag, value [, prev_hlc] [, dseq]     (2 to 4 elements)
 *     tag       uint  column index into "d" * 4 + flags; flag 1: prev_hlc
 *                     follows, flag 2: dseq follows. A flat list with a tag
 *                     instead of an array per column saves a byte per change.
 *     value     nil | int | float | str (TEXT) | bin (BLOB), <= LM_MAX_VALUE;
 *               or `true`: TEXT equal to the row's pk. Every table's key
 *               column repeats the pk; eliding that copy is the largest
 *               single saving once deflated (measured by bench_protocol).
 *               or ext type 1 (fixext 1/2/4/8): an integer given as its
 *               difference (big-endian two's complement, mod 2^64) from
 *               the last integer value of the same column name earlier in
 *               this list. Timestamps such as collected_at take 9 bytes
 *               as they are and 3-4 as a difference; deflate finds no
 *               such saving in them itself (a 2G day: 8 % fewer bytes on
 *               the wire). Sent only to a peer that announced
 *               LM_FEATURE_INT_DELTAS; always decoded.
 *     prev_hlc  uint  (flag 1) the version the writer saw; absent = 0.
 *     dseq      int   (flag 2) this change's seq - the previous change's
 *                     seq, when the row's default (dseq for the first
 *                     column, step after it) is wrong or dseq does not fit
 *                     in 2*dseq.
 *
 * Decoders skip row elements past those listed (room for a newer peer;
 * column entries have no such room: new per-column data needs a new
 * protocol version) and expand rows back into exactly the flat list that was encoded: grouping is
 * a pure function of consecutive equality, so any input round-trips,
 * including interleaved rows and deletes.
 */
#include <string.h>

#include "codec.h"

#define SEQ_PACK_LIMIT ((int64_t)1 << 62) /* |dseq| below this fits 2*dseq+1 */
#define EXT_INT_DELTA 1                   /* ext type of an integer delta */

/* The last integer value of each column name (by dictionary index) so far
 * in the list: what a delta is taken from, the same on both sides. */
typedef struct int_bases {
    int64_t *v;
    uint8_t *has;
} int_bases;

static int bases_init(int_bases *b, uint32_t n)
{
    b->v = lm_calloc(n ? n : 1, sizeof *b->v);
    b->has = lm_calloc(n ? n : 1, 1);
    if (b->v && b->has)
        return LM_OK;
    lm_free(b->v);
    lm_free(b->has);
    b->v = NULL;
    b->has = NULL;
    return LM_ENOMEM;
}

static void bases_close(int_bases *b)
{
    lm_free(b->v);
    lm_free(b->has);
}

/* ------------------------------------------------------------ dictionary */

typedef struct dict {
    const char **names; /* borrowed from the changes */
    uint32_t n;
    uint32_t *slots; /* open addressing: index + 1, 0 = empty */
    uint32_t mask;
} dict;

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static int dict_init(dict *d, uint32_t max_names)
{
    uint32_t cap = 16;
    while (cap < 2 * max_names)
        cap *= 2;
    memset(d, 0, sizeof *d);
    d->names = lm_calloc(max_names ? max_names : 1, sizeof *d->names);
    d->slots = lm_calloc(cap, sizeof *d->slots);
    if (!d->names || !d->slots) {
        lm_free(d->names);
        lm_free(d->slots);
        return LM_ENOMEM;
    }
    d->mask = cap - 1;
    return LM_OK;
}

static void dict_close(dict *d)
{
    lm_free(d->names);
    lm_free(d->slots);
}

/* Index of name, adding it when new; LM_ETOOBIG past LM__MAX_DICT. */
static int dict_index(dict *d, const char *name, uint32_t *idx)
{
    uint32_t i = hash_str(name) & d->mask;
    while (d->slots[i]) {
        uint32_t k = d->slots[i] - 1;
        if (strcmp(d->names[k], name) == 0) {
            *idx = k;
            return LM_OK;
        }
        i = (i + 1) & d->mask;
    }
    if (d->n >= LM__MAX_DICT)
        return LM_ETOOBIG;
    d->names[d->n] = name;
    d->slots[i] = d->n + 1;
    *idx = d->n++;
    return LM_OK;
}

/* ---------------------------------------------------------------- encode */

static int check_change(const lm_change *c)
{
    if (!c->table || !c->pk || !c->column)
        return LM_EINVAL;
    if (strlen(c->table) > LM_MAX_NAME || strlen(c->column) > LM_MAX_NAME ||
        strlen(c->pk) > LM_MAX_PK)
        return LM_ETOOBIG;
    switch (c->value.type) {
    case LM_VAL_INTEGER:
    case LM_VAL_FLOAT:
    case LM_VAL_NULL:
        return LM_OK;
    case LM_VAL_TEXT:
    case LM_VAL_BLOB:
        if (c->value.len > LM_MAX_VALUE)
            return LM_ETOOBIG;
        return c->value.len && !c->value.bytes ? LM_EINVAL : LM_OK;
    default:
        return LM_EINVAL;
    }
}

/* An integer as it is, or as its delta from the column's last integer when
 * that is shorter (and the peer decodes deltas). */
static void put_int(lm__mp_writer *w, int_bases *b, uint32_t col, int64_t v, int deltas)
{
    int64_t delta = lm__u2i((uint64_t)v - (uint64_t)b->v[col]);
    if (deltas && b->has[col] && lm__mp_ext_int_size(delta) < lm__mp_i64_size(v))
        lm__mp_put_ext_int(w, EXT_INT_DELTA, delta);
    else
        lm__mp_put_i64(w, v);
    b->v[col] = v;
    b->has[col] = 1;
}

static void put_value(lm__mp_writer *w, const lm_value *v)
{
    switch (v->type) {
    case LM_VAL_INTEGER:
        lm__mp_put_i64(w, v->i);
        break;
    case LM_VAL_FLOAT:
        lm__mp_put_double(w, v->f);
        break;
    case LM_VAL_TEXT:
        lm__mp_put_str(w, v->bytes, v->len);
        break;
    case LM_VAL_BLOB:
        lm__mp_put_bin(w, v->bytes, v->len);
        break;
    default:
        lm__mp_put_nil(w);
        break;
    }
}

#define COL_PREV_HLC 1u
#define COL_DSEQ 2u

static int is_pk(const lm_change *c)
{
    return c->value.type == LM_VAL_TEXT && c->value.len == strlen(c->pk) &&
           memcmp(c->value.bytes, c->pk, c->value.len) == 0;
}

/* Elements of the flat column list of row [i, end): the same decisions the
 * writer loop makes, counted first because msgpack needs the count up front. */
static uint32_t col_elements(const lm_change *ch, uint32_t i, uint32_t end, uint64_t prev_seq,
                             uint64_t first_dseq, uint64_t step)
{
    uint32_t n = 0;
    for (uint32_t k = i; k < end; k++) {
        uint64_t want = k == i ? first_dseq : step;
        n += 2 + (ch[k].prev_hlc != 0) + (ch[k].seq - prev_seq != want);
        prev_seq = ch[k].seq;
    }
    return n;
}

/* Whether change b continues the row that change a is in. */
static int same_row(const lm_change *a, const lm_change *b, const uint32_t *ta, const uint32_t *tb)
{
    return *ta == *tb && a->hlc == b->hlc && a->site == b->site && strcmp(a->pk, b->pk) == 0;
}

int lm__changes_encode(lm__mp_writer *w, const lm_change *ch, uint32_t n, int int_deltas)
{
    dict d;
    int_bases bases = {NULL, NULL};
    int rc;

    if (w->rc != LM_OK)
        return w->rc;
    if (n > LM_MAX_CHANGES)
        return LM_ETOOBIG;
    if (n && !ch)
        return LM_EINVAL;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = check_change(&ch[i])) != LM_OK)
            return rc;

    uint32_t max_names = 2 * n < LM__MAX_DICT ? 2 * n : LM__MAX_DICT;
    if ((rc = dict_init(&d, max_names)) != LM_OK)
        return rc;
    /* idx[2i] = table index, idx[2i+1] = column index of change i */
    uint32_t *idx = lm_calloc(n ? 2 * (size_t)n : 1, sizeof *idx);
    if (!idx) {
        rc = LM_ENOMEM;
        goto fail_idx;
    }
    uint32_t rows = 0;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = dict_index(&d, ch[i].table, &idx[2 * i])) != LM_OK ||
            (rc = dict_index(&d, ch[i].column, &idx[2 * i + 1])) != LM_OK)
            goto fail_names;
        if (i == 0 || !same_row(&ch[i - 1], &ch[i], &idx[2 * i - 2], &idx[2 * i]))
            rows++;
    }

    if ((rc = bases_init(&bases, d.n)) != LM_OK)
        goto fail_names;
    lm__mp_put_cstr(w, "d");
    lm__mp_put_array(w, d.n);
    for (uint32_t k = 0; k < d.n; k++)
        lm__mp_put_cstr(w, d.names[k]);

    lm__mp_put_cstr(w, "r");
    lm__mp_put_array(w, rows);
    uint64_t prev_hlc = 0, prev_site = 0, prev_seq = 0;
    for (uint32_t i = 0; i < n && w->rc == LM_OK;) {
        uint32_t end = i + 1;
        while (end < n && same_row(&ch[end - 1], &ch[end], &idx[2 * end - 2], &idx[2 * end]))
            end++;
        const lm_change *c = &ch[i];
        uint64_t step = 0;
        if (end - i >= 2 && ch[i + 1].seq - ch[i].seq == 1)
            step = 1;
        int64_t dseq = lm__u2i(c->seq - prev_seq);
        int packed = dseq >= -SEQ_PACK_LIMIT && dseq < SEQ_PACK_LIMIT;

        lm__mp_put_array(w, c->site != prev_site ? 6 : 5);
        lm__mp_put_u64(w, idx[2 * i]);
        lm__mp_put_cstr(w, c->pk);
        lm__mp_put_i64(w, lm__u2i(c->hlc - prev_hlc));
        lm__mp_put_i64(w, packed ? dseq * 2 + (int64_t)step : (int64_t)step);
        lm__mp_put_array(w, col_elements(ch, i, end, prev_seq, packed ? (uint64_t)dseq : 0, step));
        for (uint32_t k = i; k < end; k++) {
            const lm_change *cc = &ch[k];
            uint64_t want = k == i ? (packed ? (uint64_t)dseq : 0) : step;
            uint64_t delta = cc->seq - prev_seq;
            int explicit_seq = delta != want;
            uint64_t flags = (cc->prev_hlc ? COL_PREV_HLC : 0) | (explicit_seq ? COL_DSEQ : 0);
            lm__mp_put_u64(w, (uint64_t)idx[2 * k + 1] << 2 | flags);
            if (is_pk(cc))
                lm__mp_put_bool(w, 1);
            else if (cc->value.type == LM_VAL_INTEGER)
                put_int(w, &bases, idx[2 * k + 1], cc->value.i, int_deltas);
            else
                put_value(w, &cc->value);
            if (cc->prev_hlc)
                lm__mp_put_u64(w, cc->prev_hlc);
            if (explicit_seq)
                lm__mp_put_i64(w, lm__u2i(delta));
            prev_seq = cc->seq;
        }
        if (c->site != prev_site)
            lm__mp_put_u64(w, c->site);
        prev_hlc = c->hlc;
        prev_site = c->site;
        i = end;
    }
    rc = w->rc;
fail_names:
    bases_close(&bases);
    lm_free(idx);
fail_idx:
    dict_close(&d);
    return rc;
}

/* ---------------------------------------------------------------- decode */

typedef struct name {
    const uint8_t *s;
    uint32_t len;
} name;

/* Copies wire bytes into a NUL-terminated string; refuses embedded NULs,
 * which a C string could not carry back out. */
static int dup_name(const uint8_t *s, uint32_t len, char **out)
{
    if (len && memchr(s, 0, len))
        return LM_EMALFORMED;
    *out = lm_malloc((size_t)len + 1);
    if (!*out)
        return LM_ENOMEM;
    if (len)
        memcpy(*out, s, len);
    (*out)[len] = '\0';
    return LM_OK;
}

static int read_value(lm__mp_reader *r, lm_value *v)
{
    int kind, rc;
    const uint8_t *s;
    uint32_t len;

    memset(v, 0, sizeof *v);
    v->type = LM_VAL_NULL;
    if ((rc = lm__mp_peek(r, &kind)) != LM_OK)
        return rc;
    switch (kind) {
    case LM__MP_NIL:
        return lm__mp_read_nil(r);
    case LM__MP_UINT:
    case LM__MP_NINT:
        v->type = LM_VAL_INTEGER;
        return lm__mp_read_i64(r, &v->i);
    case LM__MP_FLOAT:
        v->type = LM_VAL_FLOAT;
        return lm__mp_read_double(r, &v->f);
    case LM__MP_STR:
    case LM__MP_BIN:
        rc = kind == LM__MP_STR ? lm__mp_read_str(r, &s, &len) : lm__mp_read_bin(r, &s, &len);
        if (rc != LM_OK)
            return rc;
        if (len > LM_MAX_VALUE)
            return LM_ETOOBIG;
        if (kind == LM__MP_BIN && len == 0) {
            v->type = LM_VAL_BLOB;
            return LM_OK;
        }
        v->bytes = lm_malloc((size_t)len + 1);
        if (!v->bytes)
            return LM_ENOMEM;
        if (len)
            memcpy(v->bytes, s, len);
        v->bytes[len] = 0; /* TEXT usable as a C string; harmless for BLOB */
        v->len = len;
        v->type = kind == LM__MP_STR ? LM_VAL_TEXT : LM_VAL_BLOB;
        return LM_OK;
    default:
        return LM_ETYPE;
    }
}

typedef struct decoder {
    lm__dctx *c;
    name *names;
    uint32_t n_names;
    int_bases bases;
    lm_change *out;
    uint32_t n, cap;
    uint64_t prev_hlc, prev_site, prev_seq;
} decoder;

static int grow(decoder *d)
{
    if (d->n < d->cap)
        return LM_OK;
    uint32_t cap = d->cap ? d->cap * 2 : 16;
    if (cap > LM_MAX_CHANGES)
        cap = LM_MAX_CHANGES;
    lm_change *p = lm_realloc(d->out, (size_t)cap * sizeof *p);
    if (!p)
        return LM_ENOMEM;
    d->out = p;
    d->cap = cap;
    return LM_OK;
}

static int read_index(decoder *d, lm__mp_reader *r, uint32_t *idx, uint32_t row, const char *what)
{
    uint64_t v;
    int rc = lm__mp_read_u64(r, &v);
    if (rc == LM_OK && v >= d->n_names)
        rc = LM_ERANGE;
    if (rc != LM_OK)
        return lm__derr(d->c, rc, "rows[%u].%s: %s", row, what,
                        rc == LM_ERANGE ? "not an index into the name dictionary"
                                        : lm__read_errtext(rc));
    *idx = (uint32_t)v;
    return LM_OK;
}

/* Skips array elements a newer peer may have appended. */
static int skip_extra(decoder *d, lm__mp_reader *r, uint32_t extra, int depth, uint32_t row)
{
    for (uint32_t i = 0; i < extra; i++) {
        int rc = lm__mp_skip(r, depth);
        if (rc != LM_OK)
            return lm__derr(d->c, rc, "rows[%u]: %s", row, lm__read_errtext(rc));
    }
    return LM_OK;
}

/* An integer delta (ext type 1) in column cidx, as the integer it stands for. */
static int read_delta(decoder *d, lm__mp_reader *r, uint64_t cidx, int64_t *out)
{
    int8_t type;
    const uint8_t *p;
    uint32_t len;
    int rc = lm__mp_read_ext(r, &type, &p, &len);
    if (rc != LM_OK)
        return rc;
    if (type != EXT_INT_DELTA || (len != 1 && len != 2 && len != 4 && len != 8))
        return LM_ETYPE;
    if (!d->bases.has[cidx])
        return LM_EMISSING;
    uint64_t v = 0;
    for (uint32_t i = 0; i < len; i++)
        v = v << 8 | p[i];
    if (len < 8 && (v >> (8 * len - 1)) & 1) /* sign-extend */
        v |= ~(uint64_t)0 << (8 * len);
    *out = lm__u2i((uint64_t)d->bases.v[cidx] + v);
    d->bases.v[cidx] = *out;
    return LM_OK;
}

/* One column entry (tag, value [, prev_hlc] [, dseq]) of row `row` from the
 * flat list, into a new lm_change. *left counts the list's unread elements. */
static int read_col(decoder *d, lm__mp_reader *r, uint32_t *left, uint32_t row, uint32_t col,
                    uint32_t table, const name *pk, uint64_t hlc, uint64_t site, uint64_t want_dseq)
{
    uint64_t tag;
    int rc = lm__mp_read_u64(r, &tag);
    if (rc != LM_OK)
        return lm__derr(d->c, rc, "rows[%u].cols[%u].column: %s", row, col, lm__read_errtext(rc));
    uint64_t cidx = tag >> 2, flags = tag & 3;
    uint32_t need = 2 + (flags & COL_PREV_HLC ? 1 : 0) + (flags & COL_DSEQ ? 1 : 0);
    if (cidx >= d->n_names)
        return lm__derr(d->c, LM_ERANGE,
                        "rows[%u].cols[%u].column: not an index into the name "
                        "dictionary",
                        row, col);
    if (need > *left)
        return lm__derr(d->c, LM_EMISSING, "rows[%u].cols[%u]: entry cut short", row, col);
    *left -= need;
    if (d->n >= LM_MAX_CHANGES)
        return lm__derr(d->c, LM_ETOOBIG, "rows[%u].cols[%u]: more than %u changes", row, col,
                        LM_MAX_CHANGES);
    if ((rc = grow(d)) != LM_OK)
        return lm__derr(d->c, rc, "rows[%u].cols[%u]: out of memory", row, col);

    lm_change *c = &d->out[d->n];
    memset(c, 0, sizeof *c);
    c->value.type = LM_VAL_NULL;
    c->hlc = hlc;
    c->site = site;
    int kind;
    if (lm__mp_peek(r, &kind) == LM_OK && kind == LM__MP_EXT) {
        if ((rc = read_delta(d, r, cidx, &c->value.i)) != LM_OK)
            return lm__derr(d->c, rc, "rows[%u].cols[%u].value: %s", row, col,
                            rc == LM_EMISSING ? "a delta with no integer before it in its column"
                            : rc == LM_ETYPE  ? "an ext other than an integer delta"
                                              : lm__read_errtext(rc));
        c->value.type = LM_VAL_INTEGER;
    } else if (lm__mp_peek(r, &kind) == LM_OK && kind == LM__MP_BOOL) {
        int b = 0;
        lm__mp_read_bool(r, &b);
        if (!b)
            return lm__derr(d->c, LM_ETYPE, "rows[%u].cols[%u].value: false is not a value", row,
                            col);
        lm_value pkv = {LM_VAL_TEXT, 0, 0, (uint8_t *)(uintptr_t)pk->s, pk->len};
        rc = lm_value_copy(&c->value, &pkv);
    } else {
        rc = read_value(r, &c->value);
        if (rc == LM_OK && c->value.type == LM_VAL_INTEGER) {
            d->bases.v[cidx] = c->value.i;
            d->bases.has[cidx] = 1;
        }
    }
    if (rc != LM_OK) {
        lm_change_clear(c);
        return lm__derr(d->c, rc, "rows[%u].cols[%u].value: %s", row, col,
                        rc == LM_ETOOBIG ? "longer than LM_MAX_VALUE bytes"
                        : rc == LM_ETYPE ? "not nil, integer, float, str, bin, true or a delta"
                                         : lm__read_errtext(rc));
    }
    uint64_t dseq = want_dseq;
    if ((flags & COL_PREV_HLC) && (rc = lm__mp_read_u64(r, &c->prev_hlc)) != LM_OK) {
        lm_change_clear(c);
        return lm__derr(d->c, rc, "rows[%u].cols[%u].prev_hlc: %s", row, col, lm__read_errtext(rc));
    }
    if (flags & COL_DSEQ) {
        int64_t sd;
        if ((rc = lm__mp_read_i64(r, &sd)) != LM_OK) {
            lm_change_clear(c);
            return lm__derr(d->c, rc, "rows[%u].cols[%u].dseq: %s", row, col, lm__read_errtext(rc));
        }
        dseq = (uint64_t)sd;
    }
    c->seq = d->prev_seq + dseq;
    if ((rc = dup_name(d->names[table].s, d->names[table].len, &c->table)) != LM_OK ||
        (rc = dup_name(d->names[cidx].s, d->names[cidx].len, &c->column)) != LM_OK ||
        (rc = dup_name(pk->s, pk->len, &c->pk)) != LM_OK) {
        lm_change_clear(c);
        if (rc == LM_EMALFORMED)
            return lm__derr(d->c, rc, "rows[%u]: name or pk contains a NUL byte", row);
        return lm__derr(d->c, rc, "rows[%u]: out of memory", row);
    }
    d->prev_seq = c->seq;
    d->n++;
    return LM_OK;
}

static int read_row(decoder *d, lm__mp_reader *r, uint32_t row)
{
    uint32_t n, table = 0, ncols = 0;
    name pk;
    int64_t dhlc, sq;
    int rc = lm__mp_read_array(r, &n);
    if (rc != LM_OK)
        return lm__derr(d->c, rc, "rows[%u]: %s", row, lm__read_errtext(rc));
    if (n < 5)
        return lm__derr(d->c, LM_EMISSING, "rows[%u]: needs [table, pk, dhlc, sq, cols]", row);
    if ((rc = read_index(d, r, &table, row, "table")) != LM_OK)
        return rc;
    if ((rc = lm__mp_read_str(r, &pk.s, &pk.len)) != LM_OK)
        return lm__derr(d->c, rc, "rows[%u].pk: %s", row, lm__read_errtext(rc));
    if (pk.len > LM_MAX_PK)
        return lm__derr(d->c, LM_ETOOBIG, "rows[%u].pk: string longer than %d", row, LM_MAX_PK);
    if ((rc = lm__mp_read_i64(r, &dhlc)) != LM_OK)
        return lm__derr(d->c, rc, "rows[%u].dhlc: %s", row, lm__read_errtext(rc));
    if ((rc = lm__mp_read_i64(r, &sq)) != LM_OK)
        return lm__derr(d->c, rc, "rows[%u].sq: %s", row, lm__read_errtext(rc));
    if ((rc = lm__mp_read_array(r, &ncols)) != LM_OK)
        return lm__derr(d->c, rc, "rows[%u].cols: %s", row, lm__read_errtext(rc));
    if (ncols == 0)
        return lm__derr(d->c, LM_EMISSING, "rows[%u].cols: empty", row);

    /* The site trails the columns, so read the columns from a copy of the
     * cursor after skipping ahead to it. */
    lm__mp_reader cols = *r;
    for (uint32_t i = 0; i < ncols; i++)
        if ((rc = lm__mp_skip(r, 5)) != LM_OK)
            return lm__derr(d->c, rc, "rows[%u].cols: %s", row, lm__read_errtext(rc));
    uint64_t site = d->prev_site;
    if (n >= 6 && (rc = lm__mp_read_u64(r, &site)) != LM_OK)
        return lm__derr(d->c, rc, "rows[%u].site: %s", row, lm__read_errtext(rc));
    if ((rc = skip_extra(d, r, n > 6 ? n - 6 : 0, 4, row)) != LM_OK)
        return rc;

    uint64_t hlc = d->prev_hlc + (uint64_t)dhlc;
    uint64_t step = (uint64_t)sq & 1;
    uint64_t first = (uint64_t)((sq - (int64_t)step) / 2);
    uint32_t left = ncols;
    for (uint32_t i = 0; left > 0; i++)
        if ((rc = read_col(d, &cols, &left, row, i, table, &pk, hlc, site,
                           i == 0 ? first : step)) != LM_OK)
            return rc;
    d->prev_hlc = hlc;
    d->prev_site = site;
    return LM_OK;
}

int lm__changes_decode(lm__dctx *c, lm__mp_reader dict_r, lm__mp_reader rows_r, lm_change **out,
                       uint32_t *n_out)
{
    decoder d;
    uint32_t nd, nr;
    int rc;

    *out = NULL;
    *n_out = 0;
    memset(&d, 0, sizeof d);
    d.c = c;
    if ((rc = lm__mp_read_array(&dict_r, &nd)) != LM_OK)
        return lm__derr(c, rc, "dict: %s", lm__read_errtext(rc));
    if (nd > LM__MAX_DICT)
        return lm__derr(c, LM_ETOOBIG, "dict: more than %u names", LM__MAX_DICT);
    if ((rc = lm__mp_read_array(&rows_r, &nr)) != LM_OK)
        return lm__derr(c, rc, "rows: %s", lm__read_errtext(rc));
    if (nr > LM_MAX_CHANGES)
        return lm__derr(c, LM_ETOOBIG, "rows: more than %u", LM_MAX_CHANGES);

    d.names = lm_calloc(nd ? nd : 1, sizeof *d.names);
    if (!d.names)
        return lm__derr(c, LM_ENOMEM, "dict: out of memory");
    d.n_names = nd;
    if (bases_init(&d.bases, nd) != LM_OK) {
        lm_free(d.names);
        return lm__derr(c, LM_ENOMEM, "dict: out of memory");
    }
    for (uint32_t i = 0; i < nd; i++) {
        if ((rc = lm__mp_read_str(&dict_r, &d.names[i].s, &d.names[i].len)) != LM_OK) {
            lm__derr(c, rc, "dict[%u]: %s", i, lm__read_errtext(rc));
            goto fail_decode;
        }
        if (d.names[i].len > LM_MAX_NAME) {
            rc = lm__derr(c, LM_ETOOBIG, "dict[%u]: string longer than %d", i, LM_MAX_NAME);
            goto fail_decode;
        }
    }
    for (uint32_t i = 0; i < nr; i++)
        if ((rc = read_row(&d, &rows_r, i)) != LM_OK)
            goto fail_decode;
    lm_free(d.names);
    bases_close(&d.bases);
    if (d.n == 0) {
        lm_free(d.out);
        return LM_OK;
    }
    *out = d.out;
    *n_out = d.n;
    return LM_OK;

fail_decode:
    for (uint32_t i = 0; i < d.n; i++)
        lm_change_clear(&d.out[i]);
    lm_free(d.out);
    lm_free(d.names);
    bases_close(&d.bases);
    return rc;
}
