/*  hr_grant: the channel patterns a token grants.

    A grant is an exact channel name, "*" (every channel), or a prefix that
    ends in a separator (':' '/' '.' '-') followed by '*' ("business:*").
    "{sub}" anywhere in a grant stands for the token's subject; after the
    substitution the grant must still be one of those forms. Anything else
    ("seller:1*", "*x", "a**", "") is invalid, and an invalid grant makes
    the whole token invalid: never a wider match.  */
#ifndef HR_GRANT_H
#define HR_GRANT_H

#include "hr_buf.h"

#include <stdbool.h>
#include <stddef.h>

#define HR_GRANT_MAX 64                 //  grants per list in one token

//  Expands "{sub}" in pattern with sub into out (appended) and checks the
//  result. Returns true when it is a valid grant; false with a short
//  static reason in *why ("grant with a '*' not after a separator (: / .
//  -)"), and out as it was.
bool hr_grant_expand (hr_buf_t *out, const char *pattern, size_t len,
                      const char *sub, size_t sub_len, const char **why);

//  True when the expanded grant matches the channel name.
bool hr_grant_match (const char *grant, size_t grant_len,
                     const char *channel, size_t channel_len);

//  A list of expanded grants, one allocation; patterns in the order given.
typedef struct {
    size_t count;
    const char **grant;                 //  NUL-terminated, in data
    size_t *len;
    char *data;
} hr_grants_t;

//  True when any grant in the list matches the channel.
bool hr_grants_match (const hr_grants_t *self, const char *channel, size_t channel_len);

//  Parses a comma-separated list of patterns without {sub} (the
//  --public-channels option) into self. Returns false with a reason in err.
bool hr_grants_parse_list (hr_grants_t *self, const char *list, hr_buf_t *err);

//  Fills self from count expanded grants in text[0..size), each followed
//  by a NUL (as hr_grant_expand + hr_buf_putc (buf, 0) leave them). Copies
//  them into one allocation that self owns.
void hr_grants_from_buf (hr_grants_t *self, const char *text, size_t size, size_t count);

//  Frees what self holds and zeroes it.
void hr_grants_free (hr_grants_t *self);

#endif
