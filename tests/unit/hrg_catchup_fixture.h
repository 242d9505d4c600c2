/*  hrg_catchup_fixture: what the catch-up tests (test_hrg_catchup.c) and
    the shared-page tests (test_hrg_fetch.c) share.

    A hand-built worker's hrg_link talks to a fake broker over inproc://
    (hrg_test_worker.h); each client is a socketpair whose far end the test
    reads (or does not), opened through hrg_sse_open with no HTTP head, so
    the test reads the raw event stream.  */
#ifndef HRG_CATCHUP_FIXTURE_H
#define HRG_CATCHUP_FIXTURE_H
#include "hrg_channel.h"
#include "hrg_fetch.h"
#include "hrg_group.h"
#include "hrg_loop.h"
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

static TU_UNUSED int
s_setup (void **state)
{
    s_fx_t *fx = tw_new (9500 + ++s_link_ids);
    fx->config.recent_events = 0;       //  most tests need the broker path
    *state = fx;
    return 0;
}

static TU_UNUSED int
s_teardown (void **state)
{
    s_fx_t *fx = *state;
    hrg_worker_t *w = &fx->worker;
    hrg_conn_close_all (w, HRG_CLOSE_SHUTDOWN);
    hrg_conn_reap (w);
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
static TU_UNUSED void
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
static TU_UNUSED void
s_live_at (s_fx_t *fx, const char *epoch, uint64_t head)
{
    s_feed (fx, tfb_head_marker ("orders", epoch, head));
}

//  Opens a client of "orders" resuming from (epoch, seq).
static TU_UNUSED void
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
static TU_UNUSED void
s_read (s_client_t *client)
{
    char buffer [65536];
    ssize_t size;
    while ((size = read (client->peer, buffer, sizeof buffer)) > 0)
        hr_buf_put (&client->got, buffer, (size_t) size);
}

static TU_UNUSED void
s_close (s_fx_t *fx, s_client_t *client)
{
    if (client->conn)
        hrg_conn_close (client->conn, HRG_CLOSE_PEER);
    hrg_conn_reap (&fx->worker);
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

static TU_UNUSED void
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
static TU_UNUSED void
s_turn (s_fx_t *fx)
{
    hrg_link_process (fx->worker.link);
    hrg_conn_flush_dirty (&fx->worker);
    hrg_fetch_admit (&fx->worker);
    hrg_conn_reap (&fx->worker);
}

//  Takes one history request for "orders" (failing the test without one).
static TU_UNUSED void
s_take (s_fx_t *fx, tfb_request_t *request)
{
    assert_true (tfb_recv (&fx->broker, request, S_WAIT_MS));
    assert_int_equal (request->error, HR_OK);
    assert_int_equal (request->req.op, HR_OP_HISTORY);
}

//  Answers a history request from a history 1..head of epoch (events of
//  that epoch after since, at most limit).
static TU_UNUSED void
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
static TU_UNUSED bool
s_step_until (void *arg)
{
    s_until_t *until = arg;
    s_turn (until->fx);
    s_read (until->client);
    s_seen_t seen;
    s_parse (until->client, &seen);
    return seen.count + seen.resets >= until->want;
}

static TU_UNUSED void
s_wait_seen (s_fx_t *fx, s_client_t *client, size_t want)
{
    s_until_t until = { fx, client, want };
    assert_true (tfb_wait (s_step_until, &until, S_WAIT_MS));
}

//  Steps the worker until the broker has a request (or the deadline).
static TU_UNUSED bool
s_step_pending (void *arg)
{
    s_fx_t *fx = arg;
    s_turn (fx);
    return tfb_pending (&fx->broker);
}

static TU_UNUSED void
s_assert_range (const s_seen_t *seen, uint64_t first, uint64_t last)
{
    assert_int_equal (seen->count, last - first + 1);
    for (size_t i = 0; i < seen->count; i++)
        assert_int_equal (seen->seqs [i], first + i);
}

#endif
