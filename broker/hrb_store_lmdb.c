/*  hrb_store_lmdb: the durable history store (--data-dir), on LMDB.

    One environment, four named databases (hrb_store_lmdb_meta.c has the
    layout). A batch is one LMDB write txn, begun by the first change and
    ended by commit. An append is one put of the event; a channel's record
    is written once per commit, for the handles in the dirty list. Each
    handle keeps its record as at the last commit, so rollback after a
    failed batch puts memory back as LMDB's aborted txn left the disk.

    Reads come from two threads: the broker's, which sees its own batch
    through the write txn, and the reader thread, which uses a read-only
    txn of its own (MDB_NOTLS), reset between calls, and so sees only
    committed batches.  */
#include "hrb_store_lmdb_impl.h"
#include "hr_buf.h"
#include "hr_time.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t
hrb_lmdb_clock (hrb_lmdb_t *self)
{
    uint64_t mono = self->base.clock ();
    if (!self->clock_started) {
        //  Started at the first use, so a test's store->clock set after
        //  new counts from where it starts
        self->mono_at_start = mono;
        self->clock_started = true;
    }
    return self->anchor + (mono - self->mono_at_start);
}

MDB_cursor *
hrb_lmdb_cursor (hrb_lmdb_t *self)
{
    if (!self->cursor && mdb_cursor_open (self->txn, self->events, &self->cursor))
        self->cursor = NULL;
    return self->cursor;
}

int
hrb_lmdb_end (hrb_lmdb_t *self, bool commit)
{
    if (!self->txn)
        return 0;
    if (self->cursor)
        mdb_cursor_close (self->cursor);
    self->cursor = NULL;
    int rc = 0;
    if (commit)
        rc = mdb_txn_commit (self->txn);    //  frees the txn, committed or not
    else
        mdb_txn_abort (self->txn);
    self->txn = NULL;
    return rc;
}

hrb_store_rc_t
hrb_lmdb_fail (hrb_lmdb_t *self, int rc)
{
    hrb_lmdb_end (self, false);
    if (self->failed == HRB_STORE_OK) {
        self->failed = rc == MDB_MAP_FULL || rc == MDB_TXN_FULL || rc == ENOSPC?
                       HRB_STORE_FULL: HRB_STORE_IO;
        self->failed_mdb = rc;
    }
    return self->failed;
}

hrb_store_rc_t
hrb_lmdb_begin (hrb_lmdb_t *self)
{
    if (self->failed != HRB_STORE_OK)
        return self->failed;
    if (__atomic_load_n (&self->broken, __ATOMIC_ACQUIRE))
        return hrb_lmdb_fail (self, EIO);
    if (self->txn)
        return HRB_STORE_OK;
    //  Between batches, with the reader lock held: the one moment the map
    //  may grow, so a burst between two expire calls does not fill it
    hrb_lmdb_grow (self, false);
    int rc = mdb_txn_begin (self->env, NULL, 0, &self->txn);
    if (rc) {
        self->txn = NULL;
        return hrb_lmdb_fail (self, rc);
    }
    self->txn_thread = pthread_self ();
    return HRB_STORE_OK;
}

void
hrb_lmdb_touch (hrb_lmdb_t *self, hrb_history_t *history)
{
    if (history->dirty.next == &history->dirty)
        hr_list_push_back (&self->dirty, &history->dirty);
}

//  The txn a read uses: the batch's on the thread that began it, else the
//  kept read-only txn renewed (NULL when LMDB refuses). s_read_end after.
static MDB_txn *
s_read_begin (hrb_lmdb_t *self)
{
    if (pthread_equal (self->txn_thread, pthread_self ()) && self->txn)
        return self->txn;
    int rc = self->reader? mdb_txn_renew (self->reader)
                         : mdb_txn_begin (self->env, NULL, MDB_RDONLY, &self->reader);
    return rc? NULL: self->reader;
}

