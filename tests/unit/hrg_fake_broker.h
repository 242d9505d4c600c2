/*  hrg_fake_broker: a broker a unit test drives by hand.

    Binds a ROUTER (requests, like the broker's) and an XPUB (the event
    stream) on unique inproc:// endpoints of the test's zmq context, so a
    real hrg_link or hrg_worker connects to it as to a broker. The test
    takes each request (decoded with common/hr_proto.h) and answers when and
    how it likes: in order, out of order, without a rid, history replies
    with envelope frames, garbage, or not at all. Nothing here runs on its
    own thread: the test's single thread alternates between the code under
    test and the fake. See /work/notes/fake-broker.md.  */
#ifndef HRG_FAKE_BROKER_H
#define HRG_FAKE_BROKER_H

#include "hr_buf.h"
#include "hr_channel.h"
#include "hr_event.h"
#include "hr_proto.h"
#include "hr_time.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define TFB_UNUSED __attribute__ ((unused))

//  Most frames of one request the fake keeps (a DEALER sends one; a REQ
//  socket two: delimiter and request).
#define TFB_REQUEST_FRAMES 4

typedef struct {
    void *router;
    void *xpub;
    char req_endpoint [64];     //  give to hrg_link_new / config.broker_req
    char sub_endpoint [64];     //  give to config.broker_sub
    hr_buf_t out;               //  scratch for encoding replies
} tfb_broker_t;

//  One request as the fake received it. req is a view into frame.
typedef struct {
    zmq_msg_t peer;             //  the ROUTER's routing id of the sender
    bool delimited;             //  a REQ socket's empty frame came first
    hr_buf_t frame;             //  the request frame, copied
    hr_error_t error;           //  hr_request_decode's result
    hr_request_t req;           //  valid when error == HR_OK
} tfb_request_t;

//  Binds both sockets in ctx. Aborts the test on failure (cannot happen
//  for inproc with unique names). Endpoints are unique per process.
static TFB_UNUSED void
tfb_start (tfb_broker_t *self, void *ctx)
{
    static int counter;
    memset (self, 0, sizeof *self);
    int n = ++counter;
    snprintf (self->req_endpoint, sizeof self->req_endpoint, "inproc://tfb-router-%d", n);
    snprintf (self->sub_endpoint, sizeof self->sub_endpoint, "inproc://tfb-xpub-%d", n);
    self->router = zmq_socket (ctx, ZMQ_ROUTER);
    self->xpub = zmq_socket (ctx, ZMQ_XPUB);
    int linger = 0, verbose = 1;
    zmq_setsockopt (self->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->xpub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->xpub, ZMQ_XPUB_VERBOSE, &verbose, sizeof verbose);
    if (zmq_bind (self->router, self->req_endpoint) != 0
    ||  zmq_bind (self->xpub, self->sub_endpoint) != 0) {
        fprintf (stderr, "tfb_start: bind failed: %s\n", zmq_strerror (zmq_errno ()));
        abort ();
    }
}

//  Closes both sockets (peers see a broker that went away).
static TFB_UNUSED void
tfb_stop (tfb_broker_t *self)
{
    if (self->router)
        zmq_close (self->router);
    if (self->xpub)
        zmq_close (self->xpub);
    self->router = self->xpub = NULL;
    hr_buf_free (&self->out);
}

static TFB_UNUSED void
tfb_request_free (tfb_request_t *request)
{
    zmq_msg_close (&request->peer);
    hr_buf_free (&request->frame);
    memset (request, 0, sizeof *request);
}

