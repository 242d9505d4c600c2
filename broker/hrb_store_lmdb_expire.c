/*  hrb_store_lmdb_expire: what the LMDB store deletes, and when events
    are known to be on disk.

    Eviction: a min-heap of the handles that hold events, keyed by the
    store-clock stamp of each one's oldest event, so the globally oldest
    event (age bound, disk budget) is found in O(1) and deleted in
    O(log n). Deleting a channel's oldest event reads the stamp of the next
    one (one cursor lookup) to re-key the handle.

    The syncer (--fsync batch): a thread fsyncs every interval what was
    committed since its last sync; a failed fsync breaks the store (the
    kernel may have dropped what it could not write): every later batch
    fails, and no clean stop is recorded.

    The map grows between batches (a batch's first change, a rollback after
    the map filled), when more than 3/4 used.  */
#include "hrb_store_lmdb_impl.h"
#include "hr_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  Oldest first on the store clock, whose unit is the ms. Events stamped
//  in the same ms are equally old: the older channel (lower id) goes
//  first, so the order is the same in every run. Arrival order would need
//  a counter stored with every event, since a handle is re-keyed from the
//  stamp of its next event on disk; no guarantee asks for it (each
//  channel still loses its own events oldest first).
static bool
s_less (const hrb_lmdb_t *self, size_t a, size_t b)
{
    const hrb_history_t *x = self->heap [a], *y = self->heap [b];
    return x->first_stamp < y->first_stamp
       || (x->first_stamp == y->first_stamp && x->rec.id < y->rec.id);
}

static void
s_swap (hrb_lmdb_t *self, size_t a, size_t b)
{
    hrb_history_t *moved = self->heap [a];
    self->heap [a] = self->heap [b];
    self->heap [b] = moved;
    self->heap [a]->heap_index = a;
    self->heap [b]->heap_index = b;
}

static void
s_sift_up (hrb_lmdb_t *self, size_t at)
{
    while (at > 0 && s_less (self, at, (at - 1) / 2)) {
        s_swap (self, at, (at - 1) / 2);
        at = (at - 1) / 2;
    }
}

static void
s_sift_down (hrb_lmdb_t *self, size_t at)
{
    while (true) {
        size_t least = at, left = 2 * at + 1, right = left + 1;
        if (left < self->heap_size && s_less (self, left, least))
            least = left;
        if (right < self->heap_size && s_less (self, right, least))
            least = right;
        if (least == at)
            return;
        s_swap (self, at, least);
        at = least;
    }
}

//  Puts the handle in the heap, or moves it after its first_stamp changed.
void
hrb_lmdb_heap_update (hrb_lmdb_t *self, hrb_history_t *history)
{
    if (history->heap_index == SIZE_MAX) {
        if (self->heap_size == self->heap_cap) {
            self->heap_cap = self->heap_cap? self->heap_cap * 2: 64;
            self->heap = realloc (self->heap, self->heap_cap * sizeof *self->heap);
            if (!self->heap)
                abort ();           //  out of memory is fatal (hr_buf.h)
        }
        history->heap_index = self->heap_size;
        self->heap [self->heap_size++] = history;
    }
    s_sift_up (self, history->heap_index);
    s_sift_down (self, history->heap_index);
}

void
hrb_lmdb_heap_remove (hrb_lmdb_t *self, hrb_history_t *history)
{
    size_t at = history->heap_index;
    if (at == SIZE_MAX)
        return;
    history->heap_index = SIZE_MAX;
    self->heap_size--;
    if (at == self->heap_size)
        return;
    self->heap [at] = self->heap [self->heap_size];
    self->heap [at]->heap_index = at;
    s_sift_up (self, at);
    s_sift_down (self, self->heap [at]->heap_index);
}

