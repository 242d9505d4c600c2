/*  hrg_slab: a free list over 64 KiB blocks.  */
#include "hrg_slab.h"
#include "hr_buf.h"

#include <stdlib.h>
#include <string.h>

#define S_BLOCK (64 * 1024)

typedef struct s_block_t s_block_t;
struct s_block_t {
    s_block_t *next;
};

struct _hrg_slab_t {
    size_t size;                //  per object, a multiple of 16
    size_t per_block;
    s_block_t *blocks;          //  every block, for destroy
    size_t block_count;
    void *free_list;            //  objects given back; each holds the next
    char *fresh;                //  the newest block's objects never handed out
    size_t fresh_left;
};

//  The block header is rounded up so objects stay 16-byte aligned.
#define S_HEADER ((sizeof (s_block_t) + 15) & ~(size_t) 15)

hrg_slab_t *
hrg_slab_new (size_t size)
{
    hrg_slab_t *self = hr_calloc (1, sizeof *self);
    self->size = (size < sizeof (void *)? sizeof (void *): size + 15) & ~(size_t) 15;
    self->per_block = (S_BLOCK - S_HEADER) / self->size;
    return self;
}

void
hrg_slab_destroy (hrg_slab_t **self_p)
{
    hrg_slab_t *self = *self_p;
    if (!self)
        return;
    while (self->blocks) {
        s_block_t *next = self->blocks->next;
        free (self->blocks);
        self->blocks = next;
    }
    free (self);
    *self_p = NULL;
}

void *
hrg_slab_alloc (hrg_slab_t *self)
{
    void *object;
    if (self->free_list) {
        object = self->free_list;
        memcpy (&self->free_list, object, sizeof (void *));
    }
    else {
        if (self->fresh_left == 0) {
            s_block_t *block = hr_malloc (S_BLOCK);
            block->next = self->blocks;
            self->blocks = block;
            self->block_count++;
            self->fresh = (char *) block + S_HEADER;
            self->fresh_left = self->per_block;
        }
        object = self->fresh;
        self->fresh += self->size;
        self->fresh_left--;
    }
    memset (object, 0, self->size);
    return object;
}

void
hrg_slab_free (hrg_slab_t *self, void *object)
{
    if (!object)
        return;
    memcpy (object, &self->free_list, sizeof (void *));
    self->free_list = object;
}

size_t
hrg_slab_size (const hrg_slab_t *self)
{
    return self->size;
}

size_t
hrg_slab_bytes (const hrg_slab_t *self)
{
    return self->block_count * S_BLOCK;
}
