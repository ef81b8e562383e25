/*
 * lm_sync.h — the replica engine: domain schema, change capture, hybrid
 * logical clock, per-column merge with a conflict log, watermarks, scopes.
 * The server and every agent run this same engine; it knows SQLite, not
 * sockets.
 *
 * Threading: an lm_replica is one SQLite connection; use it from one thread
 * at a time. Several lm_replica handles may open the same file (WAL mode).
 *
 * Ownership: lm_replica is opaque and owned by whoever opened it. Arrays of
 * lm_change / lm_conflict / lm_refusal returned through out-parameters are
 * owned by the caller and freed with the matching *_free function. Inputs are
 * borrowed for the duration of the call only.
 */
#ifndef LM_SYNC_H
#define LM_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "lm_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sqlite3 sqlite3;
typedef struct lm_replica lm_replica;

/* Schema version this build writes. Opening an older file migrates it in one
 * transaction; a newer one is refused with LM_ESCHEMA. 3: a local write that
 * replaces an unacknowledged local one keeps its prev_hlc (schema.c). 4: scope
 * keys, which an agent's pull reads by (sync/src/scope_key.c). 5: a row
 * inserted with no cell version is logged as one row entry (schema.c). 6: the
 * seq index covers what reading the log by seq needs (schema.c). 7: refusals
 * counted per user, code, table and reason (lm_refusal_counts), an index of
 * adjustments by collection (schema.c). 8: load_corrections, a
 * dispatcher's or hq's correction of a stop's load (tables.c). 9: geography,
 * villages.lat/lon and the warehouses table (tables.c). 10: lm_refusals
 * indexed by cell (schema.c). 11:
 * conflict_resolutions, a conflict's closing as a synced row (conflicts.c).
 * 12: hq's administration: farmers.deactivated_at,
 * receipts.voided_at/void_reason, routes.status 'cancelled' (tables.c).
 * 14: the digest of the batch that set each watermark, and this replica's
 * pushed batches not yet acknowledged (lm_push_marks), which tell a clone
 * from a lost acknowledgement (lm_replica_adopt_watermark_digest).
 * 15: road_distances
 * and routing_settings, what `route suggest` plans over. */
#define LM_SCHEMA_VERSION 15

/* Text ids: 26 chars, time-ordered (48-bit ms) and site-unique, NUL included. */
#define LM_ID_SIZE 27

/* Roles, as stored and sent on the wire ("agent", "dispatcher", "hq").
 * LM_ROLE_SYSTEM is the replica itself or a trusted local admin tool: no
 * rights checks. */
typedef enum lm_role {
    LM_ROLE_SYSTEM = 0,
    LM_ROLE_AGENT = 1,
    LM_ROLE_DISPATCHER = 2,
    LM_ROLE_HQ = 3,
} lm_role;

const char *lm_role_name(int role);
int lm_role_parse(const char *name); /* -1 when unknown */

/* Who is reading or writing: decides what rows are sent (read scope) and
 * which incoming changes are accepted (write rights). Borrowed strings.
 * The exact rules per table are in docs/sync.md ("Scopes"); note that an
 * agent reads the routes of its villages' counties (decided by the route
 * row alone, so a route never becomes visible after its cells were sent)
 * and its own stops. */
typedef struct lm_scope {
    int role;                    /* lm_role */
    const char *user_id;         /* agent_id / dispatcher_id the rows carry */
    const char *const *villages; /* agent's villages */
    size_t n_villages;
    const char *county; /* dispatcher's county */
} lm_scope;

typedef struct lm_replica_options {
    /* Create the file and schema when missing (otherwise LM_ENOTFOUND). */
    int create;
    /* Site id for a new replica; 0 draws a random one. Ignored when the
     * file already has one. */
    uint64_t site;
    /* Clock source in ms since the epoch; NULL = CLOCK_REALTIME. Tests and
     * the simulation drive time through it. */
    uint64_t (*now_ms)(void *ud);
    void *now_ud;
    /* Remote HLCs further ahead than this are clamped and flagged
     * (0 = default 10 minutes). */
    uint64_t max_drift_ms;
    /* sqlite3_busy_timeout for this connection (0 = default 5000). */
    int busy_timeout_ms;
    /* Page cache ceiling in KiB (0 = SQLite's default, 2 MiB). */
    int cache_kib;
    /* Versions one lm_replica_changes_since call examines at most before
     * it answers (with *more set), even with nothing found (0 = default
     * 20,000). */
    uint32_t pull_scan_max;
    /* This replica answers agents' pulls (a server): keep scope keys, so an
     * agent's pull reads only the versions it may see. Once set, the file
     * keeps them for every later opener, with or without this flag. */
    int scope_keys;
    /* Read only, for a disk with no room left (the field tool's read
     * commands fall back to it): SQLite's locking_mode=EXCLUSIVE before
     * the first read keeps the WAL index in memory instead of growing a
     * -shm file, which a full disk refuses; query_only; no checkpoint at
     * close; nothing migrated or stamped (a file that needs either is
     * refused). Other connections to the file wait while it is open. */
    int read_only;
} lm_replica_options;

