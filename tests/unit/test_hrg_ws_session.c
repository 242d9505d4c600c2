/*  test_hrg_ws_session: a WebSocket session's messages, from the client's
    end of a socketpair (gateway/hrg_ws.c, hrg_ws_session.c): the 101 head
    and welcome, sub on a syncing channel, resume (history, recent ring,
    another epoch), answers in request order, a second sub, unsub, limits,
    and the publisher's bytes in a MessagePack ev. Publishing is
    test_hrg_ws_session_pub.c, how sessions end test_hrg_ws_session_close.c.
    Each runs in both encodings where they differ.  */
#include "hrg_ws_session_fixture.h"

//  --------------------------------------------------------------------
//  Opening

static void
test_open_sends_the_101_head_then_welcome (void **state)
{
    s_fx_t *fx = *state;
    fx->config.ws_heartbeat = 1500;             //  hb is whole seconds, rounded up
    char sids [2][64];
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        const char *head = ws.got.data;
        assert_memory_equal (head, "HTTP/1.1 101 Switching Protocols\r\n", 34);
        assert_non_null (strstr (head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert_non_null (strstr (head, f? "\r\nSec-WebSocket-Protocol: herald.v1.msgpack\r\n"
                                        : "\r\nSec-WebSocket-Protocol: herald.v1.json\r\n"));
        json_t *welcome = s_ws_expect_has (fx, &ws, "{\"t\":\"welcome\",\"v\":1,\"hb\":2,"
                                                    "\"max\":65536,\"auth\":\"none\"}");
        assert_int_equal (json_object_size (welcome), 6);
        const char *sid = json_string_value (json_object_get (welcome, "sid"));
        assert_non_null (sid);
        assert_true (strlen (sid) > 0 && strlen (sid) < sizeof sids [f]);
        strcpy (sids [f], sid);
        //  t comes first on the wire
        size_t len;
        const uint8_t *payload = s_ws_payload (&ws, &ws.msgs [0], &len);
        if (f == 0)
            assert_memory_equal (payload, "{\"t\":", 5);
        else
            assert_memory_equal (payload + 1, "\xa1t", 2);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
    assert_string_not_equal (sids [0], sids [1]);
}

//  --------------------------------------------------------------------
//  Subscribing

static void
test_sub_waits_for_the_channels_head_then_goes_live (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);                    //  welcome
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"}");
        s_ws_quiet (fx, &ws);                   //  syncing: no ok yet
        s_ws_live (fx, "orders", E1, 5);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":1,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":5}");
        s_ws_events (fx, "orders", E1, 6, 8);
        s_ws_expect_evs (fx, &ws, "orders", E1, 6, 8);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_sub_of_a_channel_with_no_history_is_ok_null_0_then_s_1 (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":4,\"ch\":\"orders\"}");
        s_ws_live (fx, "orders", NULL, 0);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":4,\"ch\":\"orders\",\"e\":null,\"s\":0}");
        s_ws_events (fx, "orders", E1, 1, 2);
        s_ws_expect_evs (fx, &ws, "orders", E1, 1, 2);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_sub_resuming_gets_ok_then_the_brokers_history_then_live (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":2,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":2}");
        s_ws_quiet (fx, &ws);
        s_ws_live (fx, "orders", E1, 5);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":2,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":5}");
        tfb_request_t request;
        s_take (fx, &request);
        assert_int_equal (request.req.since, 2);
        assert_true (hr_mp_str_eq (request.req.event.epoch, request.req.event.epoch_len, E1));
        s_answer (fx, &request, E1, 5);
        s_ws_expect_evs (fx, &ws, "orders", E1, 3, 5);
        s_ws_events (fx, "orders", E1, 6, 7);
        s_ws_expect_evs (fx, &ws, "orders", E1, 6, 7);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_sub_resuming_from_null_0_gets_every_event (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        //  What ok said of a channel with no history, kept across a reconnect
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":2,\"ch\":\"orders\",\"e\":null,\"s\":0}");
        s_ws_live (fx, "orders", E1, 3);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":2,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":3}");
        tfb_request_t request;
        s_take (fx, &request);
        assert_int_equal (request.req.since, 0);
        s_answer (fx, &request, E1, 3);
        s_ws_expect_evs (fx, &ws, "orders", E1, 1, 3);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_sub_resuming_from_the_recent_ring_asks_no_broker (void **state)
{
    s_fx_t *fx = *state;
    fx->config.recent_events = 256;
    for (int f = 0; f < 2; f++) {
        s_ws_t keeper, ws;
        s_ws_open (fx, &keeper, s_formats [f]);
        s_ws_take (fx, &keeper);
        s_ws_send (fx, &keeper, "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"}");
        s_ws_live (fx, "orders", E1, 0);
        s_ws_take (fx, &keeper);
        s_ws_events (fx, "orders", E1, 1, 5);
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "[{\"t\":\"sub\",\"id\":9,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":2},"
                            "{\"t\":\"ping\",\"id\":10}]");
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":9,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":5}");
        //  The replay follows its ok, in order; the pong anywhere (matched by id)
        uint64_t next = 3;
        size_t pongs = 0;
        for (int i = 0; i < 4; i++) {
            json_t *m = s_ws_take (fx, &ws)->value;
            if (strcmp (json_string_value (json_object_get (m, "t")), "pong") == 0) {
                assert_int_equal (json_integer_value (json_object_get (m, "id")), 10);
                pongs++;
            }
            else
                assert_int_equal (json_integer_value (json_object_get (m, "s")), next++);
        }
        assert_int_equal (pongs, 1);
        assert_false (tfb_pending (&fx->broker));
        s_ws_events (fx, "orders", E1, 6, 6);
        s_ws_expect_evs (fx, &ws, "orders", E1, 6, 6);
        s_ws_expect_evs (fx, &keeper, "orders", E1, 1, 6);
        s_ws_quiet (fx, &ws);
        s_ws_quiet (fx, &keeper);
        s_ws_close (fx, &ws);
        s_ws_close (fx, &keeper);
    }
}

