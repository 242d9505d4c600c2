/*  hrb_sync_pair: the sessions of hrb_sync's pairs (owner -> backup
    broker): frames of items, snapshots and keepalives out, acks in, and
    what ends a session. The channels and their items are hrb_sync.c's.  */
#include "hrb_sync_impl.h"

#include <assert.h>

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
            hrb_sync_set_state (self, hr_list_entry (node, s_channel_t, node), HRB_SYNC_UNSAFE);
}

static void
s_all_safe (hrb_sync_t *self, s_pair_t *pair)
{
    hr_list_t *node;
    while ((node = hr_list_first (&pair->lists [HRB_SYNC_UNSAFE])))
        hrb_sync_set_state (self, hr_list_entry (node, s_channel_t, node), HRB_SYNC_SAFE);
}

void
hrb_sync_pair_install (hrb_sync_t *self, s_pair_t *pair)
{
    if (pair->channels && !pair->first)
        self->stats.sessions++;
    pair->first = true;
    pair->session_acked = false;
    pair->heard = false;
}

void
hrb_sync_pair_expire (hrb_sync_t *self, s_pair_t *pair, uint64_t now)
{
    //  Acks stopped: the backup's trust in this session's state runs out
    if (!pair->first && now >= pair->quiet_at + self->validity)
        s_new_session (self, pair);
    if (now >= pair->echo_at + self->validity)
        s_all_safe (self, pair);
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
        s_channel_t *channel = hrb_sync_channel (self, misses [i].ch, misses [i].len);
        if (channel && channel->backup == from && hrb_sync_in_sync (channel->state)
        &&  channel->snap_first && misses [i].r >= channel->snap_first)
            hrb_sync_set_state (self, channel, HRB_SYNC_SAFE);
    }
    hr_list_t *node = hr_list_first (&pair->lists [HRB_SYNC_SNAPSHOT]);
    while (node) {
        hr_list_t *next = hr_list_next (&pair->lists [HRB_SYNC_SNAPSHOT], node);
        s_channel_t *channel = hr_list_entry (node, s_channel_t, node);
        if (channel->snap_r > r)
            break;          //  in snap_r order (0: its frame has not gone yet, at the end)
        if (channel->snap_r)
            hrb_sync_set_state (self, channel, HRB_SYNC_SYNCED);
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
            hrb_sync_release_head (self, channel, HRB_SYNC_REPLICATED);
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
            self->frame [count++] = hrb_sync_lend (item);
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
        hrb_sync_set_state (self, channel, HRB_SYNC_SNAPSHOT);
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
void
hrb_sync_pair_step (hrb_sync_t *self, int to, s_pair_t *pair, uint64_t now)
{
    uint64_t next_r = pair->next_r;
    if (!s_send_items (self, to, pair, now) || !s_send_snapshots (self, to, pair, now))
        return;
    if (pair->next_r == next_r && (pair->first || now >= pair->sent_at + self->heartbeat))
        s_frame (self, to, pair, 0, now);          //  a keepalive
}
