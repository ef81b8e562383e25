/*
 * batch.h — one batch of remote changes being applied, shared by the three
 * files that apply it: apply.c (the batch: grouping, transaction,
 * watermark, cursor, result), merge.c (the merge rules, a row at a time)
 * and rowio.c (loading and writing rows and their version rows). Private
 * to these three; the rest of the engine calls lm_replica_apply.
 */
#ifndef LM_SYNC_BATCH_H
#define LM_SYNC_BATCH_H

#include "sync_internal.h"

/* One cell's version as loaded or as it will be written (cid 0 is the
 * row's tombstone). */
typedef struct cell {
    int has, dirty;
    uint64_t hlc, site, prev;
} cell;

/* One row of the batch while the merge rules run on it: its stored values
 * and cell versions (a row entry expanded into cells), changed in memory,
 * then written by lm__row_flush. */
typedef struct rowstate {
    int tid;
    const char *pk;
    int existed, exists, deleted;
    lm_value vals[LM__MAX_COLS + 1]; /* by cid; 0 unused */
    int val_dirty[LM__MAX_COLS + 1];
    cell cells[LM__MAX_COLS + 1]; /* 0 = tombstone */
    int logged;                   /* any version row was loaded */
    int re_has;                   /* a row entry was loaded ... */
    uint32_t re_cols;             /* ... with this mask */
    uint32_t lent;                /* vals[c] borrowed from the batch (bit c) */
    const char *tomb_key;         /* the tombstone's scope key when not "*" (borrowed) */
} rowstate;

/* Rows and version rows new to the replica wait here and are inserted
 * PEND_ROWS / PEND_VERS at a time: running a statement per record costs
 * about as much as the b-tree work it does. The chunk statements are
 * compiled once per batch (30-90 us each), so a batch of fewer than
 * PEND_MIN changes (~28 records) inserts its pending rows one by one. A
 * pending row's text values are borrowed from the batch or owned here
 * (bit c of owned). */
#define PEND_ROWS 16
#define PEND_VERS 16
#define PEND_MIN 256

typedef struct pend_row {
    const char *pk;
    uint32_t owned;
    lm_value vals[LM__MAX_COLS + 1];
} pend_row;

typedef struct pend_ver {
    int tid, cid;
    const char *pk;
    uint64_t hlc, site, prev, seq;
    uint32_t cols; /* row entry mask; 0 = none (NULL) */
    char *scope;   /* scope key, owned (NULL: none) */
} pend_ver;

/* A batch being applied (lm_replica_apply): its changes, context and
 * result, and what waits to be written. */
typedef struct batch {
    lm_replica *r;
    const lm_change *ch;
    const lm_apply_ctx *ctx;
    lm_apply_result *res;
    uint32_t cap_refusals, cap_stamps;
    int stamp_open;     /* no collection since res->stamps[n-1] went unreported */
    uint64_t seq;       /* local change sequence, written back at commit */
    uint64_t watermark; /* origin's stored watermark */
    uint64_t now;
    uint64_t *hlc;     /* effective (possibly clamped) hlc per change */
    uint8_t *cid;      /* column id per valid change (0 = tombstone) */
    uint64_t recv_hlc; /* this batch's received_at stamp (0 = not yet) */
    char *writer_key;  /* "a:" + the writing agent, made on first use (owned) */
    /* pending inserts (see pend_row): rows of table rows_tid, and version
     * rows; their chunk statements live for one batch only (switching
     * triggers off and on expires every statement anyway) */
    pend_row *rows;
    pend_ver *vers;
    uint32_t n_rows, n_vers;
    int rows_tid, rows_st_tid;
    int chunks; /* PEND_MIN changes or more: chunk statements pay off */
    int closes; /* the batch brings conflict resolutions (finish closes conflicts) */
    sqlite3_stmt *rows_st, *vers_st;
} batch;

typedef struct sortkey {
    const char *table, *pk;
    int tid; /* 0 when the table is unknown: then the name decides */
    uint32_t idx;
} sortkey;

/* rowio.c: rows and version rows. */

/* Drops rs->vals[cid], freeing it unless it is borrowed from the batch. */
void lm__row_val_drop(rowstate *rs, int cid);
/* Drops every value of rs (its other fields are left as they are). */
void lm__row_clear(rowstate *rs);
/* Loads row rs->pk of table rs->tid and its versions into rs (zeroed by
 * the caller but for tid and pk); a row entry becomes the cells it covers. */
int lm__row_load(lm_replica *r, rowstate *rs);
/* Writes what the merge changed in rs: the row (a new one waits with the
 * pending rows) or its deletion, and its dirty versions (a row new to the
 * replica's log waits with the pending version rows). Values rs borrowed
 * or owned may move to the pending rows. */
int lm__row_flush(batch *b, rowstate *rs);
/* Inserts the pending rows / version rows now: before another table's
 * rows are checked against the writer's scope, and before the commit. */
int lm__pend_rows_flush(batch *b);
int lm__pend_vers_flush(batch *b);
/* Frees the values a pending row owns. */
void lm__pend_row_free(pend_row *p);

/* merge.c: applies the changes keys[0..len) of the batch, all of one row
 * (in batch order), under the merge rules; refusals, conflicts, no-ops and
 * stamps go to b->res, and the row is written or waits with the pending
 * inserts. Fails only on an error that fails the whole batch. */
int lm__merge_row(batch *b, const sortkey *keys, uint32_t len);

#endif
