/*  test_hrb_sync: the owner's side of synchronous replication (broker/
    hrb_sync), driven through a fake caller that records frames, snapshots
    and releases.

    Broker 0 owns; broker 1 backs channels "a", "b", ... up; "n..."
    channels have no backup, "d..." ones leave this broker at install.
    Every per-channel state transition, every cause of a new session, the
    fence, the release rules (REPLICATED only after an ack of a frame at or
    past the item's with the channel in sync; ALONE only with
    --min-replicas 1, the lease, and a channel the backup knows it does not
    hold), waiters, the byte bound, frame cutting, keepalives, the snapshot
    gate and the sweep.  */
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
} s_fake_t;

static int
s_frame (void *arg, int to, uint64_t number, uint64_t r, bool first, uint64_t echo,
         const hrb_sync_item_t *items, size_t count)
{
    s_fake_t *fake = arg;
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

static void
s_count_item (void *arg, const hrb_sync_item_t *item)
{
    (*(size_t *) arg)++;
}

static size_t
s_snapshot (void *arg, int to, uint64_t number, uint64_t first_r, bool first, uint64_t echo,
            const char *ch, size_t len)
{
    s_fake_t *fake = arg;
    if (fake->fail > 0) {
        fake->fail--;
        return 0;
    }
    assert_true (fake->nsnaps < S_FRAMES_MAX);
    s_snap_t *snap = &fake->snaps [fake->nsnaps++];
    *snap = (s_snap_t) { .to = to, .n = number, .r = first_r, .echo = echo, .first = first };
    memcpy (snap->ch, ch, len);
    hrb_sync_visit (fake->sync, ch, len, s_count_item, &snap->items);
    return fake->snap_frames;
}

static void
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

static int
s_backup_of (void *arg, const char *ch, size_t len)
{
    return ch [0] == 'd'? -2: ch [0] == 'n'? -1: 1;
}

static s_fake_t *
s_new (int min_replicas, size_t max_bytes)
{
    s_fake_t *fake = hr_calloc (1, sizeof *fake);
    fake->snap_frames = 1;
    fake->sync = hrb_sync_new (0, 3, min_replicas, S_VALIDITY, S_HEARTBEAT, max_bytes,
                               &s_ops, fake);
    return fake;
}

static void
s_destroy (s_fake_t **fake_p)
{
    hrb_sync_destroy (&(*fake_p)->sync);
    free (*fake_p);
    *fake_p = NULL;
}

static int
s_add (s_fake_t *fake, const char *ch, uint64_t seq, bool new_epoch, const char *id)
{
    char envelope [16];
    snprintf (envelope, sizeof envelope, "ev%llu", (unsigned long long) seq);
    return hrb_sync_add (fake->sync, ch, strlen (ch), ch [0] == 'n'? -1: 1, seq, new_epoch,
                         envelope, strlen (envelope), id, id? strlen (id): 0, ch, strlen (ch));
}

static void
s_ack (s_fake_t *fake, uint64_t number, uint64_t r, uint64_t stamp, uint64_t now)
{
    hrb_sync_ack (fake->sync, 1, number, false, 0, r, false, stamp, NULL, 0, now);
}

static void
s_miss (s_fake_t *fake, uint64_t r, const char *ch, uint64_t at, uint64_t now)
{
    hrb_sync_miss_t miss = { ch, strlen (ch), at };
    hrb_sync_ack (fake->sync, 1, 1, false, 0, r, false, now, &miss, 1, now);
}

static hrb_sync_state_t
s_state (s_fake_t *fake, const char *ch)
{
    return hrb_sync_state (fake->sync, ch, strlen (ch));
}

static s_frame_t *
s_last_frame (s_fake_t *fake)
{
    assert_true (fake->nframes > 0);
    return &fake->frames [fake->nframes - 1];
}

//  View 1 installed at 0, the pair's first frame (a keepalive, r 1) acked
//  at 10 (stamp 10), ch tracked and snapshotted at 20 (r 2), acked at 30:
//  ch SYNCED, the next frame is r 3, now 30.
static void
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

//  ---------------------------------------------------------------------
//  States

static void
test_install_makes_channels_safe_none_or_drops_them (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    assert_int_equal (s_state (fake, "a"), 0);
    assert_int_equal (s_add (fake, "a", 1, false, NULL), 0);
    assert_int_equal (s_add (fake, "n1", 1, false, NULL), 0);
    assert_int_equal (s_add (fake, "d1", 7, false, "k"), 0);
    assert_int_equal (s_add (fake, "d1", 8, false, NULL), 0);
    assert_int_equal (hrb_sync_wait (fake->sync, "d1", 2, 7, "w", 1), 0);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SAFE);
    assert_int_equal (s_state (fake, "n1"), HRB_SYNC_NONE);
    hrb_sync_install (fake->sync, 1, s_backup_of, NULL);
    //  d1's items are dropped in order, its state and keys forgotten
    assert_int_equal (fake->nreleases, 3);
    assert_int_equal (fake->releases [0].seq, 7);
    assert_int_equal (fake->releases [0].outcome, HRB_SYNC_DROPPED);
    assert_true (fake->releases [1].waiter);
    assert_int_equal (fake->releases [1].outcome, HRB_SYNC_DROPPED);
    assert_int_equal (fake->releases [2].seq, 8);
    assert_int_equal (s_state (fake, "d1"), 0);
    assert_false (hrb_sync_find_key (fake->sync, "d1", 2, "k", 1, NULL));
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SAFE);
    assert_int_equal (s_state (fake, "n1"), HRB_SYNC_NONE);
    //  A channel's backup is the one known
    assert_int_equal (hrb_sync_add (fake->sync, "a", 1, 2, 2, false, "x", 1, NULL, 0, NULL, 0),
                      -1);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.dropped, 2);
    assert_int_equal (stats.items, 2);
    hrb_sync_step (fake->sync, 100, false);
    hrb_sync_step (fake->sync, 350, false);
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.oldest_ms, 250);
    assert_int_equal (stats.unsynced, 2);
    s_destroy (&fake);
}

