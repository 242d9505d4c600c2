/*  hrb_sync: the owner's side of synchronous replication. Channels live in
    a hash table and, per pair (backup broker), in the list of their state
    (SYNCED, SNAPSHOT in snap_r order, UNSAFE, SAFE waiting for a
    snapshot); items in their channel's FIFO and, while they count on an
    ack, in their pair's unsent or sent list (rseq order).  */
#include "hrb_sync.h"
#include "hr_buf.h"
#include "hr_channel.h"
#include "hr_cluster.h"
#include "hr_list.h"

#include <assert.h>
#include <czmq.h>
#include <string.h>

typedef struct _s_channel_t s_channel_t;

//  An event waiting for its release, or a waiter (envelope NULL) in its
//  item's waiters. The caller's bytes follow: envelope, reply, key.
typedef struct {
    hr_list_t node;             //  in its channel's items (a waiter: its item's waiters)
    hr_list_t out;              //  in its pair's unsent or sent list
    hr_list_t age;              //  in self->ages, oldest first
    hr_list_t waiters;
    s_channel_t *channel;
    uint64_t seq, rseq;
    uint64_t since;             //  the step before it came
    bool new_epoch;
    size_t size, reply_len;
    size_t bytes;               //  counted against max_bytes
    char *key;                  //  "channel\nid", or NULL
    uint8_t data [];
} s_item_t;

struct _s_channel_t {
    hr_list_t node;             //  in its pair's list of its state (NONE: none)
    hr_list_t all;              //  in self->all, the sweep's rotation
    hr_list_t alone;            //  in self->alone: SAFE or NONE with items (min 1)
    hr_list_t items;            //  s_item_t, oldest first
    int backup;                 //  -1: none
    hrb_sync_state_t state;
    bool counted;               //  a snapshot in flight, counted in its pair
    uint64_t snap_first, snap_r;    //  SNAPSHOT/SYNCED: the frames of its snapshot
    size_t len;
    char name [HR_CHANNEL_MAX + 1];
};

typedef struct {
    hr_list_t lists [HRB_SYNC_SYNCED + 1];    //  channels by state (SNAPSHOT in snap_r
                                //  order; SAFE: waiting for a snapshot; not NONE)
    hr_list_t unsent, sent;     //  items of SYNCED and SNAPSHOT channels
    size_t channels;
    uint64_t next_r;            //  the next frame's r (never reused once queued)
    bool first;                 //  a new session: its first frame has not gone
    uint64_t start_r;           //  the r the session started at
    bool session_acked;
    uint64_t quiet_at;          //  the session's first frame or latest ack
    uint64_t echo, echo_at;     //  the backup's latest stamp, and when it came
    bool heard;                 //  an ack of this view came, at heard_at
    uint64_t heard_at;
    uint64_t sent_at;           //  the latest frame
    size_t snapshots;           //  in flight
} s_pair_t;

struct _hrb_sync_t {
    int self, brokers, min_replicas;
    uint64_t validity, heartbeat;
    size_t max_bytes, bytes, items;
    hrb_sync_ops_t ops;
    void *arg;
    uint64_t view, fenced;
    uint64_t now;               //  the latest step's
    zhashx_t *channels;         //  name -> s_channel_t (owned)
    zhashx_t *keys;             //  "channel\nid" -> s_item_t (not owned)
    hr_list_t all, alone, ages;
    size_t states [HRB_SYNC_SYNCED + 1];
    s_pair_t pairs [HR_CLUSTER_MAX];
    hrb_sync_item_t *frame;     //  a frame's items, lent to ops.frame
    size_t frame_max;
    hrb_sync_stats_t stats;
};

