/*  test_hrg_ws_auth: tokens on a WebSocket (gateway/hrg_ws_auth.c, the
    token parts of hrg_ws.c and hrg_conn.c; docs/protocol.md §11), from the
    client's end of a socketpair: welcome.auth, auth and its refusals (err
    unauthorized or token_expired, close 4501 or 4503), grants on sub and
    pub, refresh (ok, forbidden for another sub, unauthorized and still
    open, unsub of what it no longer grants), refresh{in} before exp, close
    4003 at exp + --token-grace, 4503 on revocation, and 4005 when no auth
    came in time (never with public channels).

    Time is not waited for: tokens expire relative to the wall clock, and
    sweeps are called with the monotonic time the test chooses.  */
#include "hrg_ws_session_fixture.h"
#include "hrg_auth_fixture.h"
#include "hrg_conn.h"


//  The session fixture's worker with token keys and public channels.
static void
s_auth_setup_with (void **state, const char *public_channels)
{
    s_ws_setup (state);
    s_fx_t *fx = *state;
    fx->config.token_keys = s_keys.path;
    fx->config.public_channels = public_channels;
    fx->worker.auth = ta_auth_new (&fx->config);
}

static int
s_auth_setup (void **state)
{
    s_auth_setup_with (state, "");
    return 0;
}

static int
s_public_setup (void **state)
{
    s_auth_setup_with (state, "news");
    return 0;
}

static int
s_auth_teardown (void **state)
{
    s_fx_t *fx = *state;
    hrg_auth_t *auth = fx->worker.auth;
    int rc = s_ws_teardown (state);
    hrg_auth_destroy (&auth);
    return rc;
}

//  Claims for sub until exp reading "orders" and "other", publishing "mine".
static hr_claims_t *
s_claims (s_fx_t *fx, const char *sub, int64_t exp)
{
    return ta_claims (&s_keys, fx->worker.auth, sub, exp, "",
                      "[\"orders\",\"other\"]", "[\"mine\"]");
}

//  Sends {t: type, id, token} with a token minted for sub until exp with
//  the grants given (JSON arrays, NULL: none).
static void
s_send_token (s_fx_t *fx, s_ws_t *ws, const char *type, uint32_t id, const char *sub,
              int64_t exp, const char *subscribe, const char *publish)
{
    hr_buf_t token = HR_BUF_INIT, text = HR_BUF_INIT;
    ta_mint (&s_keys, &token, sub, exp, "", subscribe, publish);
    hr_buf_printf (&text, "{\"t\":\"%s\",\"id\":%u,\"token\":\"%s\"}", type, id, token.data);
    hr_buf_putc (&text, 0);
    s_ws_send (fx, ws, text.data);
    hr_buf_free (&token);
    hr_buf_free (&text);
}

//  Sends {t: type, id, token} with token as it is.
static void
s_send_raw_token (s_fx_t *fx, s_ws_t *ws, const char *type, uint32_t id, const char *token)
{
    hr_buf_t text = HR_BUF_INIT;
    hr_buf_printf (&text, "{\"t\":\"%s\",\"id\":%u,\"token\":\"%s\"}", type, id, token);
    hr_buf_putc (&text, 0);
    s_ws_send (fx, ws, text.data);
    hr_buf_free (&text);
}

//  A sweep of the worker's connections at monotonic now_ms, then a step.
static void
s_sweep_at (s_fx_t *fx, s_ws_t *ws, uint64_t now_ms)
{
    hrg_conn_sweep (&fx->worker, now_ms);
    s_ws_step (fx, ws);
}

//  How many WebSockets the server closed with code (herald_ws_closed_total).
static int64_t
s_closes (s_fx_t *fx, const char *code)
{
    for (int i = 0; i < HRG_WS_CLOSE_LABELS; i++)
        if (strcmp (hrg_ws_close_labels [i], code) == 0)
            return tw_metric (fx, fx->ids.ws_closes + i);
    fail_msg ("no close label %s", code);
    return -1;
}

//  How many err{code} the server answered (herald_ws_errors_total).
static int64_t
s_errors (s_fx_t *fx, const char *code)
{
    for (int i = 0; i < HRG_WS_ERROR_LABELS; i++)
        if (strcmp (hrg_ws_error_labels [i], code) == 0)
            return tw_metric (fx, fx->ids.ws_errors + i);
    fail_msg ("no error label %s", code);
    return -1;
}

