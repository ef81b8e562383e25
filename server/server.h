/*
 * server.h — what serve.c (the listener, signals, shutdown) and session.c
 * (one connection's state machine) share. Private to server/.
 *
 * Lifetime: the server owns every session through a doubly linked list. A
 * session owns its connection (net/: socket, TLS, timer, write queue) and
 * counts its store job; it is freed only when the connection has closed
 * and no job refers to it.
 */
#ifndef LM_SERVER_SERVER_H
#define LM_SERVER_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "lm_net.h"
#include "store.h"

typedef struct lm_session lm_session;
struct lm_log_entry;

typedef struct lm_server {
    uv_loop_t *loop;
    lm_server_config cfg;
    lm_store *store;
    uv_tcp_t listener;
    uv_signal_t sig_int, sig_term;
    lm_session *sessions; /* live sessions, newest first */
    unsigned n_sessions;
    int stopping; /* a signal arrived: accept nothing, end sessions when idle */
    uint64_t sessions_total;
    struct lm_log_entry *log_pending; /* finished sessions not yet in lm_sessions_log */
    int log_busy;                     /* a log job is queued or running */
    lm_tls *tls;                      /* NULL only with --insecure-plaintext */
    /* auth_watch.c: the poll for revoked / rekeyed users */
    uv_timer_t auth_timer;
    int auth_busy;
    int64_t auth_seen;   /* highest lm_users.auth_gen handled */
    uint64_t auth_polls; /* polls finished: a login that spans one looks again */
    /* Decoded PUSH batches in write jobs (queued or running), an estimate
     * of their heap; past cfg.max_queued_mib a session's next PUSH waits
     * in its frame decoder, undecoded, in the parked FIFO. */
    size_t queued_bytes, queued_peak;
    lm_session *parked_head, *parked_tail;
    uint64_t parked_total;
    /* session.c: connections not logged in yet and logged-in sessions
     * (each under its own cap), input buffers holding unfinished frames
     * (under max_partial_mib), and what the bounds did */
    unsigned n_prelogin, n_ready;
    size_t partial_bytes, partial_peak;
    uint64_t prelogin_evicted, partial_evicted, replaced, out_paused_total;
    /* users whose sessions ended on refusals: logins wait until `until` */
    struct lm_penalty *penalties;
} lm_server;

/* Accepts one pending connection on srv->listener and starts its session
 * (handshake timer armed, reading). Refuses with ERROR LM_EBUSY when
 * max_sessions are open or the server is stopping. */
void lm__session_accept(lm_server *srv);

/* Server shutdown: every session says BYE and closes, each once its
 * current store job (if any) has finished and been answered. Sessions are
 * freed later, in their close callbacks. */
void lm__session_stop_all(lm_server *srv);

/* Ends (ERROR LM_EAUTH) every open session of user that logged in under
 * an auth_gen below gen: the user was revoked, unrevoked or rekeyed. */
void lm__session_auth_changed(lm_server *srv, const char *user, int64_t gen);

/* auth_watch.c: polls lm_users.auth_gen every 250 ms from the loop; stop
 * closes its timer (at shutdown). */
void lm__auth_watch_start(lm_server *srv);
void lm__auth_watch_stop(lm_server *srv);

/* After the loop: frees session-log entries no job could take (only after
 * an allocation failure), saying so. */
void lm__session_log_discard(lm_server *srv);

/* After the loop: frees the refusal back-offs of users (session.c). */
void lm__session_penalties_free(lm_server *srv);

#endif
