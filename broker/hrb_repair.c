/*  hrb_repair: a replica's gap repairs between brokers (see the header).  */
#include "hrb_repair.h"
#include "hr_channel.h"
#include "hr_list.h"
#include "hr_log.h"

#include <czmq.h>
#include <errno.h>
#include <string.h>

//  Requests in flight at most, all channels.
#define S_INFLIGHT 64
//  An owner that has not answered by then is asked again later.
#define S_TIMEOUT_MS 2000
//  Wait before asking again after a failure (timeout, error, no route).
#define S_RETRY_MS 500

typedef struct {
    char ch [HR_CHANNEL_MAX + 1];
    uint64_t want;              //  the replica's head must reach this
    bool probe;                 //  ask once even if the head is there
    int slot;                   //  in flight: its slot; -1 while waiting
    int owner;                  //  in flight: the broker asked
    uint64_t rid, since;        //  in flight: the request
    uint64_t due;               //  waiting: not before; in flight: the deadline
    hr_list_t node;             //  waiting: in the queue
} s_record_t;

struct _hrb_repairs_t {
    const hr_cluster_t *file;
    void *router;
    size_t max_records;
    hrb_repairs_where_fn *where;
    hrb_repairs_apply_fn *apply;
    void *arg;
    zhashx_t *records;          //  channel -> record (owned)
    hr_list_t queue;            //  records waiting, oldest first
    s_record_t *inflight [S_INFLIGHT];
    size_t inflight_count;
    uint64_t next_rid;
    uint64_t sent;
    hr_buf_t request;
    zmq_msg_t frames [HR_HISTORY_LIMIT_MAX];   //  an answer's events
};

static void
s_record_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