//  Deletes the event at (id, seq) and returns its cost in *cost.
static int
s_delete (hrb_lmdb_t *self, MDB_cursor *cursor, uint64_t id, uint64_t seq, uint64_t *cost)
{
    uint8_t key_bytes [HRB_LMDB_EVENT_KEY];
    hrb_lmdb_be64_put (key_bytes, id);
    hrb_lmdb_be64_put (key_bytes + 8, seq);
    MDB_val key = { sizeof key_bytes, key_bytes }, value;
    int rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_KEY);
    *cost = rc? 0: HRB_LMDB_EVENT_KEY + value.mv_size + HRB_LMDB_OVERHEAD;
    return rc? rc: mdb_cursor_del (cursor, 0);
}

//  The first event of id at or after seq: its seq and stamp, or -1.
static int
s_next (MDB_cursor *cursor, uint64_t id, uint64_t seq, uint64_t *found, uint64_t *stamp)
{
    uint8_t key_bytes [HRB_LMDB_EVENT_KEY];
    hrb_lmdb_be64_put (key_bytes, id);
    hrb_lmdb_be64_put (key_bytes + 8, seq);
    MDB_val key = { sizeof key_bytes, key_bytes }, value;
    if (mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE)
    ||  key.mv_size != HRB_LMDB_EVENT_KEY || value.mv_size < HRB_LMDB_STAMP
    ||  hrb_lmdb_be64_get (key.mv_data) != id)
        return -1;
    *found = hrb_lmdb_be64_get ((uint8_t *) key.mv_data + 8);
    *stamp = hrb_lmdb_be64_get (value.mv_data);
    return 0;
}

//  The batch's cursor on "events", for deleting events of history (its
//  record marked changed in the batch); NULL with the error in *rc.
static MDB_cursor *
s_evict_cursor (hrb_lmdb_t *self, hrb_history_t *history, hrb_store_rc_t *rc)
{
    if ((*rc = hrb_lmdb_begin (self)))
        return NULL;
    hrb_lmdb_touch (self, history);
    MDB_cursor *cursor = hrb_lmdb_cursor (self);
    if (!cursor)
        *rc = hrb_lmdb_fail (self, EIO);
    return cursor;
}

//  A history with no event left: its counts out of the totals, out of the
//  heap.
static void
s_emptied (hrb_lmdb_t *self, hrb_history_t *history)
{
    hrb_lmdb_rec_t *rec = &history->rec;
    self->stats.events -= rec->count;
    self->stats.bytes -= rec->bytes;
    rec->count = rec->bytes = rec->first = 0;
    hrb_lmdb_heap_remove (self, history);
}

hrb_store_rc_t
hrb_lmdb_evict_oldest (hrb_lmdb_t *self, hrb_history_t *history)
{
    hrb_store_rc_t result;
    MDB_cursor *cursor = s_evict_cursor (self, history, &result);
    if (!cursor)
        return result;
    hrb_lmdb_rec_t *rec = &history->rec;
    uint64_t cost = 0;
    int rc = s_delete (self, cursor, rec->id, rec->first, &cost);
    //  A first seq with no event: the record and the events disagree (a
    //  file changed under us); go on from the next event there is
    bool missing = rc == MDB_NOTFOUND;
    if (missing)
        rc = 0;
    uint64_t next = 0, stamp = 0;
    bool more = rc == 0 && rec->count > 1
             && s_next (cursor, rec->id, rec->first + 1, &next, &stamp) == 0;
    if (rc)
        return hrb_lmdb_fail (self, rc);
    if (!missing) {
        rec->count--;
        rec->bytes -= cost;
        self->stats.events--;
        self->stats.bytes -= cost;
    }
    if (more) {
        rec->first = next;
        history->first_stamp = stamp;
        hrb_lmdb_heap_update (self, history);
    }
    else        //  nothing left (count says otherwise only if they disagree)
        s_emptied (self, history);
    return HRB_STORE_OK;
}

hrb_store_rc_t
hrb_lmdb_evict_all (hrb_lmdb_t *self, hrb_history_t *history)
{
    hrb_store_rc_t result;
    MDB_cursor *cursor = s_evict_cursor (self, history, &result);
    if (!cursor)
        return result;
    hrb_lmdb_rec_t *rec = &history->rec;
    int rc = 0;
    uint64_t seq = 0, stamp;
    while (rc == 0 && s_next (cursor, rec->id, seq, &seq, &stamp) == 0)
        rc = mdb_cursor_del (cursor, 0);
    if (rc)
        return hrb_lmdb_fail (self, rc);
    s_emptied (self, history);
    return HRB_STORE_OK;
}