//  Waits up to timeout_ms for one request and takes it into *request
//  (caller frees it with tfb_request_free). False on timeout: then
//  *request holds nothing to free.
static TFB_UNUSED bool
tfb_recv (tfb_broker_t *self, tfb_request_t *request, int timeout_ms)
{
    memset (request, 0, sizeof *request);
    zmq_pollitem_t item = { self->router, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return false;
    zmq_msg_init (&request->peer);
    if (zmq_msg_recv (&request->peer, self->router, 0) < 0) {
        zmq_msg_close (&request->peer);
        return false;
    }
    zmq_msg_t part;
    int frames = 0;
    bool more = zmq_msg_more (&request->peer);
    while (more) {
        zmq_msg_init (&part);
        zmq_msg_recv (&part, self->router, 0);
        more = zmq_msg_more (&part);
        if (frames == 0 && zmq_msg_size (&part) == 0 && more)
            request->delimited = true;
        else {
            hr_buf_reset (&request->frame);
            hr_buf_put (&request->frame, zmq_msg_data (&part), zmq_msg_size (&part));
        }
        zmq_msg_close (&part);
        frames++;
    }
    request->error = hr_request_decode (request->frame.data, request->frame.size,
                                        SIZE_MAX, &request->req);
    return true;
}

//  True when a request is waiting (does not take it).
static TFB_UNUSED bool
tfb_pending (tfb_broker_t *self)
{
    zmq_pollitem_t item = { self->router, 0, ZMQ_POLLIN, 0 };
    return zmq_poll (&item, 1, 0) > 0;
}

//  Sends a raw reply to request's sender: count frames after the routing
//  id (and the delimiter when the request had one).
static TFB_UNUSED void
tfb_send_frames (tfb_broker_t *self, const tfb_request_t *request,
                 const void *const *frames, const size_t *sizes, size_t count)
{
    zmq_msg_t peer;
    zmq_msg_init (&peer);
    zmq_msg_copy (&peer, (zmq_msg_t *) &request->peer);
    zmq_msg_send (&peer, self->router, count || request->delimited? ZMQ_SNDMORE: 0);
    if (request->delimited)
        zmq_send (self->router, "", 0, count? ZMQ_SNDMORE: 0);
    for (size_t i = 0; i < count; i++)
        zmq_send (self->router, frames [i], sizes [i], i + 1 < count? ZMQ_SNDMORE: 0);
}

static TFB_UNUSED void
tfb_send_out (tfb_broker_t *self, const tfb_request_t *request)
{
    const void *frames [1] = { self->out.data };
    size_t sizes [1] = { self->out.size };
    tfb_send_frames (self, request, frames, sizes, 1);
}

//  The request's rid, or NULL when it had none or with_rid is false.
static TFB_UNUSED const uint64_t *
tfb_rid (const tfb_request_t *request, bool with_rid)
{
    return with_rid && request->error == HR_OK && request->req.has_rid
           ? &request->req.rid: NULL;
}

//  Acknowledges a publish (with its rid unless with_rid is false).
static TFB_UNUSED void
tfb_reply_ack (tfb_broker_t *self, const tfb_request_t *request, bool with_rid,
               uint64_t seq, const char *epoch, bool dup)
{
    hr_buf_reset (&self->out);
    hr_reply_encode_ack (&self->out, tfb_rid (request, with_rid), seq, epoch, dup);
    tfb_send_out (self, request);
}

//  Answers with an error reply (with its rid unless with_rid is false).
static TFB_UNUSED void
tfb_reply_error (tfb_broker_t *self, const tfb_request_t *request, bool with_rid,
                 hr_error_t error)
{
    hr_buf_reset (&self->out);
    hr_reply_encode_error (&self->out, tfb_rid (request, with_rid), error);
    tfb_send_out (self, request);
}

//  Answers a history query: the header, then one envelope frame per
//  events [0..count). Envelopes are encoded with hr_event_encode (set
//  head = true for a head marker). epoch NULL: no such channel.
static TFB_UNUSED void
tfb_reply_history (tfb_broker_t *self, const tfb_request_t *request,
                   const char *epoch, uint64_t first, uint64_t head,
                   hr_reset_t reset, const hr_event_t *events, size_t count)
{
    hr_buf_t *bufs = calloc (count + 1, sizeof (hr_buf_t));
    const void **frames = calloc (count + 1, sizeof (void *));
    size_t *sizes = calloc (count + 1, sizeof (size_t));
    char ch [HR_CHANNEL_MAX + 1] = "";
    if (request->error == HR_OK && request->req.event.ch) {
        size_t len = request->req.event.ch_len < HR_CHANNEL_MAX? request->req.event.ch_len
                                                               : HR_CHANNEL_MAX;
        memcpy (ch, request->req.event.ch, len);
        ch [len] = 0;
    }
    hr_reply_encode_history (&bufs [0], tfb_rid (request, true), ch, epoch,
                             first, head, count, reset);
    for (size_t i = 0; i < count; i++)
        hr_event_encode (&events [i], &bufs [i + 1]);
    for (size_t i = 0; i <= count; i++) {
        frames [i] = bufs [i].data;
        sizes [i] = bufs [i].size;
    }
    tfb_send_frames (self, request, frames, sizes, count + 1);
    for (size_t i = 0; i <= count; i++)
        hr_buf_free (&bufs [i]);
    free (bufs);
    free (frames);
    free (sizes);
}

//  An event envelope for tests: ch, epoch and seq set; data is the
//  MessagePack integer seq's low byte (a positive fixint), ts 1.
static TFB_UNUSED hr_event_t
tfb_event (const char *ch, const char *epoch, uint64_t seq)
{
    static uint8_t fixints [128];
    for (int i = 0; i < 128; i++)
        fixints [i] = (uint8_t) i;
    hr_event_t ev = { .ch = ch, .ch_len = strlen (ch), .epoch = epoch,
                      .epoch_len = epoch? strlen (epoch): 0, .seq = seq, .ts = 1,
                      .data = &fixints [seq % 128], .data_len = 1 };
    return ev;
}

//  A head marker envelope {ch, epoch, seq, head: true}.
static TFB_UNUSED hr_event_t
tfb_head_marker (const char *ch, const char *epoch, uint64_t seq)
{
    hr_event_t ev = { .ch = ch, .ch_len = strlen (ch), .epoch = epoch,
                      .epoch_len = epoch? strlen (epoch): 0, .seq = seq, .head = true };
    return ev;
}

//  Publishes ev on the XPUB as the broker does: topic "ch|", then the
//  envelope. Subscribers must have subscribed (see tfb_subscription).
static TFB_UNUSED void
tfb_publish (tfb_broker_t *self, const hr_event_t *ev)
{
    hr_buf_t topic = HR_BUF_INIT;
    hr_event_topic (ev->ch, ev->ch_len, &topic);
    hr_buf_reset (&self->out);
    hr_event_encode (ev, &self->out);
    zmq_send (self->xpub, topic.data, topic.size, ZMQ_SNDMORE);
    zmq_send (self->xpub, self->out.data, self->out.size, 0);
    hr_buf_free (&topic);
}

//  Waits up to timeout_ms for one (un)subscription message on the XPUB and
//  copies its topic (without the leading 1/0 byte) into topic, NUL-ended.
//  Returns 1 for subscribe, 0 for unsubscribe, -1 on timeout.
static TFB_UNUSED int
tfb_subscription (tfb_broker_t *self, char *topic, size_t topic_size, int timeout_ms)
{
    zmq_pollitem_t item = { self->xpub, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return -1;
    char buffer [HR_CHANNEL_MAX + 8];
    int size = zmq_recv (self->xpub, buffer, sizeof buffer, 0);
    if (size < 1)
        return -1;
    if ((size_t) size > sizeof buffer)
        size = (int) sizeof buffer;
    size_t len = (size_t) size - 1 < topic_size - 1? (size_t) size - 1: topic_size - 1;
    memcpy (topic, buffer + 1, len);
    topic [len] = 0;
    return buffer [0] == 1;
}

//  Waits until done (arg) is true, calling step (arg) between checks, up to
//  timeout_ms. For the code under test's side: e.g. step runs
//  hrg_link_process, done checks a callback's flag. Returns done's value.
typedef bool (tfb_cond_fn) (void *arg);
static TFB_UNUSED bool
tfb_wait (tfb_cond_fn *step_then_done, void *arg, int timeout_ms)
{
    uint64_t deadline = hr_mono_ms () + (uint64_t) timeout_ms;
    while (!step_then_done (arg)) {
        if (hr_mono_ms () >= deadline)
            return false;
        zmq_poll (NULL, 0, 1);              //  1 ms: let zmq's I/O thread move
    }
    return true;
}

#endif