static void
test_snapshot_acked_makes_synced_and_items_replicated_in_order (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    s_synced (fake, "a");
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    assert_int_equal (s_add (fake, "a", 6, false, NULL), 0);
    hrb_sync_step (fake->sync, 40, true);
    s_frame_t *frame = s_last_frame (fake);
    assert_int_equal (frame->r, 3);
    assert_false (frame->first);
    assert_int_equal (frame->echo, 30);
    assert_int_equal (frame->count, 2);
    assert_int_equal (frame->seqs [0], 5);
    assert_int_equal (frame->seqs [1], 6);
    assert_int_equal (s_add (fake, "a", 7, false, NULL), 0);
    hrb_sync_step (fake->sync, 41, true);
    assert_int_equal (s_last_frame (fake)->r, 4);
    //  Nothing before the ack of its frame, even with the lease
    s_ack (fake, 1, 2, 40, 50);
    hrb_sync_step (fake->sync, 50, true);
    assert_int_equal (fake->nreleases, 0);
    s_ack (fake, 1, 3, 41, 51);
    assert_int_equal (fake->nreleases, 2);
    assert_int_equal (fake->releases [0].seq, 5);
    assert_int_equal (fake->releases [0].outcome, HRB_SYNC_REPLICATED);
    assert_int_equal (fake->releases [1].seq, 6);
    s_ack (fake, 1, 4, 42, 52);
    assert_int_equal (fake->nreleases, 3);
    assert_int_equal (fake->releases [2].seq, 7);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.replicated, 3);
    assert_int_equal (stats.synced, 1);
    assert_int_equal (stats.items, 0);
    assert_int_equal (stats.bytes, 0);
    s_destroy (&fake);
}

