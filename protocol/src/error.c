/*
 * error.c — text for the project-wide error table and the message type names.
 * Both tables are generated from the X-macros in lm_protocol.h so a new code
 * can never lack its string.
 */
#include "lm_protocol.h"

const char *lm_strerror(int rc)
{
    switch (rc) {
#define ERR_TEXT(name, value, text)                                                                \
    case value:                                                                                    \
        return text;
        LM_ERRNO_MAP(ERR_TEXT)
#undef ERR_TEXT
    default:
        return "unknown error";
    }
}

const char *lm_errname(int rc)
{
    switch (rc) {
#define ERR_NAME(name, value, text)                                                                \
    case value:                                                                                    \
        return #name;
        LM_ERRNO_MAP(ERR_NAME)
#undef ERR_NAME
    default:
        return "LM_E?";
    }
}

const char *lm_msg_type_name(int type)
{
    switch (type) {
    case LM_MSG_HELLO:
        return "HELLO";
    case LM_MSG_WELCOME:
        return "WELCOME";
    case LM_MSG_PUSH:
        return "PUSH";
    case LM_MSG_PUSH_ACK:
        return "PUSH_ACK";
    case LM_MSG_PULL:
        return "PULL";
    case LM_MSG_CHANGES:
        return "CHANGES";
    case LM_MSG_ERROR:
        return "ERROR";
    case LM_MSG_BYE:
        return "BYE";
    default:
        return "UNKNOWN";
    }
}
