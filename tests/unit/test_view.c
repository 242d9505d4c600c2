/*  test_view: the view state machine (broker/hrb_view), one transition per
    test, part one: the config, a lone broker, heartbeats and their acks,
    installing and term adoption, who is alive, leases, and each clause of
    the vote. Part two (the candidate, what starts an election, restart,
    leave, the fence) is test_view_elect; random schedules are
    test_view_sim's.  */
#include "view_fixture.h"

//  ---------------------------------------------------------------------
//  Config

static void
test_check_accepts_defaults_and_refuses_each_bad_field (void **state)
{
    hr_buf_t err = HR_BUF_INIT;
    hrb_view_config_t c = s_config (3, 0);
    assert_int_equal (hrb_view_check (&c, &err), 0);
    c = s_config (1, 0);
    assert_int_equal (hrb_view_check (&c, &err), 0);
    c = s_config (HR_CLUSTER_MAX, HR_CLUSTER_MAX - 1);
    assert_int_equal (hrb_view_check (&c, &err), 0);

    hrb_view_config_t bad [7];
    for (int i = 0; i < 7; i++)
        bad [i] = s_config (3, 0);
    bad [0].size = 0;
    bad [1].size = HR_CLUSTER_MAX + 1;
    bad [2].self = 3;
    bad [3].self = -1;
    bad [4].lease = S_TIMEOUT;              //  not under the timeout
    bad [5].heartbeat = S_LEASE / 4 + 1;    //  more than a quarter of the lease
    bad [6].heartbeat = 0;
    for (int i = 0; i < 7; i++) {
        hr_buf_reset (&err);
        assert_int_equal (hrb_view_check (&bad [i], &err), -1);
        assert_true (err.size > 0);
    }
    hr_buf_free (&err);
}

//  ---------------------------------------------------------------------
//  A lone broker

static void
test_single_broker_installs_its_view_at_the_first_tick_and_sequences (void **state)
{
    hr_buf_t err = HR_BUF_INIT;
    const char *one = "{\"brokers\": [{\"id\": \"b1\", \"publish\": \"tcp://127.0.0.1:7001\","
        " \"router\": \"tcp://127.0.0.1:7002\", \"stream\": \"tcp://127.0.0.1:7003\","
        " \"peer\": \"tcp://127.0.0.1:7004\"}]}";
    hr_cluster_t *cluster = hr_cluster_parse ("one", one, strlen (one), &err);
    assert_non_null (cluster);
    hrb_view_sm_t *sm = s_new (1, 0, 1000);
    assert_false (s_may (sm, cluster, "orders", 1000));
    hrb_view_tick (sm, 1000, &s_out);
    assert_true (s_out.installed);
    assert_true (s_out.persist);
    const hrb_view_t *v = hrb_view_installed (sm);
    assert_int_equal (v->number, 1);
    assert_int_equal (v->members, 1);
    assert_int_equal (v->owners, 1);
    assert_int_equal (hrb_view_durable (sm)->term, 1);
    assert_true (hrb_view_lease (sm, 1000));
    //  No other broker's lease to wait for
    assert_true (s_may (sm, cluster, "orders", 1000));
    //  And nothing more to do
    hrb_view_tick (sm, 1100, &s_out);
    assert_false (s_out.installed);
    assert_null (s_find (HRB_VIEW_VOTE_REQUEST));
    hrb_view_destroy (&sm);
    assert_null (sm);
    hr_cluster_destroy (&cluster);
    hr_buf_free (&err);
}

//  ---------------------------------------------------------------------
//  Heartbeats

