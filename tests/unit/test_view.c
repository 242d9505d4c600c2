/*  test_view: the view state machine (broker/hrb_view), one transition per
    test: heartbeats and their acks, installing and term adoption, leases,
    each clause of the vote, the candidate, election delays and retries,
    leave, restart, promotion, and the fence. The random schedules are
    tests/unit/test_view_sim.c's.  */
#include "hrb_view.h"

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define S_HB 250
#define S_TIMEOUT 3000
#define S_LEASE 2000
#define S_HOLD 30000
#define S_ALL3 7u

static const char s_file [] =
    "{\"brokers\": ["
    "{\"id\": \"b1\", \"publish\": \"tcp://127.0.0.1:7001\", \"router\": \"tcp://127.0.0.1:7002\","
    " \"stream\": \"tcp://127.0.0.1:7003\", \"peer\": \"tcp://127.0.0.1:7004\"},"
    "{\"id\": \"b2\", \"publish\": \"tcp://127.0.0.1:7011\", \"router\": \"tcp://127.0.0.1:7012\","
    " \"stream\": \"tcp://127.0.0.1:7013\", \"peer\": \"tcp://127.0.0.1:7014\"},"
    "{\"id\": \"b3\", \"publish\": \"tcp://127.0.0.1:7021\", \"router\": \"tcp://127.0.0.1:7022\","
    " \"stream\": \"tcp://127.0.0.1:7023\", \"peer\": \"tcp://127.0.0.1:7024\"}]}";

static hrb_view_out_t s_out;

static hrb_view_config_t
s_config (size_t size, int self)
{
    return (hrb_view_config_t) {
        .self = self, .size = size, .heartbeat = S_HB, .timeout = S_TIMEOUT,
        .lease = S_LEASE, .hold_down = S_HOLD, .seed = 42
    };
}

static hrb_view_sm_t *
s_new (size_t size, int self, uint64_t now)
{
    hrb_view_config_t config = s_config (size, self);
    return hrb_view_new (&config, NULL, now);
}

static hrb_view_t
s_view (uint64_t number, hr_members_t members, hr_members_t owners)
{
    return (hrb_view_t) { .number = number, .members = members, .owners = owners };
}

//  The first message of this type in s_out, or NULL.
static const hrb_view_msg_t *
s_find (hrb_view_msg_type_t type)
{
    for (size_t i = 0; i < s_out.count; i++)
        if (s_out.msgs [i].type == type)
            return &s_out.msgs [i];
    return NULL;
}

static void
s_recv (hrb_view_sm_t *sm, hrb_view_msg_t msg, uint64_t now)
{
    hrb_view_receive (sm, &msg, now, &s_out);
}

static void
s_hb (hrb_view_sm_t *sm, int from, uint64_t term, hrb_view_t view, uint64_t now)
{
    s_recv (sm, (hrb_view_msg_t) { .type = HRB_VIEW_HEARTBEAT, .from = from, .to = -1,
                                   .term = term, .view = view, .stamp = now }, now);
}

static void
s_hb_leaving (hrb_view_sm_t *sm, int from, hrb_view_t view, uint64_t now)
{
    s_recv (sm, (hrb_view_msg_t) { .type = HRB_VIEW_HEARTBEAT, .from = from, .to = -1,
                                   .term = view.number, .view = view, .stamp = now,
                                   .leaving = true }, now);
}

static void
s_ack (hrb_view_sm_t *sm, int from, uint64_t number, uint64_t stamp, uint64_t now)
{
    s_recv (sm, (hrb_view_msg_t) { .type = HRB_VIEW_HEARTBEAT_ACK, .from = from, .to = -1,
                                   .term = number, .view.number = number, .stamp = stamp },
            now);
}

static void
s_vreq (hrb_view_sm_t *sm, int from, uint64_t term, hrb_view_t view, uint64_t now)
{
    s_recv (sm, (hrb_view_msg_t) { .type = HRB_VIEW_VOTE_REQUEST, .from = from, .to = -1,
                                   .term = term, .view = view }, now);
}

static void
s_vote (hrb_view_sm_t *sm, int from, uint64_t term, bool granted, uint64_t now)
{
    s_recv (sm, (hrb_view_msg_t) { .type = HRB_VIEW_VOTE, .from = from, .to = -1,
                                   .term = term, .granted = granted }, now);
}

