/* tls_internal.h — what conn.c needs of an lm_tls. Private to net/. */
#ifndef LM_NET_TLS_INTERNAL_H
#define LM_NET_TLS_INTERNAL_H

#include <openssl/ssl.h>

#include "lm_net.h"

struct lm_tls {
    SSL_CTX *ctx;
    int is_server;
    uint8_t pin[LM_FINGERPRINT_SIZE]; /* client: the server identity accepted */
    /* client: the identity the server announced it rotates to (accepted
     * too, lm_tls_client_add_next) */
    int has_next;
    uint8_t next[LM_FINGERPRINT_SIZE];
    /* client: the accepted certificate's fingerprint (pin or next) */
    int has_presented;
    uint8_t presented[LM_FINGERPRINT_SIZE];
    /* client: the fingerprint the last failed handshake was shown, when it
     * was not the pinned one (the error says both) */
    int pin_mismatch;
    uint8_t seen[LM_FINGERPRINT_SIZE];
    SSL_SESSION *session; /* client: the ticket to offer (loaded), owned */
    uint8_t *ticket;      /* client: the newest ticket received, DER, owned */
    size_t ticket_len;
};

/* Text for the failed handshake of ssl with t: the pin mismatch in words,
 * or OpenSSL's reason. */
void lm__tls_error_text(lm_tls *t, char *out, size_t size);

#endif
