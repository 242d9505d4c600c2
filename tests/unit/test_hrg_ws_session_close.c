/*  test_hrg_ws_session_close: how a WebSocket session ends, from the
    client's end of a socketpair (gateway/hrg_ws.c, hrg_conn.c): bye then a
    close frame with the same code for --ws-max-rate (4004), silence (4002),
    a slow consumer (4001, after the partly written frame, or after the
    linger bound when it never reads; a stalled resume), shutdown (1001 with a random
    retry_after), a frame of the wrong kind (1003), one that cannot be read
    (1007), a message over --ws-max-message (1009); the client's own close
    echoed; heartbeats and protocol-level pings. Its messages are
    test_hrg_ws_session.c.  */
#include "hrg_ws_session_fixture.h"

//  herald_ws_closed_total's labels, as in hrg_ws_close_labels.
enum { S_1001, S_1002, S_1003, S_1007, S_1009, S_1011, S_4001, S_4002, S_4003, S_4004,
       S_4005, S_4501, S_4503 };

static int64_t
s_closes (s_fx_t *fx, int label)
{
    return tw_metric (fx, fx->ids.ws_closes + label);
}

//  --------------------------------------------------------------------
//  Limits

static void
test_over_max_rate_is_bye_then_close_4004 (void **state)
{
    s_fx_t *fx = *state;
    fx->config.ws_max_rate = 3;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        //  Each message of a batch counts: three are within the second
        s_ws_send (fx, &ws, "[{\"t\":\"ping\",\"id\":1},{\"t\":\"ping\",\"id\":2},"
                            "{\"t\":\"ping\",\"id\":3}]");
        for (int id = 1; id <= 3; id++)
            s_ws_take (fx, &ws);
        //  The fourth, and a pub in the same write: neither is handled
        hr_buf_t bytes = HR_BUF_INIT;
        const char *ping = "{\"t\":\"ping\",\"id\":4}";
        const char *pub = "{\"t\":\"pub\",\"id\":5,\"ch\":\"orders\",\"data\":1}";
        if (f == 0) {
            s_frame_str (&bytes, FIN | OP_TEXT, ping);
            s_frame_str (&bytes, FIN | OP_TEXT, pub);
        }
        else {
            static const uint8_t mp_ping [] = { 0x82, 0xa1, 't', 0xa4, 'p', 'i', 'n', 'g',
                                                0xa2, 'i', 'd', 0x04 };
            static const uint8_t mp_pub [] = { 0x84, 0xa1, 't', 0xa3, 'p', 'u', 'b', 0xa2, 'i',
                                               'd', 0x05, 0xa2, 'c', 'h', 0xa6, 'o', 'r', 'd',
                                               'e', 'r', 's', 0xa4, 'd', 'a', 't', 'a', 0x01 };
            s_frame (&bytes, FIN | OP_BIN, mp_ping, sizeof mp_ping);
            s_frame (&bytes, FIN | OP_BIN, mp_pub, sizeof mp_pub);
        }
        s_ws_write (fx, &ws, &bytes);
        hr_buf_free (&bytes);
        s_ws_expect_bye (fx, &ws, 4004);        //  and no pong
        assert_false (tfb_pending (&fx->broker));
        s_ws_close (fx, &ws);
    }
    assert_int_equal (s_closes (fx, S_4004), 2);
}

static void
test_a_message_over_max_message_is_1009 (void **state)
{
    s_fx_t *fx = *state;
    fx->config.ws_max_message = 1024;
    char big [2048];
    snprintf (big, sizeof big, "{\"t\":\"ping\",\"x\":\"%01900d\"}", 0);
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_expect_has (fx, &ws, "{\"t\":\"welcome\",\"max\":1024}");
        s_ws_send (fx, &ws, big);
        s_ws_expect_bye (fx, &ws, 1009);
        s_ws_close (fx, &ws);
    }
    assert_int_equal (s_closes (fx, S_1009), 2);
}

//  --------------------------------------------------------------------
//  Frames that cannot be read

static void
test_a_frame_of_the_wrong_kind_is_1003 (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        hr_buf_t bytes = HR_BUF_INIT;
        //  binary on herald.v1.json; text on herald.v1.msgpack
        s_frame_str (&bytes, FIN | (f? OP_TEXT: OP_BIN), "{\"t\":\"ping\"}");
        s_ws_write (fx, &ws, &bytes);
        hr_buf_free (&bytes);
        s_ws_expect_bye (fx, &ws, 1003);
        s_ws_close (fx, &ws);
    }
    assert_int_equal (s_closes (fx, S_1003), 2);
}

