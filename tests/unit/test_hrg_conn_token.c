/*  test_hrg_conn_token: a connection's token over time (gateway/hrg_conn.c
    s_sweep_token, the SSE side in hrg_sse.c), on SSE connections: warned
    once 30 s before exp (herald-token-expiring), closed at exp with
    herald-token-expired, closed with herald-token-revoked within one sweep
    of a revocation, and a connection without a token left alone. The
    stream of an HTTP/1.1 request ends with the terminating chunk.

    Time is not waited for: tokens expire relative to the wall clock, and
    a test moves a connection's exp (its claims are its own) to stand at
    another moment of the token's life.  */
#include "hrg_catchup_fixture.h"
#include "hrg_auth_fixture.h"
#include "hrg_conn.h"


//  The catch-up fixture's worker with token keys.
static int
s_token_setup (void **state)
{
    s_setup (state);
    s_fx_t *fx = *state;
    fx->config.token_keys = s_keys.path;
    fx->worker.auth = ta_auth_new (&fx->config);
    return 0;
}

static int
s_token_teardown (void **state)
{
    s_fx_t *fx = *state;
    hrg_conn_close_all (&fx->worker, HRG_CLOSE_SHUTDOWN);
    hrg_conn_reap (&fx->worker);
    hrg_auth_destroy (&fx->worker.auth);
    return s_teardown (state);
}

static hr_claims_t *
s_claims (s_fx_t *fx, const char *sub, int64_t exp, const char *jti)
{
    return ta_claims (&s_keys, fx->worker.auth, sub, exp, jti, "[\"orders\"]", NULL);
}

//  True while conn is one of the worker's connections (not freed).
static bool
s_alive (s_fx_t *fx, const hrg_conn_t *conn)
{
    hrg_worker_t *w = &fx->worker;
    hr_list_t *lists [] = { &w->conns, &w->reaped };
    for (int i = 0; i < 2; i++)
        for (hr_list_t *node = hr_list_first (lists [i]); node;
             node = hr_list_next (lists [i], node))
            if (hr_list_entry (node, hrg_conn_t, node) == conn)
                return true;
    return false;
}

//  Opens a fresh client of "orders" with claims (taken; NULL: none), and
//  reads (and forgets) what it is sent first.
static void
s_open_claims (s_fx_t *fx, s_client_t *client, hr_claims_t *claims)
{
    int sv [2];
    assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    const char *names [] = { "orders" };
    memset (client, 0, sizeof *client);
    client->peer = sv [1];
    client->conn = hrg_sse_open (&fx->worker, sv [0], hr_chanset_new (names, 1),
                                 hr_calloc (1, sizeof (hr_position_t)), true);
    if (claims)
        hrg_conn_set_claims (client->conn, claims);
    hrg_sse_start (client->conn);
    s_turn (fx);
    s_read (client);
    assert_memory_equal (client->got.data, "retry: ", 7);
    hr_buf_reset (&client->got);
}

//  One sweep now, the turn that writes what it queued, and the client
//  reads. True when the client's socket was closed (by the server).
static bool
s_sweep (s_fx_t *fx, s_client_t *client)
{
    hrg_conn_sweep (&fx->worker, hr_mono_ms ());
    s_turn (fx);
    return tm_read (client->peer, &client->got);
}

//  The client goes; the server lets the connection go.
static void
s_gone (s_fx_t *fx, s_client_t *client)
{
    close (client->peer);
    uint64_t deadline = hr_mono_ms () + S_WAIT_MS;
    while (client->conn && s_alive (fx, client->conn)) {
        assert_true (hr_mono_ms () < deadline);
        struct epoll_event events [16];
        int count = epoll_wait (fx->worker.epoll_fd, events, 16, 1);
        for (int i = 0; i < count; i++)
            hrg_conn_on_socket (events [i].data.ptr, events [i].events);
        s_turn (fx);
    }
    hr_buf_free (&client->got);
    client->conn = NULL;
}

//  What the client got since the last reset, as a string.
static const char *
s_text (s_client_t *client)
{
    hr_buf_putc (&client->got, 0);
    client->got.size--;
    return client->got.data? client->got.data: "";
}

