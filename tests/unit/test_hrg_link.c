/*  test_hrg_link: requests, replies and deadlines of the worker's DEALER
    link (gateway/hrg_link), against a fake broker over inproc://.  */
#include "hrg_link.h"
#include "hrg_fake_broker.h"
#include "hr_log.h"
#include "support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#define S_TIMEOUT_MS 5000

//  What one request's callback saw.
typedef struct {
    int calls;
    uint64_t rid;
    bool null_reply;
    bool has_rid;
    uint64_t seq;
    hr_error_t error;
    size_t frames;
    uint64_t frame_seqs [8];
    hrg_link_t *resend;         //  the callback publishes again on it
    uint64_t resent_rid;
} s_result_t;

static void
s_on_reply (void *arg, uint64_t rid, const hr_reply_t *reply, zmq_msg_t *frames, size_t count)
{
    s_result_t *result = arg;
    result->calls++;
    result->rid = rid;
    result->null_reply = reply == NULL;
    if (reply) {
        result->has_rid = reply->has_rid;
        result->seq = reply->seq;
        result->error = reply->error;
    }
    result->frames = count;
    for (size_t i = 0; i < count && i < 8; i++) {
        hr_event_t ev;
        assert_int_equal (hr_event_decode (zmq_msg_data (&frames [i]),
                                           zmq_msg_size (&frames [i]), &ev), HR_OK);
        result->frame_seqs [i] = ev.seq;
    }
    if (result->resend) {
        hr_event_t ev = tfb_event ("orders", NULL, 0);
        result->resent_rid = hrg_link_publish (result->resend, &ev, s_on_reply, result);
    }
}

typedef struct {
    void *ctx;
    tfb_broker_t broker;
    hrg_link_t *link;
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fx = calloc (1, sizeof *fx);
    fx->ctx = zmq_ctx_new ();
    tfb_start (&fx->broker, fx->ctx);
    hr_buf_t err = HR_BUF_INIT;
    fx->link = hrg_link_new (fx->ctx, fx->broker.req_endpoint, "", "", 1000, 1, &err);
    assert_non_null (fx->link);
    hr_buf_free (&err);
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fx = *state;
    hrg_link_destroy (&fx->link);
    tfb_stop (&fx->broker);
    zmq_ctx_term (fx->ctx);
    free (fx);
    return 0;
}

static uint64_t
s_publish (s_fixture_t *fx, s_result_t *result)
{
    hr_event_t ev = tfb_event ("orders", NULL, 0);
    ev.epoch = NULL;
    uint64_t rid = hrg_link_publish (fx->link, &ev, s_on_reply, result);
    assert_true (rid != 0);
    return rid;
}

static void
s_take (s_fixture_t *fx, tfb_request_t *request)
{
    assert_true (tfb_recv (&fx->broker, request, S_TIMEOUT_MS));
    assert_int_equal (request->error, HR_OK);
}

//  Processes replies until result was called (or the deadline passes).
typedef struct {
    hrg_link_t *link;
    s_result_t *result;
} s_wait_t;

static bool
s_step (void *arg)
{
    s_wait_t *wait = arg;
    hrg_link_process (wait->link);
    return wait->result->calls > 0;
}

static void
s_wait_for (s_fixture_t *fx, s_result_t *result)
{
    s_wait_t wait = { fx->link, result };
    assert_true (tfb_wait (s_step, &wait, S_TIMEOUT_MS));
}

//  Processes for a short while: for checking that nothing is called.
static void
s_settle (s_fixture_t *fx)
{
    s_result_t never = { 0 };
    s_wait_t wait = { fx->link, &never };
    tfb_wait (s_step, &wait, 50);
}

//  --------------------------------------------------------------------

static void
test_inproc_link_counts_as_connected (void **state)
{
    s_fixture_t *fx = *state;
    assert_true (hrg_link_update (fx->link));
}

