/*  hrb_stream: channel streams in a hash table plus a recency list.  */
#include "hrb_stream.h"
#include "hr_buf.h"

#include <czmq.h>
#include <assert.h>
#include <string.h>

struct _hrb_streams_t {
    hrb_store_t *store;
    size_t max_streams;
    uint64_t view;              //  of new epochs
    uint64_t refused, replaced;
    zhashx_t *by_name;          //  name -> stream (the table owns streams)
    hr_list_t recency;          //  streams, least recently published first
};

static void
s_stream_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

hrb_streams_t *
hrb_streams_new (hrb_store_t *store, size_t max_streams)
{
    hrb_streams_t *self = hr_calloc (1, sizeof *self);
    self->store = store;
    self->max_streams = max_streams;
    self->by_name = zhashx_new ();
    zhashx_set_destructor (self->by_name, s_stream_free);
    //  The table keys on each stream's own name (counted in HRB_STREAM_BYTES)
    zhashx_set_key_duplicator (self->by_name, NULL);
    zhashx_set_key_destructor (self->by_name, NULL);
    hr_list_init (&self->recency);
    return self;
}

void
hrb_streams_destroy (hrb_streams_t **self_p)
{
    hrb_streams_t *self = *self_p;
    if (!self)
        return;
    for (hr_list_t *node = hr_list_first (&self->recency); node;
         node = hr_list_next (&self->recency, node))
        self->store->ops->release (self->store,
                                   hr_list_entry (node, hrb_stream_t, recency)->history);
    zhashx_destroy (&self->by_name);
    free (self);
    *self_p = NULL;
}

hrb_stream_t *
hrb_streams_find (hrb_streams_t *self, const char *name, size_t len)
{
    char key [HR_CHANNEL_MAX + 1];
    if (len > HR_CHANNEL_MAX)
        return NULL;
    memcpy (key, name, len);
    key [len] = 0;
    return zhashx_lookup (self->by_name, key);
}

//  The least recently published stream, or NULL.
static hrb_stream_t *
s_least (hrb_streams_t *self)
{
    hr_list_t *node = hr_list_first (&self->recency);
    return node? hr_list_entry (node, hrb_stream_t, recency): NULL;
}

//  Drops a stream and its history.
static void
s_drop (hrb_streams_t *self, hrb_stream_t *stream)
{
    hr_list_remove (&stream->recency);
    self->store->ops->drop (self->store, stream->history);
    zhashx_delete (self->by_name, stream->name);
}

//  A stream of name in the table, its history opened (state: what the
//  store holds of it), not yet in the recency list.
static hrb_stream_t *
s_new (hrb_streams_t *self, const char *name, size_t len, hrb_store_state_t *state)
{
    hrb_stream_t *stream = hr_calloc (1, sizeof *stream);
    memcpy (stream->name, name, len);
    stream->name [len] = 0;
    stream->history = self->store->ops->open (self->store, name, len, state);
    zhashx_insert (self->by_name, stream->name, stream);
    return stream;
}

hrb_stream_t *
hrb_streams_ensure (hrb_streams_t *self, const char *name, size_t len, uint64_t now_ms)
{
    hrb_store_state_t state;
    hrb_stream_t *stream = hrb_streams_find (self, name, len);
    if (stream)
        return stream;
    if (zhashx_size (self->by_name) >= self->max_streams) {
        //  Only a stream with no history can go early: its subscribers see
        //  a new epoch, as after expiry, but no client loses an event
        hrb_stream_t *least = s_least (self);
        if (!least || self->store->ops->first (self->store, least->history)
        ||  least->sequenced != least->seq) {  //  or events waiting for their backup
            self->refused++;
            return NULL;
        }
        s_drop (self, least);
        self->replaced++;
    }
    stream = s_new (self, name, len, &state);
    hr_epoch_new (stream->epoch, self->view);
    stream->last_ms = now_ms;
    //  A store failure here fails the batch, and so the publish that made it
    self->store->ops->set_epoch (self->store, stream->history, stream->epoch, 0, now_ms);
    hr_list_push_back (&self->recency, &stream->recency);
    return stream;
}

