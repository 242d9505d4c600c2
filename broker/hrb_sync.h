/*  hrb_sync: the owner's side of synchronous replication (docs/cluster.md,
    "Zero-reset failover"), a pure state machine: no I/O, no clock of its
    own, no socket; its only memory is the bounded queue of items it holds.

    An owner sequences an event, then hands it here (hrb_sync_add) instead
    of publishing it. The event goes to the channel's backup in a "repl"
    frame; it is published (on the stream, with the publisher's ack) only
    when it is *released*:
    - REPLICATED: the backup acknowledged the frame it went in and held the
      channel in sync (hrb_sync_ack);
    - ALONE (--min-replicas 1 only): the channel has no backup that can be
      relying on an older state (see SAFE below), so publishing without one
      costs at worst a reset if this broker dies before a backup is in sync;
    - DROPPED: this broker no longer owns the channel continuously (a view
      moved it): the event was never published; its publisher gets
      `unavailable` and retries with its idempotency key.
    Items are released in the order they were added per channel (all of a
    channel's items wait on the same backup, in rseq order).

    Per backup broker b (a *pair* owner -> b) frames carry a replication
    sequence r: 1, 2, ... within a *session*; the first frame of a session
    says first=true (the backup then forgets everything it held in sync for
    this owner). A new session starts at every view install, after a
    snapshot only part of which could be queued, on a gap reported by the
    backup, and when the backup's acknowledgements stopped for validity_ms
    (below). A frame that could not be queued (ZeroMQ queues a message
    wholly or not at all) never reached the backup: the session goes on,
    its r is not spent, its items stay unsent and go at the next step (a
    snapshot none of whose frames went likewise); a pair's step ends at
    its first refused frame, so a backup that keeps refusing costs one
    attempt per step until its acks have stopped for validity_ms. An r
    once queued is never used again. The backup acknowledges cumulatively
    ("rack": every frame up to r applied), with its own monotonic stamp
    s, and lists the channels whose items it could not apply with the r
    of the frame (a miss: it did not hold the channel in sync). Every
    frame echoes the latest stamp received from that backup (0: none
    yet).

    The owner reads an ack r as "every frame of this session up to r
    applied, and every miss in them listed here or in a rack before": a
    channel missed must be listed in every rack until it is in sync again
    (or the session ends), since a rack can be lost and the next one's
    cumulative r would release the missed item REPLICATED. Acks of another
    view, of an older session (r below the session's first frame) or of a
    frame never sent are ignored, but for their stamp (any ack of the
    installed view moves echo forward, and echo_at with it: the owner only
    ever waits longer). A gap's rack still acknowledges its r and lists its
    misses; then a new session starts (on any gap of the view: r 0 cannot
    tell an older session's). "Acks stopped" counts from the session's
    first frame or its latest ack. Items of channels not SYNCED nor
    SNAPSHOT go in no frame: a snapshot carries them. Keepalives go only
    to a backup of some channel known here.

    Per channel, the state towards its backup:
    - SYNCED: the backup holds the channel; items wait for acks.
    - SNAPSHOT: a snapshot (the channel's whole state: epoch, head, history,
      keys, pending items) went out in frames up to snap_r; items wait for
      acks as in SYNCED. An ack r >= snap_r with no miss of the channel at
      r >= snap_first makes it SYNCED; a miss at r >= snap_first makes it
      SAFE again. Snapshots are sent only while the pair is healthy (an ack
      of the installed view received within the heartbeat period * 4), at most
      HRB_SYNC_SNAPSHOTS_MAX unacknowledged per pair.
    - UNSAFE: not in sync, but the backup may still believe it is (a
      session restarted within a view and the backup has not acknowledged
      the new session yet): items wait, even with --min-replicas 1. It
      becomes SAFE when the backup acknowledges a frame of the new session,
      or when its validity has surely run out: now >= echo_at + validity_ms,
      echo_at being when this broker received the latest stamp of that
      backup (a backup trusts its in-sync state only until its own stamp
      echoed last + validity_ms, hrb_backup).
    - SAFE: not in sync, and the backup knows it (it reported a miss,
      acknowledged a new session, or a new view was installed: a backup
      never keeps an epoch through a view it did not see). With
      --min-replicas 1 its items are released ALONE while the caller holds
      its lease (step's lease argument); with 2 they wait, and
      hrb_sync_may_publish is false for it (publishes get `unavailable`).
      A snapshot is scheduled for it.
    - NONE: the channel has no backup in the installed view (a view of one
      owner): as SAFE without a snapshot.
    A new channel's first event (seq 1 of a new epoch) is the channel's
    whole state: added to a SAFE channel with nothing pending it goes out
    as an ordinary item and the channel becomes SNAPSHOT with that frame's
    r (no snapshot frames needed), so a new channel is protected from its
    first event.

    Fencing: an ack saying fence (the backup installed a newer view) sets
    hrb_sync_fenced until a view at least that new is installed here: the
    caller sequences nothing meanwhile. Items stay until the install
    decides (kept: owned continuously; DROPPED otherwise).

    A dup (a publish repeating the idempotency key of an item still
    waiting, hrb_sync_find_key) is added as a *waiter* (hrb_sync_wait): no
    event, released with the item it repeats (same outcome).

    Runs in the broker thread. Ownership: the caller owns the machine;
    items' bytes are copied in and lent to the release callback for the
    call only.  */
