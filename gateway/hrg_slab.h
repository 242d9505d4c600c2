/*  hrg_slab: fixed-size objects carved from 64 KiB blocks, for a worker's
    connections. Thousands of idle connections then cost their structs and
    nothing else: allocated one by one, they land among libmicrohttpd's
    freed per-connection pools and the allocator's bookkeeping, which
    measured 30-50 bytes more per connection (docs/benchmarks.md). Freed
    objects go on a free list for the next one; blocks stay until the slab
    is destroyed (a worker's peak of connections, bounded by
    --max-connections). Single-threaded, like everything a worker owns.  */
#ifndef HRG_SLAB_H
#define HRG_SLAB_H

#include <stddef.h>

typedef struct _hrg_slab_t hrg_slab_t;

//  A slab of objects of size bytes (rounded up to 16). Caller owns it.
hrg_slab_t *hrg_slab_new (size_t size);

//  Frees every block; objects still out are gone with them.
void hrg_slab_destroy (hrg_slab_t **self_p);

//  A zeroed object; the caller gives it back with hrg_slab_free.
void *hrg_slab_alloc (hrg_slab_t *self);

void hrg_slab_free (hrg_slab_t *self, void *object);

//  Object size, and bytes held in blocks (for tests and accounting).
size_t hrg_slab_size (const hrg_slab_t *self);
size_t hrg_slab_bytes (const hrg_slab_t *self);

#endif