/* Opens (and migrates or creates) a replica. On success *out owns the
 * connection. Before returning it stamps every change that plain SQL logged
 * without a version. On failure *out is NULL and, when errmsg is not NULL, a
 * message is written there. */
int lm_replica_open(const char *path, const lm_replica_options *opts, lm_replica **out,
                    char *errmsg, size_t errmsg_size);
void lm_replica_close(lm_replica *r); /* NULL is fine */

/* SQLite's PRAGMA quick_check (full = 0: every page and record well formed)
 * or integrity_check (full = 1: also every index against its table) of the
 * replica's file. LM_OK when it reports "ok"; LM_ECORRUPT when it finds
 * damage, each finding passed to line_cb (may be NULL) and the first in
 * lm_replica_errmsg; another error when the check could not run.
 * lm_file_check does the same on a file lm_replica_open cannot open. */
int lm_replica_check(lm_replica *r, int full, void (*line_cb)(const char *line, void *ud),
                     void *ud);
int lm_file_check(const char *path, int full, void (*line_cb)(const char *line, void *ud), void *ud,
                  char *errmsg, size_t errmsg_size);

/* What lm_replica_salvage did. */
typedef struct lm_salvage_stats {
    uint64_t rows_copied;    /* rows written into the new replica as its own */
    uint64_t rows_known;     /* readable rows the new replica already held */
    uint64_t rows_foreign;   /* readable rows another site wrote, not held */
    uint64_t tables_damaged; /* tables with rows on unreadable pages */
    char damaged[128];       /* their names, comma separated (truncated) */
    /* cells of rows the server held that the damaged file changed after
     * its last acknowledgement, written into the new replica */
    uint64_t cells_copied;
    uint64_t conflicts_copied; /* rows of the local conflict log copied */
    uint64_t refusals_copied;  /* rows of the local refusal log copied */
} lm_salvage_stats;

/* Salvage (docs/sync.md, "Damaged replicas"): r is a new replica of the
 * same user that has pulled everything the server holds for it. Copies
 * into it, in one transaction, every readable row of the (damaged) file at
 * bad_path that r does not hold, alive or deleted, unless that file's log
 * says another site wrote it: the damaged replica's own work the server
 * never received. The copies are plain inserts, captured as r's own new
 * changes, so r's next sync sends them under r's site; columns only the
 * server writes (received_at) are left for it to stamp. Each table is
 * read forward and backward in storage order up to its first unreadable
 * page, so one damaged region loses only the rows on it. Then, for rows r
 * holds alive, every cell the damaged file's log shows it wrote after its
 * last acknowledgement whose value it can read and r holds differently is
 * written into r (an UPDATE, captured as r's change); and the rows of its
 * conflict and refusal logs that r lacks are copied. */
int lm_replica_salvage(lm_replica *r, const char *bad_path, lm_salvage_stats *st);
const char *lm_replica_errmsg(const lm_replica *r);

/* The underlying connection (borrowed). Plain SQL writes to synced tables
 * through it, or through any other connection or program, are captured by
 * triggers; call lm_replica_stamp() before reading changes to push. */
sqlite3 *lm_replica_db(lm_replica *r);
uint64_t lm_replica_site(const lm_replica *r);

/* Whether each commit syncs the WAL to disk (1, the default: a commit that
 * returned survives a power cut). 0 leaves that to the next checkpoint or
 * durable commit; a power cut then rolls back a suffix of the commits,
 * never more. A sync session turns it off meanwhile: stamps and pulled
 * changes are fetched again; acks are caught up by
 * lm_replica_adopt_watermark and its own writes made durable by
 * lm_replica_flush before they are sent. */
int lm_replica_set_durable(lm_replica *r, int durable);

/* ----------------------------------------------------------- clock & ids */

/* Next local HLC: monotonic across restarts and unique per site across
 * connections to the file (it takes the persisted last HLC into account and
 * stores the new one in the same write transaction; inside a transaction
 * the caller opened, in that one). */