//  Heartbeats from every other broker of a size-broker list, carrying view.
static void
s_hear_all (hrb_view_sm_t *sm, size_t size, int self, hrb_view_t view, uint64_t now)
{
    for (int j = 0; j < (int) size; j++)
        if (j != self)
            s_hb (sm, j, view.number, view, now);
}

//  A machine that installed view (relayed by a heartbeat of another member)
//  at now, hearing every broker.
static hrb_view_sm_t *
s_with_view (size_t size, int self, hrb_view_t view, uint64_t now)
{
    hrb_view_sm_t *sm = s_new (size, self, now);
    s_hear_all (sm, size, self, view, now);
    assert_int_equal (hrb_view_installed (sm)->number, view.number);
    return sm;
}

//  Ticks every heartbeat from `from` until a vote request goes out or
//  until `until`; returns when it went out (UINT64_MAX: never).
static uint64_t
s_tick_until_campaign (hrb_view_sm_t *sm, size_t size, uint64_t from, uint64_t until,
                       bool keep_hearing, hrb_view_t heard_view, hr_members_t heard)
{
    for (uint64_t now = from; now <= until; now += 10) {
        if (keep_hearing)
            for (int j = 0; j < (int) size; j++)
                if (heard & (1u << j))
                    s_hb (sm, j, heard_view.number, heard_view, now);
        hrb_view_tick (sm, now, &s_out);
        if (s_find (HRB_VIEW_VOTE_REQUEST))
            return now;
    }
    return UINT64_MAX;
}

//  A channel whose owner among owners is broker index `owner` (name into buf).
static const char *
s_channel (hr_cluster_t *cluster, hr_members_t owners, int owner, hr_members_t prev_owners,
           int prev_owner, char *buf)
{
    for (int i = 0; i < 10000; i++) {
        snprintf (buf, 32, "ch%d", i);
        if (hr_cluster_owner (cluster, buf, strlen (buf), owners) == owner
            && (prev_owners == 0
                || hr_cluster_owner (cluster, buf, strlen (buf), prev_owners) == prev_owner))
            return buf;
    }
    fail_msg ("no channel found");
    return NULL;
}

static hr_cluster_t *
s_cluster (void)
{
    hr_buf_t err = HR_BUF_INIT;
    hr_cluster_t *cluster = hr_cluster_parse ("test", s_file, strlen (s_file), &err);
    assert_non_null (cluster);
    hr_buf_free (&err);
    return cluster;
}

static bool
s_may (hrb_view_sm_t *sm, hr_cluster_t *cluster, const char *ch, uint64_t now)
{
    return hrb_view_may_sequence (sm, cluster, ch, strlen (ch), now);
}

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
    //  Broker 1 is alive all the same
    assert_int_equal (hrb_view_alive (sm, 10), 3);
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
    hrb_view_destroy (&sm);
}

static void
test_heartbeat_of_an_older_view_is_not_acked (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (3, S_ALL3, S_ALL3), 0);
    s_hb (sm, 1, 2, s_view (2, S_ALL3, S_ALL3), 10);
    assert_null (s_find (HRB_VIEW_HEARTBEAT_ACK));
    hrb_view_destroy (&sm);
}

static void
test_heartbeat_not_acked_after_a_vote_for_a_later_term (void **state)
{
    //  The vote fences view 3 here: acking it now could extend an old lease
    hrb_view_sm_t *sm = s_with_view (3, 0, s_view (3, S_ALL3, S_ALL3), 0);
    s_vreq (sm, 2, 4, s_view (4, S_ALL3, S_ALL3), 10);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    s_hb (sm, 1, 3, s_view (3, S_ALL3, S_ALL3), 20);
    assert_null (s_find (HRB_VIEW_HEARTBEAT_ACK));
    hrb_view_destroy (&sm);
}

