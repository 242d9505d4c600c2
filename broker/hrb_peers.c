/*  hrb_peers: per-client accounting of the bytes ZeroMQ holds for ROUTER.

    Records are reference counted because ZeroMQ frees frames from its own
    threads, possibly after the set is gone: the table holds one reference
    to each record and every frame in flight one more; each record holds a
    reference to the set's shared totals. Only the broker thread adds
    references, so a record it sees with the table's reference alone has
    no frame in flight and none can appear: it may be forgotten.  */
#include "hrb_peers.h"
#include "hr_buf.h"
#include "hr_list.h"

#include <assert.h>
#include <czmq.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    atomic_size_t queued;
    atomic_uint refs;           //  the set, plus one per live record
} s_totals_t;

struct _hrb_peer_t {
    atomic_size_t queued;
    atomic_uint refs;           //  the table, plus one per frame in flight
    s_totals_t *totals;
    hr_list_t order;            //  in the set's sweep order, least recently used first
    char key [];                //  the routing id in hex
};

struct _hrb_peers_t {
    zhashx_t *by_key;           //  key -> record (not owning: refs do)
    hr_list_t order;            //  peers, least recently used first
    s_totals_t *totals;
};

typedef struct {
    hrb_peer_t *peer;
    size_t charge;
    uint8_t data [];
} s_frame_t;

static void
s_totals_unref (s_totals_t *totals)
{
    if (atomic_fetch_sub (&totals->refs, 1) == 1)
        free (totals);
}

static void
s_peer_unref (hrb_peer_t *peer)
{
    if (atomic_fetch_sub (&peer->refs, 1) == 1) {
        s_totals_unref (peer->totals);
        free (peer);
    }
}

//  ZeroMQ's free callback: any thread.
static void
s_frame_free (void *data, void *hint)
{
    s_frame_t *frame = hint;
    hrb_peer_t *peer = frame->peer;
    atomic_fetch_sub (&peer->queued, frame->charge);
    atomic_fetch_sub (&peer->totals->queued, frame->charge);
    free (frame);
    s_peer_unref (peer);
}

hrb_peers_t *
hrb_peers_new (void)
{
    hrb_peers_t *self = hr_calloc (1, sizeof *self);
    self->by_key = zhashx_new ();
    self->totals = hr_calloc (1, sizeof *self->totals);
    atomic_init (&self->totals->refs, 1);
    hr_list_init (&self->order);
    return self;
}

//  The least recently used peer, or NULL.
static hrb_peer_t *
s_least (hrb_peers_t *self)
{
    hr_list_t *node = hr_list_first (&self->order);
    return node? hr_list_entry (node, hrb_peer_t, order): NULL;
}

static void
s_forget (hrb_peers_t *self, hrb_peer_t *peer)
{
    hr_list_remove (&peer->order);
    zhashx_delete (self->by_key, peer->key);
    s_peer_unref (peer);
}

void
hrb_peers_destroy (hrb_peers_t **self_p)
{
    hrb_peers_t *self = *self_p;
    if (!self)
        return;
    hrb_peer_t *peer;
    while ((peer = s_least (self)))
        s_forget (self, peer);
    zhashx_destroy (&self->by_key);
    s_totals_unref (self->totals);
    free (self);
    *self_p = NULL;
}

hrb_peer_t *
hrb_peers_get (hrb_peers_t *self, const void *id, size_t id_len)
{
    char key [2 * 256 + 1];
    if (id_len > 256)
        id_len = 256;           //  ZeroMQ routing ids are at most 255 bytes
    static const char hex [] = "0123456789abcdef";
    const uint8_t *bytes = id;
    for (size_t i = 0; i < id_len; i++) {
        key [2 * i] = hex [bytes [i] >> 4];
        key [2 * i + 1] = hex [bytes [i] & 15];
    }
    key [2 * id_len] = 0;
    hrb_peer_t *peer = zhashx_lookup (self->by_key, key);
    if (peer)
        hr_list_remove (&peer->order);
    else {
        peer = hr_calloc (1, sizeof *peer + 2 * id_len + 1);
        memcpy (peer->key, key, 2 * id_len + 1);
        atomic_init (&peer->refs, 1);
        atomic_init (&peer->queued, 0);
        peer->totals = self->totals;
        atomic_fetch_add (&self->totals->refs, 1);
        zhashx_insert (self->by_key, peer->key, peer);
    }
    hr_list_push_back (&self->order, &peer->order);
    return peer;
}

size_t
hrb_peer_queued (const hrb_peer_t *peer)
{
    return atomic_load (&peer->queued);
}

int
hrb_peer_send (hrb_peer_t *peer, void *sock, const void *data, size_t size, int flags)
{
    return hrb_peer_send_charged (peer, sock, data, size, size + HRB_PEER_FRAME_CHARGE, flags);
}

int
hrb_peer_send_charged (hrb_peer_t *peer, void *sock, const void *data, size_t size,
                       size_t charge, int flags)
{
    assert (charge >= size + HRB_PEER_FRAME_CHARGE);
    s_frame_t *frame = hr_malloc (sizeof *frame + size);
    memcpy (frame->data, data, size);
    frame->peer = peer;
    frame->charge = charge;
    atomic_fetch_add (&peer->refs, 1);
    atomic_fetch_add (&peer->queued, frame->charge);
    atomic_fetch_add (&peer->totals->queued, frame->charge);
    zmq_msg_t msg;
    zmq_msg_init_data (&msg, frame->data, size, s_frame_free, frame);
    int rc = zmq_msg_send (&msg, sock, flags);
    if (rc < 0)
        zmq_msg_close (&msg);   //  not taken: frees the frame now
    return rc;
}

size_t
hrb_peers_queued (const hrb_peers_t *self)
{
    return atomic_load (&self->totals->queued);
}

size_t
hrb_peers_count (const hrb_peers_t *self)
{
    return zhashx_size (self->by_key);
}

size_t
hrb_peers_sweep (hrb_peers_t *self, size_t budget)
{
    size_t forgotten = 0;
    size_t count = zhashx_size (self->by_key);
    if (budget > count)
        budget = count;         //  each peer at most once per sweep
    hrb_peer_t *peer;
    for (size_t visited = 0; visited < budget && (peer = s_least (self)); visited++) {
        if (atomic_load (&peer->refs) == 1) {
            s_forget (self, peer);
            forgotten++;
        }
        else                    //  frames in flight: look again after the others
            hr_list_move_back (&self->order, &peer->order);
    }
    return forgotten;
}