static void
s_read_end (hrb_lmdb_t *self, MDB_txn *txn)
{
    //  Reset, not kept open: an open reader would pin old pages and stop
    //  the map from growing
    if (txn && txn == self->reader)
        mdb_txn_reset (txn);
}

static void
s_event_key (uint8_t key [HRB_LMDB_EVENT_KEY], uint64_t id, uint64_t seq)
{
    hrb_lmdb_be64_put (key, id);
    hrb_lmdb_be64_put (key + 8, seq);
}

//  What a channel's record costs against the budget.
static uint64_t
s_channel_cost (const hrb_history_t *history)
{
    return history->len + HRB_LMDB_REC_SIZE + HRB_LMDB_OVERHEAD;
}

//  Gives a channel touched for the first time its id (and its record).
static void
s_assign_id (hrb_lmdb_t *self, hrb_history_t *history)
{
    if (history->rec.id)
        return;
    history->rec.id = self->next_id++;
    self->stats.bytes += s_channel_cost (history);
}

static hrb_history_t *
s_open (hrb_store_t *base, const char *name, size_t len, hrb_store_state_t *state)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    assert (len <= HR_CHANNEL_MAX);
    hrb_history_t *history = hr_calloc (1, sizeof *history);
    memcpy (history->name, name, len);
    history->len = len;
    history->heap_index = SIZE_MAX;
    hr_list_init (&history->dirty);
    memset (state, 0, sizeof *state);

    MDB_txn *txn = s_read_begin (self);
    MDB_val key = { len, (void *) name }, value;
    if (txn && mdb_get (txn, self->channels, &key, &value) == 0
    &&  hrb_lmdb_rec_unpack (&history->rec, &value) == 0) {
        hrb_lmdb_rec_t *rec = &history->rec;
        memcpy (state->epoch, rec->epoch, sizeof state->epoch);
        state->head = rec->head;
        state->first = rec->first;
        state->last_ms = rec->last_ms;
        //  Its oldest event's stamp is read when the heap needs it
        //  (hrb_lmdb_stamp_load): a restart opens 100 k channels without
        //  reading 100 k events from a cold disk
        if (rec->count)
            hrb_lmdb_heap_update (self, history);
    }
    s_read_end (self, txn);
    history->saved = history->rec;
    history->saved_first_stamp = history->first_stamp;
    return history;
}

void
hrb_lmdb_stamp_load (hrb_lmdb_t *self, hrb_history_t *history)
{
    //  No event at first: the oldest of all, so eviction finds out
    history->first_stamp = 1;
    MDB_txn *txn = s_read_begin (self);
    uint8_t key_bytes [HRB_LMDB_EVENT_KEY];
    s_event_key (key_bytes, history->rec.id, history->rec.first);
    MDB_val key = { sizeof key_bytes, key_bytes }, value;
    if (txn && mdb_get (txn, self->events, &key, &value) == 0
    &&  value.mv_size >= HRB_LMDB_STAMP && hrb_lmdb_be64_get (value.mv_data))
        history->first_stamp = hrb_lmdb_be64_get (value.mv_data);
    s_read_end (self, txn);
    hrb_lmdb_heap_update (self, history);
}

static hrb_store_rc_t
s_set_epoch (hrb_store_t *base, hrb_history_t *history, const char *epoch, uint64_t head,
             uint64_t now_ms)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    hrb_store_rc_t rc = hrb_lmdb_begin (self);
    if (rc)
        return rc;
    hrb_lmdb_touch (self, history);
    if (history->rec.count && (rc = hrb_lmdb_evict_all (self, history)))
        return rc;
    s_assign_id (self, history);
    hrb_lmdb_rec_t *rec = &history->rec;
    memset (rec->epoch, 0, sizeof rec->epoch);
    memcpy (rec->epoch, epoch, strnlen (epoch, HR_EPOCH_LEN));
    rec->head = head;
    rec->first = 0;
    rec->last_ms = now_ms;
    return HRB_STORE_OK;
}

