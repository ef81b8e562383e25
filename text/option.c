/*
 * option.c — the check both tools' option parsers make of an option's
 * value (see lm_text.h).
 */
#include <string.h>

#include "lm_text.h"

const char *lm_text_option_value_problem(const char *value)
{
    if (!*value)
        return "is empty";
    if (strncmp(value, "--", 2) == 0)
        return "needs a value, not the option that follows it";
    return NULL;
}