static void
test_a_frame_that_is_not_one_value_is_1007 (void **state)
{
    s_fx_t *fx = *state;
    //  Truncated JSON, trailing bytes after a MessagePack map, a truncated map
    static const char *const broken [] = { "{\"t\":", "\x81\xa1t\xa4ping\xc0", "\x81\xa1t" };
    static const hrg_ws_format_t formats [] = { HRG_WS_JSON, HRG_WS_MSGPACK, HRG_WS_MSGPACK };
    for (int i = 0; i < 3; i++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, formats [i]);
        s_ws_take (fx, &ws);
        s_ws_send_raw (fx, &ws, broken [i], strlen (broken [i]));
        s_ws_expect_bye (fx, &ws, 1007);
        s_ws_close (fx, &ws);
    }
    //  Invalid UTF-8, refused by the framing itself: the bye comes too
    s_ws_t ws;
    s_ws_open (fx, &ws, HRG_WS_JSON);
    s_ws_take (fx, &ws);
    s_ws_send_raw (fx, &ws, "\"\xff\"", 3);
    s_ws_expect_bye (fx, &ws, 1007);
    s_ws_close (fx, &ws);
    assert_int_equal (s_closes (fx, S_1007), 4);
}

static void
test_the_clients_close_is_echoed_without_bye (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        hr_buf_t payload = HR_BUF_INIT, bytes = HR_BUF_INIT;
        s_close_payload (&payload, 1000, "done");
        s_frame (&bytes, FIN | OP_CLOSE, payload.data, payload.size);
        s_ws_write (fx, &ws, &bytes);
        hr_buf_free (&payload);
        hr_buf_free (&bytes);
        s_ws_wait_t wait = { fx, &ws };
        assert_true (tfb_wait (s_ws_step_until_eof, &wait, S_WAIT_MS));
        assert_int_equal (ws.close_code, 1000);
        assert_int_equal (ws.taken, ws.count);          //  no bye
        s_ws_close (fx, &ws);
    }
}

//  --------------------------------------------------------------------
//  Heartbeats

static void
test_a_ping_frame_is_answered_with_a_pong_frame (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    s_ws_open (fx, &ws, HRG_WS_MSGPACK);
    s_ws_take (fx, &ws);
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame_str (&bytes, FIN | OP_PING, "are you there");
    s_ws_write (fx, &ws, &bytes);
    hr_buf_free (&bytes);
    s_ws_step (fx, &ws);
    assert_int_equal (ws.pongs.size, 13);
    assert_memory_equal (ws.pongs.data, "are you there", 13);
    s_ws_quiet (fx, &ws);
    s_ws_close (fx, &ws);
}

static void
test_silence_out_is_a_ping_and_silence_in_is_4002 (void **state)
{
    s_fx_t *fx = *state;
    fx->config.ws_heartbeat = 1000;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_expect_has (fx, &ws, "{\"t\":\"welcome\",\"hb\":1}");
        uint64_t out = ws.conn->last_frame_ms;
        //  Inbound silence counts from the same moment (a ping is due for
        //  it too), not from the open, a clock tick or more before
        ((hrg_ws_conn_t *) ws.conn)->last_in_ms = out;
        hrg_conn_sweep (&fx->worker, out + 999);
        s_ws_quiet (fx, &ws);
        hrg_conn_sweep (&fx->worker, out + 1000);
        s_ws_expect (fx, &ws, "{\"t\":\"ping\"}");
        //  The client's pong is answered by nothing, and counts as traffic
        uint64_t before = ((hrg_ws_conn_t *) ws.conn)->last_in_ms;
        s_ws_send (fx, &ws, "{\"t\":\"pong\"}");
        s_ws_quiet (fx, &ws);
        uint64_t in = ((hrg_ws_conn_t *) ws.conn)->last_in_ms;
        assert_true (in >= before);
        hrg_conn_sweep (&fx->worker, in + 1000 + 9999);
        s_ws_expect (fx, &ws, "{\"t\":\"ping\"}");       //  still open, and silent out
        s_ws_quiet (fx, &ws);
        hrg_conn_sweep (&fx->worker, in + 1000 + 10000);
        json_t *bye = s_ws_expect_bye (fx, &ws, 4002);
        assert_string_equal (json_string_value (json_object_get (bye, "why")), "no pong");
        assert_null (json_object_get (bye, "retry_after"));
        s_ws_close (fx, &ws);
    }
    assert_int_equal (s_closes (fx, S_4002), 2);
}

