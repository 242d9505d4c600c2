/*  hrb_handoff: expectations per source broker, chunk order per channel,
    and the held publishes, in a hash table of channel records.  */
#include "hrb_handoff.h"
#include "hr_buf.h"
#include "hr_channel.h"
#include "hr_epoch.h"
#include "hr_list.h"

#include <czmq.h>
#include <string.h>

typedef struct {
    bool expected;              //  its channels come here by handoff in view
    bool ended;                 //  its handoff_end came
    uint64_t deadline;          //  monotonic ms: past it, a takeover
} s_source_t;

//  A held publish: the caller's bytes follow the record.
typedef struct {
    hr_list_t node;
    int tag;
    size_t size;
    uint8_t data [];
} s_held_t;

//  A channel being handed over, or with publishes held.
typedef struct {
    char name [HR_CHANNEL_MAX + 1];
    int from;                   //  its source
    uint64_t next_part;         //  the chunk expected next
    bool whole;                 //  its last chunk came
    char epoch [HR_EPOCH_LEN + 1];
    uint64_t seq;
    hr_list_t held;             //  s_held_t, oldest first
} s_channel_t;

struct _hrb_handoff_t {
    size_t held_max, held, held_bytes;
    uint64_t timeout;
    uint64_t view;
    s_source_t sources [HR_CLUSTER_MAX];
    zhashx_t *channels;         //  name -> s_channel_t (owned)
};

static void
s_channel_free (void **item_p)
{
    s_channel_t *channel = *item_p;
    hr_list_t *node;
    while ((node = hr_list_first (&channel->held))) {
        hr_list_remove (node);
        free (hr_list_entry (node, s_held_t, node));
    }
    free (channel);
    *item_p = NULL;
}

hrb_handoff_t *
hrb_handoff_new (size_t held_max, uint64_t timeout)
{
    hrb_handoff_t *self = hr_calloc (1, sizeof *self);
    self->held_max = held_max;
    self->timeout = timeout;
    self->channels = zhashx_new ();
    zhashx_set_destructor (self->channels, s_channel_free);
    zhashx_set_key_duplicator (self->channels, NULL);
    zhashx_set_key_destructor (self->channels, NULL);
    return self;
}

void
hrb_handoff_destroy (hrb_handoff_t **self_p)
{
    hrb_handoff_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->channels);
    free (self);
    *self_p = NULL;
}

static s_channel_t *
s_find (hrb_handoff_t *self, const char *ch, size_t len)
{
    char key [HR_CHANNEL_MAX + 1];
    if (len > HR_CHANNEL_MAX)
        return NULL;
    memcpy (key, ch, len);
    key [len] = 0;
    return zhashx_lookup (self->channels, key);
}

static s_channel_t *
s_ensure (hrb_handoff_t *self, int from, const char *ch, size_t len)
{
    s_channel_t *channel = s_find (self, ch, len);
    if (channel)
        return channel;
    channel = hr_calloc (1, sizeof *channel);
    memcpy (channel->name, ch, len);
    channel->from = from;
    hr_list_init (&channel->held);
    zhashx_insert (self->channels, channel->name, channel);
    return channel;
}

void
hrb_handoff_expect (hrb_handoff_t *self, uint64_t view, hr_members_t sources, uint64_t now)
{
    self->view = view;
    for (int i = 0; i < (int) HR_CLUSTER_MAX; i++)
        self->sources [i] = (s_source_t) { (sources >> i) & 1, false, now + self->timeout };
    //  Chunks of an older view are void; what is held waits for this one.
    //  Deleting resets the table's cursor: collect first, then delete
    zlistx_t *empty = zlistx_new ();
    for (s_channel_t *channel = zhashx_first (self->channels); channel;
         channel = zhashx_next (self->channels)) {
        if (hr_list_empty (&channel->held))
            zlistx_add_end (empty, channel->name);
        else {
            channel->next_part = 0;
            channel->whole = false;
        }
    }
    for (char *name = zlistx_first (empty); name; name = zlistx_next (empty))
        zhashx_delete (self->channels, name);
    zlistx_destroy (&empty);
}

