/*  hr_grant: grant patterns ("seller:{sub}", "business:*", "*"): expansion,
    validation and matching.  */
#include "hr_grant.h"
#include "hr_channel.h"

#include <stdlib.h>
#include <string.h>

#define S_SUB "{sub}"
#define S_SUB_LEN 5

//  True for the bytes a prefix grant may end in before its '*'.
static bool
s_separator (char c)
{
    return c == ':' || c == '/' || c == '.' || c == '-';
}

//  Checks an expanded grant; NULL when valid, else a static reason.
static const char *
s_check (const char *grant, size_t len)
{
    if (len == 0)
        return "empty grant";
    if (memchr (grant, '*', len - 1))
        return "grant with a '*' before its end";
    if (len == 1 && grant [0] == '*')
        return NULL;
    if (grant [len - 1] != '*')
        return hr_channel_valid (grant, len)? NULL: "grant that is not a channel name, \"*\" or "
               "a prefix ending in \"*\"";
    if (!s_separator (grant [len - 2]))
        return "grant with a '*' not after a separator (: / . -)";
    //  The channels it matches are longer than the prefix
    if (!hr_token_valid (grant, len - 1, HR_CHANNEL_MAX - 1))
        return "grant prefix that cannot start a channel name";
    return NULL;
}

bool
hr_grant_expand (hr_buf_t *out, const char *pattern, size_t len,
                 const char *sub, size_t sub_len, const char **why)
{
    size_t start = out->size;
    const char *p = pattern, *end = pattern + len;
    bool substituted = false;
    while (p < end) {
        const char *brace = memchr (p, '{', (size_t) (end - p));
        if (!brace || (size_t) (end - brace) < S_SUB_LEN || memcmp (brace, S_SUB, S_SUB_LEN)) {
            //  No (more) {sub}: a stray '{' fails the alphabet check below
            const char *stop = brace? brace + 1: end;
            hr_buf_put (out, p, (size_t) (stop - p));
            p = stop;
            continue;
        }
        hr_buf_put (out, p, (size_t) (brace - p));
        if (sub)
            hr_buf_put (out, sub, sub_len);
        substituted = true;
        p = brace + S_SUB_LEN;
    }
    if (substituted && (!sub || !hr_token_valid (sub, sub_len, HR_CHANNEL_MAX))) {
        out->size = start;
        if (out->data)
            out->data [start] = 0;
        *why = sub? "grant with {sub}, and the subject has bytes not "
                  "allowed in a channel name"
                  : "grant with {sub} where there is no subject";
        return false;
    }
    const char *reason = s_check (out->data? out->data + start: "", out->size - start);
    if (reason) {
        out->size = start;
        if (out->data)
            out->data [start] = 0;
        *why = reason;
        return false;
    }
    return true;
}

bool
hr_grant_match (const char *grant, size_t grant_len,
                const char *channel, size_t channel_len)
{
    if (grant_len == 0)
        return false;
    if (grant [grant_len - 1] != '*')
        return grant_len == channel_len && !memcmp (grant, channel, channel_len);
    //  "*" and "prefix*": the '*' stands for one or more bytes
    size_t prefix = grant_len - 1;
    return channel_len > prefix && !memcmp (grant, channel, prefix);
}

bool
hr_grants_match (const hr_grants_t *self, const char *channel, size_t channel_len)
{
    for (size_t i = 0; i < self->count; i++)
        if (hr_grant_match (self->grant [i], self->len [i], channel, channel_len))
            return true;
    return false;
}

void
hr_grants_free (hr_grants_t *self)
{
    free (self->data);
    memset (self, 0, sizeof *self);
}

void
hr_grants_from_buf (hr_grants_t *self, const char *text, size_t size, size_t count)
{
    memset (self, 0, sizeof *self);
    if (count == 0)
        return;
    size_t head = count * (sizeof (char *) + sizeof (size_t));
    char *block = hr_malloc (head + size);
    memcpy (block + head, text, size);
    self->count = count;
    self->data = block;
    self->grant = (const char **) (void *) block;
    self->len = (size_t *) (void *) (block + count * sizeof (char *));
    const char *p = block + head;
    for (size_t i = 0; i < count; i++) {
        self->grant [i] = p;
        self->len [i] = strlen (p);
        p += self->len [i] + 1;
    }
}

bool
hr_grants_parse_list (hr_grants_t *self, const char *list, hr_buf_t *err)
{
    memset (self, 0, sizeof *self);
    hr_buf_t text = HR_BUF_INIT;
    size_t count = 0;
    const char *p = list? list: "";
    while (*p) {
        const char *comma = strchr (p, ',');
        const char *end = comma? comma: p + strlen (p);
        const char *start = p;
        while (start < end && (*start == ' ' || *start == '\t'))
            start++;
        const char *stop = end;
        while (stop > start && (stop [-1] == ' ' || stop [-1] == '\t'))
            stop--;
        const char *why;
        if (!hr_grant_expand (&text, start, (size_t) (stop - start), NULL, 0, &why)) {
            hr_buf_printf (err, "channel pattern %zu \"%.*s\": %s", count + 1,
                           (int) (stop - start), start, why);
            hr_buf_free (&text);
            return false;
        }
        hr_buf_putc (&text, 0);
        count++;
        p = comma? comma + 1: end;
        if (comma && !*p) {
            hr_buf_printf (err, "channel pattern %zu is empty", count + 1);
            hr_buf_free (&text);
            return false;
        }
    }
    hr_grants_from_buf (self, text.data, text.size, count);
    hr_buf_free (&text);
    return true;
}
