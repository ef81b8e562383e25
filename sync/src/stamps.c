/*
 * stamps.c — the agent's side of received_at stamps. The server stamps each
 * new collection it receives as its own write and says in the PUSH_ACK
 * which rows of the batch it stamped (lm_stamp_range); the agent writes the
 * same cells here, so CHANGES need not carry them back — on a records push
 * that echo was a third of the bytes on the wire.
 */
#include <stdlib.h>
#include <string.h>

#include "sync_internal.h"

/* A run of consecutive changes to one row: a batch lists a row's changes
 * together, so there are about as many runs as rows, a tenth of the
 * changes, and index_rows sorts runs, not changes. */
typedef struct rowkey {
    const char *table, *pk;
    uint32_t idx;  /* the run's first change */
    uint32_t recv; /* 1 + index of the run's last received_at change (0 = none) */
} rowkey;

static int cmp_rowkey(const void *a, const void *b)
{
    const rowkey *x = a, *y = b;
    int c = strcmp(x->table, y->table);
    if (!c)
        c = strcmp(x->pk, y->pk);
    if (!c)
        c = x->idx < y->idx ? -1 : x->idx > y->idx;
    return c;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static int same_key(const rowkey *a, const rowkey *b)
{
    return !strcmp(a->table, b->table) && !strcmp(a->pk, b->pk);
}

/* For each row of the batch, at the index of its first change: 1 + the
 * index of its last received_at change (0 = none). Other entries stay
 * 0; is_first marks the rows' first changes. A row may come back later
 * in the batch (an update after its insert): its runs sort together. */
static int index_rows(const lm_change *batch, uint32_t n, uint8_t *is_first, uint32_t *recv_at)
{
    rowkey *k = lm_malloc((n ? n : 1) * sizeof *k);
    if (!k)
        return LM_ENOMEM;
    uint32_t nk = 0;
    for (uint32_t i = 0; i < n;) {
        rowkey run = {or_empty(batch[i].table), or_empty(batch[i].pk), i, 0};
        uint32_t e = i;
        for (; e < n && !strcmp(or_empty(batch[e].pk), run.pk) &&
               !strcmp(or_empty(batch[e].table), run.table);
             e++)
            if (batch[e].column && !strcmp(batch[e].column, "received_at"))
                run.recv = e + 1;
        k[nk++] = run;
        i = e;
    }
    qsort(k, nk, sizeof *k, cmp_rowkey);
    for (uint32_t g = 0; g < nk;) {
        uint32_t e = g, recv = 0;
        for (; e < nk && same_key(&k[e], &k[g]); e++)
            if (k[e].recv > recv)
                recv = k[e].recv;
        is_first[k[g].idx] = 1;
        recv_at[k[g].idx] = recv;
        g = e;
    }
    lm_free(k);
    return LM_OK;
}

static int is_collection(const lm_change *c)
{
    return c->table && !strcmp(c->table, "collections");
}

int lm_replica_apply_stamps(lm_replica *r, const lm_change *batch, uint32_t n_batch,
                            const lm_stamp_range *stamps, uint32_t n_stamps, uint64_t server_site)
{
    if (!r || (n_stamps && (!batch || !stamps)))
        return LM_EINVAL;
    if (!n_stamps)
        return LM_OK;
    uint8_t *is_first = lm_calloc(n_batch ? n_batch : 1, 1);
    uint32_t *recv_at = lm_calloc(n_batch ? n_batch : 1, sizeof *recv_at);
    lm_change *ch = lm_calloc(n_batch ? n_batch : 1, sizeof *ch);
    uint32_t n = 0;
    int rc = LM_OK;
    if (!is_first || !recv_at || !ch) {
        rc = lm__fail(r, LM_ENOMEM, "out of memory applying stamps");
        goto out;
    }
    if ((rc = index_rows(batch, n_batch, is_first, recv_at))) {
        lm__fail(r, rc, "out of memory applying stamps");
        goto out;
    }
    for (uint32_t s = 0; s < n_stamps; s++) {
        const lm_stamp_range *sr = &stamps[s];
        /* a range starts and ends at a collection's first change, as the
         * server builds it; anything else names rows we did not send */
        if (sr->lo > sr->hi || sr->hi >= n_batch || !is_first[sr->lo] || !is_first[sr->hi] ||
            !is_collection(&batch[sr->lo]) || !is_collection(&batch[sr->hi])) {
            rc = lm__fail(r, LM_ERANGE,
                          "stamp range [%u, %u] does not match the batch of %u changes", sr->lo,
                          sr->hi, n_batch);
            goto out;
        }
        for (uint32_t i = sr->lo; i <= sr->hi; i++) {
            if (!is_first[i] || !is_collection(&batch[i]))
                continue; /* a grading, a farmer... between two purchases */
            ch[n++] = (lm_change){
                .table = batch[i].table, /* borrowed: ch is freed, never cleared */
                .pk = batch[i].pk,
                .column = (char *)"received_at",
                .value = {.type = LM_VAL_INTEGER, .i = (int64_t)sr->received_at_ms},
                .hlc = sr->hlc,
                .site = server_site,
                .prev_hlc = recv_at[i] ? batch[recv_at[i] - 1].hlc : 0,
            };
        }
    }
    lm_apply_result res;
    rc = lm_replica_apply(r, ch, n, NULL, &res);
    lm_apply_result_clear(&res);
out:
    lm_free(is_first);
    lm_free(recv_at);
    lm_free(ch);
    return rc;
}
