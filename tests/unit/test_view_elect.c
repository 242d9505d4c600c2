/*  test_view_elect: the view state machine (broker/hrb_view), one
    transition per test, part two: the candidate, election delays and
    retries, what starts an election (a silent, deaf, returning or leaving
    broker, a vote for a view that never came, the hold-down), restart,
    leave, and the fence of may_sequence. Part one is test_view.  */
#include "view_fixture.h"

//  ---------------------------------------------------------------------
//  The candidate

static void
test_first_view_campaign_after_one_to_four_heartbeats (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    uint64_t at = s_first_campaign (sm);
    assert_true (at >= S_HB && at < 4 * S_HB);
    const hrb_view_msg_t *req = s_find (HRB_VIEW_VOTE_REQUEST);
    assert_int_equal (req->from, 0);
    assert_int_equal (req->to, -1);
    assert_int_equal (req->term, 1);
    assert_int_equal (req->view.number, 1);
    assert_int_equal (req->view.members, S_ALL3);
    assert_int_equal (req->view.owners, S_ALL3);        //  cluster birth: every member
    assert_int_equal (req->view.handoff, 0);
    //  Its own term and vote change only when it wins
    assert_false (s_out.persist);
    assert_false (s_out.installed);
    assert_int_equal (hrb_view_durable (sm)->term, 0);
    assert_int_equal (hrb_view_durable (sm)->voted_for, -1);
    assert_int_equal (hrb_view_installed (sm)->number, 0);
    hrb_view_destroy (&sm);
}

static void
test_candidate_installs_at_a_majority_and_heartbeats_at_once (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    uint64_t at = s_first_campaign (sm);
    s_vote (sm, 2, 1, true, at + 5);
    assert_true (s_out.installed);
    assert_true (s_out.persist);
    assert_int_equal (hrb_view_installed (sm)->number, 1);
    assert_int_equal (hrb_view_installed (sm)->members, S_ALL3);
    assert_int_equal (hrb_view_installed_at (sm), at + 5);
    assert_int_equal (hrb_view_durable (sm)->term, 1);
    assert_int_equal (hrb_view_durable (sm)->voted_for, 0);
    const hrb_view_msg_t *hb = s_find (HRB_VIEW_HEARTBEAT);
    assert_non_null (hb);
    assert_int_equal (hb->view.number, 1);
    assert_int_equal (hb->stamp, at + 5);
    //  The third vote changes nothing
    s_vote (sm, 1, 1, true, at + 6);
    assert_false (s_out.installed);
    assert_int_equal (s_out.count, 0);
    hrb_view_destroy (&sm);
}

static void
test_candidate_counts_each_voter_once_and_only_grants_of_its_term (void **state)
{
    hrb_view_sm_t *sm = s_new (5, 0, 0);
    uint64_t at = s_tick_until_campaign (sm, 5, 0, 10000, true, s_view (0, 0, 0), 0x1e);
    assert_int_not_equal (at, UINT64_MAX);
    s_vote (sm, 1, 1, true, at + 1);
    s_vote (sm, 1, 1, true, at + 2);            //  the same voter again
    s_vote (sm, 2, 1, false, at + 3);           //  denied
    s_vote (sm, 3, 0, true, at + 4);            //  an older term
    s_vote (sm, 4, 2, true, at + 5);            //  a term it did not ask
    assert_int_equal (hrb_view_installed (sm)->number, 0);
    s_vote (sm, 2, 1, true, at + 6);
    assert_true (s_out.installed);
    assert_int_equal (hrb_view_installed (sm)->number, 1);
    hrb_view_destroy (&sm);
}

static void
test_campaign_retried_after_a_new_delay_with_the_next_term (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    uint64_t first = s_first_campaign (sm);
    uint64_t second = s_tick_until_campaign (sm, 3, first + 10, first + 10000, true,
                                             s_view (0, 0, 0), 6);
    assert_true (second - first >= S_HB && second - first < 4 * S_HB + 10);
    assert_int_equal (s_find (HRB_VIEW_VOTE_REQUEST)->term, 2);
    assert_int_equal (s_find (HRB_VIEW_VOTE_REQUEST)->view.number, 2);
    //  Votes of the first campaign are ignored
    s_vote (sm, 1, 1, true, second + 1);
    assert_false (s_out.installed);
    s_vote (sm, 1, 2, true, second + 2);
    assert_true (s_out.installed);
    assert_int_equal (hrb_view_installed (sm)->number, 2);
    hrb_view_destroy (&sm);
}

