/*
 * serve.c — `lastmile-server serve`: the listener, signals and shutdown.
 *
 * Happy path: load settings (defaults, --config file, flags), open the
 * store, bind and listen, print `listening on HOST:PORT` (the real port
 * when 0 was asked) as the first stdout line, then run the loop; every
 * connection becomes a session (session.c).
 *
 * Shutdown (SIGINT or SIGTERM): stop accepting, close the signal handles
 * (a second signal then takes the default action and kills the process),
 * and ask every session to stop: an idle one says BYE and closes; one with
 * a batch on the thread pool answers it first. The loop ends by itself when
 * the last handle is closed and the last job (including the "last sync"
 * rows) has committed; then the databases are closed and the exit code is 0.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "identity.h"
#include "log.h"
#include "args.h"
#include "lm_text.h"
#include "server.h"

/* A thousand agents may connect in the same second; the kernel caps this
 * at net.core.somaxconn. */
#define LISTEN_BACKLOG 4096

static const char usage[] =
    "usage: lastmile-server serve --db PATH [--listen HOST:PORT] [--config FILE]\n"
    "                             [--log-level error|warn|info|debug]\n"
    "                             [--max-sessions N] [--idle-timeout-ms MS]\n"
    "                             [--handshake-timeout-ms MS] [--max-frame BYTES]\n"
    "                             [--cache-mib MIB] [--checkpoint-pages N]\n"
    "                             [--max-queued-mib MIB] [--max-clock-ahead-ms MS]\n"
    "                             [--max-refusals-per-session N] [--refusal-backoff-ms MS]\n"
    "                             [--max-unsent-kib KIB] [--max-sessions-per-user N]\n"
    "                             [--max-prelogin N] [--max-partial-mib MIB]\n"
    "                             [--max-changes-per-push N] [--stream-window-kib 8|32]\n"
    "                             [--insecure-plaintext]\n"
    "\n"
    "Serves sync sessions on HOST:PORT (default 127.0.0.1:7070; port 0 picks a\n"
    "free port). The first stdout line is `listening on HOST:PORT`. Logs go to\n"
    "stderr. SIGINT/SIGTERM finish in-flight batches, close the database and\n"
    "exit 0. Config file: key = value lines with keys listen, db, log_level,\n"
    "max_sessions, idle_timeout_ms, handshake_timeout_ms, max_frame, cache_mib\n"
    "(page cache per database connection, default 32), checkpoint_pages (WAL\n"
    "pages that start a background checkpoint, default 8000), max_queued_mib\n"
    "(PUSH batches decoded and waiting for the database, default 16),\n"
    "max_clock_ahead_ms (a change stamped further ahead of the server's clock\n"
    "is clamped to it and flagged, default 120000), max_refusals_per_session\n"
    "(refused changes that end a session, default 10000), refusal_backoff_ms\n"
    "(that user's next logins wait this long, doubling, default 10000),\n"
    "max_unsent_kib (unsent replies past which a session is not read, default\n"
    "1024), max_sessions_per_user (a newer login ends the oldest, default 2),\n"
    "max_prelogin (connections not logged in, default 256), max_partial_mib\n"
    "(unfinished frames of all sessions, default 64), max_changes_per_push\n"
    "(default 50000), stream_window_kib (a client's deflate window, 8 or 32;\n"
    "32 costs about 25 KB more a session, default 32); flags win.\n"
    "docs/server.md lists every limit.\n";

static void noop_close_cb(uv_handle_t *h)
{
    (void)h;
}

/* SIGINT/SIGTERM: stop accepting and start the drain (see the top). */
static void signal_cb(uv_signal_t *sig, int signum)
{
    lm_server *srv = sig->data;
    if (srv->stopping)
        return;
    srv->stopping = 1;
    lm_log(LM_LOG_INFO, "%s: stopping, draining %u session(s)",
           signum == SIGINT ? "SIGINT" : "SIGTERM", srv->n_sessions);
    uv_close((uv_handle_t *)&srv->listener, noop_close_cb);
    uv_close((uv_handle_t *)&srv->sig_int, noop_close_cb);
    uv_close((uv_handle_t *)&srv->sig_term, noop_close_cb);
    lm__auth_watch_stop(srv);
    lm__session_stop_all(srv);
}

