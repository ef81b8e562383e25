/*
 * conn.c — one framed connection over libuv (see lm_net.h for ownership
 * and the close contract).
 *
 * Happy path (TLS): connect or accept → handshake driven by the bytes that
 * arrive (memory BIOs: socket bytes go into rbio, what OpenSSL wants to
 * send comes out of wbio and is written with uv_write) → on_ready →
 * application bytes are decrypted into the frame decoder (on_frames);
 * frames to send are encrypted, one TLS record per frame, and queued.
 * Plaintext (only behind --insecure-plaintext) skips the TLS steps.
 *
 * Failure modes: connect error, EOF or reset, a TLS failure (bad record,
 * wrong server identity, a stalled handshake is the owner's timer), a write
 * error: on_end with the reason in words, then close. The owner's end
 * (lm_conn_end) sends close_notify, half-closes, and lingers reading until
 * the peer closes, so the peer sees the last frame rather than a reset.
 *
 * Every handle is freed only in its close callback, and a write buffer
 * lives until its write callback (libuv's rules); uv_close cancels pending
 * writes, so once both handles are closed nothing refers to the
 * connection and it is freed.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls_internal.h"

#define READ_BUF (64u * 1024u)
#define PLAIN_CHUNK (16u * 1024u)

struct lm_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    int handles; /* open handles: tcp, timer */
    const lm_conn_cbs *cbs;
    void *data;
    lm_tls *tls;
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    int ready;        /* handshake over (plaintext: connected) */
    int want_read;    /* the owner wants input */
    int reading;      /* uv_read_start in effect */
    int ending;       /* lm_conn_end: discarding input until EOF or linger */
    int end_requested;
    unsigned linger_ms;
    int closing;
    int ended;    /* on_end was called */
    lm_buf early; /* plaintext frames sent before the handshake finished */
    lm_frame_decoder dec;
    uint64_t bytes_in, bytes_out;
    size_t queued;
    void (*timer_cb)(lm_conn *c);
    char peer[64];
};

typedef struct write_req {
    uv_write_t req;
    lm_conn *c;
    size_t len;
    uint8_t bytes[]; /* what is written */
} write_req;

/* One read buffer per thread: libuv calls alloc_cb then read_cb at once,
 * and read_cb consumes the bytes before returning, so idle connections
 * hold no read buffer (bench_agents runs clients on several threads). */
static _Thread_local char read_buf[READ_BUF];
static _Thread_local int read_buf_busy;

static void start_end(lm_conn *c);

/* ------------------------------------------------------------ closing */

static void close_cb(uv_handle_t *h)
{
    lm_conn *c = h->data;
    if (--c->handles > 0)
        return;
    if (c->cbs->on_close)
        c->cbs->on_close(c);
    SSL_free(c->ssl);
    lm_buf_close(&c->early);
    lm_frame_decoder_close(&c->dec);
    lm_free(c);
}

void lm_conn_close(lm_conn *c, int reset)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->timer, close_cb);
    uv_os_fd_t fd;
    if (!reset || uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0 ||
        uv_tcp_close_reset(&c->tcp, close_cb) != 0)
        uv_close((uv_handle_t *)&c->tcp, close_cb);
}

/* The transport ended by itself: tell the owner once, then close. */
static void transport_end(lm_conn *c, int rc, const char *text)
{
    if (c->closing)
        return;
    if (c->ending) { /* the peer closed while we lingered: expected */
        lm_conn_close(c, 0);
        return;
    }
    if (!c->ended) {
        c->ended = 1;
        if (c->cbs->on_end)
            c->cbs->on_end(c, rc, text);
    }
    lm_conn_close(c, rc != LM_OK);
}

/* ------------------------------------------------------------ writing */

static void write_cb(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    lm_conn *c = w->c;
    c->queued -= w->len;
    lm_free(w);
    if (c->closing)
        return;
    if (status < 0) {
        char text[128];
        snprintf(text, sizeof text, "connection lost while sending: %s", uv_strerror(status));
        transport_end(c, LM_ENET, text);
        return;
    }
    if (c->queued == 0 && c->cbs->on_drain && !c->ending)
        c->cbs->on_drain(c);
}

