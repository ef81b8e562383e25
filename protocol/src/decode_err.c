/*
 * decode_err.c — error text for decoders: every refusal names the field path
 * so a log line says what was wrong, not just that something was.
 */
#include <stdio.h>

#include "codec.h"

int lm__derr(lm__dctx *c, int rc, const char *fmt, ...)
{
    if (!c->err || c->err_size == 0)
        return rc;
    int n = snprintf(c->err, c->err_size, "%s.", c->msg);
    if (n >= 0 && (size_t)n < c->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->err_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *lm__read_errtext(int rc)
{
    switch (rc) {
    case LM_ETRUNC:
        return "truncated (declared size exceeds the bytes left)";
    case LM_ETYPE:
        return "wrong type";
    case LM_ERANGE:
        return "number out of range";
    case LM_EMALFORMED:
        return "malformed msgpack";
    case LM_EDEPTH:
        return "nesting too deep";
    default:
        return lm_strerror(rc);
    }
}
