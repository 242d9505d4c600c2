/*  test_hrg_catchup: a resuming SSE connection's catch-up
    (gateway/hrg_catchup.c): replay from the recent ring, from a broker
    fetch, a fetch of another epoch, a broker timeout or error, expired
    history, paging under the per-connection budget, one page at a time
    over several channels, stalled and slow readers. The shared pages and
    the --catchup-memory cap are in test_hrg_fetch.c.  */
#include "hrg_catchup_fixture.h"

//  --------------------------------------------------------------------
//  Sources of the replay

static void
test_replay_from_the_recent_ring (void **state)
{
    s_fx_t *fx = *state;
    fx->config.recent_events = 256;
    s_client_t keeper, client;
    s_open (fx, &keeper, "", 0);            //  keeps the channel, and its ring
    s_live_at (fx, E1, 0);
    for (uint64_t seq = 1; seq <= 5; seq++)
        s_feed (fx, tfb_event ("orders", E1, seq));
    s_open (fx, &client, E1, 2);
    s_turn (fx);
    s_read (&client);
    s_seen_t seen;
    s_parse (&client, &seen);
    s_assert_range (&seen, 3, 5);
    assert_int_equal (client.conn->catching, 0);      //  live   //  level: live
    assert_false (tfb_pending (&fx->broker));
    assert_int_equal (tw_metric (fx, fx->ids.catchup_fetches), 0);
    s_close (fx, &client);
    s_close (fx, &keeper);
}

static void
test_replay_from_a_broker_fetch (void **state)
{
    s_fx_t *fx = *state;
    s_client_t client;
    s_open (fx, &client, E1, 0);
    s_live_at (fx, E1, 5);
    tfb_request_t request;
    s_take (fx, &request);
    assert_int_equal (request.req.since, 0);
    assert_true (hr_mp_str_eq (request.req.event.epoch, request.req.event.epoch_len, E1));
    s_answer (fx, &request, E1, 5);
    s_wait_seen (fx, &client, 5);
    s_seen_t seen;
    s_parse (&client, &seen);
    s_assert_range (&seen, 1, 5);
    assert_int_equal (seen.resets, 0);
    assert_int_equal (client.conn->catching, 0);      //  live
    assert_int_equal (tw_metric (fx, fx->ids.replayed), 5);
    s_close (fx, &client);
}

//  --------------------------------------------------------------------
//  Resets

//  Opens a client at (E1, 0) of a channel live at (E1, 5) and answers its
//  fetch with fn; returns what it saw once it has a reset.
static void
s_fetch_then_reset (s_fx_t *fx, void (*answer) (s_fx_t *fx, tfb_request_t *request),
                    const char *reason)
{
    s_client_t client;
    s_open (fx, &client, E1, 0);
    s_live_at (fx, E1, 5);
    tfb_request_t request;
    s_take (fx, &request);
    answer (fx, &request);
    s_wait_seen (fx, &client, 1);
    s_seen_t seen;
    s_parse (&client, &seen);
    assert_int_equal (seen.count, 0);
    assert_int_equal (seen.resets, 1);
    assert_string_equal (seen.reason, reason);
    assert_int_equal (client.conn->catching, 0);      //  live   //  live from the channel's position
    s_close (fx, &client);
}

static void
s_answer_other_epoch (s_fx_t *fx, tfb_request_t *request)
{
    s_answer (fx, request, E2, 5);
}

static void
test_a_fetch_of_another_epoch_is_a_reset (void **state)
{
    s_fetch_then_reset (*state, s_answer_other_epoch, "epoch-changed");
}

static void
s_answer_expired (s_fx_t *fx, tfb_request_t *request)
{
    tfb_reply_history (&fx->broker, request, E1, 3, 5, HR_RESET_EXPIRED, NULL, 0);
    tfb_request_free (request);
}

static void
test_expired_history_is_a_reset (void **state)
{
    s_fetch_then_reset (*state, s_answer_expired, "expired");
}

static void
s_answer_with_a_hole (s_fx_t *fx, tfb_request_t *request)
{
    hr_event_t events [] = { tfb_event ("orders", E1, 3), tfb_event ("orders", E1, 4) };
    tfb_reply_history (&fx->broker, request, E1, 3, 5, HR_RESET_NONE, events, 2);
    tfb_request_free (request);
}

static void
test_a_history_that_skips_the_next_seq_is_expired (void **state)
{
    s_fetch_then_reset (*state, s_answer_with_a_hole, "expired");
}

static void
s_answer_nothing (s_fx_t *fx, tfb_request_t *request)
{
    //  The broker never answers: the link's deadline passes
    tfb_request_free (request);
    hrg_link_expire (fx->worker.link, hr_mono_ms () + 60000);
}

static void
test_a_broker_timeout_during_resume_is_an_unavailable_reset (void **state)
{
    s_fetch_then_reset (*state, s_answer_nothing, "unavailable");
}

