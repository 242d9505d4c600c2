/*  hrb_store_lmdb_meta: the LMDB store's environment, what it says about
    itself, the recovery after a crash, and the start-up scan.

    Layout, in one environment in the data directory:
      "meta"      format, clean, boot, fsync, clock, next_id, view
      "channels"  name -> record (hrb_lmdb_rec_t, packed)
      "events"    (u64 id, u64 seq) big-endian -> (u64 stamp, envelope)
      "keys"      (u64 stamp, u64 id, key) big-endian -> (u64 seq, epoch)
    Channels have ids so that events and keys sort by channel, then seq or
    time, and a dropped channel's keys (left to expire) match no channel
    made later under the same name.

    Crash rules (docs/operations.md, "Durable history"): clean=0 at open
    says a run is writing; a run that stops cleanly writes clean=1. A store
    found dirty after the same boot lost nothing committed (every commit
    reached the OS). After another boot, what was not fsynced may be lost:
    the channels the crashed run's --fsync cannot vouch for are suspect.  */
#include "hrb_store_lmdb_impl.h"
#include "hr_buf.h"
#include "hr_time.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

//  A load or store and a byte swap: an append calls these about ten times
//  (gcc -O2 did not turn the byte loops they were into one)
void
hrb_lmdb_be64_put (uint8_t *out, uint64_t value)
{
    value = htobe64 (value);
    memcpy (out, &value, sizeof value);
}

uint64_t
hrb_lmdb_be64_get (const uint8_t *in)
{
    uint64_t value;
    memcpy (&value, in, sizeof value);
    return be64toh (value);
}

void
hrb_lmdb_rec_pack (const hrb_lmdb_rec_t *rec, uint8_t out [HRB_LMDB_REC_SIZE])
{
    hrb_lmdb_be64_put (out, rec->id);
    memcpy (out + 8, rec->epoch, HR_EPOCH_LEN);
    uint8_t *at = out + 8 + HR_EPOCH_LEN;
    const uint64_t fields [] = { rec->head, rec->first, rec->count, rec->bytes, rec->last_ms };
    for (size_t i = 0; i < 5; i++, at += 8)
        hrb_lmdb_be64_put (at, fields [i]);
}

int
hrb_lmdb_rec_unpack (hrb_lmdb_rec_t *rec, const MDB_val *value)
{
    if (value->mv_size != HRB_LMDB_REC_SIZE)
        return -1;
    const uint8_t *in = value->mv_data;
    memset (rec, 0, sizeof *rec);
    rec->id = hrb_lmdb_be64_get (in);
    memcpy (rec->epoch, in + 8, HR_EPOCH_LEN);
    const uint8_t *at = in + 8 + HR_EPOCH_LEN;
    uint64_t *fields [] = { &rec->head, &rec->first, &rec->count, &rec->bytes, &rec->last_ms };
    for (size_t i = 0; i < 5; i++, at += 8)
        *fields [i] = hrb_lmdb_be64_get (at);
    return rec->id? 0: -1;
}

static int
s_put (hrb_lmdb_t *self, MDB_txn *txn, const char *name, const void *data, size_t size)
{
    MDB_val key = { strlen (name), (void *) name };
    MDB_val value = { size, (void *) data };
    return mdb_put (txn, self->meta, &key, &value, 0);
}

static int
s_put_u64 (hrb_lmdb_t *self, MDB_txn *txn, const char *name, uint64_t number)
{
    uint8_t bytes [8];
    hrb_lmdb_be64_put (bytes, number);
    return s_put (self, txn, name, bytes, sizeof bytes);
}

//  The meta value of name, or size 0 when missing.
static MDB_val
s_get (hrb_lmdb_t *self, MDB_txn *txn, const char *name)
{
    MDB_val key = { strlen (name), (void *) name }, value = { 0, NULL };
    if (mdb_get (txn, self->meta, &key, &value))
        value.mv_size = 0;
    return value;
}

static uint64_t
s_get_u64 (hrb_lmdb_t *self, MDB_txn *txn, const char *name, uint64_t missing)
{
    MDB_val value = s_get (self, txn, name);
    return value.mv_size == 8? hrb_lmdb_be64_get (value.mv_data): missing;
}

