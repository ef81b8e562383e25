/*
 * sync_internal.h — what the files of sync/ share: the replica object, the
 * compiled-in domain schema, and the helpers each file offers the others.
 * Private to sync/src; nothing here is a contract outside the library.
 *
 * The files, lowest first: each calls only into files listed above it,
 * never back up into one that depends on it (tests/unit/sync/
 * sync_layers.py checks it on the object files' symbols; a new file
 * takes its place in this list):
 *
 *   util.c       error text, statements, transactions, SQL text, values
 *   tables.c     the domain schema: tables, columns, policies, owners
 *   rules.c      the ledger's rules on a value and on a new row
 *   meta.c       lm_meta: settings and counters by key
 *   clock.c      the hybrid logical clock, ids, stamping captures
 *   scope.c      roles; who may see and who may write what (and
 *                lm_rules_new_row, the field tool's entry check: scope
 *                and row rules together)
 *   scope_key.c  the scope key of a row (an agent's pull reads by it)
 *   schema.c     migrations: tables, lm_columns, capture triggers
 *   replica.c    open, migrate, close; small settings
 *   rowio.c      a batch's row and version I/O (batch.h)
 *   merge.c      the merge rules, one row of a batch at a time
 *   apply.c      a batch of remote changes: grouping, transaction, result
 *   outgoing.c   reading changes to send; the push bookkeeping
 *   conflicts.c  the conflict and refusal logs, for people
 *   hash.c       the state hash a scope may see
 *   stamps.c     writing the received_at stamps of a PUSH_ACK
 *   check.c      SQLite's integrity checks of the file
 *   salvage.c    copying what only a damaged replica holds into a new one
 *   prune.c      a replica following its user's new scope
 */
#ifndef LM_SYNC_INTERNAL_H
#define LM_SYNC_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "lm_sync.h"

/* Upper bound on columns per synced table (pk excluded); cid 0 is the
 * row's tombstone slot, so cells are 1..LM__MAX_COLS. */
#define LM__MAX_COLS 16
#define LM__N_TABLES 16
/* The tables schema version 1 made; later tables are added by their own
 * migration step (schema.c) and take the next ids. */
#define LM__N_TABLES_V1 11
#define LM__STMT_SLOTS 4
/* lm_versions.cid of a row entry: one version for the columns in its
 * cols mask (see schema.c). 0 is the tombstone, 1..n the cells. */
#define LM__ROW_CID (-1)
/* Lookup statements of the ledger's rules (rules.c): one per kind of
 * reference, and two for the rows a new row is checked against. */
#define LM__RULE_REFS 8
#define LM__RULE_STMTS (LM__RULE_REFS + 2)

/* Column policies as stored in lm_columns.policy. */
enum { LM__POL_LWW = 0, LM__POL_IMMUTABLE = 1, LM__POL_MONOTONIC = 2 };

typedef struct lm__col_def {
    const char *name;
    const char *type;  /* "INTEGER", "TEXT" or "REAL" (an integer is taken too): values of
                          another type are refused */
    int policy;        /* LM__POL_* */
    const char *mono;  /* monotonic order, comma separated, lowest first */
    const char *owner; /* owning role name or NULL ("system": trusted only) */
} lm__col_def;

typedef struct lm__table_def {
    const char *name;
    const char *pk;
    int append_only; /* rows may not be deleted by remote writers */
    int n_cols;
    lm__col_def cols[LM__MAX_COLS];
} lm__table_def;

/* The domain schema (tables.c): version 1's tables sorted by table name,
 * then later ones in the order they were added; tid = index + 1 (stored in
 * lm_versions, so an id never changes). */
extern const lm__table_def lm__tables[LM__N_TABLES];

/* Table id (1-based) for a name, 0 when not synced. */
int lm__table_find(const char *name);
/* Column id (1-based) in table tid, 0 when unknown. */
int lm__col_find(int tid, const char *name);
/* Rank of a text value in a monotonic order, -1 when absent. NULL ranks
 * below everything (-2) so any status moves a NULL forward. */
int lm__mono_rank(const char *order, const lm_value *v);