static void
test_candidate_abandons_its_campaign_after_voting_for_another (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    uint64_t at = s_first_campaign (sm);
    s_vreq (sm, 1, 2, s_view (2, S_ALL3, S_ALL3), at + 1);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    s_vote (sm, 2, 1, true, at + 2);
    assert_false (s_out.installed);
    assert_int_equal (hrb_view_installed (sm)->number, 0);
    hrb_view_destroy (&sm);
}

static void
test_candidate_keeps_acking_and_its_lease_while_it_asks (void **state)
{
    //  Its vote for itself is not used until it wins: nothing to fence
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    uint64_t at = s_tick_until_campaign (sm, 3, 0, 20000, true, s_view (1, S_ALL3, S_ALL3), 2);
    assert_int_not_equal (at, UINT64_MAX);
    assert_int_equal (hrb_view_durable (sm)->term, 1);
    s_hb (sm, 1, 1, s_view (1, S_ALL3, S_ALL3), at + 1);
    assert_non_null (s_find (HRB_VIEW_HEARTBEAT_ACK));
    s_ack (sm, 1, 1, at, at + 1);
    assert_true (hrb_view_lease (sm, at + 1));
    hrb_view_destroy (&sm);
}

static void
test_candidate_refuses_another_its_campaign_term (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    uint64_t at = s_first_campaign (sm);
    s_vreq (sm, 1, 1, s_view (1, S_ALL3, S_ALL3), at + 1);
    assert_false (s_find (HRB_VIEW_VOTE)->granted);
    assert_int_equal (hrb_view_durable (sm)->term, 0);
    //  Its own campaign goes on
    s_vote (sm, 2, 1, true, at + 2);
    assert_true (s_out.installed);
    hrb_view_destroy (&sm);
}

static void
test_retry_asks_a_term_above_every_one_asked (void **state)
{
    //  Its term stays 1 while it asks 2, then 3: each request a new term
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    uint64_t first = s_tick_until_campaign (sm, 3, 0, 20000, true,
                                            s_view (1, S_ALL3, S_ALL3), 2);
    assert_int_equal (s_find (HRB_VIEW_VOTE_REQUEST)->term, 2);
    uint64_t second = s_tick_until_campaign (sm, 3, first + 10, 30000, true,
                                             s_view (1, S_ALL3, S_ALL3), 2);
    assert_int_not_equal (second, UINT64_MAX);
    assert_int_equal (s_find (HRB_VIEW_VOTE_REQUEST)->term, 3);
    assert_int_equal (s_find (HRB_VIEW_VOTE_REQUEST)->view.number, 3);
    assert_int_equal (hrb_view_durable (sm)->term, 1);
    hrb_view_destroy (&sm);
}

static void
test_campaign_asks_above_the_terms_it_saw_in_heartbeats (void **state)
{
    //  1 voted in term 9 for a view that never came; 0 asks 10 at once
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    s_hb (sm, 1, 9, s_view (1, S_ALL3, S_ALL3), 5);
    assert_int_equal (hrb_view_durable (sm)->term, 1);
    uint64_t at = s_tick_until_campaign (sm, 3, 10, 20000, true, s_view (1, S_ALL3, S_ALL3), 2);
    assert_int_not_equal (at, UINT64_MAX);
    assert_int_equal (s_find (HRB_VIEW_VOTE_REQUEST)->term, 10);
    hrb_view_destroy (&sm);
}

static void
test_candidate_lends_nothing_to_a_broker_its_campaign_drops (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    uint64_t at = s_tick_until_campaign (sm, 3, 0, 20000, true, s_view (1, S_ALL3, S_ALL3), 2);
    assert_int_equal (s_find (HRB_VIEW_VOTE_REQUEST)->view.members, 3);
    //  2 is back (heard again after its silence): no lease from this
    //  broker while it asks to drop 2; 1 still gets one
    s_hb (sm, 2, 1, s_view (1, S_ALL3, S_ALL3), at + 1);
    assert_int_equal (s_find (HRB_VIEW_HEARTBEAT_ACK)->view.number, 0);
    s_hb (sm, 1, 1, s_view (1, S_ALL3, S_ALL3), at + 1);
    assert_int_equal (s_find (HRB_VIEW_HEARTBEAT_ACK)->view.number, 1);
    //  The need is gone at the next tick: the campaign ends, 2 gets its lease
    s_ack (sm, 2, 0, at + 1, at + 2);
    hrb_view_tick (sm, at + 3, &s_out);
    assert_null (s_find (HRB_VIEW_VOTE_REQUEST));
    s_hb (sm, 2, 1, s_view (1, S_ALL3, S_ALL3), at + 4);
    assert_int_equal (s_find (HRB_VIEW_HEARTBEAT_ACK)->view.number, 1);
    //  Late votes for the ended campaign install nothing
    s_vote (sm, 1, 2, true, at + 5);
    assert_false (s_out.installed);
    hrb_view_destroy (&sm);
}

