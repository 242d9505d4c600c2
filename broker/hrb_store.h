/*  hrb_store: where a broker keeps each channel's state and recent events.

    An interface with two implementations (docs/architecture.md §4): the
    memory store (hrb_store_mem.c: today's default, lost at exit) and the
    LMDB store (hrb_store_lmdb*.c: --data-dir, kept across restarts). One
    contract test suite (tests/unit/test_hrb_store_contract.c) runs against
    both.

    A store hands out one history handle per channel. A channel has an
    epoch and a head (its last seq), set with set_epoch; events are
    appended in seq order and read back as encoded envelopes. Bounds
    (count, age, memory or disk) are the store's business.

    Batches. Every change (set_epoch, append, key, drop, expire) joins the
    current batch; commit makes the batch durable (as --fsync says; a no-op
    for the memory store). The broker commits once per loop turn and sends
    no event and no acknowledgement of the batch before commit returned
    HRB_STORE_OK (hrb_outbox). When an append fails, the batch is lost:
    every later change of the batch fails too and commit returns the error;
    the caller then calls rollback (reader lock held), after which the
    store is as at the last successful commit, in memory as on disk.

    Threads. One thread (the broker's) makes every call but read, first and
    stats, and holds the history reader's lock (hrb_reader) around every
    call except commit, scan and destroy. The reader thread calls read and
    first while it holds that lock: it sees what the last commit made
    durable, never a batch in progress.

    Clocks. Age bounds use the store's own clock, store->clock (default:
    hr_mono_ms). The LMDB store carries it across restarts: it goes on from
    max(the clock it last committed, the wall clock at open), so a wall-clock
    step while running neither evicts everything nor nothing. Tests set
    store->clock before the first call.

    Ownership: the store owns every history and every stored byte; visitors
    receive views valid only during the call.  */
#ifndef HRB_STORE_H
#define HRB_STORE_H

#include "hr_buf.h"
#include "hr_epoch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_history_t hrb_history_t;

typedef enum {
    HRB_STORE_OK = 0,
    HRB_STORE_FULL,             //  over the disk budget even after evicting, or
                                //  the map cannot grow: publishes get storage_full
    HRB_STORE_TOO_BIG,          //  append: this event alone is over the disk budget;
                                //  refused alone, the batch goes on (storage_full)
    HRB_STORE_IO                //  the disk failed (I/O error, damaged file):
                                //  publishes get internal
} hrb_store_rc_t;

//  What a store holds of a channel.
typedef struct {
    char epoch [HR_EPOCH_LEN + 1];  //  "" when the store holds nothing of it
    uint64_t head;              //  last seq of the epoch (0 before the first)
    uint64_t first;             //  oldest seq kept, 0 when none
    uint64_t last_ms;           //  wall clock (ms) of the last append or set_epoch
    bool suspect;               //  scan only: a crash may have lost events of it that
                                //  were published, or its events stop short of its
                                //  head (a handoff cut short); it must start a new epoch
} hrb_store_state_t;

//  Called by read for each event, oldest first.
typedef void (hrb_store_visit_fn) (void *arg, uint64_t seq, const void *bytes, size_t size);

//  Called by scan for each stored channel (name not NUL-terminated), in no
//  particular order.
typedef void (hrb_store_channel_fn) (void *arg, const char *name, size_t len,
                                     const hrb_store_state_t *state);

//  Called by scan for each idempotency key kept (key), oldest first: the
//  channel, the key, the seq and epoch it was published at, and its age in
//  ms on the store's clock.
typedef void (hrb_store_key_fn) (void *arg, const char *name, size_t len, const char *id,
                                 size_t id_len, uint64_t seq, const char *epoch,
                                 uint64_t age_ms);

typedef struct {
    uint64_t events;            //  events kept, all channels
    uint64_t bytes;             //  bytes kept, including per-event overhead and
                                //  each channel's index of its events
    uint64_t evicted_count;     //  evicted because a channel was over its count
    uint64_t evicted_age;       //  evicted because older than the age bound
    uint64_t evicted_memory;    //  evicted because the store was over its memory
                                //  cap (memory) or disk budget (LMDB)
    //  Durable stores only (0 for memory)
    uint64_t disk_bytes;        //  size of the store's files
    uint64_t map_bytes;         //  the LMDB map's size now
    uint64_t commits;           //  batches committed
    uint64_t commit_us_sum;     //  time spent in commit, µs
    uint64_t commit_us_max;     //  longest commit since the last stats call, µs
    uint64_t fsyncs;            //  fsyncs made (in commits and by the batch syncer)
    uint64_t failures;          //  batches lost (commit returned an error), and
                                //  events refused alone (HRB_STORE_TOO_BIG)
} hrb_store_stats_t;

typedef struct _hrb_store_t hrb_store_t;

