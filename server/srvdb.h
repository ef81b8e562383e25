/*
 * srvdb.h — the server-only tables that live in the same SQLite file as the
 * server replica but are never synced:
 *
 *   lm_users(id TEXT PK, role TEXT, villages TEXT (comma list), county TEXT,
 *            revoked INTEGER, created_at INTEGER,
 *            pubkey BLOB(32)       -- the enrolled device's Ed25519 public key
 *            device_site INTEGER   -- that device's site id
 *            enrol_hash BLOB(32)   -- SHA-256 of the pending enrolment token
 *            enrol_expires INTEGER -- ms; the token is refused after it
 *            auth_gen INTEGER)     -- bumped by revoke/unrevoke/rekey: live
 *                                     sessions of older generations end
 *   lm_sites(site INTEGER PK, user TEXT, bound_at INTEGER)
 *            -- every site id a user's device ever enrolled with: nobody
 *               else may claim it
 *
 * Nothing here logs anybody in: public keys, and hashes of one-time tokens.
 *   lm_sessions_log(user TEXT PK, site INTEGER, last_sync_at INTEGER,
 *            bytes_in INTEGER, bytes_out INTEGER, pushed INTEGER,
 *            pulled INTEGER, sessions INTEGER, pull_cursor INTEGER,
 *            push_queued INTEGER)      -- last sync per user
 *
 * pull_cursor: the server seq the user's replica confirmed holding at the
 * end of its last session (its last PULL's cursor, or the last CHANGES'
 * next cursor when it said BYE after it); NULL when unknown.
 * push_queued: the changes the replica said it had queued when the session
 * started (HELLO "p") minus those of its batches the server applied in the
 * session, at least 0; NULL when it did not say.
 *
 * and the user record / scope the session code builds from a row.
 * Functions take a borrowed sqlite3 handle and use it from the calling
 * thread only.
 */
#ifndef LM_SERVER_SRVDB_H
#define LM_SERVER_SRVDB_H

#include <stddef.h>
#include <stdint.h>

#include "lm_net.h"
#include "lm_protocol.h"
#include "lm_sync.h"

#define LM_USER_ID_MAX 64

/* A provisioned user. villages / county are owned (lm_free via
 * lm__user_clear); scope borrows from them, so the record must not move
 * once lm__user_scope_build has run. */
typedef struct lm_user {
    char id[LM_USER_ID_MAX + 1];
    int role;       /* lm_role */
    char *villages; /* comma list or NULL */
    char *county;   /* or NULL */
    uint8_t pubkey[LM_PUBKEY_SIZE];
    int has_pubkey;
    uint64_t device_site;
    int has_device_site;
    int64_t auth_gen;
    int revoked;
    int64_t created_at;
    /* The scope before the last `user update` moved it (NULL, NULL when
     * never moved), when that was, and the start of the user's first
     * session after it (0 while none has been logged): changes stamped
     * before that session may still be in the old scope (docs/sync.md,
     * "Scope changes"). */
    char *prev_villages;
    char *prev_county;
    int64_t moved_at;
    int64_t seen_at;
    /* Scope view, filled by lm__user_scope_build. */
    char **village_list;
    size_t n_villages;
    lm_scope scope;
    char **prev_village_list;
    size_t n_prev_villages;
    lm_scope prev_scope;
} lm_user;

/* The cut-off of u's previous scope in HLC milliseconds: a change stamped
 * before it is also checked against u->prev_scope; 0 when u was never
 * moved. */
uint64_t lm__user_prev_scope_until(const lm_user *u);
/* A session that told user its scope started at at_ms: the first one after
 * a move ends the previous scope for changes stamped from then on. */
int lm__srvdb_user_seen(sqlite3 *db, const char *user, uint64_t at_ms);
/* The staged next identity's fingerprint a WELCOME of user announced
 * (lm_users.next_pin_sent): `identity show` names who has not had it. */
int lm__srvdb_user_next_pin_sent(sqlite3 *db, const char *user, const uint8_t fp[32]);

/* Creates the server-only tables when missing. */
int lm__srvdb_ensure_schema(sqlite3 *db, char *err, size_t err_size);

/* Loads user id into *u (zeroed first). LM_ENOTFOUND when there is no such
 * user (revoked users are returned with revoked = 1). */
int lm__srvdb_user_get(sqlite3 *db, const char *id, lm_user *u);

/* Enrols a device with a one-time token, in one transaction: the token's
 * SHA-256 must be the user's pending one, unexpired, the user not revoked
 * (else LM_EAUTH), and site not bound to another user (else LM_EDENIED);
 * then the public key and site become the user's device, the token is
 * spent and the site is bound to the user. why gets the reason. */
int lm__srvdb_enrol(sqlite3 *db, const char *user, const uint8_t token_hash[32],
                    const uint8_t pubkey[LM_PUBKEY_SIZE], uint64_t site, uint64_t now_ms, char *why,
                    size_t why_size);

/* Who holds site: *bound = 1 (user), -1 (another user), 0 (nobody). */
int lm__srvdb_site_check(sqlite3 *db, uint64_t site, const char *user, int *bound);
/* Binds site to user unless it is somebody's, then as lm__srvdb_site_check
 * (the writer's connection: the check and the bind are one statement). */
int lm__srvdb_site_bind(sqlite3 *db, uint64_t site, const char *user, uint64_t now_ms, int *bound);

/* Bumps user's auth_gen past every other user's (revoke, unrevoke, rekey:
 * the server ends the user's open sessions when it sees the change). */
int lm__srvdb_bump_auth_gen(sqlite3 *db, const char *user);

/* Splits villages into village_list and points scope at the record. */
int lm__user_scope_build(lm_user *u);
void lm__user_clear(lm_user *u);

/* 1 when id is 1..64 chars of [A-Za-z0-9_.@-]. */
int lm__user_id_valid(const char *id);

/* Upserts the per-user "last sync" row without sync progress (as below). */
int lm__srvdb_session_log(sqlite3 *db, const char *user, uint64_t site, uint64_t at_ms,
                          uint64_t bytes_in, uint64_t bytes_out, uint64_t pushed, uint64_t pulled);
/* The same with the pull cursor the session reached (borrowed; NULL = the
 * session did not PULL, which keeps the stored one of the same site) and
 * the changes left queued on the replica (NULL = not known). */
int lm__srvdb_session_log_progress(sqlite3 *db, const char *user, uint64_t site, uint64_t at_ms,
                                   uint64_t bytes_in, uint64_t bytes_out, uint64_t pushed,
                                   uint64_t pulled, const uint64_t *pull_cursor,
                                   const uint64_t *push_queued);

/* 1 when table has column, 0 when not, LM_EDB on error. */
int lm__srvdb_has_column(sqlite3 *db, const char *table, const char *column);

/* Current wall-clock time in ms since the epoch. */
uint64_t lm__now_ms(void);

#endif
