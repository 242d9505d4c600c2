/*  hrg_stream: one subscription of a connection to a channel set, the
    unit the fan-out core delivers to.

    An SSE connection has one stream (its channel set, one cursor); a
    WebSocket connection one per channel it subscribed to. A stream starts
    CATCHING_UP: it waits for its channels to sync, tells its transport it
    is ready (a WebSocket answers `ok` with the channel's head), replays
    what its client missed (from a channel's recent events or the broker's
    history, a page at a time as the socket drains: hrg_catchup.c), and
    then joins its subscription group, whose frames every member shares.
    Frames go on the connection's queue in that order, so a client sees
    the replay, then live events, with no gap and nothing twice.  */
#ifndef HRG_STREAM_H
#define HRG_STREAM_H

#include "hrg_channel.h"
#include "hrg_conn.h"
#include "hrg_fetch.h"
#include "hrg_group.h"

//  Per channel of a catching-up stream (hrg_catchup.c).
typedef struct {
    hrg_page_t *page;           //  the history page being replayed, or NULL
    size_t next;                //  the page's next event to look at
    bool checked;               //  the broker vouched for the position
    uint64_t avg;               //  bytes per event seen, to size pages (0: unknown)
    uint32_t probe;             //  hrg_channel_probe's ticket (0: not asking)
    uint32_t probes;            //  answers that still left the client's epoch newer
    uint32_t stale;             //  pages in a row answered from an older epoch
} hrg_catchup_t;

struct _hrg_stream_t {
    hrg_conn_t *conn;
    hr_chanset_t *set;          //  owned until joining; then the group's
    hrg_channel_t **channels;   //  owned array, a reference on each channel
    //  Catching up only (NULL once live):
    hr_position_t *positions;   //  where the client is, per channel
    hrg_catchup_t *catchup;     //  per channel: the replay in progress
    bool fresh;                 //  no position: start at the live position
    bool mismatch;              //  fresh because the client's cursor was of another
                                //  channel set: each channel starts with a reset
    bool ready;                 //  the transport took the news that its channels synced
    hrg_waiter_t waiter;        //  waiting for the worker's --catchup-memory
    hrg_listener_t listener;    //  in its channels' waiters, while catching up
    hrg_member_t member;        //  in its group, once live (member.group set)
    uint32_t id;                //  the transport's: a WebSocket request id
    uint32_t order;             //  and the place of its answer among the others
};

//  A new stream of conn on set (taken over) from positions (taken over:
//  one per channel of set; ignored when fresh), catching up, with a
//  reference on each of its channels. Call hrg_stream_catch_up to start.
hrg_stream_t *hrg_stream_new (hrg_conn_t *conn, hr_chanset_t *set,
                              hr_position_t *positions, bool fresh);

//  Leaves the group or the catch-up, drops the channel references and
//  frees the stream. Frames already queued on the connection stay.
void hrg_stream_destroy (hrg_stream_t **self_p);

//  hrg_stream_new and hrg_stream_destroy for a stream embedded in its
//  connection (an SSE connection's one stream: no allocation of its own).
void hrg_stream_init (hrg_stream_t *self, hrg_conn_t *conn, hr_chanset_t *set,
                      hr_position_t *positions, bool fresh);
void hrg_stream_fini (hrg_stream_t *self);

//  Re-examines a catching-up stream after one of its channels synced or
//  advanced, or its connection drained; replays what it missed a page at
//  a time, queuing at most hrg_fetch_budget bytes (more only for a single
//  larger event); joins its group once it is level (hrg_catchup.c).
void hrg_stream_catch_up (hrg_stream_t *self);

//  Its connection drained: a stream still catching up queues the next part
//  of its replay if the connection is under hrg_fetch_budget.
void hrg_stream_drained (hrg_stream_t *self);

//  Fills view's arrays with the stream's own position (catching up) for
//  rendering. epochs and seqs have room for HR_CHANSET_MAX.
void hrg_stream_view (const hrg_stream_t *self, hrg_view_t *view,
                      const char **epochs, uint64_t *seqs, size_t index);

//  Counts the connection's queued bytes in the worker's catch-up bytes
//  while any of its streams catches up (hrg_catchup.c).
void hrg_stream_account (hrg_stream_t *self);

//  Releases what catching up holds (pages, its place in the wait queue,
//  its share of counted bytes). Internal to hrg_stream*.c and hrg_catchup.c.
void hrg_stream_catchup_free (hrg_stream_t *self);

#endif
