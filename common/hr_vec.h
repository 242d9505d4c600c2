/*  hr_vec: a growable array of pointers, for small unordered sets (a
    channel's groups, its waiting connections) and ordered queues that are
    only appended to and cleared. Header-only.  */
#ifndef HR_VEC_H
#define HR_VEC_H

#include "hr_buf.h"

#include <stdbool.h>
#include <stdlib.h>

typedef struct {
    void **items;
    size_t count;
    size_t cap;
} hr_vec_t;

static inline void
hr_vec_push (hr_vec_t *self, void *item)
{
    if (self->count == self->cap) {
        size_t cap = self->cap? self->cap * 2: 4;
        void **items = realloc (self->items, cap * sizeof *items);
        if (!items)
            abort ();
        self->items = items;
        self->cap = cap;
    }
    self->items [self->count++] = item;
}

//  Removes item by swapping the last one into its place (order not kept).
static inline bool
hr_vec_remove (hr_vec_t *self, void *item)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->items [i] == item) {
            self->items [i] = self->items [--self->count];
            return true;
        }
    return false;
}

static inline void
hr_vec_free (hr_vec_t *self)
{
    free (self->items);
    self->items = NULL;
    self->count = self->cap = 0;
}

#endif