static void
test_a_client_that_only_receives_is_pinged_for_its_silence (void **state)
{
    s_fx_t *fx = *state;
    fx->config.ws_heartbeat = 1000;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        hrg_ws_conn_t *conn = (hrg_ws_conn_t *) ws.conn;
        uint64_t in = conn->last_in_ms;
        //  Outbound traffic all along (a busy channel), nothing inbound
        ws.conn->last_frame_ms = in + 999;
        hrg_conn_sweep (&fx->worker, in + 999);
        s_ws_quiet (fx, &ws);
        hrg_conn_sweep (&fx->worker, in + 1000);
        s_ws_expect (fx, &ws, "{\"t\":\"ping\"}");
        ws.conn->last_frame_ms = in + 1999;
        hrg_conn_sweep (&fx->worker, in + 1999);    //  one ping a beat
        s_ws_quiet (fx, &ws);
        //  It answers: no 4002 where a silent one would get it
        s_ws_send (fx, &ws, "{\"t\":\"pong\"}");
        s_ws_quiet (fx, &ws);
        ws.conn->last_frame_ms = in + 11000;
        hrg_conn_sweep (&fx->worker, conn->last_in_ms + 10999);
        s_ws_expect (fx, &ws, "{\"t\":\"ping\"}");
        assert_false (ws.conn->closing);
        s_ws_close (fx, &ws);
    }
    assert_int_equal (s_closes (fx, S_4002), 0);
}

//  --------------------------------------------------------------------
//  Slow consumers

//  Subscribes the client, shrinks the server's send buffer, and feeds
//  events without reading until the connection is closed as slow; returns
//  the last seq fed.
static uint64_t
s_fill_until_slow (s_fx_t *fx, s_ws_t *ws)
{
    fx->config.slow_consumer_bytes = 8192;
    int small = 4096;
    assert_int_equal (setsockopt (ws->conn->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    s_ws_take (fx, ws);
    s_ws_send (fx, ws, "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"}");
    s_ws_live (fx, "orders", E1, 0);
    s_ws_take (fx, ws);
    uint64_t seq = 0;
    while (seq < 20000 && !ws->conn->closing) {
        s_feed (fx, tfb_event ("orders", E1, ++seq));
        s_ws_turn (fx);                         //  the client does not read
    }
    assert_true (ws->conn->closing);
    assert_true (s_alive (fx, ws->conn));       //  it lingers, socket open
    assert_true (ws->conn->fd >= 0);
    return seq;
}

static void
test_a_slow_consumer_that_reads_again_gets_whole_frames_then_bye_4001 (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        uint64_t fed = s_fill_until_slow (fx, &ws);
        s_ws_turn (fx);
        hrg_conn_sweep (&fx->worker, hr_mono_ms ());
        assert_true (s_alive (fx, ws.conn));
        assert_true (ws.conn->fd >= 0);
        //  The client reads: the events it gets are whole and contiguous
        uint64_t next = 1;
        json_t *m;
        while (strcmp (json_string_value (json_object_get (
                   m = s_ws_take (fx, &ws)->value, "t")), "ev") == 0)
            assert_int_equal (json_integer_value (json_object_get (m, "s")), next++);
        assert_true (next > 10);
        //  What was queued behind the partly written frame was dropped, so
        //  that bye comes next: over --slow-consumer-bytes of events
        assert_true (fed - (next - 1) >= 8192 / 128);     //  ev frames are < 128 bytes
        ws.taken--;
        json_t *bye = s_ws_expect_bye (fx, &ws, 4001);
        assert_string_equal (json_string_value (json_object_get (bye, "why")), "slow consumer");
        s_ws_close (fx, &ws);
    }
    assert_int_equal (tw_metric (fx, fx->ids.slow_consumers), 2);
    assert_int_equal (s_closes (fx, S_4001), 2);
}

static void
test_a_slow_consumer_that_never_reads_is_closed_after_the_linger_bound (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_fill_until_slow (fx, &ws);
        uint64_t closed = hr_mono_ms ();
        hrg_conn_sweep (&fx->worker, closed + 1000);
        s_ws_turn (fx);
        assert_true (s_alive (fx, ws.conn));
        hrg_conn_sweep (&fx->worker, closed + 2001);
        s_ws_turn (fx);
        assert_false (s_alive (fx, ws.conn));   //  gone, its last words or not
        ws.conn = NULL;
        //  The client finds the socket closed after what was written
        char buffer [65536];
        ssize_t size;
        uint64_t deadline = hr_mono_ms () + S_WAIT_MS;
        while ((size = read (ws.peer, buffer, sizeof buffer)) != 0) {
            assert_true (size > 0 || errno == EAGAIN);
            assert_true (hr_mono_ms () < deadline);
        }
        s_ws_close (fx, &ws);
    }
    assert_int_equal (tw_metric (fx, fx->ids.slow_consumers), 2);
}