//  A channel and its items, waiters included (no release: the caller is
//  going, or the channel has none)
static void
s_channel_free (void **item_p)
{
    s_channel_t *channel = *item_p;
    hr_list_t *node, *wnode;
    while ((node = hr_list_first (&channel->items))) {
        s_item_t *item = hr_list_entry (node, s_item_t, node);
        while ((wnode = hr_list_first (&item->waiters))) {
            hr_list_remove (wnode);
            free (hr_list_entry (wnode, s_item_t, node));
        }
        hr_list_remove (node);
        free (item);
    }
    free (channel);
    *item_p = NULL;
}

hrb_sync_t *
hrb_sync_new (int self_id, int brokers, int min_replicas, uint64_t validity_ms,
              uint64_t heartbeat_ms, size_t max_bytes, const hrb_sync_ops_t *ops, void *arg)
{
    assert (brokers >= 1 && brokers <= HR_CLUSTER_MAX);
    assert (min_replicas == 1 || min_replicas == 2);
    hrb_sync_t *self = hr_calloc (1, sizeof *self);
    *self = (hrb_sync_t) { .self = self_id, .brokers = brokers, .min_replicas = min_replicas,
                           .validity = validity_ms, .heartbeat = heartbeat_ms,
                           .max_bytes = max_bytes, .ops = *ops, .arg = arg };
    self->channels = zhashx_new ();
    zhashx_set_destructor (self->channels, s_channel_free);
    zhashx_set_key_duplicator (self->channels, NULL);   //  keys live in the channels
    zhashx_set_key_destructor (self->channels, NULL);
    self->keys = zhashx_new ();
    zhashx_set_key_duplicator (self->keys, NULL);       //  keys live in the items
    zhashx_set_key_destructor (self->keys, NULL);
    hr_list_init (&self->all);
    hr_list_init (&self->alone);
    hr_list_init (&self->ages);
    for (int i = 0; i < HR_CLUSTER_MAX; i++) {
        s_pair_t *pair = &self->pairs [i];
        for (int state = 0; state <= HRB_SYNC_SYNCED; state++)
            hr_list_init (&pair->lists [state]);
        hr_list_init (&pair->unsent);
        hr_list_init (&pair->sent);
        pair->next_r = 1;
        pair->first = true;
    }
    return self;
}

void
hrb_sync_destroy (hrb_sync_t **self_p)
{
    hrb_sync_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->keys);
    zhashx_destroy (&self->channels);
    free (self->frame);
    free (self);
    *self_p = NULL;
}

static s_channel_t *
s_find (hrb_sync_t *self, const char *ch, size_t len)
{
    char name [HR_CHANNEL_MAX + 1];
    if (len == 0 || len > HR_CHANNEL_MAX)
        return NULL;
    memcpy (name, ch, len);
    name [len] = 0;
    return zhashx_lookup (self->channels, name);
}

static s_pair_t *
s_pair (hrb_sync_t *self, const s_channel_t *channel)
{
    return channel->backup < 0? NULL: &self->pairs [channel->backup];
}

static bool
s_in_sync (hrb_sync_state_t state)
{
    return state == HRB_SYNC_SYNCED || state == HRB_SYNC_SNAPSHOT;
}

//  With --min-replicas 1, SAFE and NONE channels with items go ALONE at
//  the next step with the lease: never one the backup may believe in sync.
static void
s_alone_check (hrb_sync_t *self, s_channel_t *channel)
{
    bool alone = (channel->state == HRB_SYNC_SAFE || channel->state == HRB_SYNC_NONE)
              && self->min_replicas == 1 && !hr_list_empty (&channel->items);
    if (!alone)
        hr_list_remove (&channel->alone);
    else
    if (channel->alone.next == &channel->alone)     //  not in the list yet
        hr_list_push_back (&self->alone, &channel->alone);
}