static void
test_a_snapshot_carries_pending_items_which_wait_for_its_last_frame (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    hrb_sync_install (fake->sync, 1, s_backup_of, NULL);
    assert_int_equal (s_add (fake, "a", 3, false, NULL), 0);
    assert_int_equal (s_add (fake, "a", 4, false, NULL), 0);
    hrb_sync_step (fake->sync, 0, true);                 //  keepalive r 1
    s_ack (fake, 1, 1, 5, 5);
    fake->snap_frames = 3;
    hrb_sync_step (fake->sync, 10, true);
    assert_int_equal (fake->nsnaps, 1);
    assert_int_equal (fake->snaps [0].items, 2);
    assert_int_equal (fake->snaps [0].r, 2);            //  frames 2, 3, 4
    s_ack (fake, 1, 3, 20, 20);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SNAPSHOT);
    assert_int_equal (fake->nreleases, 0);
    s_ack (fake, 1, 4, 21, 21);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SYNCED);
    assert_int_equal (fake->nreleases, 2);
    assert_int_equal (fake->releases [0].seq, 3);
    assert_int_equal (fake->releases [0].outcome, HRB_SYNC_REPLICATED);
    //  The next item goes in an ordinary frame, after the snapshot's
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    hrb_sync_step (fake->sync, 30, true);
    assert_int_equal (s_last_frame (fake)->r, 5);
    s_destroy (&fake);
}

static void
test_a_miss_at_or_after_the_snapshot_makes_the_channel_safe (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    s_synced (fake, "a");                                //  snapshot at r 2
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    hrb_sync_step (fake->sync, 40, true);                //  r 3
    //  A miss from before the snapshot: the snapshot repaired it
    s_miss (fake, 2, "a", 1, 41);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SYNCED);
    //  A miss of the frame: SAFE, the item is not released by the ack
    s_miss (fake, 3, "a", 3, 42);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SAFE);
    assert_int_equal (fake->nreleases, 0);
    assert_false (hrb_sync_may_publish (fake->sync, "a", 1));
    //  A new snapshot carries the item; a miss in it makes it SAFE again
    hrb_sync_step (fake->sync, 50, true);
    assert_int_equal (fake->nsnaps, 2);
    assert_int_equal (fake->snaps [1].r, 4);
    assert_int_equal (fake->snaps [1].items, 1);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SNAPSHOT);
    s_miss (fake, 4, "a", 4, 51);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SAFE);
    assert_int_equal (fake->nreleases, 0);
    hrb_sync_step (fake->sync, 60, true);
    s_ack (fake, 1, 5, 61, 61);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SYNCED);
    assert_int_equal (fake->nreleases, 1);
    assert_int_equal (fake->releases [0].outcome, HRB_SYNC_REPLICATED);
    s_destroy (&fake);
}

//  ---------------------------------------------------------------------
//  Sessions

static void
test_a_send_failure_starts_a_session_whose_ack_makes_unsafe_safe (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    s_synced (fake, "a");
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    fake->fail = 1;
    hrb_sync_step (fake->sync, 40, true);
    //  The backup may still believe it holds a: the item waits, lease or not
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_UNSAFE);
    hrb_sync_step (fake->sync, 41, true);
    assert_int_equal (fake->nreleases, 0);
    assert_false (hrb_sync_may_publish (fake->sync, "x", 1) == false);  //  min 1: always
    s_frame_t *frame = s_last_frame (fake);
    assert_true (frame->first);                         //  the new session's keepalive
    assert_int_equal (frame->count, 0);
    uint64_t start = frame->r;
    assert_int_equal (start, 4);                        //  r 3 was refused
    //  An ack of the old session changes nothing
    s_ack (fake, 1, 2, 42, 42);
    hrb_sync_step (fake->sync, 42, true);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_UNSAFE);
    assert_int_equal (fake->nreleases, 0);
    //  An ack of the new one: the backup forgot a, which is SAFE: ALONE
    s_ack (fake, 1, start, 43, 43);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SAFE);
    hrb_sync_step (fake->sync, 44, true);
    assert_int_equal (fake->nreleases, 1);
    assert_int_equal (fake->releases [0].outcome, HRB_SYNC_ALONE);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.sessions, 1);
    assert_int_equal (stats.alone, 1);
    s_destroy (&fake);
}