int lm_replica_hlc_next(lm_replica *r, uint64_t *out);
/* Tells the replica the server's clock (from WELCOME); the offset is kept
 * and applied to the local physical clock. */
int lm_replica_set_server_time(lm_replica *r, uint64_t server_time_ms);
/* A new time-ordered, site-unique id (LM_ID_SIZE bytes incl. NUL). */
int lm_replica_new_id(lm_replica *r, char out[LM_ID_SIZE]);
/* Gives every captured-but-unversioned change its HLC. Returns the count
 * of version rows stamped through *n (may be NULL): a row inserted whole
 * is one (lm_replica_pending_count counts its cells). */
int lm_replica_stamp(lm_replica *r, uint64_t *n);

/* ------------------------------------------------------------ key/value */

/* Small persistent settings (credentials, cursors, last sync). get returns
 * LM_ENOTFOUND when missing; *out is owned by the caller (lm_free). */
int lm_replica_meta_get(lm_replica *r, const char *key, char **out);
int lm_replica_meta_set(lm_replica *r, const char *key, const char *value);

/* ------------------------------------------------------------ outgoing */

/* Local-origin changes with seq > after_seq, in seq order, within about
 * byte_budget bytes (at least one change when any is pending). *upto_seq is
 * the seq the batch covers through (a PUSH's upto_seq). Stamps first. */
int lm_replica_local_changes(lm_replica *r, uint64_t after_seq, size_t byte_budget, lm_change **out,
                             uint32_t *n, uint64_t *upto_seq);

/* Changes after cursor that the reader's scope may see, excluding those that
 * originated at exclude_site (0 = none), within about byte_budget bytes.
 * *next_cursor is stable: passing it back resumes exactly after this batch.
 * *more is 1 when further changes remain. cursor 0 on a replica with much
 * history is served from current state (one version per live cell plus
 * tombstones), not from all history. */
int lm_replica_changes_since(lm_replica *r, uint64_t cursor, const lm_scope *reader,
                             uint64_t exclude_site, size_t byte_budget, lm_change **out,
                             uint32_t *n, uint64_t *next_cursor, int *more);
/* The same, also leaving out this replica's own versions whose hlc is in
 * own_hlcs[0..n_own) (ascending): the received_at stamps the server's
 * PUSH_ACKs already handed the reader in this session. */
int lm_replica_changes_since_except(lm_replica *r, uint64_t cursor, const lm_scope *reader,
                                    uint64_t exclude_site, const uint64_t *own_hlcs, size_t n_own,
                                    size_t byte_budget, lm_change **out, uint32_t *n,
                                    uint64_t *next_cursor, int *more);

void lm_changes_free(lm_change *changes, uint32_t n);

/* Pending local changes not yet acknowledged by the server. */
int lm_replica_pending_count(lm_replica *r, uint64_t *n);

/* ------------------------------------------------------------ incoming */

typedef struct lm_apply_ctx {
    /* Writer's rights; NULL = trusted (an agent applying what the server
     * sent). A change outside the writer's rights is refused, not applied. */
    const lm_scope *writer;
    /* A moved user's previous scope (docs/sync.md, "Scope changes"): a row
     * the writer's scope refuses, whose changes in the batch were all
     * stamped (HLC ms) before writer_before_until_ms, is checked against
     * writer_before instead. NULL = none. */
    const lm_scope *writer_before;
    uint64_t writer_before_until_ms;
    /* Watermark to record in the same transaction: the origin site and the
     * seq the batch covers through (0/0 = none). Changes from a batch at or
     * below the stored watermark are no-ops. */
    uint64_t origin_site;
    uint64_t origin_upto_seq;
    /* The batch's lm_push_digest, kept beside the watermark when the batch
     * moves it (0 = none); WELCOME sends it back. */
    uint64_t origin_digest;
    /* When non-NULL, meta key/value written in the same transaction (an
     * agent stores its pull cursor this way). */
    const char *cursor_key;
    uint64_t cursor_value;
    /* Server only: stamp collections.received_at with this time (0 = no). */
    uint64_t received_at_ms;
    /* Server only: check each change against the ledger's rules before
     * the merge (lm_rules.h; docs/sync.md "Ledger rules"): its site is
     * origin_site's, its value within bounds, what it names exists, a new
     * row whole and consistent (amounts), a loaded stop frozen, no row
     * deleted by an agent. A replica applying what its server sent does
     * not check again. */
    int ledger_rules;
    /* Remote HLCs further ahead of this replica's clock than this are
     * clamped and flagged (0 = the replica's max_drift_ms). */
    uint64_t max_ahead_ms;
    /* When set, refusals are counted in lm_refusal_counts under this user
     * (one row per user, code, table and reason, with a sample) instead of
     * one lm_refusals row each. The result lists every refusal either way. */
    const char *refusals_by;
} lm_apply_ctx;

