/*  test_hrb_sync_session: the owner's side of synchronous replication
    (broker/hrb_sync), part two, through the fake caller of
    sync_fixture.h: each cause of a new session and what it does to the
    channels, the validity bound, the fence, acks of another view or
    session, the byte bound, frame cutting, keepalives, the snapshot gate
    and the sweep.  */
#include "sync_fixture.h"

//  ---------------------------------------------------------------------
//  Sessions

static void
test_a_new_sessions_ack_makes_unsafe_safe (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    s_synced (fake, "a");
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    hrb_sync_ack (fake->sync, 1, 1, false, 0, 2, true, 40, NULL, 0, 40);    //  a gap
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
    assert_int_equal (start, 3);
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

//  ZeroMQ queues a frame wholly or not at all: one refused never reached
//  the backup, so the session goes on and the frame goes again, same r.
static void
test_a_refused_frame_goes_again_with_its_r_and_no_new_session (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    s_synced (fake, "a");
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    size_t frames = fake->nframes;
    fake->fail = 1;
    hrb_sync_step (fake->sync, 40, true);
    assert_int_equal (fake->nframes, frames);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SYNCED);
    assert_true (hrb_sync_may_publish (fake->sync, "a", 1));
    assert_int_equal (s_add (fake, "a", 6, false, NULL), 0);
    hrb_sync_step (fake->sync, 41, true);
    s_frame_t *frame = s_last_frame (fake);
    assert_int_equal (frame->r, 3);
    assert_false (frame->first);
    assert_int_equal (frame->count, 2);                 //  with what came meanwhile
    assert_int_equal (frame->seqs [0], 5);
    assert_int_equal (frame->seqs [1], 6);
    s_ack (fake, 1, 3, 42, 42);
    assert_int_equal (fake->nreleases, 2);
    assert_int_equal (fake->releases [0].seq, 5);
    assert_int_equal (fake->releases [0].outcome, HRB_SYNC_REPLICATED);
    assert_int_equal (fake->releases [1].seq, 6);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SYNCED);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.sessions, 0);
    assert_int_equal (stats.refused, 1);
    s_destroy (&fake);
}

static void
test_a_refused_keepalive_goes_again_with_its_r (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    hrb_sync_install (fake->sync, 1, s_backup_of, NULL);
    hrb_sync_track (fake->sync, "a", 1, 1);
    fake->fail = 1;
    hrb_sync_step (fake->sync, 0, true);                //  the session's first frame
    assert_int_equal (fake->nframes, 0);
    hrb_sync_step (fake->sync, 1, true);
    assert_int_equal (fake->nframes, 1);
    assert_true (fake->frames [0].first);
    assert_int_equal (fake->frames [0].r, 1);
    s_ack (fake, 1, 1, 2, 2);
    hrb_sync_step (fake->sync, 3, true);                //  a's snapshot, r 2
    s_ack (fake, 1, 2, 4, 4);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SYNCED);
    fake->fail = 1;
    hrb_sync_step (fake->sync, 3 + S_HEARTBEAT, true);  //  a keepalive refused
    assert_int_equal (fake->nframes, 1);
    hrb_sync_step (fake->sync, 4 + S_HEARTBEAT, true);
    assert_int_equal (fake->nframes, 2);
    assert_false (fake->frames [1].first);
    assert_int_equal (fake->frames [1].r, 3);
    assert_int_equal (fake->frames [1].count, 0);
    s_ack (fake, 1, 3, 5 + S_HEARTBEAT, 5 + S_HEARTBEAT);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SYNCED);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.sessions, 0);
    s_destroy (&fake);
}