static void
test_sub_resuming_another_epoch_is_ok_then_one_reset (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":3,\"ch\":\"orders\",\"e\":\"" E2 "\",\"s\":4}");
        s_ws_live (fx, "orders", E1, 5);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":3,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":5}");
        s_ws_expect (fx, &ws, "{\"t\":\"reset\",\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":5,"
                              "\"why\":\"epoch-changed\"}");
        s_ws_events (fx, "orders", E1, 6, 6);
        s_ws_expect_evs (fx, &ws, "orders", E1, 6, 6);
        s_ws_quiet (fx, &ws);
        assert_false (tfb_pending (&fx->broker));
        s_ws_close (fx, &ws);
    }
}

//  How the broker answers a resume's history request (NONE: it does not).
static const struct {
    hr_reset_t reset;
    const char *why;
} s_resume_resets [] = {
    { HR_RESET_CURSOR_AHEAD, "cursor-ahead" }, { HR_RESET_EXPIRED, "expired" },
    { HR_RESET_NONE, "unavailable" } };

static void
test_a_resume_that_cannot_be_served_is_ok_then_one_reset_saying_why (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++)
        for (size_t r = 0; r < sizeof s_resume_resets / sizeof s_resume_resets [0]; r++) {
            s_ws_t ws;
            s_ws_open (fx, &ws, s_formats [f]);
            s_ws_take (fx, &ws);
            s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":3,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":2}");
            s_ws_live (fx, "orders", E1, 5);
            s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":3,\"ch\":\"orders\",\"e\":\"" E1 "\","
                                  "\"s\":5}");
            tfb_request_t request;
            s_take (fx, &request);
            if (s_resume_resets [r].reset)
                tfb_reply_history (&fx->broker, &request, E1, 3, 5, s_resume_resets [r].reset,
                                   NULL, 0);
            else
                hrg_link_expire (fx->worker.link, hr_mono_ms () + 60000);
            tfb_request_free (&request);
            char want [128];
            snprintf (want, sizeof want, "{\"t\":\"reset\",\"ch\":\"orders\",\"e\":\"" E1 "\","
                      "\"s\":5,\"why\":\"%s\"}", s_resume_resets [r].why);
            s_ws_expect (fx, &ws, want);
            s_ws_events (fx, "orders", E1, 6, 6);
            s_ws_expect_evs (fx, &ws, "orders", E1, 6, 6);
            s_ws_quiet (fx, &ws);
            s_ws_close (fx, &ws);
        }
}