//  The client got exactly one herald-token-expiring event for exp, with an
//  "in" of exp - now as the sweep saw it (now between before and after).
static void
s_expect_expiring (s_client_t *client, int64_t exp, int64_t before, int64_t after)
{
    const char *text = s_text (client);
    long long got_exp, got_in;
    int used = 0;
    if (sscanf (text, "event: herald-token-expiring\ndata: {\"exp\":%lld,\"in\":%lld}\n\n%n",
                &got_exp, &got_in, &used) != 2 || used == 0)
        fail_msg ("want herald-token-expiring, got \"%s\"", text);
    assert_int_equal (got_exp, exp);
    int64_t in_max = exp - before < 0? 0: exp - before, in_min = exp - after < 0? 0: exp - after;
    if (got_in < in_min || got_in > in_max)
        fail_msg ("in %lld, want %lld..%lld", got_in, (long long) in_min, (long long) in_max);
    assert_int_equal (used, client->got.size);
    hr_buf_reset (&client->got);
}

//  --------------------------------------------------------------------
//  Expiring

static void
test_warned_once_30s_before_exp (void **state)
{
    s_fx_t *fx = *state;
    s_client_t client;
    int64_t before = ta_now (), exp = before + 20;
    s_open_claims (fx, &client, s_claims (fx, "u", exp, ""));
    assert_false (s_sweep (fx, &client));
    s_expect_expiring (&client, exp, before, ta_now ());
    //  Once: later sweeps say nothing more, and it stays open
    for (int i = 0; i < 3; i++)
        assert_false (s_sweep (fx, &client));
    assert_int_equal (client.got.size, 0);
    assert_false (client.conn->closing);
    s_gone (fx, &client);
}

static void
test_not_warned_earlier_than_30s (void **state)
{
    s_fx_t *fx = *state;
    s_client_t client;
    int64_t exp = ta_now () + 600;
    s_open_claims (fx, &client, s_claims (fx, "u", exp, ""));
    assert_false (s_sweep (fx, &client));
    assert_int_equal (client.got.size, 0);
    //  35 s before: not yet; 29 s before: at once
    client.conn->claims->exp = ta_now () + 35;
    assert_false (s_sweep (fx, &client));
    assert_int_equal (client.got.size, 0);
    int64_t before = ta_now ();
    exp = client.conn->claims->exp = before + 29;
    assert_false (s_sweep (fx, &client));
    s_expect_expiring (&client, exp, before, ta_now ());
    s_gone (fx, &client);
}

static void
test_new_claims_are_warned_again (void **state)
{
    s_fx_t *fx = *state;
    s_client_t client;
    int64_t before = ta_now (), exp = before + 10;
    s_open_claims (fx, &client, s_claims (fx, "u", exp, ""));
    assert_false (s_sweep (fx, &client));
    s_expect_expiring (&client, exp, before, ta_now ());
    //  A new token (set_claims) gets its own warning
    before = ta_now ();
    exp = before + 25;
    hrg_conn_set_claims (client.conn, s_claims (fx, "u", exp, ""));
    assert_false (client.conn->token_warned);
    assert_false (s_sweep (fx, &client));
    s_expect_expiring (&client, exp, before, ta_now ());
    s_gone (fx, &client);
}

//  --------------------------------------------------------------------
//  Expired

static void
test_closed_at_exp_with_herald_token_expired (void **state)
{
    s_fx_t *fx = *state;
    s_client_t client;
    //  Just before exp: warned, open
    int64_t before = ta_now (), exp = before + 2;
    s_open_claims (fx, &client, s_claims (fx, "u", exp, ""));
    assert_false (s_sweep (fx, &client));
    s_expect_expiring (&client, exp, before, ta_now ());
    assert_false (client.conn->closing);
    //  At exp: the last event, then the end of the stream (SSE has no grace)
    fx->config.token_grace = 600000;
    exp = client.conn->claims->exp = ta_now ();
    assert_true (s_sweep (fx, &client));
    char want [128];
    snprintf (want, sizeof want, "event: herald-token-expired\ndata: {\"exp\":%lld}\n\n",
              (long long) exp);
    assert_string_equal (s_text (&client), want);
    s_gone (fx, &client);
}

