/*  hrb_store_lmdb_impl.h: what the LMDB store's three files share.

    Private to broker/hrb_store_lmdb*.c: hrb_store_lmdb.c (batches, handles,
    appends, reads), hrb_store_lmdb_expire.c (the age heap, eviction,
    the syncer thread, the map's growth), hrb_store_lmdb_meta.c
    (the environment, meta, recovery, scan) and hrb_store_lmdb_verify.c
    (the read-through of a store before it is opened). docs/operations.md,
    "Durable history", says what the store promises.  */
#ifndef HRB_STORE_LMDB_IMPL_H
#define HRB_STORE_LMDB_IMPL_H

#include "hrb_store.h"
#include "hr_channel.h"
#include "hr_list.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

//  Bytes counted against --history-disk per event beyond its key and value,
//  and per channel beyond its record: LMDB's node and page overhead.
#define HRB_LMDB_OVERHEAD 64
#define HRB_LMDB_EVENT_KEY 16       //  (u64 id, u64 seq) big-endian
#define HRB_LMDB_STAMP 8            //  an event's value starts with its stamp
#define HRB_LMDB_FORMAT "herald-store-1"

//  A channel's record in "channels", as kept in memory.
typedef struct {
    uint64_t id;                //  0: no record (nothing stored yet)
    char epoch [HR_EPOCH_LEN + 1];
    uint64_t head;
    uint64_t first;             //  oldest seq kept, 0 when none
    uint64_t count;             //  events kept
    uint64_t bytes;             //  their bytes, counted as stats.bytes counts them
    uint64_t last_ms;
} hrb_lmdb_rec_t;

//  The record's size on disk: id, epoch, head, first, count, bytes, last_ms.
#define HRB_LMDB_REC_SIZE (8 + HR_EPOCH_LEN + 8 * 5)

struct _hrb_history_t {
    char name [HR_CHANNEL_MAX];
    size_t len;
    hrb_lmdb_rec_t rec;         //  now, with the batch's changes
    hrb_lmdb_rec_t saved;       //  at the last commit (rollback)
    uint64_t first_stamp;       //  store clock of the oldest event: the heap's key;
                                //  0 until read (a channel opened with events)
    uint64_t saved_first_stamp;
    size_t heap_index;          //  SIZE_MAX when not in the heap (no events)
    hr_list_t dirty;            //  in the store's dirty list when changed in the batch
};

typedef struct {
    hrb_store_t base;
    char *dir;
    size_t max_count;
    uint64_t max_age_ms;
    uint64_t max_disk;
    hrb_fsync_t fsync;
    uint64_t fsync_interval_ms;
    uint64_t key_window_ms;
    size_t key_max;             //  0: no cap
    size_t key_count;           //  keys stored (counted at open and after a rollback)
    char boot [64];

    int dir_fd;                 //  holds the directory's lock (flock), -1 when none
    MDB_env *env;
    MDB_dbi meta, channels, events, keys;
    MDB_txn *txn;               //  the batch's write txn, NULL between batches
    pthread_t txn_thread;       //  the thread that began it (reads see its appends);
                                //  test it before txn: only that thread writes txn
    MDB_cursor *cursor;         //  on "events" in txn, opened once a batch (evictions)
    MDB_txn *reader;            //  a read-only txn kept reset between reads
    hrb_store_rc_t failed;      //  latched error of the lost batch, until rollback
    int failed_mdb;             //  its LMDB code (MAP_FULL grows the map at rollback)
    bool broken;                //  the syncer's fsync failed: every batch fails from
                                //  then on (atomic: the syncer sets it)
    uint64_t next_id, saved_next_id;
    uint64_t view, saved_view;  //  the view mark (hrb_store.h): in the batch, committed
    size_t map_size, map_max;

    //  The store clock: anchor + (base.clock () - mono_at_start)
    uint64_t anchor;
    uint64_t mono_at_start;
    bool clock_started;

    //  Recovery (scan's suspect): 0 none, 2 all
    int suspect_rule;

    hrb_history_t **heap;       //  min-heap of handles with events, by first_stamp
    size_t heap_size, heap_cap;
    hr_list_t dirty;            //  handles changed in the batch

    hrb_store_stats_t stats;    //  events, bytes, evicted_* now
    hrb_store_stats_t saved_stats;

    //  The syncer (batch): fields shared with it are accessed atomically
    pthread_t syncer;
    bool syncer_running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    uint64_t committed_txn;     //  last txn id committed
    uint64_t synced_txn;        //  last txn id on disk
} hrb_lmdb_t;