static void
test_a_gap_starts_a_new_session (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    s_synced (fake, "a");
    hrb_sync_ack (fake->sync, 1, 1, false, 0, 0, true, 31, NULL, 0, 31);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_UNSAFE);
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    hrb_sync_step (fake->sync, 40, true);
    assert_true (s_last_frame (fake)->first);
    assert_int_equal (s_last_frame (fake)->count, 0);   //  a's item waits for a snapshot
    assert_int_equal (fake->nreleases, 0);
    //  A gap of another view is ignored
    s_ack (fake, 1, s_last_frame (fake)->r, 41, 41);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SAFE);
    hrb_sync_ack (fake->sync, 1, 0, false, 0, 0, true, 42, NULL, 0, 42);
    hrb_sync_step (fake->sync, 42, false);
    assert_int_equal (fake->nsnaps, 2);
    assert_false (fake->snaps [1].first);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.sessions, 1);
    s_destroy (&fake);
}

static void
test_unsafe_becomes_safe_when_the_backups_validity_ran_out (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    s_synced (fake, "a");                                //  stamp 30 came at 30
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    fake->fail = 1;
    hrb_sync_step (fake->sync, 40, true);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_UNSAFE);
    //  An ack of the old session brings a later stamp: it is echoed, so
    //  the backup's trust may last until 500 + validity
    s_ack (fake, 1, 2, 500, 500);
    hrb_sync_step (fake->sync, 500, true);
    assert_int_equal (s_last_frame (fake)->echo, 500);
    //  Acks stop; keepalives of the new session go
    for (uint64_t now = 600; now < 500 + S_VALIDITY; now += S_HEARTBEAT) {
        hrb_sync_step (fake->sync, now, true);
        assert_int_equal (s_state (fake, "a"), HRB_SYNC_UNSAFE);
    }
    hrb_sync_step (fake->sync, 500 + S_VALIDITY - 1, true);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_UNSAFE);
    assert_int_equal (fake->nreleases, 0);
    hrb_sync_step (fake->sync, 500 + S_VALIDITY, true);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SAFE);
    assert_int_equal (fake->nreleases, 1);
    assert_int_equal (fake->releases [0].outcome, HRB_SYNC_ALONE);
    s_destroy (&fake);
}

static void
test_acks_stopping_for_validity_start_a_new_session (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    s_synced (fake, "a");                                //  last ack at 30
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    hrb_sync_step (fake->sync, 40, true);
    size_t frames = fake->nframes;
    hrb_sync_step (fake->sync, 30 + S_VALIDITY - 1, true);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SYNCED);
    assert_false (fake->frames [fake->nframes - 1].first);
    assert_true (fake->nframes > frames);               //  a keepalive
    //  A new session; the stamp 30 came at 30, so a is SAFE at once: ALONE
    hrb_sync_step (fake->sync, 30 + S_VALIDITY, true);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SAFE);
    assert_true (s_last_frame (fake)->first);
    assert_int_equal (fake->nreleases, 1);
    assert_int_equal (fake->releases [0].outcome, HRB_SYNC_ALONE);
    s_destroy (&fake);
}

static void
test_a_fence_holds_until_a_view_that_new_is_installed (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    s_synced (fake, "a");
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    //  A fence of a view not newer than this one is ignored
    hrb_sync_ack (fake->sync, 1, 1, true, 1, 0, false, 0, NULL, 0, 40);
    assert_int_equal (hrb_sync_fenced (fake->sync), 0);
    hrb_sync_ack (fake->sync, 1, 1, true, 3, 0, false, 0, NULL, 0, 40);
    assert_int_equal (hrb_sync_fenced (fake->sync), 3);
    hrb_sync_step (fake->sync, 41, true);
    assert_int_equal (fake->nreleases, 0);
    hrb_sync_install (fake->sync, 2, s_backup_of, NULL);
    assert_int_equal (hrb_sync_fenced (fake->sync), 3);
    assert_int_equal (fake->nreleases, 0);              //  kept: owned continuously
    hrb_sync_install (fake->sync, 3, s_backup_of, NULL);
    assert_int_equal (hrb_sync_fenced (fake->sync), 0);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SAFE);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.fences, 1);
    s_destroy (&fake);
}

