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

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct {
    uint32_t refs;
    uint32_t size;
    char data [];
} hrg_frame_t;

//  Allocates a frame of size bytes for the caller to fill; one reference,
//  owned by the caller.
hrg_frame_t *hrg_frame_new (size_t size);

//  A new frame holding a copy of data; one reference, owned by the caller.
hrg_frame_t *hrg_frame_copy (const void *data, size_t size);

//  Drops one reference; frees the frame with the last one. Accepts NULL.
void hrg_frame_release (hrg_frame_t *self);

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