static void
test_heartbeat_goes_out_at_the_first_tick_then_every_period (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    hrb_view_tick (sm, 0, &s_out);
    const hrb_view_msg_t *hb = s_find (HRB_VIEW_HEARTBEAT);
    assert_non_null (hb);
    assert_int_equal (hb->from, 0);
    assert_int_equal (hb->to, -1);
    assert_int_equal (hb->view.number, 0);
    assert_int_equal (hb->stamp, 0);
    assert_false (hb->leaving);
    hrb_view_tick (sm, S_HB - 1, &s_out);
    assert_null (s_find (HRB_VIEW_HEARTBEAT));
    hrb_view_tick (sm, S_HB, &s_out);
    hb = s_find (HRB_VIEW_HEARTBEAT);
    assert_non_null (hb);
    assert_int_equal (hb->stamp, S_HB);
    assert_false (s_out.persist);
    hrb_view_destroy (&sm);
}

static void
test_heartbeat_installs_a_higher_view_and_adopts_its_term (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    s_hb (sm, 1, 4, s_view (4, S_ALL3, S_ALL3), 500);
    assert_true (s_out.installed);
    assert_true (s_out.persist);
    assert_int_equal (hrb_view_installed (sm)->number, 4);
    assert_int_equal (hrb_view_installed_at (sm), 500);
    assert_int_equal (hrb_view_durable (sm)->term, 4);
    assert_int_equal (hrb_view_durable (sm)->voted_for, -1);
    assert_int_equal (hrb_view_previous (sm)->number, 0);
    //  A later one: the one before is kept as previous
    s_hb (sm, 2, 6, s_view (6, 3, 3), 900);
    assert_true (s_out.installed);
    assert_int_equal (hrb_view_installed (sm)->number, 6);
    assert_int_equal (hrb_view_installed (sm)->members, 3);
    assert_int_equal (hrb_view_previous (sm)->number, 4);
    assert_int_equal (hrb_view_installed_at (sm), 900);
    hrb_view_destroy (&sm);
}

static void
test_heartbeat_of_a_lower_or_equal_view_installs_nothing (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (5, S_ALL3, S_ALL3), 100);
    s_hb (sm, 1, 9, s_view (4, 3, 3), 200);
    assert_false (s_out.installed);
    assert_false (s_out.persist);
    s_hb (sm, 1, 5, s_view (5, 3, 3), 300);
    assert_false (s_out.installed);
    assert_int_equal (hrb_view_installed (sm)->members, S_ALL3);
    //  A heartbeat's term is not adopted: only its view's number
    assert_int_equal (hrb_view_durable (sm)->term, 5);
    assert_int_equal (hrb_view_installed_at (sm), 100);
    hrb_view_destroy (&sm);
}

static void
test_heartbeat_with_a_malformed_view_installs_nothing (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    s_hb (sm, 1, 2, s_view (2, 3, 4), 10);          //  owner not a member
    s_hb (sm, 1, 2, s_view (2, 0x13, 3), 10);       //  a member beyond the list
    s_hb (sm, 1, 2, s_view (2, 3, 0), 10);          //  no owner
    assert_int_equal (hrb_view_installed (sm)->number, 0);
    assert_int_equal (hrb_view_durable (sm)->term, 0);
    //  Nor messages from itself or outside the list
    s_hb (sm, 0, 2, s_view (2, 3, 3), 10);
    s_hb (sm, 3, 2, s_view (2, 3, 3), 10);
    s_hb (sm, -1, 2, s_view (2, 3, 3), 10);
    assert_int_equal (hrb_view_installed (sm)->number, 0);

    hrb_view_destroy (&sm);
}

static void
test_heartbeat_install_keeps_a_higher_term_and_its_vote (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (3, S_ALL3, S_ALL3), 0);
    s_vreq (sm, 2, 7, s_view (7, S_ALL3, S_ALL3), 10);
    assert_int_equal (hrb_view_durable (sm)->term, 7);
    s_hb (sm, 1, 5, s_view (5, S_ALL3, S_ALL3), 20);
    assert_true (s_out.installed);
    assert_int_equal (hrb_view_durable (sm)->term, 7);
    assert_int_equal (hrb_view_durable (sm)->voted_for, 2);
    hrb_view_destroy (&sm);
}

