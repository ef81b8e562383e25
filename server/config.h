/*
 * config.h — lastmile-server settings: built-in defaults, then an optional
 * key=value file (--config FILE), then command-line flags, each overriding
 * the one before.
 *
 * File format: one `key = value` per line; blank lines and lines starting
 * with '#' are ignored; surrounding spaces are trimmed. Keys: listen, db,
 * log_level, max_sessions, idle_timeout_ms, handshake_timeout_ms, max_frame,
 * cache_mib, checkpoint_pages, max_queued_mib, max_clock_ahead_ms,
 * max_refusals_per_session, refusal_backoff_ms, max_unsent_kib,
 * max_sessions_per_user, max_prelogin, max_partial_mib, max_changes_per_push,
 * stream_window_kib.
 */
#ifndef LM_SERVER_CONFIG_H
#define LM_SERVER_CONFIG_H

#include <stddef.h>

#define LM_SERVER_PATH_MAX 1024

typedef struct lm_server_config {
    char listen[256];                  /* HOST:PORT, port 0 = any free port */
    char db[LM_SERVER_PATH_MAX];       /* server database file */
    int log_level;                     /* enum lm_log_level */
    unsigned max_sessions;             /* logged-in sessions; more are refused */
    unsigned idle_timeout_ms;          /* silence after WELCOME before the server hangs up */
    unsigned handshake_timeout_ms;     /* connect-to-WELCOME limit */
    size_t max_frame;                  /* largest frame accepted or sent, header included */
    unsigned cache_mib;                /* page cache of each SQLite connection (writer, readers) */
    unsigned checkpoint_pages;         /* WAL size that starts a background checkpoint */
    unsigned max_queued_mib;           /* decoded PUSH batches waiting for the writer */
    unsigned max_clock_ahead_ms;       /* a change stamped further ahead is clamped */
    unsigned max_refusals_per_session; /* refused changes that end a session */
    unsigned refusal_backoff_ms;       /* first login delay after that; doubles */
    unsigned max_unsent_kib;           /* a session's unsent replies past which it is not read */
    unsigned max_sessions_per_user;    /* a newer login ends the user's oldest session */
    unsigned max_prelogin;             /* connections not logged in yet (own cap) */
    unsigned max_partial_mib;          /* unfinished frames buffered, all sessions together */
    unsigned max_changes_per_push;     /* a PUSH with more is refused (LM_ETOOBIG) */
    unsigned stream_window_kib;        /* 8 or 32: a client's deflate window (memory a session) */
    int insecure_plaintext;            /* --insecure-plaintext: no TLS (debugging only) */
} lm_server_config;

/* Fills c with the defaults (listen 127.0.0.1:7070, no db, info, 4096
 * sessions, 120 s idle, 10 s handshake, 1 MiB frames, 32 MiB page cache
 * per connection, checkpoints from 8,000 WAL pages, 16 MiB of queued
 * batches, changes at most 2 minutes ahead, 10,000 refusals a session then
 * logins delayed 10 s doubling, 1 MiB of unsent replies a session, 2
 * sessions a user, 256 connections not logged in, 64 MiB of unfinished
 * frames, 50,000 changes a PUSH, 32 KiB deflate windows). */
void lm_server_config_defaults(lm_server_config *c);

/* Sets one key from text. LM_EINVAL with a message in err for an unknown key
 * or a value out of range; c is unchanged then. */
int lm_server_config_set(lm_server_config *c, const char *key, const char *value, char *err,
                         size_t err_size);

/* Reads a config file and applies every key in order. On error the message
 * names the file and line; keys before the bad line stay applied. */
int lm_server_config_load(lm_server_config *c, const char *path, char *err, size_t err_size);

#endif