static bool
s_source (const hrb_handoff_t *self, int from)
{
    return from >= 0 && from < (int) HR_CLUSTER_MAX && self->sources [from].expected;
}

static hrb_handoff_state_t
s_state (hrb_handoff_t *self, int from, const s_channel_t *channel, uint64_t now)
{
    if (!s_source (self, from) || (channel && channel->whole) || self->sources [from].ended)
        return HRB_HANDOFF_NONE;
    return now >= self->sources [from].deadline? HRB_HANDOFF_TIMED_OUT: HRB_HANDOFF_AWAIT;
}

hrb_handoff_state_t
hrb_handoff_state (hrb_handoff_t *self, int from, const char *ch, size_t len, uint64_t now)
{
    return s_state (self, from, s_find (self, ch, len), now);
}

hrb_chunk_t
hrb_handoff_chunk (hrb_handoff_t *self, int from, const hrb_peer_msg_t *msg)
{
    if (!s_source (self, from) || self->sources [from].ended || msg->number != self->view)
        return HRB_CHUNK_REFUSED;
    s_channel_t *channel = s_find (self, msg->ch, msg->ch_len);
    if (!channel && msg->part != 0)
        return HRB_CHUNK_REFUSED;
    if (channel && !channel->whole && channel->from == from && msg->part == 0)
        channel->next_part = 0;     //  sent again from the start
    if (channel && (channel->whole || channel->from != from || msg->part != channel->next_part))
        return HRB_CHUNK_REFUSED;
    if (msg->part > 0 && (channel->seq != msg->seq
                          || memcmp (channel->epoch, msg->epoch, HR_EPOCH_LEN)))
        return HRB_CHUNK_REFUSED;
    if (!channel)
        channel = s_ensure (self, from, msg->ch, msg->ch_len);
    if (msg->part == 0) {
        memcpy (channel->epoch, msg->epoch, HR_EPOCH_LEN);
        channel->seq = msg->seq;
    }
    channel->next_part++;
    channel->whole = msg->last;
    return msg->last? HRB_CHUNK_WHOLE: HRB_CHUNK_MORE;
}

bool
hrb_handoff_begun (hrb_handoff_t *self, const char *ch, size_t len)
{
    s_channel_t *channel = s_find (self, ch, len);
    return channel && channel->next_part > 0 && !channel->whole;
}

void
hrb_handoff_forget (hrb_handoff_t *self, const char *ch, size_t len)
{
    s_channel_t *channel = s_find (self, ch, len);
    if (channel) {
        channel->next_part = 0;
        channel->whole = false;
    }
}

bool
hrb_handoff_settled (hrb_handoff_t *self, int from, const char *ch, size_t len)
{
    if (!s_source (self, from))
        return false;
    s_channel_t *channel = s_find (self, ch, len);
    return (channel && channel->whole) || self->sources [from].ended;
}

bool
hrb_handoff_whole (hrb_handoff_t *self, const char *ch, size_t len)
{
    s_channel_t *channel = s_find (self, ch, len);
    return channel && channel->whole;
}

uint64_t
hrb_handoff_view (const hrb_handoff_t *self)
{
    return self->view;
}

hr_members_t
hrb_handoff_overdue (const hrb_handoff_t *self, uint64_t now)
{
    hr_members_t overdue = 0;
    for (int i = 0; i < (int) HR_CLUSTER_MAX; i++)
        if (self->sources [i].expected && !self->sources [i].ended
        &&  now >= self->sources [i].deadline)
            overdue |= (hr_members_t) 1 << i;
    return overdue;
}

bool
hrb_handoff_end (hrb_handoff_t *self, int from, uint64_t view)
{
    if (!s_source (self, from) || view != self->view)
        return false;
    self->sources [from].ended = true;
    return true;
}