static void connection_cb(uv_stream_t *listener, int status)
{
    lm_server *srv = listener->data;
    if (status < 0) {
        lm_log(LM_LOG_WARN, "listen: %s", uv_strerror(status));
        return;
    }
    lm__session_accept(srv);
}

/* Binds and listens on cfg.listen; prints the real address. The host may
 * be a name: it is resolved once, synchronously, before the loop runs. */
static int start_listening(lm_server *srv, char *err, size_t err_size)
{
    char host[256];
    int port;
    if (lm_text_host_port_parse(srv->cfg.listen, 0, host, sizeof host, &port) != LM_OK) {
        snprintf(err, err_size, "bad --listen '%s' (want HOST:PORT)", srv->cfg.listen);
        return LM_EINVAL;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    uv_getaddrinfo_t gai;
    int rc = uv_getaddrinfo(srv->loop, &gai, NULL, host, NULL, &hints);
    if (rc != 0) {
        snprintf(err, err_size, "cannot resolve %s: %s", host, uv_strerror(rc));
        return LM_ENET;
    }
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, gai.addrinfo->ai_addr, gai.addrinfo->ai_addrlen);
    uv_freeaddrinfo(gai.addrinfo);
    if (addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)port);

    uv_tcp_init(srv->loop, &srv->listener);
    srv->listener.data = srv;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, LISTEN_BACKLOG, connection_cb);
    if (rc != 0) {
        snprintf(err, err_size, "cannot listen on %s: %s", srv->cfg.listen, uv_strerror(rc));
        uv_close((uv_handle_t *)&srv->listener, noop_close_cb); /* the caller runs the loop */
        return LM_ENET;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
    char ip[64] = "?", where[96];
    if (bound.ss_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *)&bound, ip, sizeof ip);
        snprintf(where, sizeof where, "%s:%d", ip, ntohs(((struct sockaddr_in *)&bound)->sin_port));
    } else {
        uv_ip6_name((const struct sockaddr_in6 *)&bound, ip, sizeof ip);
        snprintf(where, sizeof where, "[%s]:%d", ip,
                 ntohs(((struct sockaddr_in6 *)&bound)->sin6_port));
    }
    printf("listening on %s\n", where);
    fflush(stdout);
    lm_log(LM_LOG_INFO, "listening on %s (db %s, max %u sessions, %u MiB page cache each)", where,
           srv->cfg.db, srv->cfg.max_sessions, srv->cfg.cache_mib);
    return LM_OK;
}

/* The TLS context over the server identity (made when missing), or
 * nothing with --insecure-plaintext, said loudly in the log. */
static int start_tls(lm_server *srv, char *err, size_t err_size)
{
    if (srv->cfg.insecure_plaintext) {
        lm_log(LM_LOG_WARN, "INSECURE: --insecure-plaintext: sessions are neither encrypted nor "
                            "bound to a channel; anyone on the path can read and change them. "
                            "For debugging only.");
        return LM_OK;
    }
    uint8_t fp[LM_FINGERPRINT_SIZE];
    char hex[LM_FINGERPRINT_HEX_SIZE], key[1100], cert[1100];
    int created = 0;
    int rc = lm__identity_ensure(srv->cfg.db, &created, fp, err, err_size);
    if (rc == LM_OK)
        rc = lm__identity_paths(srv->cfg.db, key, cert);
    if (rc == LM_OK)
        rc = lm_tls_server_new(key, cert, &srv->tls, err, err_size);
    if (rc != LM_OK)
        return rc;
    lm_fingerprint_hex(fp, hex);
    lm_log(LM_LOG_INFO, "TLS 1.3, server identity sha256 %s%s", hex,
           created ? " (created now)" : "");
    return LM_OK;
}

