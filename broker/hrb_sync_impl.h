/*  hrb_sync_impl: hrb_sync's state, shared by its two files only:
    hrb_sync.c (channels, items, releases) and hrb_sync_pair.c (each
    pair's sessions: frames out, acks in). Nothing else includes it.  */
#ifndef HRB_SYNC_IMPL_H
#define HRB_SYNC_IMPL_H

#include "hrb_sync.h"
#include "hr_channel.h"
#include "hr_cluster.h"
#include "hr_list.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

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

static inline bool
hrb_sync_in_sync (hrb_sync_state_t state)
{
    return state == HRB_SYNC_SYNCED || state == HRB_SYNC_SNAPSHOT;
}

//  hrb_sync.c, called by hrb_sync_pair.c:
//  The channel named ch, or NULL (borrowed).
s_channel_t *hrb_sync_channel (hrb_sync_t *self, const char *ch, size_t len);
//  Moves channel to state (see hrb_sync.c).
void hrb_sync_set_state (hrb_sync_t *self, s_channel_t *channel, hrb_sync_state_t state);
//  The item as ops see it (its bytes lent, valid while it is held).
hrb_sync_item_t hrb_sync_lend (const s_item_t *item);
//  Releases channel's oldest item, then its waiters, with outcome.
void hrb_sync_release_head (hrb_sync_t *self, s_channel_t *channel,
                            hrb_sync_outcome_t outcome);

//  hrb_sync_pair.c, called by hrb_sync.c:
//  A view installed: the pair's next frame starts a new session.
void hrb_sync_pair_install (hrb_sync_t *self, s_pair_t *pair);
//  At a step, before anything goes: a session whose acks stopped for
//  validity ends; a backup whose stamp is that old trusts nothing.
void hrb_sync_pair_expire (hrb_sync_t *self, s_pair_t *pair, uint64_t now);
//  At a step: sends pair's unsent items, then snapshots, else a keepalive.
void hrb_sync_pair_step (hrb_sync_t *self, int to, s_pair_t *pair, uint64_t now);

#endif
