/*  hrg_frame: rendered bytes shared by many connections, and the queue of
    them each connection writes from.

    A frame is immutable, reference-counted bytes: an event is rendered once
    (per subscription group and transport, docs/architecture.md §6.3) into one frame, and
    every connection that must send it queues a reference. A queue is a ring
    of such references with the offset already written of the first; it
    starts inline (a few slots in the connection itself) and grows only
    while its connection falls behind, so delivering to a subscriber
    allocates nothing.  */
#ifndef HRG_FRAME_H
#define HRG_FRAME_H

#include "hr_buf.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct _hrg_frame_pool_t hrg_frame_pool_t;
typedef struct _hrg_frame_t hrg_frame_t;

struct _hrg_frame_t {
    uint32_t refs;
    uint32_t size;
    uint32_t cap;               //  pooled: bytes of its block, header included
    hrg_frame_pool_t *pool;     //  pooled: where it goes back with its last
                                //  reference; NULL: freed then
    hrg_frame_t *next;          //  free in its pool: the next of its size class
    char data [];
};

//  Allocates a frame of size bytes for the caller to fill; one reference,
//  owned by the caller.
hrg_frame_t *hrg_frame_new (size_t size);

//  A new frame holding a copy of data; one reference, owned by the caller.
hrg_frame_t *hrg_frame_copy (const void *data, size_t size);

//  Drops one reference; with the last one the frame goes back to its pool
//  (or is freed). Accepts NULL.
void hrg_frame_release (hrg_frame_t *self);

//  A pool of frame memory, one worker's, so that rendering an event for a
//  group allocates nothing in steady state: a frame is rendered straight
//  into a block of the pool (no render-then-copy), and the block goes back
//  to the pool when the last connection has written the frame, onto a free
//  list by size class (powers of two, as hr_buf grows them). Free blocks
//  are kept up to max_bytes; past that a block goes back to the heap.
//  Single-threaded: frames are released on the pool's worker.

//  Size classes kept: blocks of 64 bytes to 64 << (HRG_FRAME_CLASSES - 1).
#define HRG_FRAME_CLASSES 12
//  Free bytes a worker's pool keeps by default.
#define HRG_FRAME_POOL_BYTES (1024 * 1024)

hrg_frame_pool_t *hrg_frame_pool_new (size_t max_bytes);

//  Frees the free blocks; frames still referenced go to the heap when
//  released, and the last of them frees what is left of the pool.
void hrg_frame_pool_destroy (hrg_frame_pool_t **self_p);

//  A frame built over any number of appends, in a buffer the caller
//  holds (a group's batch of events): hrg_frame_pool_open gives the empty
//  *buf (HR_BUF_INIT) a block of the pool big enough for hint bytes, whose
//  first bytes are the frame's header; the caller appends to it only
//  (hr_buf_put and the like, which may grow it) and calls
//  hrg_frame_pool_account after growing it, so that the pool counts it;
//  hrg_frame_pool_seal makes what was appended a frame with one
//  reference, the caller's, and leaves *buf empty; hrg_frame_pool_discard
//  gives the block back unsealed. An open buffer must be sealed or
//  discarded before the pool is destroyed.
void hrg_frame_pool_open (hrg_frame_pool_t *self, hr_buf_t *buf, size_t hint);
void hrg_frame_pool_account (hrg_frame_pool_t *self, hr_buf_t *buf);
hrg_frame_t *hrg_frame_pool_seal (hrg_frame_pool_t *self, hr_buf_t *buf);
void hrg_frame_pool_discard (hrg_frame_pool_t *self, hr_buf_t *buf);

//  Bytes appended to an open buffer (its header excluded); 0 when empty.
size_t hrg_frame_open_size (const hr_buf_t *buf);

//  Heap bytes the pool holds: its free blocks and the open buffers'.
size_t hrg_frame_pool_bytes (const hrg_frame_pool_t *self);

//  Frames taken from the pool and not yet back.
size_t hrg_frame_pool_live (const hrg_frame_pool_t *self);

//  Slots a queue holds without allocating (a power of two, as every
//  capacity of the ring is).
#define HRG_QUEUE_INLINE 4
//  A ring up to this many slots is kept once grown (see hrg_queue_advance).
#define HRG_QUEUE_KEEP 64

typedef struct {
    hrg_frame_t **ring;         //  inline, or allocated while behind
    uint32_t cap, start, count;
    uint32_t offset;            //  bytes of the first frame already taken
    uint64_t bytes;             //  unread bytes, all frames
    hrg_frame_t *inline_ring [HRG_QUEUE_INLINE];
} hrg_queue_t;

void hrg_queue_init (hrg_queue_t *self);

//  Queues frame, taking a new reference on it (the caller keeps its own).
void hrg_queue_push (hrg_queue_t *self, hrg_frame_t *frame);

//  Describes up to max_bytes of unread data as at most max_iov iovecs
//  (pointing into the frames, nothing copied); returns how many iovecs were
//  used and adds the bytes described to *bytes. The queue does not move.
size_t hrg_queue_iov (const hrg_queue_t *self, struct iovec *iov, size_t max_iov,
                      size_t max_bytes, size_t *bytes);

//  Consumes size unread bytes (at most what is unread), releasing the
//  frames passed; back to the inline ring once empty if the ring had grown
//  over HRG_QUEUE_KEEP slots.
void hrg_queue_advance (hrg_queue_t *self, size_t size);

//  Releases every frame not yet begun (a partly written first frame stays,
//  to be finished): room for last words at the head of the line.
void hrg_queue_truncate (hrg_queue_t *self);

//  Releases every frame; the queue is empty and inline again.
void hrg_queue_clear (hrg_queue_t *self);

//  True when the first frame is partly written: the next bytes written
//  must be the rest of it (frames are whole messages on the wire).
static inline int
hrg_queue_mid_frame (const hrg_queue_t *self)
{
    return self->offset != 0;
}

static inline uint64_t
hrg_queue_bytes (const hrg_queue_t *self)
{
    return self->bytes;
}

//  Heap bytes the queue holds beyond its inline slots (for accounting).
static inline size_t
hrg_queue_heap (const hrg_queue_t *self)
{
    return self->ring == self->inline_ring? 0: self->cap * sizeof (hrg_frame_t *);
}

#endif