static void
test_in_order_replies_reach_their_callbacks (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t a = { 0 }, b = { 0 };
    uint64_t rid_a = s_publish (fx, &a);
    uint64_t rid_b = s_publish (fx, &b);
    assert_true (rid_a != rid_b);
    tfb_request_t ra, rb;
    s_take (fx, &ra);
    s_take (fx, &rb);
    assert_true (ra.req.has_rid);
    assert_int_equal (ra.req.rid, rid_a);
    assert_int_equal (rb.req.rid, rid_b);
    tfb_reply_ack (&fx->broker, &ra, true, 7, "e1", false);
    tfb_reply_ack (&fx->broker, &rb, true, 8, "e1", false);
    s_wait_for (fx, &b);
    assert_int_equal (a.calls, 1);
    assert_int_equal (a.rid, rid_a);
    assert_int_equal (a.seq, 7);
    assert_int_equal (b.calls, 1);
    assert_int_equal (b.seq, 8);
    assert_int_equal (hrg_link_next_deadline (fx->link), UINT64_MAX);
    tfb_request_free (&ra);
    tfb_request_free (&rb);
}

static void
test_out_of_order_replies_match_by_rid (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t results [3] = { { 0 } };
    tfb_request_t requests [3];
    for (int i = 0; i < 3; i++)
        s_publish (fx, &results [i]);
    for (int i = 0; i < 3; i++)
        s_take (fx, &requests [i]);
    //  Last first, then the first, then the middle one
    tfb_reply_ack (&fx->broker, &requests [2], true, 30, "e1", false);
    s_wait_for (fx, &results [2]);
    assert_int_equal (results [0].calls, 0);
    assert_int_equal (results [1].calls, 0);
    assert_int_equal (results [2].seq, 30);
    tfb_reply_ack (&fx->broker, &requests [0], true, 10, "e1", false);
    s_wait_for (fx, &results [0]);
    assert_int_equal (results [0].seq, 10);
    assert_int_equal (results [1].calls, 0);
    tfb_reply_ack (&fx->broker, &requests [1], true, 20, "e1", false);
    s_wait_for (fx, &results [1]);
    for (int i = 0; i < 3; i++) {
        assert_int_equal (results [i].calls, 1);
        assert_int_equal (results [i].rid, requests [i].req.rid);
        assert_int_equal (results [i].seq, (uint64_t) (i + 1) * 10);
        tfb_request_free (&requests [i]);
    }
    assert_int_equal (hrg_link_next_deadline (fx->link), UINT64_MAX);
}

static void
test_reply_without_rid_calls_nobody (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t a = { 0 };
    s_publish (fx, &a);
    tfb_request_t ra;
    s_take (fx, &ra);
    tfb_reply_error (&fx->broker, &ra, false, HR_E_FRAME_TOO_LARGE);
    s_settle (fx);
    assert_int_equal (a.calls, 0);
    //  The request still waits for its own reply
    assert_true (hrg_link_next_deadline (fx->link) != UINT64_MAX);
    tfb_reply_error (&fx->broker, &ra, true, HR_E_FRAME_TOO_LARGE);
    s_wait_for (fx, &a);
    assert_int_equal (a.calls, 1);
    assert_false (a.null_reply);
    assert_int_equal (a.error, HR_E_FRAME_TOO_LARGE);
    tfb_request_free (&ra);
}

static void
test_reply_to_unknown_rid_and_garbage_are_ignored (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t a = { 0 };
    s_publish (fx, &a);
    tfb_request_t ra;
    s_take (fx, &ra);
    tfb_request_t stranger = ra;
    stranger.req.rid = ra.req.rid + 100;
    tfb_reply_ack (&fx->broker, &stranger, true, 1, "e1", false);
    const void *frames [1] = { "\xc1garbage" };
    size_t sizes [1] = { 8 };
    tfb_send_frames (&fx->broker, &ra, frames, sizes, 1);
    s_settle (fx);
    assert_int_equal (a.calls, 0);
    tfb_reply_ack (&fx->broker, &ra, true, 2, "e1", false);
    s_wait_for (fx, &a);
    assert_int_equal (a.seq, 2);
    tfb_request_free (&ra);
}

