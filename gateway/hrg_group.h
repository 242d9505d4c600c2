/*  hrg_group: a subscription group, the streams of a worker with the same
    channel set and the same transport.

    Their positions are equal by construction (a stream joins only once its
    position equals the channels' live position), so each event is
    rendered once per group (docs/architecture.md §6.3): for SSE with the
    set's cursor; for WebSocket, whose streams are one channel each, the
    group is that channel in that encoding, so an event is rendered once
    per encoding. The events rendered between two writes are one frame,
    the group's batch, that every member's connection queues when the
    group is written: queueing and writing cost per write, not per event.
    The group's position is read from its channels.  */
#ifndef HRG_GROUP_H
#define HRG_GROUP_H

#include "hrg_channel.h"
#include "hrg_conn.h"

//  A group's member: embedded in whoever joins (a stream).
typedef struct {
    hrg_conn_t *conn;           //  where the group's frames are queued
    hrg_group_t *group;         //  NULL while not a member
    hr_list_t node;             //  in the group's members
} hrg_member_t;

struct _hrg_group_t {
    hrg_worker_t *worker;
    const hrg_transport_t *transport;
    char *key;                  //  owned: transport name and set key
    hr_chanset_t *set;          //  owned
    hrg_channel_t **channels;   //  per set index; members hold the references
    hrg_listener_t listener;    //  in each channel's groups
    hr_cursor_live_t *cursor;   //  owned: the set's cursor, kept encoded when the
                                //  transport keeps_cursor (made at the first event)
    hr_buf_t batch;             //  owned: events rendered since the members' last
                                //  frame, a frame being built (hrg_frame_pool_open)
    size_t batch_hint;          //  bytes of the last batch: the next one's first block
    hr_list_t members;          //  hrg_member_t
    size_t member_count;
    bool dirty;                 //  events rendered since the last write
    bool deferred;              //  dirty, waiting on the worker's wheel
    hr_list_t dirty_node;       //  while dirty: in the ready list or a wheel slot
    uint64_t last_write_ms;     //  monotonic; --write-interval counts from it
    uint64_t write_us;          //  how long writing every member took, last time
    uint64_t due_ms;            //  deferred: when it may be written
};

//  Adds member (whose position equals its channels' live position) to the
//  group of *set_p (taken over) and conn's transport, creating the group
//  if needed with channels (per set index, borrowed: the members hold the
//  references). *set_p becomes the group's set, borrowed while a member.
//  From now on the group queues its frames on conn.
void hrg_group_join (hrg_worker_t *worker, hrg_member_t *member, hrg_conn_t *conn,
                     hr_chanset_t **set_p, hrg_channel_t **channels);

//  Removes member from its group; the last member destroys the group.
void hrg_group_leave (hrg_member_t *member);

//  Queues the events the group rendered so far on every member's
//  connection now (they are written when the group is due): before a
//  member's connection gets a frame of its own that must follow them (an
//  ok carrying the channel's position, last words).
void hrg_group_seal (hrg_group_t *self);

//  Writes to the members of every group whose new frames are due: now, or
//  a gap after the group's last write (docs/architecture.md §6.3's
//  batching, per stream: a quiet stream is written at once, a busy one
//  coalesced). The gap is --write-interval, or with auto (the default)
//  HRG_GROUP_AUTO_FACTOR times as long as writing to every member took
//  the last time, at most
//  HRG_GROUP_AUTO_CAP_MS: a stream whose events come faster than its
//  connections can be written gets several per write, the others each at
//  once; the loop draining every waiting event before it writes adds the
//  rest (a worker behind on all its streams writes each once per turn).
void hrg_group_flush_dirty (hrg_worker_t *worker, uint64_t now_ms);

//  A batch is queued as soon as it holds this many bytes (its events
//  still go out when the group is due): what one group holds unqueued.
#define HRG_GROUP_BATCH_BYTES (64 * 1024)

#define HRG_GROUP_AUTO_FACTOR 2
#define HRG_GROUP_AUTO_CAP_MS 20

//  The group's gap in ms after its last write before the next (see above).
uint64_t hrg_group_gap_ms (const hrg_group_t *self);

//  Monotonic ms when the next deferred group falls due, or UINT64_MAX.
uint64_t hrg_group_next_due (hrg_worker_t *worker);

#endif