int
hrb_handoff_hold (hrb_handoff_t *self, int from, const char *ch, size_t len, int tag,
                  const void *data, size_t size)
{
    size_t bytes = size + HRB_HANDOFF_HELD_OVERHEAD;
    if (self->held_bytes + bytes > self->held_max)
        return -1;
    s_channel_t *channel = s_ensure (self, from, ch, len);
    //  Held in an earlier view for another source, and nothing of the
    //  channel came yet: it waits for the source the caller names now
    if (channel->from != from && !channel->whole && channel->next_part == 0)
        channel->from = from;
    s_held_t *held = hr_malloc (sizeof *held + size);
    held->tag = tag;
    held->size = size;
    memcpy (held->data, data, size);
    hr_list_push_back (&channel->held, &held->node);
    self->held++;
    self->held_bytes += bytes;
    return 0;
}

size_t
hrb_handoff_release (hrb_handoff_t *self, const char *ch, size_t len,
                     hrb_handoff_release_fn *fn, void *arg)
{
    s_channel_t *channel = s_find (self, ch, len);
    size_t count = 0;
    //  Only what is held now: fn may hold one again (at the back), and
    //  serving that again here would never end
    hr_list_t *last = channel? hr_list_last (&channel->held): NULL;
    hr_list_t *node;
    bool done = !last;
    while (!done && (node = hr_list_first (&channel->held))) {
        s_held_t *held = hr_list_entry (node, s_held_t, node);
        done = node == last;
        hr_list_remove (node);
        self->held--;
        self->held_bytes -= held->size + HRB_HANDOFF_HELD_OVERHEAD;
        fn (arg, held->tag, held->data, held->size);
        free (held);
        count++;
    }
    return count;
}

size_t
hrb_handoff_due (hrb_handoff_t *self, uint64_t now, size_t budget,
                 void (*visit) (void *arg, const char *ch, bool timed_out), void *arg)
{
    size_t visited = 0;
    if (!self->held)
        return 0;
    for (s_channel_t *channel = zhashx_first (self->channels); channel && visited < budget;
         channel = zhashx_next (self->channels)) {
        hrb_handoff_state_t state = s_state (self, channel->from, channel, now);
        if (hr_list_empty (&channel->held) || state == HRB_HANDOFF_AWAIT)
            continue;
        visit (arg, channel->name, state == HRB_HANDOFF_TIMED_OUT);
        visited++;
    }
    return visited;
}

size_t hrb_handoff_held (hrb_handoff_t *self) { return self->held; }
size_t hrb_handoff_held_bytes (hrb_handoff_t *self) { return self->held_bytes; }

//  Encoded size of a bin (event) or of a str key and its uint seq, at most.
static size_t
s_event_bytes (const hrb_peer_span_t *span)
{
    return span->len + 5;
}

static size_t
s_key_bytes (const hrb_peer_span_t *span)
{
    return span->len + 5 + 9;
}

size_t
hrb_handoff_cut (const hrb_peer_span_t *events, size_t event_count,
                 const hrb_peer_span_t *keys, size_t key_count, size_t max,
                 hrb_handoff_emit_fn *emit, void *arg)
{
    size_t part = 0, e = 0, k = 0;
    do {
        //  Events first, then keys, as many as fit
        size_t bytes = 0, e0 = e, k0 = k;
        while (e < event_count && (e == e0 || bytes + s_event_bytes (&events [e]) <= max))
            bytes += s_event_bytes (&events [e++]);
        while (e == event_count && k < key_count
           && (e == e0 && k == k0? true: bytes + s_key_bytes (&keys [k]) <= max))
            bytes += s_key_bytes (&keys [k++]);
        emit (arg, part++, e == event_count && k == key_count, e > e0? events + e0: NULL,
              e - e0, k > k0? keys + k0: NULL, k - k0);
    } while (e < event_count || k < key_count);
    return part;
}
