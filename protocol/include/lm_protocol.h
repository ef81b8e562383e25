/*
 * lm_protocol.h — lastmile's wire protocol: error codes, the replaceable
 * allocator, frames and messages. Pure functions over buffers: no sockets,
 * no SQLite.
 *
 * Ownership: every pointer a function returns through an out-parameter is
 * owned by the caller unless the comment says "borrowed". Message structs
 * filled by a decoder own their strings and arrays; free them with
 * lm_msg_clear(). Encoders never keep a reference to their input.
 */
#ifndef LM_PROTOCOL_H
#define LM_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

/* One table for the whole project: LM_OK is 0, errors are negative.
 * lm_strerror() gives the fixed string for a code; objects keep a longer
 * message of their own (e.g. lm_replica_errmsg()). */
#define LM_ERRNO_MAP(X)                                                                            \
    X(LM_OK, 0, "ok")                                                                              \
    X(LM_ENOMEM, -1, "out of memory")                                                              \
    X(LM_EINVAL, -2, "invalid argument")                                                           \
    X(LM_ETOOBIG, -3, "frame or field over its size limit")                                        \
    X(LM_ETRUNC, -4, "truncated input")                                                            \
    X(LM_EMALFORMED, -5, "malformed msgpack")                                                      \
    X(LM_ETYPE, -6, "field has the wrong type")                                                    \
    X(LM_EMISSING, -7, "required field missing")                                                   \
    X(LM_ERANGE, -8, "number out of range")                                                        \
    X(LM_EDEPTH, -9, "nesting too deep")                                                           \
    X(LM_EZLIB, -10, "bad deflate stream")                                                         \
    X(LM_EBOMB, -11, "inflated payload over its limit")                                            \
    X(LM_EUNKNOWNTYPE, -12, "unknown message type")                                                \
    X(LM_EVERSION, -13, "unsupported protocol version")                                            \
    X(LM_EFLAGS, -14, "unknown frame flags")                                                       \
    X(LM_EAUTH, -15, "authentication failed")                                                      \
    X(LM_EDENIED, -16, "not allowed for this role")                                                \
    X(LM_EDB, -17, "database error")                                                               \
    X(LM_ESCHEMA, -18, "database schema is newer than this program")                               \
    X(LM_ENOTFOUND, -19, "not found")                                                              \
    X(LM_EIMMUTABLE, -20, "column is immutable")                                                   \
    X(LM_EMONOTONIC, -21, "value may only move forward")                                           \
    X(LM_EOWNER, -22, "column is owned by another role")                                           \
    X(LM_ESCOPE, -23, "row is outside the writer's scope")                                         \
    X(LM_EIO, -24, "input/output error")                                                           \
    X(LM_ENET, -25, "network error")                                                               \
    X(LM_ETIMEDOUT, -26, "timed out")                                                              \
    X(LM_ESTATE, -27, "message not expected in this state")                                        \
    X(LM_ECLOCK, -28, "clock too far ahead")                                                       \
    X(LM_EBUSY, -29, "busy, try again")                                                            \
    X(LM_ECANCELED, -30, "canceled")                                                               \
    X(LM_ECONFLICT, -31, "conflict")                                                               \
    X(LM_EEXISTS, -32, "already exists")                                                           \
    X(LM_ECORRUPT, -33, "database file is damaged")                                                \
    X(LM_EFULL, -34, "disk full")

enum lm_errno {
#define LM__ERRNO_ENUM(name, value, text) name = (value),
    LM_ERRNO_MAP(LM__ERRNO_ENUM)
#undef LM__ERRNO_ENUM
};

/* Fixed text for an error code; "unknown error" for codes not in the table. */
const char *lm_strerror(int rc);
/* The code's symbolic name ("LM_ETOOBIG"); "LM_E?" for unknown codes. */
const char *lm_errname(int rc);

/* ------------------------------------------------------------- allocator */

/* Every allocation in lastmile goes through these so tests can inject
 * failures. The hooks are process-global; install them before any other
 * lastmile call. zlib and SQLite are given the same hooks where it helps. */
typedef struct lm_allocator {
    void *(*malloc_fn)(size_t size, void *ud);
    void *(*realloc_fn)(void *ptr, size_t size, void *ud);
    void (*free_fn)(void *ptr, void *ud);
    void *ud;
} lm_allocator;

/* NULL restores the libc allocator. */
void lm_set_allocator(const lm_allocator *a);
void *lm_malloc(size_t size);
void *lm_calloc(size_t n, size_t size); /* overflow-checked */
void *lm_realloc(void *ptr, size_t size);
void lm_free(void *ptr);
char *lm_strdup(const char *s);
char *lm_strndup(const char *s, size_t n);

