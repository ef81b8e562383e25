/*
 * msg_clear.c — frees what decoded changes and messages own. Safe on zeroed
 * structs so a decoder can clear a half-filled message on any error path.
 */
#include <string.h>

#include "lm_protocol.h"

void lm_change_clear(lm_change *c)
{
    if (!c)
        return;
    lm_free(c->table);
    lm_free(c->pk);
    lm_free(c->column);
    lm_value_clear(&c->value);
    memset(c, 0, sizeof *c);
    c->value.type = LM_VAL_NULL;
}

static void free_changes(lm_change *changes, uint32_t n)
{
    if (!changes)
        return;
    for (uint32_t i = 0; i < n; i++)
        lm_change_clear(&changes[i]);
    lm_free(changes);
}

void lm_msg_clear(lm_msg *m)
{
    if (!m)
        return;
    switch (m->type) {
    case LM_MSG_HELLO:
        lm_free(m->u.hello.user);
        lm_free(m->u.hello.client);
        break;
    case LM_MSG_WELCOME:
        lm_free(m->u.welcome.role);
        lm_free(m->u.welcome.villages);
        lm_free(m->u.welcome.county);
        break;
    case LM_MSG_PUSH:
        free_changes(m->u.push.changes, m->u.push.n_changes);
        break;
    case LM_MSG_PUSH_ACK:
        if (m->u.push_ack.refusals) {
            for (uint32_t i = 0; i < m->u.push_ack.n_refusals; i++)
                lm_free(m->u.push_ack.refusals[i].reason);
            lm_free(m->u.push_ack.refusals);
        }
        lm_free(m->u.push_ack.stamps);
        break;
    case LM_MSG_CHANGES:
        free_changes(m->u.changes.changes, m->u.changes.n_changes);
        break;
    case LM_MSG_ERROR:
        lm_free(m->u.error.message);
        break;
    case LM_MSG_BYE:
        lm_free(m->u.bye.reason);
        break;
    default:
        break; /* PULL owns nothing */
    }
    memset(m, 0, sizeof *m);
}
