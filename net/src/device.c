/*
 * device.c — a device's Ed25519 key pair, the HELLO transcript it signs,
 * and the enrolment string that introduces a new device to the server.
 *
 * The private key never leaves the device: it is made by `lastmile init`,
 * kept in a file of its own (0600), and only its public half is sent, in
 * HELLO, next to a signature over the channel's TLS exporter value. The
 * server stores the public key, so its database holds nothing that logs
 * anybody in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "lm_net.h"

struct lm_device_key {
    EVP_PKEY *pkey;
};

static void ossl_err(char *err, size_t size, const char *what)
{
    unsigned long e = ERR_get_error();
    char text[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, text, sizeof text);
    ERR_clear_error();
    snprintf(err, size, "%s: %s", what, text);
}

static int write_private(const char *path, EVP_PKEY *pkey, char *err, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, size, "cannot create %s: %s", path, strerror(errno));
        return LM_EIO;
    }
    FILE *f = fchmod(fd, 0600) == 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, size, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return LM_EIO;
    }
    int ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    fclose(f);
    if (!ok) {
        ossl_err(err, size, "cannot write the device key");
        unlink(path);
        return LM_EIO;
    }
    return LM_OK;
}

int lm_device_key_create(const char *path, lm_device_key **out, char *err, size_t err_size)
{
    *out = NULL;
    lm_device_key *k = lm_calloc(1, sizeof *k);
    if (!k)
        return LM_ENOMEM;
    if (!(k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"))) {
        ossl_err(err, err_size, "cannot make the device key");
        lm_free(k);
        return LM_EIO;
    }
    if (path) {
        int rc = write_private(path, k->pkey, err, err_size);
        if (rc != LM_OK) {
            lm_device_key_free(k);
            return rc;
        }
    }
    *out = k;
    return LM_OK;
}

int lm_device_key_load(const char *path, lm_device_key **out, char *err, size_t err_size)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_size, "cannot open the device key %s: %s", path, strerror(errno));
        return LM_EIO;
    }
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!pkey || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        ossl_err(err, err_size, "the device key file holds no Ed25519 key");
        return LM_EIO;
    }
    lm_device_key *k = lm_calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return LM_ENOMEM;
    }
    k->pkey = pkey;
    *out = k;
    return LM_OK;
}

void lm_device_key_free(lm_device_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    lm_free(k);
}

void lm_device_key_public(const lm_device_key *k, uint8_t pub[LM_PUBKEY_SIZE])
{
    size_t len = LM_PUBKEY_SIZE;
    if (EVP_PKEY_get_raw_public_key(k->pkey, pub, &len) != 1 || len != LM_PUBKEY_SIZE) {
        memset(pub, 0, LM_PUBKEY_SIZE);
        ERR_clear_error();
    }
}

int lm_device_key_sign(const lm_device_key *k, const uint8_t *msg, size_t len,
                       uint8_t sig[LM_SIGNATURE_SIZE])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t siglen = LM_SIGNATURE_SIZE;
    int ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(md, sig, &siglen, msg, len) == 1 && siglen == LM_SIGNATURE_SIZE;
    EVP_MD_CTX_free(md);
    if (!ok)
        ERR_clear_error();
    return ok ? LM_OK : LM_EIO;
}

int lm_ed25519_verify(const uint8_t pub[LM_PUBKEY_SIZE], const uint8_t *msg, size_t len,
                      const uint8_t sig[LM_SIGNATURE_SIZE])
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, LM_PUBKEY_SIZE);
    EVP_MD_CTX *md = pkey ? EVP_MD_CTX_new() : NULL;
    int ok = md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1 &&
             EVP_DigestVerify(md, sig, LM_SIGNATURE_SIZE, msg, len) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return ok;
}

size_t lm_hello_transcript(const uint8_t exporter[LM_EXPORTER_SIZE], const char *user,
                           uint64_t site, uint8_t out[LM_HELLO_TRANSCRIPT_MAX])
{
    static const char context[] = "lastmile HELLO v2"; /* with its NUL */
    size_t n = 0, ulen = user ? strlen(user) : 0;
    if (ulen > 64)
        ulen = 64;
    memcpy(out, context, sizeof context);
    n += sizeof context;
    memcpy(out + n, exporter, LM_EXPORTER_SIZE);
    n += LM_EXPORTER_SIZE;
    for (int i = 7; i >= 0; i--)
        out[n++] = (uint8_t)(site >> (8 * i));
    out[n++] = (uint8_t)ulen;
    memcpy(out + n, user, ulen);
    return n + ulen;
}