/* Each session is a file descriptor: lift the soft limit to the hard one
 * so a thousand agents do not hit a default of 1024. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        lm_log(LM_LOG_WARN, "could not raise the open-file limit");
}

/* Thread-pool size libuv will use: UV_THREADPOOL_SIZE or its default 4. */
static unsigned pool_size(void)
{
    const char *v = getenv("UV_THREADPOOL_SIZE");
    long n = v ? strtol(v, NULL, 10) : 4;
    if (n < 1)
        n = 1;
    if (n > 64)
        n = 64;
    return (unsigned)n;
}

/* Parses flags over defaults and an optional config file. 0 ok, else the
 * exit code (2 usage / 1 unreadable file), or -1 for --help. */
static int load_settings(int argc, char **argv, lm_server_config *cfg)
{
    const char *db = NULL, *listen = NULL, *config = NULL, *level = NULL, *max_sessions = NULL,
               *idle = NULL, *handshake = NULL, *max_frame = NULL, *cache_mib = NULL,
               *ckpt_pages = NULL, *max_queued = NULL, *clock_ahead = NULL, *max_refusals = NULL,
               *backoff = NULL, *unsent = NULL, *per_user = NULL, *prelogin = NULL, *partial = NULL,
               *per_push = NULL, *window = NULL;
    int plaintext = 0;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                     {"listen", LM_OPT_VALUE, &listen, NULL},
                     {"config", LM_OPT_VALUE, &config, NULL},
                     {"log-level", LM_OPT_VALUE, &level, NULL},
                     {"max-sessions", LM_OPT_VALUE, &max_sessions, NULL},
                     {"idle-timeout-ms", LM_OPT_VALUE, &idle, NULL},
                     {"handshake-timeout-ms", LM_OPT_VALUE, &handshake, NULL},
                     {"max-frame", LM_OPT_VALUE, &max_frame, NULL},
                     {"cache-mib", LM_OPT_VALUE, &cache_mib, NULL},
                     {"checkpoint-pages", LM_OPT_VALUE, &ckpt_pages, NULL},
                     {"max-queued-mib", LM_OPT_VALUE, &max_queued, NULL},
                     {"max-clock-ahead-ms", LM_OPT_VALUE, &clock_ahead, NULL},
                     {"max-refusals-per-session", LM_OPT_VALUE, &max_refusals, NULL},
                     {"refusal-backoff-ms", LM_OPT_VALUE, &backoff, NULL},
                     {"max-unsent-kib", LM_OPT_VALUE, &unsent, NULL},
                     {"max-sessions-per-user", LM_OPT_VALUE, &per_user, NULL},
                     {"max-prelogin", LM_OPT_VALUE, &prelogin, NULL},
                     {"max-partial-mib", LM_OPT_VALUE, &partial, NULL},
                     {"max-changes-per-push", LM_OPT_VALUE, &per_push, NULL},
                     {"stream-window-kib", LM_OPT_VALUE, &window, NULL},
                     {"insecure-plaintext", LM_OPT_FLAG, NULL, &plaintext}};
    int prc = lm_args_run(argc, argv, opts, sizeof opts / sizeof opts[0], "lastmile-server serve",
                          usage, NULL);
    if (prc == 0)
        return -1;
    if (prc != LM_ARGS_GO)
        return 2;
    lm_server_config_defaults(cfg);
    char err[512];
    if (config && lm_server_config_load(cfg, config, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server serve: %s\n", err);
        return 1;
    }
    const char *keys[] = {"db",
                          "listen",
                          "log_level",
                          "max_sessions",
                          "idle_timeout_ms",
                          "handshake_timeout_ms",
                          "max_frame",
                          "cache_mib",
                          "checkpoint_pages",
                          "max_queued_mib",
                          "max_clock_ahead_ms",
                          "max_refusals_per_session",
                          "refusal_backoff_ms",
                          "max_unsent_kib",
                          "max_sessions_per_user",
                          "max_prelogin",
                          "max_partial_mib",
                          "max_changes_per_push",
                          "stream_window_kib"};
    const char *values[] = {db,          listen,       level,     max_sessions, idle,
                            handshake,   max_frame,    cache_mib, ckpt_pages,   max_queued,
                            clock_ahead, max_refusals, backoff,   unsent,       per_user,
                            prelogin,    partial,      per_push,  window};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (values[i] && lm_server_config_set(cfg, keys[i], values[i], err, sizeof err) != LM_OK) {
            fprintf(stderr, "lastmile-server serve: %s\n", err);
            return 2;
        }
    }
    if (!cfg->db[0]) {
        fprintf(stderr, "lastmile-server serve: --db PATH is required (or db in --config)\n");
        return 2;
    }
    cfg->insecure_plaintext = plaintext;
    return 0;
}