typedef struct {
    //  The handle of a channel (name not NUL-terminated, at most
    //  HR_CHANNEL_MAX bytes) and, in state, what the store holds of it
    //  (epoch "" when nothing). Opening a channel twice without release or
    //  drop is a caller bug.
    hrb_history_t *(*open) (hrb_store_t *self, const char *name, size_t len,
                            hrb_store_state_t *state);
    //  Sets the channel's epoch and head from now on: a new channel (head
    //  0), a new epoch after a crash, or a channel handed over (head H,
    //  then restored with appends of seqs up to H). Every event kept of the
    //  channel is dropped first.
    hrb_store_rc_t (*set_epoch) (hrb_store_t *self, hrb_history_t *history,
                                 const char *epoch, uint64_t head, uint64_t now_ms);
    //  Appends an event: seq above every seq kept of the channel; the head
    //  becomes max (head, seq). HRB_STORE_TOO_BIG changes nothing and
    //  fails nothing else. History is one unbroken run of seqs: when
    //  seq is not one above the last kept, the kept events are dropped
    //  first. ts is the wall clock (ms) of the publish.
    hrb_store_rc_t (*append) (hrb_store_t *self, hrb_history_t *history, uint64_t seq,
                              uint64_t ts, const void *bytes, size_t size);
    //  Keeps an idempotency key published at seq of the channel's epoch, for
    //  the dedupe window, so that a restart remembers it (scan). The memory
    //  store keeps none (hrb_dedupe holds them while the broker runs).
    hrb_store_rc_t (*key) (hrb_store_t *self, hrb_history_t *history, const char *id,
                           size_t id_len, uint64_t seq);
    //  Makes the batch durable. Called without the reader lock. On an error
    //  the batch is lost: call rollback before anything else.
    hrb_store_rc_t (*commit) (hrb_store_t *self);
    //  After a failed commit: the store as it was at the last commit.
    void (*rollback) (hrb_store_t *self);
    //  Forgets a handle; what is stored stays (a broker stopping).
    void (*release) (hrb_store_t *self, hrb_history_t *history);
    //  Drops a channel: its handle, state and events (idle expiry, a
    //  channel replaced at the cap or dropped from a cluster view).
    void (*drop) (hrb_store_t *self, hrb_history_t *history);
    //  Oldest seq kept, or 0 when the history is empty.
    uint64_t (*first) (hrb_store_t *self, hrb_history_t *history);
    //  Visits up to limit events with seq > since, oldest first, of those
    //  committed (any thread) or appended (the broker thread); returns how
    //  many.
    size_t (*read) (hrb_store_t *self, hrb_history_t *history, uint64_t since,
                    size_t limit, hrb_store_visit_fn *visit, void *arg);
    //  Evicts events older than the age bound on store->clock, at most
    //  budget of them (the rest wait for the next call), and for the disk
    //  budget. Returns how many were evicted. May grow the LMDB map, so it
    //  is called with the reader lock held, between batches.
    size_t (*expire) (hrb_store_t *self, size_t budget);
    //  At start-up, before any open: visits every stored channel, then
    //  every idempotency key. Fails (HRB_STORE_IO, reason in err) when the
    //  store cannot be read. Visits nothing for the memory store.
    hrb_store_rc_t (*scan) (hrb_store_t *self, hrb_store_channel_fn *channel,
                            hrb_store_key_fn *key, void *arg, hr_buf_t *err);
    void (*stats) (hrb_store_t *self, hrb_store_stats_t *stats);
    //  In a cluster: the number of the last view whose changes to the
    //  channels (drops, takeovers) the store holds, as set_view left it at
    //  the last commit (0: none). A restarted broker keeps its channels
    //  only when it is the view it saved (docs/cluster.md, "Durable
    //  history in a cluster"). The memory store keeps it while it lives.
    uint64_t (*view) (hrb_store_t *self);
    //  Sets it, in the batch: stored by the next commit, undone by rollback.
    void (*set_view) (hrb_store_t *self, uint64_t view);
    //  Commits what is left, records a clean stop, frees everything. Every
    //  handle must have been released or dropped.
    void (*destroy) (hrb_store_t **self_p);
} hrb_store_ops_t;

//  Every store starts with this, so callers dispatch through store->ops.
struct _hrb_store_t {
    const hrb_store_ops_t *ops;
    bool durable;               //  events outlive the process (LMDB)
    uint64_t (*clock) (void);   //  ms, monotonic: the age bound's clock
};

//  The in-memory store: at most max_count events per channel, none older
//  than max_age_ms, at most max_bytes in all (oldest evicted first).
//  Never fails. Caller owns the store; destroy with store->ops->destroy.
hrb_store_t *hrb_store_mem_new (size_t max_count, uint64_t max_age_ms, uint64_t max_bytes);

typedef enum {
    HRB_FSYNC_ALWAYS,           //  each commit is on disk before it returns
    HRB_FSYNC_BATCH,            //  commits reach the OS at once, the disk within
                                //  interval_ms (a syncer thread)
    HRB_FSYNC_OFF               //  commits reach the OS; the disk when it likes
} hrb_fsync_t;

typedef struct {
    const char *dir;            //  --data-dir: made if missing (one level)
    size_t max_count;           //  --history-size, per channel
    uint64_t max_age_ms;        //  --history-age
    uint64_t max_disk;          //  --history-disk: bytes kept, all channels
    hrb_fsync_t fsync;          //  --fsync
    uint64_t fsync_interval_ms; //  --fsync-interval (batch)
    uint64_t key_window_ms;     //  --dedupe-window: how long keys are kept
    size_t key_max;             //  --dedupe-max: most keys kept, oldest dropped
                                //  first (0: no cap)
    const char *boot_id;        //  this boot's id; NULL: /proc/sys/kernel/random/boot_id
                                //  (tests pass another to play a machine restart)
} hrb_store_lmdb_config_t;

//  The LMDB store in config->dir (docs/operations.md, "Durable history").
//  NULL with a reason in err when the directory cannot be made or written,
//  holds a file that is not a Herald store, or the store is damaged.
//  Caller owns the store; destroy with store->ops->destroy.
hrb_store_t *hrb_store_lmdb_new (const hrb_store_lmdb_config_t *config, hr_buf_t *err);

//  Parses "always", "batch" or "off"; -1 for anything else.
int hrb_fsync_parse (const char *text, hrb_fsync_t *fsync);

#endif
