/*  hrg_link: DEALER requests with ids, callbacks and deadlines.

    Pending requests sit in a FIFO in send order. Because the broker answers
    in order, a reply normally matches the head; lookup scans from the head
    and skips cancelled entries. Deadlines are monotonic in FIFO order too,
    since the timeout is the same for every request.

    A history request made while the DEALER has no connection yet (a
    gateway just started: its SUB can deliver head markers before the
    DEALER connects) is held in the FIFO, unsent, and goes out once the
    broker is connected; it still fails at its deadline. Publishes are
    never held: their HTTP client gets a 503 at once.

    A history request the broker answers `overloaded` (its replies to this
    worker fill --reply-memory: they are still being written) is asked
    again S_RETRY_MS later, within its deadline: that is back-pressure,
    not a failure to reset clients for.  */
#include "hrg_link.h"
#include "hr_curve.h"
#include "hr_log.h"
#include "hr_time.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Envelope frames a history reply may carry, plus the header.
#define S_MAX_FRAMES (HR_HISTORY_LIMIT_MAX + 1)
//  History requests held unsent while no broker is connected (each is a
//  few hundred bytes); past it, a request fails at once.
#define S_HELD_MAX 4096
//  Pause before asking again after the broker answered `overloaded`.
#define S_RETRY_MS 10
//  Monitor events of a failed handshake (wrong CURVE keys, refused by ZAP).
#define S_HANDSHAKE_FAILED (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL \
    | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

typedef struct _s_pending_t s_pending_t;
struct _s_pending_t {
    s_pending_t *next;
    uint64_t rid;
    uint64_t deadline;
    hrg_link_fn *fn;            //  NULL once cancelled
    void *arg;
    hr_buf_t request;           //  history requests: kept to send again
    bool unsent;                //  held: to send once connected and due
    uint64_t send_at;           //  held: monotonic ms to send at
};

struct _hrg_link_t {
    void *dealer;
    void *monitor;              //  PAIR receiving the DEALER's connection events
    int peers;                  //  connected brokers
    bool inproc;                //  no connection events: counts as connected
    uint64_t timeout_ms;
    uint64_t next_rid;
    uint64_t rid_step;          //  hrg_link_number_rids
    bool closing;               //  destroying: refuse new requests
    size_t held;                //  requests in the FIFO not sent yet
    bool connected;             //  as of the last hrg_link_update
    bool refusal_logged;        //  a failed handshake was logged since the last success
    uint64_t retries;           //  history requests asked again (overloaded)
    uint64_t send_again;        //  the DEALER refused a held request: none sent before
    s_pending_t *head, *tail;
    zmq_msg_t *frames;          //  S_MAX_FRAMES receive slots
    hr_buf_t frame;
};

