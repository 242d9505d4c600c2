/*  test_hrb_sync: the owner's side of synchronous replication (broker/
    hrb_sync), part one, through the fake caller of sync_fixture.h: every
    per-channel state transition (install, snapshots, misses), the release
    rules (REPLICATED only after an ack of a frame at or past the item's
    with the channel in sync; ALONE only with --min-replicas 1, the lease,
    and a channel the backup knows it does not hold), a new channel's first
    event, waiters. Part two (sessions, the fence, bounds, frames,
    keepalives, the snapshot gate, the sweep) is test_hrb_sync_session.  */
#include "sync_fixture.h"

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
    assert_int_equal (s_add (fake, "n2", 1, false, NULL), 0);
    hrb_sync_step (fake->sync, 350, false);
    hrb_sync_stats (fake->sync, &stats);
    assert_int_equal (stats.oldest_ms, 350);            //  a's, older than the first step
    assert_int_equal (stats.unsynced, 3);
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
    hrb_sync_ack (fake->sync, 1, 1, false, 0, 2, true, 300, NULL, 0, 300);  //  a gap
    hrb_sync_step (fake->sync, 300, true);
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

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_install_makes_channels_safe_none_or_drops_them),
        cmocka_unit_test (test_snapshot_acked_makes_synced_and_items_replicated_in_order),
        cmocka_unit_test (test_a_snapshot_carries_pending_items_which_wait_for_its_last_frame),
        cmocka_unit_test (test_a_miss_at_or_after_the_snapshot_makes_the_channel_safe),
        cmocka_unit_test (test_min_1_releases_safe_and_none_alone_only_with_the_lease),
        cmocka_unit_test (test_min_2_never_releases_alone_and_refuses_unsynced_channels),
        cmocka_unit_test (test_a_new_channels_first_event_is_its_snapshot),
        cmocka_unit_test (test_a_waiter_is_released_with_its_item),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
