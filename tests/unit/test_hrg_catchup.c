/*  test_hrg_catchup: a resuming SSE connection's catch-up
    (gateway/hrg_catchup.c, with the shared pages of gateway/hrg_fetch.c):
    replay from the recent ring, from a broker fetch, a fetch of another
    epoch, a broker timeout, expired history, paging under the
    per-connection budget, one fetch shared by two connections, a waiter
    that disconnects, and resumes waiting for --catchup-memory.

    A hand-built worker's hrg_link talks to a fake broker over inproc://
    (hrg_test_worker.h); each client is a socketpair whose far end the test
    reads (or does not), opened through hrg_sse_open with no HTTP head, so
    the test reads the raw event stream.  */
#include "hrg_channel.h"
#include "hrg_fetch.h"
#include "hrg_group.h"
#include "hrg_link.h"
#include "hrg_sse.h"
#include "hrg_worker.h"
#include "hrg_test_worker.h"
#include "hr_mpack.h"

#include <errno.h>
#include <sys/socket.h>

#define E1 "aaaaaaaaaaaaaaaa"
#define E2 "bbbbbbbbbbbbbbbb"
#define S_WAIT_MS 2000
#define S_EVENTS_MAX 2048

typedef tw_t s_fx_t;

//  One SSE client: the connection and the far end of its socket.
typedef struct {
    hrg_conn_t *conn;
    int peer;
    hr_buf_t got;               //  every byte read so far
} s_client_t;

static int s_link_ids;

//  --------------------------------------------------------------------
//  Fixture

static int
s_setup (void **state)
{
    s_fx_t *fx = tw_new (9500 + ++s_link_ids);
    fx->config.recent_events = 0;       //  most tests need the broker path
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fx_t *fx = *state;
    hrg_worker_t *w = &fx->worker;
    hrg_sse_close_all (w);
    hrg_sse_reap (w);
    assert_true (hr_list_empty (&w->conns));
    assert_true (hr_list_empty (&w->reaped));
    assert_int_equal (zhashx_size (w->channels), 0);
    assert_null (w->pages);
    assert_true (hr_list_empty (&w->waiting));
    assert_int_equal (w->catchup_bytes, 0);
    assert_int_equal (tw_metric (fx, fx->ids.catchup_bytes), 0);
    assert_int_equal (tw_metric (fx, fx->ids.catchup_waiting), 0);
    tw_destroy (&fx);
    return 0;
}

//  Feeds an envelope to the worker as if from the broker stream.
static void
s_feed (s_fx_t *fx, hr_event_t ev)
{
    hr_buf_t frame = HR_BUF_INIT;
    hr_event_encode (&ev, &frame);
    hr_error_t error;
    hrg_event_t *event = hrg_event_decode (frame.data, frame.size, &error);
    assert_non_null (event);
    hrg_channel_on_stream (&fx->worker, event);
    hr_buf_free (&frame);
}

//  The channel "orders" live at (epoch, head): its head marker.
static void
s_live_at (s_fx_t *fx, const char *epoch, uint64_t head)
{
    s_feed (fx, tfb_head_marker ("orders", epoch, head));
}

