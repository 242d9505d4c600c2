/*  test_hrb_backup: the backup's side of synchronous replication (broker/
    hrb_backup).

    Each verdict of a frame and the rack it owes; a first forgets only its
    owner's channels, a gap drops the session until a first; echoes never
    go back; misses are listed once per rack, in every rack until the
    channel is in sync again or a new session (a first, an install), and
    one too many is a gap; snapshot parts in order only; takeover only in sync and within the
    validity; a new view forgets everything but a fence; the cap on
    channels in sync.  */
#include "hrb_backup.h"

#include "hr_channel.h"
#include "support.h"

#define S_VALIDITY 10000
#define S_LEASE 2000

//  A machine of broker 0 among 3, view 5 installed.
static hrb_backup_t *
s_backup (size_t max_channels)
{
    hrb_backup_t *b = hrb_backup_new (0, 3, S_VALIDITY, max_channels);
    hrb_backup_install (b, 5);
    return b;
}

static void
s_sync (hrb_backup_t *b, int from, const char *ch)
{
    assert_int_equal (hrb_backup_sync (b, from, ch, strlen (ch)), 0);
}

static bool
s_synced (hrb_backup_t *b, int from, const char *ch)
{
    return hrb_backup_synced (b, from, ch, strlen (ch));
}

//  The rack owed to from at now, which must be owed.
static hrb_backup_ack_t
s_ack (hrb_backup_t *b, int from, uint64_t now)
{
    hrb_backup_ack_t ack;
    assert_true (hrb_backup_ack (b, from, now, &ack));
    return ack;
}

static void
s_no_ack (hrb_backup_t *b, int from)
{
    hrb_backup_ack_t ack;
    assert_false (hrb_backup_ack (b, from, 0, &ack));
}

