/*  test_view_keep: the view state machine (broker/hrb_view) restarted with
    its channels kept (hrb_view_keep: a durable store in step with the
    saved view, docs/cluster.md "Durable history in a cluster"). Such a
    broker comes back as the owner it was, like a paused one, but only in a
    newer view, which it asks for; without keep a restarted owner is
    demoted (test_view_elect, "Restart").  */
#include "view_fixture.h"

//  Restarted at S_T0 from view 3 of three brokers, term 3.
#define S_T0 1000

static hrb_view_sm_t *
s_restarted (int self, hr_members_t owners, bool keep)
{
    hrb_view_config_t c = s_config (3, self);
    hrb_view_durable_t d = {
        .term = 3, .voted_for = -1, .installed = s_view (3, S_ALL3, owners)
    };
    hrb_view_sm_t *sm = hrb_view_new (&c, &d, S_T0);
    if (keep)
        hrb_view_keep (sm);
    return sm;
}

//  One step of a healthy cluster at now, for a machine of broker `self`:
//  the others' heartbeats of view, their acks of its own heartbeats of
//  that view (its lease, when acked is set), then a tick. Returns whether
//  the tick asked for votes.
static bool
s_step (hrb_view_sm_t *sm, int self, hrb_view_t view, bool acked, uint64_t now)
{
    for (int j = 0; j < 3; j++) {
        if (j == self)
            continue;
        s_hb (sm, j, view.number, view, now);
        s_ack (sm, j, acked? view.number: 0, now, now);
    }
    hrb_view_tick (sm, now, &s_out);
    return s_find (HRB_VIEW_VOTE_REQUEST) != NULL;
}

static void
test_restarted_owner_without_keep_asks_to_be_demoted (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32];
    const char *mine = s_channel (cluster, S_ALL3, 0, 0, 0, buf);
    hrb_view_sm_t *sm = s_restarted (0, S_ALL3, false);
    bool asked = false;
    for (uint64_t now = S_T0; now <= S_T0 + 2 * S_LEASE && !asked; now += 10) {
        asked = s_step (sm, 0, s_view (3, S_ALL3, S_ALL3), true, now);
        assert_false (s_may (sm, cluster, mine, now));
    }
    assert_true (asked);
    const hrb_view_msg_t *req = s_find (HRB_VIEW_VOTE_REQUEST);
    assert_int_equal (req->view.members, S_ALL3);
    assert_int_equal (req->view.owners, 6);             //  a member, no owner
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

static void
test_kept_owner_asks_for_a_newer_view_and_sequences_nothing_before (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32];
    const char *mine = s_channel (cluster, S_ALL3, 0, 0, 0, buf);
    hrb_view_sm_t *sm = s_restarted (0, S_ALL3, true);
    assert_true (hrb_view_kept (sm));
    hrb_view_t v3 = s_view (3, S_ALL3, S_ALL3);
    //  Its lease at once, but nothing in the view it kept, even past
    //  --lease: it asks for a newer one, itself still an owner
    bool asked = false;
    for (uint64_t now = S_T0; now < S_T0 + 2 * S_LEASE; now += 10) {
        if (s_step (sm, 0, v3, true, now) && !asked) {
            asked = true;
            const hrb_view_msg_t *req = s_find (HRB_VIEW_VOTE_REQUEST);
            assert_int_equal (req->term, 4);
            assert_int_equal (req->view.members, S_ALL3);
            assert_int_equal (req->view.owners, S_ALL3);
        }
        assert_true (hrb_view_lease (sm, now));
        assert_false (s_may (sm, cluster, mine, now));
    }
    assert_true (asked);
    assert_true (hrb_view_kept (sm));
    assert_int_equal (hrb_view_installed (sm)->number, 3);
    hrb_view_destroy (&sm);
    //  Without keep the same restart asks to be demoted (above); a kept
    //  machine that is not restarted as an owner is not kept at all
    sm = s_restarted (2, 3, true);
    assert_false (hrb_view_kept (sm));
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

