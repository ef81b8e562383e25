/*
 * auth.c — random bytes and 32-byte keys as hex, on OpenSSL 3.0 libcrypto.
 * (The HMAC challenge of protocol 1 is gone: the login is a signature over
 * the TLS channel, net/.)
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
