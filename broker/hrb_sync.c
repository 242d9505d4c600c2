/*  hrb_sync: the owner's side of synchronous replication. Channels live in
    a hash table and, per pair (backup broker), in the list of their state
    (SYNCED, SNAPSHOT in snap_r order, UNSAFE, SAFE waiting for a
    snapshot); items in their channel's FIFO and, while they count on an
    ack, in their pair's unsent or sent list (rseq order). This file keeps
    the channels and their items and releases them; hrb_sync_pair.c runs
    each pair's sessions: the frames that go, the acks that come.  */
#include "hrb_sync_impl.h"
#include "hr_buf.h"

#include <assert.h>
#include <string.h>

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

s_channel_t *
hrb_sync_channel (hrb_sync_t *self, const char *ch, size_t len)
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
void
hrb_sync_set_state (hrb_sync_t *self, s_channel_t *channel, hrb_sync_state_t state)
{
    s_pair_t *pair = s_pair (self, channel);
    if (channel->counted) {
        pair->snapshots--;
        channel->counted = false;
    }
    hr_list_remove (&channel->node);
    if (!hrb_sync_in_sync (state))
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
    hrb_sync_set_state (self, channel, HRB_SYNC_NONE);     //  off the lists of its pair
    if (channel->backup >= 0)
        self->pairs [channel->backup].channels--;
    channel->backup = backup;
    if (backup >= 0)
        self->pairs [backup].channels++;
    hrb_sync_set_state (self, channel, backup < 0? HRB_SYNC_NONE: HRB_SYNC_SAFE);
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

hrb_sync_item_t
hrb_sync_lend (const s_item_t *item)
{
    const s_channel_t *channel = item->channel;
    return (hrb_sync_item_t) {
        .ch = channel->name, .ch_len = channel->len, .seq = item->seq,
        .envelope = item->size? item->data: NULL, .size = item->size,
        .reply = item->data + item->size, .reply_len = item->reply_len, .rseq = item->rseq };
}

//  Releases channel's oldest item, then its waiters, with the same outcome.
void
hrb_sync_release_head (hrb_sync_t *self, s_channel_t *channel, hrb_sync_outcome_t outcome)
{
    s_item_t *item = hr_list_entry (hr_list_first (&channel->items), s_item_t, node);
    hr_list_remove (&item->node);
    hr_list_remove (&item->out);
    hr_list_remove (&item->age);
    if (item->key && zhashx_lookup (self->keys, item->key) == item)
        zhashx_delete (self->keys, item->key);
    if (hr_list_empty (&channel->items))
        hr_list_remove (&channel->alone);
    hrb_sync_item_t lent = hrb_sync_lend (item);
    self->ops.release (self->arg, &lent, outcome);
    hr_list_t *node;
    while ((node = hr_list_first (&item->waiters))) {
        s_item_t *waiter = hr_list_entry (node, s_item_t, node);
        hr_list_remove (node);
        hrb_sync_item_t also = hrb_sync_lend (waiter);
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

void
hrb_sync_install (hrb_sync_t *self, uint64_t number,
                  int (*backup_of) (void *arg, const char *ch, size_t len), void *arg)
{
    self->view = number;
    if (self->fenced && number >= self->fenced)
        self->fenced = 0;
    for (int i = 0; i < self->brokers; i++)
        hrb_sync_pair_install (self, &self->pairs [i]);
    //  Every kept channel starts SAFE: the backup forgets all at install
    hr_list_t *node = hr_list_first (&self->all);
    while (node) {
        hr_list_t *next = hr_list_next (&self->all, node);
        s_channel_t *channel = hr_list_entry (node, s_channel_t, all);
        int backup = backup_of (arg, channel->name, channel->len);
        if (backup == -2) {
            while (!hr_list_empty (&channel->items))
                hrb_sync_release_head (self, channel, HRB_SYNC_DROPPED);
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
    return hrb_sync_channel (self, ch, len) || s_create (self, ch, len, backup)? 0: -1;
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
    s_channel_t *channel = hrb_sync_channel (self, ch, len);
    return !channel || hrb_sync_in_sync (channel->state);
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
    s_channel_t *channel = hrb_sync_channel (self, ch, len);
    if (channel && channel->backup != backup)
        return -1;
    if (!channel && !(channel = s_create (self, ch, len, backup)))
        return -1;
    //  A new epoch's seq 1 is the channel's whole state: its frame is a snapshot
    if (new_epoch && channel->state == HRB_SYNC_SAFE && hr_list_empty (&channel->items)) {
        hrb_sync_set_state (self, channel, HRB_SYNC_SNAPSHOT);
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
    if (hrb_sync_in_sync (channel->state))
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
    s_channel_t *channel = hrb_sync_channel (self, ch, len);
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
    s_channel_t *channel = hrb_sync_channel (self, ch, len);
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

void
hrb_sync_step (hrb_sync_t *self, uint64_t now, bool lease)
{
    self->now = now;
    for (int to = 0; to < self->brokers; to++)
        if (to != self->self && self->pairs [to].channels)
            hrb_sync_pair_expire (self, &self->pairs [to], now);
    //  Only SAFE and NONE channels are here, and only with --min-replicas 1
    hr_list_t *node;
    while (lease && (node = hr_list_first (&self->alone))) {
        s_channel_t *channel = hr_list_entry (node, s_channel_t, alone);
        while (!hr_list_empty (&channel->items))
            hrb_sync_release_head (self, channel, HRB_SYNC_ALONE);
    }
    for (int to = 0; to < self->brokers; to++)
        if (to != self->self && self->pairs [to].channels)
            hrb_sync_pair_step (self, to, &self->pairs [to], now);
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
    s_channel_t *channel = hrb_sync_channel (self, ch, len);
    return channel? channel->state: 0;
}

void
hrb_sync_visit (hrb_sync_t *self, const char *ch, size_t len,
                void (*visit) (void *arg, const hrb_sync_item_t *item), void *arg)
{
    s_channel_t *channel = hrb_sync_channel (self, ch, len);
    if (!channel)
        return;
    for (hr_list_t *node = hr_list_first (&channel->items); node;
         node = hr_list_next (&channel->items, node)) {
        hrb_sync_item_t lent = hrb_sync_lend (hr_list_entry (node, s_item_t, node));
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
    s_channel_t *channel = hrb_sync_channel (self, ch, len);
    if (!channel)
        return;
    while (!hr_list_empty (&channel->items))
        hrb_sync_release_head (self, channel, HRB_SYNC_ALONE);
    s_forget (self, channel);
}