static void
test_acks_of_another_view_or_of_frames_never_sent_are_ignored (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    s_synced (fake, "a");
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    hrb_sync_step (fake->sync, 40, true);               //  r 3
    s_ack (fake, 0, 3, 41, 41);
    s_ack (fake, 2, 3, 41, 41);
    s_ack (fake, 1, 9, 41, 41);
    hrb_sync_ack (fake->sync, 7, 1, false, 0, 3, false, 41, NULL, 0, 41);   //  no such broker
    hrb_sync_ack (fake->sync, 0, 1, false, 0, 3, false, 41, NULL, 0, 41);   //  itself
    assert_int_equal (fake->nreleases, 0);
    s_ack (fake, 1, 3, 41, 41);
    assert_int_equal (fake->nreleases, 1);
    s_destroy (&fake);
}

//  ---------------------------------------------------------------------
//  --min-replicas, new channels, waiters

static void
test_min_1_releases_safe_and_none_alone_only_with_the_lease (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    hrb_sync_install (fake->sync, 1, s_backup_of, NULL);
    assert_int_equal (s_add (fake, "a", 4, false, NULL), 0);
    assert_int_equal (s_add (fake, "n1", 2, false, NULL), 0);
    assert_true (hrb_sync_may_publish (fake->sync, "a", 1));
    hrb_sync_step (fake->sync, 0, false);
    assert_int_equal (fake->nreleases, 0);
    hrb_sync_step (fake->sync, 1, true);
    assert_int_equal (fake->nreleases, 2);
    assert_int_equal (fake->releases [0].outcome, HRB_SYNC_ALONE);
    assert_int_equal (fake->releases [1].outcome, HRB_SYNC_ALONE);
    s_destroy (&fake);
}

static void
test_min_2_never_releases_alone_and_refuses_unsynced_channels (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    assert_true (hrb_sync_may_publish (fake->sync, "a", 1));   //  unknown: a new channel
    hrb_sync_install (fake->sync, 1, s_backup_of, NULL);
    hrb_sync_track (fake->sync, "a", 1, 1);
    hrb_sync_track (fake->sync, "n1", 2, -1);
    assert_false (hrb_sync_may_publish (fake->sync, "a", 1));  //  SAFE
    assert_false (hrb_sync_may_publish (fake->sync, "n1", 2)); //  NONE
    assert_int_equal (s_add (fake, "n1", 2, false, NULL), 0);
    hrb_sync_step (fake->sync, 0, true);
    s_ack (fake, 1, 1, 1, 1);
    hrb_sync_step (fake->sync, 2, true);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SNAPSHOT);
    assert_true (hrb_sync_may_publish (fake->sync, "a", 1));
    s_ack (fake, 1, 2, 3, 3);
    assert_true (hrb_sync_may_publish (fake->sync, "a", 1));   //  SYNCED
    fake->fail = 1;
    hrb_sync_step (fake->sync, 300, true);             //  a failed keepalive
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_UNSAFE);
    assert_false (hrb_sync_may_publish (fake->sync, "a", 1));
    for (uint64_t now = 300; now < 5000; now += S_HEARTBEAT)
        hrb_sync_step (fake->sync, now, true);
    assert_int_equal (fake->nreleases, 0);              //  n1's item waits for ever
    s_destroy (&fake);
}