static void
test_a_resume_of_a_channel_the_broker_does_not_have_is_unknown_channel (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":3,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":2}");
        s_ws_live (fx, "orders", NULL, 0);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":3,\"ch\":\"orders\",\"e\":null,\"s\":0}");
        s_ws_expect (fx, &ws, "{\"t\":\"reset\",\"ch\":\"orders\",\"e\":null,\"s\":0,"
                              "\"why\":\"unknown-channel\"}");
        s_ws_events (fx, "orders", E1, 1, 1);
        s_ws_expect_evs (fx, &ws, "orders", E1, 1, 1);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_a_new_epoch_on_a_live_sub_is_a_reset_before_its_first_event (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"}");
        s_ws_live (fx, "orders", E1, 5);
        s_ws_take (fx, &ws);
        s_ws_events (fx, "orders", E2, 1, 2);       //  the broker restarted
        s_ws_expect (fx, &ws, "{\"t\":\"reset\",\"ch\":\"orders\",\"e\":\"" E2 "\",\"s\":0,"
                              "\"why\":\"epoch-changed\"}");
        s_ws_expect_evs (fx, &ws, "orders", E2, 1, 2);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

//  Opens ws in format, subscribed (id 1) to "orders", live at 5 and
//  delivered event 6: its group has just written.
static void
s_ws_live_at_6 (s_fx_t *fx, s_ws_t *ws, hrg_ws_format_t format)
{
    s_ws_open (fx, ws, format);
    s_ws_take (fx, ws);
    s_ws_send (fx, ws, "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"}");
    s_ws_live (fx, "orders", E1, 5);
    s_ws_take (fx, ws);
    s_ws_events (fx, "orders", E1, 6, 6);
    s_ws_expect_evs (fx, ws, "orders", E1, 6, 6);
}

static void
test_a_second_sub_is_answered_again_and_keeps_one_stream (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_live_at_6 (fx, &ws, s_formats [f]);
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":2,\"ch\":\"orders\"}");
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":2,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":6}");
        assert_int_equal (((hrg_ws_conn_t *) ws.conn)->streams.count, 1);
        s_ws_events (fx, "orders", E1, 7, 8);
        s_ws_expect_evs (fx, &ws, "orders", E1, 7, 8);    //  once each
        s_ws_quiet (fx, &ws);
        //  unsub of a channel it does not have: ok all the same
        s_ws_send (fx, &ws, "{\"t\":\"unsub\",\"id\":3,\"ch\":\"other\"}");
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":3}");
        s_ws_close (fx, &ws);
    }
}

//  The ok of a second sub carries the channel's position: the events up
//  to it go first, even while the channel's group waits to be written.
static void
test_a_second_subs_ok_follows_the_events_it_counts (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_live_at_6 (fx, &ws, s_formats [f]);
        fx->config.write_interval = 60000;  //  the group just wrote: 7 and 8 wait
        s_ws_events (fx, "orders", E1, 7, 8);
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":2,\"ch\":\"orders\"}");
        s_ws_expect_evs (fx, &ws, "orders", E1, 7, 8);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":2,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":8}");
        fx->config.write_interval = 0;
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

//  --------------------------------------------------------------------
//  Answers in request order