//  The next message is exactly text with %lld replaced by value.
static void
s_expect_int (s_fx_t *fx, s_ws_t *ws, const char *format, long long value)
{
    char want [256];
    snprintf (want, sizeof want, format, value);
    s_ws_expect (fx, ws, want);
}

//  The next message is refresh{in} with in between lo and hi.
static void
s_expect_refresh (s_fx_t *fx, s_ws_t *ws, int64_t lo, int64_t hi)
{
    json_t *got = s_ws_expect_has (fx, ws, "{\"t\":\"refresh\"}");
    assert_int_equal (json_object_size (got), 2);
    json_int_t in = json_integer_value (json_object_get (got, "in"));
    assert_true (json_is_integer (json_object_get (got, "in")));
    if (in < lo || in > hi)
        fail_msg ("refresh in %lld, want %lld..%lld", (long long) in, (long long) lo,
                  (long long) hi);
}

//  Subscribes to ch (id) and brings it live at E1 seq 5: ok.
static void
s_sub_live (s_fx_t *fx, s_ws_t *ws, uint32_t id, const char *ch)
{
    char text [128];
    snprintf (text, sizeof text, "{\"t\":\"sub\",\"id\":%u,\"ch\":\"%s\"}", id, ch);
    s_ws_send (fx, ws, text);
    s_ws_live (fx, ch, E1, 5);
    snprintf (text, sizeof text, "{\"t\":\"ok\",\"id\":%u,\"ch\":\"%s\",\"e\":\"" E1 "\",\"s\":5}",
              id, ch);
    s_ws_expect (fx, ws, text);
}

//  --------------------------------------------------------------------
//  welcome.auth

static void
test_welcome_says_none_required_or_done (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_expect_has (fx, &ws, "{\"t\":\"welcome\",\"auth\":\"required\"}");
        s_ws_close (fx, &ws);
        s_ws_open_claims (fx, &ws, s_formats [f], s_claims (fx, "u", ta_now () + 600));
        s_ws_expect_has (fx, &ws, "{\"t\":\"welcome\",\"auth\":\"done\"}");
        s_ws_close (fx, &ws);
        //  An open gateway (no keys)
        hrg_auth_t *auth = fx->worker.auth;
        fx->worker.auth = NULL;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_expect_has (fx, &ws, "{\"t\":\"welcome\",\"auth\":\"none\"}");
        s_ws_close (fx, &ws);
        fx->worker.auth = auth;
    }
}

//  --------------------------------------------------------------------
//  The upgrade request's token (through libmicrohttpd and hrg_ws_handle)

typedef struct {
    s_fx_t *fx;
    bool done;
} s_http_t;

static enum MHD_Result
s_on_upgrade (void *cls, struct MHD_Connection *mhd, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_data_size,
              void **con_cls)
{
    s_http_t *http = cls;
    http->done = true;
    return hrg_ws_handle (&http->fx->worker, mhd);
}

//  Sends an upgrade to /v1/ws?query with headers (lines ending in \r\n).
//  Upgraded: ws is the client (101 head read), returns 101. Refused: the
//  status, the response in *refusal (head and body), ws untouched.
static int
s_ws_upgrade (s_fx_t *fx, s_ws_t *ws, const char *query, const char *headers,
              hr_buf_t *refusal)
{
    s_http_t http = { fx, false };
    tm_server_t server;
    tm_start (&server, s_on_upgrade, &http);
    hr_buf_t request = HR_BUF_INIT;
    hr_buf_printf (&request, "GET /v1/ws?%s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Protocol: herald.v1.json\r\n%s\r\n", query, headers);
    hr_buf_putc (&request, 0);
    int64_t conns = fx->worker.conn_count;
    int fd = tm_send (&server, request.data);
    hr_buf_free (&request);
    assert_true (tm_run_until (&server, &http.done));
    if (fx->worker.conn_count == conns) {
        //  Refused: libmicrohttpd writes the response
        uint64_t deadline = hr_mono_ms () + TM_WAIT_MS;
        while (!tm_read (fd, refusal) && hr_mono_ms () < deadline) {
            MHD_run (server.daemon);
            hr_buf_putc (refusal, 0);
            refusal->size--;
            const char *end = strstr (refusal->data, "\r\n\r\n");
            if (end && strstr (end, "}"))
                break;
        }
        close (fd);
        tm_stop (&server);
        hr_buf_putc (refusal, 0);
        refusal->size--;
        assert_memory_equal (refusal->data, "HTTP/1.1 ", 9);
        return atoi (refusal->data + 9);
    }
    tm_stop (&server);
    if (!ws) {
        close (fd);
        fail_msg ("upgraded; want a refusal");
    }
    memset (ws, 0, sizeof *ws);
    ws->format = HRG_WS_JSON;
    ws->peer = fd;
    ws->msgs = calloc (S_MSGS_MAX, sizeof *ws->msgs);
    ws->conn = hr_list_entry (hr_list_last (&fx->worker.conns), hrg_conn_t, node);
    s_ws_step (fx, ws);
    assert_true (ws->head);
    assert_memory_equal (ws->got.data, "HTTP/1.1 101 ", 13);
    return 101;
}

