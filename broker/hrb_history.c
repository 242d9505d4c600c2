/*  hrb_history: history replies (see the header).  */
#include "hrb_history.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  The message of a reply refused for the client's reply memory.
#define S_REPLY_FULL "this client has --reply-memory of replies unread; read them, then retry"

struct _hrb_history_reply_t {
    char ch [HR_CHANNEL_MAX + 1];
    bool has_epoch;             //  false: the broker has no such channel
    char epoch [HR_EPOCH_LEN + 1];
    uint64_t first, head;
    hr_reset_t reset;
    uint64_t wanted;            //  events asked for, up to the head
    size_t count;               //  events read (at most wanted)
    hr_buf_t copy;              //  read: the events, end to end
    size_t *sizes;              //  read: each event's size in copy
    zmq_msg_t *frames;          //  framed: one per event
};

void
hrb_history_query (hrb_history_query_t *query, const hr_request_t *req)
{
    const hr_event_t *in = &req->event;
    memset (query, 0, sizeof *query);
    memcpy (query->ch, in->ch, in->ch_len);
    query->has_epoch = in->epoch != NULL;
    if (in->epoch)
        memcpy (query->epoch, in->epoch, in->epoch_len);
    query->since = req->since;
    query->limit = req->limit;
}

void
hrb_history_query_key (const hrb_history_query_t *query, char *key)
{
    //  The channel last: nothing after it can be mistaken for part of it
    snprintf (key, HRB_HISTORY_KEY_MAX, "%" PRIu64 " %" PRIu64 " %c%s %s", query->since,
              query->limit, query->has_epoch? 'e': 'n', query->epoch, query->ch);
}

typedef struct {
    hrb_history_reply_t *reply;
    size_t max_bytes;
    size_t bytes;               //  as hrb_peers counts them
} s_copy_t;

static void
s_copy_visit (void *arg, uint64_t seq, const void *bytes, size_t size)
{
    s_copy_t *copy = arg;
    if (copy->bytes >= copy->max_bytes)
        return;
    copy->bytes += size + HRB_PEER_FRAME_CHARGE;
    hr_buf_put (&copy->reply->copy, bytes, size);
    copy->reply->sizes [copy->reply->count++] = size;
}

hrb_history_reply_t *
hrb_history_read (hrb_streams_t *streams, hrb_store_t *store, const hrb_history_query_t *query,
                  size_t max_bytes)
{
    hrb_history_reply_t *self = hr_calloc (1, sizeof *self);
    memcpy (self->ch, query->ch, sizeof self->ch);
    size_t ch_len = strlen (query->ch);
    hrb_stream_t *stream = hrb_streams_find (streams, query->ch, ch_len);
    self->head = stream? stream->seq: 0;
    self->first = stream? hrb_streams_first (streams, stream): 1;
    if (stream) {
        self->has_epoch = true;
        memcpy (self->epoch, stream->epoch, sizeof self->epoch);
    }
    self->reset = HR_RESET_NONE;
    if (query->has_epoch && !stream)
        self->reset = HR_RESET_UNKNOWN_CHANNEL;
    else
    if (query->has_epoch && strcmp (query->epoch, stream->epoch) != 0)
        self->reset = HR_RESET_EPOCH_CHANGED;
    else
    if (query->since > self->head)
        self->reset = HR_RESET_CURSOR_AHEAD;
    else
    if (query->since + 1 < self->first)
        self->reset = HR_RESET_EXPIRED;
    if (self->reset == HR_RESET_NONE && self->head > query->since) {
        self->wanted = self->head - query->since;
        if (self->wanted > query->limit)
            self->wanted = query->limit;
    }
    if (self->wanted) {
        self->sizes = hr_malloc (self->wanted * sizeof *self->sizes);
        s_copy_t copy = { self, max_bytes, 0 };
        store->ops->read (store, stream->history, query->since, self->wanted, s_copy_visit,
                          &copy);
    }
    return self;
}

void
hrb_history_frames (hrb_history_reply_t *self)
{
    assert (!self->frames);
    if (!self->count)
        return;
    self->frames = hr_malloc (self->count * sizeof *self->frames);
    const char *at = self->copy.data;
    for (size_t i = 0; i < self->count; i++) {
        zmq_msg_init_size (&self->frames [i], self->sizes [i]);
        memcpy (zmq_msg_data (&self->frames [i]), at, self->sizes [i]);
        at += self->sizes [i];
    }
    hr_buf_free (&self->copy);
}

size_t
hrb_history_count (const hrb_history_reply_t *self)
{
    return self->count;
}

uint64_t
hrb_history_head (const hrb_history_reply_t *self)
{
    return self->head;
}

//  The client's queued bytes are bounded by --reply-memory: a reply is cut
//  to what fits (the client asks again from its last seq), and a client
//  with nothing left gets overloaded until it reads.
hrb_history_result_t
hrb_history_send (hrb_history_reply_t *self, void *router, hrb_peer_t *peer,
                  size_t reply_memory, const uint64_t *rid, hr_buf_t *buf)
{
    assert (self->frames || !self->count);
    size_t queued = hrb_peer_queued (peer);
    size_t room = queued < reply_memory? reply_memory - queued: 0;
    size_t count = 0, bytes = 0;
    while (count < self->count && bytes < room)
        bytes += zmq_msg_size (&self->frames [count++]) + HRB_PEER_FRAME_CHARGE;
    hr_buf_reset (buf);
    if (self->wanted && count == 0) {
        hr_reply_encode_error_message (buf, rid, HR_E_OVERLOADED, S_REPLY_FULL);
        hrb_peer_send (peer, router, buf->data, buf->size, 0);
        return HRB_HISTORY_REFUSED;
    }
    hr_reply_encode_history (buf, rid, self->ch, self->has_epoch? self->epoch: NULL,
                             self->first, self->head, count, self->reset);
    hrb_peer_send (peer, router, buf->data, buf->size, count? ZMQ_SNDMORE: 0);
    //  Every frame but the last is shared; the last is the peer's own copy
    //  and carries the charge of them all: ZeroMQ frees a message's frames
    //  in order, so the peer's count drops once the whole reply is gone.
    for (size_t i = 0; i + 1 < count; i++) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        zmq_msg_copy (&frame, &self->frames [i]);
        if (zmq_msg_send (&frame, router, ZMQ_SNDMORE) < 0)
            zmq_msg_close (&frame);
    }
    if (count) {
        zmq_msg_t *last = &self->frames [count - 1];
        hrb_peer_send_charged (peer, router, zmq_msg_data (last), zmq_msg_size (last), bytes, 0);
    }
    return count < self->wanted? HRB_HISTORY_CUT: HRB_HISTORY_WHOLE;
}

void
hrb_history_reply_destroy (hrb_history_reply_t **self_p)
{
    hrb_history_reply_t *self = *self_p;
    if (!self)
        return;
    if (self->frames)
        for (size_t i = 0; i < self->count; i++)
            zmq_msg_close (&self->frames [i]);
    free (self->frames);
    free (self->sizes);
    hr_buf_free (&self->copy);
    free (self);
    *self_p = NULL;
}
