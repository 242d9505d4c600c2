/*  hrg_frame: rendered bytes shared by many connections, and the chains
    they are queued on.

    A frame is immutable, reference-counted bytes. Frames are linked into a
    chain (one per subscription group, one per connection for its private
    frames); the writer appends at the tail and each reader walks the chain
    at its own pace, holding a reference on the frame it is reading. A
    frame is freed when the slowest reader has passed it, so a broadcast
    costs one allocation per group, none per subscriber (DESIGN.md §7).

    Reference rule: a frame is referenced by its predecessor's `next` link,
    by each reader positioned on it, and by the chain if it is the tail.  */
#ifndef HRG_FRAME_H
#define HRG_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct _hrg_frame_t hrg_frame_t;
struct _hrg_frame_t {
    hrg_frame_t *next;
    uint32_t refs;
    uint32_t size;
    uint64_t end;               //  chain offset just after this frame
    char data [];
};

//  Allocates a frame of size bytes for the caller to fill; one reference,
//  owned by the caller until appended.
hrg_frame_t *hrg_frame_new (size_t size);

//  Drops one reference; frees the frame, and any successors it held the
//  last reference to, when none remain.
void hrg_frame_release (hrg_frame_t *self);

typedef struct {
    hrg_frame_t *tail;          //  the newest frame; an empty sentinel at first
} hrg_chain_t;

void hrg_chain_init (hrg_chain_t *self);

//  Appends frame, taking over the caller's reference.
void hrg_chain_append (hrg_chain_t *self, hrg_frame_t *frame);

//  Copies data into a new frame and appends it.
void hrg_chain_append_copy (hrg_chain_t *self, const void *data, size_t size);

//  Drops the chain's reference; readers may still drain what they hold.
void hrg_chain_fini (hrg_chain_t *self);

//  Bytes appended so far (the chain offset of its end).
static inline uint64_t
hrg_chain_end (const hrg_chain_t *self)
{
    return self->tail->end;
}

typedef struct {
    hrg_frame_t *frame;         //  NULL when detached
    uint32_t offset;            //  bytes of frame already read
} hrg_reader_t;

//  Positions reader at the chain's end: it will read only later frames.
void hrg_reader_attach (hrg_reader_t *self, hrg_chain_t *chain);

//  Copies up to max unread bytes into buf and advances; returns the count.
size_t hrg_reader_copy (hrg_reader_t *self, char *buf, size_t max);

//  Describes up to max_bytes of unread data as at most max_iov iovecs
//  (pointing into the frames, nothing copied); returns how many iovecs were
//  used and adds the bytes described to *bytes. The reader does not move.
size_t hrg_reader_iov (const hrg_reader_t *self, struct iovec *iov, size_t max_iov,
                       size_t max_bytes, size_t *bytes);

//  Consumes size unread bytes (at most what is unread).
void hrg_reader_advance (hrg_reader_t *self, size_t size);

//  Chain offset of the reader (bytes of the chain already read).
static inline uint64_t
hrg_reader_position (const hrg_reader_t *self)
{
    return self->frame? self->frame->end - self->frame->size + self->offset: 0;
}

//  True when unread bytes remain.
static inline int
hrg_reader_pending (const hrg_reader_t *self)
{
    return self->frame
        && (self->offset < self->frame->size || self->frame->next != NULL);
}

void hrg_reader_detach (hrg_reader_t *self);

#endif