//  "events" keys, (u64 id, u64 seq) big-endian, compared as two numbers:
//  the order memcmp gives (mdb_dump and the other LMDB tools, which know
//  no comparator, see the same), without a memcmp call per node visited.
static int
s_event_cmp (const MDB_val *a, const MDB_val *b)
{
    if (a->mv_size != HRB_LMDB_EVENT_KEY || b->mv_size != HRB_LMDB_EVENT_KEY) {
        size_t len = a->mv_size < b->mv_size? a->mv_size: b->mv_size;
        int diff = memcmp (a->mv_data, b->mv_data, len);
        return diff? diff: a->mv_size < b->mv_size? -1: a->mv_size > b->mv_size;
    }
    for (size_t at = 0; at < HRB_LMDB_EVENT_KEY; at += 8) {
        uint64_t x = hrb_lmdb_be64_get ((const uint8_t *) a->mv_data + at);
        uint64_t y = hrb_lmdb_be64_get ((const uint8_t *) b->mv_data + at);
        if (x != y)
            return x < y? -1: 1;
    }
    return 0;
}

//  Makes the directory (one level) and checks it can hold the store.
static int
s_check_dir (const char *dir, hr_buf_t *err)
{
    if (mkdir (dir, 0755) && errno != EEXIST) {
        hr_buf_printf (err, "cannot make the data directory %s: %s", dir, strerror (errno));
        return -1;
    }
    struct stat st;
    if (stat (dir, &st)) {
        hr_buf_printf (err, "cannot use the data directory %s: %s", dir, strerror (errno));
        return -1;
    }
    if (!S_ISDIR (st.st_mode)) {
        hr_buf_printf (err, "the data directory %s is not a directory", dir);
        return -1;
    }
    if (access (dir, R_OK | W_OK | X_OK)) {
        hr_buf_printf (err, "the data directory %s is not writable: %s", dir, strerror (errno));
        return -1;
    }
    return 0;
}

//  Opens the four databases, making them in a new store; -1 with a reason.
static int
s_open_dbs (hrb_lmdb_t *self, MDB_txn *txn, hr_buf_t *err)
{
    MDB_dbi main;
    MDB_stat stat;
    int rc = mdb_dbi_open (txn, NULL, 0, &main);
    if (rc == 0)
        rc = mdb_stat (txn, main, &stat);
    if (rc) {
        hr_buf_printf (err, "cannot read the store in %s: %s", self->dir, mdb_strerror (rc));
        return -1;
    }
    rc = mdb_dbi_open (txn, "meta", 0, &self->meta);
    if ((rc == MDB_NOTFOUND && stat.ms_entries > 0) || rc == MDB_INCOMPATIBLE) {
        hr_buf_printf (err, "%s/data.mdb is not a Herald store (an LMDB file of other data)",
                       self->dir);
        return -1;
    }
    bool fresh = rc == MDB_NOTFOUND;
    if (fresh)
        rc = mdb_dbi_open (txn, "meta", MDB_CREATE, &self->meta);
    if (rc == 0 && fresh)
        rc = s_put (self, txn, "format", HRB_LMDB_FORMAT, strlen (HRB_LMDB_FORMAT));
    if (rc == 0 && !fresh) {
        MDB_val format = s_get (self, txn, "format");
        if (format.mv_size == 0) {
            hr_buf_printf (err, "%s/data.mdb is not a Herald store (no format record)",
                           self->dir);
            return -1;
        }
        if (format.mv_size != strlen (HRB_LMDB_FORMAT)
        ||  memcmp (format.mv_data, HRB_LMDB_FORMAT, format.mv_size)) {
            hr_buf_printf (err, "%s/data.mdb was written by an incompatible Herald "
                           "(format \"%.*s\", this one reads \"%s\")", self->dir,
                           (int) (format.mv_size < 64? format.mv_size: 64),
                           (char *) format.mv_data, HRB_LMDB_FORMAT);
            return -1;
        }
    }
    unsigned flags = fresh? MDB_CREATE: 0;
    if (rc == 0)
        rc = mdb_dbi_open (txn, "channels", flags, &self->channels);
    if (rc == 0)
        rc = mdb_dbi_open (txn, "events", flags, &self->events);
    if (rc == 0)
        rc = mdb_set_compare (txn, self->events, s_event_cmp);
    if (rc == 0)
        rc = mdb_dbi_open (txn, "keys", flags, &self->keys);
    if (rc) {
        hr_buf_printf (err, "cannot read the store in %s: %s", self->dir, mdb_strerror (rc));
        return -1;
    }
    return 0;
}