static void
test_heartbeat_install_of_a_higher_term_forgets_the_vote (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (3, S_ALL3, S_ALL3), 0);
    s_vreq (sm, 2, 4, s_view (4, S_ALL3, S_ALL3), 10);
    assert_int_equal (hrb_view_durable (sm)->voted_for, 2);
    s_hb (sm, 1, 6, s_view (6, S_ALL3, S_ALL3), 20);
    assert_int_equal (hrb_view_durable (sm)->term, 6);
    assert_int_equal (hrb_view_durable (sm)->voted_for, -1);
    assert_true (s_out.persist);
    hrb_view_destroy (&sm);
}

static void
test_heartbeat_acked_when_its_view_is_installed_here_and_the_term (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (3, S_ALL3, S_ALL3), 0);
    s_hb (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), 77);
    const hrb_view_msg_t *ack = s_find (HRB_VIEW_HEARTBEAT_ACK);
    assert_non_null (ack);
    assert_int_equal (ack->from, 0);
    assert_int_equal (ack->to, 1);
    assert_int_equal (ack->view.number, 3);
    assert_int_equal (ack->stamp, 77);
    assert_false (s_out.persist);
    hrb_view_destroy (&sm);
}

static void
test_heartbeat_that_installs_is_acked_at_once (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    s_hb (sm, 2, 1, s_view (1, S_ALL3, S_ALL3), 40);
    assert_true (s_out.installed);
    const hrb_view_msg_t *ack = s_find (HRB_VIEW_HEARTBEAT_ACK);
    assert_non_null (ack);
    assert_int_equal (ack->to, 2);
    assert_int_equal (ack->view.number, 1);
    //  And its own heartbeat of the view goes out at once (its lease)
    const hrb_view_msg_t *hb = s_find (HRB_VIEW_HEARTBEAT);
    assert_non_null (hb);
    assert_int_equal (hb->to, -1);
    assert_int_equal (hb->view.number, 1);
    assert_int_equal (hb->stamp, 40);
    hrb_view_destroy (&sm);
}

//  The ack of a heartbeat this broker does not lend its lease to.
static void
s_expect_plain_ack (int to)
{
    const hrb_view_msg_t *ack = s_find (HRB_VIEW_HEARTBEAT_ACK);
    assert_non_null (ack);
    assert_int_equal (ack->to, to);
    assert_int_equal (ack->view.number, 0);
}

static void
test_heartbeat_of_an_older_view_gets_an_ack_for_no_lease (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (3, S_ALL3, S_ALL3), 0);
    s_hb (sm, 1, 2, s_view (2, S_ALL3, S_ALL3), 10);
    s_expect_plain_ack (1);
    hrb_view_destroy (&sm);
}

static void
test_heartbeat_after_a_vote_for_a_later_term_gets_an_ack_for_no_lease (void **state)
{
    //  The vote fences view 3 here: lending to it now could extend an old lease
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (3, S_ALL3, S_ALL3), 0);
    s_vreq (sm, 2, 4, s_view (4, S_ALL3, S_ALL3), 10);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    s_hb (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), 20);
    s_expect_plain_ack (1);
    hrb_view_destroy (&sm);
}

static void
test_heartbeat_of_a_broker_not_alive_here_gets_an_ack_for_no_lease (void **state)
{
    //  1 is heard but has not acked this broker for a timeout: it cannot
    //  hear it, and must not keep a lease on this broker's word
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (3, S_ALL3, S_ALL3), 0);
    s_hb (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), 2000);
    assert_int_equal (s_find (HRB_VIEW_HEARTBEAT_ACK)->view.number, 3);
    s_hb (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), S_TIMEOUT);
    s_expect_plain_ack (1);
    hrb_view_destroy (&sm);
}