//  The handle with the globally oldest event, its stamp read; NULL when
//  no handle holds events.
static hrb_history_t *
s_oldest (hrb_lmdb_t *self)
{
    //  Stamps not yet read sort first: each is read once
    while (self->heap_size && self->heap [0]->first_stamp == 0)
        hrb_lmdb_stamp_load (self, self->heap [0]);
    return self->heap_size? self->heap [0]: NULL;
}

hrb_store_rc_t
hrb_lmdb_fit (hrb_lmdb_t *self, uint64_t extra)
{
    while (self->stats.bytes + extra > self->max_disk && s_oldest (self)) {
        hrb_store_rc_t rc = hrb_lmdb_evict_oldest (self, self->heap [0]);
        if (rc)
            return rc;
        self->stats.evicted_memory++;
    }
    //  Only channel records left, and still over
    if (self->stats.bytes + extra > self->max_disk)
        return hrb_lmdb_fail (self, ENOSPC);
    return HRB_STORE_OK;
}

//  Deletes up to budget keys older than the dedupe window.
static void
s_expire_keys (hrb_lmdb_t *self, uint64_t now, size_t budget)
{
    if (now < self->key_window_ms)
        return;
    uint64_t cutoff = now - self->key_window_ms;
    //  Look before beginning a batch: an idle store writes nothing
    MDB_txn *txn = self->txn;
    if (!txn && mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn))
        return;
    MDB_cursor *cursor;
    MDB_val key, value;
    if (mdb_cursor_open (txn, self->keys, &cursor)) {
        if (txn != self->txn)
            mdb_txn_abort (txn);
        return;
    }
    bool any = mdb_cursor_get (cursor, &key, &value, MDB_FIRST) == 0
            && key.mv_size >= 8 && hrb_lmdb_be64_get (key.mv_data) < cutoff;
    if (txn != self->txn) {
        mdb_cursor_close (cursor);  //  a read-only txn's cursors outlive it
        mdb_txn_abort (txn);
        if (!any || hrb_lmdb_begin (self) || mdb_cursor_open (self->txn, self->keys, &cursor))
            return;
        any = mdb_cursor_get (cursor, &key, &value, MDB_FIRST) == 0;
    }
    int rc = 0;
    for (size_t deleted = 0; any && rc == 0 && deleted < budget; deleted++) {
        if (key.mv_size < 8 || hrb_lmdb_be64_get (key.mv_data) >= cutoff)
            break;
        rc = mdb_cursor_del (cursor, 0);
        if (rc == 0) {
            self->key_count -= self->key_count > 0;
            any = mdb_cursor_get (cursor, &key, &value, MDB_FIRST) == 0;
        }
    }
    mdb_cursor_close (cursor);
    if (rc)
        hrb_lmdb_fail (self, rc);
}

size_t
hrb_lmdb_expire (hrb_store_t *base, size_t budget)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    if (self->failed)
        return 0;
    uint64_t now = hrb_lmdb_clock (self);
    size_t evicted = 0;
    size_t loads = 0;
    while (evicted < budget && self->max_age_ms < now && self->heap_size) {
        hrb_history_t *oldest = self->heap [0];
        if (oldest->first_stamp == 0) {
            //  After a restart: at most budget stamps read a call
            if (loads++ == budget)
                break;
            hrb_lmdb_stamp_load (self, oldest);
            continue;
        }
        if (oldest->first_stamp >= now - self->max_age_ms)
            break;
        if (hrb_lmdb_evict_oldest (self, oldest))
            return evicted;
        self->stats.evicted_age++;
        evicted++;
    }
    //  Over the disk budget outside an append (a restart with a smaller
    //  --history-disk): a bounded step a call, so that no batch has to hold
    //  the whole excess (LMDB's dirty pages of one txn are bounded)
    while (evicted < budget && self->stats.bytes > self->max_disk && s_oldest (self)) {
        if (hrb_lmdb_evict_oldest (self, self->heap [0]))
            return evicted;
        self->stats.evicted_memory++;
        evicted++;
    }
    s_expire_keys (self, now, budget);
    return evicted;
}