static hrb_store_rc_t
s_append (hrb_store_t *base, hrb_history_t *history, uint64_t seq, uint64_t ts,
          const void *bytes, size_t size)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    hrb_store_rc_t rc = hrb_lmdb_begin (self);
    if (rc)
        return rc;
    uint64_t cost = HRB_LMDB_EVENT_KEY + HRB_LMDB_STAMP + size + HRB_LMDB_OVERHEAD;
    if (cost > self->max_disk) {        //  can never fit: refused alone, nothing touched
        __atomic_add_fetch (&self->stats.failures, 1, __ATOMIC_RELAXED);
        return HRB_STORE_TOO_BIG;
    }
    hrb_lmdb_touch (self, history);
    s_assign_id (self, history);
    hrb_lmdb_rec_t *rec = &history->rec;
    //  History is one unbroken run of seqs (hrb_store.h), so its last is
    //  first + count - 1: a seq past a gap drops the run, in the batch (a
    //  rollback brings it back), counted nowhere, as set_epoch does
    if (rec->count && seq != rec->first + rec->count
    &&  (rc = hrb_lmdb_evict_all (self, history)))
        return rc;
    if (seq > rec->head)
        rec->head = seq;
    rec->last_ms = ts;
    if (self->max_count == 0)
        return HRB_STORE_OK;
    if (rec->count >= self->max_count) {
        if ((rc = hrb_lmdb_evict_oldest (self, history)))
            return rc;
        self->stats.evicted_count++;
    }
    if ((rc = hrb_lmdb_fit (self, cost)))
        return rc;

    uint64_t stamp = hrb_lmdb_clock (self);
    uint8_t key_bytes [HRB_LMDB_EVENT_KEY];
    s_event_key (key_bytes, rec->id, seq);
    MDB_val key = { sizeof key_bytes, key_bytes };
    MDB_val value = { HRB_LMDB_STAMP + size, NULL };
    int mrc = mdb_put (self->txn, self->events, &key, &value,
                       MDB_RESERVE | MDB_NOOVERWRITE);
    //  A seq at or below one kept is the caller's bug, not the disk's
    assert (mrc != MDB_KEYEXIST);
    if (mrc)
        return hrb_lmdb_fail (self, mrc);
    hrb_lmdb_be64_put (value.mv_data, stamp);
    memcpy ((uint8_t *) value.mv_data + HRB_LMDB_STAMP, bytes, size);

    rec->count++;
    rec->bytes += cost;
    self->stats.events++;
    self->stats.bytes += cost;
    if (rec->count == 1) {
        rec->first = seq;
        history->first_stamp = stamp;
        hrb_lmdb_heap_update (self, history);
    }
    return HRB_STORE_OK;
}

static hrb_store_rc_t
s_key (hrb_store_t *base, hrb_history_t *history, const char *id, size_t id_len,
       uint64_t seq)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    hrb_store_rc_t rc = hrb_lmdb_begin (self);
    if (rc)
        return rc;
    //  A key is kept for a channel with a record; one too long for an LMDB
    //  key (511 bytes) is not kept: the broker's own table still has it
    if (history->rec.id == 0
    ||  HRB_LMDB_EVENT_KEY + id_len > (size_t) mdb_env_get_maxkeysize (self->env))
        return HRB_STORE_OK;
    uint8_t key_bytes [HRB_LMDB_EVENT_KEY + 512];
    hrb_lmdb_be64_put (key_bytes, hrb_lmdb_clock (self));
    hrb_lmdb_be64_put (key_bytes + 8, history->rec.id);
    memcpy (key_bytes + HRB_LMDB_EVENT_KEY, id, id_len);
    uint8_t value_bytes [8 + HR_EPOCH_LEN];
    hrb_lmdb_be64_put (value_bytes, seq);
    memcpy (value_bytes + 8, history->rec.epoch, HR_EPOCH_LEN);
    MDB_val key = { HRB_LMDB_EVENT_KEY + id_len, key_bytes };
    MDB_val value = { sizeof value_bytes, value_bytes };
    int mrc = mdb_put (self->txn, self->keys, &key, &value, 0);
    if (mrc)
        return hrb_lmdb_fail (self, mrc);
    //  Bounded as the broker's own table is (--dedupe-max): the oldest goes
    if (++self->key_count > self->key_max && self->key_max) {
        MDB_cursor *cursor;
        mrc = mdb_cursor_open (self->txn, self->keys, &cursor);
        if (mrc == 0) {
            mrc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST);
            if (mrc == 0)
                mrc = mdb_cursor_del (cursor, 0);
            mdb_cursor_close (cursor);
        }
        if (mrc)
            return hrb_lmdb_fail (self, mrc);
        self->key_count--;
    }
    return HRB_STORE_OK;
}