typedef struct lm_apply_result {
    uint32_t applied;     /* changes that changed state */
    uint32_t noops;       /* already known (re-sent) */
    uint32_t conflicts;   /* concurrent writes: a loser went to the conflict log */
    uint32_t clamped;     /* HLCs too far ahead, clamped and flagged */
    lm_refusal *refusals; /* owned by the result: lm_apply_result_clear() */
    uint32_t n_refusals;
    /* received_at stamps (ctx->received_at_ms) the pusher can write from
     * the PUSH_ACK (see lm_stamp_range); owned by the result */
    lm_stamp_range *stamps;
    uint32_t n_stamps;
} lm_apply_result;

/* Applies a batch in one transaction, together with the watermark / cursor
 * of ctx. Either all of it (minus refused changes) commits, or nothing. */
int lm_replica_apply(lm_replica *r, const lm_change *changes, uint32_t n, const lm_apply_ctx *ctx,
                     lm_apply_result *res);
void lm_apply_result_clear(lm_apply_result *res);

/* Per-origin watermark (0 when unknown). */
int lm_replica_watermark(lm_replica *r, uint64_t origin_site, uint64_t *seq);
/* The same, with the digest of the batch that set it (0 when unknown: set
 * before schema version 14, or by a caller that gave none). */
int lm_replica_watermark_digest(lm_replica *r, uint64_t origin_site, uint64_t *seq,
                                uint64_t *digest);

/* What identifies a PUSH batch: a digest (63 bits of SHA-256; 0 only when
 * out of memory) of its changes, every field as sent, and its upto_seq. The sender keeps it
 * (lm_replica_push_mark), the receiver computes it from what it decoded
 * (lm_apply_ctx.origin_digest); the encoding round-trips exactly, so the
 * two agree. */
uint64_t lm_push_digest(const lm_change *batch, uint32_t n, uint64_t upto_seq);

/* Agent side, before sending a PUSH: one durable commit (as
 * lm_replica_flush: everything logged so far survives a power cut) that
 * also keeps the batch's digest until an acknowledgement covers it. At
 * the next WELCOME, a watermark past the acknowledgements is a lost ack
 * when its digest is one this replica kept, and a clone's otherwise. */
int lm_replica_push_mark(lm_replica *r, const lm_change *batch, uint32_t n, uint64_t upto_seq);

/* Agent side, after PUSH_ACK: marks local changes up to upto_seq as
 * acknowledged and keeps the refusals the server reported for changes of
 * that batch (the batch is passed so each refusal can be stored with its
 * table/pk/column/value). The mark also decides capture: a later local write
 * of a cell whose local version is not covered by it keeps that version's
 * prev_hlc (the last version the server can know), so overwriting an
 * unpushed write is a fast-forward at the server, not a conflict. */
int lm_replica_push_acked(lm_replica *r, uint64_t upto_seq, const lm_change *batch,
                          uint32_t n_batch, const lm_refusal *refusals, uint32_t n_refusals);
int lm_replica_push_acked_seq(lm_replica *r, uint64_t *upto_seq);

/* One durable commit, whatever lm_replica_set_durable said: everything
 * committed so far survives a power cut. *upto_seq = the last seq handed
 * out, all of it covered. An agent calls it before sending a change logged
 * after the last call: the server's watermark will name it for good. */
int lm_replica_flush(lm_replica *r, uint64_t *upto_seq);

/* The last change seq this replica handed out, the head of its change log
 * (0 when it never logged one): every change logged later gets a larger
 * one. Read in the caller's transaction when one is open. The server
 * sends its own in WELCOME.server_seq. */
int lm_replica_seq(lm_replica *r, uint64_t *seq);

/* Agent side, at WELCOME: the server holds this replica's changes up to
 * watermark. Marks them acknowledged (a power cut here may have rolled
 * back acks of batches the server kept). A watermark past anything this
 * replica ever counted means the file is a restored or copied one, whose
 * changes since its last acknowledgement may carry seqs the server gave
 * to other changes: it takes a fresh site id (lm_replica_site changes;
 * meta "previous_site" keeps the old one) and logs those changes again
 * under it, numbered past the watermark, so they are sent once and no
 * change logged from now on is numbered as one the server already has.
 * That done (committed), it returns LM_ECONFLICT: the caller ends the
 * session, which speaks for the old site, and starts one as the new site,
 * pulling from the start (rows the old site wrote elsewhere are not in
 * this file). */