static void
test_each_verdict_and_its_rack (void **state)
{
    hrb_backup_t *b = s_backup (100);
    s_no_ack (b, 1);
    //  No session: only a first is taken
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, false, 0, 10), HRB_BACKUP_GAP);
    hrb_backup_ack_t ack = s_ack (b, 1, 11);
    assert_true (ack.gap);
    assert_int_equal (ack.r, 0);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 2, false, 0, 10), HRB_BACKUP_ACCEPT);
    ack = s_ack (b, 1, 12);
    assert_int_equal (ack.number, 5);
    assert_int_equal (ack.r, 2);
    assert_false (ack.gap);
    assert_false (ack.fence);
    assert_int_equal (ack.stamp, 12);
    assert_int_equal (ack.misses, 0);
    s_no_ack (b, 1);
    //  Taken already: acknowledged again
    assert_int_equal (hrb_backup_frame (b, 1, 5, 2, false, 0, 10), HRB_BACKUP_DUP);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, false, 0, 10), HRB_BACKUP_DUP);
    ack = s_ack (b, 1, 13);
    assert_int_equal (ack.r, 2);
    assert_false (ack.gap);
    //  A view ahead is ignored, not acknowledged, and leaves the session
    assert_int_equal (hrb_backup_frame (b, 1, 6, 3, false, 0, 10), HRB_BACKUP_AHEAD);
    s_no_ack (b, 1);
    //  An older view is fenced: theirs and ours
    assert_int_equal (hrb_backup_frame (b, 1, 4, 3, false, 0, 10), HRB_BACKUP_FENCE);
    ack = s_ack (b, 1, 14);
    assert_true (ack.fence);
    assert_int_equal (ack.number, 4);
    assert_int_equal (ack.installed, 5);
    s_no_ack (b, 1);
    //  The session went on meanwhile; a frame skipped is a gap
    assert_int_equal (hrb_backup_frame (b, 1, 5, 3, false, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 5, false, 0, 10), HRB_BACKUP_GAP);
    ack = s_ack (b, 1, 15);
    assert_true (ack.gap);
    assert_int_equal (ack.r, 3);
    //  A frame of a session before this one is a gap too
    assert_int_equal (hrb_backup_frame (b, 1, 5, 10, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 9, false, 0, 10), HRB_BACKUP_GAP);
    //  Another owner's session is its own
    assert_int_equal (hrb_backup_frame (b, 2, 5, 7, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (s_ack (b, 2, 16).r, 7);
    hrb_backup_stats_t stats;
    hrb_backup_stats (b, &stats);
    assert_int_equal (stats.accepted, 5);
    assert_int_equal (stats.dups, 2);
    assert_int_equal (stats.gaps, 3);
    assert_int_equal (stats.fences, 1);
    assert_int_equal (stats.ahead, 1);
    hrb_backup_destroy (&b);
    assert_null (b);
}

static void
test_a_fence_goes_before_an_ack (void **state)
{
    hrb_backup_t *b = s_backup (100);
    assert_int_equal (hrb_backup_frame (b, 1, 4, 8, false, 0, 10), HRB_BACKUP_FENCE);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    hrb_backup_ack_t ack = s_ack (b, 1, 11);
    assert_true (ack.fence);
    assert_int_equal (ack.number, 4);
    ack = s_ack (b, 1, 12);
    assert_false (ack.fence);
    assert_int_equal (ack.number, 5);
    assert_int_equal (ack.r, 1);
    s_no_ack (b, 1);
    hrb_backup_destroy (&b);
}

static void
test_a_first_forgets_its_owner_s_channels_only (void **state)
{
    hrb_backup_t *b = s_backup (10000);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (hrb_backup_frame (b, 2, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    s_sync (b, 1, "a");
    s_sync (b, 1, "b");
    s_sync (b, 2, "c");
    assert_true (s_synced (b, 1, "a"));
    assert_false (s_synced (b, 2, "a"));    //  in sync for its owner only
    assert_int_equal (hrb_backup_frame (b, 1, 5, 5, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_false (s_synced (b, 1, "a"));
    assert_false (s_synced (b, 1, "b"));
    assert_true (s_synced (b, 2, "c"));
    //  Many channels: none is skipped (deleting while iterating would)
    char name [16];
    for (int i = 0; i < 2000; i++) {
        snprintf (name, sizeof name, "ch%d", i);
        s_sync (b, 1 + i % 2, name);
    }
    assert_int_equal (hrb_backup_frame (b, 1, 5, 9, true, 0, 10), HRB_BACKUP_ACCEPT);
    hrb_backup_stats_t stats;
    hrb_backup_stats (b, &stats);
    assert_int_equal (stats.synced, 1 + 1000);
    assert_true (s_synced (b, 2, "c"));
    assert_true (s_synced (b, 2, "ch1"));
    hrb_backup_destroy (&b);
}

static void
test_a_gap_drops_the_session_until_a_first (void **state)
{
    hrb_backup_t *b = s_backup (100);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (hrb_backup_frame (b, 2, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    s_sync (b, 1, "a");
    s_sync (b, 2, "c");
    assert_int_equal (hrb_backup_frame (b, 1, 5, 3, false, 0, 10), HRB_BACKUP_GAP);
    assert_false (s_synced (b, 1, "a"));
    assert_true (s_synced (b, 2, "c"));
    //  Nothing of it is in sync until a first (say, a new epoch's seq 1
    //  later in the frame that overflowed the misses)
    assert_int_equal (hrb_backup_sync (b, 1, "a", 1), -1);
    assert_false (s_synced (b, 1, "a"));
    //  Even the frame that would have come next is refused now
    assert_int_equal (hrb_backup_frame (b, 1, 5, 2, false, 0, 10), HRB_BACKUP_GAP);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 4, false, 0, 10), HRB_BACKUP_GAP);
    hrb_backup_ack_t ack = s_ack (b, 1, 11);
    assert_true (ack.gap);
    assert_int_equal (ack.r, 1);
    //  A first starts over, and what was owed of the old session goes
    assert_int_equal (hrb_backup_frame (b, 1, 5, 3, false, 0, 10), HRB_BACKUP_GAP);
    hrb_backup_miss (b, 1, "a", 1, 3);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 20, true, 0, 10), HRB_BACKUP_ACCEPT);
    ack = s_ack (b, 1, 12);
    assert_false (ack.gap);
    assert_int_equal (ack.misses, 0);
    assert_int_equal (ack.r, 20);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 21, false, 0, 10), HRB_BACKUP_ACCEPT);
    hrb_backup_destroy (&b);
}

static void
test_echoes_never_go_back (void **state)
{
    hrb_backup_t *b = s_backup (100);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 1000, 1500), HRB_BACKUP_ACCEPT);
    s_sync (b, 1, "a");
    //  Kept while now + lease < 1000 + validity
    uint64_t end = 1000 + S_VALIDITY - S_LEASE;
    assert_true (hrb_backup_keeps (b, 1, "a", 1, end - 1, S_LEASE));
    assert_false (hrb_backup_keeps (b, 1, "a", 1, end, S_LEASE));
    //  An older echo does not take it back
    assert_int_equal (hrb_backup_frame (b, 1, 5, 2, false, 900, 1600), HRB_BACKUP_ACCEPT);
    assert_true (hrb_backup_keeps (b, 1, "a", 1, end - 1, S_LEASE));
    //  Frames not accepted move nothing, nor does a stamp of ours yet to come
    assert_int_equal (hrb_backup_frame (b, 1, 5, 2, false, 1100, 1600), HRB_BACKUP_DUP);
    assert_int_equal (hrb_backup_frame (b, 1, 6, 3, false, 1100, 1600), HRB_BACKUP_AHEAD);
    assert_int_equal (hrb_backup_frame (b, 1, 4, 3, false, 1100, 1600), HRB_BACKUP_FENCE);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 3, false, 1700, 1600), HRB_BACKUP_ACCEPT);
    assert_false (hrb_backup_keeps (b, 1, "a", 1, end, S_LEASE));
    //  A newer one moves it forward
    assert_int_equal (hrb_backup_frame (b, 1, 5, 4, false, 1100, 1600), HRB_BACKUP_ACCEPT);
    assert_true (hrb_backup_keeps (b, 1, "a", 1, end + 99, S_LEASE));
    assert_false (hrb_backup_keeps (b, 1, "a", 1, end + 100, S_LEASE));
    hrb_backup_destroy (&b);
}