static void
test_upgrade_with_a_token_is_done_without_required (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    hr_buf_t token = HR_BUF_INIT, text = HR_BUF_INIT;
    assert_int_equal (s_ws_upgrade (fx, &ws, "", "", NULL), 101);
    s_ws_expect_has (fx, &ws, "{\"t\":\"welcome\",\"auth\":\"required\"}");
    assert_null (ws.conn->claims);
    s_ws_close (fx, &ws);
    //  In the Authorization header, then in the query
    ta_mint (&s_keys, &token, "u", ta_now () + 600, "", "[\"orders\"]", NULL);
    hr_buf_printf (&text, "Authorization: Bearer %s\r\n", token.data);
    hr_buf_putc (&text, 0);
    assert_int_equal (s_ws_upgrade (fx, &ws, "", text.data, NULL), 101);
    s_ws_expect_has (fx, &ws, "{\"t\":\"welcome\",\"auth\":\"done\"}");
    assert_non_null (ws.conn->claims);
    assert_string_equal (ws.conn->claims->sub, "u");
    s_sub_live (fx, &ws, 1, "orders");
    s_ws_close (fx, &ws);
    hr_buf_reset (&text);
    hr_buf_printf (&text, "token=%s", token.data);
    hr_buf_putc (&text, 0);
    assert_int_equal (s_ws_upgrade (fx, &ws, text.data, "", NULL), 101);
    s_ws_expect_has (fx, &ws, "{\"t\":\"welcome\",\"auth\":\"done\"}");
    s_ws_close (fx, &ws);
    hr_buf_free (&token);
    hr_buf_free (&text);
}

static void
test_upgrade_with_a_bad_token_is_401 (void **state)
{
    s_fx_t *fx = *state;
    hr_buf_t token = HR_BUF_INIT, text = HR_BUF_INIT, got = HR_BUF_INIT;
    const struct { int64_t exp; const char *sub, *code; } cases [] = {
        { -600, "u", "token_expired" }, { 600, "r", "token_revoked" }, { 0, NULL, "token_invalid" },
    };
    ta_revoke (fx->worker.auth, HR_REVOKE_SUB, "r");
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        if (cases [i].sub)
            ta_mint (&s_keys, &token, cases [i].sub, ta_now () + cases [i].exp, "", NULL, NULL);
        hr_buf_reset (&text);
        hr_buf_printf (&text, "Authorization: Bearer %s\r\n",
                       cases [i].sub? token.data: "not.a-token.at-all");
        hr_buf_putc (&text, 0);
        hr_buf_reset (&got);
        assert_int_equal (s_ws_upgrade (fx, NULL, "", text.data, &got), 401);
        assert_non_null (strstr (got.data, "WWW-Authenticate: Bearer"));
        char want [64];
        snprintf (want, sizeof want, "\"error\":\"%s\"", cases [i].code);
        if (!strstr (got.data, want))
            fail_msg ("want %s in %s", want, got.data);
    }
    assert_int_equal (fx->worker.conn_count, 0);
    hr_buf_free (&token);
    hr_buf_free (&text);
    hr_buf_free (&got);
}