static void
test_alive_is_heard_and_hearing_within_the_timeout (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 1, 0);
    assert_int_equal (hrb_view_alive (sm, 0), 2);
    //  Heard: alive for a timeout, the time its acks may take to come
    s_hb (sm, 0, 0, s_view (0, 0, 0), 100);
    s_hb (sm, 2, 0, s_view (0, 0, 0), 100);
    assert_int_equal (hrb_view_alive (sm, 100), S_ALL3);
    s_ack (sm, 2, 7, 150, 200);                 //  an ack of any view
    s_hb (sm, 0, 0, s_view (0, 0, 0), 3000);
    s_hb (sm, 2, 0, s_view (0, 0, 0), 3000);
    //  Then only while it acks: 0 never did
    assert_int_equal (hrb_view_alive (sm, 100 + S_TIMEOUT - 1), S_ALL3);
    assert_int_equal (hrb_view_alive (sm, 100 + S_TIMEOUT), 6);
    assert_int_equal (hrb_view_alive (sm, 150 + S_TIMEOUT), 2);     //  2's ack is old
    //  An ack stamped in the future proves nothing
    s_ack (sm, 2, 0, 20000, 3150);
    assert_int_equal (hrb_view_alive (sm, 3150), 2);
    s_ack (sm, 0, 0, 3100, 3150);
    assert_int_equal (hrb_view_alive (sm, 3150), 3);
    //  Silent past the timeout: not alive, whatever it acked
    assert_int_equal (hrb_view_alive (sm, 3150 + S_TIMEOUT), 2);
    //  Heard again after the silence: a new grace
    s_hb (sm, 2, 0, s_view (0, 0, 0), 10000);
    assert_int_equal (hrb_view_alive (sm, 10000), 6);
    hrb_view_destroy (&sm);
}

static void
test_alive_includes_a_broker_in_an_election (void **state)
{
    //  A voter waiting for the view it voted for acks nothing
    hrb_view_sm_t *sm = s_new (3, 1, 0);
    s_hb (sm, 0, 4, s_view (3, S_ALL3, S_ALL3), 100);
    s_hb (sm, 0, 4, s_view (3, S_ALL3, S_ALL3), 2000);
    s_hb (sm, 0, 4, s_view (3, S_ALL3, S_ALL3), 3200);
    assert_int_equal (hrb_view_alive (sm, 3200), 3);
    s_hb (sm, 0, 4, s_view (4, S_ALL3, S_ALL3), 3300);
    assert_int_equal (hrb_view_alive (sm, 3300), 2);
    hrb_view_destroy (&sm);
}

//  ---------------------------------------------------------------------
//  Leases

static void
test_lease_needs_acks_from_a_majority_with_self (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (1, S_ALL3, S_ALL3), 1000);
    assert_false (hrb_view_lease (sm, 1000));       //  itself only: 1 of 3
    s_ack (sm, 1, 1, 1000, 1010);
    assert_true (hrb_view_lease (sm, 1010));
    //  Holds while the acked stamp is within the lease, strictly
    assert_true (hrb_view_lease (sm, 1000 + S_LEASE - 1));
    assert_false (hrb_view_lease (sm, 1000 + S_LEASE));
    //  A later ack renews it; an older one does not move it back
    s_ack (sm, 2, 1, 1500, 1510);
    s_ack (sm, 2, 1, 1200, 1520);
    assert_true (hrb_view_lease (sm, 1500 + S_LEASE - 1));
    assert_false (hrb_view_lease (sm, 1500 + S_LEASE));
    hrb_view_destroy (&sm);
}

static void
test_lease_counts_the_static_list_not_the_view (void **state)
{
    //  5 brokers, a view of 3: the majority is still 3 of 5
    hrb_view_sm_t *sm = s_with_view (5, 0, s_view (2, 7, 7), 0);
    s_ack (sm, 1, 2, 0, 5);
    assert_false (hrb_view_lease (sm, 5));
    //  A non-member's ack counts: it is one of the static list
    s_ack (sm, 4, 2, 0, 6);
    assert_true (hrb_view_lease (sm, 6));
    hrb_view_destroy (&sm);
}