//  hrb_store_lmdb.c
uint64_t hrb_lmdb_clock (hrb_lmdb_t *self);
//  Begins the batch's write txn if none is open; the latched error or
//  HRB_STORE_IO when LMDB refuses.
hrb_store_rc_t hrb_lmdb_begin (hrb_lmdb_t *self);
//  The batch's cursor on "events" (the txn is open), NULL when LMDB refuses.
MDB_cursor *hrb_lmdb_cursor (hrb_lmdb_t *self);
//  Ends the batch's txn: commits it (commit) or aborts it; LMDB's result.
int hrb_lmdb_end (hrb_lmdb_t *self, bool commit);
//  Latches a failed LMDB call: the batch is lost (txn aborted). Returns the
//  store error for rc.
hrb_store_rc_t hrb_lmdb_fail (hrb_lmdb_t *self, int rc);
//  Puts the handle in the dirty list (its record is written at commit).
void hrb_lmdb_touch (hrb_lmdb_t *self, hrb_history_t *history);

//  Reads the stamp of the channel's oldest event (first_stamp was 0).
void hrb_lmdb_stamp_load (hrb_lmdb_t *self, hrb_history_t *history);

//  hrb_store_lmdb_expire.c
void hrb_lmdb_heap_update (hrb_lmdb_t *self, hrb_history_t *history);
void hrb_lmdb_heap_remove (hrb_lmdb_t *self, hrb_history_t *history);
//  Deletes the oldest event of a channel, in the batch's txn.
hrb_store_rc_t hrb_lmdb_evict_oldest (hrb_lmdb_t *self, hrb_history_t *history);
//  Deletes every event of a channel, in the batch's txn.
hrb_store_rc_t hrb_lmdb_evict_all (hrb_lmdb_t *self, hrb_history_t *history);
//  Evicts globally oldest events until extra more bytes fit the budget.
hrb_store_rc_t hrb_lmdb_fit (hrb_lmdb_t *self, uint64_t extra);
size_t hrb_lmdb_expire (hrb_store_t *base, size_t budget);
//  Grows the map when more than 3/4 used (no txn open): -1 when it cannot.
int hrb_lmdb_grow (hrb_lmdb_t *self, bool force);
//  Allocates the data file's blocks up to size bytes (the map is written
//  through memory, MDB_WRITEMAP): 0, or the errno of a full disk.
int hrb_lmdb_reserve (hrb_lmdb_t *self, size_t size);
int hrb_lmdb_syncer_start (hrb_lmdb_t *self);
void hrb_lmdb_syncer_stop (hrb_lmdb_t *self);
void hrb_lmdb_count_fsync (hrb_lmdb_t *self);

//  hrb_store_lmdb_meta.c
void hrb_lmdb_rec_pack (const hrb_lmdb_rec_t *rec, uint8_t out [HRB_LMDB_REC_SIZE]);
//  -1 when the value is not a record.
int hrb_lmdb_rec_unpack (hrb_lmdb_rec_t *rec, const MDB_val *value);
void hrb_lmdb_be64_put (uint8_t *out, uint64_t value);
uint64_t hrb_lmdb_be64_get (const uint8_t *in);
//  Opens the environment, checks the format, decides the recovery, writes
//  clean=0 and syncs. -1 with a reason in err.
int hrb_lmdb_env_open (hrb_lmdb_t *self, hr_buf_t *err);
//  Writes clock, next_id and the view mark to meta in the batch's txn.
int hrb_lmdb_meta_commit (hrb_lmdb_t *self);
//  Records a clean stop (after the last commit) and syncs.
void hrb_lmdb_meta_clean (hrb_lmdb_t *self);
hrb_store_rc_t hrb_lmdb_scan (hrb_store_t *base, hrb_store_channel_fn *channel,
                              hrb_store_key_fn *key, void *arg, hr_buf_t *err);

//  hrb_store_lmdb_verify.c
//  Reads the whole store in a child process, before this one opens it: -1
//  with a reason when the child found it damaged (or died of it).
int hrb_lmdb_verify (hrb_lmdb_t *self, hr_buf_t *err);

#endif