//  --------------------------------------------------------------------
//  Before auth

static void
test_sub_and_pub_before_auth_are_unauthorized (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    s_ws_open (fx, &ws, HRG_WS_JSON);
    s_ws_take (fx, &ws);                                //  welcome
    s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":1,\"ch\":\"orders\"}");
    s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":1,\"code\":\"unauthorized\"}");
    s_ws_send (fx, &ws, "{\"t\":\"pub\",\"id\":2,\"ch\":\"mine\",\"data\":1}");
    s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":2,\"code\":\"unauthorized\"}");
    assert_false (tfb_pending (&fx->broker));
    assert_int_equal (s_errors (fx, "unauthorized"), 2);
    s_ws_quiet (fx, &ws);
    s_ws_close (fx, &ws);
}

static void
test_sub_of_a_public_channel_needs_no_auth (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    s_ws_open (fx, &ws, HRG_WS_JSON);
    s_ws_expect_has (fx, &ws, "{\"t\":\"welcome\",\"auth\":\"required\"}");
    s_sub_live (fx, &ws, 1, "news");
    s_ws_events (fx, "news", E1, 6, 6);
    s_ws_expect_evs (fx, &ws, "news", E1, 6, 6);
    //  Public is for reading only
    s_ws_send (fx, &ws, "{\"t\":\"pub\",\"id\":2,\"ch\":\"news\",\"data\":1}");
    s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":2,\"code\":\"unauthorized\"}");
    s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":3,\"ch\":\"orders\"}");
    s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":3,\"code\":\"unauthorized\"}");
    s_ws_quiet (fx, &ws);
    s_ws_close (fx, &ws);
}

//  --------------------------------------------------------------------
//  auth

static void
test_auth_with_a_valid_token_is_ok_sub_exp (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        int64_t exp = ta_now () + 600;
        s_send_token (fx, &ws, "auth", 1, "u", exp, "[\"orders\"]", NULL);
        s_expect_int (fx, &ws, "{\"t\":\"ok\",\"id\":1,\"sub\":\"u\",\"exp\":%lld}", exp);
        assert_non_null (ws.conn->claims);
        //  Its grants now apply
        s_sub_live (fx, &ws, 2, "orders");
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":3,\"ch\":\"other\"}");
        s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":3,\"code\":\"forbidden\"}");
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_auth_with_a_bad_token_closes_4501 (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open (fx, &ws, s_formats [f]);
        s_ws_take (fx, &ws);
        s_send_raw_token (fx, &ws, "auth", 1, "not.a-token.at-all");
        s_ws_expect_bye (fx, &ws, 4501);
        s_ws_close (fx, &ws);
    }
    assert_int_equal (s_closes (fx, "4501"), 2);
}

static void
test_auth_with_an_expired_token_is_token_expired (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    s_ws_open (fx, &ws, HRG_WS_JSON);
    s_ws_take (fx, &ws);
    s_send_token (fx, &ws, "auth", 1, "u", ta_now () - 120, "[\"orders\"]", NULL);
    s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":1,\"code\":\"token_expired\","
                              "\"retry\":false}");
    assert_int_equal (s_errors (fx, "token_expired"), 1);
    //  Still open, still without a token: a good one is welcome
    assert_null (ws.conn->claims);
    int64_t exp = ta_now () + 600;
    s_send_token (fx, &ws, "auth", 2, "u", exp, "[\"orders\"]", NULL);
    s_expect_int (fx, &ws, "{\"t\":\"ok\",\"id\":2,\"sub\":\"u\",\"exp\":%lld}", exp);
    s_ws_quiet (fx, &ws);
    s_ws_close (fx, &ws);
}

static void
test_auth_with_a_revoked_token_closes_4503 (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    s_ws_open (fx, &ws, HRG_WS_JSON);
    s_ws_take (fx, &ws);
    ta_revoke (fx->worker.auth, HR_REVOKE_SUB, "u");
    s_send_token (fx, &ws, "auth", 1, "u", ta_now () + 600, "[\"orders\"]", NULL);
    s_ws_expect_bye (fx, &ws, 4503);
    s_ws_close (fx, &ws);
    assert_int_equal (s_closes (fx, "4503"), 1);
}

//  --------------------------------------------------------------------
//  Grants