static void
test_a_stalled_resume_is_bye_4001_after_conn_timeout (void **state)
{
    s_fx_t *fx = *state;
    fx->config.conn_timeout = 5000;
    fx->config.slow_consumer_bytes = 8192;      //  a replay budget of 4 KB
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        int small = 4096;
        setsockopt (ws.conn->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":0}");
        s_ws_live (fx, "orders", E1, 600);
        //  The client does not read: the replay stops at its budget
        size_t pages = 0;
        while (tfb_wait (s_step_pending, fx, 200)) {
            tfb_request_t request;
            s_take (fx, &request);
            s_answer (fx, &request, E1, 600);
            assert_true (++pages < 50);
        }
        assert_true (ws.conn->blocked && ws.conn->catching);
        hrg_conn_sweep (&fx->worker, ws.conn->blocked_ms + 4999);
        assert_false (ws.conn->closing);
        hrg_conn_sweep (&fx->worker, ws.conn->blocked_ms + 5000);
        assert_true (ws.conn->closing);
        //  Once it reads: the ok, whole events in order, then bye 4001
        s_ws_expect_has (fx, &ws, "{\"t\":\"ok\",\"id\":1}");
        uint64_t next = 1;
        json_t *m;
        while (strcmp (json_string_value (json_object_get (
                   m = s_ws_take (fx, &ws)->value, "t")), "ev") == 0)
            assert_int_equal (json_integer_value (json_object_get (m, "s")), next++);
        ws.taken--;
        json_t *bye = s_ws_expect_bye (fx, &ws, 4001);
        assert_string_equal (json_string_value (json_object_get (bye, "why")), "stalled resume");
        s_ws_close (fx, &ws);
        assert_int_equal (fx->worker.catchup_bytes, 0);
    }
    assert_int_equal (s_closes (fx, S_4001), 2);
}

//  --------------------------------------------------------------------
//  Shutdown

static void
test_shutdown_is_bye_1001_with_a_random_retry_after (void **state)
{
    s_fx_t *fx = *state;
    enum { S_CLIENTS = 8 };
    s_ws_t ws [S_CLIENTS];
    for (int i = 0; i < S_CLIENTS; i++) {
        s_ws_open (fx, &ws [i], s_formats [i % 2]);
        s_ws_take (fx, &ws [i]);
    }
    //  Some live, one waiting for its channel, one for the broker
    s_ws_send (fx, &ws [0], "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"}");
    s_ws_send (fx, &ws [1], "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"}");
    s_ws_live (fx, "orders", E1, 0);
    s_ws_take (fx, &ws [0]);
    s_ws_take (fx, &ws [1]);
    s_ws_send (fx, &ws [2], "{\"t\":\"sub\",\"id\":1,\"ch\":\"syncing\"}");
    s_ws_send (fx, &ws [3], "{\"t\":\"pub\",\"id\":1,\"ch\":\"orders\",\"data\":1}");
    tfb_request_t request;
    s_ws_take_pub (fx, &request);
    fx->worker.stopping = true;                 //  as the loop sets it
    hrg_conn_close_all (&fx->worker, HRG_CLOSE_SHUTDOWN);
    hrg_conn_reap (&fx->worker);
    assert_true (hr_list_empty (&fx->worker.conns));
    //  The broker's late answer finds no one
    tfb_reply_ack (&fx->broker, &request, true, 1, E1, false);
    tfb_request_free (&request);
    int64_t first = -1;
    bool varied = false;
    for (int i = 0; i < S_CLIENTS; i++) {
        json_t *bye = s_ws_expect_bye (fx, &ws [i], 1001);
        assert_string_equal (json_string_value (json_object_get (bye, "why")), "shutting down");
        json_t *retry = json_object_get (bye, "retry_after");
        assert_true (json_is_integer (retry));
        int64_t ms = json_integer_value (retry);
        assert_in_range (ms, 1000, 5000);
        if (first >= 0 && ms != first)
            varied = true;
        first = ms;
        s_ws_close (fx, &ws [i]);
    }
    assert_true (varied);
    assert_int_equal (s_closes (fx, S_1001), S_CLIENTS);
    fx->worker.stopping = false;
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_over_max_rate_is_bye_then_close_4004,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_message_over_max_message_is_1009,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_frame_of_the_wrong_kind_is_1003,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_frame_that_is_not_one_value_is_1007,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_the_clients_close_is_echoed_without_bye,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_ping_frame_is_answered_with_a_pong_frame,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_silence_out_is_a_ping_and_silence_in_is_4002,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_client_that_only_receives_is_pinged_for_its_silence,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_slow_consumer_that_reads_again_gets_whole_frames_then_bye_4001,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_slow_consumer_that_never_reads_is_closed_after_the_linger_bound,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_stalled_resume_is_bye_4001_after_conn_timeout,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_shutdown_is_bye_1001_with_a_random_retry_after,
                                         s_ws_setup, s_ws_teardown),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
