/*
 * sync_client.h — one sync session of an agent replica with a
 * lastmile-server over TLS (net/): HELLO (signed over the channel) → WELCOME, then
 * PUSH/PUSH_ACK until nothing local is pending, PULL/CHANGES until the
 * server has nothing more, BYE.
 *
 * Every acknowledged PUSH batch and every applied CHANGES batch is committed
 * on its own (with its watermark / cursor), so a connection that drops at any
 * point leaves the replica consistent, the unacknowledged work still queued,
 * and the next session resumes where this one stopped.
 */
#ifndef LM_AGENT_SYNC_CLIENT_H
#define LM_AGENT_SYNC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "lm_protocol.h"
#include "lm_net.h"
#include "lm_sync.h"

/* The largest PUSH batch (bytes of changes before encoding, a rough count:
 * a batch of collections encodes to about a seventh, deflates to a
 * fourteenth). Reached only while acks come back within a second. Large
 * batches on a fast link cost fewer round trips, and each frame's deflate
 * starts without history, so fewer frames mean fewer bytes: 256 KiB ->
 * 768 KiB took a 10,000-record push from 55.3 to 52.7 bytes per record
 * and 9.2k to 10.5k records/s. Each batch is one transaction on the
 * server, and rows with random keys dirty about one page per index each,
 * so its commit cost falls per row as batches grow: 768 KiB -> 2 MiB took
 * a 100,000-record push from 8.2-10.3 s to 7.0-7.8 s (4 MiB: 5.9-6.9 s,
 * but 10,000 records 15-25 % slower, the last big batch overlapping
 * nothing). Values that do not deflate may outgrow a frame at this size:
 * the client then reads the batch again with half the budget. */
#define LM_SYNC_PUSH_BUDGET_MAX (2048u << 10)

/* The agent replica's page cache (lm_replica_options.cache_kib). A sync
 * writes the server's stamps for a 1,000-row batch in one transaction: with
 * SQLite's default 2 MiB the dirty pages spill mid-transaction. 16 MiB: a
 * 10,000-record push 11k -> 14k records/s, 100,000 6.9k -> 8.0k (the same
 * on the server made no difference there, and a 100-agent burst 59 -> 147
 * MiB peak RSS and slower, so the server keeps the default). A ceiling,
 * filled only as pages are touched. */
#define LM_AGENT_CACHE_KIB 16384

typedef struct lm_sync_stats {
    uint64_t pushed_changes; /* acknowledged by the server */
    uint64_t pulled_changes; /* received and applied */
    uint64_t bytes_sent;     /* every byte written to the socket, handshake included */
    uint64_t bytes_received; /* every byte read from the socket */
    uint64_t conflicts;      /* logged in this replica's conflict log while applying */
    uint64_t refusals;       /* changes the server refused (kept on the replica) */
    uint64_t elapsed_ms;
    char role[16]; /* role the server gave the user in WELCOME */
    /* hq moved the user (WELCOME named another scope than the last one):
     * the pull started again from the beginning, and scope_left rows the
     * new scope does not see left the replica (docs/sync.md, "Scope
     * changes") */
    int scope_changed;
    uint64_t scope_left;
    int tls_resumed; /* the TLS session was resumed from a ticket */
    /* the newest session ticket when lm_sync_config.save_tls_session
     * (serialised, lm_malloc'ed; the caller frees it) */
    uint8_t *tls_session;
    size_t tls_session_len;
    /* Server key rotation (docs/security.md): welcomed = 1 once WELCOME
     * arrived; presented = the fingerprint of the certificate accepted on
     * this connection (has_presented = 0 on a resumed session); next = the
     * identity the server announced in WELCOME (has_next = 0: none). */
    int welcomed;
    int has_presented, has_next;
    uint8_t presented[LM_FINGERPRINT_SIZE];
    uint8_t next[LM_FINGERPRINT_SIZE];
} lm_sync_stats;

typedef struct lm_sync_config {
    const char *server;   /* "HOST:PORT" (borrowed) */
    const char *user;     /* borrowed */
    const char *key_path; /* the device's Ed25519 private key file (borrowed) */
    /* the one-time enrolment token, sent in HELLO on a new device's first
     * session (lastmile init) */
    int has_token;
    uint8_t token[LM_ENROL_TOKEN_SIZE];
    /* TLS: the server certificate's SHA-256 pinned at enrolment; the
     * session fails unless the server holds that identity. */
    uint8_t pin[LM_FINGERPRINT_SIZE];
    /* the identity the server announced it rotates to, accepted too */
    int has_next_pin;
    uint8_t next_pin[LM_FINGERPRINT_SIZE];
    int insecure_plaintext;     /* 1: no TLS at all (debugging only) */
    const uint8_t *tls_session; /* a ticket saved by an earlier session, or NULL (borrowed) */
    size_t tls_session_len;
    unsigned connect_timeout_ms; /* 0 = 10 s */
    unsigned io_timeout_ms;      /* silence from the server longer than this fails; 0 = 30 s */
    int progress;                /* 1 = progress line on stderr */
    int save_tls_session;        /* 1: hand the newest ticket back in the stats */
} lm_sync_config;

/* Runs one full session on r (borrowed; used from this thread only until
 * the call returns). *st is zeroed first and filled even on failure with what
 * was achieved. Returns LM_OK when both sides are up to date; otherwise an
 * LM_E* code (LM_EAUTH for a wrong user or key, LM_ENET / LM_ETIMEDOUT for
 * the link, the server's code for an ERROR it sent) and a one-line reason in
 * err. */
int lm_sync_client_run(lm_replica *r, const lm_sync_config *cfg, lm_sync_stats *st, char *err,
                       size_t err_size);

#endif