hrb_stream_t *
hrb_streams_install (hrb_streams_t *self, const char *name, size_t len, const char *epoch,
                     uint64_t seq, uint64_t now_ms)
{
    hrb_stream_t *stream = hrb_streams_find (self, name, len);
    if (!stream && !(stream = hrb_streams_ensure (self, name, len, now_ms)))
        return NULL;
    //  A fresh history: nothing of the old epoch may be read as the new
    self->store->ops->set_epoch (self->store, stream->history, epoch, seq, now_ms);
    memcpy (stream->epoch, epoch, HR_EPOCH_LEN);
    stream->epoch [HR_EPOCH_LEN] = 0;
    stream->seq = stream->sequenced = seq;
    stream->last_ms = now_ms;
    hr_list_move_back (&self->recency, &stream->recency);
    return stream;
}

void
hrb_streams_restore (hrb_streams_t *self, hrb_stream_t *stream, uint64_t seq, uint64_t ts,
                     const void *envelope, size_t size)
{
    assert (seq <= stream->seq);
    hrb_store_rc_t rc = self->store->ops->append (self->store, stream->history, seq, ts,
                                                  envelope, size);
    assert (rc == HRB_STORE_OK || self->store->durable);
    (void) rc;
}

void
hrb_streams_remove (hrb_streams_t *self, hrb_stream_t *stream)
{
    s_drop (self, stream);
}

hrb_store_rc_t
hrb_streams_append (hrb_streams_t *self, hrb_stream_t *stream, uint64_t seq, uint64_t ts,
                    const void *envelope, size_t size)
{
    stream->last_ms = ts;
    hr_list_move_back (&self->recency, &stream->recency);
    return self->store->ops->append (self->store, stream->history, seq, ts, envelope, size);
}

hrb_store_rc_t
hrb_streams_key (hrb_streams_t *self, hrb_stream_t *stream, const char *id, size_t id_len,
                 uint64_t seq)
{
    return self->store->ops->key (self->store, stream->history, id, id_len, seq);
}

void
hrb_streams_set_view (hrb_streams_t *self, uint64_t view)
{
    self->view = view;
}

size_t
hrb_streams_retain (hrb_streams_t *self,
                    bool (*keep) (void *arg, const hrb_stream_t *stream), void *arg)
{
    size_t dropped = 0;
    hr_list_t *node = hr_list_first (&self->recency);
    while (node) {
        hr_list_t *next = hr_list_next (&self->recency, node);
        hrb_stream_t *stream = hr_list_entry (node, hrb_stream_t, recency);
        if (!keep (arg, stream)) {
            s_drop (self, stream);
            dropped++;
        }
        node = next;
    }
    return dropped;
}

uint64_t
hrb_streams_first (hrb_streams_t *self, hrb_stream_t *stream)
{
    uint64_t first = self->store->ops->first (self->store, stream->history);
    return first? first: stream->seq + 1;
}

size_t
hrb_streams_expire (hrb_streams_t *self, uint64_t now_ms, uint64_t idle_ms, size_t budget)
{
    size_t dropped = 0;
    hrb_stream_t *stream;
    while (dropped < budget && (stream = s_least (self)) && stream->last_ms + idle_ms < now_ms) {
        //  Events outlive their stream's last publish only if the store's
        //  age bound is longer than idle_ms; then wait for them to go.
        if (self->store->ops->first (self->store, stream->history)
        ||  stream->sequenced != stream->seq)  //  events waiting for their backup
            break;
        s_drop (self, stream);
        dropped++;
    }
    return dropped;
}

size_t
hrb_streams_count (hrb_streams_t *self)
{
    return zhashx_size (self->by_name);
}

size_t
hrb_streams_bytes (hrb_streams_t *self)
{
    return zhashx_size (self->by_name) * HRB_STREAM_BYTES;
}

uint64_t
hrb_streams_refused (hrb_streams_t *self)
{
    return self->refused;
}

uint64_t
hrb_streams_replaced (hrb_streams_t *self)
{
    return self->replaced;
}

void
hrb_streams_recent (hrb_streams_t *self, uint64_t since_ms,
                    bool (*visit) (void *arg, hrb_stream_t *stream), void *arg)
{
    for (hr_list_t *node = hr_list_last (&self->recency); node;
         node = hr_list_prev (&self->recency, node)) {
        hrb_stream_t *stream = hr_list_entry (node, hrb_stream_t, recency);
        if (stream->last_ms <= since_ms || !visit (arg, stream))
            break;
    }
}