/* Per-table prepared statements, made on first use and kept. */
typedef struct lm__table_stmts {
    sqlite3_stmt *row; /* SELECT pk, cols... FROM t WHERE pk=? */
    sqlite3_stmt *del; /* DELETE FROM t WHERE pk=? */
    /* INSERT / UPDATE of a set of columns (mask), a few kept per table:
     * compiling one also compiles the capture trigger, so reuse matters */
    sqlite3_stmt *ins[LM__STMT_SLOTS];
    uint32_t ins_mask[LM__STMT_SLOTS];
    sqlite3_stmt *upd[LM__STMT_SLOTS];
    uint32_t upd_mask[LM__STMT_SLOTS];
    unsigned ins_next, upd_next;          /* slot to reuse next */
    sqlite3_stmt *cell[LM__MAX_COLS + 1]; /* SELECT col FROM t WHERE pk=? */
} lm__table_stmts;

struct lm_replica {
    sqlite3 *db;
    uint64_t site;
    uint64_t hlc_last; /* highest HLC issued or received */
    int64_t offset_ms; /* server clock - local clock */
    uint64_t max_drift_ms;
    uint32_t pull_scan_max;
    int keyed;   /* the file keeps scope keys (lm_keyed, scope_key.c) */
    int durable; /* commits sync the WAL (lm_replica_set_durable; 1 at open) */
    uint64_t (*now_ms)(void *ud);
    void *now_ud;
    char errmsg[256];
    lm__table_stmts t[LM__N_TABLES + 1];
    /* shared statements, prepared where they are used; replica.c closes them */
    sqlite3_stmt *s_ver_row;                      /* versions of one row */
    sqlite3_stmt *s_ver_upsert[LM__MAX_COLS + 2]; /* write k+1 version rows */
    sqlite3_stmt *s_ver_insert[LM__MAX_COLS + 2]; /* same, none logged before */
    sqlite3_stmt *s_ver_recols, *s_ver_redel;     /* shrink / drop a row entry */
    sqlite3_stmt *s_ver_delrow;                   /* drop cell versions of a deleted row */
    sqlite3_stmt *s_conflict;                     /* insert into lm_conflicts */
    sqlite3_stmt *s_refusal;                      /* insert into lm_refusals */
    sqlite3_stmt *s_refused;                      /* is our version refused? */
    sqlite3_stmt *s_flag;                         /* insert into lm_flags */
    sqlite3_stmt *s_meta_get, *s_meta_set;
    sqlite3_stmt *s_unstamped;            /* any capture without a version? */
    sqlite3_stmt *s_seq_get;              /* last seq handed out */
    sqlite3_stmt *s_key_agent;            /* a collection's agent, for a scope key */
    sqlite3_stmt *s_rule[LM__RULE_STMTS]; /* rules.c's lookups */
    sqlite3_stmt *s_refusal_count;        /* upsert into lm_refusal_counts */
};