hrb_repairs_t *
hrb_repairs_new (void *zmq_ctx, const hr_cluster_t *file, int self_index, size_t max_records,
                 int64_t max_frame, hrb_repairs_where_fn *where, hrb_repairs_apply_fn *apply,
                 void *arg, hr_buf_t *err)
{
    hrb_repairs_t *self = hr_calloc (1, sizeof *self);
    self->file = file;
    self->max_records = max_records;
    self->where = where;
    self->apply = apply;
    self->arg = arg;
    self->records = zhashx_new ();
    zhashx_set_destructor (self->records, s_record_free);
    hr_list_init (&self->queue);
    self->router = zmq_socket (zmq_ctx, ZMQ_ROUTER);
    int mandatory = 1, linger = 0;
    zmq_setsockopt (self->router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    zmq_setsockopt (self->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->router, ZMQ_MAXMSGSIZE, &max_frame, sizeof max_frame);
    for (size_t i = 0; i < hr_cluster_size (file); i++) {
        if ((int) i == self_index)
            continue;
        //  The connection is named by the broker's id: requests are sent
        //  to it by that name
        const hr_cluster_node_t *node = hr_cluster_node (file, i);
        zmq_setsockopt (self->router, ZMQ_CONNECT_ROUTING_ID, node->id, strlen (node->id));
        if (zmq_connect (self->router, node->router) != 0) {
            hr_buf_printf (err, "replica: cannot connect to %s's router %s: %s", node->id,
                           node->router, zmq_strerror (errno));
            hrb_repairs_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
hrb_repairs_destroy (hrb_repairs_t **self_p)
{
    hrb_repairs_t *self = *self_p;
    if (!self)
        return;
    zmq_close (self->router);
    zhashx_destroy (&self->records);
    hr_buf_free (&self->request);
    free (self);
    *self_p = NULL;
}

static s_record_t *
s_find (hrb_repairs_t *self, const char *ch, size_t len)
{
    char key [HR_CHANNEL_MAX + 1];
    if (len > HR_CHANNEL_MAX)
        return NULL;
    memcpy (key, ch, len);
    key [len] = 0;
    return zhashx_lookup (self->records, key);
}

//  Drops a record that is neither waiting nor in flight.
static void
s_forget (hrb_repairs_t *self, s_record_t *rec)
{
    zhashx_delete (self->records, rec->ch);
}

//  Puts a record (not in flight) at the end of the queue, due at due.
static void
s_wait (hrb_repairs_t *self, s_record_t *rec, uint64_t due)
{
    rec->slot = -1;
    rec->due = due;
    hr_list_push_back (&self->queue, &rec->node);
}

void
hrb_repairs_want (hrb_repairs_t *self, const char *ch, size_t len, uint64_t seq, uint64_t now)
{
    s_record_t *rec = s_find (self, ch, len);
    if (!rec) {
        if (len > HR_CHANNEL_MAX || zhashx_size (self->records) >= self->max_records)
            return;                     //  asked again at its next event or marker
        rec = hr_calloc (1, sizeof *rec);
        memcpy (rec->ch, ch, len);
        hr_list_init (&rec->node);
        zhashx_insert (self->records, rec->ch, rec);
        s_wait (self, rec, now);
    }
    if (seq == 0)
        rec->probe = true;
    if (seq > rec->want)
        rec->want = seq;
}

void
hrb_repairs_reset (hrb_repairs_t *self, const char *ch, size_t len)
{
    s_record_t *rec = s_find (self, ch, len);
    if (!rec)
        return;
    rec->want = 0;
    rec->probe = false;
    if (rec->slot < 0) {
        hr_list_remove (&rec->node);
        s_forget (self, rec);
    }
}

void *
hrb_repairs_socket (hrb_repairs_t *self)
{
    return self->router;
}

//  Takes a record out of its in-flight slot.
static void
s_land (hrb_repairs_t *self, s_record_t *rec)
{
    self->inflight [rec->slot] = self->inflight [--self->inflight_count];
    self->inflight [rec->slot]->slot = rec->slot;
    rec->slot = -1;
}

//  Sends the request of rec (taken out of the queue); false when it could
//  not be queued (the owner not connected, or its queue full).
static bool
s_ask (hrb_repairs_t *self, s_record_t *rec, uint64_t now)
{
    char epoch [HR_EPOCH_LEN + 1];
    uint64_t head;
    int owner;
    if (!self->where (self->arg, rec->ch, strlen (rec->ch), epoch, &head, &owner)
    ||  (!rec->probe && head >= rec->want)) {
        s_forget (self, rec);
        return true;
    }
    const char *id = hr_cluster_node (self->file, (size_t) owner)->id;
    uint64_t rid = ++self->next_rid;
    hr_buf_reset (&self->request);
    hr_request_encode_history (&self->request, &rid, rec->ch, epoch, head,
                               HR_HISTORY_LIMIT_MAX);
    if (zmq_send (self->router, id, strlen (id), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return false;
    zmq_send (self->router, self->request.data, self->request.size, ZMQ_DONTWAIT);
    rec->owner = owner;
    rec->rid = rid;
    rec->since = head;
    rec->probe = false;
    rec->due = now + S_TIMEOUT_MS;
    rec->slot = (int) self->inflight_count;
    self->inflight [self->inflight_count++] = rec;
    self->sent++;
    return true;
}

//  Reads the rest of an answer (after its routing id) and applies it.
static void
s_answer (hrb_repairs_t *self, zmq_msg_t *from, uint64_t now)
{
    zmq_msg_t header_msg;
    zmq_msg_init (&header_msg);
    bool more = zmq_msg_more (from);
    if (more) {
        zmq_msg_recv (&header_msg, self->router, 0);
        more = zmq_msg_more (&header_msg);
    }
    size_t count = 0;
    while (more) {                      //  events past what was asked are dropped
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        zmq_msg_recv (&frame, self->router, 0);
        more = zmq_msg_more (&frame);
        if (count < HR_HISTORY_LIMIT_MAX) {
            zmq_msg_init (&self->frames [count]);
            zmq_msg_move (&self->frames [count++], &frame);
        }
        zmq_msg_close (&frame);
    }
    hr_reply_t header;
    s_record_t *rec = NULL;
    if (hr_reply_decode (zmq_msg_data (&header_msg), zmq_msg_size (&header_msg), &header)
        == HR_OK && header.has_rid)
        for (size_t i = 0; i < self->inflight_count && !rec; i++)
            if (self->inflight [i]->rid == header.rid)
                rec = self->inflight [i];
    const char *asked = rec? hr_cluster_node (self->file, (size_t) rec->owner)->id: "";
    if (rec && (zmq_msg_size (from) != strlen (asked)
            ||  memcmp (zmq_msg_data (from), asked, strlen (asked)) != 0))
        rec = NULL;                     //  not from the broker asked
    if (rec) {
        s_land (self, rec);
        size_t len = strlen (rec->ch);
        if (header.error != HR_OK || header.ch_len != len || memcmp (header.ch, rec->ch, len)) {
            hr_log_limited_info ("replica repair refused", "channel", rec->ch, "from", asked,
                                 "error", hr_error_code (header.error));
            s_wait (self, rec, now + S_RETRY_MS);
        }
        else {
            uint64_t head = self->apply (self->arg, rec->ch, len, &header, self->frames,
                                         count, &rec->want);
            if (head >= rec->want)
                s_forget (self, rec);
            else                        //  more to come; no progress: later
                s_wait (self, rec, head == rec->since? now + S_RETRY_MS: now);
        }
    }
    for (size_t i = 0; i < count; i++)
        zmq_msg_close (&self->frames [i]);
    zmq_msg_close (&header_msg);
}

void
hrb_repairs_serve (hrb_repairs_t *self, uint64_t now, size_t budget)
{
    for (size_t i = 0; i < budget; i++) {
        zmq_msg_t from;
        zmq_msg_init (&from);
        if (zmq_msg_recv (&from, self->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&from);
            break;
        }
        s_answer (self, &from, now);
        zmq_msg_close (&from);
    }
    for (size_t i = 0; i < self->inflight_count; ) {
        s_record_t *rec = self->inflight [i];
        if (rec->due > now) {
            i++;
            continue;
        }
        s_land (self, rec);             //  moves another record into slot i
        s_wait (self, rec, now + S_RETRY_MS);
    }
    hr_list_t *node;
    while (self->inflight_count < S_INFLIGHT && (node = hr_list_first (&self->queue))) {
        s_record_t *rec = hr_list_entry (node, s_record_t, node);
        if (rec->due > now)
            break;
        hr_list_remove (&rec->node);
        if (!s_ask (self, rec, now))
            s_wait (self, rec, now + S_RETRY_MS);
    }
}

uint64_t
hrb_repairs_sent (const hrb_repairs_t *self)
{
    return self->sent;
}

size_t
hrb_repairs_pending (const hrb_repairs_t *self)
{
    return zhashx_size (self->records);
}