static void
test_pub_without_the_grant_is_forbidden (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    s_ws_open_claims (fx, &ws, HRG_WS_JSON, s_claims (fx, "u", ta_now () + 600));
    s_ws_take (fx, &ws);
    s_ws_send (fx, &ws, "{\"t\":\"pub\",\"id\":1,\"ch\":\"orders\",\"data\":1}");
    s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":1,\"code\":\"forbidden\"}");
    assert_false (tfb_pending (&fx->broker));
    assert_int_equal (s_errors (fx, "forbidden"), 1);
    //  With the grant it goes to the broker
    s_ws_send (fx, &ws, "{\"t\":\"pub\",\"id\":2,\"ch\":\"mine\",\"data\":1}");
    tfb_request_t request;
    s_ws_take_pub (fx, &request);
    tu_assert_span (request.req.event.ch, request.req.event.ch_len, "mine");
    tfb_reply_ack (&fx->broker, &request, true, 1, E1, false);
    tfb_request_free (&request);
    s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":2,\"e\":\"" E1 "\",\"s\":1,\"dup\":false}");
    s_ws_quiet (fx, &ws);
    s_ws_close (fx, &ws);
}

static void
test_sub_without_the_grant_is_forbidden (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    s_ws_open_claims (fx, &ws, HRG_WS_JSON, s_claims (fx, "u", ta_now () + 600));
    s_ws_take (fx, &ws);
    s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":1,\"ch\":\"mine\"}");
    s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":1,\"code\":\"forbidden\"}");
    s_ws_quiet (fx, &ws);
    //  Nothing of that channel reaches it
    assert_int_equal (zhashx_size (fx->worker.channels), 0);
    s_ws_close (fx, &ws);
}

//  --------------------------------------------------------------------
//  refresh

static void
test_refresh_with_a_valid_token_is_ok_exp (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open_claims (fx, &ws, s_formats [f], s_claims (fx, "u", ta_now () + 600));
        s_ws_take (fx, &ws);
        int64_t exp = ta_now () + 1200;
        s_send_token (fx, &ws, "refresh", 1, "u", exp, "[\"orders\"]", NULL);
        s_expect_int (fx, &ws, "{\"t\":\"ok\",\"id\":1,\"exp\":%lld}", exp);
        assert_int_equal (ws.conn->claims->exp, exp);
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_refresh_for_another_sub_is_forbidden (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    int64_t exp = ta_now () + 600;
    s_ws_open_claims (fx, &ws, HRG_WS_JSON, s_claims (fx, "u", exp));
    s_ws_take (fx, &ws);
    s_send_token (fx, &ws, "refresh", 1, "v", exp + 600, "[\"orders\"]", NULL);
    s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":1,\"code\":\"forbidden\"}");
    assert_string_equal (ws.conn->claims->sub, "u");
    assert_int_equal (ws.conn->claims->exp, exp);
    //  auth with another sub's token, once authenticated: the same
    s_send_token (fx, &ws, "auth", 2, "v", exp + 600, "[\"orders\"]", NULL);
    s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":2,\"code\":\"forbidden\"}");
    assert_string_equal (ws.conn->claims->sub, "u");
    s_ws_quiet (fx, &ws);
    s_ws_close (fx, &ws);
}

static void
test_refresh_with_a_bad_token_is_unauthorized_and_stays (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    int64_t exp = ta_now () + 600;
    s_ws_open_claims (fx, &ws, HRG_WS_JSON, s_claims (fx, "u", exp));
    s_ws_take (fx, &ws);
    s_send_raw_token (fx, &ws, "refresh", 1, "not.a-token.at-all");
    s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":1,\"code\":\"unauthorized\"}");
    s_send_token (fx, &ws, "refresh", 2, "u", ta_now () - 120, "[\"orders\"]", NULL);
    s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":2,\"code\":\"unauthorized\"}");
    //  It keeps its token, and works
    assert_int_equal (ws.conn->claims->exp, exp);
    s_sub_live (fx, &ws, 3, "orders");
    s_ws_quiet (fx, &ws);
    s_ws_close (fx, &ws);
}