//  Idempotency keys stored, from the disk (at open, after a rollback).
static void
s_count_keys (hrb_lmdb_t *self)
{
    MDB_txn *txn;
    MDB_stat stat;
    self->key_count = 0;
    if (mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn) == 0) {
        if (mdb_stat (txn, self->keys, &stat) == 0)
            self->key_count = stat.ms_entries;
        mdb_txn_abort (txn);
    }
}

//  Writes a dirty handle's record in the batch's txn.
static int
s_put_record (hrb_lmdb_t *self, hrb_history_t *history)
{
    uint8_t packed [HRB_LMDB_REC_SIZE];
    hrb_lmdb_rec_pack (&history->rec, packed);
    MDB_val key = { history->len, history->name };
    MDB_val value = { sizeof packed, packed };
    return mdb_put (self->txn, self->channels, &key, &value, 0);
}

static void
s_account (hrb_lmdb_t *self, uint64_t started_us)
{
    uint64_t took = hr_mono_us () - started_us;
    __atomic_add_fetch (&self->stats.commits, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch (&self->stats.commit_us_sum, took, __ATOMIC_RELAXED);
    uint64_t max = __atomic_load_n (&self->stats.commit_us_max, __ATOMIC_RELAXED);
    while (took > max
    &&    !__atomic_compare_exchange_n (&self->stats.commit_us_max, &max, took, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

//  Copies what a batch changes of the stats (not the counters commit and
//  the syncer keep atomically).
static void
s_copy_counts (hrb_store_stats_t *to, const hrb_store_stats_t *from)
{
    to->events = from->events;
    to->bytes = from->bytes;
    to->evicted_count = from->evicted_count;
    to->evicted_age = from->evicted_age;
    to->evicted_memory = from->evicted_memory;
}

static hrb_store_rc_t
s_commit (hrb_store_t *base)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    uint64_t started = hr_mono_us ();
    if (self->failed) {
        __atomic_add_fetch (&self->stats.failures, 1, __ATOMIC_RELAXED);
        return self->failed;
    }
    if (!self->txn)
        return HRB_STORE_OK;       //  an idle loop turn writes nothing
    int rc = 0;
    hr_list_t *node;
    for (node = hr_list_first (&self->dirty); node && !rc;
         node = hr_list_next (&self->dirty, node))
        rc = s_put_record (self, hr_list_entry (node, hrb_history_t, dirty));
    if (!rc)
        rc = hrb_lmdb_meta_commit (self);
    uint64_t txn_id = mdb_txn_id (self->txn);
    if (!rc)
        rc = hrb_lmdb_end (self, true);
    if (rc) {
        hrb_lmdb_fail (self, rc);
        __atomic_add_fetch (&self->stats.failures, 1, __ATOMIC_RELAXED);
        return self->failed;
    }
    __atomic_store_n (&self->committed_txn, txn_id, __ATOMIC_RELEASE);
    if (self->fsync == HRB_FSYNC_ALWAYS)
        hrb_lmdb_count_fsync (self);   //  LMDB synced in mdb_txn_commit
    hrb_store_rc_t result = HRB_STORE_OK;
    while ((node = hr_list_first (&self->dirty))) {
        hrb_history_t *history = hr_list_entry (node, hrb_history_t, dirty);
        history->saved = history->rec;
        history->saved_first_stamp = history->first_stamp;
        hr_list_remove (node);
    }
    s_copy_counts (&self->saved_stats, &self->stats);
    self->saved_next_id = self->next_id;
    self->saved_view = self->view;
    s_account (self, started);
    return result;
}

static void
s_rollback (hrb_store_t *base)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    hrb_lmdb_end (self, false);
    hr_list_t *node;
    while ((node = hr_list_first (&self->dirty))) {
        hrb_history_t *history = hr_list_entry (node, hrb_history_t, dirty);
        history->rec = history->saved;
        history->first_stamp = history->saved_first_stamp;
        if (history->rec.count)
            hrb_lmdb_heap_update (self, history);
        else
            hrb_lmdb_heap_remove (self, history);
        hr_list_remove (node);
    }
    s_copy_counts (&self->stats, &self->saved_stats);
    self->next_id = self->saved_next_id;
    self->view = self->saved_view;
    s_count_keys (self);
    //  The map filled: grow it now (no txn open) so the next batch fits
    if (self->failed_mdb == MDB_MAP_FULL)
        hrb_lmdb_grow (self, true);
    self->failed = HRB_STORE_OK;
    self->failed_mdb = 0;
}

static void
s_forget (hrb_lmdb_t *self, hrb_history_t *history)
{
    hr_list_remove (&history->dirty);
    hrb_lmdb_heap_remove (self, history);
    free (history);
}

static void
s_release (hrb_store_t *base, hrb_history_t *history)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    //  Changed in this batch: its record goes in the txn now
    if (history->dirty.next != &history->dirty && self->txn) {
        int rc = s_put_record (self, history);
        if (rc)
            hrb_lmdb_fail (self, rc);
    }
    s_forget (self, history);
}

static void
s_drop (hrb_store_t *base, hrb_history_t *history)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    if (history->rec.id && hrb_lmdb_begin (self) == HRB_STORE_OK
    &&  hrb_lmdb_evict_all (self, history) == HRB_STORE_OK) {
        MDB_val key = { history->len, history->name };
        int rc = mdb_del (self->txn, self->channels, &key, NULL);
        if (rc && rc != MDB_NOTFOUND)
            hrb_lmdb_fail (self, rc);
        else
            self->stats.bytes -= s_channel_cost (history);
    }
    //  Its keys stay until the window ends; scan skips keys of ids gone
    s_forget (self, history);
}

