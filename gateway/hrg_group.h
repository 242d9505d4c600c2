/*  hrg_group: a subscription group, the connections of a worker with the
    same channel set.

    Their cursors are equal by construction (a connection joins only once
    its position equals the channels' live position), so each event is
    rendered once per group into one frame that every member reads
    (DESIGN.md §7). The group's cursor is read from its channels.  */
#ifndef HRG_GROUP_H
#define HRG_GROUP_H

#include "hrg_event.h"
#include "hrg_frame.h"
#include "hrg_worker.h"

struct _hrg_group_t {
    hrg_worker_t *worker;
    hr_chanset_t *set;          //  owned
    hrg_channel_t **channels;   //  per set index; members hold the references
    hrg_chain_t chain;
    hr_list_t members;          //  hrg_conn_t, through conn->group_node
    size_t member_count;
    bool dirty;                 //  frames appended since the last write
    bool deferred;              //  dirty, waiting on the worker's wheel
    hr_list_t dirty_node;       //  while dirty: in the ready list or a wheel slot
    uint64_t last_write_ms;     //  monotonic; --write-interval counts from it
    uint64_t due_ms;            //  deferred: when it may be written
    uint64_t last_frame_ms;     //  monotonic; for heartbeats
};

//  Adds conn (whose position equals its channels' live position) to the
//  group of its channel set, creating the group if needed. From now on conn
//  reads the group's frames after its private ones.
void hrg_group_join (hrg_worker_t *worker, hrg_conn_t *conn);

//  Removes conn from its group; the last member destroys the group.
void hrg_group_leave (hrg_conn_t *conn);

//  Renders ev (of one of the group's channels, already counted in the
//  channel's position) for every member.
void hrg_group_publish (hrg_group_t *self, const hrg_event_t *ev);

//  Renders a reset of channel for every member; the channel already holds
//  its new position.
void hrg_group_reset (hrg_group_t *self, hrg_channel_t *channel, hr_reset_t reason);

//  Appends a heartbeat to every group idle for the heartbeat interval.
void hrg_group_heartbeats (hrg_worker_t *worker, uint64_t now_ms);

//  Writes to the members of every group whose new frames are due: now, or
//  --write-interval after the group's last write (DESIGN.md §7's batching,
//  per stream: a quiet stream is written at once, a busy one coalesced).
void hrg_group_flush_dirty (hrg_worker_t *worker, uint64_t now_ms);

//  Monotonic ms when the next deferred group falls due, or UINT64_MAX.
uint64_t hrg_group_next_due (hrg_worker_t *worker);

#endif