static void
test_no_campaign_without_a_majority_heard (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    assert_int_equal (s_tick_until_campaign (sm, 3, 0, 20000, false, s_view (0, 0, 0), 0),
                      UINT64_MAX);
    assert_int_equal (hrb_view_durable (sm)->term, 0);
    //  One more broker heard makes a majority
    assert_int_not_equal (s_tick_until_campaign (sm, 3, 20010, 30000, true,
                                                 s_view (0, 0, 0), 2), UINT64_MAX);
    assert_int_equal (s_find (HRB_VIEW_VOTE_REQUEST)->view.members, 3);
    hrb_view_destroy (&sm);
}

static void
test_election_delays_are_deterministic_per_seed (void **state)
{
    uint64_t first = 0;
    bool differs = false;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        uint64_t at [2];
        for (int run = 0; run < 2; run++) {
            hrb_view_config_t c = s_config (3, 0);
            c.seed = seed;
            hrb_view_sm_t *sm = hrb_view_new (&c, NULL, 0);
            at [run] = s_first_campaign (sm);
            hrb_view_destroy (&sm);
        }
        assert_int_equal (at [0], at [1]);
        if (seed == 1)
            first = at [0];
        else
        if (at [0] != first)
            differs = true;
    }
    assert_true (differs);
}

//  ---------------------------------------------------------------------
//  What starts an election

static void
test_silent_member_is_dropped_after_the_timeout_and_a_delay (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    uint64_t at = s_tick_until_campaign (sm, 3, 0, 20000, true, s_view (1, S_ALL3, S_ALL3), 2);
    //  2 is dead at the timeout; then a delay in [timeout / 2, timeout)
    assert_true (at >= S_TIMEOUT + S_DELAY_MIN && at < S_TIMEOUT + S_DELAY_MAX + 10);
    const hrb_view_msg_t *req = s_find (HRB_VIEW_VOTE_REQUEST);
    assert_int_equal (req->term, 2);
    assert_int_equal (req->view.number, 2);
    assert_int_equal (req->view.members, 3);
    assert_int_equal (req->view.owners, 3);
    assert_int_equal (req->view.handoff, 0);
    hrb_view_destroy (&sm);
}

static void
test_broker_that_does_not_hear_this_one_is_dropped (void **state)
{
    //  2 is heard but acks nothing (it receives nothing): it holds no
    //  lease, so its channels must go to brokers that can
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    uint64_t at = UINT64_MAX;
    for (uint64_t now = 10; now < 20000 && at == UINT64_MAX; now += 10) {
        s_hear (sm, 1, s_view (1, S_ALL3, S_ALL3), now);
        s_hb (sm, 2, 1, s_view (1, S_ALL3, S_ALL3), now);
        hrb_view_tick (sm, now, &s_out);
        if (s_find (HRB_VIEW_VOTE_REQUEST))
            at = now;
    }
    //  It lent 2 its lease until 2 stopped being alive here (a timeout
    //  after its last ack): it asks to drop it only a lease after that
    assert_true (at >= S_TIMEOUT + S_LEASE && at < S_TIMEOUT + S_LEASE + S_DELAY_MAX + 10);
    assert_int_equal (s_find (HRB_VIEW_VOTE_REQUEST)->view.members, 3);
    hrb_view_destroy (&sm);
}

static void
test_returning_broker_is_proposed_as_a_member_not_an_owner (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    s_hb (sm, 1, 1, s_view (1, 3, 3), 0);
    //  Nothing to change while it hears exactly the view
    assert_int_equal (s_tick_until_campaign (sm, 3, 0, 5000, true, s_view (1, 3, 3), 2),
                      UINT64_MAX);
    uint64_t at = s_tick_until_campaign (sm, 3, 5010, 20000, true, s_view (1, 3, 3), 6);
    assert_true (at >= 5010 + S_DELAY_MIN && at < 5010 + S_DELAY_MAX + 10);
    const hrb_view_msg_t *req = s_find (HRB_VIEW_VOTE_REQUEST);
    assert_int_equal (req->view.members, S_ALL3);
    assert_int_equal (req->view.owners, 3);
    hrb_view_destroy (&sm);
}