//  Moves channel to state: into its pair's list for it; out of SYNCED and
//  SNAPSHOT its items count on no ack any more (a snapshot carries them).
static void
s_set_state (hrb_sync_t *self, s_channel_t *channel, hrb_sync_state_t state)
{
    s_pair_t *pair = s_pair (self, channel);
    if (channel->counted) {
        pair->snapshots--;
        channel->counted = false;
    }
    hr_list_remove (&channel->node);
    if (!s_in_sync (state))
        for (hr_list_t *node = hr_list_first (&channel->items); node;
             node = hr_list_next (&channel->items, node))
            hr_list_remove (&hr_list_entry (node, s_item_t, node)->out);
    if (channel->state)
        self->states [channel->state]--;
    self->states [state]++;
    channel->state = state;
    if (pair && state != HRB_SYNC_NONE)
        hr_list_push_back (&pair->lists [state], &channel->node);
    s_alone_check (self, channel);
}

//  Puts channel on backup's pair (-1: none), SAFE (NONE without one).
static void
s_rebind (hrb_sync_t *self, s_channel_t *channel, int backup)
{
    s_set_state (self, channel, HRB_SYNC_NONE);     //  off the lists of its pair
    if (channel->backup >= 0)
        self->pairs [channel->backup].channels--;
    channel->backup = backup;
    if (backup >= 0)
        self->pairs [backup].channels++;
    s_set_state (self, channel, backup < 0? HRB_SYNC_NONE: HRB_SYNC_SAFE);
}

static bool
s_valid_backup (hrb_sync_t *self, int backup)
{
    return backup == -1 || (backup >= 0 && backup < self->brokers && backup != self->self);
}

static s_channel_t *
s_create (hrb_sync_t *self, const char *ch, size_t len, int backup)
{
    if (len == 0 || len > HR_CHANNEL_MAX || !s_valid_backup (self, backup)
    ||  zhashx_size (self->channels) >= HRB_SYNC_CHANNELS_MAX)
        return NULL;
    s_channel_t *channel = hr_calloc (1, sizeof *channel);
    memcpy (channel->name, ch, len);
    channel->len = len;
    channel->backup = -1;
    hr_list_init (&channel->node);
    hr_list_init (&channel->alone);
    hr_list_init (&channel->items);
    hr_list_push_back (&self->all, &channel->all);
    zhashx_insert (self->channels, channel->name, channel);
    s_rebind (self, channel, backup);
    return channel;
}

static void
s_forget (hrb_sync_t *self, s_channel_t *channel)
{
    assert (hr_list_empty (&channel->items));
    s_rebind (self, channel, -1);
    self->states [HRB_SYNC_NONE]--;
    hr_list_remove (&channel->all);
    zhashx_delete (self->channels, channel->name);
}

static hrb_sync_item_t
s_lend (const s_item_t *item)
{
    const s_channel_t *channel = item->channel;
    return (hrb_sync_item_t) {
        .ch = channel->name, .ch_len = channel->len, .seq = item->seq,
        .envelope = item->size? item->data: NULL, .size = item->size,
        .reply = item->data + item->size, .reply_len = item->reply_len, .rseq = item->rseq };
}

//  Releases channel's oldest item, then its waiters, with the same outcome.
static void
s_release_head (hrb_sync_t *self, s_channel_t *channel, hrb_sync_outcome_t outcome)
{
    s_item_t *item = hr_list_entry (hr_list_first (&channel->items), s_item_t, node);
    hr_list_remove (&item->node);
    hr_list_remove (&item->out);
    hr_list_remove (&item->age);
    if (item->key && zhashx_lookup (self->keys, item->key) == item)
        zhashx_delete (self->keys, item->key);
    if (hr_list_empty (&channel->items))
        hr_list_remove (&channel->alone);
    hrb_sync_item_t lent = s_lend (item);
    self->ops.release (self->arg, &lent, outcome);
    hr_list_t *node;
    while ((node = hr_list_first (&item->waiters))) {
        s_item_t *waiter = hr_list_entry (node, s_item_t, node);
        hr_list_remove (node);
        hrb_sync_item_t also = s_lend (waiter);
        also.seq = item->seq;
        also.rseq = item->rseq;
        self->ops.release (self->arg, &also, outcome);
        self->bytes -= waiter->bytes;
        self->items--;
        free (waiter);
    }
    self->bytes -= item->bytes;
    self->items--;
    uint64_t *counts [] = { NULL, &self->stats.replicated, &self->stats.alone,
                            &self->stats.dropped };
    (*counts [outcome])++;
    free (item);
}

