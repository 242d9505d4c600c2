/*  hrb_outbox: items packed one after another in a buffer: a fixed
    header, then the channel, envelope, address and key bytes.  */
#include "hrb_outbox.h"
#include "hr_buf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t seq;
    uint32_t size;              //  envelope bytes
    uint16_t ch_len, to_len, id_len;
    uint8_t dup;                //  no envelope: the answer to a repeat
} s_head_t;

struct _hrb_outbox_t {
    hr_buf_t items;
    size_t count;
    size_t max_bytes;
};

hrb_outbox_t *
hrb_outbox_new (size_t max_bytes)
{
    hrb_outbox_t *self = hr_calloc (1, sizeof *self);
    self->max_bytes = max_bytes;
    return self;
}

void
hrb_outbox_destroy (hrb_outbox_t **self_p)
{
    hrb_outbox_t *self = *self_p;
    if (!self)
        return;
    hr_buf_free (&self->items);
    free (self);
    *self_p = NULL;
}

void
hrb_outbox_add (hrb_outbox_t *self, const hrb_outbox_item_t *item)
{
    assert (item->ch_len <= UINT16_MAX && item->to_len <= UINT16_MAX
            && item->id_len <= UINT16_MAX && item->size <= UINT32_MAX);
    s_head_t head = { item->seq, (uint32_t) (item->envelope? item->size: 0),
                      (uint16_t) item->ch_len, (uint16_t) item->to_len,
                      (uint16_t) (item->id? item->id_len: 0), item->envelope == NULL };
    hr_buf_put (&self->items, &head, sizeof head);
    hr_buf_put (&self->items, item->ch, item->ch_len);
    if (item->envelope)
        hr_buf_put (&self->items, item->envelope, item->size);
    hr_buf_put (&self->items, item->to, item->to_len);
    if (item->id)
        hr_buf_put (&self->items, item->id, item->id_len);
    self->count++;
}

bool
hrb_outbox_full (const hrb_outbox_t *self)
{
    return self->items.size >= self->max_bytes;
}

size_t
hrb_outbox_count (const hrb_outbox_t *self)
{
    return self->count;
}

size_t
hrb_outbox_bytes (const hrb_outbox_t *self)
{
    return self->items.size;
}

//  The item at *at, which moves past it.
static void
s_item (const hrb_outbox_t *self, size_t *at, hrb_outbox_item_t *item)
{
    s_head_t head;
    const char *p = self->items.data + *at;
    memcpy (&head, p, sizeof head);     //  packed after odd-sized bytes
    p += sizeof head;
    item->seq = head.seq;
    item->ch = p;
    item->ch_len = head.ch_len;
    p += head.ch_len;
    item->envelope = head.dup? NULL: p;
    item->size = head.size;
    p += head.size;
    item->to = p;
    item->to_len = head.to_len;
    p += head.to_len;
    item->id = head.id_len? p: NULL;
    item->id_len = head.id_len;
    p += head.id_len;
    *at = (size_t) (p - self->items.data);
}

void
hrb_outbox_visit (const hrb_outbox_t *self, hrb_outbox_fn *fn, void *arg)
{
    size_t at = 0;
    while (at < self->items.size) {
        hrb_outbox_item_t item;
        s_item (self, &at, &item);
        fn (arg, &item);
    }
}

bool
hrb_outbox_holds_key (const hrb_outbox_t *self, const char *ch, size_t ch_len, const char *id,
                      size_t id_len)
{
    size_t at = 0;
    while (at < self->items.size) {
        hrb_outbox_item_t item;
        s_item (self, &at, &item);
        if (item.envelope && item.id && item.id_len == id_len && item.ch_len == ch_len
        &&  memcmp (item.id, id, id_len) == 0 && memcmp (item.ch, ch, ch_len) == 0)
            return true;
    }
    return false;
}

void
hrb_outbox_clear (hrb_outbox_t *self)
{
    hr_buf_reset (&self->items);
    self->count = 0;
}