//  A backup that is down refuses everything: one attempt per step and
//  nothing allocated, until acks have stopped for validity.
static void
test_a_pair_that_keeps_refusing_costs_one_attempt_per_step (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    s_synced (fake, "a");                               //  last ack at 30
    for (uint64_t seq = 5; seq < 5 + 60; seq++)
        assert_int_equal (s_add (fake, "a", seq, false, NULL), 0);
    fake->fail = 1000000;
    hrb_sync_step (fake->sync, 40, true);
    const void *items_at = fake->items_at;
    for (uint64_t now = 50; now < 30 + S_VALIDITY; now += 10) {
        size_t attempts = fake->attempts;
        hrb_sync_step (fake->sync, now, true);
        assert_int_equal (fake->attempts, attempts + 1);
        assert_ptr_equal (fake->items_at, items_at);
        assert_int_equal (s_state (fake, "a"), HRB_SYNC_SYNCED);
    }
    assert_int_equal (fake->nreleases, 0);
    //  Acks stopped: a new session, and a is SAFE at once (stamp 30 at 30)
    hrb_sync_step (fake->sync, 30 + S_VALIDITY, true);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SAFE);
    assert_int_equal (fake->nreleases, 60);
    assert_int_equal (fake->releases [0].outcome, HRB_SYNC_ALONE);
    size_t attempts = fake->attempts;
    hrb_sync_step (fake->sync, 40 + S_VALIDITY, true);  //  the new session's keepalive
    assert_int_equal (fake->attempts, attempts + 1);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.sessions, 1);
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

//  A view install starts a new session on every pair: the backup forgets
//  what it held for this broker at its first frame, and only an ack of the
//  new view makes the pair healthy again (then the snapshot goes).
static void
test_an_install_starts_a_new_session (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    s_synced (fake, "a");
    hrb_sync_install (fake->sync, 2, s_backup_of, NULL);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SAFE);
    hrb_sync_step (fake->sync, 40, true);
    s_frame_t *first = s_last_frame (fake);
    assert_true (first->first);
    assert_int_equal (first->n, 2);
    assert_int_equal (fake->nsnaps, 1);                 //  s_synced's only
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.sessions, 1);
    //  An ack of view 1 makes nothing healthy; one of view 2 does
    s_ack (fake, 1, first->r, 41, 41);
    hrb_sync_step (fake->sync, 42, true);
    assert_int_equal (fake->nsnaps, 1);
    s_ack (fake, 2, first->r, 43, 43);
    hrb_sync_step (fake->sync, 44, true);
    assert_int_equal (fake->nsnaps, 2);
    assert_int_equal (fake->snaps [1].n, 2);
    s_destroy (&fake);
}

static void
test_a_gaps_rack_acknowledges_the_frames_before_it (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    s_synced (fake, "a");
    s_synced_too (fake, "b");                           //  snapshot r 3
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    assert_int_equal (s_add (fake, "b", 7, false, NULL), 0);
    hrb_sync_step (fake->sync, 40, true);               //  r 4
    assert_int_equal (s_add (fake, "a", 6, false, NULL), 0);
    hrb_sync_step (fake->sync, 41, true);               //  r 5
    //  The backup missed b in r 4 and lost r 5: r 4 is acknowledged
    hrb_sync_miss_t miss = { "b", 1, 4 };
    hrb_sync_ack (fake->sync, 1, 1, false, 0, 4, true, 42, &miss, 1, 42);
    assert_int_equal (fake->nreleases, 1);
    assert_int_equal (fake->releases [0].seq, 5);
    assert_int_equal (fake->releases [0].outcome, HRB_SYNC_REPLICATED);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_UNSAFE);
    assert_int_equal (s_state (fake, "b"), HRB_SYNC_SAFE);
    s_destroy (&fake);
}