static void
test_lease_ignores_acks_of_another_view_and_future_stamps (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (2, S_ALL3, S_ALL3), 1000);
    s_ack (sm, 1, 1, 1000, 1010);                   //  an older view
    s_ack (sm, 1, 3, 1000, 1010);                   //  a view not installed here
    s_ack (sm, 2, 2, 5000, 1010);                   //  a stamp never sent
    s_ack (sm, 2, 2, 900, 1010);                    //  sent before this view
    assert_false (hrb_view_lease (sm, 1010));
    assert_false (s_out.persist);
    hrb_view_destroy (&sm);
}

static void
test_lease_starts_over_with_each_installed_view (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (2, S_ALL3, S_ALL3), 1000);
    s_ack (sm, 1, 2, 1000, 1010);
    assert_true (hrb_view_lease (sm, 1020));
    s_hb (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), 1030);
    assert_false (hrb_view_lease (sm, 1030));
    s_ack (sm, 1, 2, 1020, 1040);                   //  late, for view 2
    assert_false (hrb_view_lease (sm, 1040));
    s_ack (sm, 2, 3, 1030, 1050);
    assert_true (hrb_view_lease (sm, 1050));
    hrb_view_destroy (&sm);
}

static void
test_lease_does_not_count_itself_after_voting_for_a_later_term (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (2, S_ALL3, S_ALL3), 1000);
    s_ack (sm, 1, 2, 1000, 1010);
    assert_true (hrb_view_lease (sm, 1010));
    s_vreq (sm, 2, 3, s_view (3, S_ALL3, S_ALL3), 1020);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    assert_false (hrb_view_lease (sm, 1020));
    //  The others' acks still count
    s_ack (sm, 2, 2, 1000, 1030);
    assert_true (hrb_view_lease (sm, 1030));
    hrb_view_destroy (&sm);
}

static void
test_lease_without_a_view_is_never_held (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 0, 0);
    s_ack (sm, 1, 0, 0, 1);
    s_ack (sm, 2, 0, 0, 1);
    assert_false (hrb_view_lease (sm, 1));
    hrb_view_destroy (&sm);
}

//  ---------------------------------------------------------------------
//  Voting

//  A voter of 3 with view 2 {0,1,2} installed, hearing all.
static hrb_view_sm_t *
s_voter (void)
{
    return s_with_view (3, 0, s_view (2, S_ALL3, S_ALL3), 100);
}

//  Asks for a vote; checks the answer and that a denial changed nothing.
static void
s_expect_vote (hrb_view_sm_t *sm, int from, uint64_t term, hrb_view_t view, bool granted)
{
    hrb_view_durable_t before = *hrb_view_durable (sm);
    s_vreq (sm, from, term, view, 110);
    const hrb_view_msg_t *vote = s_find (HRB_VIEW_VOTE);
    assert_non_null (vote);
    assert_int_equal (vote->to, from);
    assert_int_equal (vote->from, 0);
    assert_int_equal (vote->term, term);
    assert_int_equal (vote->granted, granted);
    assert_int_equal (s_out.persist, granted);
    const hrb_view_durable_t *after = hrb_view_durable (sm);
    if (granted) {
        assert_int_equal (after->term, term);
        assert_int_equal (after->voted_for, from);
    }
    else {
        //  A denied, disruptive candidate fences nobody
        assert_int_equal (after->term, before.term);
        assert_int_equal (after->voted_for, before.voted_for);
    }
}

static void
test_vote_granted_adopts_the_term_and_persists_it (void **state)
{
    hrb_view_sm_t *sm = s_voter ();
    s_expect_vote (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), true);
    hrb_view_destroy (&sm);
}

static void
test_vote_granted_again_to_the_same_candidate_only (void **state)
{
    hrb_view_sm_t *sm = s_voter ();
    s_expect_vote (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), true);
    s_expect_vote (sm, 2, 3, s_view (3, S_ALL3, S_ALL3), false);
    s_expect_vote (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), true);     //  a duplicate
    //  A later term is a new vote
    s_expect_vote (sm, 2, 4, s_view (4, S_ALL3, S_ALL3), true);
    s_expect_vote (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), false);    //  an older term
    hrb_view_destroy (&sm);
}