static void
test_a_pong_waits_for_the_ok_of_a_syncing_sub (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "[{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"},{\"t\":\"ping\",\"id\":2}]");
        s_ws_quiet (fx, &ws);
        s_ws_live (fx, "orders", E1, 5);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":1,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":5}");
        s_ws_expect (fx, &ws, "{\"t\":\"pong\",\"id\":2}");
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_a_pong_waits_for_the_brokers_answer_to_a_pub (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "[{\"t\":\"pub\",\"id\":3,\"ch\":\"orders\",\"data\":1},"
                            "{\"t\":\"ping\",\"id\":4},{\"t\":\"ping\"}]");
        tfb_request_t request;
        s_ws_take_pub (fx, &request);
        s_ws_quiet (fx, &ws);
        tfb_reply_ack (&fx->broker, &request, true, 6, E1, false);
        tfb_request_free (&request);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":3,\"e\":\"" E1 "\",\"s\":6,\"dup\":false}");
        s_ws_expect (fx, &ws, "{\"t\":\"pong\",\"id\":4}");
        s_ws_expect (fx, &ws, "{\"t\":\"pong\"}");
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_unsub_before_the_channel_synced_answers_both_and_no_ev_follows (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":5,\"ch\":\"orders\"}");
        s_ws_send (fx, &ws, "{\"t\":\"unsub\",\"id\":6,\"ch\":\"orders\"}");
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":5,\"ch\":\"orders\",\"e\":null,\"s\":0}");
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":6}");
        assert_int_equal (((hrg_ws_conn_t *) ws.conn)->streams.count, 0);
        assert_int_equal (zhashx_size (fx->worker.channels), 0);      //  released
        s_ws_live (fx, "orders", E1, 5);
        s_ws_events (fx, "orders", E1, 6, 7);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_unsub_of_a_live_channel_stops_its_events (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"}");
        s_ws_live (fx, "orders", E1, 0);
        s_ws_take (fx, &ws);
        s_ws_events (fx, "orders", E1, 1, 1);
        s_ws_expect_evs (fx, &ws, "orders", E1, 1, 1);
        s_ws_send (fx, &ws, "{\"t\":\"unsub\",\"id\":2,\"ch\":\"orders\"}");
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":2}");
        assert_int_equal (zhashx_size (fx->worker.groups), 0);
        assert_int_equal (zhashx_size (fx->worker.channels), 0);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

//  A repeat sub while the channel syncs is answered after the first ok,
//  at the position the channel has then (not the unknown one it had).
static void
test_a_second_sub_while_syncing_is_answered_with_the_synced_position (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "[{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"},"
                            "{\"t\":\"sub\",\"id\":2,\"ch\":\"orders\"}]");
        s_ws_quiet (fx, &ws);
        s_ws_live (fx, "orders", E1, 5);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":1,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":5}");
        //  The channel's position when the answer goes out: it has history
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":2,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":5}");
        s_ws_events (fx, "orders", E1, 6, 6);
        s_ws_expect_evs (fx, &ws, "orders", E1, 6, 6);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_a_resume_behind_a_pub_replays_after_its_ok (void **state)
{
    s_fx_t *fx = *state;
    fx->config.recent_events = 256;
    for (int f = 0; f < 2; f++) {
        s_ws_t keeper, ws;
        s_ws_open (fx, &keeper, s_formats [f]);
        s_ws_take (fx, &keeper);
        s_ws_send (fx, &keeper, "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"}");
        s_ws_live (fx, "orders", E1, 0);
        s_ws_take (fx, &keeper);
        s_ws_events (fx, "orders", E1, 1, 3);
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "[{\"t\":\"pub\",\"id\":1,\"ch\":\"x\",\"data\":0},"
                            "{\"t\":\"sub\",\"id\":2,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":1}]");
        tfb_request_t request;
        s_ws_take_pub (fx, &request);
        //  Events go on while the pub waits: none reaches the client yet
        s_ws_events (fx, "orders", E1, 4, 5);
        s_ws_quiet (fx, &ws);
        tfb_reply_ack (&fx->broker, &request, true, 1, E2, false);
        tfb_request_free (&request);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":1,\"e\":\"" E2 "\",\"s\":1,\"dup\":false}");
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":2,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":5}");
        s_ws_expect_evs (fx, &ws, "orders", E1, 2, 5);
        s_ws_events (fx, "orders", E1, 6, 6);
        s_ws_expect_evs (fx, &ws, "orders", E1, 6, 6);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
        s_ws_close (fx, &keeper);
    }
}

