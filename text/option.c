/*
 * option.c — the check both tools' option parsers make of an option's
 * value, and the one HOST:PORT parser (see lm_text.h).
 */
#include <string.h>

#include "lm_protocol.h"
#include "lm_text.h"

const char *lm_text_option_value_problem(const char *value)
{
    if (!*value)
        return "is empty";
    /* "--product" or "--": an option, most likely after an empty $VAR.
     * "--1380013800" is no option: let the command judge it. */
    if (value[0] != '-' || value[1] != '-')
        return NULL;
    char c = value[2];
    if (c == '\0' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return "needs a value, not the option that follows it";
    return NULL;
}

int lm_text_host_port_parse(const char *s, int min_port, char *host, size_t host_size, int *port)
{
    const char *colon, *h = s;
    size_t hlen;
    *port = 0;
    if (!s || !*s || host_size == 0)
        return LM_EINVAL;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close || close[1] != ':')
            return LM_EINVAL;
        h++;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(h, ':');
        if (!colon)
            return LM_EINVAL;
        hlen = (size_t)(colon - h);
    }
    if (hlen == 0 || hlen >= host_size)
        return LM_EINVAL;
    const char *p = colon + 1;
    long v = 0;
    if (!*p)
        return LM_EINVAL;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > 65535)
            return LM_EINVAL;
        v = v * 10 + (*p - '0');
    }
    if (v < min_port || v > 65535)
        return LM_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return LM_OK;
}
