/*  hrg_channel: a worker's view of one channel of the broker stream.

    The channel is where "nothing lost, nothing twice, in order" is kept for
    live delivery (docs/architecture.md §7). It subscribes the worker's SUB socket to
    "name|", starts from the broker's head marker, and then delivers every
    seq exactly once, in order, to its groups. A seq jump is filled from the
    broker's history before later events go out; what cannot be filled, or
    an epoch change, becomes a reset. It keeps the last few events so a
    reconnecting client can often resume without asking the broker.

    States: SYNCING (waiting for the head marker; events are held),
    LIVE, FILLING (a history request is in flight; later events are held).
    Held events are bounded per channel (--held-memory, and a count): over
    either, a fill is abandoned with an `unavailable` reset.

    Epochs are ordered (hr_epoch.h): an event, head marker or history reply
    of an epoch older than the channel's comes from a lagging broker or a
    deposed owner and is ignored (herald_stale_epoch_total), never a reset;
    a fill answered from an older epoch is asked again a few times, then
    abandoned with an `unavailable` reset. A different epoch of the same or
    a newer generation is a new history: a reset to it, as ever.

    Independently of the state, a subscription is confirmed or not: ZeroMQ
    gives no acknowledgement, so the channel counts it confirmed once a
    message for it (the broker answers every subscription with a head
    marker, or an event) arrives on the SUB socket. An unconfirmed one is
    sent again (unsubscribe + subscribe, paced per worker); past a deadline
    its clients get an `unavailable` reset and the channel is counted. When
    the SUB reconnects, every channel is unconfirmed again.  */
#ifndef HRG_CHANNEL_H
#define HRG_CHANNEL_H

#include "hrg_event.h"
#include "hrg_worker.h"
#include "hr_vec.h"

typedef enum { HRG_CHANNEL_SYNCING, HRG_CHANNEL_LIVE, HRG_CHANNEL_FILLING } hrg_channel_state_t;

//  Who hears a channel, so the channel knows nothing of them: subscription
//  groups (on_event, on_reset: every delivery) and streams catching up
//  (on_change: look again). Unused callbacks may be NULL.
typedef struct _hrg_listener_t hrg_listener_t;
typedef struct {
    //  The next event in order, already counted in the channel's position.
    void (*on_event) (hrg_listener_t *self, hrg_channel_t *channel, const hrg_event_t *ev);
    //  A discontinuity; the channel already holds its new position.
    void (*on_reset) (hrg_listener_t *self, hrg_channel_t *channel, hr_reset_t reason);
    //  The channel synced, advanced or reset.
    void (*on_change) (hrg_listener_t *self);
} hrg_listener_ops_t;

//  Embedded in the listener (a static ops table: a pointer per listener).
struct _hrg_listener_t {
    const hrg_listener_ops_t *ops;
};

struct _hrg_channel_t {
    hrg_worker_t *worker;
    char name [HR_CHANNEL_MAX + 1];
    hrg_channel_state_t state;
    char epoch [HR_EPOCH_MAX + 1];      //  "" while the broker has no such channel
    uint64_t last;              //  the last seq delivered
    uint64_t target;            //  FILLING: fill from history up to here
    uint64_t fill_rid;          //  FILLING: the history request in flight
    uint64_t sync_deadline;     //  SYNCING: monotonic ms to ask for the head
    uint64_t head_rid;          //  SYNCING: the head query in flight
    uint32_t stale_fills;       //  FILLING: replies of an older epoch so far
    uint64_t probe_rid;         //  hrg_channel_probe: the head query in flight
    uint32_t probe_answers;     //  probes answered (or failed), for tickets
    bool probe_again;           //  a client asked while one was in flight
    bool probe_failed;          //  the last probe got no answer
    bool confirmed;             //  a message arrived on SUB since it was (re)sent
    bool timed_out;             //  unconfirmed past the deadline: clients were reset
    uint32_t retries;           //  re-sends since it was last unconfirmed
    uint64_t confirm_due;       //  unconfirmed: monotonic ms to send it again
    uint64_t confirm_deadline;  //  unconfirmed: monotonic ms to reset its clients
    uint64_t held_bytes;        //  of the events in held
    hrg_event_t **recent;       //  ring of the last delivered events; grows
    size_t recent_cap, recent_start, recent_count;  //  up to --recent-events
    hr_vec_t held;              //  hrg_event_t *, in arrival order
    hr_vec_t groups;            //  hrg_listener_t *: groups containing this channel
    hr_vec_t waiters;           //  hrg_listener_t *: streams catching up on it
    uint32_t refs;              //  connections using the channel
};

//  The worker's channel for name, created (and subscribed) if needed; one
//  more reference. name must be valid.
hrg_channel_t *hrg_channel_acquire (hrg_worker_t *worker, const char *name);

//  Drops a reference; the last one unsubscribes and frees the channel.
void hrg_channel_release (hrg_channel_t *self);

//  Feeds a message from the broker stream (event or head marker) to its
//  channel, taking over the caller's reference. Unknown channels drop it.
void hrg_channel_on_stream (hrg_worker_t *worker, hrg_event_t *ev);

//  Asks the broker for the head of channels whose head marker is overdue
//  (a marker, like any message, can be dropped at a high-water mark),
//  re-sends unconfirmed subscriptions that are due and resets the clients
//  of those past the deadline. At most a fixed number of requests and
//  re-sends per call, so thousands of channels do not burst. While the
//  worker is not linked to the broker, the confirmation clocks wait.
void hrg_channel_sweep (hrg_worker_t *worker, uint64_t now_ms);

//  The worker's SUB made a new connection (a broker restart): the broker
//  may be a new process, so every subscription must be confirmed again.
//  ZeroMQ re-sends them itself on reconnect; the sweep re-sends those
//  still unconfirmed. Returns the number of channels now unconfirmed.
size_t hrg_channel_reconfirm_all (hrg_worker_t *worker, uint64_t now_ms);

typedef enum { HRG_PROBE_WAITING, HRG_PROBE_ANSWERED, HRG_PROBE_FAILED } hrg_probe_t;

//  A client resumes from an epoch newer than the channel's (this gateway
//  has not heard the new owner yet): asks the broker for the channel's
//  head, which then goes through the channel like a head marker (a newer
//  epoch resets the channel to it; an older one is ignored). *ticket is
//  the caller's, 0 for a new question: WAITING until an answer sent after
//  the question came (the channel's waiters are told: on_change), then
//  ANSWERED, or FAILED when the broker did not answer or cannot be asked.
//  One query in flight per channel, shared by every client asking.
hrg_probe_t hrg_channel_probe (hrg_channel_t *self, uint32_t *ticket);

//  Visits the events after seq `since` up to `last` from the recent ring,
//  oldest first, and returns true; returns false (visiting nothing) when
//  the ring does not reach back to since + 1.
bool hrg_channel_replay_recent (hrg_channel_t *self, uint64_t since,
                                void (*visit) (void *arg, hrg_event_t *ev), void *arg);

#endif
