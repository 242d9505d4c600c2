/*  test_hrg_fetch: the shared history pages and the catch-up memory cap
    (gateway/hrg_fetch.c), seen through resuming SSE connections: one fetch
    shared by two connections, a waiter that disconnects, the last waiter
    gone, resumes waiting for --catchup-memory and their admission.  */
#include "hrg_catchup_fixture.h"

//  Waits until the client has seen seqs first..last, in order, once.
static void
s_expect_range (s_fx_t *fx, s_client_t *client, uint64_t first, uint64_t last)
{
    s_wait_seen (fx, client, last - first + 1);
    s_seen_t seen;
    s_parse (client, &seen);
    s_assert_range (&seen, first, last);
}

//  Two clients resuming "orders" from (E1, 0) of a channel at (E1, 5):
//  takes their fetch.
static void
s_open_two_at_zero (s_fx_t *fx, s_client_t *a, s_client_t *b, tfb_request_t *request)
{
    s_open (fx, a, E1, 0);
    s_open (fx, b, E1, 0);
    s_live_at (fx, E1, 5);
    s_take (fx, request);
}

//  Over a tiny --catchup-memory: a fetches from (E1, 0), then b, resuming
//  from (E1, 2) (nothing to share), waits for memory.
static void
s_open_second_waiting (s_fx_t *fx, s_client_t *a, s_client_t *b, tfb_request_t *request)
{
    fx->config.catchup_memory = 1024;       //  one page reservation is over it
    s_open (fx, a, E1, 0);
    s_live_at (fx, E1, 5);
    s_take (fx, request);
    assert_int_equal (request->req.since, 0);
    s_open (fx, b, E1, 2);
    assert_false (tfb_wait (s_step_pending, fx, 100));     //  b asks nothing
    assert_int_equal (tw_metric (fx, fx->ids.catchup_waiting), 1);
}

static void
test_two_resumes_from_one_position_share_one_fetch (void **state)
{
    s_fx_t *fx = *state;
    s_client_t a, b;
    tfb_request_t request;
    s_open_two_at_zero (fx, &a, &b, &request);
    assert_false (tfb_wait (s_step_pending, fx, 100));     //  one request for both
    assert_int_equal (tw_metric (fx, fx->ids.catchup_fetches), 1);
    assert_int_equal (tw_metric (fx, fx->ids.catchup_shared), 1);
    s_answer (fx, &request, E1, 5);
    s_expect_range (fx, &a, 1, 5);
    s_expect_range (fx, &b, 1, 5);
    s_close (fx, &a);
    s_close (fx, &b);
}

static void
test_a_waiter_that_disconnects_leaves_the_fetch_to_the_other (void **state)
{
    s_fx_t *fx = *state;
    s_client_t a, b;
    tfb_request_t request;
    s_open_two_at_zero (fx, &a, &b, &request);
    s_close (fx, &a);
    s_answer (fx, &request, E1, 5);
    s_expect_range (fx, &b, 1, 5);
    s_close (fx, &b);
}

static void
test_the_last_waiter_gone_cancels_the_fetch (void **state)
{
    s_fx_t *fx = *state;
    s_client_t a;
    s_open (fx, &a, E1, 0);
    s_live_at (fx, E1, 5);
    tfb_request_t request;
    s_take (fx, &request);
    assert_non_null (fx->worker.pages);
    s_close (fx, &a);
    assert_null (fx->worker.pages);         //  freed, and its request cancelled
    assert_int_equal (fx->worker.catchup_bytes, 0);
    s_answer (fx, &request, E1, 5);         //  a late reply finds nobody
    s_turn (fx);
    assert_int_equal (tw_metric (fx, fx->ids.replayed), 0);
}

static void
test_over_the_cap_a_new_resume_waits_then_goes_on (void **state)
{
    s_fx_t *fx = *state;
    s_client_t a, b;
    tfb_request_t request;
    s_open_second_waiting (fx, &a, &b, &request);
    s_answer (fx, &request, E1, 5);
    s_expect_range (fx, &a, 1, 5);
    //  a is live and its memory released: b is admitted and fetches
    assert_true (tfb_wait (s_step_pending, fx, S_WAIT_MS));
    s_take (fx, &request);
    assert_int_equal (request.req.since, 2);
    assert_int_equal (tw_metric (fx, fx->ids.catchup_waiting), 0);
    s_answer (fx, &request, E1, 5);
    s_expect_range (fx, &b, 3, 5);
    s_close (fx, &a);
    s_close (fx, &b);
}

static void
test_over_the_cap_resumes_sharing_a_page_queue_an_event_at_a_time (void **state)
{
    s_fx_t *fx = *state;
    fx->config.catchup_memory = 1024;
    s_client_t a, b;
    tfb_request_t request;
    s_open_two_at_zero (fx, &a, &b, &request);
    s_turn (fx);                            //  their retry: fields are written
    s_answer (fx, &request, E1, 5);
    hrg_link_process (fx->worker.link);     //  the page comes in; nothing written yet
    for (s_client_t *c = &a; c; c = c == &a? &b: NULL) {
        uint64_t pending = hrg_conn_pending (c->conn);
        assert_true (pending > 0 && pending < 250);     //  one event's frame
    }
    s_expect_range (fx, &a, 1, 5);          //  and on, as the sockets drain
    s_expect_range (fx, &b, 1, 5);
    s_close (fx, &a);
    s_close (fx, &b);
}