static void
test_undecodable_replies_are_logged_through_the_rate_limit (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t a = { 0 };
    s_publish (fx, &a);
    tfb_request_t ra;
    s_take (fx, &ra);
    unsigned long long before = hr_log_suppressed ();
    const void *frames [1] = { "\xc1" };
    size_t sizes [1] = { 1 };
    for (int i = 0; i < 3 * HR_LOG_LIMIT_PER_S; i++)
        tfb_send_frames (&fx->broker, &ra, frames, sizes, 1);
    tfb_reply_ack (&fx->broker, &ra, true, 1, "e1", false);
    s_wait_for (fx, &a);
    assert_true (hr_log_suppressed () - before >= HR_LOG_LIMIT_PER_S);
    tfb_request_free (&ra);
}

static void
test_history_reply_carries_envelope_frames (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t a = { 0 };
    uint64_t rid = hrg_link_history (fx->link, "orders", "e1", 4, 3, s_on_reply, &a);
    assert_true (rid != 0);
    tfb_request_t ra;
    s_take (fx, &ra);
    assert_int_equal (ra.req.op, HR_OP_HISTORY);
    assert_int_equal (ra.req.since, 4);
    assert_int_equal (ra.req.limit, 3);
    hr_event_t events [3];
    for (int i = 0; i < 3; i++)
        events [i] = tfb_event ("orders", "e1", 5 + (uint64_t) i);
    tfb_reply_history (&fx->broker, &ra, "e1", 1, 7, HR_RESET_NONE, events, 3);
    s_wait_for (fx, &a);
    assert_int_equal (a.calls, 1);
    assert_int_equal (a.frames, 3);
    assert_int_equal (a.frame_seqs [0], 5);
    assert_int_equal (a.frame_seqs [2], 7);
    tfb_request_free (&ra);
}

//  The broker reads history in a thread of its own: a publish's ack, and a
//  later history reply, can overtake a history reply (docs/protocol.md §3).
static void
test_ack_overtakes_history_reply (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t h1 = { 0 }, p = { 0 }, h2 = { 0 };
    uint64_t rid_h1 = hrg_link_history (fx->link, "orders", "e1", 0, 3, s_on_reply, &h1);
    uint64_t rid_p = s_publish (fx, &p);
    uint64_t rid_h2 = hrg_link_history (fx->link, "stats", "e2", 0, 3, s_on_reply, &h2);
    assert_true (rid_h1 && rid_p && rid_h2);
    tfb_request_t r1, rp, r2;
    s_take (fx, &r1);
    s_take (fx, &rp);
    s_take (fx, &r2);
    tfb_reply_ack (&fx->broker, &rp, true, 8, "e1", false);
    s_wait_for (fx, &p);
    assert_int_equal (p.rid, rid_p);
    assert_int_equal (p.seq, 8);
    assert_int_equal (h1.calls + h2.calls, 0);
    hr_event_t ev = tfb_event ("stats", "e2", 1);
    tfb_reply_history (&fx->broker, &r2, "e2", 1, 1, HR_RESET_NONE, &ev, 1);
    s_wait_for (fx, &h2);
    assert_int_equal (h2.rid, rid_h2);
    assert_int_equal (h2.frames, 1);
    assert_int_equal (h1.calls, 0);
    hr_event_t events [2] = { tfb_event ("orders", "e1", 1), tfb_event ("orders", "e1", 2) };
    tfb_reply_history (&fx->broker, &r1, "e1", 1, 8, HR_RESET_NONE, events, 2);
    s_wait_for (fx, &h1);
    assert_int_equal (h1.rid, rid_h1);
    assert_int_equal (h1.frames, 2);
    assert_int_equal (h1.frame_seqs [1], 2);
    assert_int_equal (p.calls + h1.calls + h2.calls, 3);
    assert_int_equal (hrg_link_next_deadline (fx->link), UINT64_MAX);
    tfb_request_free (&r1);
    tfb_request_free (&rp);
    tfb_request_free (&r2);
}

