/*  store_fixture: what the store tests (test_hrb_store_contract.c,
    test_hrb_store_lmdb.c) share: a fake clock for store->clock, event
    bodies that name their channel and seq, a visitor that checks them, and
    temporary directories for the LMDB store.  */
#ifndef HERALD_STORE_FIXTURE_H
#define HERALD_STORE_FIXTURE_H

#include "hrb_store.h"

#include "support.h"

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

#endif