int
hrb_lmdb_grow (hrb_lmdb_t *self, bool force)
{
    if (self->txn)
        return -1;
    MDB_envinfo info;
    MDB_stat stat;
    if (mdb_env_info (self->env, &info) || mdb_env_stat (self->env, &stat))
        return -1;
    uint64_t used = (uint64_t) (info.me_last_pgno + 1) * stat.ms_psize;
    if (!force && used * 4 <= (uint64_t) self->map_size * 3)
        return 0;
    if (self->map_size >= self->map_max)
        return -1;
    size_t size = self->map_size * 2 < self->map_max? self->map_size * 2: self->map_max;
    //  The blocks first: a full disk leaves the map as it was, and the
    //  batch that fills it fails with HRB_STORE_FULL
    if (hrb_lmdb_reserve (self, size) || mdb_env_set_mapsize (self->env, size))
        return -1;
    self->map_size = size;
    return 0;
}

int
hrb_lmdb_reserve (hrb_lmdb_t *self, size_t size)
{
    //  LMDB makes the file as large as the map (ftruncate, no blocks); a
    //  write through the map to a page with no block and no disk left to
    //  give it one kills the process (SIGBUS). Every block the map may
    //  write is allocated here, where a full disk is an error
    unsigned flags;
    int fd;
    if (mdb_env_get_flags (self->env, &flags) || mdb_env_get_fd (self->env, &fd))
        return EBADF;
    if (!(flags & MDB_WRITEMAP))
        return 0;               //  LMDB pwrites: a full disk is an error there
    int rc = posix_fallocate (fd, 0, (off_t) size);
    if (rc && size > self->map_size && ftruncate (fd, (off_t) self->map_size))
        rc = errno;             //  gives back what a partial allocation added
    return rc;
}

void
hrb_lmdb_count_fsync (hrb_lmdb_t *self)
{
    __atomic_add_fetch (&self->stats.fsyncs, 1, __ATOMIC_RELAXED);
}

//  The syncer: every interval, fsyncs what was committed since its last
//  sync, then says which txn that covered.
static void *
s_syncer (void *arg)
{
    hrb_lmdb_t *self = arg;
    pthread_mutex_lock (&self->lock);
    while (!self->stopping) {
        struct timespec until;
        clock_gettime (CLOCK_MONOTONIC, &until);
        uint64_t ns = until.tv_nsec + self->fsync_interval_ms * 1000000;
        until.tv_sec += ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        while (!self->stopping
        &&     pthread_cond_timedwait (&self->wake, &self->lock, &until) != ETIMEDOUT)
            ;
        if (self->stopping)
            break;
        pthread_mutex_unlock (&self->lock);
        uint64_t committed = __atomic_load_n (&self->committed_txn, __ATOMIC_ACQUIRE);
        if (committed != __atomic_load_n (&self->synced_txn, __ATOMIC_ACQUIRE)) {
            if (mdb_env_sync (self->env, 1) == 0) {
                __atomic_store_n (&self->synced_txn, committed, __ATOMIC_RELEASE);
                hrb_lmdb_count_fsync (self);
            }
            else    //  the kernel may have dropped what it could not write
                __atomic_store_n (&self->broken, true, __ATOMIC_RELEASE);
        }
        pthread_mutex_lock (&self->lock);
    }
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

int
hrb_lmdb_syncer_start (hrb_lmdb_t *self)
{
    int rc = pthread_create (&self->syncer, NULL, s_syncer, self);
    if (rc) {
        errno = rc;
        return -1;
    }
    self->syncer_running = true;
    return 0;
}

void
hrb_lmdb_syncer_stop (hrb_lmdb_t *self)
{
    if (!self->syncer_running)
        return;
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    pthread_cond_signal (&self->wake);
    pthread_mutex_unlock (&self->lock);
    pthread_join (self->syncer, NULL);
    self->syncer_running = false;
}
