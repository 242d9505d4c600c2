/*  hrb_stream: the broker's channels: sequence numbers, epochs, history.

    The broker is the sequencer of every channel it owns (docs/architecture.md §4): a
    stream holds the channel's epoch, its last seq and its history handle in
    the store. Streams are kept in publish-recency order so channels idle
    longer than the history age can be dropped cheaply; a dropped channel
    that is published to again starts a new epoch at seq 1.

    Any publish can name a new channel, so the set is capped: at the cap a
    new channel takes the place of the least recently published stream if
    that one keeps no history (as if it had expired), and is refused
    otherwise (docs/operations.md, --max-channels).

    With a durable store the set is loaded from it at start-up
    (hrb_streams_load): every stored channel goes on in its epoch at its
    head, unless a crash may have lost some of its published events.  */
#ifndef HRB_STREAM_H
#define HRB_STREAM_H

#include "hr_channel.h"
#include "hr_epoch.h"
#include "hr_list.h"
#include "hrb_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_stream_t hrb_stream_t;
struct _hrb_stream_t {
    char name [HR_CHANNEL_MAX + 1];
    char epoch [HR_EPOCH_LEN + 1];
    uint64_t seq;               //  last seq published; 0 before the first event
    uint64_t sequenced;         //  last seq assigned: above seq while events wait for the
                                //  channel's backup (hrb_sync), else equal
    uint64_t last_ms;           //  wall clock of the last publish (or creation)
    hrb_history_t *history;     //  owned by the store
    hr_list_t recency;          //  in the set's recency list, least recent first
};

typedef struct _hrb_streams_t hrb_streams_t;

//  Memory counted per stream: the record, its table entry and its empty
//  history record in the store.
#define HRB_STREAM_BYTES (sizeof (hrb_stream_t) + 96)

//  Creates an empty set of at most max_streams streams over store (not
//  owned). Caller owns it.
hrb_streams_t *hrb_streams_new (hrb_store_t *store, size_t max_streams);

//  Destroys every stream and the set; their histories are released (a
//  durable store keeps them for the next start).
void hrb_streams_destroy (hrb_streams_t **self_p);

//  The stream of a channel, or NULL. name need not be NUL-terminated.
hrb_stream_t *hrb_streams_find (hrb_streams_t *self, const char *name, size_t len);

//  The stream of a channel, created with a fresh epoch if absent. NULL
//  when absent and the set is full of streams that keep history (the cap
//  above). Borrowed: valid until the stream is dropped (expire, or ensure
//  of a new channel at the cap).
hrb_stream_t *hrb_streams_ensure (hrb_streams_t *self, const char *name, size_t len,
                                  uint64_t now_ms);

//  The stream of a channel with the given epoch and head seq and an empty
//  history, made or replacing the one there (its history dropped): a
//  channel handed over (hrb_transfer) or replicated keeps its owner's
//  epoch. NULL when absent and the set is full (the cap of ensure).
//  Borrowed as for ensure.
hrb_stream_t *hrb_streams_install (hrb_streams_t *self, const char *name, size_t len,
                                   const char *epoch, uint64_t seq, uint64_t now_ms);

//  Adds to an installed stream's history an event sequenced elsewhere:
//  seq at most stream->seq, above the last one restored; the head and the
//  recency do not change. (Only in a cluster, whose store is in memory: it
//  cannot fail.)
void hrb_streams_restore (hrb_streams_t *self, hrb_stream_t *stream, uint64_t seq,
                          uint64_t ts, const void *envelope, size_t size);

//  Drops one stream and its history (stream is invalid afterwards): also a
//  stream made in a batch that could not be stored.
void hrb_streams_remove (hrb_streams_t *self, hrb_stream_t *stream);

//  Stores the envelope of the event the caller just sequenced (seq, which
//  it encoded in the envelope) and marks the stream recently used. The
//  store's error when it could not (the batch is lost: hrb_store.h).
hrb_store_rc_t hrb_streams_append (hrb_streams_t *self, hrb_stream_t *stream, uint64_t seq,
                                   uint64_t ts, const void *envelope, size_t size);

//  Keeps the idempotency key of the event at seq in a durable store.
hrb_store_rc_t hrb_streams_key (hrb_streams_t *self, hrb_stream_t *stream, const char *id,
                                size_t id_len, uint64_t seq);

//  What hrb_streams_load found: channels going on in their epoch, and
//  those a crash may have cut, started again in a new one.
typedef struct {
    size_t kept;
    size_t renewed;
} hrb_streams_loaded_t;

//  Called by hrb_streams_load for each idempotency key stored for a
//  channel's current epoch, oldest first, with its age in ms.
typedef void (hrb_streams_key_fn) (void *arg, const char *ch, size_t ch_len, const char *id,
                                   size_t id_len, uint64_t seq, const char *epoch,
                                   uint64_t age_ms);

//  Makes a stream for every channel the store holds (call once, on an
//  empty set, before serving): its epoch, head and recency as stored, or
//  a new epoch when the store says a crash may have lost some of its
//  events. Passes the stored keys to key_fn, commits, and raises the
//  epoch generator above every stored epoch (hr_epoch_floor). -1 with a
//  reason in err when the store cannot be read or holds more channels
//  than the set's cap.
int hrb_streams_load (hrb_streams_t *self, hrb_streams_key_fn *key_fn, void *arg,
                      hrb_streams_loaded_t *loaded, hr_buf_t *err);

//  Oldest seq the stream still keeps (seq + 1 when it keeps none).
uint64_t hrb_streams_first (hrb_streams_t *self, hrb_stream_t *stream);

//  Drops streams not published to for idle_ms whose history is empty, at
//  most budget of them (the rest wait for the next call). Returns how many
//  were dropped.
size_t hrb_streams_expire (hrb_streams_t *self, uint64_t now_ms, uint64_t idle_ms,
                           size_t budget);

size_t hrb_streams_count (hrb_streams_t *self);

//  Memory the streams take besides their events (HRB_STREAM_BYTES each).
size_t hrb_streams_bytes (hrb_streams_t *self);

//  New channels refused at the cap, and streams dropped to make room for
//  one, since the set was created.
uint64_t hrb_streams_refused (hrb_streams_t *self);
uint64_t hrb_streams_replaced (hrb_streams_t *self);

//  The view new epochs are made in from now on (hr_epoch_new): 0 on a
//  single broker, the installed view's number in a cluster.
void hrb_streams_set_view (hrb_streams_t *self, uint64_t view);

//  Drops every stream keep returns false for (with its history): in a
//  cluster, the channels this broker does not own continuously into a new
//  view, which start a new epoch if it sequences them again. Returns how
//  many were dropped.
size_t hrb_streams_retain (hrb_streams_t *self,
                           bool (*keep) (void *arg, const hrb_stream_t *stream), void *arg);

//  Visits the streams published to after since_ms, most recent first,
//  until visit returns false.
void hrb_streams_recent (hrb_streams_t *self, uint64_t since_ms,
                         bool (*visit) (void *arg, hrb_stream_t *stream), void *arg);

#endif
