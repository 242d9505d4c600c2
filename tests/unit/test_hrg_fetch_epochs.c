/*  test_hrg_fetch_epochs: catch-up pages answered from an epoch older than
    the one asked for (gateway/hrg_fetch.c, hrg_catchup.c; docs/protocol.md
    §1.1): such a page is stale (a broker that lags), counted, never shared
    or replayed; the resume asks again, and after HRG_STALE_RETRIES more
    stale answers the client gets an `unavailable` reset, never
    `epoch-changed`.  */
#include "hrg_catchup_fixture.h"

//  Generation 1 < 2 (view 0)
#define EA "0000000000000001aaaaaaaaaaaaaaaa"
#define EB "0000000000000002bbbbbbbbbbbbbbbb"

static void
test_a_stale_page_is_asked_again_and_never_replayed (void **state)
{
    s_fx_t *fx = *state;
    s_client_t a;
    s_open (fx, &a, EB, 0);
    s_live_at (fx, EB, 5);
    tfb_request_t request;
    s_take (fx, &request);
    assert_int_equal (request.req.event.epoch_len, strlen (EB));
    s_answer (fx, &request, EA, 9);         //  a lagging broker's EA 1..9
    assert_true (tfb_wait (s_step_pending, fx, S_WAIT_MS));
    s_take (fx, &request);                  //  asked again, a new page
    assert_int_equal (request.req.since, 0);
    assert_int_equal (tw_metric (fx, fx->ids.stale_epochs), 1);
    s_answer (fx, &request, EB, 5);
    s_wait_seen (fx, &a, 5);
    s_seen_t seen;
    s_parse (&a, &seen);
    s_assert_range (&seen, 1, 5);
    assert_int_equal (seen.resets, 0);
    s_close (fx, &a);
}

static void
test_stale_pages_past_the_retries_are_an_unavailable_reset (void **state)
{
    s_fx_t *fx = *state;
    s_client_t a;
    s_open (fx, &a, EB, 0);
    s_live_at (fx, EB, 5);
    tfb_request_t request;
    for (int i = 0; i <= HRG_STALE_RETRIES; i++) {
        assert_true (tfb_wait (s_step_pending, fx, S_WAIT_MS));
        s_take (fx, &request);
        s_answer (fx, &request, EA, 9);
    }
    s_wait_seen (fx, &a, 1);
    s_seen_t seen;
    s_parse (&a, &seen);
    assert_int_equal (seen.resets, 1);
    assert_string_equal (seen.reason, "unavailable");
    assert_int_equal (seen.count, 0);
    assert_int_equal (tw_metric (fx, fx->ids.stale_epochs), HRG_STALE_RETRIES + 1);
    assert_false (tfb_wait (s_step_pending, fx, 100));     //  asks no more
    s_close (fx, &a);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_a_stale_page_is_asked_again_and_never_replayed,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stale_pages_past_the_retries_are_an_unavailable_reset,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