static void
test_msgpack_ev_data_is_the_publishers_bytes (void **state)
{
    s_fx_t *fx = *state;
    //  {"f": float32 1.5, "b": bin 00 01 02}: a float32 and a bin JSON has not
    static const uint8_t data [] = { 0x82, 0xa1, 'f', 0xca, 0x3f, 0xc0, 0x00, 0x00,
                                     0xa1, 'b', 0xc4, 0x03, 0x00, 0x01, 0x02 };
    s_ws_t mp, js;
    s_ws_open (fx, &mp, HRG_WS_MSGPACK);
    s_ws_open (fx, &js, HRG_WS_JSON);
    s_ws_take (fx, &mp);
    s_ws_take (fx, &js);
    s_ws_send (fx, &mp, "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"}");
    s_ws_send (fx, &js, "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"}");
    s_ws_live (fx, "orders", E1, 0);
    s_ws_take (fx, &mp);
    s_ws_take (fx, &js);
    tu_map (4);
    tu_kstr ("t", "pub");
    tu_kuint ("id", 2);
    tu_kstr ("ch", "orders");
    tu_kraw ("data", data, sizeof data);
    s_ws_send_raw (fx, &mp, tu_frame.data, tu_frame.size);
    tfb_request_t request;
    s_ws_take_pub (fx, &request);
    assert_int_equal (request.req.event.data_len, sizeof data);
    assert_memory_equal (request.req.event.data, data, sizeof data);
    tfb_reply_ack (&fx->broker, &request, true, 1, E1, false);
    tfb_request_free (&request);
    s_ws_expect (fx, &mp, "{\"t\":\"ok\",\"id\":2,\"e\":\"" E1 "\",\"s\":1,\"dup\":false}");
    //  The broker streams the event as published
    hr_event_t ev = tfb_event ("orders", E1, 1);
    ev.data = data;
    ev.data_len = sizeof data;
    s_feed (fx, ev);
    s_ws_turn (fx);
    s_msg_t *m = s_ws_take (fx, &mp);
    assert_string_equal (json_string_value (json_object_get (m->value, "t")), "ev");
    assert_int_equal (json_integer_value (json_object_get (m->value, "s")), 1);
    size_t len;
    const uint8_t *payload = s_ws_payload (&mp, m, &len);
    const uint8_t *start = NULL;
    size_t size = 0;
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, payload, len);
    hr_mp_item_t item;
    assert_int_equal (hr_mp_read (&reader, &item), HR_OK);
    assert_int_equal (item.kind, HR_MP_MAP);
    for (uint32_t i = 0; i < item.count; i++) {
        const char *key;
        size_t key_len;
        assert_int_equal (hr_mp_read_str (&reader, &key, &key_len), HR_OK);
        const uint8_t *value;
        size_t value_len;
        assert_int_equal (hr_mp_skip (&reader, 64, &value, &value_len), HR_OK);
        if (hr_mp_str_eq (key, key_len, "data")) {
            start = value;
            size = value_len;
        }
    }
    assert_int_equal (size, sizeof data);
    assert_memory_equal (start, data, sizeof data);
    //  JSON renders it: the float, the bin as base64
    s_ws_expect (fx, &js, "{\"t\":\"ev\",\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":1,\"ts\":1,"
                          "\"data\":{\"f\":1.5,\"b\":\"AAEC\"}}");
    s_ws_quiet (fx, &mp);
    s_ws_quiet (fx, &js);
    s_ws_close (fx, &mp);
    s_ws_close (fx, &js);
}

//  --------------------------------------------------------------------
//  Refusals that keep the connection

