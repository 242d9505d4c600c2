/*  sync_fixture: what test_hrb_sync and test_hrb_sync_session share: a
    fake caller of broker/hrb_sync that records frames, snapshots and
    releases, and refuses the next `fail` frames or snapshots (a snapshot
    after queuing snap_partial of its frames).

    Broker 0 owns; broker 1 backs channels "a", "b", ... up; "n..."
    channels have no backup, "d..." ones leave this broker at install.  */
#ifndef HERALD_TEST_SYNC_FIXTURE_H
#define HERALD_TEST_SYNC_FIXTURE_H

#include "hrb_sync.h"

#include "support.h"

#define S_VALIDITY 1000
#define S_HEARTBEAT 100
#define S_FRAMES_MAX 64

typedef struct {
    int to;
    uint64_t n, r, echo;
    bool first;
    size_t count, bytes;
    uint64_t seqs [8];
} s_frame_t;

typedef struct {
    int to;
    uint64_t n, r, echo;
    bool first;
    char ch [32];
    size_t items;               //  pending items it carried (hrb_sync_visit)
} s_snap_t;

typedef struct {
    char ch [32];
    uint64_t seq;
    hrb_sync_outcome_t outcome;
    bool waiter;
    char reply [16];
} s_release_t;

typedef struct {
    hrb_sync_t *sync;
    s_frame_t frames [S_FRAMES_MAX];
    size_t nframes;
    s_snap_t snaps [S_FRAMES_MAX];
    size_t nsnaps;
    size_t snap_frames;         //  what snapshot returns (default 1)
    s_release_t releases [S_FRAMES_MAX];
    size_t nreleases;
    int fail;                   //  frames (and snapshots) to refuse
    size_t snap_partial;        //  frames a refused snapshot queued first
    size_t attempts;            //  calls of frame and snapshot, refused ones too
    const void *items_at;       //  the items array of the latest frame call
} s_fake_t;

static TU_UNUSED int
s_frame (void *arg, int to, uint64_t number, uint64_t r, bool first, uint64_t echo,
         const hrb_sync_item_t *items, size_t count)
{
    s_fake_t *fake = arg;
    fake->attempts++;
    fake->items_at = items;
    if (fake->fail > 0) {
        fake->fail--;
        return -1;
    }
    assert_true (fake->nframes < S_FRAMES_MAX);
    s_frame_t *frame = &fake->frames [fake->nframes++];
    *frame = (s_frame_t) { .to = to, .n = number, .r = r, .echo = echo, .first = first,
                           .count = count };
    for (size_t i = 0; i < count; i++) {
        assert_int_equal (items [i].rseq, 0);
        assert_non_null (items [i].envelope);
        frame->bytes += items [i].size;
        if (i < 8)
            frame->seqs [i] = items [i].seq;
    }
    return 0;
}

static TU_UNUSED void
s_count_item (void *arg, const hrb_sync_item_t *item)
{
    (*(size_t *) arg)++;
}

static TU_UNUSED size_t
s_snapshot (void *arg, int to, uint64_t number, uint64_t first_r, bool first, uint64_t echo,
            const char *ch, size_t len)
{
    s_fake_t *fake = arg;
    fake->attempts++;
    if (fake->fail > 0) {
        fake->fail--;
        return HRB_SYNC_REFUSED | fake->snap_partial;
    }
    assert_true (fake->nsnaps < S_FRAMES_MAX);
    s_snap_t *snap = &fake->snaps [fake->nsnaps++];
    *snap = (s_snap_t) { .to = to, .n = number, .r = first_r, .echo = echo, .first = first };
    memcpy (snap->ch, ch, len);
    hrb_sync_visit (fake->sync, ch, len, s_count_item, &snap->items);
    return fake->snap_frames;
}

static TU_UNUSED void
s_release (void *arg, const hrb_sync_item_t *item, hrb_sync_outcome_t outcome)
{
    s_fake_t *fake = arg;
    assert_true (fake->nreleases < S_FRAMES_MAX);
    s_release_t *release = &fake->releases [fake->nreleases++];
    *release = (s_release_t) { .seq = item->seq, .outcome = outcome,
                               .waiter = item->envelope == NULL };
    memcpy (release->ch, item->ch, item->ch_len);
    memcpy (release->reply, item->reply, item->reply_len < 15? item->reply_len: 15);
}

static const hrb_sync_ops_t s_ops = { s_frame, s_snapshot, s_release };