//  Events its group rendered before exp and has not written yet (it waits
//  out --write-interval) go out before the last event.
static void
test_events_rendered_before_exp_go_out_before_herald_token_expired (void **state)
{
    s_fx_t *fx = *state;
    s_client_t client;
    s_open_claims (fx, &client, s_claims (fx, "u", ta_now () + 3600, ""));
    s_live_at (fx, "e1", 0);
    s_feed (fx, tfb_event ("orders", "e1", 1));
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    s_read (&client);
    assert_non_null (strstr (s_text (&client), "data: {"));
    hr_buf_reset (&client.got);
    fx->config.write_interval = 60000;  //  the group just wrote: 2 waits
    s_feed (fx, tfb_event ("orders", "e1", 2));
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    s_turn (fx);
    s_read (&client);
    assert_int_equal (client.got.size, 0);
    client.conn->claims->exp = ta_now ();
    assert_true (s_sweep (fx, &client));
    const char *text = s_text (&client);
    //  (untyped: the event's first line is its data)
    const char *event = strstr (text, "id: "), *expired = strstr (text, "event: herald-token-expired");
    if (!event || !expired || event > expired)
        fail_msg ("want event 2, then herald-token-expired; got \"%s\"", text);
    s_gone (fx, &client);
}

static void
test_past_exp_is_warned_then_closed_in_one_sweep (void **state)
{
    s_fx_t *fx = *state;
    s_client_t client;
    int64_t exp = ta_now () - 5;        //  within the leeway: accepted
    s_open_claims (fx, &client, s_claims (fx, "u", exp, ""));
    assert_true (s_sweep (fx, &client));
    char want [256];
    snprintf (want, sizeof want,
              "event: herald-token-expiring\ndata: {\"exp\":%lld,\"in\":0}\n\n"
              "event: herald-token-expired\ndata: {\"exp\":%lld}\n\n",
              (long long) exp, (long long) exp);
    assert_string_equal (s_text (&client), want);
    s_gone (fx, &client);
}

//  --------------------------------------------------------------------
//  Revoked

static void
test_revoked_closes_within_one_sweep (void **state)
{
    s_fx_t *fx = *state;
    s_client_t alice, alice2, bob;
    int64_t exp = ta_now () + 600;
    s_open_claims (fx, &alice, s_claims (fx, "alice", exp, "a-1"));
    s_open_claims (fx, &alice2, s_claims (fx, "alice", exp, "a-2"));
    s_open_claims (fx, &bob, s_claims (fx, "bob", exp, "b-1"));
    assert_false (s_sweep (fx, &alice));
    ta_revoke (fx->worker.auth, HR_REVOKE_SUB, "alice");
    //  Every connection of the sub, in the sweep after the revocation
    assert_true (s_sweep (fx, &alice));
    assert_string_equal (s_text (&alice), "event: herald-token-revoked\ndata: {}\n\n");
    assert_true (tm_read (alice2.peer, &alice2.got));
    assert_string_equal (s_text (&alice2), "event: herald-token-revoked\ndata: {}\n\n");
    assert_false (tm_read (bob.peer, &bob.got));
    assert_int_equal (bob.got.size, 0);
    assert_false (bob.conn->closing);
    //  A jti: that token's connections
    ta_revoke (fx->worker.auth, HR_REVOKE_JTI, "b-1");
    assert_true (s_sweep (fx, &bob));
    assert_string_equal (s_text (&bob), "event: herald-token-revoked\ndata: {}\n\n");
    s_gone (fx, &alice);
    s_gone (fx, &alice2);
    s_gone (fx, &bob);
}

static void
test_any_revocation_rechecks_every_connection (void **state)
{
    s_fx_t *fx = *state;
    s_client_t client;
    ta_revoke (fx->worker.auth, HR_REVOKE_SUB, "carol");
    hrg_conn_sweep (&fx->worker, hr_mono_ms ());
    //  A connection whose claims are revoked though the list did not move
    //  since (as if it came in with them): the next revocation, of
    //  anyone, finds it
    s_open_claims (fx, &client, s_claims (fx, "dave", ta_now () + 600, ""));
    assert_false (s_sweep (fx, &client));
    memcpy (client.conn->claims->sub, "carol", 6);
    client.conn->claims->sub_len = 5;
    ta_revoke (fx->worker.auth, HR_REVOKE_SUB, "someone-else");
    assert_true (s_sweep (fx, &client));
    assert_string_equal (s_text (&client), "event: herald-token-revoked\ndata: {}\n\n");
    s_gone (fx, &client);
}