hrg_link_t *
hrg_link_new (void *zmq_ctx, const char *endpoint, const char *curve_server_key,
              const char *curve_secret, uint64_t timeout_ms, int id, hr_buf_t *err)
{
    hrg_link_t *self = hr_calloc (1, sizeof *self);
    self->dealer = zmq_socket (zmq_ctx, ZMQ_DEALER);
    char monitor [64];
    snprintf (monitor, sizeof monitor, "inproc://herald-link-%d", id);
    //  Connected once the handshake succeeds, not at TCP connect: a CURVE
    //  handshake the broker refuses (wrong keys) is no connection
    zmq_socket_monitor (self->dealer, monitor, ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                        | ZMQ_EVENT_DISCONNECTED | S_HANDSHAKE_FAILED);
    self->monitor = zmq_socket (zmq_ctx, ZMQ_PAIR);
    zmq_connect (self->monitor, monitor);
    //  Refuse to queue requests while no broker is connected: the HTTP
    //  client gets a 503 at once instead of waiting for the timeout.
    int immediate = 1, linger = 0;
    zmq_setsockopt (self->dealer, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt (self->dealer, ZMQ_LINGER, &linger, sizeof linger);
    int rc = hr_curve_client (self->dealer, curve_server_key, curve_secret, err);
    if (rc == 0 && (rc = zmq_connect (self->dealer, endpoint)) != 0)
        hr_buf_printf (err, "cannot connect to broker %s: %s", endpoint, zmq_strerror (errno));
    if (rc != 0) {
        zmq_socket_monitor (self->dealer, NULL, 0);
        zmq_close (self->monitor);
        zmq_close (self->dealer);
        free (self);
        return NULL;
    }
    //  libzmq sends no monitor events for inproc://, and its peer lives in
    //  this process (herald run binds the broker before the gateway starts),
    //  so an inproc link is connected from the start.
    self->inproc = strncmp (endpoint, "inproc://", 9) == 0;
    self->timeout_ms = timeout_ms;
    self->next_rid = 1;
    self->rid_step = 1;
    self->frames = hr_calloc (S_MAX_FRAMES, sizeof (zmq_msg_t));
    return self;
}

void
hrg_link_number_rids (hrg_link_t *self, uint64_t first, uint64_t step)
{
    assert (!self->head && first > 0 && step > 0);
    self->next_rid = first;
    self->rid_step = step;
}

static uint64_t
s_next_rid (hrg_link_t *self)
{
    uint64_t rid = self->next_rid;
    self->next_rid += self->rid_step;
    return rid;
}

static s_pending_t *
s_pop (hrg_link_t *self)
{
    s_pending_t *pending = self->head;
    self->head = pending->next;
    if (!self->head)
        self->tail = NULL;
    return pending;
}

static void
s_free (hrg_link_t *self, s_pending_t *pending)
{
    if (pending->unsent) {
        assert (self->held > 0);
        self->held--;
    }
    hr_buf_free (&pending->request);
    free (pending);
}

//  Puts pending back into the FIFO where its deadline belongs.
static void
s_insert (hrg_link_t *self, s_pending_t *pending)
{
    s_pending_t **link = &self->head;
    while (*link && (*link)->deadline <= pending->deadline)
        link = &(*link)->next;
    pending->next = *link;
    *link = pending;
    if (!pending->next)
        self->tail = pending;
}

void
hrg_link_destroy (hrg_link_t **self_p)
{
    hrg_link_t *self = *self_p;
    if (!self)
        return;
    self->closing = true;
    while (self->head) {
        s_pending_t *pending = s_pop (self);
        if (pending->fn)
            pending->fn (pending->arg, pending->rid, NULL, NULL, 0);
        s_free (self, pending);
    }
    zmq_socket_monitor (self->dealer, NULL, 0);
    zmq_close (self->monitor);
    zmq_close (self->dealer);
    free (self->frames);
    hr_buf_free (&self->frame);
    free (self);
    *self_p = NULL;
}

int
hrg_link_fd (hrg_link_t *self)
{
    int fd = -1;
    size_t size = sizeof fd;
    zmq_getsockopt (self->dealer, ZMQ_FD, &fd, &size);
    return fd;
}

int
hrg_link_monitor_fd (hrg_link_t *self)
{
    int fd = -1;
    size_t size = sizeof fd;
    zmq_getsockopt (self->monitor, ZMQ_FD, &fd, &size);
    return fd;
}

//  Sends the held requests that are due, in order (a cancelled one is
//  simply not sent).
static void
s_send_held (hrg_link_t *self, uint64_t now_ms)
{
    for (s_pending_t *pending = self->head; pending && self->held; pending = pending->next) {
        if (!pending->unsent || (pending->fn && pending->send_at > now_ms))
            continue;
        if (pending->fn
        &&  zmq_send (self->dealer, pending->request.data, pending->request.size,
                      ZMQ_DONTWAIT) < 0) {
            //  Not connected after all, or its queue is full: pause, not spin
            self->send_again = now_ms + S_RETRY_MS;
            return;
        }
        self->held--;
        pending->unsent = false;
    }
}

bool
hrg_link_update (hrg_link_t *self)
{
    //  Each event is two frames: 16-bit event id + 32-bit value, endpoint
    zmq_msg_t event, address;
    zmq_msg_init (&event);
    while (zmq_msg_recv (&event, self->monitor, ZMQ_DONTWAIT) >= 0) {
        uint16_t id = 0;
        if (zmq_msg_size (&event) >= 2)
            memcpy (&id, zmq_msg_data (&event), sizeof id);
        if (zmq_msg_more (&event)) {
            zmq_msg_init (&address);
            zmq_msg_recv (&address, self->monitor, 0);
            zmq_msg_close (&address);
        }
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            self->peers++;
            self->refusal_logged = false;
        }
        else
        if (id & S_HANDSHAKE_FAILED) {
            //  libzmq retries every 100 ms: one line until a handshake succeeds
            if (!self->refusal_logged)
                hr_log_limited_warn ("handshake with the broker failed; retrying (with CURVE: "
                                     "check --curve-server-key, and that this gateway's key "
                                     "is in the broker's --curve-clients)");
            self->refusal_logged = true;
        }
        else
        if (id == ZMQ_EVENT_DISCONNECTED && self->peers > 0)
            self->peers--;
        zmq_msg_close (&event);
        zmq_msg_init (&event);
    }
    zmq_msg_close (&event);
    self->connected = self->inproc || self->peers > 0;
    if (self->connected && self->held)
        s_send_held (self, hr_mono_ms ());
    return self->connected;
}

