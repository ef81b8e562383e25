/*
 * tls.c — TLS 1.3 contexts. The server presents its self-signed Ed25519
 * certificate; the client accepts exactly the certificate whose SHA-256 it
 * pinned at enrolment (no CA, no host name: the pin is the identity) and
 * keeps the server's newest session ticket so a reconnect after a cut is a
 * resumption (one round trip, no certificate on the wire).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tls_internal.h"

/* Server session cache (stateful tickets): entries and their lifetime. */
#define SESSION_CACHE 20480L
#define SESSION_LIFETIME_S (26L * 3600)

static void ossl_err(char *err, size_t size, const char *what)
{
    unsigned long e = ERR_get_error();
    char text[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, text, sizeof text);
    ERR_clear_error();
    snprintf(err, size, "%s: %s", what, text);
}

/* Common settings: TLS 1.3 only, no compression, buffers released while
 * idle (an idle session holds no 34 KB of record buffers). */
static SSL_CTX *ctx_new(const SSL_METHOD *method)
{
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx)
        return NULL;
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    return ctx;
}

int lm_tls_server_new(const char *key_path, const char *cert_path, lm_tls **out, char *err,
                      size_t err_size)
{
    *out = NULL;
    lm_tls *t = lm_calloc(1, sizeof *t);
    if (!t)
        return LM_ENOMEM;
    t->is_server = 1;
    if (!(t->ctx = ctx_new(TLS_server_method()))) {
        ossl_err(err, err_size, "cannot make the TLS context");
        goto fail;
    }
    if (SSL_CTX_use_certificate_file(t->ctx, cert_path, SSL_FILETYPE_PEM) != 1) {
        ossl_err(err, err_size, "cannot load the server certificate");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(t->ctx) != 1) {
        ossl_err(err, err_size, "cannot load the server key");
        goto fail;
    }
    /* One ticket per handshake (the default two cost ~250 B more on a
     * 2G link), and a stateful one (SSL_OP_NO_TICKET in TLS 1.3): the
     * ticket on the wire is a 32-byte id into this process's session cache
     * instead of a ~200-byte sealed session, in the resumed ClientHello
     * and in every NewSessionTicket. Each handshake hands out a new one
     * (a reused ticket would let an observer link a device's sessions);
     * the cache keeps at most SESSION_CACHE sessions, the oldest dropped
     * first, each for SESSION_LIFETIME_S (a day and a bit, so a device
     * that syncs daily resumes). A restart empties it: the next handshake
     * is a full one. Resumption still runs X25519 (psk_dhe_ke): forward
     * secrecy holds. */
    SSL_CTX_set_num_tickets(t->ctx, 1);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(t->ctx, SESSION_CACHE);
    SSL_CTX_set_timeout(t->ctx, SESSION_LIFETIME_S);
    static const unsigned char sid_ctx[] = "lastmile";
    SSL_CTX_set_session_id_context(t->ctx, sid_ctx, sizeof sid_ctx - 1);
    *out = t;
    return LM_OK;
fail:
    lm_tls_free(t);
    return LM_EIO;
}

/* Client: keeps the newest ticket, serialised at once: the SSL_SESSION
 * itself is marked not resumable when its connection ends without a
 * close_notify (a cut link, or our reset after a failure). */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    lm_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    int n = i2d_SSL_SESSION(sess, NULL);
    uint8_t *der = n > 0 ? lm_malloc((size_t)n) : NULL, *p = der;
    if (der && i2d_SSL_SESSION(sess, &p) == n) {
        lm_free(t->ticket);
        t->ticket = der;
        t->ticket_len = (size_t)n;
    } else {
        lm_free(der);
    }
    return 0; /* not kept: the callback's reference goes back to OpenSSL */
}

/* Client: replaces chain verification. The leaf certificate's SHA-256
 * must be the pinned one, or the next one the server announced inside an
 * earlier channel authenticated by the pin; nothing else is trusted. */
