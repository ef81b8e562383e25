/*
 * lm_net.h — one framed connection over libuv, encrypted with TLS 1.3
 * (OpenSSL 3.0 on memory BIOs) unless the caller asked for plaintext.
 *
 * Ownership: an lm_tls is owned by its creator and must outlive every
 * lm_conn made with it. An lm_conn is heap-allocated by lm_conn_accept /
 * lm_conn_connect and frees itself after its on_close callback returned;
 * the owner must not touch it after that. Frames handed to lm_conn_send
 * are owned by the connection from then on.
 *
 * Close contract: every connection ends in exactly one on_close. Before it,
 * on_end reports why the transport ended (peer closed, reset, TLS failure)
 * unless the owner itself called lm_conn_end / lm_conn_close first.
 * lm_conn_end flushes queued frames, sends TLS close_notify, half-closes
 * and discards input until the peer closes or linger_ms pass;
 * lm_conn_close drops everything now (reset = 1 sends a TCP RST so the
 * kernel stops delivering unsent bytes).
 */
#ifndef LM_NET_H
#define LM_NET_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lm_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LM_FINGERPRINT_SIZE 32 /* SHA-256 of the server certificate (DER) */
#define LM_FINGERPRINT_HEX_SIZE 65
#define LM_EXPORTER_SIZE 32

/* ------------------------------------------------------------- identity */

/* Writes a new Ed25519 private key (PEM, PKCS#8) to key_path and a
 * self-signed certificate for it (CN=lastmile-server, 20 years) to
 * cert_path, both created mode 0600 whatever the umask; refuses to
 * overwrite either. */
int lm_identity_create(const char *key_path, const char *cert_path, char *err, size_t err_size);
/* SHA-256 of the DER certificate in cert_path (PEM). */
int lm_identity_fingerprint(const char *cert_path, uint8_t out[LM_FINGERPRINT_SIZE], char *err,
                            size_t err_size);
/* Lowercase hex of a fingerprint. */
void lm_fingerprint_hex(const uint8_t fp[LM_FINGERPRINT_SIZE], char out[LM_FINGERPRINT_HEX_SIZE]);

/* ---------------------------------------------------------- device keys */

/* A device's Ed25519 key pair (OpenSSL EVP). Opaque; lm_device_key_free. */
typedef struct lm_device_key lm_device_key;

#define LM_PUBKEY_SIZE 32
#define LM_SIGNATURE_SIZE 64

/* A new key pair; with path, the private key is also written there (PEM,
 * PKCS#8), created mode 0600 whatever the umask, never overwriting. */
int lm_device_key_create(const char *path, lm_device_key **out, char *err, size_t err_size);
int lm_device_key_load(const char *path, lm_device_key **out, char *err, size_t err_size);
void lm_device_key_free(lm_device_key *k);
void lm_device_key_public(const lm_device_key *k, uint8_t pub[LM_PUBKEY_SIZE]);
int lm_device_key_sign(const lm_device_key *k, const uint8_t *msg, size_t len,
                       uint8_t sig[LM_SIGNATURE_SIZE]);
/* 1 when sig is pub's Ed25519 signature of msg, else 0. */
int lm_ed25519_verify(const uint8_t pub[LM_PUBKEY_SIZE], const uint8_t *msg, size_t len,
                      const uint8_t sig[LM_SIGNATURE_SIZE]);

/* What a HELLO signature covers: a context string, the TLS exporter value
 * of the channel (LM_HELLO_EXPORTER_LABEL), the site (8 bytes BE) and the
 * user. A relay cannot replay it on another channel: the exporter differs.
 * Returns the length written to out. */
#define LM_HELLO_EXPORTER_LABEL "EXPORTER-lastmile-hello"
#define LM_HELLO_TRANSCRIPT_MAX 160
size_t lm_hello_transcript(const uint8_t exporter[LM_EXPORTER_SIZE], const char *user,
                           uint64_t site, uint8_t out[LM_HELLO_TRANSCRIPT_MAX]);

/* ----------------------------------------------------------- enrolment */

/* The one-time string `lastmile-server user add` prints:
 * "lm1-" base64url(1 | fingerprint[32] | token[32] | u8 n | user |
 * u8 n | address). address may be empty (then `init --server` names it). */
#define LM_ENROL_TOKEN_SIZE 32
#define LM_ENROL_TEXT_MAX 256
typedef struct lm_enrolment {
    uint8_t fingerprint[LM_FINGERPRINT_SIZE];
    uint8_t token[LM_ENROL_TOKEN_SIZE];
    char user[65];
    char address[128];
} lm_enrolment;
int lm_enrol_encode(const lm_enrolment *e, char out[LM_ENROL_TEXT_MAX]);
/* LM_EINVAL when text is not a well-formed enrolment string. */
int lm_enrol_decode(const char *text, lm_enrolment *e);

/* ------------------------------------------------------------------ TLS */

typedef struct lm_tls lm_tls;

/* A server context: TLS 1.3 only, the identity from key_path / cert_path,
 * one session ticket per handshake. */