static void
test_misses_are_listed_once_per_rack (void **state)
{
    hrb_backup_t *b = s_backup (100);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 2, false, 0, 10), HRB_BACKUP_ACCEPT);
    s_sync (b, 1, "alpha");
    s_sync (b, 1, "beta");
    char name [] = "alpha";
    hrb_backup_miss (b, 1, name, 5, 1);
    name [0] = 'X';                         //  the name was copied
    hrb_backup_miss (b, 1, "alpha", 5, 2);
    hrb_backup_miss (b, 1, "alpha", 5, 1);
    hrb_backup_miss (b, 1, "gamma", 5, 2);
    assert_false (s_synced (b, 1, "alpha"));
    assert_true (s_synced (b, 1, "beta"));
    hrb_backup_ack_t ack = s_ack (b, 1, 11);
    //  Once each, with the latest frame
    assert_int_equal (ack.misses, 2);
    assert_string_equal (ack.miss_ch [0], "alpha");
    assert_int_equal (ack.miss_r [0], 2);
    assert_string_equal (ack.miss_ch [1], "gamma");
    assert_int_equal (ack.miss_r [1], 2);
    assert_int_equal (ack.r, 2);
    assert_false (ack.gap);
    s_no_ack (b, 1);
    //  The next rack lists them again, still once each
    hrb_backup_miss (b, 1, "alpha", 5, 2);
    ack = s_ack (b, 1, 12);
    assert_int_equal (ack.misses, 2);
    assert_string_equal (ack.miss_ch [0], "alpha");
    assert_string_equal (ack.miss_ch [1], "gamma");
    hrb_backup_stats_t stats;
    hrb_backup_stats (b, &stats);
    assert_int_equal (stats.misses, 2);
    hrb_backup_destroy (&b);
}

//  The r the rack ack lists ch with; 0: not listed.
static uint64_t
s_miss_r (const hrb_backup_ack_t *ack, const char *ch)
{
    for (size_t i = 0; i < ack->misses; i++)
        if (strcmp (ack->miss_ch [i], ch) == 0)
            return ack->miss_r [i];
    return 0;
}