static uint64_t
s_first (hrb_store_t *base, hrb_history_t *history)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    if (pthread_equal (self->txn_thread, pthread_self ()) && self->txn)
        return history->rec.first;
    //  Another thread: what the last commit holds
    uint64_t first = 0;
    MDB_txn *txn = history->rec.id? s_read_begin (self): NULL;
    MDB_cursor *cursor;
    if (txn && mdb_cursor_open (txn, self->events, &cursor) == 0) {
        uint8_t key_bytes [HRB_LMDB_EVENT_KEY];
        s_event_key (key_bytes, history->rec.id, 0);
        MDB_val key = { sizeof key_bytes, key_bytes }, value;
        if (mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE) == 0
        &&  key.mv_size == HRB_LMDB_EVENT_KEY
        &&  hrb_lmdb_be64_get (key.mv_data) == history->rec.id)
            first = hrb_lmdb_be64_get ((uint8_t *) key.mv_data + 8);
        mdb_cursor_close (cursor);
    }
    s_read_end (self, txn);
    //  The batch in progress may be committed before this thread's read
    //  that follows (commit runs without the reader lock), and its
    //  evictions with it: never say kept what the batch has evicted, or
    //  the read would skip it unsaid. A batch that emptied the channel
    //  (a new epoch) leaves it as committed: the read sees the old or none
    if (first && history->rec.count && history->rec.first > first)
        first = history->rec.first;
    return first;
}