/* `serve`: settings, store, listener, loop; after the drain, the
 * databases close and the exit code is 0. */
int lm__cmd_serve(int argc, char **argv)
{
    lm_server *srv = lm_calloc(1, sizeof *srv);
    if (!srv) {
        fprintf(stderr, "lastmile-server serve: out of memory\n");
        return 1;
    }
    int code = load_settings(argc, argv, &srv->cfg);
    if (code == -1) {
        fputs(usage, stdout);
        code = 0;
        goto fail_settings;
    }
    if (code != 0)
        goto fail_settings;
    code = 1;
    lm_log_set_level(srv->cfg.log_level);
    /* A peer that vanishes mid-write must be an EPIPE, not a dead server. */
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        lm_log(LM_LOG_ERROR, "cannot start the event loop");
        goto fail_settings;
    }
    srv->loop = &loop;
    char err[512] = "";
    int rc = lm__store_open(&loop, srv->cfg.db, pool_size(), (int)(srv->cfg.cache_mib * 1024),
                            (int)srv->cfg.checkpoint_pages, &srv->store, err, sizeof err);
    if (rc != LM_OK) {
        lm_log(LM_LOG_ERROR, "%s", *err ? err : lm_strerror(rc));
        goto fail_store;
    }
    if ((rc = start_tls(srv, err, sizeof err)) != LM_OK) {
        lm_log(LM_LOG_ERROR, "%s", err);
        goto fail_tls;
    }
    /* The handlers come before the `listening on` line: a supervisor (or a
     * test) may send SIGTERM as soon as it reads it, and that must drain
     * and exit 0, not kill. The loop runs their callbacks only later. */
    uv_signal_init(&loop, &srv->sig_int);
    uv_signal_init(&loop, &srv->sig_term);
    srv->sig_int.data = srv->sig_term.data = srv;
    uv_signal_start(&srv->sig_int, signal_cb, SIGINT);
    uv_signal_start(&srv->sig_term, signal_cb, SIGTERM);
    rc = start_listening(srv, err, sizeof err);
    if (rc != LM_OK) {
        lm_log(LM_LOG_ERROR, "%s", err);
        uv_close((uv_handle_t *)&srv->sig_int, NULL);
        uv_close((uv_handle_t *)&srv->sig_term, NULL);
        uv_run(&loop, UV_RUN_DEFAULT); /* runs the close callbacks */
        goto fail_listen;
    }
    lm__auth_watch_start(srv);

    uv_run(&loop, UV_RUN_DEFAULT);
    lm__session_log_discard(srv);
    lm__session_penalties_free(srv);
    lm_log(LM_LOG_INFO,
           "stopped after %llu session(s); at most %zu KiB of PUSH batches queued, %llu PUSH(es) "
           "waited for room",
           (unsigned long long)srv->sessions_total, srv->queued_peak >> 10,
           (unsigned long long)srv->parked_total);
    lm_log(LM_LOG_INFO,
           "bounds: %llu session(s) not read for unsent replies, %llu replaced by a newer one of "
           "their user, %llu connection(s) closed not logged in, at most %zu KiB of unfinished "
           "frames, %llu session(s) ended for them",
           (unsigned long long)srv->out_paused_total, (unsigned long long)srv->replaced,
           (unsigned long long)srv->prelogin_evicted, srv->partial_peak >> 10,
           (unsigned long long)srv->partial_evicted);
    code = 0;
fail_listen:
    lm_tls_free(srv->tls);
fail_tls:
    lm__store_close(srv->store);
fail_store:
    if (uv_loop_close(&loop) != 0) {
        lm_log(LM_LOG_ERROR, "event loop closed with live handles");
        code = 1;
    }
fail_settings:
    lm_free(srv);
    return code;
}