#ifndef HRB_SYNC_H
#define HRB_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_sync_t hrb_sync_t;

//  At most this many snapshots unacknowledged per pair.
#define HRB_SYNC_SNAPSHOTS_MAX 16
//  A frame of items carries at most this many bytes of envelopes (the
//  caller's encoder adds its header): more items go in the next frame.
#define HRB_SYNC_FRAME_MAX (256 * 1024)
//  Bytes counted per item besides its envelope, channel and reply.
#define HRB_SYNC_ITEM_OVERHEAD 96
//  Or'ed into ops.snapshot's answer when one of its frames was refused.
#define HRB_SYNC_REFUSED (SIZE_MAX / 2 + 1)

typedef enum {
    HRB_SYNC_REPLICATED = 1,    //  on the backup: publish it
    HRB_SYNC_ALONE,             //  publish it without a backup (--min-replicas 1)
    HRB_SYNC_DROPPED            //  not published: answer `unavailable`
} hrb_sync_outcome_t;

typedef enum {
    HRB_SYNC_NONE = 1,          //  no backup in the view
    HRB_SYNC_SAFE,
    HRB_SYNC_UNSAFE,
    HRB_SYNC_SNAPSHOT,
    HRB_SYNC_SYNCED
} hrb_sync_state_t;

//  An item lent to the callbacks.
typedef struct {
    const char *ch;             //  the channel (not NUL-terminated)
    size_t ch_len;
    uint64_t seq;               //  the event's seq (a waiter: the seq it repeats)
    const void *envelope;       //  the event as published (NULL for a waiter)
    size_t size;
    const void *reply;          //  the caller's reply context, as given to add/wait
    size_t reply_len;
    uint64_t rseq;              //  the frame it went out in (0: not sent yet)
} hrb_sync_item_t;

//  What the machine asks of its caller (all in the broker thread).
typedef struct {
    //  Encode and queue a "repl" frame to broker to: view number, session
    //  sequence r, first (a new session), the echoed stamp, and count items'
    //  envelopes in order (count 0: a keepalive). Returns 0, or -1 when it
    //  could not be queued (none of it: the machine sends it again, same r,
    //  at the next step).
    int (*frame) (void *arg, int to, uint64_t number, uint64_t r, bool first, uint64_t echo,
                  const hrb_sync_item_t *items, size_t count);
    //  Encode and queue a snapshot of channel ch to broker to, in frames
    //  with r = first_r, first_r + 1, ... (the channel's epoch and head =
    //  the last seq sequenced, its history, its keys and its pending items,
    //  hrb_sync_visit); first only for the first of them when the session
    //  is new. Stops at the first frame not queued. Returns how many frames
    //  it queued (>= 1: all of them, the snapshot went), or when one was
    //  refused HRB_SYNC_REFUSED | how many went before it: none (or a bare
    //  0): tried again at the next step with the same r; some: their r are
    //  spent and a new session starts (the backup may hold those frames,
    //  and a later frame reusing their r would be acknowledged by its
    //  racks of them).
    size_t (*snapshot) (void *arg, int to, uint64_t number, uint64_t first_r, bool first,
                        uint64_t echo, const char *ch, size_t len);
    //  An item is done (see the outcomes above).
    void (*release) (void *arg, const hrb_sync_item_t *item, hrb_sync_outcome_t outcome);
} hrb_sync_ops_t;

//  Creates the machine of broker self among brokers (1..HR_CLUSTER_MAX):
//  min_replicas 1 or 2; validity_ms (a backup's trust in its state after
//  the stamp echoed last); heartbeat_ms (keepalives go every heartbeat_ms
//  on a pair with nothing else to send); max_bytes bounds the items held.
//  ops copied, arg borrowed. Caller owns it.
hrb_sync_t *hrb_sync_new (int self, int brokers, int min_replicas, uint64_t validity_ms,
                          uint64_t heartbeat_ms, size_t max_bytes,
                          const hrb_sync_ops_t *ops, void *arg);
//  Items still waiting are freed without a release (the caller is going).
void hrb_sync_destroy (hrb_sync_t **self_p);

//  A view was installed here (number, above any before). backup_of (called
//  once per channel the machine knows: items waiting or tracked) answers
//  the channel's backup in it: a broker index, -1 for none (the channel
//  stays here without a backup), or -2 when this broker does not own the
//  channel continuously into this view (its items are DROPPED, its state
//  forgotten). Every pair starts a new session; every kept channel is SAFE
//  (NONE without a backup), snapshots are scheduled.
void hrb_sync_install (hrb_sync_t *self, uint64_t number,
                       int (*backup_of) (void *arg, const char *ch, size_t len), void *arg);