static void
test_vote_denied_for_a_term_not_above_the_installed_view (void **state)
{
    hrb_view_sm_t *sm = s_voter ();
    s_expect_vote (sm, 1, 2, s_view (2, S_ALL3, S_ALL3), false);
    s_expect_vote (sm, 1, 1, s_view (1, S_ALL3, S_ALL3), false);
    hrb_view_destroy (&sm);
}

static void
test_vote_denied_when_the_term_is_the_installed_views_with_no_vote (void **state)
{
    //  term 2 == installed 2, voted_for -1: the term is decided
    hrb_view_sm_t *sm = s_voter ();
    assert_int_equal (hrb_view_durable (sm)->voted_for, -1);
    s_expect_vote (sm, 1, 2, s_view (2, 3, 3), false);
    hrb_view_destroy (&sm);
}

static void
test_vote_denied_when_the_view_number_is_not_the_term (void **state)
{
    hrb_view_sm_t *sm = s_voter ();
    s_expect_vote (sm, 1, 3, s_view (4, S_ALL3, S_ALL3), false);
    s_expect_vote (sm, 1, 4, s_view (3, S_ALL3, S_ALL3), false);
    hrb_view_destroy (&sm);
}

static void
test_vote_denied_without_a_majority_of_members (void **state)
{
    //  5 brokers, hearing only 0 and 1: {0,1} is not a majority of 5
    hrb_view_sm_t *sm = s_new (5, 0, 0);
    s_vreq (sm, 1, 1, s_view (1, 3, 3), 10);
    assert_false (s_find (HRB_VIEW_VOTE)->granted);
    assert_int_equal (hrb_view_durable (sm)->term, 0);
    s_vreq (sm, 1, 1, s_view (1, 7, 7), 10);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    hrb_view_destroy (&sm);
}

static void
test_vote_denied_when_owners_are_not_members (void **state)
{
    hrb_view_sm_t *sm = s_voter ();
    s_expect_vote (sm, 1, 3, (hrb_view_t) { .number = 3, .members = 3, .owners = 5 }, false);
    s_expect_vote (sm, 1, 3, (hrb_view_t) { .number = 3, .members = S_ALL3, .owners = 0 },
                   false);
    hrb_view_destroy (&sm);
}

static void
test_vote_denied_when_a_broker_it_hears_is_left_out (void **state)
{
    hrb_view_sm_t *sm = s_voter ();
    s_expect_vote (sm, 1, 3, s_view (3, 3, 3), false);      //  2 is heard here
    s_expect_vote (sm, 1, 3, s_view (3, 6, 6), false);      //  the voter itself
    //  Once 2 is silent past the timeout, it may go
    s_hear (sm, 1, s_view (2, S_ALL3, S_ALL3), 100 + S_TIMEOUT);
    s_vreq (sm, 1, 3, s_view (3, 3, 3), 100 + S_TIMEOUT);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    hrb_view_destroy (&sm);
}

static void
test_vote_granted_leaving_out_a_broker_that_is_leaving (void **state)
{
    hrb_view_sm_t *sm = s_voter ();
    s_hb_leaving (sm, 2, s_view (2, S_ALL3, S_ALL3), 105);
    s_expect_vote (sm, 1, 3, (hrb_view_t) { .number = 3, .members = 3, .owners = 3,
                                            .handoff = 4 }, true);
    hrb_view_destroy (&sm);
}