bool
hrg_link_readable (hrg_link_t *self)
{
    int events = 0;
    size_t size = sizeof events;
    zmq_getsockopt (self->dealer, ZMQ_EVENTS, &events, &size);
    return (events & ZMQ_POLLIN) != 0;
}

//  Sends self->frame as request rid; a holdable request that cannot be
//  sent yet (no connection) waits in the FIFO behind the others held.
static uint64_t
s_send (hrg_link_t *self, uint64_t rid, bool holdable, hrg_link_fn *fn, void *arg)
{
    if (self->closing)
        return 0;
    bool sent = !(holdable && self->held)
             && zmq_send (self->dealer, self->frame.data, self->frame.size, ZMQ_DONTWAIT) >= 0;
    if (!sent && (!holdable || self->held >= S_HELD_MAX))
        return 0;
    s_pending_t *pending = hr_calloc (1, sizeof *pending);
    if (holdable)
        hr_buf_put (&pending->request, self->frame.data, self->frame.size);
    if (!sent) {
        pending->unsent = true;
        self->held++;
    }
    pending->rid = rid;
    pending->deadline = hr_mono_ms () + self->timeout_ms;
    pending->fn = fn;
    pending->arg = arg;
    if (self->tail)
        self->tail->next = pending;
    else
        self->head = pending;
    self->tail = pending;
    return rid;
}

uint64_t
hrg_link_publish (hrg_link_t *self, const hr_event_t *ev, hrg_link_fn *fn, void *arg)
{
    if (!self)
        return 0;
    uint64_t rid = s_next_rid (self);
    hr_buf_reset (&self->frame);
    hr_request_encode_publish (&self->frame, &rid, ev);
    return s_send (self, rid, false, fn, arg);
}

uint64_t
hrg_link_history (hrg_link_t *self, const char *ch, const char *epoch, uint64_t since,
                  uint64_t limit, hrg_link_fn *fn, void *arg)
{
    if (!self)
        return 0;
    uint64_t rid = s_next_rid (self);
    hr_buf_reset (&self->frame);
    hr_request_encode_history (&self->frame, &rid, ch, epoch, since, limit);
    return s_send (self, rid, true, fn, arg);
}

uint64_t
hrg_link_revoke (hrg_link_t *self, hr_revoke_kind_t kind, const char *value, size_t len,
                 int64_t until_s, hrg_link_fn *fn, void *arg)
{
    if (!self)
        return 0;
    uint64_t rid = s_next_rid (self);
    hr_buf_reset (&self->frame);
    hr_request_encode_revoke (&self->frame, &rid, kind, value, len, until_s);
    return s_send (self, rid, false, fn, arg);
}