static void
test_fenced_by_a_vote_for_a_view_that_never_came (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    s_vreq (sm, 1, 2, s_view (2, S_ALL3, S_ALL3), 10);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    uint64_t at = s_tick_until_campaign (sm, 3, 10, 20000, true, s_view (1, S_ALL3, S_ALL3), 6);
    assert_true (at >= 10 + S_DELAY_MIN && at < 10 + S_DELAY_MAX + 10);
    const hrb_view_msg_t *req = s_find (HRB_VIEW_VOTE_REQUEST);
    assert_int_equal (req->term, 3);
    assert_int_equal (req->view.members, S_ALL3);
    assert_int_equal (req->view.owners, S_ALL3);
    hrb_view_destroy (&sm);
}

static void
test_need_gone_before_its_delay_starts_no_election (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    s_vreq (sm, 1, 2, s_view (2, S_ALL3, S_ALL3), 10);
    hrb_view_tick (sm, 20, &s_out);
    //  The view voted for arrives
    s_hb (sm, 1, 2, s_view (2, S_ALL3, S_ALL3), 500);
    assert_true (s_out.installed);
    assert_int_equal (s_tick_until_campaign (sm, 3, 500, 20000, true,
                                             s_view (2, S_ALL3, S_ALL3), 6), UINT64_MAX);
    hrb_view_destroy (&sm);
}

static void
test_member_asks_to_own_after_the_hold_down (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 2, 0);
    s_hb (sm, 0, 1, s_view (1, S_ALL3, 3), 0);
    assert_true (s_out.installed);
    uint64_t at = s_tick_until_campaign (sm, 3, 0, S_HOLD + 2 * S_TIMEOUT, true,
                                         s_view (1, S_ALL3, 3), 3);
    assert_true (at >= S_HOLD + S_DELAY_MIN && at < S_HOLD + S_DELAY_MAX + 10);
    const hrb_view_msg_t *req = s_find (HRB_VIEW_VOTE_REQUEST);
    assert_int_equal (req->view.number, 2);
    assert_int_equal (req->view.members, S_ALL3);
    assert_int_equal (req->view.owners, S_ALL3);
    hrb_view_destroy (&sm);
}

static void
test_hold_down_counts_from_joining_not_from_start (void **state)
{
    //  Started at 0, a member only from 10000
    hrb_view_sm_t *sm = s_new (3, 2, 0);
    s_hb (sm, 0, 1, s_view (1, 3, 3), 0);
    s_hb (sm, 0, 2, s_view (2, S_ALL3, 3), 10000);
    uint64_t at = s_tick_until_campaign (sm, 3, 10000, 10000 + S_HOLD + 2 * S_TIMEOUT, true,
                                         s_view (2, S_ALL3, 3), 3);
    assert_true (at >= 10000 + S_HOLD + S_DELAY_MIN);
    hrb_view_destroy (&sm);
}

//  ---------------------------------------------------------------------
//  Restart

static hrb_view_sm_t *
s_restored (size_t size, int self, uint64_t term, int voted_for, hrb_view_t view,
            uint64_t now)
{
    hrb_view_config_t c = s_config (size, self);
    hrb_view_durable_t d = { .term = term, .voted_for = voted_for, .installed = view };
    return hrb_view_new (&c, &d, now);
}

static void
test_restart_keeps_the_term_the_vote_and_the_view (void **state)
{
    hrb_view_sm_t *sm = s_restored (3, 0, 5, 1, s_view (4, S_ALL3, 6), 0);
    assert_int_equal (hrb_view_installed (sm)->number, 4);
    assert_int_equal (hrb_view_durable (sm)->term, 5);
    s_hb (sm, 1, 4, s_view (4, S_ALL3, 6), 10);
    s_hb (sm, 2, 4, s_view (4, S_ALL3, 6), 10);
    s_vreq (sm, 2, 5, s_view (5, S_ALL3, 6), 20);
    assert_false (s_find (HRB_VIEW_VOTE)->granted);       //  voted for 1 in 5
    s_vreq (sm, 1, 5, s_view (5, S_ALL3, 6), 20);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    //  Installing nothing lower than what it had
    s_hb (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), 30);
    assert_false (s_out.installed);
    hrb_view_destroy (&sm);
}

