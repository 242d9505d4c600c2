/*  hrg_frame: reference-counted frames, chains and readers.  */
#include "hrg_frame.h"
#include "hr_buf.h"

#include <stdlib.h>
#include <string.h>

hrg_frame_t *
hrg_frame_new (size_t size)
{
    hrg_frame_t *self = hr_malloc (sizeof *self + size);
    self->next = NULL;
    self->refs = 1;
    self->size = (uint32_t) size;
    self->end = 0;
    return self;
}

void
hrg_frame_release (hrg_frame_t *self)
{
    //  Iterative, so freeing a long chain cannot overflow the stack
    while (self && --self->refs == 0) {
        hrg_frame_t *next = self->next;
        free (self);
        self = next;
    }
}

void
hrg_chain_init (hrg_chain_t *self)
{
    self->tail = hrg_frame_new (0);
}

void
hrg_chain_append (hrg_chain_t *self, hrg_frame_t *frame)
{
    hrg_frame_t *old = self->tail;
    frame->end = old->end + frame->size;
    old->next = frame;          //  the link takes the caller's reference
    frame->refs++;              //  and the chain takes one as its tail
    self->tail = frame;
    hrg_frame_release (old);
}

void
hrg_chain_append_copy (hrg_chain_t *self, const void *data, size_t size)
{
    hrg_frame_t *frame = hrg_frame_new (size);
    memcpy (frame->data, data, size);
    hrg_chain_append (self, frame);
}

void
hrg_chain_fini (hrg_chain_t *self)
{
    hrg_frame_release (self->tail);
    self->tail = NULL;
}

void
hrg_reader_attach (hrg_reader_t *self, hrg_chain_t *chain)
{
    self->frame = chain->tail;
    self->frame->refs++;
    self->offset = self->frame->size;
}

size_t
hrg_reader_iov (const hrg_reader_t *self, struct iovec *iov, size_t max_iov,
                size_t max_bytes, size_t *bytes)
{
    size_t used = 0, total = 0;
    const hrg_frame_t *frame = self->frame;
    size_t offset = self->offset;
    while (frame && used < max_iov && total < max_bytes) {
        if (offset < frame->size) {
            size_t chunk = frame->size - offset;
            if (chunk > max_bytes - total)
                chunk = max_bytes - total;
            iov [used].iov_base = (char *) frame->data + offset;
            iov [used].iov_len = chunk;
            used++;
            total += chunk;
        }
        frame = frame->next;
        offset = 0;
    }
    *bytes += total;
    return used;
}

void
hrg_reader_advance (hrg_reader_t *self, size_t size)
{
    while (self->frame && size) {
        hrg_frame_t *frame = self->frame;
        if (self->offset == frame->size) {
            if (!frame->next)
                return;
            self->frame = frame->next;
            self->frame->refs++;
            self->offset = 0;
            hrg_frame_release (frame);
            continue;
        }
        size_t chunk = frame->size - self->offset;
        if (chunk > size)
            chunk = size;
        self->offset += (uint32_t) chunk;
        size -= chunk;
    }
}

size_t
hrg_reader_copy (hrg_reader_t *self, char *buf, size_t max)
{
    size_t copied = 0;
    while (copied < max) {
        struct iovec iov [16];
        size_t bytes = 0;
        size_t count = hrg_reader_iov (self, iov, 16, max - copied, &bytes);
        if (bytes == 0)
            break;
        for (size_t i = 0; i < count; i++) {
            memcpy (buf + copied, iov [i].iov_base, iov [i].iov_len);
            copied += iov [i].iov_len;
        }
        hrg_reader_advance (self, bytes);
    }
    return copied;
}

void
hrg_reader_detach (hrg_reader_t *self)
{
    hrg_frame_release (self->frame);
    self->frame = NULL;
    self->offset = 0;
}