/* Keeps a formatted message in r->errmsg and returns rc. */
int lm__fail(lm_replica *r, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Converts a SQLite failure into LM_EDB (LM_EBUSY for lock timeouts),
 * keeping SQLite's text in r->errmsg. */
int lm__dberr(lm_replica *r, const char *what);
/* Runs SQL with no result rows. */
int lm__exec(lm_replica *r, const char *sql);
/* Prepares a persistent statement into *st unless already prepared. */
int lm__prepare(lm_replica *r, sqlite3_stmt **st, const char *sql);

/* Transactions: BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback never fails
 * the caller: it is the cleanup path). */
int lm__begin(lm_replica *r);
int lm__commit(lm_replica *r);
void lm__rollback(lm_replica *r);

/* lm_meta in integer form (meta.c); a missing key reads as dflt. */
int lm__meta_get_u64(lm_replica *r, const char *key, uint64_t dflt, uint64_t *out);
int lm__meta_set_u64(lm_replica *r, const char *key, uint64_t v);

/* Physical time (local clock + server offset) in ms. */
uint64_t lm__phys_now(lm_replica *r);
/* Next HLC in memory only (the caller persists hlc_last in its transaction). */
uint64_t lm__hlc_tick(lm_replica *r);
/* Receive rule: the local clock never falls behind a version it stored. */
void lm__hlc_recv(lm_replica *r, uint64_t remote);
/* Stamps unversioned captures inside the caller's transaction. */
int lm__stamp_in_tx(lm_replica *r, uint64_t *n);

/* Binds v as parameter i / reads column i into *out (owned copy). */
int lm__bind_value(sqlite3_stmt *st, int i, const lm_value *v);
int lm__column_value(sqlite3_stmt *st, int i, lm_value *out);
/* Value equality as stored (type and bytes). */
int lm__value_equal(const lm_value *a, const lm_value *b);

/* Schema: creates or upgrades to LM_SCHEMA_VERSION inside the caller's
 * transaction. from = the file's current version (0 = empty). */
int lm__schema_migrate(lm_replica *r, int from, uint64_t site);

/* A SQL boolean over table tid's columns saying whether reader may see a
 * row; "1" for trusted readers. Owned by the caller (lm_free). */
char *lm__scope_visible_sql(const lm_scope *reader, int tid);
/* Whether writer may write the row whose scope values are given by get()
 * (fresh: the row is new to the replica), 0 when allowed or a refusal code with *why set to a
 * static reason. */
typedef int (*lm__row_get_fn)(void *ud, const char *col, lm_value *out);
int lm__scope_row_check(lm_replica *r, const lm_scope *writer, int tid, int fresh,
                        lm__row_get_fn get, void *ud, const char **why);
/* The ledger's rules (rules.c), on the server: one change's value of
 * column cid, with the row it names when it is a reference, and a new row
 * as a whole (required columns, amounts, a correction against its
 * collection). 0 when fine; a refusal code with *why set; or an error
 * (*why NULL) that fails the batch. */
int lm__rules_cell(lm_replica *r, int tid, int cid, const lm_value *v, uint64_t now_ms,
                   const char **why);
int lm__rules_row(lm_replica *r, int tid, lm__row_get_fn get, void *ud, const char **why);
/* Whether writer may write column cid of table tid (ownership). */
int lm__scope_col_check(const lm_scope *writer, int tid, int cid, const char **why);

/* Growable text for generated SQL; sticky failure (s.oom). */
typedef struct lm__sb {
    char *s;
    size_t len, cap;
    int oom;
} lm__sb;
void lm__sb_add(lm__sb *b, const char *text);
void lm__sb_addf(lm__sb *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends text as a single-quoted SQL literal. */
void lm__sb_quote(lm__sb *b, const char *text);
void lm__sb_free(lm__sb *b);
/* Runs the SQL built in b and frees it; "out of memory <what>" when
 * building it failed. */
int lm__exec_sb(lm_replica *r, lm__sb *b, const char *what);
/* Sets the change counter (lm_seq), inside the caller's transaction. */
int lm__seq_set(lm_replica *r, uint64_t seq);

/* Scope keys (scope_key.c): the key of table tid's row as an SQL
 * expression over rowref (a table name or NEW), appended to b ... */
void lm__scope_key_sql(lm__sb *b, int tid, const char *rowref);
/* ... and the update trigger's statements that key a row again when plain
 * SQL changed the column its key comes from ... */
void lm__scope_rekey_sql(lm__sb *b, int tid);
/* ... and computed from the row's values by cid: "*" when it has none,
 * NULL when the replica keeps no keys. */
int lm__scope_key(lm_replica *r, int tid, const lm_value *vals, char **out);
/* The key SQL of a capture: the row's key or '*', NULL unless keyed. */
void lm__scope_key_capture_sql(lm__sb *b, int tid, const char *rowref);
/* Starts keeping scope keys in this file (inside the caller's
 * transaction): every stored version gets its key. */
int lm__scope_keys_enable(lm_replica *r);
/* Whether reader's pulls read by key, and the SQL doing it: cols of the
 * versions under its keys that pass filter, in seq order (owned). */
int lm__scope_keyed(const lm_scope *reader);
char *lm__scope_keyed_sql(const lm_scope *reader, const char *cols, const char *filter);

/* check.c: opens path for reading only with exclusive locking (no -shm
 * file, so it works on a full disk) and no checkpoint at close; a damaged
 * file opens too. LM_OK with *db to sqlite3_close_v2, else LM_EDB and err. */
int lm__open_quiet(const char *path, sqlite3 **db, char *err, size_t err_size);

/* replica.c: a random site id, never 0, within a signed SQLite integer. */
uint64_t lm__random_site(void);

#endif