static void
test_restarted_owner_sequences_nothing_and_asks_to_be_demoted (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32];
    const char *mine = s_channel (cluster, S_ALL3, 0, 0, 0, buf);
    hrb_view_sm_t *sm = s_restored (3, 0, 3, -1, s_view (3, S_ALL3, S_ALL3), 0);
    s_hear_all (sm, 3, 0, s_view (3, S_ALL3, S_ALL3), 10);
    //  Owner, lease, past the fence: still nothing, it lost its channels
    s_ack (sm, 1, 3, 2500, 2500);
    assert_true (hrb_view_lease (sm, 2500));
    assert_false (s_may (sm, cluster, mine, 2500));
    uint64_t at = s_tick_until_campaign (sm, 3, 10, 20000, true, s_view (3, S_ALL3, S_ALL3), 6);
    assert_true (at < 10 + S_DELAY_MAX + 10);
    const hrb_view_msg_t *req = s_find (HRB_VIEW_VOTE_REQUEST);
    assert_int_equal (req->view.number, 4);
    assert_int_equal (req->view.members, S_ALL3);
    assert_int_equal (req->view.owners, 6);             //  without itself
    s_vote (sm, 1, 4, true, at + 1);
    assert_true (s_out.installed);
    //  Demoted: a member that waits out the hold-down like any returning one
    assert_int_equal (s_tick_until_campaign (sm, 3, at + 10, S_HOLD - 10, true,
                                             s_view (4, S_ALL3, 6), 6), UINT64_MAX);
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

static void
test_restarted_owner_owns_again_only_after_demotion (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32];
    const char *mine = s_channel (cluster, S_ALL3, 0, 0, 0, buf);
    hrb_view_sm_t *sm = s_restored (3, 0, 3, -1, s_view (3, S_ALL3, S_ALL3), 0);
    //  Another broker's view 4 that still lists it as owner changes nothing
    s_hb (sm, 1, 4, s_view (4, S_ALL3, S_ALL3), 100);
    s_ack (sm, 1, 4, 5000, 5000);
    assert_false (s_may (sm, cluster, mine, 5000));
    //  Demoted in 5, owner again in 6 (after its hold-down): sequences
    s_hb (sm, 1, 5, s_view (5, S_ALL3, 6), 6000);
    s_hb (sm, 1, 6, s_view (6, S_ALL3, S_ALL3), 40000);
    s_ack (sm, 1, 6, 42000, 42000);
    assert_true (s_may (sm, cluster, mine, 42000));
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

static void
test_restarted_single_broker_sequences_again (void **state)
{
    hr_buf_t err = HR_BUF_INIT;
    const char *one = "{\"brokers\": [{\"id\": \"b1\", \"publish\": \"tcp://127.0.0.1:7001\","
        " \"router\": \"tcp://127.0.0.1:7002\", \"stream\": \"tcp://127.0.0.1:7003\","
        " \"peer\": \"tcp://127.0.0.1:7004\"}]}";
    hr_cluster_t *cluster = hr_cluster_parse ("one", one, strlen (one), &err);
    hrb_view_sm_t *sm = s_restored (1, 0, 2, 0, s_view (2, 1, 1), 500);
    assert_false (s_may (sm, cluster, "orders", 500));
    hrb_view_tick (sm, 500, &s_out);
    assert_true (s_out.installed);
    assert_int_equal (hrb_view_installed (sm)->number, 3);
    assert_int_equal (hrb_view_installed (sm)->owners, 1);
    //  The only owner there can be: it takes its channels with new epochs
    assert_true (s_may (sm, cluster, "orders", 500));
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
    hr_buf_free (&err);
}

static void
test_restarted_non_owner_is_not_held_back (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32];
    const char *ch = s_channel (cluster, S_ALL3, 2, 0, 0, buf);
    hrb_view_sm_t *sm = s_restored (3, 2, 3, -1, s_view (3, S_ALL3, 3), 0);
    //  No demotion to ask for
    assert_int_equal (s_tick_until_campaign (sm, 3, 0, S_HOLD - 10, true,
                                             s_view (3, S_ALL3, 3), 3), UINT64_MAX);
    s_hb (sm, 0, 4, s_view (4, S_ALL3, S_ALL3), S_HOLD);
    s_ack (sm, 0, 4, S_HOLD + S_LEASE, S_HOLD + S_LEASE);
    assert_true (s_may (sm, cluster, ch, S_HOLD + S_LEASE));
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