static void
test_cancelled_request_is_never_called (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t a = { 0 }, b = { 0 };
    uint64_t rid_a = s_publish (fx, &a);
    s_publish (fx, &b);
    hrg_link_cancel (fx->link, rid_a);
    tfb_request_t ra, rb;
    s_take (fx, &ra);
    s_take (fx, &rb);
    tfb_reply_ack (&fx->broker, &ra, true, 1, "e1", false);
    tfb_reply_ack (&fx->broker, &rb, true, 2, "e1", false);
    s_wait_for (fx, &b);
    assert_int_equal (a.calls, 0);
    assert_int_equal (b.calls, 1);
    //  Nor on expiry or destroy
    hrg_link_expire (fx->link, UINT64_MAX - 1);
    hrg_link_destroy (&fx->link);
    assert_int_equal (a.calls, 0);
    assert_int_equal (b.calls, 1);
    tfb_request_free (&ra);
    tfb_request_free (&rb);
}

static void
test_expired_request_is_called_once_with_null (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t a = { 0 }, b = { 0 };
    uint64_t before = hr_mono_ms ();
    s_publish (fx, &a);
    s_publish (fx, &b);
    uint64_t deadline = hrg_link_next_deadline (fx->link);
    assert_true (deadline >= before + 1000);
    assert_true (deadline <= hr_mono_ms () + 1000);
    hrg_link_expire (fx->link, deadline - 1);
    assert_int_equal (a.calls, 0);
    hrg_link_expire (fx->link, UINT64_MAX - 1);
    assert_int_equal (a.calls, 1);
    assert_true (a.null_reply);
    assert_int_equal (b.calls, 1);
    assert_true (b.null_reply);
    assert_int_equal (hrg_link_next_deadline (fx->link), UINT64_MAX);
    //  A late reply finds nobody
    tfb_request_t ra;
    s_take (fx, &ra);
    tfb_reply_ack (&fx->broker, &ra, true, 1, "e1", false);
    s_settle (fx);
    assert_int_equal (a.calls, 1);
    tfb_request_free (&ra);
}

static void
test_destroy_calls_each_pending_callback_once_with_null (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t results [3] = { { 0 } };
    for (int i = 0; i < 3; i++)
        s_publish (fx, &results [i]);
    tfb_request_t r0;
    s_take (fx, &r0);
    tfb_reply_ack (&fx->broker, &r0, true, 1, "e1", false);
    s_wait_for (fx, &results [0]);
    //  A callback that sends again while the link is being destroyed: refused
    results [1].resend = fx->link;
    results [1].resent_rid = 99;
    hrg_link_destroy (&fx->link);
    assert_int_equal (results [1].resent_rid, 0);
    assert_null (fx->link);
    assert_int_equal (results [0].calls, 1);
    assert_false (results [0].null_reply);
    for (int i = 1; i < 3; i++) {
        assert_int_equal (results [i].calls, 1);
        assert_true (results [i].null_reply);
    }
    //  A stopped worker's link is NULL: sends do nothing
    hr_event_t ev = tfb_event ("orders", NULL, 0);
    assert_int_equal (hrg_link_publish (NULL, &ev, s_on_reply, &results [0]), 0);
    hrg_link_cancel (NULL, 1);
    tfb_request_free (&r0);
}

static void
test_send_with_no_broker_fails_at_once (void **state)
{
    void *ctx = zmq_ctx_new ();
    hr_buf_t err = HR_BUF_INIT;
    //  Nobody listens on port 1
    hrg_link_t *link = hrg_link_new (ctx, "tcp://127.0.0.1:1", "", "", 1000, 2, &err);
    assert_non_null (link);
    assert_false (hrg_link_update (link));
    s_result_t a = { 0 };
    hr_event_t ev = tfb_event ("orders", NULL, 0);
    assert_int_equal (hrg_link_publish (link, &ev, s_on_reply, &a), 0);
    assert_int_equal (hrg_link_next_deadline (link), UINT64_MAX);
    hrg_link_destroy (&link);
    assert_int_equal (a.calls, 0);
    hr_buf_free (&err);
    zmq_ctx_term (ctx);
}

