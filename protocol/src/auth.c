/*
 * auth.c — key handling and the challenge MAC, on OpenSSL 3.0 libcrypto.
 *
 * AUTH.mac = HMAC-SHA256(key, nonce[32] | user bytes | site as u64 BE). The
 * MAC is fed piecewise through EVP_MAC so no concatenation buffer is needed.
 * Comparison is constant-time (CRYPTO_memcmp) so a mismatching MAC does not
 * leak how many leading bytes were right.
 */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "lm_protocol.h"

int lm_random_bytes(uint8_t *out, size_t len)
{
    if (!out && len)
        return LM_EINVAL;
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(out, chunk) != 1)
            return LM_EIO;
        out += chunk;
        len -= (size_t)chunk;
    }
    return LM_OK;
}

int lm_key_to_hex(const uint8_t key[LM_KEY_SIZE], char out[LM_KEY_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    if (!key || !out)
        return LM_EINVAL;
    for (size_t i = 0; i < LM_KEY_SIZE; i++) {
        out[2 * i] = digits[key[i] >> 4];
        out[2 * i + 1] = digits[key[i] & 0x0f];
    }
    out[2 * LM_KEY_SIZE] = '\0';
    return LM_OK;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Accepts upper or lower case; out is written only when the whole input is
 * valid, so a bad key never leaves half a key behind. */
int lm_key_from_hex(const char *hex, uint8_t out[LM_KEY_SIZE])
{
    uint8_t tmp[LM_KEY_SIZE];
    if (!hex || !out || strlen(hex) != 2 * LM_KEY_SIZE)
        return LM_EINVAL;
    for (size_t i = 0; i < LM_KEY_SIZE; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return LM_EINVAL;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(out, tmp, sizeof tmp);
    OPENSSL_cleanse(tmp, sizeof tmp);
    return LM_OK;
}

int lm_auth_mac(const uint8_t key[LM_KEY_SIZE], const uint8_t nonce[32], const char *user,
                uint64_t site, uint8_t out[32])
{
    int rc = LM_EIO;
    uint8_t site_be[8];
    size_t out_len = 0;
    char digest[] = "SHA256";
    OSSL_PARAM params[2];

    if (!key || !nonce || !user || !out)
        return LM_EINVAL;
    for (int i = 0; i < 8; i++)
        site_be[i] = (uint8_t)(site >> (56 - 8 * i));

    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac)
        goto fail_fetch;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    if (!ctx)
        goto fail_ctx;
    params[0] = OSSL_PARAM_construct_utf8_string("digest", digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(ctx, key, LM_KEY_SIZE, params) != 1 || EVP_MAC_update(ctx, nonce, 32) != 1 ||
        EVP_MAC_update(ctx, (const unsigned char *)user, strlen(user)) != 1 ||
        EVP_MAC_update(ctx, site_be, sizeof site_be) != 1 ||
        EVP_MAC_final(ctx, out, &out_len, 32) != 1 || out_len != 32)
        goto fail_mac;
    rc = LM_OK;
fail_mac:
    EVP_MAC_CTX_free(ctx);
fail_ctx:
    EVP_MAC_free(mac);
fail_fetch:
    return rc;
}

int lm_auth_mac_equal(const uint8_t a[32], const uint8_t b[32])
{
    return CRYPTO_memcmp(a, b, 32) == 0;
}
