/*
 * msg_fields.c — the layout of every message: a msgpack map with one- or
 * two-character keys. Keys unknown to a decoder are skipped (a newer peer may
 * add fields); a key listed here may never change meaning.
 *
 *   HELLO      v version  u user  s site  c client?  p pending?
 *              f features? (LM_FEATURE_* bits)  k public_key(bin 32)
 *              g signature(bin 64)  t enrol_token?(bin 32)
 *   (types 2 and 3, CHALLENGE and AUTH of protocol 1, are retired)
 *   WELCOME    t server_time_ms  s server_site  w push_watermark
 *              q server_seq  r role  m max_frame? (0 when absent)
 *              f features? (LM_FEATURE_* bits granted to this client)
 *              n next_identity?(bin 32: the server's next certificate's SHA-256)
 *              v villages? (an agent's, comma list)  c county? (a dispatcher's)
 *              d push_digest? (lm_push_digest of the batch that set w; 0 when absent)
 *   PUSH       u upto_seq  d/r change list (see changes.c)
 *   PUSH_ACK   u upto_seq  a applied  c conflicts
 *              f refusals? [[index, code, reason|nil], ...]
 *              s stamps? [[hlc, received_at_ms, lo, hi], ...]
 *   PULL       c cursor  b max_bytes
 *   CHANGES    n next_cursor  m more(bool)  d/r change list
 *   ERROR      c code  m message?
 *   BYE        r reason?
 *
 * `?` marks optional fields (NULL / empty when absent).
 */
#include <stddef.h>

#include "codec.h"

#define F(key, name, kind, req, member, max)                                                       \
    {                                                                                              \
        key, name, kind, req, offsetof(lm_msg, member), 0, max                                     \
    }
#define F2(key, name, kind, req, member, count)                                                    \
    {                                                                                              \
        key, name, kind, req, offsetof(lm_msg, member), offsetof(lm_msg, count), 0                 \
    }

static const lm__field hello[] = {
    F("v", "version", LM__F_U32, 1, u.hello.version, 0),
    F("u", "user", LM__F_STR, 1, u.hello.user, LM_MAX_NAME),
    F("s", "site", LM__F_U64, 1, u.hello.site, 0),
    F("c", "client", LM__F_STR, 0, u.hello.client, LM_MAX_TEXT),
    F2("p", "pending", LM__F_OPT_U64, 0, u.hello.pending, u.hello.has_pending),
    F("f", "features", LM__F_U64, 0, u.hello.features, 0),
    F("k", "public_key", LM__F_BIN32, 1, u.hello.public_key, 0),
    F("g", "signature", LM__F_BIN64, 1, u.hello.signature, 0),
    F2("t", "enrol_token", LM__F_OPT_BIN32, 0, u.hello.token, u.hello.has_token),
};

static const lm__field welcome[] = {
    F("t", "server_time_ms", LM__F_U64, 1, u.welcome.server_time_ms, 0),
    F("s", "server_site", LM__F_U64, 1, u.welcome.server_site, 0),
    F("w", "push_watermark", LM__F_U64, 1, u.welcome.push_watermark, 0),
    F("q", "server_seq", LM__F_U64, 1, u.welcome.server_seq, 0),
    F("r", "role", LM__F_STR, 1, u.welcome.role, LM_MAX_NAME),
    F("m", "max_frame", LM__F_U32, 0, u.welcome.max_frame, 0),
    F("f", "features", LM__F_U64, 0, u.welcome.features, 0),
    F2("n", "next_identity", LM__F_OPT_BIN32, 0, u.welcome.next_identity,
       u.welcome.has_next_identity),
    F("v", "villages", LM__F_STR, 0, u.welcome.villages, LM_MAX_TEXT),
    F("c", "county", LM__F_STR, 0, u.welcome.county, LM_MAX_TEXT),
    F("d", "push_digest", LM__F_U64, 0, u.welcome.push_digest, 0),
};

static const lm__field push[] = {
    F("u", "upto_seq", LM__F_U64, 1, u.push.upto_seq, 0),
    F2("d", "dict", LM__F_DICT, 1, u.push.changes, u.push.n_changes),
    F2("r", "rows", LM__F_ROWS, 1, u.push.changes, u.push.n_changes),
};

static const lm__field push_ack[] = {
    F("u", "upto_seq", LM__F_U64, 1, u.push_ack.upto_seq, 0),
    F("a", "applied", LM__F_U32, 1, u.push_ack.applied, 0),
    F("c", "conflicts", LM__F_U32, 1, u.push_ack.conflicts, 0),
    F2("f", "refusals", LM__F_REFUSALS, 0, u.push_ack.refusals, u.push_ack.n_refusals),
    F2("s", "stamps", LM__F_STAMPS, 0, u.push_ack.stamps, u.push_ack.n_stamps),
};

static const lm__field pull[] = {
    F("c", "cursor", LM__F_U64, 1, u.pull.cursor, 0),
    F("b", "max_bytes", LM__F_U32, 1, u.pull.max_bytes, 0),
};

static const lm__field changes[] = {
    F("n", "next_cursor", LM__F_U64, 1, u.changes.next_cursor, 0),
    F("m", "more", LM__F_BOOL8, 1, u.changes.more, 0),
    F2("d", "dict", LM__F_DICT, 1, u.changes.changes, u.changes.n_changes),
    F2("r", "rows", LM__F_ROWS, 1, u.changes.changes, u.changes.n_changes),
};

static const lm__field error[] = {
    F("c", "code", LM__F_I32, 1, u.error.code, 0),
    F("m", "message", LM__F_STR, 0, u.error.message, LM_MAX_TEXT),
};

static const lm__field bye[] = {
    F("r", "reason", LM__F_STR, 0, u.bye.reason, LM_MAX_TEXT),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const lm__field *lm__msg_fields(int type, size_t *n)
{
    switch (type) {
    case LM_MSG_HELLO:
        *n = COUNT(hello);
        return hello;
    case LM_MSG_WELCOME:
        *n = COUNT(welcome);
        return welcome;
    case LM_MSG_PUSH:
        *n = COUNT(push);
        return push;
    case LM_MSG_PUSH_ACK:
        *n = COUNT(push_ack);
        return push_ack;
    case LM_MSG_PULL:
        *n = COUNT(pull);
        return pull;
    case LM_MSG_CHANGES:
        *n = COUNT(changes);
        return changes;
    case LM_MSG_ERROR:
        *n = COUNT(error);
        return error;
    case LM_MSG_BYE:
        *n = COUNT(bye);
        return bye;
    default:
        *n = 0;
        return NULL;
    }
}