//  Opens a client of "orders" resuming from (epoch, seq).
static void
s_open (s_fx_t *fx, s_client_t *client, const char *epoch, uint64_t seq)
{
    int sv [2];
    assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    int small = 4096;
    setsockopt (sv [0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    const char *names [] = { "orders" };
    hr_position_t *positions = hr_calloc (1, sizeof *positions);
    positions->epoch_len = strlen (epoch);
    memcpy (positions->epoch, epoch, positions->epoch_len + 1);
    positions->seq = seq;
    memset (client, 0, sizeof *client);
    client->peer = sv [1];
    client->conn = hrg_sse_open (&fx->worker, sv [0], hr_chanset_new (names, 1),
                                 positions, false);
    hrg_sse_start (client->conn);
}

//  Reads what the client's socket holds.
static void
s_read (s_client_t *client)
{
    char buffer [65536];
    ssize_t size;
    while ((size = read (client->peer, buffer, sizeof buffer)) > 0)
        hr_buf_put (&client->got, buffer, (size_t) size);
}

static void
s_close (s_fx_t *fx, s_client_t *client)
{
    if (client->conn)
        hrg_sse_close (client->conn);
    hrg_sse_reap (&fx->worker);
    close (client->peer);
    hr_buf_free (&client->got);
    client->conn = NULL;
}

//  The seqs of the events the client read, in order; resets are counted
//  apart with the reason of the last one.
typedef struct {
    uint64_t seqs [S_EVENTS_MAX];
    size_t count;
    size_t resets;
    char reason [32];
} s_seen_t;

static void
s_parse (s_client_t *client, s_seen_t *seen)
{
    memset (seen, 0, sizeof *seen);
    hr_buf_putc (&client->got, 0);
    client->got.size--;
    for (const char *p = client->got.data; p && *p; ) {
        const char *end = strstr (p, "\n\n");
        if (!end)
            break;
        if (strncmp (p, "event: herald-reset\n", 20) == 0) {
            const char *reason = strstr (p, "\"reason\":\"");
            assert_true (reason && reason < end);
            reason += 10;
            size_t len = (size_t) (strchr (reason, '"') - reason);
            snprintf (seen->reason, sizeof seen->reason, "%.*s", (int) len, reason);
            seen->resets++;
        }
        else {
            const char *data = strstr (p, "\ndata: ");
            if (data && data < end) {
                const char *seq = strstr (data, "\"seq\":");
                assert_true (seq && seq < end);
                assert_true (seen->count < S_EVENTS_MAX);
                seen->seqs [seen->count++] = strtoull (seq + 6, NULL, 10);
            }
        }
        p = end + 2;
    }
}

//  One turn of the worker's loop, as far as catch-up is concerned.
static void
s_turn (s_fx_t *fx)
{
    hrg_link_process (fx->worker.link);
    hrg_sse_flush_dirty (&fx->worker);
    hrg_sse_reap (&fx->worker);
}

//  Takes one history request for "orders" (failing the test without one).
static void
s_take (s_fx_t *fx, tfb_request_t *request)
{
    assert_true (tfb_recv (&fx->broker, request, S_WAIT_MS));
    assert_int_equal (request->error, HR_OK);
    assert_int_equal (request->req.op, HR_OP_HISTORY);
}

//  Answers a history request from a history 1..head of epoch (events of
//  that epoch after since, at most limit).
static void
s_answer (s_fx_t *fx, tfb_request_t *request, const char *epoch, uint64_t head)
{
    static hr_event_t events [HR_HISTORY_LIMIT_MAX];
    uint64_t since = request->req.since, count = 0;
    for (uint64_t seq = since + 1; seq <= head && count < request->req.limit; seq++)
        events [count++] = tfb_event ("orders", epoch, seq);
    tfb_reply_history (&fx->broker, request, epoch, 1, head, HR_RESET_NONE, events, count);
    tfb_request_free (request);
}

typedef struct {
    s_fx_t *fx;
    s_client_t *client;
    size_t want;
} s_until_t;

//  Steps the worker and reads the client until it has seen want events.
static bool
s_step_until (void *arg)
{
    s_until_t *until = arg;
    s_turn (until->fx);
    s_read (until->client);
    s_seen_t seen;
    s_parse (until->client, &seen);
    return seen.count + seen.resets >= until->want;
}

static void
s_wait_seen (s_fx_t *fx, s_client_t *client, size_t want)
{
    s_until_t until = { fx, client, want };
    assert_true (tfb_wait (s_step_until, &until, S_WAIT_MS));
}

//  Steps the worker until the broker has a request (or the deadline).
static bool
s_step_pending (void *arg)
{
    s_fx_t *fx = arg;
    s_turn (fx);
    return tfb_pending (&fx->broker);
}

static void
s_assert_range (const s_seen_t *seen, uint64_t first, uint64_t last)
{
    assert_int_equal (seen->count, last - first + 1);
    for (size_t i = 0; i < seen->count; i++)
        assert_int_equal (seen->seqs [i], first + i);
}

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
    assert_non_null (client.conn->group);   //  level: live
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
    assert_non_null (client.conn->group);
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
    assert_non_null (client.conn->group);   //  live from the channel's position
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
    uint64_t pending = hrg_sse_own_pending (client.conn);
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
    while (!client.conn->group) {
        assert_true (hr_mono_ms () < deadline);
        s_read (&client);
        hrg_sse_on_socket (client.conn, EPOLLOUT);
        s_turn (fx);
        tfb_request_t request;
        if (tfb_recv (&fx->broker, &request, 1))
            s_answer (fx, &request, E1, head);
    }
    s_read (&client);
    hrg_sse_flush (client.conn);
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
    while (!client.conn->group) {
        assert_true (hr_mono_ms () < deadline);
        s_read (&client);
        hrg_sse_on_socket (client.conn, EPOLLOUT);
        s_turn (fx);
        tfb_request_t request;
        if (tfb_recv (&fx->broker, &request, 1))
            s_answer_channel (fx, &request, head);
    }
    s_read (&client);
    hrg_sse_flush (client.conn);
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
    hrg_sse_sweep (&fx->worker, hr_mono_ms ());
    assert_false (client.conn->closing);        //  not yet
    hrg_sse_sweep (&fx->worker, hr_mono_ms () + 5000);
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
    uint64_t taken = hrg_reader_position (&client.conn->own_reader);
    while (hrg_reader_position (&client.conn->own_reader) == taken) {
        char buffer [256];
        assert_true (read (client.peer, buffer, sizeof buffer) > 0);
        hrg_sse_on_socket (client.conn, EPOLLOUT);
    }
    assert_true (client.conn->blocked);
    hrg_sse_sweep (&fx->worker, progress_ms + 4999);
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
    assert_non_null (client.conn->group);
    for (uint64_t seq = 1; seq <= 1000 && !client.conn->closing; seq++) {
        s_feed (fx, tfb_event ("orders", E1, seq));
        hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    }
    assert_true (client.conn->closing);         //  without waiting for the sweep
    assert_int_equal (tw_metric (fx, fx->ids.slow_consumers), 1);
    client.conn = NULL;
    s_close (fx, &client);
}

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
        uint64_t pending = hrg_sse_own_pending (c->conn);
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
    while (!a.conn->group || !b.conn->group) {
        assert_true (hr_mono_ms () < deadline);
        s_turn (fx);
    }
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
        cmocka_unit_test_setup_teardown (test_replay_from_the_recent_ring, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_replay_from_a_broker_fetch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_fetch_of_another_epoch_is_a_reset,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_expired_history_is_a_reset, s_setup, s_teardown),
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
        cmocka_unit_test_setup_teardown (test_a_waiting_resume_that_disconnects_leaves_the_queue,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