//  --------------------------------------------------------------------
//  Without a token

static void
test_a_connection_without_claims_is_untouched (void **state)
{
    s_fx_t *fx = *state;
    s_client_t client;
    s_open_claims (fx, &client, NULL);
    assert_null (client.conn->claims);
    ta_revoke (fx->worker.auth, HR_REVOKE_SUB, "u");
    for (int i = 0; i < 3; i++)
        assert_false (s_sweep (fx, &client));
    assert_int_equal (client.got.size, 0);
    assert_false (client.conn->closing);
    //  Nor without auth at all (a worker of an open gateway)
    hrg_auth_t *auth = fx->worker.auth;
    fx->worker.auth = NULL;
    assert_false (s_sweep (fx, &client));
    assert_int_equal (client.got.size, 0);
    fx->worker.auth = auth;
    s_gone (fx, &client);
}

//  --------------------------------------------------------------------
//  An HTTP/1.1 stream: the last event is the last chunk

typedef struct {
    s_fx_t *fx;
    bool done;
} s_http_t;

static enum MHD_Result
s_on_request (void *cls, struct MHD_Connection *mhd, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_data_size,
              void **con_cls)
{
    s_http_t *http = cls;
    http->done = true;
    return hrg_sse_handle (&http->fx->worker, mhd, version);
}

//  Opens an SSE request for "orders" with token in the Authorization
//  header through libmicrohttpd and hrg_sse_handle, in HTTP/1.1 (chunked)
//  or 1.0 (raw); reads the head and the first event (retry:).
static void
s_open_http_version (s_fx_t *fx, s_client_t *client, const char *token, bool http10)
{
    s_http_t http = { fx, false };
    tm_server_t server;
    tm_start (&server, s_on_request, &http);
    hr_buf_t request = HR_BUF_INIT;
    hr_buf_printf (&request, "GET /v1/sse?channel=orders HTTP/1.%d\r\nHost: localhost\r\n"
                   "Authorization: Bearer %s\r\n\r\n", http10? 0: 1, token);
    hr_buf_putc (&request, 0);
    memset (client, 0, sizeof *client);
    client->peer = tm_send (&server, request.data);
    assert_true (tm_run_until (&server, &http.done));
    tm_stop (&server);
    hr_buf_free (&request);
    assert_false (hr_list_empty (&fx->worker.conns));
    client->conn = hr_list_entry (hr_list_last (&fx->worker.conns), hrg_conn_t, node);
    s_turn (fx);
    tm_read (client->peer, &client->got);
    const char *text = s_text (client);
    assert_memory_equal (text, http10? "HTTP/1.0 200 OK\r\n": "HTTP/1.1 200 OK\r\n", 17);
    assert_non_null (strstr (text, http10? "\r\nConnection: close\r\n"
                                         : "\r\nTransfer-Encoding: chunked\r\n"));
    const char *body = strstr (text, "\r\n\r\n");
    assert_non_null (body);
    //  The first event: retry:, in a chunk or as it is
    if (http10)
        assert_memory_equal (body + 4, "retry: ", 7);
    else
        assert_non_null (strstr (body, "\r\nretry: "));
    hr_buf_reset (&client->got);
}

static void
s_open_http (s_fx_t *fx, s_client_t *client, const char *token)
{
    s_open_http_version (fx, client, token, false);
}

//  The chunks of text, joined into body; fails unless text is whole
//  chunks ending with the terminating chunk, and nothing after it.
static void
s_dechunk (const char *text, size_t size, hr_buf_t *body)
{
    size_t at = 0;
    while (true) {
        char *end;
        unsigned long len = strtoul (text + at, &end, 16);
        if (end == text + at || (size_t) (end - text) + 2 > size || memcmp (end, "\r\n", 2))
            fail_msg ("not a chunk at %zu: \"%s\"", at, text + at);
        at = (size_t) (end - text) + 2;
        if (len == 0) {
            if (size - at != 2 || memcmp (text + at, "\r\n", 2))
                fail_msg ("not the terminating chunk's end: \"%s\"", text + at);
            return;
        }
        assert_true (at + len + 2 <= size);
        hr_buf_put (body, text + at, len);
        assert_memory_equal (text + at + len, "\r\n", 2);
        at += len + 2;
    }
}

