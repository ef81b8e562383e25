/*
 * identity.c — the server's own identity: an Ed25519 key and a self-signed
 * certificate for it. Agents pin the certificate's SHA-256 at enrolment, so
 * nothing here needs a CA or a host name: the pin is the identity.
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
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "lm_net.h"

#define CERT_DAYS (20L * 365)

static void ossl_err(char *err, size_t size, const char *what)
{
    unsigned long e = ERR_get_error();
    char text[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, text, sizeof text);
    ERR_clear_error();
    snprintf(err, size, "%s: %s", what, text);
}

/* fopen for writing a new file with mode 0600 whatever the umask. */
static FILE *create_private(const char *path, char *err, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, size, "cannot create %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fchmod(fd, 0600) != 0) {
        snprintf(err, size, "cannot make %s private: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        snprintf(err, size, "cannot open %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
    }
    return f;
}

static X509 *self_signed(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *name = NULL;
    if (!x || !X509_set_version(x, 2))
        goto fail;
    uint8_t serial[8];
    ASN1_INTEGER *sn = X509_get_serialNumber(x);
    BIGNUM *bn = NULL;
    if (RAND_bytes(serial, sizeof serial) != 1)
        goto fail;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, sn)) {
        BN_free(bn);
        goto fail;
    }
    BN_free(bn);
    if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL))
        goto fail;
    name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"lastmile-server", -1, -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, key) || !X509_sign(x, key, NULL))
        goto fail;
    return x;
fail:
    X509_free(x);
    return NULL;
}

int lm_identity_create(const char *key_path, const char *cert_path, char *err, size_t err_size)
{
    int rc = LM_EIO;
    FILE *kf = NULL, *cf = NULL;
    X509 *x = NULL;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!key) {
        ossl_err(err, err_size, "cannot make the server key");
        return LM_EIO;
    }
    if (!(x = self_signed(key))) {
        ossl_err(err, err_size, "cannot make the server certificate");
        goto fail_cert;
    }
    if (!(kf = create_private(key_path, err, err_size)))
        goto fail_cert;
    if (!(cf = create_private(cert_path, err, err_size)))
        goto fail_key_file;
    if (!PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL) || !PEM_write_X509(cf, x)) {
        ossl_err(err, err_size, "cannot write the server identity");
        goto fail_write;
    }
    if (fflush(kf) != 0 || fsync(fileno(kf)) != 0 || fflush(cf) != 0 || fsync(fileno(cf)) != 0) {
        snprintf(err, err_size, "cannot write the server identity: %s", strerror(errno));
        goto fail_write;
    }
    rc = LM_OK;
fail_write:
    fclose(cf);
    if (rc != LM_OK)
        unlink(cert_path);
fail_key_file:
    fclose(kf);
    if (rc != LM_OK)
        unlink(key_path);
fail_cert:
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

int lm_identity_fingerprint(const char *cert_path, uint8_t out[LM_FINGERPRINT_SIZE], char *err,
                            size_t err_size)
{
    FILE *f = fopen(cert_path, "r");
    if (!f) {
        snprintf(err, err_size, "cannot open %s: %s", cert_path, strerror(errno));
        return LM_EIO;
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    unsigned len = 0;
    int ok = x && X509_digest(x, EVP_sha256(), out, &len) && len == LM_FINGERPRINT_SIZE;
    X509_free(x);
    if (!ok) {
        ossl_err(err, err_size, "cannot read the server certificate");
        return LM_EIO;
    }
    return LM_OK;
}

void lm_fingerprint_hex(const uint8_t fp[LM_FINGERPRINT_SIZE], char out[LM_FINGERPRINT_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < LM_FINGERPRINT_SIZE; i++) {
        out[2 * i] = digits[fp[i] >> 4];
        out[2 * i + 1] = digits[fp[i] & 0x0f];
    }
    out[2 * LM_FINGERPRINT_SIZE] = '\0';
}