int lm_tls_server_new(const char *key_path, const char *cert_path, lm_tls **out, char *err,
                      size_t err_size);
/* A client context that accepts exactly the server whose certificate has
 * fingerprint pin (no CA, no name check: the pin is the identity). */
int lm_tls_client_new(const uint8_t pin[LM_FINGERPRINT_SIZE], lm_tls **out, char *err,
                      size_t err_size);
/* Client: also accept the identity with fingerprint next — the one the
 * server announced in WELCOME, inside a channel the pin authenticated, as
 * the key it rotates to (docs/security.md, key lifecycle). */
void lm_tls_client_add_next(lm_tls *t, const uint8_t next[LM_FINGERPRINT_SIZE]);
/* Client: the fingerprint of the certificate the server presented and the
 * client accepted (the pin or the next one); LM_ENOTFOUND before that, or
 * on a resumed session (no certificate on the wire: the ticket was made
 * under the identity that the earlier handshake accepted). */
int lm_tls_presented(const lm_tls *t, uint8_t out[LM_FINGERPRINT_SIZE]);
void lm_tls_free(lm_tls *t);
/* Client: the last session ticket the server handed out, serialised (DER),
 * to resume with in a later process; *der is lm_malloc'ed (caller frees).
 * LM_ENOTFOUND when there is none. */
int lm_tls_session_save(lm_tls *t, uint8_t **der, size_t *len);
/* Client: offer this saved session on the next connection (ignored when it
 * does not parse). */
void lm_tls_session_load(lm_tls *t, const uint8_t *der, size_t len);

/* ----------------------------------------------------------- connection */

typedef struct lm_conn lm_conn;

typedef struct lm_conn_cbs {
    /* The channel is up (TLS handshake done; at once for plaintext). */
    void (*on_ready)(lm_conn *c);
    /* New bytes reached the frame decoder: take frames with
     * lm_frame_decoder_next(lm_conn_decoder(c)). rc < 0: the bytes did not
     * frame (bad header); the decoder is unusable. */
    void (*on_frames)(lm_conn *c, int rc);
    /* Every queued byte has been written to the socket. May be NULL. */
    void (*on_drain)(lm_conn *c);
    /* The transport ended on its own: rc = LM_OK for a clean close by the
     * peer, else why (text says it in words). The connection is closing. */
    void (*on_end)(lm_conn *c, int rc, const char *text);
    /* Last call: handles closed, the connection is freed on return. */
    void (*on_close)(lm_conn *c);
} lm_conn_cbs;

/* Accepts one pending connection from listener (tls NULL: plaintext) and
 * starts the handshake and reading. max_frame / max_inflated: the frame
 * decoder's limits (change them through lm_conn_decoder). */
int lm_conn_accept(uv_stream_t *listener, lm_tls *tls, const lm_conn_cbs *cbs, void *data,
                   size_t max_frame, size_t max_inflated, lm_conn **out);
/* Connects to addr (tls NULL: plaintext); on_ready or on_end follows. */
int lm_conn_connect(uv_loop_t *loop, const struct sockaddr *addr, lm_tls *tls,
                    const lm_conn_cbs *cbs, void *data, size_t max_frame, size_t max_inflated,
                    lm_conn **out);

void *lm_conn_data(const lm_conn *c);
lm_frame_decoder *lm_conn_decoder(lm_conn *c);
/* "127.0.0.1:5000", or "?". */
const char *lm_conn_peer(const lm_conn *c);
int lm_conn_is_tls(const lm_conn *c);
/* 1 when the TLS session was resumed from a ticket. */
int lm_conn_resumed(const lm_conn *c);
/* Bytes written to / read from the socket, TLS records and handshake
 * included. */
uint64_t lm_conn_bytes_out(const lm_conn *c);
uint64_t lm_conn_bytes_in(const lm_conn *c);
/* Bytes handed to the socket and not yet written. */
size_t lm_conn_queued(const lm_conn *c);

/* The TLS exporter value for label (RFC 8446 7.5) — the same on both ends
 * of this channel only; zeros for plaintext (LM_EINVAL). */
int lm_conn_exporter(lm_conn *c, const char *label, uint8_t out[LM_EXPORTER_SIZE]);

/* Pauses / resumes reading (back-pressure). Reading starts on its own. */
void lm_conn_read_stop(lm_conn *c);
void lm_conn_read_start(lm_conn *c);

/* Queues an encoded frame; takes *frame (left empty) in every case. Before
 * the handshake is over the bytes wait for it. */
int lm_conn_send(lm_conn *c, lm_buf *frame);

/* One timer per connection: cb runs once after ms (re-arming replaces). */
void lm_conn_timer(lm_conn *c, unsigned ms, void (*cb)(lm_conn *c));

/* Graceful end and immediate close (see the close contract above). */
void lm_conn_end(lm_conn *c, unsigned linger_ms);
void lm_conn_close(lm_conn *c, int reset);

#ifdef __cplusplus
}
#endif
#endif