/* Writes len bytes (copied) to the socket. */
static int write_raw(lm_conn *c, const uint8_t *bytes, size_t len)
{
    if (len == 0)
        return LM_OK;
    write_req *w = lm_malloc(sizeof *w + len);
    if (!w) {
        transport_end(c, LM_ENOMEM, "out of memory");
        return LM_ENOMEM;
    }
    w->c = c;
    w->len = len;
    memcpy(w->bytes, bytes, len);
    uv_buf_t b = uv_buf_init((char *)w->bytes, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
    if (rc != 0) {
        lm_free(w);
        char text[128];
        snprintf(text, sizeof text, "connection lost while sending: %s", uv_strerror(rc));
        transport_end(c, LM_ENET, text);
        return LM_ENET;
    }
    c->queued += len;
    c->bytes_out += len;
    return LM_OK;
}

/* Writes what OpenSSL produced (records, handshake, alerts). */
static int flush_wbio(lm_conn *c)
{
    size_t n = BIO_ctrl_pending(c->wbio);
    if (n == 0)
        return LM_OK;
    write_req *w = lm_malloc(sizeof *w + n);
    if (!w) {
        transport_end(c, LM_ENOMEM, "out of memory");
        return LM_ENOMEM;
    }
    int got = BIO_read(c->wbio, w->bytes, (int)n);
    w->c = c;
    w->len = got > 0 ? (size_t)got : 0;
    uv_buf_t b = uv_buf_init((char *)w->bytes, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
    if (rc != 0) {
        lm_free(w);
        transport_end(c, LM_ENET, "connection lost while sending");
        return LM_ENET;
    }
    c->queued += w->len;
    c->bytes_out += w->len;
    return LM_OK;
}

static int tls_write(lm_conn *c, const uint8_t *data, size_t len)
{
    if (len == 0)
        return LM_OK;
    int n = SSL_write(c->ssl, data, (int)len);
    if (n <= 0 || (size_t)n != len) {
        char text[200];
        lm__tls_error_text(c->tls, text, sizeof text);
        transport_end(c, LM_ENET, text);
        return LM_ENET;
    }
    return flush_wbio(c);
}

int lm_conn_send(lm_conn *c, lm_buf *frame)
{
    int rc = LM_ENET;
    if (c->closing || c->ending)
        goto out;
    if (!c->tls)
        rc = write_raw(c, frame->data, frame->len);
    else if (!c->ready)
        rc = lm_buf_append(&c->early, frame->data, frame->len);
    else
        rc = tls_write(c, frame->data, frame->len);
out:
    lm_buf_close(frame);
    lm_buf_init(frame);
    return rc;
}

/* ------------------------------------------------------------ reading */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    if (read_buf_busy) {
        *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    read_buf_busy = 1;
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void update_reading(lm_conn *c);

static void became_ready(lm_conn *c)
{
    c->ready = 1;
    if (c->early.len) {
        lm_buf early = c->early;
        lm_buf_init(&c->early);
        int rc = tls_write(c, early.data, early.len);
        lm_buf_close(&early);
        if (rc != LM_OK)
            return;
    }
    if (c->end_requested) {
        start_end(c);
        return;
    }
    if (c->cbs->on_ready)
        c->cbs->on_ready(c);
}

/* Drives the handshake; 1 when it is over, 0 when it needs more bytes,
 * -1 when it failed (the connection is ending). */
static int handshake(lm_conn *c)
{
    int r = SSL_do_handshake(c->ssl);
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
    if (flush_wbio(c) != LM_OK)
        return -1;
    if (r == 1)
        return 1;
    if (e == SSL_ERROR_WANT_READ)
        return 0;
    char text[300];
    lm__tls_error_text(c->tls, text, sizeof text);
    transport_end(c, LM_ENET, text);
    return -1;
}

/* Decrypts what rbio holds into the decoder. *fed: plaintext arrived.
 * Returns LM_OK, a decoder error, or LM_ENET when the TLS stream ended
 * (close_notify: *end_rc = LM_OK) or failed (why in end_text): the caller
 * hands the owner the frames that came before the end first. */
static int tls_read(lm_conn *c, int *fed, int *end_rc, char *end_text, size_t end_size)
{
    uint8_t plain[PLAIN_CHUNK];
    for (;;) {
        int n = SSL_read(c->ssl, plain, sizeof plain);
        if (n > 0) {
            int rc = lm_frame_decoder_feed(&c->dec, plain, (size_t)n);
            *fed = 1;
            if (rc != LM_OK)
                return rc;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (flush_wbio(c) != LM_OK) /* tickets, key updates, alerts */
            return LM_ENET;
        if (e == SSL_ERROR_WANT_READ)
            return LM_OK;
        if (e == SSL_ERROR_ZERO_RETURN) {
            *end_rc = LM_OK;
            snprintf(end_text, end_size, "peer closed");
            return LM_ENET;
        }
        *end_rc = LM_ENET;
        lm__tls_error_text(c->tls, end_text, end_size);
        return LM_ENET;
    }
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    lm_conn *c = stream->data;
    read_buf_busy = 0;
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        char text[128];
        snprintf(text, sizeof text, "%s",
                 nread == UV_EOF ? "peer closed" : uv_strerror((int)nread));
        transport_end(c, nread == UV_EOF ? LM_OK : LM_ENET, text);
        return;
    }
    c->bytes_in += (uint64_t)nread;
    if (c->ending)
        return; /* draining after our end */
    int rc = LM_OK, fed = 0;
    if (!c->tls) {
        rc = lm_frame_decoder_feed(&c->dec, (const uint8_t *)buf->base, (size_t)nread);
        fed = 1;
    } else {
        if (BIO_write(c->rbio, buf->base, (int)nread) != (int)nread) {
            transport_end(c, LM_ENOMEM, "out of memory");
            return;
        }
        if (!c->ready) {
            int h = handshake(c);
            if (h <= 0)
                return;
            became_ready(c);
            if (c->closing || c->ending)
                return;
        }
        int end_rc = LM_OK;
        char end_text[300] = "";
        rc = tls_read(c, &fed, &end_rc, end_text, sizeof end_text);
        if (c->closing || c->ending)
            return;
        if (end_text[0]) { /* the frames before the end (an ERROR, say) first */
            if (fed && c->cbs->on_frames)
                c->cbs->on_frames(c, LM_OK);
            transport_end(c, end_rc, end_text);
            return;
        }
    }
    if ((fed || rc != LM_OK) && c->cbs->on_frames)
        c->cbs->on_frames(c, rc);
}

static void update_reading(lm_conn *c)
{
    int want = !c->closing && (c->want_read || c->ending);
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
            c->reading = 1;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

void lm_conn_read_stop(lm_conn *c)
{
    c->want_read = 0;
    update_reading(c);
}

void lm_conn_read_start(lm_conn *c)
{
    c->want_read = 1;
    update_reading(c);
}

/* ------------------------------------------------------------- timers */

static void timer_fire(uv_timer_t *t)
{
    lm_conn *c = t->data;
    if (c->closing)
        return;
    if (c->ending || c->end_requested) {
        lm_conn_close(c, 0); /* linger over */
        return;
    }
    if (c->timer_cb)
        c->timer_cb(c);
}

void lm_conn_timer(lm_conn *c, unsigned ms, void (*cb)(lm_conn *c))
{
    if (c->closing || c->ending || c->end_requested)
        return;
    c->timer_cb = cb;
    uv_timer_start(&c->timer, timer_fire, ms, 0);
}

/* --------------------------------------------------------- graceful end */

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    lm_conn *c = req->data;
    if (status < 0 && !c->closing)
        lm_conn_close(c, 0);
}

static void start_end(lm_conn *c)
{
    c->ending = 1;
    if (c->tls && c->ready) {
        SSL_shutdown(c->ssl); /* close_notify */
        if (flush_wbio(c) != LM_OK)
            return;
    }
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
        lm_conn_close(c, 0);
        return;
    }
    uv_timer_start(&c->timer, timer_fire, c->linger_ms, 0);
    update_reading(c);
}

void lm_conn_end(lm_conn *c, unsigned linger_ms)
{
    if (c->closing || c->ending || c->end_requested)
        return;
    c->linger_ms = linger_ms;
    if (c->tls && !c->ready && c->early.len) {
        /* what is queued waits for the handshake, which has linger_ms */
        c->end_requested = 1;
        uv_timer_start(&c->timer, timer_fire, linger_ms, 0);
        return;
    }
    start_end(c);
}

/* ------------------------------------------------------------ setup */

static lm_conn *conn_new(uv_loop_t *loop, lm_tls *tls, const lm_conn_cbs *cbs, void *data,
                         size_t max_frame, size_t max_inflated)
{
    lm_conn *c = lm_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cbs = cbs;
    c->data = data;
    c->tls = tls;
    c->want_read = 1;
    snprintf(c->peer, sizeof c->peer, "?");
    lm_buf_init(&c->early);
    lm_frame_decoder_init(&c->dec, max_frame, max_inflated);
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    return c;
}

/* The TLS object over two memory BIOs; LM_OK or LM_ENOMEM. */
static int tls_attach(lm_conn *c)
{
    c->ssl = SSL_new(c->tls->ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        c->rbio = c->wbio = NULL;
        ERR_clear_error();
        return LM_ENOMEM;
    }
    /* an empty memory BIO means "wait for more", not EOF */
    BIO_set_mem_eof_return(c->rbio, -1);
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    if (c->tls->is_server) {
        SSL_set_accept_state(c->ssl);
    } else {
        SSL_set_connect_state(c->ssl);
        if (c->tls->session)
            SSL_set_session(c->ssl, c->tls->session);
    }
    return LM_OK;
}

static void peer_name(uv_tcp_t *tcp, char *out, size_t size)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[64] = "?";
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof ip);
        snprintf(out, size, "%s:%d", ip, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof ip);
        snprintf(out, size, "[%s]:%d", ip, ntohs(a->sin6_port));
    }
}