//  A new session of pair: the backup forgets what it held for this broker
//  when its first frame comes, but until it acknowledges one of them it may
//  still believe it holds its channels: they are UNSAFE. Nothing changes
//  while the first frame of the session has not gone yet.
static void
s_new_session (hrb_sync_t *self, s_pair_t *pair)
{
    if (pair->first)
        return;
    pair->first = true;
    pair->session_acked = false;
    self->stats.sessions++;
    hr_list_t *node;
    for (int state = HRB_SYNC_SNAPSHOT; state <= HRB_SYNC_SYNCED; state++)
        while ((node = hr_list_first (&pair->lists [state])))
            s_set_state (self, hr_list_entry (node, s_channel_t, node), HRB_SYNC_UNSAFE);
}

static void
s_all_safe (hrb_sync_t *self, s_pair_t *pair)
{
    hr_list_t *node;
    while ((node = hr_list_first (&pair->lists [HRB_SYNC_UNSAFE])))
        s_set_state (self, hr_list_entry (node, s_channel_t, node), HRB_SYNC_SAFE);
}

void
hrb_sync_install (hrb_sync_t *self, uint64_t number,
                  int (*backup_of) (void *arg, const char *ch, size_t len), void *arg)
{
    self->view = number;
    if (self->fenced && number >= self->fenced)
        self->fenced = 0;
    for (int i = 0; i < self->brokers; i++) {
        s_pair_t *pair = &self->pairs [i];
        if (pair->channels && !pair->first)
            self->stats.sessions++;
        pair->first = true;
        pair->session_acked = false;
        pair->heard = false;
    }
    //  Every kept channel starts SAFE: the backup forgets all at install
    hr_list_t *node = hr_list_first (&self->all);
    while (node) {
        hr_list_t *next = hr_list_next (&self->all, node);
        s_channel_t *channel = hr_list_entry (node, s_channel_t, all);
        int backup = backup_of (arg, channel->name, channel->len);
        if (backup == -2) {
            while (!hr_list_empty (&channel->items))
                s_release_head (self, channel, HRB_SYNC_DROPPED);
            s_forget (self, channel);
        }
        else
            s_rebind (self, channel, s_valid_backup (self, backup)? backup: -1);
        node = next;
    }
}

int
hrb_sync_track (hrb_sync_t *self, const char *ch, size_t len, int backup)
{
    return s_find (self, ch, len) || s_create (self, ch, len, backup)? 0: -1;
}

bool
hrb_sync_room (hrb_sync_t *self, size_t size)
{
    return self->bytes + size + HRB_SYNC_ITEM_OVERHEAD <= self->max_bytes;
}

bool
hrb_sync_may_publish (hrb_sync_t *self, const char *ch, size_t len)
{
    if (self->min_replicas == 1)
        return true;
    s_channel_t *channel = s_find (self, ch, len);
    return !channel || s_in_sync (channel->state);
}

static s_item_t *
s_item_new (hrb_sync_t *self, s_channel_t *channel, const void *envelope, size_t size,
            const void *reply, size_t reply_len, size_t key_len)
{
    s_item_t *item = hr_calloc (1, sizeof *item + size + reply_len + key_len);
    hr_list_init (&item->node);
    hr_list_init (&item->out);
    hr_list_init (&item->age);
    hr_list_init (&item->waiters);
    item->channel = channel;
    item->size = size;
    item->reply_len = reply_len;
    item->bytes = size + channel->len + reply_len + HRB_SYNC_ITEM_OVERHEAD;
    if (size)
        memcpy (item->data, envelope, size);
    if (reply_len)
        memcpy (item->data + size, reply, reply_len);
    self->bytes += item->bytes;
    self->items++;
    return item;
}