/* ---------------------------------------------------------------- frames */

/* Wire: u32 length (big-endian, counts type+flags+payload) | u8 type |
 *       u8 flags | payload (msgpack; zlib stream when LM_FRAME_DEFLATED;
 *       the next piece of the sender's session stream when LM_FRAME_STREAM). */
#define LM_FRAME_HEADER_SIZE 6u
#define LM_FRAME_DEFAULT_MAX (1u << 20)          /* 1 MiB on the wire */
#define LM_FRAME_DEFAULT_MAX_INFLATED (8u << 20) /* 8 MiB once inflated */
#define LM_FRAME_DEFLATED 0x01u
/* The payload continues the sender's session deflate stream: raw deflate
 * (RFC 1951) with a 2^LM_FRAME_STREAM_WBITS byte window, each frame's piece
 * ending in a sync flush. Only after the handshake agreed on
 * LM_FEATURE_DEFLATE_STREAM; never together with LM_FRAME_DEFLATED. */
#define LM_FRAME_STREAM 0x02u
#define LM_FRAME_STREAM_WBITS 13
/* The window both sides use once the handshake agreed on
 * LM_FEATURE_WIDE_WINDOW: gzip's 32 KiB. */
#define LM_FRAME_STREAM_WIDE_WBITS 15
#define LM_FRAME_KNOWN_FLAGS (LM_FRAME_DEFLATED | LM_FRAME_STREAM)

/* 2: TLS 1.3 underneath, HELLO carries the device's Ed25519 public key and
 * its signature over the channel (docs/security.md); no CHALLENGE/AUTH. */
#define LM_PROTOCOL_VERSION 2u

typedef enum lm_msg_type {
    LM_MSG_HELLO = 1,
    /* 2 and 3 were CHALLENGE and AUTH of protocol 1: retired, never reused */
    LM_MSG_WELCOME = 4,
    LM_MSG_PUSH = 5,
    LM_MSG_PUSH_ACK = 6,
    LM_MSG_PULL = 7,
    LM_MSG_CHANGES = 8,
    LM_MSG_ERROR = 9,
    LM_MSG_BYE = 10,
} lm_msg_type;

const char *lm_msg_type_name(int type);

/* A decoded frame. payload is borrowed from the decoder and valid until the
 * next lm_frame_decoder_* call. The payload is already inflated. */
typedef struct lm_frame {
    uint8_t type;
    uint8_t flags; /* as received */
    const uint8_t *payload;
    size_t payload_len;
    size_t wire_len; /* bytes this frame took on the wire, header included */
} lm_frame;

/* Incremental decoder: feed it any slices of the byte stream. Embedded by
 * value; lm_frame_decoder_close() frees its buffers. */
typedef struct lm_frame_decoder {
    size_t max_frame;    /* refuse a frame whose length field exceeds this */
    size_t max_inflated; /* refuse a deflated payload that inflates past this */
    uint8_t *buf;        /* private: accumulated bytes */
    size_t len, cap, off;
    uint8_t *inflated; /* private: inflate window */
    size_t inflated_cap;
    int stream_ok;    /* LM_FRAME_STREAM frames accepted (else LM_EFLAGS) */
    int stream_wbits; /* their window, 2^stream_wbits bytes */
    void *stream;     /* private: the session stream's inflate state, once used */
    int error;        /* sticky: once set every call returns it */
} lm_frame_decoder;

/* max_frame / max_inflated of 0 take the defaults. Both fields may be
 * changed between calls (a server raises them after the handshake): a new
 * max_frame applies to headers not yet complete, a new max_inflated to the
 * next lm_frame_decoder_next(). */
void lm_frame_decoder_init(lm_frame_decoder *d, size_t max_frame, size_t max_inflated);
void lm_frame_decoder_close(lm_frame_decoder *d);
/* Appends bytes (copied). The length header is checked as soon as it is
 * complete, before the body is buffered. Returns LM_OK or an error. */
int lm_frame_decoder_feed(lm_frame_decoder *d, const uint8_t *data, size_t len);
/* 1 and *out filled when a whole frame is ready, 0 when more bytes are
 * needed, negative on bad input (sticky). */
int lm_frame_decoder_next(lm_frame_decoder *d, lm_frame *out);
/* 1 and *type set when a whole frame is buffered, without taking it (nor
 * inflating it); 0 when more bytes are needed; negative as above. */
