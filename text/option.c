/*
 * option.c — the check both tools' option parsers make of an option's
 * value (see lm_text.h).
 */
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