//  Writes "channel\nid" (ids are printable ASCII, hr_channel.h) in key.
static void
s_key (char *key, const s_channel_t *channel, const char *id, size_t id_len)
{
    memcpy (key, channel->name, channel->len);
    key [channel->len] = '\n';
    memcpy (key + channel->len + 1, id, id_len);
    key [channel->len + 1 + id_len] = 0;
}

int
hrb_sync_add (hrb_sync_t *self, const char *ch, size_t len, int backup, uint64_t seq,
              bool new_epoch, const void *envelope, size_t size, const char *id,
              size_t id_len, const void *reply, size_t reply_len)
{
    if (size == 0 || !hrb_sync_room (self, size + len + reply_len))
        return -1;
    if (id_len > HR_ID_MAX)
        id = NULL;          //  no valid key: nothing can repeat it
    s_channel_t *channel = s_find (self, ch, len);
    if (channel && channel->backup != backup)
        return -1;
    if (!channel && !(channel = s_create (self, ch, len, backup)))
        return -1;
    //  A new epoch's seq 1 is the channel's whole state: its frame is a snapshot
    if (new_epoch && channel->state == HRB_SYNC_SAFE && hr_list_empty (&channel->items)) {
        s_set_state (self, channel, HRB_SYNC_SNAPSHOT);
        channel->snap_first = channel->snap_r = 0;     //  set when its frame goes
    }
    size_t key_len = id? len + 1 + id_len + 1: 0;
    s_item_t *item = s_item_new (self, channel, envelope, size, reply, reply_len, key_len);
    item->seq = seq;
    item->since = self->now;
    item->new_epoch = new_epoch;
    if (id) {
        item->key = (char *) item->data + size + reply_len;
        s_key (item->key, channel, id, id_len);
        zhashx_insert (self->keys, item->key, item);    //  a key already there stays
    }
    hr_list_push_back (&channel->items, &item->node);
    hr_list_push_back (&self->ages, &item->age);
    if (s_in_sync (channel->state))
        hr_list_push_back (&s_pair (self, channel)->unsent, &item->out);
    else
        s_alone_check (self, channel);
    return 0;
}

bool
hrb_sync_find_key (hrb_sync_t *self, const char *ch, size_t len, const char *id,
                   size_t id_len, uint64_t *seq)
{
    char key [HR_CHANNEL_MAX + HR_ID_MAX + 2];
    s_channel_t *channel = s_find (self, ch, len);
    if (!channel || id_len > HR_ID_MAX)
        return false;
    s_key (key, channel, id, id_len);
    s_item_t *item = zhashx_lookup (self->keys, key);
    if (item && seq)
        *seq = item->seq;
    return item != NULL;
}

int
hrb_sync_wait (hrb_sync_t *self, const char *ch, size_t len, uint64_t seq,
               const void *reply, size_t reply_len)
{
    s_channel_t *channel = s_find (self, ch, len);
    if (!channel || !hrb_sync_room (self, len + reply_len))
        return -1;
    for (hr_list_t *node = hr_list_first (&channel->items); node;
         node = hr_list_next (&channel->items, node)) {
        s_item_t *item = hr_list_entry (node, s_item_t, node);
        if (item->seq == seq) {
            s_item_t *waiter = s_item_new (self, channel, NULL, 0, reply, reply_len, 0);
            waiter->seq = seq;
            hr_list_push_back (&item->waiters, &waiter->node);
            return 0;
        }
    }
    return -1;
}