void
hrg_link_cancel (hrg_link_t *self, uint64_t rid)
{
    if (!self)
        return;
    for (s_pending_t *pending = self->head; pending; pending = pending->next)
        if (pending->rid == rid) {
            pending->fn = NULL;
            return;
        }
}

//  Finds the pending request for rid, dropping cancelled entries before it.
static s_pending_t *
s_take (hrg_link_t *self, uint64_t rid)
{
    while (self->head && !self->head->fn)
        s_free (self, s_pop (self));
    if (self->head && self->head->rid == rid)
        return s_pop (self);
    //  Out of order (a timed-out request's late reply, or a stranger): scan
    for (s_pending_t *prev = self->head; prev && prev->next; prev = prev->next)
        if (prev->next->rid == rid) {
            s_pending_t *found = prev->next;
            prev->next = found->next;
            if (self->tail == found)
                self->tail = prev;
            return found;
        }
    return NULL;
}

//  A history request answered `overloaded` with time left goes back into
//  the FIFO, held for S_RETRY_MS. True when it did.
static bool
s_retry (hrg_link_t *self, s_pending_t *pending, const hr_reply_t *reply)
{
    uint64_t now = hr_mono_ms ();
    if (reply->error != HR_E_OVERLOADED || !pending->request.data
    ||  now + S_RETRY_MS >= pending->deadline || self->held >= S_HELD_MAX)
        return false;
    pending->unsent = true;
    pending->send_at = now + S_RETRY_MS;
    self->held++;
    self->retries++;
    s_insert (self, pending);
    return true;
}

void
hrg_link_process (hrg_link_t *self)
{
    while (true) {
        size_t count = 0;
        int more = 1;
        while (more && count < S_MAX_FRAMES) {
            zmq_msg_init (&self->frames [count]);
            if (zmq_msg_recv (&self->frames [count], self->dealer,
                              count? 0: ZMQ_DONTWAIT) < 0) {
                zmq_msg_close (&self->frames [count]);
                break;
            }
            more = zmq_msg_more (&self->frames [count]);
            count++;
        }
        if (count == 0)
            return;
        hr_reply_t reply;
        hr_error_t rc = hr_reply_decode (zmq_msg_data (&self->frames [0]),
                                         zmq_msg_size (&self->frames [0]), &reply);
        s_pending_t *pending = rc == HR_OK && reply.has_rid? s_take (self, reply.rid): NULL;
        if (pending && pending->fn && s_retry (self, pending, &reply))
            pending = NULL;             //  back in the FIFO, to ask again
        else
        if (pending && pending->fn)
            pending->fn (pending->arg, pending->rid, &reply, self->frames + 1, count - 1);
        else
        if (rc != HR_OK)
            hr_log_limited_warn ("undecodable broker reply", "error", hr_error_code (rc));
        if (pending)
            s_free (self, pending);
        for (size_t i = 0; i < count; i++)
            zmq_msg_close (&self->frames [i]);
    }
}

void
hrg_link_expire (hrg_link_t *self, uint64_t now_ms)
{
    if (self->held && self->connected)
        s_send_held (self, now_ms);
    while (self->head && (!self->head->fn || self->head->deadline <= now_ms)) {
        s_pending_t *pending = s_pop (self);
        if (pending->fn)
            pending->fn (pending->arg, pending->rid, NULL, NULL, 0);
        s_free (self, pending);
    }
}

uint64_t
hrg_link_next_deadline (hrg_link_t *self)
{
    uint64_t next = UINT64_MAX;
    for (s_pending_t *pending = self->head; pending; pending = pending->next)
        if (pending->fn) {
            next = pending->deadline;
            break;
        }
    //  Held retries are due earlier than any deadline
    if (self->held && self->connected)
        for (s_pending_t *pending = self->head; pending; pending = pending->next)
            if (pending->unsent && pending->fn) {
                uint64_t at = pending->send_at > self->send_again? pending->send_at
                                                                 : self->send_again;
                if (at < next)
                    next = at;
            }
    return next;
}

uint64_t
hrg_link_retries (hrg_link_t *self)
{
    return self->retries;
}