static void
test_refused_requests_are_err_and_the_connection_stays (void **state)
{
    s_fx_t *fx = *state;
    fx->config.ws_max_subscriptions = 2;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "[{\"t\":\"sub\",\"id\":1,\"ch\":\"a\"},{\"t\":\"sub\",\"id\":2,\"ch\":\"b\"},"
                            "{\"t\":\"sub\",\"id\":3,\"ch\":\"c\"}]");
        s_ws_quiet (fx, &ws);                   //  the err waits for the oks before it
        s_ws_live (fx, "a", E1, 1);
        s_ws_live (fx, "b", E1, 2);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":1,\"ch\":\"a\",\"e\":\"" E1 "\",\"s\":1}");
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":2,\"ch\":\"b\",\"e\":\"" E1 "\",\"s\":2}");
        s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":3,\"code\":\"limit\",\"retry\":false}");
        assert_null (zhashx_lookup (fx->worker.channels, "c"));
        s_ws_send (fx, &ws, "[{\"t\":\"auth\",\"id\":4,\"token\":\"x\"},"
                            "{\"t\":\"refresh\",\"id\":5,\"token\":\"x\"},"
                            "{\"t\":\"nope\",\"id\":6},{\"t\":\"sub\",\"id\":7},"
                            "{\"t\":\"pub\",\"id\":8,\"ch\":\"a b\",\"data\":1},"
                            "7,{\"t\":\"ping\",\"id\":9}]");
        for (int id = 4; id <= 8; id++) {
            char want [96];
            snprintf (want, sizeof want, "{\"t\":\"err\",\"id\":%d,\"code\":\"bad_request\","
                                         "\"retry\":false}", id);
            s_ws_expect_has (fx, &ws, want);
        }
        json_t *err = s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"code\":\"bad_request\"}");
        assert_null (json_object_get (err, "id"));
        s_ws_expect (fx, &ws, "{\"t\":\"pong\",\"id\":9}");
        //  An empty batch, and a batch of 65
        s_ws_send (fx, &ws, "[]");
        s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"code\":\"bad_request\"}");
        hr_buf_t batch = HR_BUF_INIT;
        hr_buf_puts (&batch, "[");
        for (int i = 0; i < 65; i++)
            hr_buf_puts (&batch, i? ",{\"t\":\"ping\"}": "{\"t\":\"ping\"}");
        hr_buf_puts (&batch, "]");
        hr_buf_putc (&batch, 0);
        s_ws_send (fx, &ws, batch.data);
        hr_buf_free (&batch);
        s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"code\":\"limit\"}");
        s_ws_quiet (fx, &ws);
        assert_non_null (ws.conn);
        assert_false (ws.conn->closing);
        s_ws_close (fx, &ws);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_open_sends_the_101_head_then_welcome,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_sub_waits_for_the_channels_head_then_goes_live,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_sub_of_a_channel_with_no_history_is_ok_null_0_then_s_1,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_sub_resuming_gets_ok_then_the_brokers_history_then_live,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_sub_resuming_from_null_0_gets_every_event,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_sub_resuming_from_the_recent_ring_asks_no_broker,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_sub_resuming_another_epoch_is_ok_then_one_reset,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_resume_that_cannot_be_served_is_ok_then_one_reset_saying_why,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_resume_of_a_channel_the_broker_does_not_have_is_unknown_channel,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_new_epoch_on_a_live_sub_is_a_reset_before_its_first_event,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_second_sub_is_answered_again_and_keeps_one_stream,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_second_subs_ok_follows_the_events_it_counts,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_second_sub_while_syncing_is_answered_with_the_synced_position,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_resume_behind_a_pub_replays_after_its_ok,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_pong_waits_for_the_ok_of_a_syncing_sub,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_a_pong_waits_for_the_brokers_answer_to_a_pub,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_unsub_before_the_channel_synced_answers_both_and_no_ev_follows,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_unsub_of_a_live_channel_stops_its_events,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_msgpack_ev_data_is_the_publishers_bytes,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_refused_requests_are_err_and_the_connection_stays,
                                         s_ws_setup, s_ws_teardown),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