//  An ack of the current session: misses first (a channel missed at or
//  after its snapshot is SAFE), then snapshots acknowledged whole, then
//  the items of SYNCED channels up to r, oldest first per channel.
static void
s_acked (hrb_sync_t *self, int from, uint64_t r, const hrb_sync_miss_t *misses,
         size_t count)
{
    s_pair_t *pair = &self->pairs [from];
    for (size_t i = 0; i < count; i++) {
        s_channel_t *channel = s_find (self, misses [i].ch, misses [i].len);
        if (channel && channel->backup == from && s_in_sync (channel->state)
        &&  channel->snap_first && misses [i].r >= channel->snap_first)
            s_set_state (self, channel, HRB_SYNC_SAFE);
    }
    hr_list_t *node = hr_list_first (&pair->lists [HRB_SYNC_SNAPSHOT]);
    while (node) {
        hr_list_t *next = hr_list_next (&pair->lists [HRB_SYNC_SNAPSHOT], node);
        s_channel_t *channel = hr_list_entry (node, s_channel_t, node);
        if (channel->snap_r > r)
            break;          //  in snap_r order (0: its frame has not gone yet, at the end)
        if (channel->snap_r)
            s_set_state (self, channel, HRB_SYNC_SYNCED);
        node = next;
    }
    while ((node = hr_list_first (&pair->sent))) {
        s_item_t *item = hr_list_entry (node, s_item_t, out);
        if (item->rseq > r)
            break;
        //  Only SYNCED and SNAPSHOT channels have items sent; a SNAPSHOT one
        //  with an item acked had its snapshot acked too
        s_channel_t *channel = item->channel;
        assert (channel->state == HRB_SYNC_SYNCED);
        for (;;) {
            s_item_t *head = hr_list_entry (hr_list_first (&channel->items), s_item_t, node);
            assert (head->rseq && head->rseq <= item->rseq);
            s_release_head (self, channel, HRB_SYNC_REPLICATED);
            if (head == item)
                break;
        }
    }
}

void
hrb_sync_ack (hrb_sync_t *self, int from, uint64_t number, bool fence,
              uint64_t installed, uint64_t r, bool gap, uint64_t stamp,
              const hrb_sync_miss_t *misses, size_t count, uint64_t now)
{
    if (from < 0 || from >= self->brokers || from == self->self)
        return;
    s_pair_t *pair = &self->pairs [from];
    if (fence) {
        if (installed > self->view) {
            self->stats.fences++;
            if (installed > self->fenced)
                self->fenced = installed;
        }
        return;
    }
    if (number != self->view)
        return;
    //  The echo moves with when it came: the backup's trust ends before
    //  echo_at + validity
    if (stamp > pair->echo) {
        pair->echo = stamp;
        pair->echo_at = now;
    }
    pair->heard = true;
    pair->heard_at = now;
    //  Frames of this session up to r applied, their misses listed (also
    //  in a gap's rack); another session's, or a frame never sent: nothing
    if (!pair->first && r >= pair->start_r && r < pair->next_r) {
        pair->quiet_at = now;
        if (!pair->session_acked) {
            pair->session_acked = true;
            s_all_safe (self, pair);
        }
        s_acked (self, from, r, misses, count);
    }
    //  A gap, even one of an older session (r 0 tells none), starts a new
    //  one: it costs snapshots, never an event
    if (gap)
        s_new_session (self, pair);
}

//  A frame went (r): the session's first sets where it started.
static void
s_sent (s_pair_t *pair, uint64_t r, uint64_t now)
{
    if (pair->first) {
        pair->start_r = r;
        pair->quiet_at = now;
        pair->first = false;
    }
    pair->sent_at = now;
}

//  Queues a frame of the first count items of self->frame (0: a
//  keepalive) to pair to. False when it could not: ZeroMQ queued none of
//  it, so the backup never sees it; its r goes with the next attempt.
static bool
s_frame (hrb_sync_t *self, int to, s_pair_t *pair, size_t count, uint64_t now)
{
    uint64_t r = pair->next_r;
    if (self->ops.frame (self->arg, to, self->view, r, pair->first, pair->echo,
                         self->frame, count)) {
        self->stats.refused++;
        return false;
    }
    pair->next_r++;
    s_sent (pair, r, now);
    return true;
}