int lm_replica_adopt_watermark(lm_replica *r, uint64_t watermark);
/* The same with the digest of the batch that set the watermark (WELCOME
 * `d`; 0 = unknown, the rule above). With one, the watermark is a lost
 * acknowledgement only when it names a batch this replica sent
 * (lm_replica_push_mark) with that digest; otherwise the server holds,
 * under this site's seqs, changes this file never made: a restored copy,
 * or a live clone that logged as many changes or more since the copy. It
 * takes a fresh site as above, logging again under it every change of
 * its own the server has not acknowledged. */
int lm_replica_adopt_watermark_digest(lm_replica *r, uint64_t watermark, uint64_t digest);

/* Agent side, after PUSH_ACK: writes the received_at stamps the server
 * reported for the pushed batch, as the server's own writes (site
 * server_site), exactly as pulling them would. A range whose ends are not
 * the first changes of collections in the batch is LM_ERANGE and writes
 * nothing. */
int lm_replica_apply_stamps(lm_replica *r, const lm_change *batch, uint32_t n_batch,
                            const lm_stamp_range *stamps, uint32_t n_stamps, uint64_t server_site);

/* ---------------------------------------------------------- conflicts */

typedef struct lm_conflict {
    int64_t id;
    char *table, *pk, *column;
    lm_value winner, loser; /* winner = value kept; loser = value set aside */
    uint64_t winner_hlc, winner_site, loser_hlc, loser_site;
    uint64_t at_ms;
    int resolved; /* 0 open, 1 resolved */
    /* The record in words, for people: a farmer's name and village, a
     * purchase's farmer, product and village, a route's date, vehicle and
     * driver... ("" when the row is gone). Raw text typed by people: show
     * it through the text layer. */
    char *label;
    /* How it was closed, from its resolution record (conflict_resolutions,
     * schema 11; empty strings and 0 when none): kept "winner" or "loser",
     * by whom, why, when (ms). A conflict closed on a replica of an
     * earlier version has resolved = 1 and no record. */
    char *kept, *resolved_by, *reason;
    uint64_t resolved_at_ms;
} lm_conflict;

int lm_replica_conflicts(lm_replica *r, int include_resolved, lm_conflict **out, size_t *n);
/* Closes conflict id. keep_loser = 0 keeps the winner ("theirs" on an
 * agent when the server's value won); 1 writes the loser's value back as a
 * new local change that syncs like any other write. Either way a
 * resolution record (conflict_resolutions: the conflict's cell and
 * versions, what was kept, by, reason) is written as a captured change:
 * it syncs, and every replica that logged the same conflict closes it when
 * it arrives. by NULL: the replica's user (meta "user"), else none.
 * LM_ENOTFOUND for no such conflict, LM_ESTATE when it is already closed
 * or the loser cannot be kept. */
int lm_replica_conflict_close(lm_replica *r, int64_t id, int keep_loser, const char *by,
                              const char *reason);
/* lm_replica_conflict_close(r, id, keep_loser, NULL, NULL). */
int lm_replica_conflict_resolve(lm_replica *r, int64_t id, int keep_loser);
void lm_conflicts_free(lm_conflict *c, size_t n);

/* Refusals kept on this replica (agent: reported by the server). */
typedef struct lm_refusal_record {
    int64_t id;
    char *table, *pk, *column;
    lm_value value;
    int32_t code;
    char *reason;
    uint64_t at_ms;
} lm_refusal_record;

int lm_replica_refusals(lm_replica *r, lm_refusal_record **out, size_t *n);
void lm_refusal_records_free(lm_refusal_record *rr, size_t n);

/* The replica follows its user's new scope (docs/sync.md, "Scope
 * changes"): removes, in one transaction and without capturing it, every
 * row scope does not see and nothing of which waits to be pushed, with its
 * versions. hq (and LM_ROLE_SYSTEM) sees everything: nothing is removed.
 * *removed (may be NULL) = rows removed. */
int lm_replica_scope_prune(lm_replica *r, const lm_scope *scope, uint64_t *removed);

/* Deterministic hash of all synced state a scope may see (tables, rows,
 * values; not versions): replicas that converged have equal hashes. */
int lm_replica_state_hash(lm_replica *r, const lm_scope *reader, uint8_t out[32]);

#ifdef __cplusplus
}
#endif
#endif