static TU_UNUSED int
s_backup_of (void *arg, const char *ch, size_t len)
{
    return ch [0] == 'd'? -2: ch [0] == 'n'? -1: 1;
}

static TU_UNUSED s_fake_t *
s_new (int min_replicas, size_t max_bytes)
{
    s_fake_t *fake = hr_calloc (1, sizeof *fake);
    fake->snap_frames = 1;
    fake->sync = hrb_sync_new (0, 3, min_replicas, S_VALIDITY, S_HEARTBEAT, max_bytes,
                               &s_ops, fake);
    return fake;
}

static TU_UNUSED void
s_destroy (s_fake_t **fake_p)
{
    hrb_sync_destroy (&(*fake_p)->sync);
    free (*fake_p);
    *fake_p = NULL;
}

static TU_UNUSED int
s_add (s_fake_t *fake, const char *ch, uint64_t seq, bool new_epoch, const char *id)
{
    char envelope [16];
    snprintf (envelope, sizeof envelope, "ev%llu", (unsigned long long) seq);
    return hrb_sync_add (fake->sync, ch, strlen (ch), ch [0] == 'n'? -1: 1, seq, new_epoch,
                         envelope, strlen (envelope), id, id? strlen (id): 0, ch, strlen (ch));
}

static TU_UNUSED void
s_ack (s_fake_t *fake, uint64_t number, uint64_t r, uint64_t stamp, uint64_t now)
{
    hrb_sync_ack (fake->sync, 1, number, false, 0, r, false, stamp, NULL, 0, now);
}

static TU_UNUSED void
s_miss (s_fake_t *fake, uint64_t r, const char *ch, uint64_t at, uint64_t now)
{
    hrb_sync_miss_t miss = { ch, strlen (ch), at };
    hrb_sync_ack (fake->sync, 1, 1, false, 0, r, false, now, &miss, 1, now);
}

static TU_UNUSED hrb_sync_state_t
s_state (s_fake_t *fake, const char *ch)
{
    return hrb_sync_state (fake->sync, ch, strlen (ch));
}

static TU_UNUSED s_frame_t *
s_last_frame (s_fake_t *fake)
{
    assert_true (fake->nframes > 0);
    return &fake->frames [fake->nframes - 1];
}

//  View 1 installed at 0, the pair's first frame (a keepalive, r 1) acked
//  at 10 (stamp 10), ch tracked and snapshotted at 20 (r 2), acked at 30:
//  ch SYNCED, the next frame is r 3, now 30.
static TU_UNUSED void
s_synced (s_fake_t *fake, const char *ch)
{
    hrb_sync_install (fake->sync, 1, s_backup_of, NULL);
    assert_int_equal (hrb_sync_track (fake->sync, ch, strlen (ch), 1), 0);
    assert_int_equal (s_state (fake, ch), HRB_SYNC_SAFE);
    hrb_sync_step (fake->sync, 0, true);
    assert_int_equal (fake->nsnaps, 0);          //  no ack yet: the pair is not healthy
    s_frame_t *first = s_last_frame (fake);
    assert_true (first->first);
    assert_int_equal (first->count, 0);
    assert_int_equal (first->r, 1);
    s_ack (fake, 1, 1, 10, 10);
    hrb_sync_step (fake->sync, 20, true);
    assert_int_equal (fake->nsnaps, 1);
    assert_string_equal (fake->snaps [0].ch, ch);
    assert_int_equal (fake->snaps [0].r, 2);
    assert_false (fake->snaps [0].first);
    assert_int_equal (fake->snaps [0].echo, 10);
    assert_int_equal (s_state (fake, ch), HRB_SYNC_SNAPSHOT);
    s_ack (fake, 1, 2, 30, 30);
    assert_int_equal (s_state (fake, ch), HRB_SYNC_SYNCED);
}


//  After s_synced: ch tracked, snapshotted at 31 (r 3), acked at 32.
static TU_UNUSED void
s_synced_too (s_fake_t *fake, const char *ch)
{
    assert_int_equal (hrb_sync_track (fake->sync, ch, strlen (ch), 1), 0);
    hrb_sync_step (fake->sync, 31, true);
    assert_string_equal (fake->snaps [fake->nsnaps - 1].ch, ch);
    assert_int_equal (fake->snaps [fake->nsnaps - 1].r, 3);
    s_ack (fake, 1, 3, 32, 32);
    assert_int_equal (s_state (fake, ch), HRB_SYNC_SYNCED);
}

#endif