//  Decides what scan reports suspect, from what the last run left (a
//  damaged store was refused before: hrb_lmdb_verify).
static void
s_recover (hrb_lmdb_t *self, MDB_txn *txn)
{
    MDB_val clean = s_get (self, txn, "clean");
    MDB_val boot = s_get (self, txn, "boot");
    MDB_val mode = s_get (self, txn, "fsync");
    self->suspect_rule = 0;
    if (clean.mv_size == 0 || *(uint8_t *) clean.mv_data == 1)
        return;                 //  new, or stopped cleanly
    if (boot.mv_size == strlen (self->boot) && memcmp (boot.mv_data, self->boot, boot.mv_size) == 0)
        return;                 //  the process died, the OS kept every commit
    //  Without a sync per commit (batch, off) LMDB's pages may reach the
    //  disk in any order, and a page slot it reused may still hold an older,
    //  well-formed version of a channel's record: no record can be trusted,
    //  so every channel starts a new epoch
    int last = mode.mv_size == 1? *(uint8_t *) mode.mv_data: HRB_FSYNC_OFF;
    if (last != HRB_FSYNC_ALWAYS)
        self->suspect_rule = 2;
}

//  Sums what the channels hold, for stats (no event is read).
static int
s_totals (hrb_lmdb_t *self, MDB_txn *txn)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, self->channels, &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    while ((rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) == 0) {
        hrb_lmdb_rec_t rec;
        if (hrb_lmdb_rec_unpack (&rec, &value))
            continue;
        self->stats.events += rec.count;
        self->stats.bytes += rec.bytes + key.mv_size + HRB_LMDB_REC_SIZE + HRB_LMDB_OVERHEAD;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? 0: rc;
}