int lm_frame_decoder_peek(const lm_frame_decoder *d, uint8_t *type);
/* Bytes of input buffer allocated while some input waits in it (a frame
 * not yet complete, or frames not yet taken); 0 when nothing waits. Once
 * every frame is taken, the next lm_frame_decoder_next() releases a big
 * buffer, so an idle decoder holds at most a few KiB. */
size_t lm_frame_decoder_held(const lm_frame_decoder *d);
/* Accepts LM_FRAME_STREAM frames from now on (the handshake agreed on
 * LM_FEATURE_DEFLATE_STREAM), deflated with a 2^wbits byte window:
 * LM_FRAME_STREAM_WBITS, or LM_FRAME_STREAM_WIDE_WBITS when it also agreed
 * on LM_FEATURE_WIDE_WINDOW; anything else is taken as the former. Their
 * inflate state (about 15 KB, 40 KB wide) is made at the first one and
 * freed by lm_frame_decoder_close(). */
void lm_frame_decoder_accept_stream(lm_frame_decoder *d, int wbits);

/* A growable output buffer. Embedded by value; owns data. */
typedef struct lm_buf {
    uint8_t *data;
    size_t len, cap;
} lm_buf;

void lm_buf_init(lm_buf *b);
void lm_buf_close(lm_buf *b);
int lm_buf_reserve(lm_buf *b, size_t extra);
int lm_buf_append(lm_buf *b, const void *data, size_t len);
void lm_buf_reset(lm_buf *b); /* len = 0, keeps capacity */

/* Appends one frame to out. When deflate_min is non-zero and the payload is at
 * least that long, the payload is deflated and the flag set, unless deflating
 * does not make it smaller. Fails with LM_ETOOBIG past max_frame (0 default). */
int lm_frame_encode(lm_buf *out, uint8_t type, const uint8_t *payload, size_t len,
                    size_t deflate_min, size_t max_frame);

/* The sending side of a session deflate stream (frame_stream.c). */
typedef struct lm_frame_deflater lm_frame_deflater;
/* wbits: LM_FRAME_STREAM_WBITS, or LM_FRAME_STREAM_WIDE_WBITS when the
 * handshake agreed on LM_FEATURE_WIDE_WINDOW (else LM_EINVAL). */
int lm_frame_deflater_new(lm_frame_deflater **out, int wbits);
void lm_frame_deflater_free(lm_frame_deflater *z);
/* As lm_frame_encode, except that a payload of at least deflate_min bytes
 * and at most 64 KiB continues z's stream (LM_FRAME_STREAM) when even its
 * worst case fits max_frame; a bigger one is deflated alone as
 * lm_frame_encode does, so a caller may still retry a smaller payload
 * after LM_ETOOBIG. A frame that
 * went into the stream must be sent, in the order encoded. After any other
 * error z is spent: every later call fails. z NULL: lm_frame_encode. */
int lm_frame_encode_z(lm_frame_deflater *z, lm_buf *out, uint8_t type, const uint8_t *payload,
                      size_t len, size_t deflate_min, size_t max_frame);

/* --------------------------------------------------------------- values */

/* A cell value typed as one of SQLite's storage classes (same numbering as
 * SQLITE_INTEGER..SQLITE_NULL). TEXT and BLOB own their bytes. */
typedef enum lm_value_type {
    LM_VAL_INTEGER = 1,
    LM_VAL_FLOAT = 2,
    LM_VAL_TEXT = 3,
    LM_VAL_BLOB = 4,
    LM_VAL_NULL = 5,
} lm_value_type;

typedef struct lm_value {
    int type;
    int64_t i;
    double f;
    uint8_t *bytes; /* TEXT (not NUL-terminated on the wire; decoder adds one) or BLOB */
    size_t len;
} lm_value;

void lm_value_clear(lm_value *v);
int lm_value_copy(lm_value *dst, const lm_value *src);
/* Total order: NULL < INTEGER/FLOAT (numeric) < TEXT < BLOB, as SQLite. */
int lm_value_compare(const lm_value *a, const lm_value *b);
/* v as text for people into out (size bytes): the number, at most 200
 * bytes of text, "(N-byte blob)", or null_text for NULL or no value. */
void lm_value_format(const lm_value *v, const char *null_text, char *out, size_t size);

/* ------------------------------------------------------------- changes */

