/*  store_fixture: what the store tests (test_hrb_store_contract.c,
    test_hrb_store_lmdb*.c) share: a fake clock for store->clock, event
    bodies that name their channel and seq, a visitor that checks them,
    temporary directories, and for the LMDB store: opening one, what a scan
    visits, and counting records on disk.  */
#ifndef HERALD_STORE_FIXTURE_H
#define HERALD_STORE_FIXTURE_H

#include "hrb_store.h"

#include "support.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

//  The fake clock: tests set tu_now and give tu_clock to store->clock.
static uint64_t tu_now = 1000000;

static TU_UNUSED uint64_t
tu_clock (void)
{
    return tu_now;
}

#define TU_EPOCH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TU_EPOCH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define TU_BODY_MAX 4096

//  The body of event seq of channel name: "name/seq/" then filler up to
//  size bytes (at least the prefix), so a read can tell a wrong event, a
//  wrong channel and a truncated one apart.
static TU_UNUSED size_t
tu_body (char out [TU_BODY_MAX], const char *name, uint64_t seq, size_t size)
{
    int len = snprintf (out, TU_BODY_MAX, "%s/%llu/", name, (unsigned long long) seq);
    assert_true (len > 0 && len < TU_BODY_MAX && size < TU_BODY_MAX);
    for (size_t i = (size_t) len; i < size; i++)
        out [i] = (char) ('a' + (seq + i) % 26);
    return size > (size_t) len? size: (size_t) len;
}

static TU_UNUSED hrb_store_rc_t
tu_append (hrb_store_t *store, hrb_history_t *history, const char *name, uint64_t seq,
           size_t size)
{
    char body [TU_BODY_MAX];
    size_t len = tu_body (body, name, seq, size);
    return store->ops->append (store, history, seq, 1000 + seq, body, len);
}

//  What a read visited: seqs in order, and whether every body was the one
//  tu_body makes for (name, seq, size).
typedef struct {
    const char *name;
    size_t size;
    size_t count;
    uint64_t seqs [4096];
    bool bad_body;
} tu_seen_t;

static TU_UNUSED void
tu_visit (void *arg, uint64_t seq, const void *bytes, size_t size)
{
    tu_seen_t *seen = arg;
    char body [TU_BODY_MAX];
    size_t len = tu_body (body, seen->name, seq, seen->size);
    if (size != len || memcmp (body, bytes, len) != 0)
        seen->bad_body = true;
    assert_true (seen->count < 4096);
    seen->seqs [seen->count++] = seq;
}

static TU_UNUSED size_t
tu_read (hrb_store_t *store, hrb_history_t *history, const char *name, size_t size,
         uint64_t since, size_t limit, tu_seen_t *seen)
{
    memset (seen, 0, sizeof *seen);
    seen->name = name;
    seen->size = size;
    size_t count = store->ops->read (store, history, since, limit, tu_visit, seen);
    assert_int_equal (count, seen->count);
    assert_false (seen->bad_body);
    return count;
}

//  Asserts the history holds exactly the seqs from..to, each with its body.
static TU_UNUSED void
tu_assert_range (hrb_store_t *store, hrb_history_t *history, const char *name, size_t size,
                 uint64_t from, uint64_t to)
{
    tu_seen_t seen;
    size_t count = tu_read (store, history, name, size, 0, SIZE_MAX, &seen);
    assert_int_equal (count, from? to - from + 1: 0);
    for (size_t i = 0; i < count; i++)
        assert_int_equal (seen.seqs [i], from + i);
    assert_int_equal (store->ops->first (store, history), from);
}

static TU_UNUSED hrb_store_stats_t
tu_stats (hrb_store_t *store)
{
    hrb_store_stats_t stats;
    store->ops->stats (store, &stats);
    return stats;
}

//  Makes a temporary directory (path holds at least 64 bytes).
static TU_UNUSED void
tu_tempdir (char *path, const char *name)
{
    snprintf (path, 64, "/tmp/herald-%s-XXXXXX", name);
    assert_non_null (mkdtemp (path));
}

//  Removes a directory and everything in it (it was made by the test).
static TU_UNUSED void
tu_rmtree (const char *path)
{
    char command [256];
    assert_true (strncmp (path, "/tmp/herald-", 12) == 0);
    snprintf (command, sizeof command, "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'",
              path, path);
    assert_int_equal (system (command), 0);
}

//  The LMDB store's configuration for the tests: dir, bounds, fsync off
//  (the crash tests choose their mode), a fixed boot id.
static TU_UNUSED hrb_store_lmdb_config_t
tu_lmdb_config (const char *dir, size_t max_count, uint64_t max_age_ms, uint64_t max_disk)
{
    return (hrb_store_lmdb_config_t) {
        .dir = dir, .max_count = max_count, .max_age_ms = max_age_ms,
        .max_disk = max_disk, .fsync = HRB_FSYNC_OFF, .fsync_interval_ms = 20,
        .key_window_ms = 60000, .boot_id = "boot-one"
    };
}

//  The LMDB tests' store directory, made and removed around each case
//  (tu_dir_setup, tu_dir_teardown).
static char tu_dir [64];