//  A peer that accepts the TCP connection but never completes a ZeroMQ
//  handshake (as with CURVE keys the broker refuses) is no broker: the link
//  counts a connection at handshake success, not at TCP connect.
static void
test_tcp_connection_without_handshake_is_not_linked (void **state)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET,
                                .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    assert_int_equal (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    assert_int_equal (listen (fd, 4), 0);
    assert_int_equal (getsockname (fd, (struct sockaddr *) &addr, &len), 0);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", ntohs (addr.sin_port));
    void *ctx = zmq_ctx_new ();
    hr_buf_t err = HR_BUF_INIT;
    hrg_link_t *link = hrg_link_new (ctx, endpoint, "", "", 1000, 7, &err);
    assert_non_null (link);
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    assert_int_equal (poll (&pfd, 1, 5000), 1);
    int peer = accept (fd, NULL, NULL);
    assert_true (peer >= 0);
    //  libzmq reports the TCP connection at once and waits 30 s for the
    //  greeting: for a bounded while, the link must stay unconnected
    uint64_t until = hr_mono_ms () + 300;
    while (hr_mono_ms () < until) {
        assert_false (hrg_link_update (link));
        zmq_poll (NULL, 0, 10);
    }
    hrg_link_destroy (&link);
    close (peer);
    close (fd);
    hr_buf_free (&err);
    zmq_ctx_term (ctx);
}

typedef struct {
    hrg_link_t *link;
    tfb_broker_t *broker;
} s_connect_t;

typedef struct {
    void *socket;
    const char *endpoint;
} s_bind_t;

static bool
s_bound (void *arg)
{
    s_bind_t *bind = arg;
    return zmq_bind (bind->socket, bind->endpoint) == 0;
}

//  Runs the link's connection handling until a request reaches the broker.
static bool
s_connected_and_sent (void *arg)
{
    s_connect_t *connect = arg;
    hrg_link_update (connect->link);
    return tfb_pending (connect->broker);
}