static void
test_alive_is_heard_within_the_timeout (void **state)
{
    hrb_view_sm_t *sm = s_new (3, 1, 0);
    assert_int_equal (hrb_view_alive (sm, 0), 2);
    //  Any message counts, even a vote for another term
    s_vote (sm, 0, 9, false, 100);
    s_ack (sm, 2, 0, 0, 200);
    assert_int_equal (hrb_view_alive (sm, 200), S_ALL3);
    assert_int_equal (hrb_view_alive (sm, 100 + S_TIMEOUT - 1), S_ALL3);
    assert_int_equal (hrb_view_alive (sm, 100 + S_TIMEOUT), 6);
    assert_int_equal (hrb_view_alive (sm, 200 + S_TIMEOUT), 2);
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
    s_hb (sm, 1, 2, s_view (2, S_ALL3, S_ALL3), 100 + S_TIMEOUT);
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
    s_hb (sm, 1, 2, s_view (2, 7, 4), 100 + S_TIMEOUT);
    s_hb (sm, 3, 0, s_view (0, 0, 0), 100 + S_TIMEOUT);
    s_hb (sm, 4, 0, s_view (0, 0, 0), 100 + S_TIMEOUT);
    s_vreq (sm, 1, 3, s_view (3, 0x1b, 0x1b), 100 + S_TIMEOUT);
    assert_true (s_find (HRB_VIEW_VOTE)->granted);
    hrb_view_destroy (&sm);
}

//  ---------------------------------------------------------------------
//  The candidate

//  A broker of 3 (self 0) that heard 1 and 2 from the start and campaigned
//  for the first view; returns the campaign's time.
static uint64_t
s_first_campaign (hrb_view_sm_t *sm)
{
    uint64_t at = s_tick_until_campaign (sm, 3, 0, 10000, true, s_view (0, 0, 0), 6);
    assert_int_not_equal (at, UINT64_MAX);
    return at;
}

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
    assert_true (s_out.persist);
    assert_false (s_out.installed);
    assert_int_equal (hrb_view_durable (sm)->term, 1);
    assert_int_equal (hrb_view_durable (sm)->voted_for, 0);
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
    assert_true (at >= S_TIMEOUT + S_TIMEOUT / 2 && at < 2 * S_TIMEOUT);
    const hrb_view_msg_t *req = s_find (HRB_VIEW_VOTE_REQUEST);
    assert_int_equal (req->term, 2);
    assert_int_equal (req->view.number, 2);
    assert_int_equal (req->view.members, 3);
    assert_int_equal (req->view.owners, 3);
    assert_int_equal (req->view.handoff, 0);
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
    assert_true (at >= 5010 + S_TIMEOUT / 2 && at < 5010 + S_TIMEOUT);
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
    assert_true (at >= 10 + S_TIMEOUT / 2 && at < 10 + S_TIMEOUT);
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
    assert_true (at >= S_HOLD + S_TIMEOUT / 2 && at < S_HOLD + S_TIMEOUT);
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
    assert_true (at >= 10000 + S_HOLD + S_TIMEOUT / 2);
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
    assert_true (at < 10 + S_TIMEOUT);
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
        s_hb (sm, 1, 1, s_view (1, S_ALL3, S_ALL3), now);
        s_hb_leaving (sm, 2, s_view (1, S_ALL3, S_ALL3), now);
        hrb_view_tick (sm, now, &s_out);
        if (s_find (HRB_VIEW_VOTE_REQUEST))
            at = now;
    }
    assert_true (at >= 10 + S_TIMEOUT / 2 && at < 10 + S_TIMEOUT);
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
        s_hb (sm, 1, 1, s_view (1, S_ALL3, 3), now);
        s_hb_leaving (sm, 2, s_view (1, S_ALL3, 3), now);
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
        cmocka_unit_test (test_heartbeat_of_an_older_view_is_not_acked),
        cmocka_unit_test (test_heartbeat_not_acked_after_a_vote_for_a_later_term),
        cmocka_unit_test (test_alive_is_heard_within_the_timeout),
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
        cmocka_unit_test (test_vote_denied_for_a_new_owner_that_was_not_a_member),
        cmocka_unit_test (test_vote_granted_for_a_promotion_of_a_member),
        cmocka_unit_test (test_vote_granted_for_any_owners_when_no_old_owner_is_left),
        cmocka_unit_test (test_first_view_campaign_after_one_to_four_heartbeats),
        cmocka_unit_test (test_candidate_installs_at_a_majority_and_heartbeats_at_once),
        cmocka_unit_test (test_candidate_counts_each_voter_once_and_only_grants_of_its_term),
        cmocka_unit_test (test_campaign_retried_after_a_new_delay_with_the_next_term),
        cmocka_unit_test (test_candidate_abandons_its_campaign_after_voting_for_another),
        cmocka_unit_test (test_no_campaign_without_a_majority_heard),
        cmocka_unit_test (test_election_delays_are_deterministic_per_seed),
        cmocka_unit_test (test_silent_member_is_dropped_after_the_timeout_and_a_delay),
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
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
