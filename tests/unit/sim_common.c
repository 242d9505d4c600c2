/*  sim_common: the PRNG, event heap and arguments of the seeded
    simulators (sim_common.h).  */
#include "sim_common.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t
sim_rnd (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t
sim_range (uint64_t *state, uint64_t lo, uint64_t hi)
{
    return lo + sim_rnd (state) % (hi - lo + 1);
}

bool
sim_chance (uint64_t *state, unsigned pct)
{
    return pct && sim_rnd (state) % 100 < pct;
}

//  --- The event queue: a binary heap on (at, seq)

void
sim_heap_init (sim_heap_t *self, size_t size, size_t max)
{
    assert (size >= sizeof (sim_when_t));
    *self = (sim_heap_t) { .size = size, .max = max };
}

void
sim_heap_free (sim_heap_t *self)
{
    free (self->items);
    self->items = NULL;
    self->count = self->cap = 0;
}

void *
sim_heap_item (const sim_heap_t *self, size_t i)
{
    assert (i < self->count);
    return self->items + i * self->size;
}

void *
sim_heap_top (const sim_heap_t *self)
{
    return self->count ? self->items : NULL;
}

static bool
before (const void *a, const void *b)
{
    const sim_when_t *x = a, *y = b;
    return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

void *
sim_heap_push (sim_heap_t *self, void *item)
{
    if (self->count == self->cap) {
        if (self->cap >= self->max)
            return NULL;
        self->cap = self->cap ? self->cap * 2 : 1024;
        self->items = realloc (self->items, self->cap * self->size);
        assert (self->items);
    }
    ((sim_when_t *) item)->seq = self->next_seq++;
    size_t i = self->count++;
    while (i > 0 && before (item, self->items + (i - 1) / 2 * self->size)) {
        memcpy (self->items + i * self->size, self->items + (i - 1) / 2 * self->size,
                self->size);
        i = (i - 1) / 2;
    }
    memcpy (self->items + i * self->size, item, self->size);
    return self->items + i * self->size;
}

void
sim_heap_pop (sim_heap_t *self, void *top)
{
    assert (self->count);
    memcpy (top, self->items, self->size);
    //  The last item sinks from the root; its slot is past the live ones,
    //  so the items moved up never overwrite it.
    const char *last = self->items + --self->count * self->size;
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= self->count)
            break;
        if (c + 1 < self->count
        &&  before (self->items + (c + 1) * self->size, self->items + c * self->size))
            c++;
        if (!before (self->items + c * self->size, last))
            break;
        memcpy (self->items + i * self->size, self->items + c * self->size, self->size);
        i = c;
    }
    if (self->count)
        memcpy (self->items + i * self->size, last, self->size);
}

//  --- Trace and failure

void
sim_vtrace (FILE *out, const char *format, va_list args)
{
    vfprintf (out, format, args);
    fputc ('\n', out);
}

void
sim_vfail (hr_buf_t *failure, const char *format, va_list args)
{
    char text [1024];
    vsnprintf (text, sizeof text, format, args);
    hr_buf_puts (failure, text);
}

//  --- Arguments

bool
sim_args_read (sim_args_t *args, const char *arg, const char *value)
{
    if (!strcmp (arg, "--seeds")) {
        if (sscanf (value, "%" SCNu64 ":%" SCNu64, &args->from, &args->to) != 2
        ||  args->from > args->to)
            return false;
        args->seeds = true;
        return true;
    }
    if (!strcmp (arg, "--replay")) {
        if (sscanf (value, "%" SCNu64, &args->from) != 1)
            return false;
        args->replay = true;
        args->to = args->from;
        return true;
    }
    if (!strcmp (arg, "--steps"))
        return sscanf (value, "%" SCNu64, &args->steps) == 1;
    return false;
}