//  ---------------------------------------------------------------------
//  Leave

static void
test_leave_says_so_and_campaigns_at_the_next_tick (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    hrb_view_leave (sm, 100, &s_out);
    const hrb_view_msg_t *hb = s_find (HRB_VIEW_HEARTBEAT);
    assert_non_null (hb);
    assert_true (hb->leaving);
    assert_false (hrb_view_left (sm));
    s_hear_all (sm, 3, 0, s_view (1, S_ALL3, S_ALL3), 105);
    hrb_view_tick (sm, 110, &s_out);
    const hrb_view_msg_t *req = s_find (HRB_VIEW_VOTE_REQUEST);
    assert_non_null (req);
    assert_int_equal (req->view.number, 2);
    assert_int_equal (req->view.members, 6);
    assert_int_equal (req->view.owners, 6);
    assert_int_equal (req->view.handoff, 1);
    assert_false (hrb_view_left (sm));
    s_vote (sm, 2, 2, true, 120);
    assert_true (s_out.installed);
    assert_true (hrb_view_left (sm));
    //  Later heartbeats still say it
    hrb_view_tick (sm, 400, &s_out);
    assert_true (s_find (HRB_VIEW_HEARTBEAT)->leaving);
    hrb_view_destroy (&sm);
}

static void
test_leave_without_a_majority_left_does_not_campaign (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    s_hb (sm, 1, 1, s_view (1, 3, 3), 0);
    hrb_view_leave (sm, 100, &s_out);
    //  {1} alone is not a majority of 3
    assert_int_equal (s_tick_until_campaign (sm, 3, 100, 10000, true, s_view (1, 3, 3), 2),
                      UINT64_MAX);
    assert_false (hrb_view_left (sm));
    hrb_view_destroy (&sm);
}

static void
test_others_drop_a_leaving_owner_and_list_it_in_handoff (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    uint64_t at = UINT64_MAX;
    for (uint64_t now = 10; now < 10000 && at == UINT64_MAX; now += 10) {
        s_hear (sm, 1, s_view (1, S_ALL3, S_ALL3), now);
        s_hb_leaving (sm, 2, s_view (1, S_ALL3, S_ALL3), now);
        s_ack (sm, 2, 0, now, now);
        hrb_view_tick (sm, now, &s_out);
        if (s_find (HRB_VIEW_VOTE_REQUEST))
            at = now;
    }
    //  Later than for a silent broker: the leaver campaigns first
    assert_true (at >= 10 + 2 * S_HB && at < 10 + 4 * S_HB + 10);
    const hrb_view_msg_t *req = s_find (HRB_VIEW_VOTE_REQUEST);
    assert_int_equal (req->view.members, 3);
    assert_int_equal (req->view.owners, 3);
    assert_int_equal (req->view.handoff, 4);
    hrb_view_destroy (&sm);
}

static void
test_leaving_member_that_owned_nothing_is_not_in_handoff (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, 3), 0);
    uint64_t at = UINT64_MAX;
    for (uint64_t now = 10; now < 10000 && at == UINT64_MAX; now += 10) {
        s_hear (sm, 1, s_view (1, S_ALL3, 3), now);
        s_hb_leaving (sm, 2, s_view (1, S_ALL3, 3), now);
        s_ack (sm, 2, 0, now, now);
        hrb_view_tick (sm, now, &s_out);
        if (s_find (HRB_VIEW_VOTE_REQUEST))
            at = now;
    }
    assert_int_not_equal (at, UINT64_MAX);
    assert_int_equal (s_find (HRB_VIEW_VOTE_REQUEST)->view.members, 3);
    assert_int_equal (s_find (HRB_VIEW_VOTE_REQUEST)->view.handoff, 0);
    hrb_view_destroy (&sm);
}

//  ---------------------------------------------------------------------
//  Sequencing and the fence