static void
test_a_new_channels_first_event_is_its_snapshot (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    hrb_sync_install (fake->sync, 1, s_backup_of, NULL);
    assert_int_equal (s_add (fake, "b", 1, true, NULL), 0);
    assert_int_equal (s_state (fake, "b"), HRB_SYNC_SNAPSHOT);
    assert_true (hrb_sync_may_publish (fake->sync, "b", 1));
    hrb_sync_step (fake->sync, 0, true);                 //  not ALONE: protected
    assert_int_equal (fake->nreleases, 0);
    assert_int_equal (fake->nsnaps, 0);
    s_frame_t *frame = s_last_frame (fake);
    assert_true (frame->first);
    assert_int_equal (frame->count, 1);
    assert_int_equal (frame->seqs [0], 1);
    //  A miss of that frame makes it SAFE
    hrb_sync_miss_t miss = { "b", 1, frame->r };
    hrb_sync_ack (fake->sync, 1, 1, false, 0, frame->r, false, 5, &miss, 1, 5);
    assert_int_equal (s_state (fake, "b"), HRB_SYNC_SAFE);
    hrb_sync_step (fake->sync, 6, true);
    assert_int_equal (fake->nreleases, 1);
    assert_int_equal (fake->releases [0].outcome, HRB_SYNC_ALONE);
    //  Seq 1 again (the stream expired): ordinary item and snapshot at once
    assert_int_equal (s_add (fake, "c", 1, true, NULL), 0);
    hrb_sync_step (fake->sync, 7, false);
    s_ack (fake, 1, s_last_frame (fake)->r, 8, 8);
    assert_int_equal (s_state (fake, "c"), HRB_SYNC_SYNCED);
    assert_int_equal (fake->nreleases, 2);
    assert_int_equal (fake->releases [1].outcome, HRB_SYNC_REPLICATED);
    //  Into a SAFE channel with items pending, seq 1 is an ordinary item
    assert_int_equal (s_add (fake, "e", 3, false, NULL), 0);
    assert_int_equal (s_add (fake, "e", 1, true, NULL), 0);
    assert_int_equal (s_state (fake, "e"), HRB_SYNC_SAFE);
    s_destroy (&fake);
}

static void
test_a_waiter_is_released_with_its_item (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    s_synced (fake, "a");
    assert_int_equal (s_add (fake, "a", 5, false, "k1"), 0);
    uint64_t seq = 0;
    assert_true (hrb_sync_find_key (fake->sync, "a", 1, "k1", 2, &seq));
    assert_int_equal (seq, 5);
    assert_false (hrb_sync_find_key (fake->sync, "a", 1, "k2", 2, &seq));
    assert_false (hrb_sync_find_key (fake->sync, "b", 1, "k1", 2, &seq));
    assert_int_equal (hrb_sync_wait (fake->sync, "a", 1, 5, "w1", 2), 0);
    assert_int_equal (hrb_sync_wait (fake->sync, "a", 1, 6, "w2", 2), -1);
    assert_int_equal (hrb_sync_wait (fake->sync, "z", 1, 5, "w2", 2), -1);
    hrb_sync_step (fake->sync, 40, true);
    assert_int_equal (s_last_frame (fake)->count, 1);  //  the waiter is no event
    s_ack (fake, 1, 3, 41, 41);
    assert_int_equal (fake->nreleases, 2);
    assert_false (fake->releases [0].waiter);
    assert_true (fake->releases [1].waiter);
    assert_int_equal (fake->releases [1].seq, 5);
    assert_string_equal (fake->releases [1].reply, "w1");
    assert_int_equal (fake->releases [1].outcome, HRB_SYNC_REPLICATED);
    assert_false (hrb_sync_find_key (fake->sync, "a", 1, "k1", 2, &seq));
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.items, 0);
    assert_int_equal (stats.bytes, 0);
    s_destroy (&fake);
}

//  ---------------------------------------------------------------------
//  Bounds, frames, keepalives, snapshots, sweep

static void
test_items_are_bounded_by_max_bytes (void **state)
{
    size_t item = 3 + 1 + 1 + HRB_SYNC_ITEM_OVERHEAD;  //  "ev1", "a", reply "a"
    s_fake_t *fake = s_new (1, 2 * item);
    hrb_sync_install (fake->sync, 1, s_backup_of, NULL);
    assert_true (hrb_sync_room (fake->sync, 5));
    assert_int_equal (s_add (fake, "a", 1, false, NULL), 0);
    assert_int_equal (s_add (fake, "a", 2, false, NULL), 0);
    assert_false (hrb_sync_room (fake->sync, 5));
    assert_int_equal (s_add (fake, "a", 3, false, NULL), -1);
    assert_int_equal (hrb_sync_wait (fake->sync, "a", 1, 1, "w", 1), -1);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.bytes, 2 * item);
    hrb_sync_step (fake->sync, 0, true);
    assert_true (hrb_sync_room (fake->sync, 5));
    s_destroy (&fake);
}