static size_t
s_read (hrb_store_t *base, hrb_history_t *history, uint64_t since, size_t limit,
        hrb_store_visit_fn *visit, void *arg)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    uint64_t id = history->rec.id;
    if (id == 0 || limit == 0)
        return 0;
    MDB_txn *txn = s_read_begin (self);
    MDB_cursor *cursor;
    size_t visited = 0;
    if (txn && mdb_cursor_open (txn, self->events, &cursor) == 0) {
        uint8_t key_bytes [HRB_LMDB_EVENT_KEY];
        s_event_key (key_bytes, id, since + 1);
        MDB_val key = { sizeof key_bytes, key_bytes }, value;
        int rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE);
        while (rc == 0 && visited < limit
        &&     key.mv_size == HRB_LMDB_EVENT_KEY && value.mv_size >= HRB_LMDB_STAMP
        &&     hrb_lmdb_be64_get (key.mv_data) == id) {
            visit (arg, hrb_lmdb_be64_get ((uint8_t *) key.mv_data + 8),
                   (uint8_t *) value.mv_data + HRB_LMDB_STAMP,
                   value.mv_size - HRB_LMDB_STAMP);
            visited++;
            rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
        }
        mdb_cursor_close (cursor);
    }
    s_read_end (self, txn);
    return visited;
}

static void
s_stats (hrb_store_t *base, hrb_store_stats_t *stats)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    memset (stats, 0, sizeof *stats);
    s_copy_counts (stats, &self->stats);
    //  Commit and the syncer count these without the reader lock
    stats->commits = __atomic_load_n (&self->stats.commits, __ATOMIC_RELAXED);
    stats->commit_us_sum = __atomic_load_n (&self->stats.commit_us_sum, __ATOMIC_RELAXED);
    stats->commit_us_max = __atomic_exchange_n (&self->stats.commit_us_max, 0,
                                                __ATOMIC_RELAXED);
    stats->fsyncs = __atomic_load_n (&self->stats.fsyncs, __ATOMIC_RELAXED);
    stats->failures = __atomic_load_n (&self->stats.failures, __ATOMIC_RELAXED);
    stats->map_bytes = self->map_size;
    hr_buf_t path = HR_BUF_INIT;
    hr_buf_printf (&path, "%s/data.mdb", self->dir);
    struct stat st;
    stats->disk_bytes = stat (path.data, &st) == 0? (uint64_t) st.st_blocks * 512: 0;
    hr_buf_free (&path);
}

//  Frees what new made, whatever got made.
static void
s_free (hrb_lmdb_t *self)
{
    while (self->heap_size)
        s_forget (self, self->heap [0]);
    if (self->reader)
        mdb_txn_abort (self->reader);
    if (self->env)
        mdb_env_close (self->env);
    if (self->dir_fd >= 0)
        close (self->dir_fd);      //  and so the lock
    pthread_mutex_destroy (&self->lock);
    pthread_cond_destroy (&self->wake);
    free (self->heap);
    free (self->dir);
    free (self);
}

static void
s_destroy (hrb_store_t **base_p)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) *base_p;
    if (!self)
        return;
    if (self->failed)
        s_rollback (&self->base);
    //  After a failed fsync the stop is not clean: the next start judges
    bool committed = s_commit (&self->base) == HRB_STORE_OK
                  && !__atomic_load_n (&self->broken, __ATOMIC_ACQUIRE);
    hrb_lmdb_syncer_stop (self);
    if (committed)
        hrb_lmdb_meta_clean (self);
    s_free (self);
    *base_p = NULL;
}

