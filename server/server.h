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
    /* Decoded PUSH batches in write jobs (queued or running), an estimate
     * of their heap; past cfg.max_queued_mib a session's next PUSH waits
     * in its frame decoder, undecoded, in the parked FIFO. */
    size_t queued_bytes, queued_peak;
    lm_session *parked_head, *parked_tail;
    uint64_t parked_total;
} lm_server;

/* Accepts one pending connection on srv->listener and starts its session
 * (handshake timer armed, reading). Refuses with ERROR LM_EBUSY when
 * max_sessions are open or the server is stopping. */
void lm__session_accept(lm_server *srv);

/* Server shutdown: every session says BYE and closes, each once its
 * current store job (if any) has finished and been answered. Sessions are
 * freed later, in their close callbacks. */
void lm__session_stop_all(lm_server *srv);

/* After the loop: frees session-log entries no job could take (only after
 * an allocation failure), saying so. */
void lm__session_log_discard(lm_server *srv);

#endif