//  A kept owner (view 3) that installs view 4, which follows it with the
//  same owners, at S_T0 + S_LEASE + 150: with view 4's lease it goes on at
//  once, --lease having passed since it started, as a paused broker that
//  had installed view 3 would (docs/cluster.md, "in any later view that
//  follows it").
static hrb_view_sm_t *
s_kept_and_sequencing (hr_cluster_t *cluster, const char *ch)
{
    hrb_view_sm_t *sm = s_restarted (0, S_ALL3, true);
    for (uint64_t now = S_T0; now <= S_T0 + S_LEASE + 100; now += 10)
        s_step (sm, 0, s_view (3, S_ALL3, S_ALL3), true, now);
    assert_false (s_may (sm, cluster, ch, S_T0 + S_LEASE + 100));
    uint64_t at = S_T0 + S_LEASE + 150;
    s_hb (sm, 1, 4, s_view (4, S_ALL3, S_ALL3), at);
    assert_true (s_out.installed);
    assert_false (hrb_view_kept (sm));
    assert_false (s_may (sm, cluster, ch, at));        //  not without view 4's lease
    s_ack (sm, 1, 4, at, at + 1);
    assert_true (s_may (sm, cluster, ch, at + 1));
    return sm;
}

static void
test_kept_owner_goes_on_at_once_in_views_that_follow_where_it_owns (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32];
    //  Its channel among owners 0, 1, 2 and among owners 0 and 1
    const char *mine = s_channel (cluster, 3, 0, S_ALL3, 0, buf);
    hrb_view_sm_t *sm = s_kept_and_sequencing (cluster, mine);
    uint64_t at = S_T0 + S_LEASE + 200;
    s_hb (sm, 1, 5, s_view (5, S_ALL3, 3), at);
    assert_true (s_out.installed);
    assert_int_equal (hrb_view_installed (sm)->number, 5);
    assert_int_equal (hrb_view_previous (sm)->number, 4);
    assert_false (s_may (sm, cluster, mine, at));      //  not without view 5's lease
    s_ack (sm, 1, 5, at, at + 1);
    assert_true (s_may (sm, cluster, mine, at + 1));
    //  Only its own channels
    char other_buf [32];
    const char *other = s_channel (cluster, 3, 1, S_ALL3, 1, other_buf);
    assert_false (s_may (sm, cluster, other, at + 1));
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

static void
test_kept_owner_stops_in_a_later_view_where_it_does_not_own (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32];
    const char *mine = s_channel (cluster, S_ALL3, 0, 0, 0, buf);
    hrb_view_sm_t *sm = s_kept_and_sequencing (cluster, mine);
    uint64_t at = S_T0 + S_LEASE + 200;
    //  Demoted in view 5 (it follows 4): its channels are others' now
    s_hb (sm, 1, 5, s_view (5, S_ALL3, 6), at);
    assert_true (s_out.installed);
    for (uint64_t now = at; now < at + 2 * S_LEASE; now += 50) {
        s_step (sm, 0, s_view (5, S_ALL3, 6), true, now);
        assert_true (hrb_view_lease (sm, now));
        assert_false (s_may (sm, cluster, mine, now));
    }
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

static void
test_kept_owner_waits_out_a_lease_in_a_view_that_does_not_follow (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32];
    const char *mine = s_channel (cluster, S_ALL3, 0, 0, 0, buf);
    hrb_view_sm_t *sm = s_kept_and_sequencing (cluster, mine);
    uint64_t at = S_T0 + S_LEASE + 200;
    //  View 7, not certified to follow 4: 5 or 6 may have moved its
    //  channel meanwhile; only the fence lets it start again
    s_hb (sm, 1, 7, s_view (7, S_ALL3, S_ALL3), at);
    assert_true (s_out.installed);
    s_ack (sm, 1, 7, at, at + 1);
    assert_false (s_may (sm, cluster, mine, at + 1));
    s_ack (sm, 1, 7, at + S_LEASE - 10, at + S_LEASE);
    assert_true (s_may (sm, cluster, mine, at + S_LEASE));
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