int lm_conn_accept(uv_stream_t *listener, lm_tls *tls, const lm_conn_cbs *cbs, void *data,
                   size_t max_frame, size_t max_inflated, lm_conn **out)
{
    *out = NULL;
    lm_conn *c = conn_new(listener->loop, tls, cbs, data, max_frame, max_inflated);
    if (!c)
        return LM_ENOMEM;
    *out = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0 || (tls && tls_attach(c) != LM_OK)) {
        lm_conn_close(c, 0);
        return LM_ENET;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    peer_name(&c->tcp, c->peer, sizeof c->peer);
    c->ready = !tls;
    update_reading(c);
    return LM_OK;
}

static void connect_cb(uv_connect_t *req, int status)
{
    lm_conn *c = req->data;
    if (c->closing || status == UV_ECANCELED)
        return;
    if (status < 0) {
        char text[128];
        snprintf(text, sizeof text, "cannot connect: %s", uv_strerror(status));
        transport_end(c, LM_ENET, text);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    peer_name(&c->tcp, c->peer, sizeof c->peer);
    update_reading(c);
    if (!c->tls) {
        c->ready = 1;
        if (c->cbs->on_ready)
            c->cbs->on_ready(c);
        return;
    }
    if (tls_attach(c) != LM_OK) {
        transport_end(c, LM_ENOMEM, "out of memory");
        return;
    }
    if (handshake(c) == 1) /* not with TLS 1.3: the server must answer */
        became_ready(c);
}

int lm_conn_connect(uv_loop_t *loop, const struct sockaddr *addr, lm_tls *tls,
                    const lm_conn_cbs *cbs, void *data, size_t max_frame, size_t max_inflated,
                    lm_conn **out)
{
    *out = NULL;
    lm_conn *c = conn_new(loop, tls, cbs, data, max_frame, max_inflated);
    if (!c)
        return LM_ENOMEM;
    *out = c;
    c->connect_req.data = c;
    if (uv_tcp_connect(&c->connect_req, &c->tcp, addr, connect_cb) != 0) {
        lm_conn_close(c, 0);
        return LM_ENET;
    }
    return LM_OK;
}

/* ------------------------------------------------------------ getters */

void *lm_conn_data(const lm_conn *c)
{
    return c->data;
}

lm_frame_decoder *lm_conn_decoder(lm_conn *c)
{
    return &c->dec;
}

const char *lm_conn_peer(const lm_conn *c)
{
    return c->peer;
}

int lm_conn_is_tls(const lm_conn *c)
{
    return c->tls != NULL;
}

int lm_conn_resumed(const lm_conn *c)
{
    return c->ssl && SSL_session_reused(c->ssl);
}

uint64_t lm_conn_bytes_out(const lm_conn *c)
{
    return c->bytes_out;
}

uint64_t lm_conn_bytes_in(const lm_conn *c)
{
    return c->bytes_in;
}

size_t lm_conn_queued(const lm_conn *c)
{
    return c->queued;
}

int lm_conn_exporter(lm_conn *c, const char *label, uint8_t out[LM_EXPORTER_SIZE])
{
    memset(out, 0, LM_EXPORTER_SIZE);
    if (!c->ssl || !c->ready)
        return LM_EINVAL;
    if (SSL_export_keying_material(c->ssl, out, LM_EXPORTER_SIZE, label, strlen(label), NULL, 0,
                                   0) != 1) {
        ERR_clear_error();
        return LM_EIO;
    }
    return LM_OK;
}