static void
test_a_miss_is_listed_until_in_sync_again (void **state)
{
    hrb_backup_t *b = s_backup (100);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    s_sync (b, 1, "a");
    s_sync (b, 1, "b");
    assert_int_equal (hrb_backup_frame (b, 1, 5, 2, false, 0, 10), HRB_BACKUP_ACCEPT);
    hrb_backup_miss (b, 1, "a", 1, 2);
    hrb_backup_ack_t ack = s_ack (b, 1, 11);
    assert_int_equal (s_miss_r (&ack, "a"), 2);
    //  That rack is lost: the next one, acknowledging more, lists a again
    //  (else the owner would release a's item of frame 2 as replicated)
    assert_int_equal (hrb_backup_frame (b, 1, 5, 3, false, 0, 10), HRB_BACKUP_ACCEPT);
    ack = s_ack (b, 1, 12);
    assert_int_equal (ack.r, 3);
    assert_int_equal (ack.misses, 1);
    assert_int_equal (s_miss_r (&ack, "a"), 2);
    //  A dup's rack too; a later miss moves its r, still once
    assert_int_equal (hrb_backup_frame (b, 1, 5, 3, false, 0, 10), HRB_BACKUP_DUP);
    ack = s_ack (b, 1, 13);
    assert_int_equal (s_miss_r (&ack, "a"), 2);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 4, false, 0, 10), HRB_BACKUP_ACCEPT);
    hrb_backup_miss (b, 1, "a", 1, 4);
    hrb_backup_miss (b, 1, "b", 1, 4);
    ack = s_ack (b, 1, 14);
    assert_int_equal (ack.misses, 2);
    assert_int_equal (s_miss_r (&ack, "a"), 4);
    assert_int_equal (s_miss_r (&ack, "b"), 4);
    //  Only a snapshot's last part (or a new epoch's seq 1) ends it
    assert_int_equal (hrb_backup_frame (b, 1, 5, 5, false, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (hrb_backup_part (b, 1, "a", 1, 0, true, 5), HRB_BACKUP_PART_FIRST);
    ack = s_ack (b, 1, 15);
    assert_int_equal (s_miss_r (&ack, "a"), 4);
    s_sync (b, 1, "a");
    assert_int_equal (hrb_backup_frame (b, 1, 5, 6, false, 0, 10), HRB_BACKUP_ACCEPT);
    ack = s_ack (b, 1, 16);
    assert_int_equal (ack.misses, 1);
    assert_int_equal (s_miss_r (&ack, "b"), 4);
    s_sync (b, 1, "b");
    assert_int_equal (hrb_backup_frame (b, 1, 5, 7, false, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (s_ack (b, 1, 17).misses, 0);
    //  Missed again after that: listed again, and counted again
    hrb_backup_miss (b, 1, "a", 1, 7);
    ack = s_ack (b, 1, 18);
    assert_int_equal (s_miss_r (&ack, "a"), 7);
    hrb_backup_stats_t stats;
    hrb_backup_stats (b, &stats);
    assert_int_equal (stats.misses, 3);
    //  Another owner's misses are its own
    assert_int_equal (hrb_backup_frame (b, 2, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (s_ack (b, 2, 19).misses, 0);
    s_sync (b, 2, "a");
    assert_int_equal (hrb_backup_frame (b, 1, 5, 8, false, 0, 10), HRB_BACKUP_ACCEPT);
    ack = s_ack (b, 1, 20);
    assert_int_equal (s_miss_r (&ack, "a"), 7);
    hrb_backup_destroy (&b);
}

static void
test_a_new_session_ends_the_misses (void **state)
{
    hrb_backup_t *b = s_backup (100);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    hrb_backup_miss (b, 1, "a", 1, 1);
    assert_int_equal (s_ack (b, 1, 11).misses, 1);
    //  A gap: its racks still list a, with their r, until a first (the
    //  first of them can be lost, and the next acknowledges the same r)
    assert_int_equal (hrb_backup_frame (b, 1, 5, 2, false, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 4, false, 0, 10), HRB_BACKUP_GAP);
    hrb_backup_ack_t ack = s_ack (b, 1, 12);
    assert_true (ack.gap);
    assert_int_equal (ack.r, 2);
    assert_int_equal (s_miss_r (&ack, "a"), 1);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 5, false, 0, 10), HRB_BACKUP_GAP);
    ack = s_ack (b, 1, 13);
    assert_true (ack.gap);
    assert_int_equal (ack.r, 2);
    assert_int_equal (s_miss_r (&ack, "a"), 1);
    //  A first ends the session: nothing listed from then on
    assert_int_equal (hrb_backup_frame (b, 1, 5, 9, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (s_ack (b, 1, 14).misses, 0);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 10, false, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (s_ack (b, 1, 15).misses, 0);
    //  So does an install
    hrb_backup_miss (b, 1, "b", 1, 10);
    assert_int_equal (s_ack (b, 1, 16).misses, 1);
    hrb_backup_install (b, 6);
    assert_int_equal (hrb_backup_frame (b, 1, 6, 11, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (s_ack (b, 1, 17).misses, 0);
    assert_int_equal (hrb_backup_frame (b, 1, 6, 12, false, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (s_ack (b, 1, 18).misses, 0);
    hrb_backup_destroy (&b);
}

//  Misses that stay listed add up over a session: one past the cap, in
//  any later frame, is a gap; channels in sync again make room.
static void
test_misses_that_stay_add_up_to_a_gap (void **state)
{
    hrb_backup_t *b = s_backup (1000);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    char name [16];
    uint64_t r = 1;
    for (int i = 0; i < HRB_BACKUP_MISSES_MAX; i++) {
        assert_int_equal (hrb_backup_frame (b, 1, 5, ++r, false, 0, 10), HRB_BACKUP_ACCEPT);
        snprintf (name, sizeof name, "ch%d", i);
        hrb_backup_miss (b, 1, name, strlen (name), r);
        hrb_backup_ack_t ack = s_ack (b, 1, 11);    //  each one lost
        assert_int_equal (ack.misses, (size_t) i + 1);
        assert_false (ack.gap);
    }
    //  One back in sync: room for one more
    s_sync (b, 1, "ch7");
    assert_int_equal (hrb_backup_frame (b, 1, 5, ++r, false, 0, 10), HRB_BACKUP_ACCEPT);
    hrb_backup_miss (b, 1, "new", 3, r);
    hrb_backup_ack_t ack = s_ack (b, 1, 12);
    assert_false (ack.gap);
    assert_int_equal (ack.r, r);
    assert_int_equal (ack.misses, HRB_BACKUP_MISSES_MAX);
    assert_int_equal (s_miss_r (&ack, "ch7"), 0);
    assert_int_equal (s_miss_r (&ack, "ch8"), 10);
    assert_int_equal (s_miss_r (&ack, "ch255"), 257);
    assert_int_equal (s_miss_r (&ack, "new"), r);
    //  And one past it: a gap acknowledging the frames before
    assert_int_equal (hrb_backup_frame (b, 1, 5, ++r, false, 0, 10), HRB_BACKUP_ACCEPT);
    hrb_backup_miss (b, 1, "ch7", 3, r);
    ack = s_ack (b, 1, 13);
    assert_true (ack.gap);
    assert_int_equal (ack.r, r - 1);
    assert_int_equal (ack.misses, HRB_BACKUP_MISSES_MAX);
    hrb_backup_destroy (&b);
}

static void
test_one_miss_too_many_is_a_gap (void **state)
{
    hrb_backup_t *b = s_backup (1000);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (hrb_backup_frame (b, 2, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 2, false, 0, 10), HRB_BACKUP_ACCEPT);
    s_sync (b, 1, "kept");
    s_sync (b, 2, "other");
    char name [16];
    for (int i = 0; i < HRB_BACKUP_MISSES_MAX; i++) {
        snprintf (name, sizeof name, "ch%d", i);
        hrb_backup_miss (b, 1, name, strlen (name), 2);
    }
    hrb_backup_miss (b, 1, "ch0", 3, 2);     //  listed already: no gap
    assert_true (s_synced (b, 1, "kept"));
    hrb_backup_ack_t ack = s_ack (b, 1, 11);
    assert_int_equal (ack.misses, HRB_BACKUP_MISSES_MAX);
    assert_false (ack.gap);
    assert_int_equal (ack.r, 2);
    //  Again, and one more: the frame of the miss is not acknowledged
    assert_int_equal (hrb_backup_frame (b, 1, 5, 3, false, 0, 10), HRB_BACKUP_ACCEPT);
    for (int i = 0; i <= HRB_BACKUP_MISSES_MAX; i++) {
        snprintf (name, sizeof name, "ch%d", i);
        hrb_backup_miss (b, 1, name, strlen (name), 3);
    }
    assert_false (s_synced (b, 1, "kept"));
    assert_true (s_synced (b, 2, "other"));
    ack = s_ack (b, 1, 12);
    assert_true (ack.gap);
    assert_int_equal (ack.r, 2);
    assert_int_equal (ack.misses, HRB_BACKUP_MISSES_MAX);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 4, false, 0, 10), HRB_BACKUP_GAP);
    //  In a session's first frame: nothing of it is acknowledged
    assert_int_equal (hrb_backup_frame (b, 1, 5, 9, true, 0, 10), HRB_BACKUP_ACCEPT);
    for (int i = 0; i <= HRB_BACKUP_MISSES_MAX; i++) {
        snprintf (name, sizeof name, "ch%d", i);
        hrb_backup_miss (b, 1, name, strlen (name), 9);
    }
    //  More of that frame: still the one gap
    hrb_backup_miss (b, 1, "more", 4, 9);
    ack = s_ack (b, 1, 13);
    assert_true (ack.gap);
    assert_int_equal (ack.r, 0);
    hrb_backup_stats_t stats;
    hrb_backup_stats (b, &stats);
    assert_int_equal (stats.gaps, 3);
    hrb_backup_destroy (&b);
}

static hrb_backup_part_t
s_part (hrb_backup_t *b, const char *ch, uint64_t part, bool last, uint64_t r)
{
    return hrb_backup_part (b, 1, ch, strlen (ch), part, last, r);
}

static void
test_snapshot_parts_in_order_only (void **state)
{
    hrb_backup_t *b = s_backup (100);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    //  a in three parts: its stream is replaced at the first
    s_sync (b, 1, "a");
    assert_int_equal (s_part (b, "a", 0, false, 1), HRB_BACKUP_PART_FIRST);
    assert_false (s_synced (b, 1, "a"));
    assert_int_equal (s_part (b, "a", 1, false, 2), HRB_BACKUP_PART_NEXT);
    assert_int_equal (s_part (b, "a", 2, true, 3), HRB_BACKUP_PART_NEXT);
    s_sync (b, 1, "a");
    //  Whole: no part follows
    assert_int_equal (s_part (b, "a", 3, true, 4), HRB_BACKUP_PART_BAD);
    //  One part: first and last
    assert_int_equal (s_part (b, "b", 0, true, 5), HRB_BACKUP_PART_FIRST);
    s_sync (b, 1, "b");
    assert_int_equal (s_ack (b, 1, 11).misses, 1);  //  a's part 3
    s_sync (b, 1, "a");                 //  snapshotted again: listed no more
    //  A part skipped
    assert_int_equal (s_part (b, "c", 0, false, 6), HRB_BACKUP_PART_FIRST);
    assert_int_equal (s_part (b, "c", 2, true, 7), HRB_BACKUP_PART_BAD);
    assert_int_equal (s_part (b, "c", 1, false, 8), HRB_BACKUP_PART_BAD);
    hrb_backup_ack_t ack = s_ack (b, 1, 12);
    assert_int_equal (ack.misses, 1);
    assert_string_equal (ack.miss_ch [0], "c");
    assert_int_equal (ack.miss_r [0], 8);
    s_sync (b, 1, "c");
    //  A part of another channel than the one under way: both missed
    assert_int_equal (s_part (b, "d", 0, false, 9), HRB_BACKUP_PART_FIRST);
    assert_int_equal (s_part (b, "e", 1, false, 10), HRB_BACKUP_PART_BAD);
    assert_int_equal (s_part (b, "d", 1, true, 11), HRB_BACKUP_PART_BAD);
    ack = s_ack (b, 1, 13);
    assert_int_equal (ack.misses, 2);
    assert_string_equal (ack.miss_ch [0], "d");
    assert_string_equal (ack.miss_ch [1], "e");
    s_sync (b, 1, "d");
    s_sync (b, 1, "e");
    //  A part in a frame that does not follow the one before
    assert_int_equal (s_part (b, "f", 0, false, 12), HRB_BACKUP_PART_FIRST);
    assert_int_equal (s_part (b, "f", 1, true, 14), HRB_BACKUP_PART_BAD);
    assert_string_equal (s_ack (b, 1, 14).miss_ch [0], "f");
    s_sync (b, 1, "f");
    //  A new snapshot while one is under way: the old one is missed
    assert_int_equal (s_part (b, "g", 0, false, 15), HRB_BACKUP_PART_FIRST);
    assert_int_equal (s_part (b, "h", 0, false, 16), HRB_BACKUP_PART_FIRST);
    assert_int_equal (s_part (b, "g", 1, true, 17), HRB_BACKUP_PART_BAD);
    assert_int_equal (s_part (b, "h", 1, true, 17), HRB_BACKUP_PART_BAD);
    ack = s_ack (b, 1, 15);
    assert_int_equal (ack.misses, 2);
    assert_string_equal (ack.miss_ch [0], "g");
    assert_int_equal (ack.miss_r [0], 17);
    assert_string_equal (ack.miss_ch [1], "h");
    //  The same channel from part 0 again starts over, missing nothing
    assert_int_equal (s_part (b, "i", 0, false, 18), HRB_BACKUP_PART_FIRST);
    assert_int_equal (s_part (b, "i", 0, false, 19), HRB_BACKUP_PART_FIRST);
    assert_int_equal (s_part (b, "i", 1, true, 20), HRB_BACKUP_PART_NEXT);
    s_no_ack (b, 1);
    //  A miss of the channel under way ends its snapshot
    assert_int_equal (s_part (b, "j", 0, false, 21), HRB_BACKUP_PART_FIRST);
    hrb_backup_miss (b, 1, "j", 1, 21);
    assert_int_equal (s_part (b, "j", 1, true, 22), HRB_BACKUP_PART_BAD);
    //  So does a first (the owner starts every channel over)
    assert_int_equal (s_part (b, "k", 0, false, 23), HRB_BACKUP_PART_FIRST);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 24, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (s_part (b, "k", 1, true, 24), HRB_BACKUP_PART_BAD);
    //  Snapshots of different owners do not meet
    assert_int_equal (s_part (b, "m", 0, false, 25), HRB_BACKUP_PART_FIRST);
    assert_int_equal (hrb_backup_part (b, 2, "n", 1, 0, false, 3), HRB_BACKUP_PART_FIRST);
    assert_int_equal (s_part (b, "m", 1, true, 26), HRB_BACKUP_PART_NEXT);
    hrb_backup_destroy (&b);
}

static void
test_keeps_only_in_sync_and_within_the_validity (void **state)
{
    hrb_backup_t *b = s_backup (100);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    assert_int_equal (hrb_backup_frame (b, 2, 5, 1, true, 500, 600), HRB_BACKUP_ACCEPT);
    s_sync (b, 1, "a");
    s_sync (b, 2, "b");
    //  No echo from its owner yet
    assert_false (hrb_backup_keeps (b, 1, "a", 1, 100, S_LEASE));
    assert_int_equal (hrb_backup_frame (b, 1, 5, 2, false, 500, 600), HRB_BACKUP_ACCEPT);
    uint64_t end = 500 + S_VALIDITY - S_LEASE;
    assert_true (hrb_backup_keeps (b, 1, "a", 1, end - 1, S_LEASE));
    assert_false (hrb_backup_keeps (b, 1, "a", 1, end, S_LEASE));         //  too late
    assert_false (hrb_backup_keeps (b, 1, "z", 1, end - 1, S_LEASE));     //  not in sync
    assert_false (hrb_backup_keeps (b, 2, "a", 1, end - 1, S_LEASE));     //  another owner's
    hrb_backup_miss (b, 1, "a", 1, 2);
    assert_false (hrb_backup_keeps (b, 1, "a", 1, end - 1, S_LEASE));     //  missed
    assert_true (hrb_backup_keeps (b, 2, "b", 1, end - 1, S_LEASE));
    hrb_backup_destroy (&b);
}

static void
test_install_forgets_all_but_a_fence (void **state)
{
    hrb_backup_t *b = s_backup (100);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 500, 600), HRB_BACKUP_ACCEPT);
    s_sync (b, 1, "a");
    assert_int_equal (s_part (b, "b", 0, false, 1), HRB_BACKUP_PART_FIRST);
    hrb_backup_miss (b, 1, "c", 1, 1);
    assert_int_equal (hrb_backup_frame (b, 2, 4, 9, false, 0, 600), HRB_BACKUP_FENCE);
    hrb_backup_install (b, 6);
    //  Nothing in sync, no session, no snapshot, no ack of the old view
    assert_false (s_synced (b, 1, "a"));
    assert_false (hrb_backup_keeps (b, 1, "a", 1, 600, S_LEASE));
    s_no_ack (b, 1);
    assert_int_equal (s_part (b, "b", 1, true, 2), HRB_BACKUP_PART_BAD);
    assert_int_equal (hrb_backup_frame (b, 1, 6, 2, false, 0, 600), HRB_BACKUP_GAP);
    assert_int_equal (hrb_backup_frame (b, 1, 6, 2, true, 0, 600), HRB_BACKUP_ACCEPT);
    //  The old view's frames are fenced now
    assert_int_equal (hrb_backup_frame (b, 1, 5, 3, false, 0, 600), HRB_BACKUP_FENCE);
    //  The fence owed before still goes, with the view installed now
    hrb_backup_ack_t ack = s_ack (b, 2, 700);
    assert_true (ack.fence);
    assert_int_equal (ack.number, 4);
    assert_int_equal (ack.installed, 6);
    s_no_ack (b, 2);
    //  The echo stays (it never goes back): in sync again, kept again
    s_sync (b, 1, "a");
    assert_true (hrb_backup_keeps (b, 1, "a", 1, 600, S_LEASE));
    hrb_backup_destroy (&b);
}

static void
test_channels_in_sync_are_bounded (void **state)
{
    hrb_backup_t *b = s_backup (2);
    assert_int_equal (hrb_backup_frame (b, 1, 5, 1, true, 0, 10), HRB_BACKUP_ACCEPT);
    s_sync (b, 1, "a");
    s_sync (b, 1, "b");
    assert_int_equal (hrb_backup_sync (b, 1, "c", 1), -1);
    assert_false (s_synced (b, 1, "c"));
    s_sync (b, 1, "a");                     //  held already: no room needed
    hrb_backup_miss (b, 1, "a", 1, 1);
    s_sync (b, 1, "c");
    //  A name too long to be a channel is never in sync
    char longer [HR_CHANNEL_MAX + 2];
    memset (longer, 'x', sizeof longer);
    assert_int_equal (hrb_backup_sync (b, 1, longer, sizeof longer), -1);
    hrb_backup_stats_t stats;
    hrb_backup_stats (b, &stats);
    assert_int_equal (stats.synced, 2);
    hrb_backup_destroy (&b);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_each_verdict_and_its_rack),
        cmocka_unit_test (test_a_fence_goes_before_an_ack),
        cmocka_unit_test (test_a_first_forgets_its_owner_s_channels_only),
        cmocka_unit_test (test_a_gap_drops_the_session_until_a_first),
        cmocka_unit_test (test_echoes_never_go_back),
        cmocka_unit_test (test_misses_are_listed_once_per_rack),
        cmocka_unit_test (test_a_miss_is_listed_until_in_sync_again),
        cmocka_unit_test (test_a_new_session_ends_the_misses),
        cmocka_unit_test (test_misses_that_stay_add_up_to_a_gap),
        cmocka_unit_test (test_one_miss_too_many_is_a_gap),
        cmocka_unit_test (test_snapshot_parts_in_order_only),
        cmocka_unit_test (test_keeps_only_in_sync_and_within_the_validity),
        cmocka_unit_test (test_install_forgets_all_but_a_fence),
        cmocka_unit_test (test_channels_in_sync_are_bounded),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