//  Two machines restarted from the same state as a non-owner, one kept:
//  what they send, install and may sequence, step by step.
static void
test_keep_changes_nothing_for_a_restarted_non_owner (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32], buf2 [32];
    //  View 4 promotes it (2) and drops 1 without handoff: a channel it
    //  gets from 0 (still there), and one from 1
    const char *moved = s_channel (cluster, 5, 2, 3, 0, buf);
    const char *taken = s_channel (cluster, 5, 2, 3, 1, buf2);
    hrb_view_sm_t *plain = s_restarted (2, 3, false);
    hrb_view_sm_t *kept = s_restarted (2, 3, true);
    hrb_view_t v3 = s_view (3, S_ALL3, 3), v4 = s_view (4, 5, 5);
    uint64_t end = S_T0 + S_HOLD + 2 * S_LEASE;
    for (uint64_t now = S_T0; now <= end; now += 10) {
        hrb_view_t view = now < S_T0 + S_HOLD? v3: v4;
        s_step (plain, 2, view, true, now);
        hrb_view_out_t out = s_out;
        s_step (kept, 2, view, true, now);
        assert_int_equal (out.count, s_out.count);
        assert_int_equal (out.installed, s_out.installed);
        for (size_t k = 0; k < out.count; k++) {
            assert_int_equal (out.msgs [k].type, s_out.msgs [k].type);
            assert_int_equal (out.msgs [k].term, s_out.msgs [k].term);
            assert_int_equal (out.msgs [k].view.number, s_out.msgs [k].view.number);
            assert_int_equal (out.msgs [k].view.owners, s_out.msgs [k].view.owners);
        }
        assert_int_equal (hrb_view_installed (plain)->number,
                          hrb_view_installed (kept)->number);
        assert_int_equal (s_may (plain, cluster, moved, now), s_may (kept, cluster, moved, now));
        assert_int_equal (s_may (plain, cluster, taken, now), s_may (kept, cluster, taken, now));
    }
    //  Both own and sequence in the end
    assert_int_equal (hrb_view_installed (kept)->number, 4);
    assert_true (s_may (kept, cluster, moved, end));
    assert_true (s_may (kept, cluster, taken, end));
    hrb_view_destroy (&plain);
    hrb_view_destroy (&kept);
    hr_cluster_destroy (&cluster);
}

//  The up-to-date rule: a voter at view 4 refuses a candidate whose latest
//  heartbeat showed view 3 (it is behind: it installs 4 from heartbeats,
//  and a view it won would follow none for it), and grants the same
//  proposal once the candidate's heartbeat shows view 4; a candidate never
//  heard grants as before.
static void
test_voter_refuses_a_candidate_behind (void **state)
{
    hrb_view_t v4 = s_view (4, S_ALL3, S_ALL3), v5 = s_view (5, S_ALL3, S_ALL3);
    hrb_view_sm_t *sm = s_with_view (3, 0, v4, S_T0);
    s_hb (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), S_T0 + 10);
    s_vreq (sm, 1, 5, v5, S_T0 + 20);
    const hrb_view_msg_t *vote = s_find (HRB_VIEW_VOTE);
    assert_non_null (vote);
    assert_false (vote->granted);
    assert_int_equal (hrb_view_durable (sm)->term, 4);  //  a refusal changes nothing
    s_hb (sm, 1, 4, v4, S_T0 + 30);
    s_vreq (sm, 1, 5, v5, S_T0 + 40);
    vote = s_find (HRB_VIEW_VOTE);
    assert_non_null (vote);
    assert_true (vote->granted);
    hrb_view_destroy (&sm);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_restarted_owner_without_keep_asks_to_be_demoted),
        cmocka_unit_test (test_kept_owner_asks_for_a_newer_view_and_sequences_nothing_before),
        cmocka_unit_test (test_kept_owner_goes_on_at_once_in_views_that_follow_where_it_owns),
        cmocka_unit_test (test_kept_owner_stops_in_a_later_view_where_it_does_not_own),
        cmocka_unit_test (test_kept_owner_waits_out_a_lease_in_a_view_that_does_not_follow),
        cmocka_unit_test (test_keep_changes_nothing_for_a_restarted_non_owner),
        cmocka_unit_test (test_voter_refuses_a_candidate_behind),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