//  Sends pair's unsent items in frames of at most HRB_SYNC_FRAME_MAX bytes.
//  False when a frame was refused: it and the rest stay unsent.
static bool
s_send_items (hrb_sync_t *self, int to, s_pair_t *pair, uint64_t now)
{
    while (!hr_list_empty (&pair->unsent)) {
        size_t count = 0, bytes = 0;
        for (hr_list_t *node = hr_list_first (&pair->unsent); node;
             node = hr_list_next (&pair->unsent, node)) {
            s_item_t *item = hr_list_entry (node, s_item_t, out);
            if (count && bytes + item->size > HRB_SYNC_FRAME_MAX)
                break;
            if (count == self->frame_max) {
                self->frame_max = self->frame_max? self->frame_max * 2: 64;
                self->frame = realloc (self->frame, self->frame_max * sizeof *self->frame);
                assert (self->frame);
            }
            self->frame [count++] = s_lend (item);
            bytes += item->size;
        }
        if (!s_frame (self, to, pair, count, now))
            return false;
        uint64_t r = pair->next_r - 1;
        while (count--) {
            s_item_t *item = hr_list_entry (hr_list_first (&pair->unsent), s_item_t, out);
            s_channel_t *channel = item->channel;
            item->rseq = r;
            hr_list_move_back (&pair->sent, &item->out);
            if (item->new_epoch && channel->state == HRB_SYNC_SNAPSHOT && !channel->snap_r) {
                channel->snap_first = channel->snap_r = r;
                hr_list_move_back (&pair->lists [HRB_SYNC_SNAPSHOT], &channel->node);
            }
        }
    }
    return true;
}

//  Snapshots SAFE channels while the pair is healthy (an ack of this view
//  within 4 heartbeats): a snapshot carries the channel's items, which then
//  count on its last frame. False when one was refused: none of it went
//  (the channel goes first at the next step, with the same r), or part of
//  it did (the backup may take those frames: their r are spent, and the
//  session ends, as the backup would only see a gap after them).
static bool
s_send_snapshots (hrb_sync_t *self, int to, s_pair_t *pair, uint64_t now)
{
    hr_list_t *node;
    while (pair->heard && now < pair->heard_at + 4 * self->heartbeat
       &&  pair->snapshots < HRB_SYNC_SNAPSHOTS_MAX
       &&  (node = hr_list_first (&pair->lists [HRB_SYNC_SAFE]))) {
        s_channel_t *channel = hr_list_entry (node, s_channel_t, node);
        uint64_t r = pair->next_r;
        size_t frames = self->ops.snapshot (self->arg, to, self->view, r, pair->first,
                                            pair->echo, channel->name, channel->len);
        size_t queued = frames & ~HRB_SYNC_REFUSED;
        if ((frames & HRB_SYNC_REFUSED) || !queued) {
            self->stats.refused++;
            if (queued) {
                pair->next_r += queued;
                s_sent (pair, r, now);
                hr_list_move_back (&pair->lists [HRB_SYNC_SAFE], node);
                s_new_session (self, pair);
            }
            return false;
        }
        pair->next_r += frames;
        s_sent (pair, r, now);
        self->stats.snapshots++;
        s_set_state (self, channel, HRB_SYNC_SNAPSHOT);
        channel->snap_first = r;
        channel->snap_r = r + frames - 1;
        channel->counted = true;
        pair->snapshots++;
        for (hr_list_t *inode = hr_list_first (&channel->items); inode;
             inode = hr_list_next (&channel->items, inode)) {
            s_item_t *item = hr_list_entry (inode, s_item_t, node);
            item->rseq = channel->snap_r;
            hr_list_push_back (&pair->sent, &item->out);
        }
    }
    return true;
}