static void
s_answer_error (s_fx_t *fx, tfb_request_t *request)
{
    tfb_reply_error (&fx->broker, request, true, HR_E_BROKER_UNAVAILABLE);
    tfb_request_free (request);
}

static void
test_a_broker_error_during_resume_is_an_unavailable_reset (void **state)
{
    s_fetch_then_reset (*state, s_answer_error, "unavailable");
}

//  --------------------------------------------------------------------
//  Bounds

//  Serves pages to a client that does not read until the gateway stops
//  asking (its budget is queued and its socket full).
static void
s_fill_until_blocked (s_fx_t *fx, s_client_t *client, uint64_t head)
{
    size_t pages = 0;
    while (tfb_wait (s_step_pending, fx, 200)) {
        tfb_request_t request;
        s_take (fx, &request);
        s_answer (fx, &request, E1, head);
        assert_true (++pages < 50);
    }
    assert_true (client->conn->blocked);
}

static void
test_replay_is_paged_under_the_budget (void **state)
{
    s_fx_t *fx = *state;
    fx->config.slow_consumer_bytes = 8192;
    uint64_t budget = hrg_fetch_budget (&fx->worker), head = 600;
    s_client_t client;
    s_open (fx, &client, E1, 0);
    s_live_at (fx, E1, head);
    //  The client does not read: the gateway must stop asking for pages
    s_fill_until_blocked (fx, &client, head);
    uint64_t pending = hrg_conn_pending (client.conn);
    assert_true (pending > 0);
    assert_true (pending < budget + 512);       //  the budget and at most one more event
    assert_int_equal (fx->worker.catchup_bytes, tw_metric (fx, fx->ids.catchup_bytes));
    assert_true (fx->worker.catchup_bytes < 2 * budget + 4096);
    s_read (&client);
    s_seen_t seen;
    s_parse (&client, &seen);
    assert_true (seen.count < head / 2);
    //  Now it reads: the rest comes, in order, once
    uint64_t deadline = hr_mono_ms () + 10 * S_WAIT_MS;
    while (client.conn->catching) {
        assert_true (hr_mono_ms () < deadline);
        s_read (&client);
        hrg_conn_on_socket (client.conn, EPOLLOUT);
        s_turn (fx);
        tfb_request_t request;
        if (tfb_recv (&fx->broker, &request, 1))
            s_answer (fx, &request, E1, head);
    }
    s_read (&client);
    hrg_conn_flush (client.conn);
    s_read (&client);
    s_parse (&client, &seen);
    s_assert_range (&seen, 1, head);
    s_close (fx, &client);
}

//  Answers a history request of any channel from a history 1..head of E1.
static void
s_answer_channel (s_fx_t *fx, tfb_request_t *request, uint64_t head)
{
    static hr_event_t events [HR_HISTORY_LIMIT_MAX];
    char ch [HR_CHANNEL_MAX + 1];
    snprintf (ch, sizeof ch, "%.*s", (int) request->req.event.ch_len, request->req.event.ch);
    uint64_t since = request->req.since, count = 0;
    for (uint64_t seq = since + 1; seq <= head && count < request->req.limit; seq++)
        events [count++] = tfb_event (ch, E1, seq);
    tfb_reply_history (&fx->broker, request, E1, 1, head, HR_RESET_NONE, events, count);
    tfb_request_free (request);
}