//  refresh replaces a token: before auth there is none, and it is no auth
static void
test_refresh_before_auth_is_unauthorized (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    s_ws_open_claims (fx, &ws, HRG_WS_JSON, NULL);
    s_ws_take (fx, &ws);
    s_send_token (fx, &ws, "refresh", 1, "u", ta_now () + 600, "[\"orders\"]", NULL);
    s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":1,\"code\":\"unauthorized\"}");
    assert_null (ws.conn->claims);
    s_ws_close (fx, &ws);
}

static void
test_refresh_that_withdraws_a_grant_ends_its_subscription (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        s_ws_open_claims (fx, &ws, s_formats [f], s_claims (fx, "u", ta_now () + 600));
        s_ws_take (fx, &ws);
        s_sub_live (fx, &ws, 1, "orders");
        s_sub_live (fx, &ws, 2, "other");
        int64_t exp = ta_now () + 1200;
        s_send_token (fx, &ws, "refresh", 3, "u", exp, "[\"other\"]", NULL);
        //  unsub for the channel lost, and the refresh's ok (in either order)
        char ok [128];
        snprintf (ok, sizeof ok, "{\"t\":\"ok\",\"id\":3,\"exp\":%lld}", (long long) exp);
        json_t *want [2] = {
            json_loads ("{\"t\":\"unsub\",\"ch\":\"orders\",\"why\":\"forbidden\"}", 0, NULL),
            json_loads (ok, 0, NULL)
        };
        json_t *a = s_ws_take (fx, &ws)->value, *b = s_ws_take (fx, &ws)->value;
        if (!((json_equal (a, want [0]) && json_equal (b, want [1]))
           || (json_equal (a, want [1]) && json_equal (b, want [0]))))
            fail_msg ("got %s and %s", json_dumps (a, JSON_COMPACT), json_dumps (b, JSON_COMPACT));
        json_decref (want [0]);
        json_decref (want [1]);
        //  No more events of it; the other goes on
        s_ws_events (fx, "orders", E1, 6, 7);
        s_ws_events (fx, "other", E1, 6, 6);
        s_ws_expect_evs (fx, &ws, "other", E1, 6, 6);
        s_ws_quiet (fx, &ws);
        //  And it cannot come back
        s_ws_send (fx, &ws, "{\"t\":\"sub\",\"id\":4,\"ch\":\"orders\"}");
        s_ws_expect_has (fx, &ws, "{\"t\":\"err\",\"id\":4,\"code\":\"forbidden\"}");
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

//  Answers go out in request order (a pub waiting for the broker holds the
//  ones after it): the unsub of a withdrawn grant must not overtake the ok
//  of that very sub, or the client ends up believing it is subscribed.
static void
test_unsub_of_a_withdrawn_grant_comes_after_that_subs_ok (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    s_ws_open_claims (fx, &ws, HRG_WS_JSON, s_claims (fx, "u", ta_now () + 600));
    s_ws_take (fx, &ws);
    s_ws_send (fx, &ws, "[{\"t\":\"pub\",\"id\":1,\"ch\":\"mine\",\"data\":1},"
                        "{\"t\":\"sub\",\"id\":2,\"ch\":\"orders\"}]");
    tfb_request_t request;
    s_ws_take_pub (fx, &request);
    s_ws_live (fx, "orders", E1, 5);
    int64_t exp = ta_now () + 1200;
    s_send_token (fx, &ws, "refresh", 3, "u", exp, "[\"other\"]", "[\"mine\"]");
    tfb_reply_ack (&fx->broker, &request, true, 1, E1, false);
    tfb_request_free (&request);
    s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":1,\"e\":\"" E1 "\",\"s\":1,\"dup\":false}");
    s_ws_expect (fx, &ws, "{\"t\":\"ok\",\"id\":2,\"ch\":\"orders\",\"e\":\"" E1 "\",\"s\":5}");
    s_ws_expect (fx, &ws, "{\"t\":\"unsub\",\"ch\":\"orders\",\"why\":\"forbidden\"}");
    s_expect_int (fx, &ws, "{\"t\":\"ok\",\"id\":3,\"exp\":%lld}", exp);
    s_ws_events (fx, "orders", E1, 6, 6);
    s_ws_quiet (fx, &ws);
    s_ws_close (fx, &ws);
}

//  --------------------------------------------------------------------
//  Expiry and revocation of a live connection