static uint64_t
s_view (hrb_store_t *base)
{
    return ((hrb_lmdb_t *) base)->saved_view;
}

//  Opens the batch, so that its commit writes the mark even when nothing
//  else changed.
static void
s_set_view (hrb_store_t *base, uint64_t view)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    if (hrb_lmdb_begin (self) == HRB_STORE_OK)
        self->view = view;
}

static const hrb_store_ops_t s_ops = {
    .open = s_open, .set_epoch = s_set_epoch, .append = s_append, .key = s_key,
    .commit = s_commit, .rollback = s_rollback, .release = s_release, .drop = s_drop,
    .first = s_first, .read = s_read, .expire = hrb_lmdb_expire, .scan = hrb_lmdb_scan,
    .stats = s_stats, .view = s_view, .set_view = s_set_view, .destroy = s_destroy
};

//  This boot's id, as the kernel gives it.
static void
s_boot_id (char *out, size_t size)
{
    snprintf (out, size, "unknown");
    FILE *file = fopen ("/proc/sys/kernel/random/boot_id", "r");
    if (!file)
        return;
    if (fgets (out, (int) size, file))
        out [strcspn (out, "\r\n")] = 0;
    fclose (file);
}

//  The map starts at min (its cap, 256 MiB) and grows to its cap, twice
//  the budget plus 64 MiB: LMDB's copy-on-write B-tree keeps freed pages
//  for later txns and half-full pages, and the keys and records are not in
//  the budget. Starting smaller keeps a small store's address space small.
#define S_MAP_START (256ULL << 20)
#define S_MAP_SLACK (64ULL << 20)

hrb_store_t *
hrb_store_lmdb_new (const hrb_store_lmdb_config_t *config, hr_buf_t *err)
{
    hrb_lmdb_t *self = hr_calloc (1, sizeof *self);
    self->base.ops = &s_ops;
    self->base.durable = true;
    self->base.clock = hr_mono_ms;
    self->dir = hr_strdup (config->dir);
    self->dir_fd = -1;
    self->max_count = config->max_count;
    self->max_age_ms = config->max_age_ms;
    self->max_disk = config->max_disk;
    self->fsync = config->fsync;
    self->fsync_interval_ms = config->fsync_interval_ms? config->fsync_interval_ms: 100;
    self->key_window_ms = config->key_window_ms;
    self->key_max = config->key_max;
    if (config->boot_id)
        snprintf (self->boot, sizeof self->boot, "%s", config->boot_id);
    else
        s_boot_id (self->boot, sizeof self->boot);
    self->map_max = config->max_disk * 2 + S_MAP_SLACK;
    self->map_size = self->map_max < S_MAP_START? self->map_max: S_MAP_START;
    hr_list_init (&self->dirty);
    pthread_mutex_init (&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&self->wake, &attr);
    pthread_condattr_destroy (&attr);

    if (hrb_lmdb_env_open (self, err)) {
        s_free (self);
        return NULL;
    }
    s_copy_counts (&self->saved_stats, &self->stats);
    self->saved_next_id = self->next_id;
    s_count_keys (self);
    if (self->fsync == HRB_FSYNC_BATCH && hrb_lmdb_syncer_start (self)) {
        hr_buf_printf (err, "cannot start the fsync thread: %s", strerror (errno));
        s_free (self);
        return NULL;
    }
    return &self->base;
}

int
hrb_fsync_parse (const char *text, hrb_fsync_t *fsync)
{
    static const char *names [] = { "always", "batch", "off" };
    for (int mode = HRB_FSYNC_ALWAYS; text && mode <= HRB_FSYNC_OFF; mode++)
        if (strcmp (text, names [mode]) == 0) {
            *fsync = (hrb_fsync_t) mode;
            return 0;
        }
    return -1;
}