int
hrb_lmdb_env_open (hrb_lmdb_t *self, hr_buf_t *err)
{
    if (s_check_dir (self->dir, err))
        return -1;
    //  LMDB lets several processes write one store; two brokers would each
    //  think they own its channels. The lock goes with the process
    self->dir_fd = open (self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dir_fd < 0 || flock (self->dir_fd, LOCK_EX | LOCK_NB)) {
        if (errno == EWOULDBLOCK)
            hr_buf_printf (err, "the data directory %s is in use by another Herald process",
                           self->dir);
        else
            hr_buf_printf (err, "cannot lock the data directory %s: %s", self->dir,
                           strerror (errno));
        return -1;
    }
    //  Before this process opens it: a damaged page would crash us
    if (hrb_lmdb_verify (self, err))
        return -1;
    int rc = mdb_env_create (&self->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (self->env, 4);
    if (rc == 0)
        rc = mdb_env_set_mapsize (self->env, self->map_size);
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
    if (self->fsync != HRB_FSYNC_ALWAYS)
        flags |= MDB_NOSYNC;   //  syncs are ours: the syncer (batch), destroy
    //  MDB_WRITEMAP (off): a commit writes its pages in the map, not a
    //  malloc'd copy of each then pwritten; the file takes the map's size,
    //  its blocks allocated below (hrb_lmdb_reserve). No nested txn is
    //  used. Not with syncs (always, batch): each writes the map's dirty
    //  pages back and write-protects them, and the next write to each then
    //  faults, which cost more than the copies saved
    if (self->fsync == HRB_FSYNC_OFF)
        flags |= MDB_WRITEMAP;
    if (rc == 0)
        rc = mdb_env_open (self->env, self->dir, flags, 0644);
    if (rc == MDB_INVALID) {
        hr_buf_printf (err, "%s/data.mdb is not an LMDB file (a foreign or damaged file)",
                       self->dir);
        return -1;
    }
    if (rc == MDB_VERSION_MISMATCH) {
        hr_buf_printf (err, "%s/data.mdb was written by another LMDB version (this is %s)",
                       self->dir, MDB_VERSION_STRING);
        return -1;
    }
    if (rc) {
        hr_buf_printf (err, "cannot open the store in %s: %s", self->dir, mdb_strerror (rc));
        return -1;
    }
    MDB_envinfo info;
    if (mdb_env_info (self->env, &info) == 0 && info.me_mapsize > self->map_size)
        self->map_size = info.me_mapsize;
    if (self->map_max < self->map_size)
        self->map_max = self->map_size;
    if ((rc = hrb_lmdb_reserve (self, self->map_size))) {
        hr_buf_printf (err, "cannot allocate %zu MiB on disk for the store in %s: %s",
                       self->map_size >> 20, self->dir, strerror (rc));
        return -1;
    }

    MDB_txn *txn;
    if ((rc = mdb_txn_begin (self->env, NULL, 0, &txn))) {
        hr_buf_printf (err, "cannot open the store in %s: %s", self->dir, mdb_strerror (rc));
        return -1;
    }
    if (s_open_dbs (self, txn, err)) {
        mdb_txn_abort (txn);
        return -1;
    }
    s_recover (self, txn);
    uint64_t clock = s_get_u64 (self, txn, "clock", 0);
    uint64_t wall = hr_wall_ms ();
    self->anchor = clock > wall? clock: wall;
    self->next_id = s_get_u64 (self, txn, "next_id", 1);
    self->view = self->saved_view = s_get_u64 (self, txn, "view", 0);
    uint8_t dirty = 0, mode = (uint8_t) self->fsync;
    rc = s_totals (self, txn);
    if (rc == 0)
        rc = s_put (self, txn, "clean", &dirty, 1);
    if (rc == 0)
        rc = s_put (self, txn, "boot", self->boot, strlen (self->boot));
    if (rc == 0)
        rc = s_put (self, txn, "fsync", &mode, 1);
    if (rc == 0)
        rc = s_put_u64 (self, txn, "clock", self->anchor);
    if (rc == 0)
        rc = s_put_u64 (self, txn, "next_id", self->next_id);
    uint64_t txn_id = mdb_txn_id (txn);
    if (rc == 0)
        rc = mdb_txn_commit (txn);
    else
        mdb_txn_abort (txn);
    //  "Dirty" is on disk before any batch of this run
    if (rc == 0)
        rc = mdb_env_sync (self->env, 1);
    if (rc) {
        hr_buf_printf (err, "cannot write the store in %s: %s", self->dir, mdb_strerror (rc));
        return -1;
    }
    hrb_lmdb_count_fsync (self);
    self->committed_txn = self->synced_txn = txn_id;
    return 0;
}

int
hrb_lmdb_meta_commit (hrb_lmdb_t *self)
{
    int rc = s_put_u64 (self, self->txn, "clock", hrb_lmdb_clock (self));
    if (rc == 0 && self->next_id != self->saved_next_id)
        rc = s_put_u64 (self, self->txn, "next_id", self->next_id);
    if (rc == 0 && self->view != self->saved_view)
        rc = s_put_u64 (self, self->txn, "view", self->view);
    return rc;
}

void
hrb_lmdb_meta_clean (hrb_lmdb_t *self)
{
    MDB_txn *txn;
    uint8_t clean = 1;
    //  Everything on disk first: a power loss during this sync must not
    //  leave "clean" on disk ahead of data it vouches for
    if (mdb_env_sync (self->env, 1))
        return;
    hrb_lmdb_count_fsync (self);
    if (mdb_txn_begin (self->env, NULL, 0, &txn))
        return;
    if (s_put (self, txn, "clean", &clean, 1)) {
        mdb_txn_abort (txn);
        return;
    }
    if (mdb_txn_commit (txn))
        return;
    if (mdb_env_sync (self->env, 1) == 0)
        hrb_lmdb_count_fsync (self);
}

//  A channel seen by scan: its id and name (pointing into the read txn).
typedef struct {
    uint64_t id;
    const char *name;
    size_t len;
} s_seen_t;

static int
s_seen_cmp (const void *a, const void *b)
{
    uint64_t x = ((const s_seen_t *) a)->id, y = ((const s_seen_t *) b)->id;
    return x < y? -1: x > y;
}

static hrb_store_rc_t
s_scan_fail (hrb_lmdb_t *self, MDB_txn *txn, s_seen_t *seen, int rc, hr_buf_t *err)
{
    hr_buf_printf (err, "cannot read the store in %s: %s", self->dir,
                   rc? mdb_strerror (rc): "a channel record is malformed");
    free (seen);
    mdb_txn_abort (txn);
    return HRB_STORE_IO;
}

hrb_store_rc_t
hrb_lmdb_scan (hrb_store_t *base, hrb_store_channel_fn *channel, hrb_store_key_fn *key_fn,
               void *arg, hr_buf_t *err)
{
    hrb_lmdb_t *self = (hrb_lmdb_t *) base;
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        hr_buf_printf (err, "cannot read the store in %s: %s", self->dir, mdb_strerror (rc));
        return HRB_STORE_IO;
    }
    MDB_stat stat;
    s_seen_t *seen = NULL;
    size_t count = 0;
    if ((rc = mdb_stat (txn, self->channels, &stat)))
        return s_scan_fail (self, txn, seen, rc, err);
    seen = hr_calloc (stat.ms_entries + 1, sizeof *seen);

    MDB_cursor *cursor;
    MDB_val key, value;
    if ((rc = mdb_cursor_open (txn, self->channels, &cursor)))
        return s_scan_fail (self, txn, seen, rc, err);
    while ((rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) == 0) {
        hrb_lmdb_rec_t rec;
        if (hrb_lmdb_rec_unpack (&rec, &value) || key.mv_size > HR_CHANNEL_MAX
        ||  count == stat.ms_entries) {
            mdb_cursor_close (cursor);
            return s_scan_fail (self, txn, seen, 0, err);
        }
        hrb_store_state_t state = { .head = rec.head, .first = rec.first,
                                    .last_ms = rec.last_ms };
        memcpy (state.epoch, rec.epoch, HR_EPOCH_LEN);
        //  Events that stop short of the head: a channel handed over whose
        //  last chunks never came (the receiver stopped); going on would
        //  leave a hole in its history
        state.suspect = self->suspect_rule == 2
                     || (rec.count && rec.first + rec.count - 1 != rec.head);
        if (channel)
            channel (arg, key.mv_data, key.mv_size, &state);
        seen [count++] = (s_seen_t) { rec.id, key.mv_data, key.mv_size };
    }
    mdb_cursor_close (cursor);
    if (rc != MDB_NOTFOUND)
        return s_scan_fail (self, txn, seen, rc, err);
    qsort (seen, count, sizeof *seen, s_seen_cmp);

    uint64_t now = hrb_lmdb_clock (self);
    if ((rc = mdb_cursor_open (txn, self->keys, &cursor)))
        return s_scan_fail (self, txn, seen, rc, err);
    while (key_fn && (rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) == 0) {
        if (key.mv_size < HRB_LMDB_EVENT_KEY || value.mv_size != 8 + HR_EPOCH_LEN)
            continue;
        uint64_t stamp = hrb_lmdb_be64_get (key.mv_data);
        s_seen_t wanted = { hrb_lmdb_be64_get ((uint8_t *) key.mv_data + 8), NULL, 0 };
        s_seen_t *found = bsearch (&wanted, seen, count, sizeof *seen, s_seen_cmp);
        uint64_t age = now > stamp? now - stamp: 0;
        if (!found || age > self->key_window_ms)
            continue;
        char epoch [HR_EPOCH_LEN + 1] = "";
        memcpy (epoch, (uint8_t *) value.mv_data + 8, HR_EPOCH_LEN);
        key_fn (arg, found->name, found->len, (char *) key.mv_data + HRB_LMDB_EVENT_KEY,
                key.mv_size - HRB_LMDB_EVENT_KEY, hrb_lmdb_be64_get (value.mv_data), epoch,
                age);
    }
    mdb_cursor_close (cursor);
    if (key_fn && rc != MDB_NOTFOUND)
        return s_scan_fail (self, txn, seen, rc, err);
    free (seen);
    mdb_txn_abort (txn);
    return HRB_STORE_OK;
}
