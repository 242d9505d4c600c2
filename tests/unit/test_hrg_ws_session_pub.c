/*  test_hrg_ws_session_pub: publishing over a WebSocket session, from
    the client's end of a socketpair (gateway/hrg_ws_session.c): a pub
    reaches the broker and is acknowledged; the broker's refusals, no
    answer in time and an event over --max-event are err with their code.
    Each runs in both encodings.  */
#include "hrg_ws_session_fixture.h"

//  --------------------------------------------------------------------
//  Publishing

static void
test_pub_reaches_the_broker_and_is_acknowledged (void **state)
{
    s_fx_t *fx = *state;
    static const uint8_t data [] = { 0x81, 0xa1, 'n', 0x01 };
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        for (int dup = 0; dup < 2; dup++) {
            s_ws_send (fx, &ws, "{\"t\":\"pub\",\"id\":7,\"ch\":\"orders\",\"type\":\"created\","
                                "\"key\":\"order-7\",\"data\":{\"n\":1}}");
            tfb_request_t request;
            s_ws_take_pub (fx, &request);
            const hr_event_t *ev = &request.req.event;
            tu_assert_span (ev->ch, ev->ch_len, "orders");
            tu_assert_span (ev->type, ev->type_len, "created");
            tu_assert_span (ev->id, ev->id_len, "order-7");
            assert_int_equal (ev->data_len, sizeof data);
            assert_memory_equal (ev->data, data, sizeof data);
            tfb_reply_ack (&fx->broker, &request, true, 9, E1, dup);
            tfb_request_free (&request);
            s_ws_expect (fx, &ws, dup? "{\"t\":\"ok\",\"id\":7,\"e\":\"" E1 "\",\"s\":9,\"dup\":true}"
                                     : "{\"t\":\"ok\",\"id\":7,\"e\":\"" E1 "\",\"s\":9,\"dup\":false}");
        }
        //  No type, no key, data null
        s_ws_send (fx, &ws, "{\"t\":\"pub\",\"id\":8,\"ch\":\"orders\",\"data\":null}");
        tfb_request_t request;
        s_ws_take_pub (fx, &request);
        assert_int_equal (request.req.event.type_len, 0);
        assert_int_equal (request.req.event.id_len, 0);
        assert_int_equal (request.req.event.data_len, 1);
        assert_int_equal (request.req.event.data [0], 0xc0);
        tfb_reply_ack (&fx->broker, &request, true, 10, E1, false);
        tfb_request_free (&request);
        s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":8,\"e\":\"" E1 "\",\"s\":10,\"dup\":false}");
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

//  The broker refuses a pub with error: the answer is err{id, code, retry}.
static void
s_pub_refused (s_fx_t *fx, s_ws_t *ws, hr_error_t error, const char *code, bool retry)
{
    s_ws_send (fx, ws, "{\"t\":\"pub\",\"id\":11,\"ch\":\"orders\",\"data\":1}");
    tfb_request_t request;
    s_ws_take_pub (fx, &request);
    tfb_reply_error (&fx->broker, &request, true, error);
    tfb_request_free (&request);
    char want [128];
    snprintf (want, sizeof want, "{\"t\":\"err\",\"id\":11,\"code\":\"%s\",\"retry\":%s}", code,
              retry? "true": "false");
    json_t *err = s_ws_expect_has (fx, ws, want);
    assert_int_equal (json_object_size (err), 5);
    assert_true (json_string_length (json_object_get (err, "msg")) > 0);
}

static void
test_pub_refused_by_the_broker_is_err_with_its_code (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_pub_refused (fx, &ws, HR_E_OVERLOADED, "rate_limited", true);
        s_pub_refused (fx, &ws, HR_E_FRAME_TOO_LARGE, "too_big", false);
        s_pub_refused (fx, &ws, HR_E_INTERNAL, "internal", true);
        s_pub_refused (fx, &ws, HR_E_BROKER_UNAVAILABLE, "unavailable", true);
        s_pub_refused (fx, &ws, HR_E_BAD_CHANNEL, "bad_request", false);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
    assert_int_equal (tw_metric (fx, fx->ids.ws_errors + 3), 2);       //  rate_limited
    assert_int_equal (tw_metric (fx, fx->ids.ws_errors + 2), 2);       //  too_big
}

static void
test_pub_without_an_answer_in_time_is_unavailable (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, "{\"t\":\"pub\",\"id\":12,\"ch\":\"orders\",\"key\":\"k1\",\"data\":1}");
        tfb_request_t request;
        s_ws_take_pub (fx, &request);
        s_ws_quiet (fx, &ws);
        hrg_link_expire (fx->worker.link, hr_mono_ms () + fx->config.broker_timeout + 1);
        s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":12,\"code\":\"unavailable\","
                                  "\"retry\":true}");
        //  The late answer is dropped: one answer per request
        tfb_reply_ack (&fx->broker, &request, true, 1, E1, false);
        tfb_request_free (&request);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_pub_over_max_event_is_too_big_without_the_broker (void **state)
{
    s_fx_t *fx = *state;
    fx->config.max_event = 256;
    char big [512];
    snprintf (big, sizeof big, "{\"t\":\"pub\",\"id\":13,\"ch\":\"orders\",\"data\":\"%0300d\"}", 0);
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_ws_send (fx, &ws, big);
        s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":13,\"code\":\"too_big\",\"retry\":false}");
        assert_false (tfb_pending (&fx->broker));
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_pub_reaches_the_broker_and_is_acknowledged,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_pub_refused_by_the_broker_is_err_with_its_code,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_pub_without_an_answer_in_time_is_unavailable,
                                         s_ws_setup, s_ws_teardown),
        cmocka_unit_test_setup_teardown (test_pub_over_max_event_is_too_big_without_the_broker,
                                         s_ws_setup, s_ws_teardown),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
