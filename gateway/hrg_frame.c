/*  hrg_frame: reference-counted frames and the queues that write them.  */
#include "hrg_frame.h"
#include "hr_buf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

hrg_frame_t *
hrg_frame_new (size_t size)
{
    assert (size <= UINT32_MAX);
    hrg_frame_t *self = hr_malloc (sizeof *self + size);
    self->refs = 1;
    self->size = (uint32_t) size;
    return self;
}

hrg_frame_t *
hrg_frame_copy (const void *data, size_t size)
{
    hrg_frame_t *self = hrg_frame_new (size);
    if (size)
        memcpy (self->data, data, size);
    return self;
}

void
hrg_frame_release (hrg_frame_t *self)
{
    if (self && --self->refs == 0)
        free (self);
}

void
hrg_queue_init (hrg_queue_t *self)
{
    memset (self, 0, sizeof *self);
    self->ring = self->inline_ring;
    self->cap = HRG_QUEUE_INLINE;
}

//  The ring's capacity is a power of two: an index is a mask, not a division.
static hrg_frame_t *
s_at (const hrg_queue_t *self, uint32_t i)
{
    return self->ring [(self->start + i) & (self->cap - 1)];
}

void
hrg_queue_push (hrg_queue_t *self, hrg_frame_t *frame)
{
    if (self->count == self->cap) {
        //  Behind: double, unrolled from start so the ring stays in order
        uint32_t cap = self->cap * 2;
        hrg_frame_t **ring = hr_malloc (cap * sizeof *ring);
        for (uint32_t i = 0; i < self->count; i++)
            ring [i] = s_at (self, i);
        if (self->ring != self->inline_ring)
            free (self->ring);
        self->ring = ring;
        self->cap = cap;
        self->start = 0;
    }
    frame->refs++;
    self->ring [(self->start + self->count++) & (self->cap - 1)] = frame;
    self->bytes += frame->size;
}

size_t
hrg_queue_iov (const hrg_queue_t *self, struct iovec *iov, size_t max_iov,
               size_t max_bytes, size_t *bytes)
{
    size_t used = 0, taken = 0;
    uint32_t offset = self->offset;
    for (uint32_t i = 0; i < self->count && used < max_iov && taken < max_bytes; i++) {
        hrg_frame_t *frame = s_at (self, i);
        size_t len = frame->size - offset;
        if (len > max_bytes - taken)
            len = max_bytes - taken;
        if (len) {
            iov [used++] = (struct iovec) { frame->data + offset, len };
            taken += len;
        }
        offset = 0;
    }
    *bytes += taken;
    return used;
}

//  Back to the inline slots once empty, if the ring grew large: a
//  connection that caught up after a real backlog holds no heap, while
//  one that takes a few frames per write (coalescing under load) keeps
//  its small ring instead of allocating it at every write.
static void
s_shrink (hrg_queue_t *self)
{
    if (self->count == 0 && self->cap > HRG_QUEUE_KEEP) {
        free (self->ring);
        self->ring = self->inline_ring;
        self->cap = HRG_QUEUE_INLINE;
    }
    if (self->count == 0)
        self->start = 0;
}

void
hrg_queue_advance (hrg_queue_t *self, size_t size)
{
    if (size > self->bytes)
        size = self->bytes;
    self->bytes -= size;
    while (size) {
        hrg_frame_t *frame = s_at (self, 0);
        size_t left = frame->size - self->offset;
        if (size < left) {
            self->offset += (uint32_t) size;
            break;
        }
        size -= left;
        self->offset = 0;
        self->start = (self->start + 1) & (self->cap - 1);
        self->count--;
        hrg_frame_release (frame);
    }
    //  Empty frames at the head are done too
    while (self->count && s_at (self, 0)->size == 0) {
        hrg_frame_release (s_at (self, 0));
        self->start = (self->start + 1) & (self->cap - 1);
        self->count--;
    }
    s_shrink (self);
}

void
hrg_queue_truncate (hrg_queue_t *self)
{
    uint32_t keep = self->offset? 1: 0;
    for (uint32_t i = keep; i < self->count; i++) {
        hrg_frame_t *frame = s_at (self, i);
        self->bytes -= frame->size;
        hrg_frame_release (frame);
    }
    if (self->count > keep)
        self->count = keep;
    s_shrink (self);
}

void
hrg_queue_clear (hrg_queue_t *self)
{
    for (uint32_t i = 0; i < self->count; i++)
        hrg_frame_release (s_at (self, i));
    if (self->ring != self->inline_ring)
        free (self->ring);
    self->ring = self->inline_ring;
    self->cap = HRG_QUEUE_INLINE;
    self->start = self->count = self->offset = 0;
    self->bytes = 0;
}
