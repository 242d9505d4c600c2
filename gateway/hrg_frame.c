/*  hrg_frame: reference-counted frames, the pool of their memory, and the
    queues that write them.  */
#include "hrg_frame.h"
#include "hr_buf.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct _hrg_frame_pool_t {
    hrg_frame_t *free [HRG_FRAME_CLASSES];
    size_t free_bytes, max_bytes;
    size_t live;                //  frames out, not back yet
    size_t open_bytes;          //  blocks of open buffers (hrg_frame_pool_open)
    bool closed;                //  destroyed: freed with the last frame back
};

hrg_frame_t *
hrg_frame_new (size_t size)
{
    assert (size <= UINT32_MAX);
    hrg_frame_t *self = hr_malloc (sizeof *self + size);
    self->refs = 1;
    self->size = (uint32_t) size;
    self->cap = 0;
    self->pool = NULL;
    self->next = NULL;
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

//  The size class of a block of cap bytes, or HRG_FRAME_CLASSES when it
//  has none (not a power of two from 64 up, or too large).
static size_t
s_class (size_t cap)
{
    if (cap < 64 || (cap & (cap - 1)))
        return HRG_FRAME_CLASSES;
    size_t k = (size_t) __builtin_ctzl (cap) - 6;
    return k < HRG_FRAME_CLASSES? k: HRG_FRAME_CLASSES;
}

//  A frame's last reference went: its block goes on its class's free list
//  while the pool has room, else to the heap.
static void
s_give_back (hrg_frame_pool_t *self, hrg_frame_t *frame)
{
    assert (self->live > 0);
    self->live--;
    if (self->closed) {
        free (frame);
        if (self->live == 0)
            free (self);
        return;
    }
    size_t k = s_class (frame->cap);
    if (k < HRG_FRAME_CLASSES && self->free_bytes + frame->cap <= self->max_bytes) {
        frame->next = self->free [k];
        self->free [k] = frame;
        self->free_bytes += frame->cap;
    }
    else
        free (frame);
}

void
hrg_frame_release (hrg_frame_t *self)
{
    if (!self)
        return;
    assert (self->refs > 0);
    if (--self->refs)
        return;
    if (self->pool)
        s_give_back (self->pool, self);
    else
        free (self);
}

hrg_frame_pool_t *
hrg_frame_pool_new (size_t max_bytes)
{
    hrg_frame_pool_t *self = hr_calloc (1, sizeof *self);
    self->max_bytes = max_bytes;
    return self;
}

void
hrg_frame_pool_destroy (hrg_frame_pool_t **self_p)
{
    hrg_frame_pool_t *self = *self_p;
    if (!self)
        return;
    for (size_t k = 0; k < HRG_FRAME_CLASSES; k++)
        while (self->free [k]) {
            hrg_frame_t *frame = self->free [k];
            self->free [k] = frame->next;
            free (frame);
        }
    self->free_bytes = 0;
    assert (self->open_bytes == 0);     //  every open buffer sealed or discarded
    if (self->live)
        self->closed = true;            //  the last frame back frees it
    else
        free (self);
    *self_p = NULL;
}

//  The smallest size class holding size bytes (HRG_FRAME_CLASSES: none).
static size_t
s_class_for (size_t size)
{
    for (size_t k = 0; k < HRG_FRAME_CLASSES; k++)
        if (size <= (size_t) 64 << k)
            return k;
    return HRG_FRAME_CLASSES;
}

void
hrg_frame_pool_open (hrg_frame_pool_t *self, hr_buf_t *buf, size_t hint)
{
    assert (!self->closed && !buf->data);
    //  A free block of the class, else a new one of its size: the next
    //  batch likely has the last one's size
    size_t k = s_class_for (sizeof (hrg_frame_t) + hint + 1);
    if (k < HRG_FRAME_CLASSES && self->free [k]) {
        hrg_frame_t *block = self->free [k];
        self->free [k] = block->next;
        self->free_bytes -= block->cap;
        *buf = (hr_buf_t) { (char *) block, 0, block->cap };
    }
    else
    if (k < HRG_FRAME_CLASSES)
        *buf = (hr_buf_t) { hr_malloc ((size_t) 64 << k), 0, (size_t) 64 << k };
    hr_buf_reserve (buf, sizeof (hrg_frame_t));
    buf->size = sizeof (hrg_frame_t);
    buf->data [buf->size] = 0;
    //  Until sealed, the header's cap is what the pool counts of it
    ((hrg_frame_t *) buf->data)->cap = (uint32_t) buf->cap;
    self->open_bytes += buf->cap;
}

void
hrg_frame_pool_account (hrg_frame_pool_t *self, hr_buf_t *buf)
{
    hrg_frame_t *header = (hrg_frame_t *) buf->data;
    assert (buf->cap <= UINT32_MAX && self->open_bytes >= header->cap);
    self->open_bytes = self->open_bytes - header->cap + buf->cap;
    header->cap = (uint32_t) buf->cap;
}

hrg_frame_t *
hrg_frame_pool_seal (hrg_frame_pool_t *self, hr_buf_t *buf)
{
    assert (buf->size >= sizeof (hrg_frame_t));
    assert (buf->size - sizeof (hrg_frame_t) <= UINT32_MAX);
    hrg_frame_pool_account (self, buf);
    self->open_bytes -= buf->cap;
    hrg_frame_t *frame = (hrg_frame_t *) buf->data;
    frame->refs = 1;
    frame->size = (uint32_t) (buf->size - sizeof (hrg_frame_t));
    frame->pool = self;
    frame->next = NULL;
    self->live++;
    *buf = (hr_buf_t) HR_BUF_INIT;
    return frame;
}

void
hrg_frame_pool_discard (hrg_frame_pool_t *self, hr_buf_t *buf)
{
    if (buf->data)
        hrg_frame_release (hrg_frame_pool_seal (self, buf));
}

size_t
hrg_frame_open_size (const hr_buf_t *buf)
{
    return buf->data? buf->size - sizeof (hrg_frame_t): 0;
}

size_t
hrg_frame_pool_bytes (const hrg_frame_pool_t *self)
{
    return self->free_bytes + self->open_bytes;
}

size_t
hrg_frame_pool_live (const hrg_frame_pool_t *self)
{
    return self->live;
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