//  A gateway that has just started can get head markers on its SUB before
//  its DEALER connects: a history request then must wait for the broker,
//  not fail (which would reset a resuming client for nothing).
static void
test_history_waits_for_the_broker_to_connect (void **state)
{
    void *ctx = zmq_ctx_new ();
    //  An endpoint nobody listens on yet: bind, read the port, unbind
    void *router = zmq_socket (ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt (router, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal (zmq_bind (router, "tcp://127.0.0.1:*"), 0);
    char endpoint [64];
    size_t size = sizeof endpoint;
    zmq_getsockopt (router, ZMQ_LAST_ENDPOINT, endpoint, &size);
    assert_int_equal (zmq_unbind (router, endpoint), 0);
    hr_buf_t err = HR_BUF_INIT;
    hrg_link_t *link = hrg_link_new (ctx, endpoint, "", "", S_TIMEOUT_MS, 4, &err);
    assert_non_null (link);
    assert_false (hrg_link_update (link));
    s_result_t a = { 0 }, b = { 0 }, p = { 0 };
    uint64_t rid_a = hrg_link_history (link, "orders", "e1", 4, 3, s_on_reply, &a);
    uint64_t rid_b = hrg_link_history (link, "stock", NULL, 0, 0, s_on_reply, &b);
    assert_true (rid_a && rid_b);
    assert_true (hrg_link_next_deadline (link) != UINT64_MAX);
    //  Publishes still fail at once (their HTTP client gets a 503)
    hr_event_t ev = tfb_event ("orders", NULL, 0);
    assert_int_equal (hrg_link_publish (link, &ev, s_on_reply, &p), 0);
    //  The broker comes up (unbind completes in libzmq's I/O thread, so the
    //  port may take a moment to be free again): both requests arrive, in order
    s_bind_t bind = { router, endpoint };
    assert_true (tfb_wait (s_bound, &bind, S_TIMEOUT_MS));
    tfb_broker_t fb = { 0 };
    fb.router = router;
    s_connect_t connect = { link, &fb };
    assert_true (tfb_wait (s_connected_and_sent, &connect, S_TIMEOUT_MS));
    tfb_request_t r1, r2;
    assert_true (tfb_recv (&fb, &r1, S_TIMEOUT_MS));
    assert_true (tfb_recv (&fb, &r2, S_TIMEOUT_MS));
    assert_int_equal (r1.req.rid, rid_a);
    assert_int_equal (r2.req.rid, rid_b);
    tfb_reply_history (&fb, &r1, "e1", 1, 7, HR_RESET_NONE, NULL, 0);
    s_wait_t wait = { link, &a };
    assert_true (tfb_wait (s_step, &wait, S_TIMEOUT_MS));
    assert_int_equal (a.calls, 1);
    assert_false (a.null_reply);
    assert_int_equal (a.rid, rid_a);
    //  The unanswered one is failed once, on destroy
    hrg_link_destroy (&link);
    assert_int_equal (b.calls, 1);
    assert_true (b.null_reply);
    assert_int_equal (p.calls, 0);
    tfb_request_free (&r1);
    tfb_request_free (&r2);
    tfb_stop (&fb);
    hr_buf_free (&err);
    zmq_ctx_term (ctx);
}

//  Held requests keep their deadline, and their number is bounded.
static void
test_held_history_expires_and_is_bounded (void **state)
{
    void *ctx = zmq_ctx_new ();
    hr_buf_t err = HR_BUF_INIT;
    hrg_link_t *link = hrg_link_new (ctx, "tcp://127.0.0.1:1", "", "", 1000, 5, &err);
    assert_non_null (link);
    s_result_t a = { 0 };
    assert_true (hrg_link_history (link, "orders", NULL, 0, 10, s_on_reply, &a) != 0);
    uint64_t deadline = hrg_link_next_deadline (link);
    assert_true (deadline != UINT64_MAX);
    hrg_link_expire (link, deadline - 1);
    assert_int_equal (a.calls, 0);
    hrg_link_expire (link, deadline);
    assert_int_equal (a.calls, 1);
    assert_true (a.null_reply);
    //  Fill the hold to its bound: the next request fails at once
    s_result_t many = { 0 };
    size_t held = 0;
    while (held < 100000 && hrg_link_history (link, "orders", NULL, 0, 10, s_on_reply, &many))
        held++;
    assert_true (held > 0 && held < 100000);
    hrg_link_destroy (&link);
    assert_int_equal (many.calls, (int) held);
    hr_buf_free (&err);
    zmq_ctx_term (ctx);
}

//  Runs the link (replies, held sends) until the broker has a request.
static bool
s_until_requested (void *arg)
{
    s_connect_t *connect = arg;
    hrg_link_update (connect->link);
    hrg_link_process (connect->link);
    hrg_link_expire (connect->link, hr_mono_ms ());
    return tfb_pending (connect->broker);
}

//  `overloaded` on a history request is back-pressure (the broker's replies
//  to this worker are over --reply-memory): the request is asked again
//  after a pause, and its callback sees only the final answer.
static void
test_overloaded_history_is_asked_again (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t a = { 0 };
    uint64_t rid = hrg_link_history (fx->link, "orders", "e1", 4, 3, s_on_reply, &a);
    assert_true (rid != 0);
    tfb_request_t r1, r2;
    s_take (fx, &r1);
    uint64_t asked = hr_mono_ms ();
    tfb_reply_error (&fx->broker, &r1, true, HR_E_OVERLOADED);
    s_connect_t connect = { fx->link, &fx->broker };
    assert_true (tfb_wait (s_until_requested, &connect, S_TIMEOUT_MS));
    assert_true (hr_mono_ms () - asked >= 10);       //  paced, not spun
    assert_int_equal (a.calls, 0);
    s_take (fx, &r2);
    assert_int_equal (r2.req.rid, rid);
    assert_int_equal (r2.req.op, HR_OP_HISTORY);
    assert_int_equal (r2.req.since, 4);
    assert_int_equal (hrg_link_retries (fx->link), 1);
    tfb_reply_history (&fx->broker, &r2, "e1", 1, 7, HR_RESET_NONE, NULL, 0);
    s_wait_for (fx, &a);
    assert_int_equal (a.calls, 1);
    assert_false (a.null_reply);
    assert_int_equal (a.error, HR_OK);
    tfb_request_free (&r1);
    tfb_request_free (&r2);
}

//  A publish is not asked again (its client decides), and neither is a
//  history request whose deadline leaves no time for it.
static void
test_overloaded_publish_and_late_history_fail (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t a = { 0 }, b = { 0 };
    s_publish (fx, &a);
    tfb_request_t ra, rb;
    s_take (fx, &ra);
    tfb_reply_error (&fx->broker, &ra, true, HR_E_OVERLOADED);
    s_wait_for (fx, &a);
    assert_int_equal (a.error, HR_E_OVERLOADED);
    hr_buf_t err = HR_BUF_INIT;
    hrg_link_t *hasty = hrg_link_new (fx->ctx, fx->broker.req_endpoint, "", "", 5, 6, &err);
    assert_non_null (hasty);
    assert_true (hrg_link_history (hasty, "orders", NULL, 0, 1, s_on_reply, &b) != 0);
    s_take (fx, &rb);
    tfb_reply_error (&fx->broker, &rb, true, HR_E_OVERLOADED);
    s_wait_t wait = { hasty, &b };
    assert_true (tfb_wait (s_step, &wait, S_TIMEOUT_MS));
    assert_int_equal (b.calls, 1);
    assert_int_equal (b.error, HR_E_OVERLOADED);
    assert_int_equal (hrg_link_retries (hasty), 0);
    hrg_link_destroy (&hasty);
    assert_int_equal (b.calls, 1);
    hr_buf_free (&err);
    tfb_request_free (&ra);
    tfb_request_free (&rb);
}

//  A held history request the DEALER cannot take (its queue to a broker
//  that does not read is full) is tried again after a pause: the worker
//  sleeps until hrg_link_next_deadline, which must not stay in the past.
static void
test_unsendable_held_history_does_not_spin (void **state)
{
    s_fixture_t *fx = *state;
    s_result_t many = { 0 }, a = { 0 };
    hr_event_t ev = tfb_event ("orders", NULL, 0);
    size_t sent = 0;
    while (sent < 100000 && hrg_link_publish (fx->link, &ev, s_on_reply, &many))
        sent++;
    assert_true (sent > 0 && sent < 100000);
    assert_true (hrg_link_update (fx->link));
    assert_true (hrg_link_history (fx->link, "orders", NULL, 0, 10, s_on_reply, &a) != 0);
    uint64_t now = hr_mono_ms ();
    hrg_link_expire (fx->link, now);            //  tries to send it, cannot
    uint64_t next = hrg_link_next_deadline (fx->link);
    assert_int_equal (a.calls, 0);
    hrg_link_destroy (&fx->link);               //  the callbacks' results live here
    assert_int_equal (a.calls, 1);
    assert_true (next > now);
}

static void
test_bad_endpoint_is_an_error (void **state)
{
    void *ctx = zmq_ctx_new ();
    hr_buf_t err = HR_BUF_INIT;
    assert_null (hrg_link_new (ctx, "nonsense://x", "", "", 1000, 3, &err));
    assert_non_null (err.data);
    assert_non_null (strstr (err.data, "nonsense://x"));
    hr_buf_free (&err);
    zmq_ctx_term (ctx);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_inproc_link_counts_as_connected, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_in_order_replies_reach_their_callbacks,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_out_of_order_replies_match_by_rid,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reply_without_rid_calls_nobody, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reply_to_unknown_rid_and_garbage_are_ignored,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_undecodable_replies_are_logged_through_the_rate_limit,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_history_reply_carries_envelope_frames,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ack_overtakes_history_reply, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cancelled_request_is_never_called,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_expired_request_is_called_once_with_null,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_destroy_calls_each_pending_callback_once_with_null,
                                         s_setup, s_teardown),
        cmocka_unit_test (test_send_with_no_broker_fails_at_once),
        cmocka_unit_test (test_history_waits_for_the_broker_to_connect),
        cmocka_unit_test (test_held_history_expires_and_is_bounded),
        cmocka_unit_test_setup_teardown (test_overloaded_history_is_asked_again,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_overloaded_publish_and_late_history_fail,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unsendable_held_history_does_not_spin,
                                         s_setup, s_teardown),
        cmocka_unit_test (test_bad_endpoint_is_an_error),
        cmocka_unit_test (test_tcp_connection_without_handshake_is_not_linked),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