//  Makes the machine know channel ch (owned here, backup b or -1) so that
//  it gets a snapshot: called after install for every channel the owner
//  holds. Known already: nothing changes. Returns -1 when the table is
//  full (HRB_SYNC_CHANNELS_MAX).
#define HRB_SYNC_CHANNELS_MAX 1000000
int hrb_sync_track (hrb_sync_t *self, const char *ch, size_t len, int backup);

//  True when an item of size bytes (envelope + channel + reply) fits.
bool hrb_sync_room (hrb_sync_t *self, size_t size);

//  With --min-replicas 2: false while ch is known and neither SYNCED nor
//  SNAPSHOT (nor a new channel: unknown ones may publish their first
//  event), i.e. a publish must be answered `unavailable`. Always true
//  with 1.
bool hrb_sync_may_publish (hrb_sync_t *self, const char *ch, size_t len);

//  Adds a sequenced event of ch (backup b, or -1 for none): envelope
//  (size bytes), its seq, whether it starts a new epoch (seq 1), the
//  caller's reply context and its idempotency key (id NULL: none; found
//  by hrb_sync_find_key while the item waits). Copies everything. Returns
//  -1 when it does not fit (the caller checked hrb_sync_room first: a
//  broken invariant) or ch's backup differs from the one known (also
//  broken). Sent at the next step.
int hrb_sync_add (hrb_sync_t *self, const char *ch, size_t len, int backup, uint64_t seq,
                  bool new_epoch, const void *envelope, size_t size, const char *id,
                  size_t id_len, const void *reply, size_t reply_len);

//  Releases every item of ch now, ALONE, in order (a graceful handoff: the
//  channel's new owner continues after the last seq sequenced here, so
//  what waits is published first and handed over with the rest); ch is
//  forgotten.
void hrb_sync_flush (hrb_sync_t *self, const char *ch, size_t len);

//  The seq of the waiting item of ch with idempotency key id, if any.
bool hrb_sync_find_key (hrb_sync_t *self, const char *ch, size_t len, const char *id,
                        size_t id_len, uint64_t *seq);

//  Adds a waiter on ch's item of seq (found by hrb_sync_find_key): released
//  with it. Returns -1 when none waits or it does not fit.
int hrb_sync_wait (hrb_sync_t *self, const char *ch, size_t len, uint64_t seq,
                   const void *reply, size_t reply_len);

//  An ack from broker from: the view it acks frames of (number), whether it
//  refused them (fence: installed view newer than number: installed), its
//  cumulative r, gap (it missed a frame after r: start a new session), its
//  stamp, and its misses (channel, r) (count of them), at now. Acks of
//  another view or session are ignored, fences of a view not newer than
//  this one's too.
typedef struct {
    const char *ch;
    size_t len;
    uint64_t r;
} hrb_sync_miss_t;
void hrb_sync_ack (hrb_sync_t *self, int from, uint64_t number, bool fence,
                   uint64_t installed, uint64_t r, bool gap, uint64_t stamp,
                   const hrb_sync_miss_t *misses, size_t count, uint64_t now);

//  Sends what is due (frames of new items, snapshots, keepalives), makes
//  states SAFE whose time came, releases what can be. lease: the caller
//  may sequence now (only then is anything released ALONE). Call once per
//  loop turn after the turn's adds and acks.
void hrb_sync_step (hrb_sync_t *self, uint64_t now, bool lease);

//  The installed view refused this broker's frames: no sequencing until a
//  view at least this new is installed (0: not fenced).
uint64_t hrb_sync_fenced (hrb_sync_t *self);

//  The state of ch towards its backup (0 when unknown).
hrb_sync_state_t hrb_sync_state (hrb_sync_t *self, const char *ch, size_t len);

//  Visits ch's waiting items with an event, oldest first (a snapshot
//  carries them).
void hrb_sync_visit (hrb_sync_t *self, const char *ch, size_t len,
                     void (*visit) (void *arg, const hrb_sync_item_t *item), void *arg);

//  Forgets known channels with no item waiting for which exists returns
//  false, at most budget of them per call (the caller's streams expire).
void hrb_sync_sweep (hrb_sync_t *self, bool (*exists) (void *arg, const char *ch, size_t len),
                     void *arg, size_t budget);

//  Counters and gauges for /metrics.
typedef struct {
    size_t items, bytes;        //  waiting now
    size_t synced, unsynced;    //  channels SYNCED (or SNAPSHOT acked...) / not
    uint64_t oldest_ms;         //  age of the oldest waiting item at the last step
    uint64_t replicated, alone, dropped;    //  items released, by outcome
    uint64_t snapshots, sessions, fences;   //  sent / started / fences received
    uint64_t refused;           //  frames and snapshots not queued (tried again)
} hrb_sync_stats_t;
void hrb_sync_stats (hrb_sync_t *self, hrb_sync_stats_t *out);

#endif