static void
test_vote_denied_while_it_lends_its_lease_to_an_owner_dropped (void **state)
{
    //  2 keeps sending heartbeats, lent to while alive here (its acks
    //  stop at 0, so it is alive until the timeout)
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (2, S_ALL3, S_ALL3), 0);
    for (uint64_t now = 100; now < S_TIMEOUT; now += 100) {
        s_hear (sm, 1, s_view (2, S_ALL3, S_ALL3), now);
        s_hb (sm, 2, 2, s_view (2, S_ALL3, S_ALL3), now);
    }
    assert_int_equal (s_find (HRB_VIEW_HEARTBEAT_ACK)->view.number, 2);
    s_hear (sm, 1, s_view (2, S_ALL3, S_ALL3), S_TIMEOUT + 100);
    s_hb (sm, 2, 2, s_view (2, S_ALL3, S_ALL3), S_TIMEOUT + 100);
    assert_int_equal (s_find (HRB_VIEW_HEARTBEAT_ACK)->view.number, 0);
    //  2 is not alive here now, but its lease may rest on this broker's
    //  ack of 2900: no vote to drop it without handoff for a lease
    s_vreq (sm, 1, 3, s_view (3, 3, 3), S_TIMEOUT + 100);
    assert_false (s_find (HRB_VIEW_VOTE)->granted);
    assert_int_equal (hrb_view_durable (sm)->term, 2);
    //  With handoff the new owner waits out the fence anyway
    s_vreq (sm, 1, 3, (hrb_view_t) { .number = 3, .members = 3, .owners = 3, .handoff = 4 },
            S_TIMEOUT + 100);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    //  And a lease after its last ack, without
    hrb_view_sm_t *later = s_with_view (3, 0, s_view (2, S_ALL3, S_ALL3), 0);
    for (uint64_t now = 100; now < S_TIMEOUT; now += 100) {
        s_hear (later, 1, s_view (2, S_ALL3, S_ALL3), now);
        s_hb (later, 2, 2, s_view (2, S_ALL3, S_ALL3), now);
    }
    s_hear (later, 1, s_view (2, S_ALL3, S_ALL3), 2900 + S_LEASE);
    s_hb (later, 2, 2, s_view (2, S_ALL3, S_ALL3), 2900 + S_LEASE);
    s_vreq (later, 1, 3, s_view (3, 3, 3), 2900 + S_LEASE);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    hrb_view_destroy (&later);
    hrb_view_destroy (&sm);
}

static void
test_vote_after_a_restart_certifies_nothing_for_a_lease (void **state)
{
    //  It may have lent 2 its lease just before it stopped
    hrb_view_config_t c = s_config (3, 0);
    hrb_view_durable_t d = { .term = 2, .voted_for = -1,
                             .installed = s_view (2, S_ALL3, S_ALL3) };
    hrb_view_sm_t *sm = hrb_view_new (&c, &d, 1000);
    s_hear (sm, 1, s_view (2, S_ALL3, S_ALL3), 1000);
    s_vreq (sm, 1, 3, s_view (3, 3, 3), 1000 + S_LEASE - 1);
    assert_false (s_find (HRB_VIEW_VOTE)->granted);
    s_hear (sm, 1, s_view (2, S_ALL3, S_ALL3), 1000 + S_LEASE);
    s_vreq (sm, 1, 3, s_view (3, 3, 3), 1000 + S_LEASE);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    hrb_view_destroy (&sm);
}

static void
test_vote_denied_for_a_new_owner_that_was_not_a_member (void **state)
{
    //  View 2: members {0,1}, owners {0,1}; 2 comes back
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (2, 3, 3), 100);
    s_hb (sm, 2, 0, s_view (0, 0, 0), 105);
    s_expect_vote (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), false);
    //  As a member first: granted
    s_expect_vote (sm, 1, 3, s_view (3, S_ALL3, 3), true);
    hrb_view_destroy (&sm);
}

static void
test_vote_granted_for_a_promotion_of_a_member (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (2, S_ALL3, 3), 100);
    s_expect_vote (sm, 2, 3, s_view (3, S_ALL3, S_ALL3), true);
    hrb_view_destroy (&sm);
}