static void
test_an_admitted_resume_takes_its_page_even_over_the_cap_again (void **state)
{
    s_fx_t *fx = *state;
    s_client_t a, b, c;
    tfb_request_t request;
    s_open_second_waiting (fx, &a, &b, &request);
    s_answer (fx, &request, E1, 5);
    s_expect_range (fx, &a, 1, 5);          //  a is done: b is admitted
    assert_int_equal (tw_metric (fx, fx->ids.catchup_waiting), 0);
    s_open (fx, &c, E1, 3);                 //  takes the memory before b moves
    s_take (fx, &request);
    assert_int_equal (request.req.since, 3);
    tfb_request_t second;
    assert_true (tfb_wait (s_step_pending, fx, S_WAIT_MS));
    s_take (fx, &second);
    assert_int_equal (second.req.since, 2);  //  b, not queued again
    s_answer (fx, &request, E1, 5);
    s_answer (fx, &second, E1, 5);
    s_expect_range (fx, &b, 3, 5);
    s_expect_range (fx, &c, 4, 5);
    s_close (fx, &a);
    s_close (fx, &b);
    s_close (fx, &c);
}

static void
test_over_the_cap_resumes_ahead_of_the_channel_share_one_probe (void **state)
{
    s_fx_t *fx = *state;
    fx->config.catchup_memory = 1024;       //  one page reservation is over it
    s_client_t a, b;
    s_open (fx, &a, E1, 10);
    s_live_at (fx, E1, 5);                  //  a is ahead: the broker is asked if 10 exists
    tfb_request_t request;
    s_take (fx, &request);
    assert_int_equal (request.req.limit, 0);
    s_open (fx, &b, E1, 10);                //  the same question: shared, not queued
    s_turn (fx);                            //  its retry: field is written
    assert_int_equal (tw_metric (fx, fx->ids.catchup_waiting), 0);
    assert_int_equal (tw_metric (fx, fx->ids.catchup_shared), 1);
    assert_false (tfb_wait (s_step_pending, fx, 100));
    tfb_reply_history (&fx->broker, &request, E1, 1, 10, HR_RESET_NONE, NULL, 0);
    tfb_request_free (&request);
    for (uint64_t seq = 6; seq <= 10; seq++)
        s_feed (fx, tfb_event ("orders", E1, seq));
    uint64_t deadline = hr_mono_ms () + S_WAIT_MS;
    while (a.conn->catching || b.conn->catching) {
        assert_true (hr_mono_ms () < deadline);
        s_turn (fx);
    }
    s_close (fx, &a);
    s_close (fx, &b);
}

//  Memory freed outside a flush (a resume reaped at the end of a turn) must
//  not leave a waiter asleep until the next sweep: the loop asks first.
static void
test_a_waiter_under_the_cap_is_admittable (void **state)
{
    s_fx_t *fx = *state;
    s_client_t a, b;
    tfb_request_t request;
    assert_false (hrg_fetch_admittable (&fx->worker));     //  nobody waits
    s_open_second_waiting (fx, &a, &b, &request);
    assert_false (hrg_fetch_admittable (&fx->worker));     //  over the cap
    fx->config.catchup_memory = 1 << 20;
    assert_true (hrg_fetch_admittable (&fx->worker));
    hrg_fetch_admit (&fx->worker);
    assert_false (hrg_fetch_admittable (&fx->worker));
    assert_true (tfb_wait (s_step_pending, fx, S_WAIT_MS));  //  b fetches
    s_answer (fx, &request, E1, 5);
    s_take (fx, &request);
    s_answer (fx, &request, E1, 5);
    s_expect_range (fx, &a, 1, 5);
    s_expect_range (fx, &b, 3, 5);
    s_close (fx, &a);
    s_close (fx, &b);
}

static void
test_a_waiting_resume_that_disconnects_leaves_the_queue (void **state)
{
    s_fx_t *fx = *state;
    s_client_t a, b;
    tfb_request_t request;
    s_open_second_waiting (fx, &a, &b, &request);
    s_close (fx, &b);
    assert_int_equal (tw_metric (fx, fx->ids.catchup_waiting), 0);
    assert_true (hr_list_empty (&fx->worker.waiting));
    s_answer (fx, &request, E1, 5);
    s_expect_range (fx, &a, 1, 5);
    s_close (fx, &a);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_two_resumes_from_one_position_share_one_fetch,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_waiter_that_disconnects_leaves_the_fetch_to_the_other,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_the_last_waiter_gone_cancels_the_fetch,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_over_the_cap_a_new_resume_waits_then_goes_on,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_over_the_cap_resumes_sharing_a_page_queue_an_event_at_a_time,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_an_admitted_resume_takes_its_page_even_over_the_cap_again,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_over_the_cap_resumes_ahead_of_the_channel_share_one_probe,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_waiter_under_the_cap_is_admittable,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_waiting_resume_that_disconnects_leaves_the_queue,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
