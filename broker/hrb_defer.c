/*  hrb_defer: a FIFO of copied publishes in retry order; deadlines come
    in the order of arrival (one wait for all).  */
#include "hrb_defer.h"
#include "hr_buf.h"
#include "hr_list.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    hr_list_t node;
    int tag;
    uint64_t view, deadline, retry_at;
    size_t size;
    uint8_t data [];
} s_waiting_t;

struct _hrb_defer_t {
    size_t max_bytes, bytes, count;
    uint64_t wait_ms;
    hr_list_t waiting;          //  oldest first
};

hrb_defer_t *
hrb_defer_new (size_t max_bytes, uint64_t wait_ms)
{
    hrb_defer_t *self = hr_calloc (1, sizeof *self);
    self->max_bytes = max_bytes;
    self->wait_ms = wait_ms;
    hr_list_init (&self->waiting);
    return self;
}

void
hrb_defer_destroy (hrb_defer_t **self_p)
{
    hrb_defer_t *self = *self_p;
    if (!self)
        return;
    hr_list_t *node;
    while ((node = hr_list_first (&self->waiting))) {
        hr_list_remove (node);
        free (hr_list_entry (node, s_waiting_t, node));
    }
    free (self);
    *self_p = NULL;
}

int
hrb_defer_add (hrb_defer_t *self, uint64_t view, uint64_t now, int tag,
               const void *header, size_t header_len, const void *body, size_t body_len)
{
    size_t size = header_len + body_len;
    if (self->bytes + size + HRB_DEFER_OVERHEAD > self->max_bytes)
        return -1;
    s_waiting_t *waiting = hr_malloc (sizeof *waiting + size);
    waiting->tag = tag;
    waiting->view = view;
    waiting->deadline = now + self->wait_ms;
    waiting->retry_at = now + HRB_DEFER_RETRY_MS;
    waiting->size = size;
    if (header_len)
        memcpy (waiting->data, header, header_len);
    if (body_len)
        memcpy (waiting->data + header_len, body, body_len);
    hr_list_push_back (&self->waiting, &waiting->node);
    self->bytes += size + HRB_DEFER_OVERHEAD;
    self->count++;
    return 0;
}

size_t
hrb_defer_due (hrb_defer_t *self, uint64_t view, uint64_t now, hrb_defer_fn *fn, void *arg)
{
    size_t served = 0, tried = 0;
    //  Only what is here now, once each: fn may keep one waiting
    size_t count = self->count;
    hr_list_t *node;
    while (tried < count && (node = hr_list_first (&self->waiting))) {
        s_waiting_t *waiting = hr_list_entry (node, s_waiting_t, node);
        bool changed = waiting->view != view, expired = now >= waiting->deadline;
        if (!changed && !expired && now < waiting->retry_at)
            break;
        tried++;
        if (!fn (arg, waiting->tag, waiting->data, waiting->size, expired)) {
            //  Not yet: try again later, in the view of now
            waiting->view = view;
            waiting->retry_at = now + HRB_DEFER_RETRY_MS;
            hr_list_move_back (&self->waiting, node);
            continue;
        }
        hr_list_remove (node);
        self->bytes -= waiting->size + HRB_DEFER_OVERHEAD;
        self->count--;
        free (waiting);
        served++;
    }
    return served;
}

size_t hrb_defer_count (const hrb_defer_t *self) { return self->count; }
size_t hrb_defer_bytes (const hrb_defer_t *self) { return self->bytes; }
