/*  hr_channel: name validation and sorted channel sets.  */
#include "hr_channel.h"
#include "hr_buf.h"
#include "hr_hash.h"

#include <stdlib.h>
#include <string.h>

//  The alphabet as a 256-entry table: one lookup per byte on the hot path.
static const bool s_alphabet [256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
    ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['_'] = 1, ['.'] = 1, [':'] = 1, ['@'] = 1, ['/'] = 1, ['-'] = 1,
};

bool
hr_token_valid (const char *text, size_t size, size_t max)
{
    if (size == 0 || size > max)
        return false;
    for (size_t i = 0; i < size; i++)
        if (!s_alphabet [(unsigned char) text [i]])
            return false;
    return true;
}

bool
hr_channel_valid (const char *name, size_t size)
{
    return hr_token_valid (name, size, HR_CHANNEL_MAX);
}

bool
hr_id_valid (const char *text, size_t size)
{
    if (size == 0 || size > HR_ID_MAX)
        return false;
    for (size_t i = 0; i < size; i++)
        if ((unsigned char) text [i] < 0x21 || (unsigned char) text [i] > 0x7e)
            return false;
    return true;
}

static int
s_compare (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

hr_chanset_t *
hr_chanset_new (const char *const *names, size_t count)
{
    hr_chanset_t *self = hr_calloc (1, sizeof *self);
    self->names = hr_calloc (count, sizeof (char *));
    for (size_t i = 0; i < count; i++)
        self->names [i] = (char *) names [i];
    qsort (self->names, count, sizeof (char *), s_compare);
    //  Copy the unique names, in order, and build key and hash
    hr_buf_t key = HR_BUF_INIT;
    self->hash = HR_FNV1A_SEED;
    size_t unique = 0;
    for (size_t i = 0; i < count; i++) {
        if (unique && strcmp (self->names [unique - 1], self->names [i]) == 0)
            continue;
        self->names [unique++] = hr_strdup (self->names [i]);
        size_t len = strlen (self->names [unique - 1]);
        self->hash = hr_fnv1a (self->hash, self->names [unique - 1], len);
        self->hash = hr_fnv1a (self->hash, "\n", 1);
        if (key.size)
            hr_buf_putc (&key, '\n');
        hr_buf_put (&key, self->names [unique - 1], len);
    }
    self->count = unique;
    self->key = hr_buf_detach (&key);
    return self;
}

void
hr_chanset_destroy (hr_chanset_t **self_p)
{
    hr_chanset_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        free (self->names [i]);
    free (self->names);
    free (self->key);
    free (self);
    *self_p = NULL;
}

int
hr_chanset_find (const hr_chanset_t *self, const char *name)
{
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp (self->names [mid], name);
        if (cmp == 0)
            return (int) mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}