static void
test_frames_are_cut_at_frame_max (void **state)
{
    s_fake_t *fake = s_new (1, 4 << 20);
    s_synced (fake, "a");
    size_t size = 100 * 1024;
    char *envelope = hr_calloc (1, size);
    for (uint64_t seq = 1; seq <= 5; seq++)
        assert_int_equal (hrb_sync_add (fake->sync, "a", 1, 1, seq, false, envelope, size,
                                        NULL, 0, NULL, 0), 0);
    size_t before = fake->nframes;
    hrb_sync_step (fake->sync, 40, true);
    assert_int_equal (fake->nframes - before, 3);
    assert_int_equal (fake->frames [before].count, 2);
    assert_int_equal (fake->frames [before + 1].count, 2);
    assert_int_equal (fake->frames [before + 2].count, 1);
    for (size_t i = before; i < fake->nframes; i++)
        assert_true (fake->frames [i].bytes <= HRB_SYNC_FRAME_MAX);
    assert_int_equal (fake->frames [before + 2].seqs [0], 5);
    free (envelope);
    s_destroy (&fake);
}

static void
test_keepalives_go_every_heartbeat_when_nothing_else_did (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    s_synced (fake, "a");                                //  last frame (snapshot) at 20
    size_t before = fake->nframes;
    hrb_sync_step (fake->sync, 20 + S_HEARTBEAT - 1, true);
    assert_int_equal (fake->nframes, before);
    hrb_sync_step (fake->sync, 20 + S_HEARTBEAT, true);
    assert_int_equal (fake->nframes, before + 1);
    assert_int_equal (s_last_frame (fake)->count, 0);
    assert_int_equal (s_last_frame (fake)->r, 3);
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    hrb_sync_step (fake->sync, 20 + 2 * S_HEARTBEAT, true);
    assert_int_equal (fake->nframes, before + 2);       //  the item's frame only
    assert_int_equal (s_last_frame (fake)->count, 1);
    //  A broker with no channel backed up gets nothing
    for (size_t i = 0; i < fake->nframes; i++)
        assert_int_equal (fake->frames [i].to, 1);
    s_destroy (&fake);
}

static void
test_snapshots_only_on_a_healthy_pair_and_at_most_max_in_flight (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    hrb_sync_install (fake->sync, 1, s_backup_of, NULL);
    char ch [8];
    for (int i = 0; i < HRB_SYNC_SNAPSHOTS_MAX + 4; i++) {
        snprintf (ch, sizeof ch, "c%d", i);
        assert_int_equal (hrb_sync_track (fake->sync, ch, strlen (ch), 1), 0);
    }
    hrb_sync_step (fake->sync, 0, true);
    assert_int_equal (fake->nsnaps, 0);
    s_ack (fake, 1, 1, 1, 1);
    hrb_sync_step (fake->sync, 2, true);
    assert_int_equal (fake->nsnaps, HRB_SYNC_SNAPSHOTS_MAX);
    hrb_sync_step (fake->sync, 3, true);
    assert_int_equal (fake->nsnaps, HRB_SYNC_SNAPSHOTS_MAX);
    //  Two acknowledged: two more go, while acks keep coming
    s_ack (fake, 1, 3, 4, 4);
    hrb_sync_step (fake->sync, 4 + 4 * S_HEARTBEAT - 1, true);
    assert_int_equal (fake->nsnaps, HRB_SYNC_SNAPSHOTS_MAX + 2);
    //  No ack for 4 heartbeats: the pair is not healthy
    s_ack (fake, 1, HRB_SYNC_SNAPSHOTS_MAX + 3, 5, 5);
    hrb_sync_step (fake->sync, 5 + 4 * S_HEARTBEAT, true);
    assert_int_equal (fake->nsnaps, HRB_SYNC_SNAPSHOTS_MAX + 2);
    s_ack (fake, 1, HRB_SYNC_SNAPSHOTS_MAX + 3, 6, 5 + 4 * S_HEARTBEAT);
    hrb_sync_step (fake->sync, 5 + 4 * S_HEARTBEAT, true);
    assert_int_equal (fake->nsnaps, HRB_SYNC_SNAPSHOTS_MAX + 4);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.snapshots, HRB_SYNC_SNAPSHOTS_MAX + 4);
    assert_int_equal (stats.synced, HRB_SYNC_SNAPSHOTS_MAX + 2);
    //  A snapshot that cannot go starts a new session; the channel waits
    s_destroy (&fake);
}