/* HLC: upper 48 bits physical ms since the epoch, lower 16 bits counter. */
#define LM_HLC_MS(h) ((uint64_t)(h) >> 16)
#define LM_HLC_COUNTER(h) ((uint64_t)(h)&0xffffu)
#define LM_HLC_MAKE(ms, c) (((uint64_t)(ms) << 16) | ((uint64_t)(c)&0xffffu))

/* Limits a decoder enforces on every field. */
#define LM_MAX_NAME 64           /* table / column / user names */
#define LM_MAX_PK 128            /* primary key text */
#define LM_MAX_VALUE (64u << 10) /* one TEXT/BLOB value */
#define LM_MAX_CHANGES 100000u   /* changes in one PUSH/CHANGES */
#define LM_MAX_REFUSALS 100000u
#define LM_MAX_TEXT 4096 /* messages, reasons, client names */
#define LM_MAX_DEPTH 8   /* msgpack nesting we accept */

/* One per-column change: (table, pk, column, value, hlc, site, prev_hlc).
 * column "" with value NULL marks a row delete (tombstone). seq is the
 * origin's change-log sequence (used for watermarks; 0 when not relevant). */
typedef struct lm_change {
    char *table;
    char *pk;
    char *column;
    lm_value value;
    uint64_t hlc;
    uint64_t site;
    uint64_t prev_hlc;
    uint64_t seq;
} lm_change;

void lm_change_clear(lm_change *c);

/* ------------------------------------------------------------ messages */

/* HELLO "f": what the client does beyond the base protocol. */
#define LM_FEATURE_ACK_STAMPS 1u /* applies PUSH_ACK stamps (no echo in CHANGES) */
/* HELLO: the client would send LM_FRAME_STREAM frames; WELCOME: the server
 * accepts them from this client (from the client's first frame after it). */
#define LM_FEATURE_DEFLATE_STREAM 2u
/* With LM_FEATURE_DEFLATE_STREAM. HELLO: the client would deflate its
 * session stream with a 32 KiB window (LM_FRAME_STREAM_WIDE_WBITS);
 * WELCOME: the server inflates it so. */
#define LM_FEATURE_WIDE_WINDOW 4u
/* HELLO: the client decodes integer deltas in change lists (changes.c) and
 * would send them; WELCOME: the server decodes them in PUSH. */
#define LM_FEATURE_INT_DELTAS 8u

typedef struct lm_msg_hello {
    uint32_t version;
    char *user;
    uint64_t site; /* the replica's site id */
    char *client;  /* free text, e.g. "lastmile/0.1.0" */
    /* Optional (has_pending = 0: not sent): the changes the replica holds
     * that the server has not acknowledged yet, as `lastmile status`
     * counts them when the session starts. */
    uint8_t has_pending;
    uint64_t pending;
    uint64_t features;      /* LM_FEATURE_* bits; 0 when not sent */
    uint8_t public_key[32]; /* the device's Ed25519 public key */
    /* Ed25519 over lm_hello_transcript(TLS exporter, user, site): proves
     * the key's holder speaks on this very channel */
    uint8_t signature[64];
    /* The one-time enrolment token (first HELLO of a new device only). */
    uint8_t has_token;
    uint8_t token[32];
} lm_msg_hello;

typedef struct lm_msg_welcome {
    uint64_t server_time_ms;
    uint64_t server_site;
    uint64_t push_watermark; /* highest seq of this site the server has applied */
    uint64_t server_seq;     /* server's current change-log head */
    char *role;              /* "agent", "dispatcher", "hq" */
    uint32_t max_frame;      /* largest frame the server accepts, header included;
                              * 0 (an older server) = LM_FRAME_DEFAULT_MAX */
    uint64_t features;       /* LM_FEATURE_* the server grants this client; 0 when not sent */
    /* The SHA-256 of the certificate the server rotates to (lastmile-server
     * identity rotate), sent while a rotation is staged: the client may
     * accept that identity from then on (docs/security.md). */
    uint8_t has_next_identity;
    uint8_t next_identity[32];
    /* The user's scope as the server holds it now (NULL when not sent: an
     * older server, or hq): an agent's villages as a comma list, a
     * dispatcher's county. The field tool checks entries against it and
     * follows a change of it (docs/sync.md, "Scope changes"). */
    char *villages;
    char *county;
    /* the digest of the batch that set push_watermark (lm_push_digest,
     * lm_sync.h); 0 when not sent or unknown */
    uint64_t push_digest;
} lm_msg_welcome;