static void
test_unsafe_becomes_safe_when_the_backups_validity_ran_out (void **state)
{
    s_fake_t *fake = s_new (1, 1 << 20);
    s_synced (fake, "a");                                //  stamp 30 came at 30
    assert_int_equal (s_add (fake, "a", 5, false, NULL), 0);
    hrb_sync_ack (fake->sync, 1, 1, false, 0, 2, true, 30, NULL, 0, 40);    //  a gap
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
test_a_snapshot_refused_whole_goes_again_with_its_r (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    s_synced (fake, "a");
    hrb_sync_track (fake->sync, "b", 1, 1);
    fake->fail = 1;
    hrb_sync_step (fake->sync, 40, true);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SYNCED);
    assert_int_equal (s_state (fake, "b"), HRB_SYNC_SAFE);
    assert_int_equal (fake->nsnaps, 1);                 //  a's
    size_t frames = fake->nframes;
    hrb_sync_step (fake->sync, 41, true);
    assert_int_equal (fake->nsnaps, 2);
    assert_string_equal (fake->snaps [1].ch, "b");
    assert_int_equal (fake->snaps [1].r, 3);
    assert_false (fake->snaps [1].first);
    assert_int_equal (fake->nframes, frames);           //  no keepalive: the snapshot went
    s_ack (fake, 1, 3, 42, 42);
    assert_int_equal (s_state (fake, "b"), HRB_SYNC_SYNCED);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SYNCED);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.sessions, 0);
    s_destroy (&fake);
}

//  A snapshot refused after some of its frames were queued: the backup may
//  take and acknowledge those, so their r are never used again, and the
//  session ends (the backup would see a gap after them).
static void
test_a_snapshot_refused_in_part_spends_its_r_and_starts_a_new_session (void **state)
{
    s_fake_t *fake = s_new (2, 1 << 20);
    s_synced (fake, "a");
    hrb_sync_track (fake->sync, "b", 1, 1);
    fake->fail = 1;
    fake->snap_partial = 2;                             //  r 3 and 4 queued
    hrb_sync_step (fake->sync, 40, true);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_UNSAFE);
    assert_int_equal (s_state (fake, "b"), HRB_SYNC_SAFE);
    hrb_sync_step (fake->sync, 41, true);               //  b again, the session's first
    assert_int_equal (fake->nsnaps, 2);
    assert_string_equal (fake->snaps [1].ch, "b");
    assert_true (fake->snaps [1].first);
    assert_int_equal (fake->snaps [1].r, 5);
    //  The backup's rack of the queued parts acknowledges nothing new
    s_ack (fake, 1, 4, 42, 42);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_UNSAFE);
    assert_int_equal (s_state (fake, "b"), HRB_SYNC_SNAPSHOT);
    s_ack (fake, 1, 5, 43, 43);
    assert_int_equal (s_state (fake, "a"), HRB_SYNC_SAFE);
    assert_int_equal (s_state (fake, "b"), HRB_SYNC_SYNCED);
    hrb_sync_stats_t stats;
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.sessions, 1);
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
        cmocka_unit_test (test_a_new_sessions_ack_makes_unsafe_safe),
        cmocka_unit_test (test_a_refused_frame_goes_again_with_its_r_and_no_new_session),
        cmocka_unit_test (test_a_refused_keepalive_goes_again_with_its_r),
        cmocka_unit_test (test_a_pair_that_keeps_refusing_costs_one_attempt_per_step),
        cmocka_unit_test (test_a_gap_starts_a_new_session),
        cmocka_unit_test (test_an_install_starts_a_new_session),
        cmocka_unit_test (test_a_gaps_rack_acknowledges_the_frames_before_it),
        cmocka_unit_test (test_unsafe_becomes_safe_when_the_backups_validity_ran_out),
        cmocka_unit_test (test_acks_stopping_for_validity_start_a_new_session),
        cmocka_unit_test (test_a_fence_holds_until_a_view_that_new_is_installed),
        cmocka_unit_test (test_acks_of_another_view_or_of_frames_never_sent_are_ignored),
        cmocka_unit_test (test_items_are_bounded_by_max_bytes),
        cmocka_unit_test (test_frames_are_cut_at_frame_max),
        cmocka_unit_test (test_keepalives_go_every_heartbeat_when_nothing_else_did),
        cmocka_unit_test (test_snapshots_only_on_a_healthy_pair_and_at_most_max_in_flight),
        cmocka_unit_test (test_a_snapshot_refused_whole_goes_again_with_its_r),
        cmocka_unit_test (test_a_snapshot_refused_in_part_spends_its_r_and_starts_a_new_session),
        cmocka_unit_test (test_sweep_forgets_channels_gone_with_nothing_waiting),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