//  hrb_streams_load's state while the store is scanned.
typedef struct {
    hrb_streams_t *self;
    hrb_streams_key_fn *key_fn;
    void *arg;
    uint64_t newest;            //  generation of the newest stored epoch
    size_t over;                //  channels past the cap
} s_load_t;

//  A stored channel (hrb_store_channel_fn): its stream as stored, or with
//  an empty epoch when it must start a new one (made once the scan is
//  over and the generator is above every stored epoch).
static void
s_load_channel (void *arg, const char *name, size_t len, const hrb_store_state_t *stored)
{
    s_load_t *load = arg;
    hrb_streams_t *self = load->self;
    if (zhashx_size (self->by_name) >= self->max_streams || len > HR_CHANNEL_MAX) {
        load->over++;
        return;
    }
    hrb_store_state_t state;
    hrb_stream_t *stream = s_new (self, name, len, &state);
    uint64_t generation = hr_epoch_generation (stored->epoch, strlen (stored->epoch));
    load->newest = generation > load->newest? generation: load->newest;
    stream->last_ms = stored->last_ms;
    if (!stored->suspect && generation) {
        memcpy (stream->epoch, stored->epoch, sizeof stream->epoch);
        stream->seq = stream->sequenced = stored->head;
    }
}

//  A stored key (hrb_store_key_fn): passed on when it is of its channel's
//  epoch; a channel starting a new epoch may have lost the key's event.
static void
s_load_key (void *arg, const char *name, size_t len, const char *id, size_t id_len,
            uint64_t seq, const char *epoch, uint64_t age_ms)
{
    s_load_t *load = arg;
    hrb_stream_t *stream = hrb_streams_find (load->self, name, len);
    if (stream && *stream->epoch && strcmp (stream->epoch, epoch) == 0 && seq <= stream->seq)
        load->key_fn (load->arg, name, len, id, id_len, seq, epoch, age_ms);
}

static int
s_by_recency (const void *a, const void *b)
{
    const hrb_stream_t *x = *(hrb_stream_t * const *) a, *y = *(hrb_stream_t * const *) b;
    return x->last_ms < y->last_ms? -1: x->last_ms > y->last_ms;
}

int
hrb_streams_load (hrb_streams_t *self, hrb_streams_key_fn *key_fn, void *arg,
                  hrb_streams_loaded_t *loaded, hr_buf_t *err)
{
    assert (zhashx_size (self->by_name) == 0);
    memset (loaded, 0, sizeof *loaded);
    s_load_t load = { self, key_fn, arg, 0, 0 };
    hrb_store_rc_t rc = self->store->ops->scan (self->store, s_load_channel, s_load_key, &load,
                                                err);
    hr_epoch_floor (load.newest);
    //  Into the recency list, least recent first, also on failure: the set
    //  releases its streams from there
    size_t count = zhashx_size (self->by_name);
    hrb_stream_t **order = hr_malloc ((count? count: 1) * sizeof *order);
    size_t at = 0;
    for (hrb_stream_t *stream = zhashx_first (self->by_name); stream;
         stream = zhashx_next (self->by_name))
        order [at++] = stream;
    qsort (order, count, sizeof *order, s_by_recency);
    for (size_t i = 0; i < count; i++) {
        hrb_stream_t *stream = order [i];
        if (*stream->epoch)
            loaded->kept++;
        else {
            hr_epoch_new (stream->epoch, self->view);
            if (rc == HRB_STORE_OK)
                self->store->ops->set_epoch (self->store, stream->history, stream->epoch, 0,
                                             stream->last_ms);
            loaded->renewed++;
        }
        hr_list_push_back (&self->recency, &stream->recency);
    }
    free (order);
    if (rc != HRB_STORE_OK)
        return -1;
    if (load.over) {
        hr_buf_printf (err, "the store holds %zu channels, over --max-channels %zu",
                       count + load.over, self->max_streams);
        return -1;
    }
    if (self->store->ops->commit (self->store) != HRB_STORE_OK) {
        hr_buf_printf (err, "cannot write the new epochs of %zu channels to the store",
                       loaded->renewed);
        return -1;
    }
    return 0;
}