//  A frame refused ends the pair's turn: one attempt per step, however
//  long its backup refuses (until acks stop for validity: a new session).
static void
s_step_pair (hrb_sync_t *self, int to, s_pair_t *pair, uint64_t now)
{
    uint64_t next_r = pair->next_r;
    if (!s_send_items (self, to, pair, now) || !s_send_snapshots (self, to, pair, now))
        return;
    if (pair->next_r == next_r && (pair->first || now >= pair->sent_at + self->heartbeat))
        s_frame (self, to, pair, 0, now);          //  a keepalive
}

void
hrb_sync_step (hrb_sync_t *self, uint64_t now, bool lease)
{
    self->now = now;
    for (int to = 0; to < self->brokers; to++) {
        s_pair_t *pair = &self->pairs [to];
        if (to == self->self || !pair->channels)
            continue;
        //  Acks stopped: the backup's trust in this session's state runs out
        if (!pair->first && now >= pair->quiet_at + self->validity)
            s_new_session (self, pair);
        if (now >= pair->echo_at + self->validity)
            s_all_safe (self, pair);
    }
    //  Only SAFE and NONE channels are here, and only with --min-replicas 1
    hr_list_t *node;
    while (lease && (node = hr_list_first (&self->alone))) {
        s_channel_t *channel = hr_list_entry (node, s_channel_t, alone);
        while (!hr_list_empty (&channel->items))
            s_release_head (self, channel, HRB_SYNC_ALONE);
    }
    for (int to = 0; to < self->brokers; to++)
        if (to != self->self && self->pairs [to].channels)
            s_step_pair (self, to, &self->pairs [to], now);
    node = hr_list_first (&self->ages);
    self->stats.oldest_ms = node? now - hr_list_entry (node, s_item_t, age)->since: 0;
}

uint64_t
hrb_sync_fenced (hrb_sync_t *self)
{
    return self->fenced;
}

hrb_sync_state_t
hrb_sync_state (hrb_sync_t *self, const char *ch, size_t len)
{
    s_channel_t *channel = s_find (self, ch, len);
    return channel? channel->state: 0;
}

void
hrb_sync_visit (hrb_sync_t *self, const char *ch, size_t len,
                void (*visit) (void *arg, const hrb_sync_item_t *item), void *arg)
{
    s_channel_t *channel = s_find (self, ch, len);
    if (!channel)
        return;
    for (hr_list_t *node = hr_list_first (&channel->items); node;
         node = hr_list_next (&channel->items, node)) {
        hrb_sync_item_t lent = s_lend (hr_list_entry (node, s_item_t, node));
        visit (arg, &lent);
    }
}

void
hrb_sync_sweep (hrb_sync_t *self, bool (*exists) (void *arg, const char *ch, size_t len),
                void *arg, size_t budget)
{
    size_t known = zhashx_size (self->channels);
    for (size_t i = 0; i < budget && i < known; i++) {
        hr_list_t *node = hr_list_first (&self->all);
        s_channel_t *channel = hr_list_entry (node, s_channel_t, all);
        if (hr_list_empty (&channel->items) && !exists (arg, channel->name, channel->len))
            s_forget (self, channel);
        else
            hr_list_move_back (&self->all, node);
    }
}

void
hrb_sync_stats (hrb_sync_t *self, hrb_sync_stats_t *out)
{
    *out = self->stats;
    out->items = self->items;
    out->bytes = self->bytes;
    out->synced = self->states [HRB_SYNC_SYNCED];
    out->unsynced = zhashx_size (self->channels) - out->synced;
}

void
hrb_sync_flush (hrb_sync_t *self, const char *ch, size_t len)
{
    s_channel_t *channel = s_find (self, ch, len);
    if (!channel)
        return;
    while (!hr_list_empty (&channel->items))
        s_release_head (self, channel, HRB_SYNC_ALONE);
    s_forget (self, channel);
}