static void
test_a_multi_channel_resume_that_does_not_read_holds_one_page (void **state)
{
    s_fx_t *fx = *state;
    fx->config.slow_consumer_bytes = 8192;
    uint64_t budget = hrg_fetch_budget (&fx->worker), head = 300;
    const char *names [] = { "c1", "c2", "c3", "c4" };
    int sv [2];
    assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    int small = 4096;
    setsockopt (sv [0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    hr_position_t *positions = hr_calloc (4, sizeof *positions);
    for (size_t i = 0; i < 4; i++) {
        positions [i].epoch_len = strlen (E1);
        memcpy (positions [i].epoch, E1, positions [i].epoch_len + 1);
    }
    s_client_t client = { .peer = sv [1] };
    client.conn = hrg_sse_open (&fx->worker, sv [0], hr_chanset_new (names, 4), positions, false);
    hrg_sse_start (client.conn);
    for (size_t i = 0; i < 4; i++)
        s_feed (fx, tfb_head_marker (names [i], E1, head));
    //  The client does not read: one page at a time, whatever its channels
    size_t pages = 0;
    while (tfb_wait (s_step_pending, fx, 200)) {
        tfb_request_t request;
        s_take (fx, &request);
        s_answer_channel (fx, &request, head);
        assert_true (++pages < 50);
    }
    assert_true (client.conn->blocked);
    assert_true (fx->worker.pages == NULL || zhashx_size (fx->worker.pages) <= 1);
    assert_true (fx->worker.catchup_bytes < 2 * budget + 4096);
    //  Now it reads: every channel's events come, once
    uint64_t deadline = hr_mono_ms () + 10 * S_WAIT_MS;
    while (client.conn->catching) {
        assert_true (hr_mono_ms () < deadline);
        s_read (&client);
        hrg_conn_on_socket (client.conn, EPOLLOUT);
        s_turn (fx);
        tfb_request_t request;
        if (tfb_recv (&fx->broker, &request, 1))
            s_answer_channel (fx, &request, head);
    }
    s_read (&client);
    hrg_conn_flush (client.conn);
    s_read (&client);
    s_seen_t seen;
    s_parse (&client, &seen);
    assert_int_equal (seen.count, 4 * head);
    assert_int_equal (seen.resets, 0);
    s_close (fx, &client);
}

static void
test_a_stalled_resume_is_closed_after_conn_timeout (void **state)
{
    s_fx_t *fx = *state;
    fx->config.slow_consumer_bytes = 8192;
    fx->config.conn_timeout = 5000;
    s_client_t client;
    s_open (fx, &client, E1, 0);
    s_live_at (fx, E1, 600);
    s_fill_until_blocked (fx, &client, 600);
    hrg_conn_sweep (&fx->worker, hr_mono_ms ());
    assert_false (client.conn->closing);        //  not yet
    hrg_conn_sweep (&fx->worker, hr_mono_ms () + 5000);
    assert_true (client.conn->closing);
    assert_int_equal (tw_metric (fx, fx->ids.slow_consumers), 1);
    client.conn = NULL;
    s_close (fx, &client);
    assert_int_equal (fx->worker.catchup_bytes, 0);
}

static void
test_a_slow_resume_that_keeps_reading_is_not_closed_as_stalled (void **state)
{
    s_fx_t *fx = *state;
    fx->config.slow_consumer_bytes = 8192;
    fx->config.conn_timeout = 5000;
    s_client_t client;
    s_open (fx, &client, E1, 0);
    s_live_at (fx, E1, 600);
    s_fill_until_blocked (fx, &client, 600);
    //  At least 200 ms after the socket first refused bytes, the client
    //  reads a little: the socket takes bytes again, though not all of them
    uint64_t progress_ms = hr_mono_ms ();
    uint64_t taken = client.conn->written;
    while (client.conn->written == taken) {
        char buffer [256];
        assert_true (read (client.peer, buffer, sizeof buffer) > 0);
        hrg_conn_on_socket (client.conn, EPOLLOUT);
    }
    assert_true (client.conn->blocked);
    hrg_conn_sweep (&fx->worker, progress_ms + 4999);
    assert_false (client.conn->closing);        //  it took bytes within --conn-timeout
    s_close (fx, &client);
}

static void
test_a_client_that_stops_reading_is_closed_at_the_refused_write (void **state)
{
    s_fx_t *fx = *state;
    fx->config.slow_consumer_bytes = 4096;
    fx->config.write_interval = 0;
    s_client_t client;
    s_open (fx, &client, E1, 0);
    s_live_at (fx, E1, 0);
    s_turn (fx);
    assert_int_equal (client.conn->catching, 0);      //  live
    for (uint64_t seq = 1; seq <= 1000 && !client.conn->closing; seq++) {
        s_feed (fx, tfb_event ("orders", E1, seq));
        hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    }
    assert_true (client.conn->closing);         //  without waiting for the sweep
    assert_int_equal (tw_metric (fx, fx->ids.slow_consumers), 1);
    client.conn = NULL;
    s_close (fx, &client);
}

static void
test_an_idle_live_stream_gets_a_heartbeat_after_the_interval (void **state)
{
    s_fx_t *fx = *state;
    fx->config.heartbeat = 1000;
    s_client_t client;
    s_open (fx, &client, E1, 0);
    s_live_at (fx, E1, 0);
    s_turn (fx);
    assert_int_equal (client.conn->catching, 0);
    s_read (&client);
    size_t before = client.got.size;
    uint64_t last = client.conn->last_frame_ms;
    hrg_conn_sweep (&fx->worker, last + 999);
    s_turn (fx);
    s_read (&client);
    assert_int_equal (client.got.size, before);
    hrg_conn_sweep (&fx->worker, last + 1000);
    s_turn (fx);
    s_read (&client);
    assert_int_equal (client.got.size, before + 3);
    assert_memory_equal (client.got.data + before, ":\n\n", 3);
    s_close (fx, &client);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_replay_from_the_recent_ring,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_replay_from_a_broker_fetch,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_fetch_of_another_epoch_is_a_reset,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_expired_history_is_a_reset,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_history_that_skips_the_next_seq_is_expired,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_broker_timeout_during_resume_is_an_unavailable_reset,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_broker_error_during_resume_is_an_unavailable_reset,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_replay_is_paged_under_the_budget,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_multi_channel_resume_that_does_not_read_holds_one_page,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_stalled_resume_is_closed_after_conn_timeout,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_slow_resume_that_keeps_reading_is_not_closed_as_stalled,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_client_that_stops_reading_is_closed_at_the_refused_write,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_an_idle_live_stream_gets_a_heartbeat_after_the_interval,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