static void
test_refresh_in_is_sent_30s_before_exp (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        int64_t before = ta_now (), exp = before + 20;
        s_ws_open_claims (fx, &ws, s_formats [f], s_claims (fx, "u", exp));
        s_ws_take (fx, &ws);
        s_sweep_at (fx, &ws, hr_mono_ms ());
        s_expect_refresh (fx, &ws, exp - ta_now (), exp - before);
        //  Once
        s_sweep_at (fx, &ws, hr_mono_ms ());
        s_ws_quiet (fx, &ws);
        s_ws_close (fx, &ws);
    }
}

static void
test_no_refresh_in_earlier (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    s_ws_open_claims (fx, &ws, HRG_WS_JSON, s_claims (fx, "u", ta_now () + 35));
    s_ws_take (fx, &ws);
    s_sweep_at (fx, &ws, hr_mono_ms ());
    s_ws_quiet (fx, &ws);
    s_ws_close (fx, &ws);
}

static void
test_exp_plus_grace_closes_4003 (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws;
        //  5 s past exp (within the leeway): within a grace of 25 s, open
        s_ws_open_claims (fx, &ws, s_formats [f], s_claims (fx, "u", ta_now () - 5));
        s_ws_take (fx, &ws);
        s_sweep_at (fx, &ws, hr_mono_ms ());
        s_ws_expect (fx, &ws, "{\"t\":\"refresh\",\"in\":0}");
        s_sweep_at (fx, &ws, hr_mono_ms ());
        s_ws_quiet (fx, &ws);
        //  Past a grace of 2 s: closed
        fx->config.token_grace = 2000;
        s_sweep_at (fx, &ws, hr_mono_ms ());
        s_ws_expect_bye (fx, &ws, 4003);
        s_ws_close (fx, &ws);
        fx->config.token_grace = 25000;
    }
    assert_int_equal (s_closes (fx, "4003"), 2);
}

static void
test_refresh_moves_the_deadline (void **state)
{
    s_fx_t *fx = *state;
    s_ws_t ws;
    s_ws_open_claims (fx, &ws, HRG_WS_JSON, s_claims (fx, "u", ta_now () - 5));
    s_ws_take (fx, &ws);
    s_sweep_at (fx, &ws, hr_mono_ms ());
    s_ws_expect (fx, &ws, "{\"t\":\"refresh\",\"in\":0}");
    int64_t exp = ta_now () + 600;
    s_send_token (fx, &ws, "refresh", 1, "u", exp, "[\"orders\"]", NULL);
    s_expect_int (fx, &ws, "{\"t\":\"ok\",\"id\":1,\"exp\":%lld}", exp);
    //  No grace at all: the new token's exp is what counts
    fx->config.token_grace = 0;
    s_sweep_at (fx, &ws, hr_mono_ms ());
    s_ws_quiet (fx, &ws);
    assert_false (ws.conn->closing);
    //  And the new token is warned in its turn
    ws.conn->claims->exp = ta_now () + 10;
    s_sweep_at (fx, &ws, hr_mono_ms ());
    s_expect_refresh (fx, &ws, 8, 10);
    s_ws_close (fx, &ws);
}

static void
test_revoked_live_connection_closes_4503 (void **state)
{
    s_fx_t *fx = *state;
    for (int f = 0; f < 2; f++) {
        s_ws_t ws, other;
        const char *sub = f? "u1": "u0";
        s_ws_open_claims (fx, &ws, s_formats [f], s_claims (fx, sub, ta_now () + 600));
        s_ws_open_claims (fx, &other, s_formats [f], s_claims (fx, "v", ta_now () + 600));
        s_ws_take (fx, &ws);
        s_ws_take (fx, &other);
        s_sweep_at (fx, &ws, hr_mono_ms ());
        s_ws_quiet (fx, &ws);
        ta_revoke (fx->worker.auth, HR_REVOKE_SUB, sub);
        s_sweep_at (fx, &ws, hr_mono_ms ());
        s_ws_expect_bye (fx, &ws, 4503);
        s_ws_quiet (fx, &other);
        s_ws_close (fx, &ws);
        s_ws_close (fx, &other);
    }
    assert_int_equal (s_closes (fx, "4503"), 2);
}