static TU_UNUSED int
tu_dir_setup (void **unused)
{
    tu_tempdir (tu_dir, "lmdb");
    tu_now = 1000000;
    return 0;
}

static TU_UNUSED int
tu_dir_teardown (void **unused)
{
    tu_rmtree (tu_dir);
    return 0;
}

//  An LMDB store of config (fails the test when it cannot open), on the
//  fake clock.
static TU_UNUSED hrb_store_t *
tu_lmdb_new (const hrb_store_lmdb_config_t *config)
{
    hr_buf_t err = HR_BUF_INIT;
    hrb_store_t *store = hrb_store_lmdb_new (config, &err);
    if (!store)
        fail_msg ("hrb_store_lmdb_new (%s): %s", config->dir, err.data? err.data: "?");
    hr_buf_free (&err);
    store->clock = tu_clock;
    return store;
}

//  The LMDB store in tu_dir with room enough for any case.
static TU_UNUSED hrb_store_t *
tu_lmdb (void)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 1000, 60000, 1 << 24);
    return tu_lmdb_new (&config);
}

//  What a scan visited.
typedef struct {
    size_t channels;
    char names [64][32];
    hrb_store_state_t states [64];
    size_t keys;
    char key_names [64][32];
    char key_ids [64][32];
    uint64_t key_seqs [64];
    char key_epochs [64][HR_EPOCH_LEN + 1];
    uint64_t key_ages [64];
} tu_scan_t;

static TU_UNUSED void
tu_scan_channel (void *arg, const char *name, size_t len, const hrb_store_state_t *state)
{
    tu_scan_t *scan = arg;
    assert_true (scan->channels < 64 && len < 32);
    memcpy (scan->names [scan->channels], name, len);
    scan->names [scan->channels][len] = 0;
    scan->states [scan->channels++] = *state;
}

static TU_UNUSED void
tu_scan_key (void *arg, const char *name, size_t len, const char *id, size_t id_len,
            uint64_t seq, const char *epoch, uint64_t age_ms)
{
    tu_scan_t *scan = arg;
    size_t i = scan->keys++;
    assert_true (i < 64 && len < 32 && id_len < 32);
    memcpy (scan->key_names [i], name, len);
    scan->key_names [i][len] = 0;
    memcpy (scan->key_ids [i], id, id_len);
    scan->key_ids [i][id_len] = 0;
    scan->key_seqs [i] = seq;
    memcpy (scan->key_epochs [i], epoch, HR_EPOCH_LEN);
    scan->key_epochs [i][HR_EPOCH_LEN] = 0;
    scan->key_ages [i] = age_ms;
}

//  Scans the store (which must succeed) into scan.
static TU_UNUSED void
tu_scan (hrb_store_t *store, tu_scan_t *scan)
{
    memset (scan, 0, sizeof *scan);
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (store->ops->scan (store, tu_scan_channel, tu_scan_key, scan, &err),
                      HRB_STORE_OK);
    hr_buf_free (&err);
}

//  The scanned state of name (fails when the scan did not visit it).
static TU_UNUSED const hrb_store_state_t *
tu_scanned (const tu_scan_t *scan, const char *name)
{
    for (size_t i = 0; i < scan->channels; i++)
        if (strcmp (scan->names [i], name) == 0)
            return &scan->states [i];
    fail_msg ("the scan did not visit %s", name);
    return NULL;
}

//  Opens name; state gets what the store holds of it.
static TU_UNUSED hrb_history_t *
tu_open (hrb_store_t *store, const char *name, hrb_store_state_t *state)
{
    memset (state, 0x5a, sizeof *state);    //  open must fill it all
    hrb_history_t *history = store->ops->open (store, name, strlen (name), state);
    assert_non_null (history);
    return history;
}

//  Appends seqs from..to with tu_body's bodies of size bytes.
static TU_UNUSED void
tu_append_range (hrb_store_t *store, hrb_history_t *history, const char *name,
                uint64_t from, uint64_t to, size_t size)
{
    for (uint64_t seq = from; seq <= to; seq++)
        assert_int_equal (tu_append (store, history, name, seq, size), HRB_STORE_OK);
}

static TU_UNUSED void
tu_store_key (hrb_store_t *store, hrb_history_t *history, const char *id, uint64_t seq)
{
    assert_int_equal (store->ops->key (store, history, id, strlen (id), seq), HRB_STORE_OK);
}

//  How many records the named database of the store in dir holds (the
//  store closed).
static TU_UNUSED size_t
tu_entries (const char *dir, const char *name)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat stat;
    assert_int_equal (mdb_env_create (&env), 0);
    assert_int_equal (mdb_env_set_maxdbs (env, 4), 0);
    assert_int_equal (mdb_env_open (env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal (mdb_txn_begin (env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal (mdb_dbi_open (txn, name, 0, &dbi), 0);
    assert_int_equal (mdb_stat (txn, dbi, &stat), 0);
    mdb_txn_abort (txn);
    mdb_env_close (env);
    return stat.ms_entries;
}

#endif