static void
test_may_sequence_needs_ownership_and_the_lease (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char mine_buf [32], theirs_buf [32];
    const char *mine = s_channel (cluster, S_ALL3, 0, 0, 0, mine_buf);
    const char *theirs = s_channel (cluster, S_ALL3, 1, 0, 0, theirs_buf);
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    assert_false (s_may (sm, cluster, mine, 3000));     //  no lease
    s_ack (sm, 2, 1, 3000, 3000);
    assert_true (s_may (sm, cluster, mine, 3000));
    assert_false (s_may (sm, cluster, theirs, 3000));
    assert_false (s_may (sm, cluster, mine, 3000 + S_LEASE));   //  expired
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

static void
test_moved_channel_waits_the_lease_after_install (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32];
    //  Owned by 0 among {0,1,2}, by another among {1,2}
    const char *ch = s_channel (cluster, S_ALL3, 0, 6, 1, buf);
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, 6), 0);
    s_hb (sm, 1, 2, s_view (2, S_ALL3, S_ALL3), 1000);
    s_ack (sm, 1, 2, 1000, 1000);
    s_ack (sm, 1, 2, 2900, 2900);
    assert_true (hrb_view_lease (sm, 1000));
    assert_false (s_may (sm, cluster, ch, 1000));
    assert_false (s_may (sm, cluster, ch, 1000 + S_LEASE - 1));
    assert_true (s_may (sm, cluster, ch, 1000 + S_LEASE));
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

static void
test_kept_channel_does_not_pause_in_a_consecutive_view (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char kept_buf [32], moved_buf [32];
    //  Owned by 0 in {0,1} and in {0,1,2}; the other moves from 1 to 0
    const char *kept = s_channel (cluster, S_ALL3, 0, 3, 0, kept_buf);
    const char *moved = s_channel (cluster, 5, 0, 3, 1, moved_buf);
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, 3), 0);
    //  View 2 at 5000, long after view 1's fence
    s_hb (sm, 1, 2, s_view (2, S_ALL3, S_ALL3), 5000);
    s_ack (sm, 1, 2, 5000, 5000);
    assert_true (s_may (sm, cluster, kept, 5000));
    if (hr_cluster_owner (cluster, moved, strlen (moved), S_ALL3) == 0)
        assert_false (s_may (sm, cluster, moved, 5000));
    //  Installed in quick succession: the kept channel waits for view 1's fence only
    hrb_view_sm_t *quick = s_with_view (3, 0, s_view (1, S_ALL3, 3), 0);
    s_hb (quick, 1, 2, s_view (2, S_ALL3, S_ALL3), 1000);
    s_ack (quick, 1, 2, 1000, 1000);
    assert_false (s_may (quick, cluster, kept, 1000));
    assert_false (s_may (quick, cluster, kept, S_LEASE - 1));
    assert_true (s_may (quick, cluster, kept, S_LEASE));
    hrb_view_destroy (&quick);
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

static void
test_kept_channel_waits_after_a_skipped_view (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32];
    const char *kept = s_channel (cluster, S_ALL3, 0, 0, 0, buf);
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    //  View 2 was never seen here: its owners may have had the channel
    s_hb (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), 5000);
    s_ack (sm, 1, 3, 5000, 5000);
    s_ack (sm, 1, 3, 6900, 6900);
    assert_false (s_may (sm, cluster, kept, 5000));
    assert_false (s_may (sm, cluster, kept, 5000 + S_LEASE - 1));
    assert_true (s_may (sm, cluster, kept, 5000 + S_LEASE));
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

static void
test_first_view_waits_the_lease (void **state)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32];
    const char *ch = s_channel (cluster, S_ALL3, 0, 0, 0, buf);
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    uint64_t at = s_first_campaign (sm);
    s_vote (sm, 1, 1, true, at);
    s_ack (sm, 1, 1, at, at);
    assert_true (hrb_view_lease (sm, at));
    assert_false (s_may (sm, cluster, ch, at));
    s_ack (sm, 1, 1, at + S_LEASE, at + S_LEASE);
    assert_true (s_may (sm, cluster, ch, at + S_LEASE));
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
}

//  Views 1 {0,1,2} at 0 and 2 at `at`; a channel 2 owned in 1 and 0 owns in 2.
static bool
s_from_2_at (hrb_view_t second, uint64_t at, uint64_t now)
{
    hr_cluster_t *cluster = s_cluster ();
    char buf [32];
    const char *ch = s_channel (cluster, second.owners, 0, S_ALL3, 2, buf);
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 0);
    s_hb (sm, 1, second.number, second, at);
    assert_int_equal (hrb_view_installed (sm)->number, second.number);
    s_ack (sm, 1, second.number, now, now);
    bool may = s_may (sm, cluster, ch, now);
    hrb_view_destroy (&sm);
    hr_cluster_destroy (&cluster);
    return may;
}