typedef struct lm_msg_push {
    uint64_t upto_seq; /* the batch covers the sender's changes up to this seq */
    lm_change *changes;
    uint32_t n_changes;
    /* encode only: integers may go as deltas (the peer granted
     * LM_FEATURE_INT_DELTAS); the decoder takes deltas whatever this says */
    uint8_t int_deltas;
} lm_msg_push;

typedef struct lm_refusal {
    uint32_t index; /* position of the change in the PUSH */
    int32_t code;   /* LM_E* */
    char *reason;
} lm_refusal;

/* Rows of a PUSH the server stamped with collections.received_at: every
 * collection whose first change in the PUSH has an index in [lo, hi] (rows
 * of other tables in between do not count) now holds
 * received_at = received_at_ms, written at `hlc` by the server's site
 * (prev_hlc: that row's received_at change in the PUSH, else 0). A client
 * that applies these gets them no more in CHANGES. */
typedef struct lm_stamp_range {
    uint64_t hlc;
    uint64_t received_at_ms;
    uint32_t lo, hi;
} lm_stamp_range;

typedef struct lm_msg_push_ack {
    uint64_t upto_seq; /* now durable on the server */
    uint32_t applied;
    uint32_t conflicts;
    lm_refusal *refusals;
    uint32_t n_refusals;
    lm_stamp_range *stamps; /* only to clients with LM_FEATURE_ACK_STAMPS */
    uint32_t n_stamps;
} lm_msg_push_ack;

typedef struct lm_msg_pull {
    uint64_t cursor;    /* server seq the client already has */
    uint32_t max_bytes; /* budget for the CHANGES batch */
} lm_msg_pull;

typedef struct lm_msg_changes {
    uint64_t next_cursor;
    uint8_t more; /* 1 when the client should PULL again */
    lm_change *changes;
    uint32_t n_changes;
    uint8_t int_deltas; /* encode only, as in lm_msg_push */
} lm_msg_changes;

typedef struct lm_msg_error {
    int32_t code;
    char *message;
} lm_msg_error;

typedef struct lm_msg_bye {
    char *reason; /* may be NULL */
} lm_msg_bye;

typedef struct lm_msg {
    int type; /* lm_msg_type */
    union {
        lm_msg_hello hello;
        lm_msg_welcome welcome;
        lm_msg_push push;
        lm_msg_push_ack push_ack;
        lm_msg_pull pull;
        lm_msg_changes changes;
        lm_msg_error error;
        lm_msg_bye bye;
    } u;
} lm_msg;

/* Frees everything the message owns and zeroes it. Safe on a zeroed msg. */
void lm_msg_clear(lm_msg *m);

/* Encodes m as a msgpack payload appended to out (no frame header). */
int lm_msg_encode(const lm_msg *m, lm_buf *out);
/* Encodes m and frames it (deflating payloads >= deflate_min; 0 = never). */
int lm_msg_encode_frame(const lm_msg *m, lm_buf *out, size_t deflate_min, size_t max_frame);
/* The same through a session deflate stream (lm_frame_encode_z). */
int lm_msg_encode_frame_z(const lm_msg *m, lm_frame_deflater *z, lm_buf *out, size_t deflate_min,
                          size_t max_frame);

/* Decodes a payload of the given type into *m (zeroed first). On error *m is
 * left cleared, the return is a specific LM_E* code, and when errmsg is not
 * NULL a description ("PUSH.changes[3].pk: string longer than 128") is
 * written into it (errmsg_size bytes, NUL-terminated). */
int lm_msg_decode(int type, const uint8_t *payload, size_t len, lm_msg *m, char *errmsg,
                  size_t errmsg_size);

/* The rows of a PUSH payload (its "r" array; each row is one change or
 * more), read from the array's header without decoding the batch, so a
 * server can refuse one over its limit before paying for the decode.
 * LM_OK and *rows (0 when there is no "r"), or LM_EMALFORMED. */
int lm_push_rows(const uint8_t *payload, size_t len, uint32_t *rows);

/* --------------------------------------------------------------- auth */

/* User keys are 32 random bytes, shown to people as 64 lowercase hex chars. */
#define LM_KEY_SIZE 32
#define LM_KEY_HEX_SIZE 65 /* with NUL */

/* Fills out with LM_KEY_SIZE bytes from OpenSSL's RAND_bytes. */
int lm_random_bytes(uint8_t *out, size_t len);
int lm_key_to_hex(const uint8_t key[LM_KEY_SIZE], char out[LM_KEY_HEX_SIZE]);
/* LM_EINVAL unless hex is exactly 64 hex digits. */
int lm_key_from_hex(const char *hex, uint8_t out[LM_KEY_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