static void
test_vote_granted_for_any_owners_when_no_old_owner_is_left (void **state)
{
    //  5 brokers; view 2: members {0,1,2}, owner {2} only; 2 is gone and
    //  3, 4 are back: no owner is left to hold the channels
    hrb_view_sm_t *sm = s_with_view (5, 0, s_view (2, 7, 4), 100);
    s_hear (sm, 1, s_view (2, 7, 4), 100 + S_TIMEOUT);
    s_hear (sm, 3, s_view (0, 0, 0), 100 + S_TIMEOUT);
    s_hear (sm, 4, s_view (0, 0, 0), 100 + S_TIMEOUT);
    s_vreq (sm, 1, 3, s_view (3, 0x1b, 0x1b), 100 + S_TIMEOUT);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    hrb_view_destroy (&sm);
}

int
main (void)
{
    alarm (20);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_check_accepts_defaults_and_refuses_each_bad_field),
        cmocka_unit_test (test_single_broker_installs_its_view_at_the_first_tick_and_sequences),
        cmocka_unit_test (test_heartbeat_goes_out_at_the_first_tick_then_every_period),
        cmocka_unit_test (test_heartbeat_installs_a_higher_view_and_adopts_its_term),
        cmocka_unit_test (test_heartbeat_of_a_lower_or_equal_view_installs_nothing),
        cmocka_unit_test (test_heartbeat_with_a_malformed_view_installs_nothing),
        cmocka_unit_test (test_heartbeat_install_keeps_a_higher_term_and_its_vote),
        cmocka_unit_test (test_heartbeat_install_of_a_higher_term_forgets_the_vote),
        cmocka_unit_test (test_heartbeat_acked_when_its_view_is_installed_here_and_the_term),
        cmocka_unit_test (test_heartbeat_that_installs_is_acked_at_once),
        cmocka_unit_test (test_heartbeat_of_an_older_view_gets_an_ack_for_no_lease),
        cmocka_unit_test (test_heartbeat_after_a_vote_for_a_later_term_gets_an_ack_for_no_lease),
        cmocka_unit_test (test_heartbeat_of_a_broker_not_alive_here_gets_an_ack_for_no_lease),
        cmocka_unit_test (test_alive_is_heard_and_hearing_within_the_timeout),
        cmocka_unit_test (test_alive_includes_a_broker_in_an_election),
        cmocka_unit_test (test_lease_needs_acks_from_a_majority_with_self),
        cmocka_unit_test (test_lease_counts_the_static_list_not_the_view),
        cmocka_unit_test (test_lease_ignores_acks_of_another_view_and_future_stamps),
        cmocka_unit_test (test_lease_starts_over_with_each_installed_view),
        cmocka_unit_test (test_lease_does_not_count_itself_after_voting_for_a_later_term),
        cmocka_unit_test (test_lease_without_a_view_is_never_held),
        cmocka_unit_test (test_vote_granted_adopts_the_term_and_persists_it),
        cmocka_unit_test (test_vote_granted_again_to_the_same_candidate_only),
        cmocka_unit_test (test_vote_denied_for_a_term_not_above_the_installed_view),
        cmocka_unit_test (test_vote_denied_when_the_term_is_the_installed_views_with_no_vote),
        cmocka_unit_test (test_vote_denied_when_the_view_number_is_not_the_term),
        cmocka_unit_test (test_vote_denied_without_a_majority_of_members),
        cmocka_unit_test (test_vote_denied_when_owners_are_not_members),
        cmocka_unit_test (test_vote_denied_when_a_broker_it_hears_is_left_out),
        cmocka_unit_test (test_vote_granted_leaving_out_a_broker_that_is_leaving),
        cmocka_unit_test (test_vote_denied_while_it_lends_its_lease_to_an_owner_dropped),
        cmocka_unit_test (test_vote_after_a_restart_certifies_nothing_for_a_lease),
        cmocka_unit_test (test_vote_denied_for_a_new_owner_that_was_not_a_member),
        cmocka_unit_test (test_vote_granted_for_a_promotion_of_a_member),
        cmocka_unit_test (test_vote_granted_for_any_owners_when_no_old_owner_is_left),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