static void
test_a_snapshot_that_cannot_go_starts_a_new_session (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    s_synced (fake, "a");
    hrb_sync_track (fake->sync, "b", 1, 1);
    fake->fail = 1;
    hrb_sync_step (fake->sync, 40, true);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_UNSAFE);
    assert_int_equal (s_state (fake, "b"), HRB_SYNC_SAFE);
    assert_true (s_last_frame (fake)->first);
    s_destroy (&fake);
}

static bool
s_exists (void *arg, const char *ch, size_t len)
{
    return ch [0] == 'k';
}

static void
test_sweep_forgets_channels_gone_with_nothing_waiting (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    hrb_sync_install (fake->sync, 1, s_backup_of, NULL);
    hrb_sync_track (fake->sync, "g1", 2, 1);
    hrb_sync_track (fake->sync, "k1", 2, 1);
    hrb_sync_track (fake->sync, "g2", 2, -1);
    assert_int_equal (s_add (fake, "g3", 1, false, NULL), 0);
    hrb_sync_sweep (fake->sync, s_exists, NULL, 1);
    assert_int_equal (s_state (fake, "g1"), 0);
    assert_int_equal (s_state (fake, "g2"), HRB_SYNC_NONE);
    hrb_sync_sweep (fake->sync, s_exists, NULL, 100);
    assert_int_equal (s_state (fake, "g2"), 0);
    assert_int_equal (s_state (fake, "k1"), HRB_SYNC_SAFE);
    assert_int_equal (s_state (fake, "g3"), HRB_SYNC_SAFE);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.unsynced, 2);
    s_destroy (&fake);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_install_makes_channels_safe_none_or_drops_them),
        cmocka_unit_test (test_snapshot_acked_makes_synced_and_items_replicated_in_order),
        cmocka_unit_test (test_a_snapshot_carries_pending_items_which_wait_for_its_last_frame),
        cmocka_unit_test (test_a_miss_at_or_after_the_snapshot_makes_the_channel_safe),
        cmocka_unit_test (test_a_send_failure_starts_a_session_whose_ack_makes_unsafe_safe),
        cmocka_unit_test (test_a_gap_starts_a_new_session),
        cmocka_unit_test (test_unsafe_becomes_safe_when_the_backups_validity_ran_out),
        cmocka_unit_test (test_acks_stopping_for_validity_start_a_new_session),
        cmocka_unit_test (test_a_fence_holds_until_a_view_that_new_is_installed),
        cmocka_unit_test (test_acks_of_another_view_or_of_frames_never_sent_are_ignored),
        cmocka_unit_test (test_min_1_releases_safe_and_none_alone_only_with_the_lease),
        cmocka_unit_test (test_min_2_never_releases_alone_and_refuses_unsynced_channels),
        cmocka_unit_test (test_a_new_channels_first_event_is_its_snapshot),
        cmocka_unit_test (test_a_waiter_is_released_with_its_item),
        cmocka_unit_test (test_items_are_bounded_by_max_bytes),
        cmocka_unit_test (test_frames_are_cut_at_frame_max),
        cmocka_unit_test (test_keepalives_go_every_heartbeat_when_nothing_else_did),
        cmocka_unit_test (test_snapshots_only_on_a_healthy_pair_and_at_most_max_in_flight),
        cmocka_unit_test (test_a_snapshot_that_cannot_go_starts_a_new_session),
        cmocka_unit_test (test_sweep_forgets_channels_gone_with_nothing_waiting),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
