/*  test_view_follows: the view state machine (broker/hrb_view), part
    three: views that skip numbers. Every vote says the voter's base (its
    installed view, when it voted in no later term); a view follows the
    one its candidate proposed from only when every vote counted stood
    there; hrb_view_follows says when a view comes right after another.
    Parts one and two are test_view and test_view_elect.  */
#include "view_fixture.h"

//  A vote of broker from in term, granted, saying the voter's base.
static void
s_vote_base (hrb_view_sm_t *sm, int from, uint64_t term, uint64_t base, uint64_t now)
{
    s_recv (sm, (hrb_view_msg_t) { .type = HRB_VIEW_VOTE, .from = from, .to = -1,
                                   .term = term, .granted = true, .base = base }, now);
}

static void
test_a_view_after_refused_campaigns_follows_the_installed_one (void **state)
{
    //  It asks term 2 in vain, then 3: its voter was still at view 1 with
    //  no vote after it, so view 3 follows view 1 (no view 2 anywhere)
    hrb_view_t one = s_view (1, S_ALL3, S_ALL3);
    hrb_view_sm_t *sm = s_with_view (3, 0, one, 0);
    uint64_t first = s_tick_until_campaign (sm, 3, 0, 20000, true, one, 2);
    uint64_t second = s_tick_until_campaign (sm, 3, first + 10, 30000, true, one, 2);
    assert_int_equal (s_find (HRB_VIEW_VOTE_REQUEST)->term, 3);
    s_vote_base (sm, 1, 3, 1, second + 1);
    assert_true (s_out.installed);
    const hrb_view_t *three = hrb_view_installed (sm);
    assert_int_equal (three->number, 3);
    assert_int_equal (three->follows, 1);
    assert_true (hrb_view_follows (&one, three));
    //  The heartbeat carries it to the others
    assert_int_equal (s_find (HRB_VIEW_HEARTBEAT)->view.follows, 1);
    //  A broker that had installed an older view does not take it as next
    hrb_view_t zero = s_view (0, 0, 0);
    assert_false (hrb_view_follows (&zero, three));
    hrb_view_destroy (&sm);
}

static void
test_a_voter_past_the_installed_view_voids_follows (void **state)
{
    //  The voter voted in some term after view 1 (base 0), or is at another
    //  view: a view may have been installed in between, nothing is certified
    uint64_t bases [] = { 0, 2 };
    for (size_t i = 0; i < 2; i++) {
        hrb_view_t one = s_view (1, S_ALL3, S_ALL3);
        hrb_view_sm_t *sm = s_with_view (3, 0, one, 0);
        uint64_t first = s_tick_until_campaign (sm, 3, 0, 20000, true, one, 2);
        uint64_t second = s_tick_until_campaign (sm, 3, first + 10, 30000, true, one, 2);
        s_vote_base (sm, 1, 3, bases [i], second + 1);
        assert_true (s_out.installed);
        assert_int_equal (hrb_view_installed (sm)->follows, 0);
        assert_false (hrb_view_follows (&one, hrb_view_installed (sm)));
        hrb_view_destroy (&sm);
    }
    //  Numbered one more follows without a certificate
    hrb_view_t a = s_view (4, S_ALL3, S_ALL3), b = s_view (5, S_ALL3, S_ALL3);
    assert_true (hrb_view_follows (&a, &b));
}

static void
test_a_voter_reports_its_base_before_its_vote (void **state)
{
    hrb_view_sm_t *sm = s_with_view (3, 1, s_view (1, S_ALL3, S_ALL3), 0);
    s_vreq (sm, 0, 3, s_view (3, S_ALL3, S_ALL3), 10);
    const hrb_view_msg_t *vote = s_find (HRB_VIEW_VOTE);
    assert_true (vote->granted);
    assert_int_equal (vote->base, 1);
    //  Having voted in term 3 (view 1 still installed), it is no base for 4
    s_vreq (sm, 2, 4, s_view (4, S_ALL3, S_ALL3), 20);
    vote = s_find (HRB_VIEW_VOTE);
    assert_true (vote->granted);
    assert_int_equal (vote->base, 0);
    hrb_view_destroy (&sm);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_a_view_after_refused_campaigns_follows_the_installed_one),
        cmocka_unit_test (test_a_voter_past_the_installed_view_voids_follows),
        cmocka_unit_test (test_a_voter_reports_its_base_before_its_vote),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