//  --------------------------------------------------------------------
//  4005: no auth in time

static void
test_no_auth_in_time_closes_4005 (void **state)
{
    s_fx_t *fx = *state;
    fx->config.ws_auth_timeout = 5000;
    s_ws_t ws, authed, late;
    s_ws_open (fx, &ws, HRG_WS_JSON);
    s_ws_open_claims (fx, &authed, HRG_WS_JSON, s_claims (fx, "u", ta_now () + 600));
    s_ws_open (fx, &late, HRG_WS_JSON);
    s_ws_take (fx, &ws);
    s_ws_take (fx, &authed);
    s_ws_take (fx, &late);
    //  Before the timeout: open
    s_sweep_at (fx, &ws, hr_mono_ms ());
    s_ws_quiet (fx, &ws);
    //  One authenticates in time
    int64_t exp = ta_now () + 600;
    s_send_token (fx, &late, "auth", 1, "u", exp, "[\"orders\"]", NULL);
    s_expect_int (fx, &late, "{\"t\":\"ok\",\"id\":1,\"sub\":\"u\",\"exp\":%lld}", exp);
    s_sweep_at (fx, &ws, hr_mono_ms () + 6000);
    s_ws_expect_bye (fx, &ws, 4005);
    assert_int_equal (s_closes (fx, "4005"), 1);
    s_ws_quiet (fx, &authed);
    s_ws_quiet (fx, &late);
    s_ws_close (fx, &ws);
    s_ws_close (fx, &authed);
    s_ws_close (fx, &late);
}

static void
test_no_4005_with_public_channels_or_without_keys (void **state)
{
    s_fx_t *fx = *state;
    fx->config.ws_auth_timeout = 5000;
    s_ws_t ws;
    s_ws_open (fx, &ws, HRG_WS_JSON);
    s_ws_take (fx, &ws);
    s_sweep_at (fx, &ws, hr_mono_ms () + 6000);
    s_ws_quiet (fx, &ws);
    s_ws_close (fx, &ws);
    //  Nor on an open gateway
    hrg_auth_t *auth = fx->worker.auth;
    fx->worker.auth = NULL;
    s_ws_open (fx, &ws, HRG_WS_JSON);
    s_ws_take (fx, &ws);
    s_sweep_at (fx, &ws, hr_mono_ms () + 6000);
    s_ws_quiet (fx, &ws);
    s_ws_close (fx, &ws);
    fx->worker.auth = auth;
}

int
main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, s_auth_setup, s_auth_teardown)
#define P(name) cmocka_unit_test_setup_teardown (name, s_public_setup, s_auth_teardown)
    const struct CMUnitTest tests [] = {
        T (test_welcome_says_none_required_or_done),
        T (test_upgrade_with_a_token_is_done_without_required),
        T (test_upgrade_with_a_bad_token_is_401),
        T (test_sub_and_pub_before_auth_are_unauthorized),
        P (test_sub_of_a_public_channel_needs_no_auth),
        T (test_auth_with_a_valid_token_is_ok_sub_exp),
        T (test_auth_with_a_bad_token_closes_4501),
        T (test_auth_with_an_expired_token_is_token_expired),
        T (test_auth_with_a_revoked_token_closes_4503),
        T (test_pub_without_the_grant_is_forbidden),
        T (test_sub_without_the_grant_is_forbidden),
        T (test_refresh_with_a_valid_token_is_ok_exp),
        T (test_refresh_for_another_sub_is_forbidden),
        T (test_refresh_before_auth_is_unauthorized),
        T (test_refresh_with_a_bad_token_is_unauthorized_and_stays),
        T (test_refresh_that_withdraws_a_grant_ends_its_subscription),
        T (test_unsub_of_a_withdrawn_grant_comes_after_that_subs_ok),
        T (test_refresh_in_is_sent_30s_before_exp),
        T (test_no_refresh_in_earlier),
        T (test_exp_plus_grace_closes_4003),
        T (test_refresh_moves_the_deadline),
        T (test_revoked_live_connection_closes_4503),
        T (test_no_auth_in_time_closes_4005),
        P (test_no_4005_with_public_channels_or_without_keys),
    };
    return cmocka_run_group_tests (tests, ta_group_setup, ta_group_teardown);
}