static void
test_http_stream_ends_with_expired_then_the_terminating_chunk (void **state)
{
    s_fx_t *fx = *state;
    s_client_t client;
    hr_buf_t token = HR_BUF_INIT, body = HR_BUF_INIT;
    int64_t exp = ta_now () - 5;        //  within the leeway: accepted
    ta_mint (&s_keys, &token, "u", exp, "", "[\"orders\"]", NULL);
    s_open_http (fx, &client, token.data);
    assert_non_null (client.conn->claims);
    assert_string_equal (client.conn->claims->sub, "u");
    assert_true (s_sweep (fx, &client));
    s_dechunk (s_text (&client), client.got.size, &body);
    hr_buf_putc (&body, 0);
    char want [256];
    snprintf (want, sizeof want,
              "event: herald-token-expiring\ndata: {\"exp\":%lld,\"in\":0}\n\n"
              "event: herald-token-expired\ndata: {\"exp\":%lld}\n\n",
              (long long) exp, (long long) exp);
    assert_string_equal (body.data, want);
    hr_buf_free (&token);
    hr_buf_free (&body);
    s_gone (fx, &client);
}

static void
test_http_stream_ends_with_revoked_then_the_terminating_chunk (void **state)
{
    s_fx_t *fx = *state;
    s_client_t client;
    hr_buf_t token = HR_BUF_INIT, body = HR_BUF_INIT;
    ta_mint (&s_keys, &token, "u", ta_now () + 600, "", "[\"orders\"]", NULL);
    s_open_http (fx, &client, token.data);
    assert_false (s_sweep (fx, &client));
    assert_int_equal (client.got.size, 0);
    ta_revoke (fx->worker.auth, HR_REVOKE_SUB, "u");
    assert_true (s_sweep (fx, &client));
    s_dechunk (s_text (&client), client.got.size, &body);
    hr_buf_putc (&body, 0);
    assert_string_equal (body.data, "event: herald-token-revoked\ndata: {}\n\n");
    hr_buf_free (&token);
    hr_buf_free (&body);
    s_gone (fx, &client);
}

static void
test_http10_stream_ends_with_expired_then_eof (void **state)
{
    s_fx_t *fx = *state;
    s_client_t client;
    hr_buf_t token = HR_BUF_INIT;
    int64_t exp = ta_now () - 5;
    ta_mint (&s_keys, &token, "u", exp, "", "[\"orders\"]", NULL);
    s_open_http_version (fx, &client, token.data, true);
    assert_true (s_sweep (fx, &client));
    char want [256];
    snprintf (want, sizeof want,
              "event: herald-token-expiring\ndata: {\"exp\":%lld,\"in\":0}\n\n"
              "event: herald-token-expired\ndata: {\"exp\":%lld}\n\n",
              (long long) exp, (long long) exp);
    assert_string_equal (s_text (&client), want);
    hr_buf_free (&token);
    s_gone (fx, &client);
}

int
main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, s_token_setup, s_token_teardown)
    const struct CMUnitTest tests [] = {
        T (test_warned_once_30s_before_exp),
        T (test_not_warned_earlier_than_30s),
        T (test_new_claims_are_warned_again),
        T (test_closed_at_exp_with_herald_token_expired),
        T (test_events_rendered_before_exp_go_out_before_herald_token_expired),
        T (test_past_exp_is_warned_then_closed_in_one_sweep),
        T (test_revoked_closes_within_one_sweep),
        T (test_any_revocation_rechecks_every_connection),
        T (test_a_connection_without_claims_is_untouched),
        T (test_http_stream_ends_with_expired_then_the_terminating_chunk),
        T (test_http_stream_ends_with_revoked_then_the_terminating_chunk),
        T (test_http10_stream_ends_with_expired_then_eof),
    };
    return cmocka_run_group_tests (tests, ta_group_setup, ta_group_teardown);
}