static int pin_verify_cb(X509_STORE_CTX *store, void *arg)
{
    lm_tls *t = arg;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    uint8_t fp[LM_FINGERPRINT_SIZE];
    unsigned len = 0;
    if (!leaf || !X509_digest(leaf, EVP_sha256(), fp, &len) || len != sizeof fp)
        return 0;
    if (CRYPTO_memcmp(fp, t->pin, sizeof fp) != 0 &&
        (!t->has_next || CRYPTO_memcmp(fp, t->next, sizeof fp) != 0)) {
        t->pin_mismatch = 1;
        memcpy(t->seen, fp, sizeof fp);
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    memcpy(t->presented, fp, sizeof fp);
    t->has_presented = 1;
    return 1;
}

void lm_tls_client_add_next(lm_tls *t, const uint8_t next[LM_FINGERPRINT_SIZE])
{
    memcpy(t->next, next, sizeof t->next);
    t->has_next = 1;
}

int lm_tls_presented(const lm_tls *t, uint8_t out[LM_FINGERPRINT_SIZE])
{
    if (!t->has_presented)
        return LM_ENOTFOUND;
    memcpy(out, t->presented, LM_FINGERPRINT_SIZE);
    return LM_OK;
}

int lm_tls_client_new(const uint8_t pin[LM_FINGERPRINT_SIZE], lm_tls **out, char *err,
                      size_t err_size)
{
    *out = NULL;
    lm_tls *t = lm_calloc(1, sizeof *t);
    if (!t)
        return LM_ENOMEM;
    memcpy(t->pin, pin, sizeof t->pin);
    if (!(t->ctx = ctx_new(TLS_client_method()))) {
        ossl_err(err, err_size, "cannot make the TLS context");
        lm_tls_free(t);
        return LM_EIO;
    }
    /* A ClientHello of what this client can use: the server's key is
     * Ed25519 and X25519 is the one key share sent anyway (the default
     * lists of groups and signature schemes cost some 70 bytes per
     * handshake on a 2G link). SHA-256 suites first: AES-256-GCM's
     * SHA-384 makes the resumption binder and both Finished messages 16
     * bytes longer each, for no protection this link needs (128-bit
     * security either way). */
    if (SSL_CTX_set_ciphersuites(t->ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256") !=
            1 ||
        SSL_CTX_set1_groups_list(t->ctx, "X25519") != 1 ||
        SSL_CTX_set1_sigalgs_list(t->ctx, "ed25519") != 1) {
        ossl_err(err, err_size, "cannot configure the TLS context");
        lm_tls_free(t);
        return LM_EIO;
    }
    SSL_CTX_set_app_data(t->ctx, t);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(t->ctx, pin_verify_cb, t);
    SSL_CTX_set_session_cache_mode(t->ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(t->ctx, new_session_cb);
    *out = t;
    return LM_OK;
}

void lm_tls_free(lm_tls *t)
{
    if (!t)
        return;
    SSL_SESSION_free(t->session);
    lm_free(t->ticket);
    SSL_CTX_free(t->ctx);
    lm_free(t);
}

int lm_tls_session_save(lm_tls *t, uint8_t **der, size_t *len)
{
    *der = NULL;
    *len = 0;
    if (!t->ticket)
        return LM_ENOTFOUND;
    uint8_t *copy = lm_malloc(t->ticket_len);
    if (!copy)
        return LM_ENOMEM;
    memcpy(copy, t->ticket, t->ticket_len);
    *der = copy;
    *len = t->ticket_len;
    return LM_OK;
}

void lm_tls_session_load(lm_tls *t, const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, (long)len);
    if (!s) {
        ERR_clear_error();
        return;
    }
    SSL_SESSION_free(t->session);
    t->session = s;
}

void lm__tls_error_text(lm_tls *t, char *out, size_t size)
{
    if (t->pin_mismatch) {
        char want[LM_FINGERPRINT_HEX_SIZE], seen[LM_FINGERPRINT_HEX_SIZE];
        lm_fingerprint_hex(t->pin, want);
        lm_fingerprint_hex(t->seen, seen);
        /* A device that missed a rotation's window lands here too: say so. */
        snprintf(out, size,
                 "server identity does not match the pinned fingerprint (pinned %.16s…, the "
                 "server presented %.16s…): refusing to talk to it; if the server rotated its key "
                 "while this device did not sync, enrol it again (lastmile-server user rekey)",
                 want, seen);
        t->pin_mismatch = 0;
        ERR_clear_error();
        return;
    }
    unsigned long e = ERR_get_error();
    char text[200] = "connection closed during the handshake";
    if (e)
        ERR_error_string_n(e, text, sizeof text);
    ERR_clear_error();
    snprintf(out, size, "TLS failed: %s", text);
}