/* ----------------------------------------------------------- enrolment */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int lm_enrol_encode(const lm_enrolment *e, char out[LM_ENROL_TEXT_MAX])
{
    uint8_t raw[1 + 32 + 32 + 1 + 64 + 1 + 127];
    size_t n = 0, ulen = strlen(e->user), alen = strlen(e->address);
    if (ulen == 0 || ulen > 64 || alen > 127)
        return LM_EINVAL;
    raw[n++] = 1;
    memcpy(raw + n, e->fingerprint, 32);
    n += 32;
    memcpy(raw + n, e->token, 32);
    n += 32;
    raw[n++] = (uint8_t)ulen;
    memcpy(raw + n, e->user, ulen);
    n += ulen;
    raw[n++] = (uint8_t)alen;
    memcpy(raw + n, e->address, alen);
    n += alen;
    char *p = out;
    memcpy(p, "lm1-", 4);
    p += 4;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)raw[i + 1] << 8;
        if (i + 2 < n)
            v |= raw[i + 2];
        *p++ = b64[(v >> 18) & 63];
        *p++ = b64[(v >> 12) & 63];
        if (i + 1 < n)
            *p++ = b64[(v >> 6) & 63];
        if (i + 2 < n)
            *p++ = b64[v & 63];
    }
    *p = '\0';
    return LM_OK;
}

static int b64_value(char c)
{
    const char *at = c ? strchr(b64, c) : NULL;
    return at ? (int)(at - b64) : -1;
}

int lm_enrol_decode(const char *text, lm_enrolment *e)
{
    uint8_t raw[LM_ENROL_TEXT_MAX];
    size_t n = 0, len;
    memset(e, 0, sizeof *e);
    if (!text || strncmp(text, "lm1-", 4) != 0)
        return LM_EINVAL;
    text += 4;
    len = strlen(text);
    if (len % 4 == 1 || len > (sizeof raw * 4) / 3)
        return LM_EINVAL;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        size_t chunk = len - i < 4 ? len - i : 4;
        for (size_t j = 0; j < 4; j++) {
            int d = j < chunk ? b64_value(text[i + j]) : 0;
            if (d < 0)
                return LM_EINVAL;
            v = v << 6 | (uint32_t)d;
        }
        raw[n++] = (uint8_t)(v >> 16);
        if (chunk > 2)
            raw[n++] = (uint8_t)(v >> 8);
        if (chunk > 3)
            raw[n++] = (uint8_t)v;
    }
    size_t at = 0;
    if (n < 67 || raw[0] != 1)
        return LM_EINVAL;
    at = 1;
    memcpy(e->fingerprint, raw + at, 32);
    at += 32;
    memcpy(e->token, raw + at, 32);
    at += 32;
    size_t ulen = raw[at++];
    if (ulen == 0 || ulen > 64 || at + ulen + 1 > n)
        return LM_EINVAL;
    memcpy(e->user, raw + at, ulen);
    at += ulen;
    size_t alen = raw[at++];
    if (alen > 127 || at + alen != n)
        return LM_EINVAL;
    memcpy(e->address, raw + at, alen);
    if (memchr(e->user, 0, ulen) || memchr(e->address, 0, alen))
        return LM_EINVAL;
    return LM_OK;
}