static void
test_channel_of_an_owner_dropped_without_handoff_moves_at_once (void **state)
{
    //  Every vote for view 2 certified its lease over
    hrb_view_t two = s_view (2, 3, 3);
    assert_true (s_from_2_at (two, 10000, 10000));
    //  Unless view 1 is recent: its own fence first
    assert_false (s_from_2_at (two, 1000, 1000));
    assert_false (s_from_2_at (two, 1000, S_LEASE - 1));
    assert_true (s_from_2_at (two, 1000, S_LEASE));
}

static void
test_channel_of_an_owner_handing_off_or_staying_waits_the_lease (void **state)
{
    hrb_view_t handoff = { .number = 2, .members = 3, .owners = 3, .handoff = 4 };
    assert_false (s_from_2_at (handoff, 10000, 10000 + S_LEASE - 1));
    assert_true (s_from_2_at (handoff, 10000, 10000 + S_LEASE));
    hrb_view_t demoted = s_view (2, S_ALL3, 3);
    assert_false (s_from_2_at (demoted, 10000, 10000 + S_LEASE - 1));
    assert_true (s_from_2_at (demoted, 10000, 10000 + S_LEASE));
    //  Not consecutive: view 2 may have had other owners
    hrb_view_t three = s_view (3, 3, 3);
    assert_false (s_from_2_at (three, 10000, 10000 + S_LEASE - 1));
    assert_true (s_from_2_at (three, 10000, 10000 + S_LEASE));
}

int
main (void)
{
    alarm (20);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_first_view_campaign_after_one_to_four_heartbeats),
        cmocka_unit_test (test_candidate_installs_at_a_majority_and_heartbeats_at_once),
        cmocka_unit_test (test_candidate_counts_each_voter_once_and_only_grants_of_its_term),
        cmocka_unit_test (test_campaign_retried_after_a_new_delay_with_the_next_term),
        cmocka_unit_test (test_candidate_abandons_its_campaign_after_voting_for_another),
        cmocka_unit_test (test_candidate_keeps_acking_and_its_lease_while_it_asks),
        cmocka_unit_test (test_candidate_refuses_another_its_campaign_term),
        cmocka_unit_test (test_retry_asks_a_term_above_every_one_asked),
        cmocka_unit_test (test_campaign_asks_above_the_terms_it_saw_in_heartbeats),
        cmocka_unit_test (test_candidate_lends_nothing_to_a_broker_its_campaign_drops),
        cmocka_unit_test (test_no_campaign_without_a_majority_heard),
        cmocka_unit_test (test_election_delays_are_deterministic_per_seed),
        cmocka_unit_test (test_silent_member_is_dropped_after_the_timeout_and_a_delay),
        cmocka_unit_test (test_broker_that_does_not_hear_this_one_is_dropped),
        cmocka_unit_test (test_returning_broker_is_proposed_as_a_member_not_an_owner),
        cmocka_unit_test (test_fenced_by_a_vote_for_a_view_that_never_came),
        cmocka_unit_test (test_need_gone_before_its_delay_starts_no_election),
        cmocka_unit_test (test_member_asks_to_own_after_the_hold_down),
        cmocka_unit_test (test_hold_down_counts_from_joining_not_from_start),
        cmocka_unit_test (test_restart_keeps_the_term_the_vote_and_the_view),
        cmocka_unit_test (test_restarted_owner_sequences_nothing_and_asks_to_be_demoted),
        cmocka_unit_test (test_restarted_owner_owns_again_only_after_demotion),
        cmocka_unit_test (test_restarted_single_broker_sequences_again),
        cmocka_unit_test (test_restarted_non_owner_is_not_held_back),
        cmocka_unit_test (test_leave_says_so_and_campaigns_at_the_next_tick),
        cmocka_unit_test (test_leave_without_a_majority_left_does_not_campaign),
        cmocka_unit_test (test_others_drop_a_leaving_owner_and_list_it_in_handoff),
        cmocka_unit_test (test_leaving_member_that_owned_nothing_is_not_in_handoff),
        cmocka_unit_test (test_may_sequence_needs_ownership_and_the_lease),
        cmocka_unit_test (test_moved_channel_waits_the_lease_after_install),
        cmocka_unit_test (test_kept_channel_does_not_pause_in_a_consecutive_view),
        cmocka_unit_test (test_kept_channel_waits_after_a_skipped_view),
        cmocka_unit_test (test_first_view_waits_the_lease),
        cmocka_unit_test (test_channel_of_an_owner_dropped_without_handoff_moves_at_once),
        cmocka_unit_test (test_channel_of_an_owner_handing_off_or_staying_waits_the_lease),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
