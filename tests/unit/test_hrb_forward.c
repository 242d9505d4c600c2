/*  test_hrb_forward: publishes forwarded between brokers (broker/
    hrb_forward), on real sockets: this broker (b1, an hrb_cluster) and a
    ROUTER the test binds on b2's peer endpoint.

    A ROUTER publish for b2 goes out as a "fwd" with a fid and the request
    as sent; b2's "fwdack" comes back to the client as its reply, once; an
    answer for an unknown fid, or from another broker, is dropped; a
    client with no answer gets `unavailable` after the timeout, with its
    rid and its REQ delimiter; a broker not connected means `unavailable`
    at once. The owner's side refuses a forwarded publish it may not
    sequence (no view here) with `unavailable`, never forwarding it again.  */
#include "hrb_forward.h"
#include "hr_proto.h"

#include "cluster_fixture.h"
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

typedef struct {
    char dir [64];
    char path [96];
    hrb_config_t config;
    void *ctx;
    hr_metrics_t *metrics;
    hrb_cluster_t *cluster;
    void *router, *client;          //  this broker's client ROUTER, and a client
    void *b2;                       //  what b2's peer ROUTER receives
    hrb_peers_t *peers;
    hrb_forwards_t *forwards;
    char b2_peer [96];
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fx = calloc (1, sizeof *fx);
    tu_cluster_file (fx->dir, "/tmp/herald-fwd-XXXXXX", fx->path, sizeof fx->path, &fx->config);
    snprintf (fx->b2_peer, sizeof fx->b2_peer, "ipc://%s/x2", fx->dir);
    fx->ctx = zmq_ctx_new ();
    fx->metrics = hr_metrics_new ();
    int linger = 0, timeout = 5000;
    fx->b2 = zmq_socket (fx->ctx, ZMQ_ROUTER);
    zmq_setsockopt (fx->b2, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (fx->b2, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal (zmq_bind (fx->b2, fx->b2_peer), 0);
    hr_buf_t err = HR_BUF_INIT;
    fx->cluster = hrb_cluster_new (fx->ctx, &fx->config, fx->metrics, &err);
    assert_non_null (fx->cluster);
    hr_buf_free (&err);
    fx->router = zmq_socket (fx->ctx, ZMQ_ROUTER);
    fx->client = zmq_socket (fx->ctx, ZMQ_DEALER);
    zmq_setsockopt (fx->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (fx->client, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (fx->router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt (fx->client, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal (zmq_bind (fx->router, "inproc://clients"), 0);
    assert_int_equal (zmq_connect (fx->client, "inproc://clients"), 0);
    fx->peers = hrb_peers_new ();
    fx->forwards = hrb_forwards_new (fx->cluster, fx->router, fx->peers);
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fx = *state;
    hrb_forwards_destroy (&fx->forwards);
    hrb_cluster_destroy (&fx->cluster);
    zmq_close (fx->router);
    zmq_close (fx->client);
    zmq_close (fx->b2);
    hrb_peers_destroy (&fx->peers);
    zmq_ctx_term (fx->ctx);
    hr_metrics_destroy (&fx->metrics);
    char command [160];
    snprintf (command, sizeof command, "rm -rf %s", fx->dir);
    assert_int_equal (system (command), 0);
    free (fx);
    return 0;
}

//  The client sends a frame; returns its routing id as the ROUTER saw it.
static size_t
s_client_id (s_fixture_t *fx, char id [256])
{
    zmq_send (fx->client, "hello", 5, 0);
    int size = zmq_recv (fx->router, id, 256, 0);
    assert_true (size > 0);
    char body [16];
    assert_int_equal (zmq_recv (fx->router, body, sizeof body, 0), 5);
    return (size_t) size;
}

//  The next frame b2 receives from b1, decoded into msg (frame: its bytes).
static void
s_b2_receives (s_fixture_t *fx, hr_buf_t *frame, hrb_peer_msg_t *msg)
{
    char id [64];
    int size = zmq_recv (fx->b2, id, sizeof id, 0);
    assert_int_equal (size, 2);
    assert_memory_equal (id, "b1", 2);
    hr_buf_reset (frame);
    hr_buf_reserve (frame, 65536);
    int len = zmq_recv (fx->b2, frame->data, 65536, 0);
    assert_true (len > 0);
    frame->size = (size_t) len;
    assert_int_equal (hrb_peer_msg_decode (frame->data, frame->size, 7, 65536, msg), HR_OK);
}

//  The client's next reply, decoded (buf keeps its bytes).
static void
s_client_gets (s_fixture_t *fx, hr_buf_t *buf, hr_reply_t *reply)
{
    hr_buf_reset (buf);
    hr_buf_reserve (buf, 4096);
    int len = zmq_recv (fx->client, buf->data, 4096, 0);
    assert_true (len > 0);
    buf->size = (size_t) len;
    assert_int_equal (hr_reply_decode (buf->data, buf->size, reply), HR_OK);
}

static void
s_publish_request (hr_buf_t *out, uint64_t rid)
{
    hr_event_t ev = { .ch = "orders", .ch_len = 6, .data = (const uint8_t *) "\x01", .data_len = 1 };
    hr_request_encode_publish (out, &rid, &ev);
}

static void
test_the_owners_answer_goes_to_the_client (void **state)
{
    s_fixture_t *fx = *state;
    char id [256];
    size_t id_len = s_client_id (fx, id);
    hr_buf_t request = HR_BUF_INIT, frame = HR_BUF_INIT, reply = HR_BUF_INIT;
    s_publish_request (&request, 7);
    //  b1's DEALER to b2 connects in the background (ZMQ_IMMEDIATE)
    for (int i = 0; i < 500 && hrb_forwards_pending (fx->forwards) == 0; i++) {
        hrb_forwards_router (fx->forwards, 1, id, id_len, false, NULL, request.data,
                             request.size, 1000);
        if (hrb_forwards_pending (fx->forwards) == 0) {
            hr_reply_t refused;
            s_client_gets (fx, &reply, &refused);
            assert_int_equal (refused.error, HR_E_UNAVAILABLE);
            usleep (10000);
        }
    }
    assert_int_equal (hrb_forwards_pending (fx->forwards), 1);
    hrb_peer_msg_t msg;
    s_b2_receives (fx, &frame, &msg);
    assert_int_equal (msg.kind, HRB_PEER_FWD);
    assert_true (msg.has_fid);
    assert_int_equal (msg.body_len, request.size);
    assert_memory_equal (msg.body, request.data, request.size);
    //  b2's answer: an unknown fid and one from b3 are dropped
    hrb_peer_msg_t answer = { .kind = HRB_PEER_FWDACK, .fid = msg.fid + 1 };
    hr_buf_t ack = HR_BUF_INIT;
    uint64_t rid = 7;
    hr_reply_encode_ack (&ack, &rid, 41, "0123456789abcdef0123456789abcdef", false);
    answer.body = (const uint8_t *) ack.data;
    answer.body_len = ack.size;
    hrb_forwards_answer (fx->forwards, 1, &answer);
    answer.fid = msg.fid;
    hrb_forwards_answer (fx->forwards, 2, &answer);
    assert_int_equal (hrb_forwards_pending (fx->forwards), 1);
    hrb_forwards_answer (fx->forwards, 1, &answer);
    assert_int_equal (hrb_forwards_pending (fx->forwards), 0);
    hr_reply_t got;
    s_client_gets (fx, &reply, &got);
    assert_int_equal (got.error, HR_OK);
    assert_int_equal ((got.rid), 7);
    assert_int_equal (got.seq, 41);
    //  Answered once: the same answer again is dropped, and nothing expires
    hrb_forwards_answer (fx->forwards, 1, &answer);
    hrb_forwards_expire (fx->forwards, 1000000);
    int more = 0;
    zmq_pollitem_t item = { fx->client, 0, ZMQ_POLLIN, 0 };
    more = zmq_poll (&item, 1, 100);
    assert_int_equal (more, 0);
    hr_buf_free (&ack);
    hr_buf_free (&request);
    hr_buf_free (&frame);
    hr_buf_free (&reply);
}

static void
test_no_answer_is_unavailable_after_the_timeout (void **state)
{
    s_fixture_t *fx = *state;
    char id [256];
    size_t id_len = s_client_id (fx, id);
    hr_buf_t request = HR_BUF_INIT, reply = HR_BUF_INIT;
    s_publish_request (&request, 9);
    uint64_t rid = 9;
    hr_reply_t got;
    for (int i = 0; i < 500 && hrb_forwards_pending (fx->forwards) == 0; i++) {
        hrb_forwards_router (fx->forwards, 1, id, id_len, false, &rid, request.data,
                             request.size, 1000);
        if (hrb_forwards_pending (fx->forwards) == 0) {
            s_client_gets (fx, &reply, &got);
            usleep (10000);
        }
    }
    assert_int_equal (hrb_forwards_pending (fx->forwards), 1);
    hrb_forwards_expire (fx->forwards, 1000 + HRB_FORWARD_TIMEOUT_MS - 1);
    assert_int_equal (hrb_forwards_pending (fx->forwards), 1);
    hrb_forwards_expire (fx->forwards, 1000 + HRB_FORWARD_TIMEOUT_MS);
    assert_int_equal (hrb_forwards_pending (fx->forwards), 0);
    s_client_gets (fx, &reply, &got);
    assert_int_equal (got.error, HR_E_UNAVAILABLE);
    assert_true (got.has_rid);
    assert_int_equal (got.rid, 9);
    hr_buf_free (&request);
    hr_buf_free (&reply);
}

static void
test_a_broker_not_connected_is_unavailable_at_once (void **state)
{
    s_fixture_t *fx = *state;
    char id [256];
    size_t id_len = s_client_id (fx, id);
    hr_buf_t request = HR_BUF_INIT, reply = HR_BUF_INIT;
    s_publish_request (&request, 3);
    uint64_t rid = 3;
    //  b3's peer endpoint: nobody bound it
    hrb_forwards_router (fx->forwards, 2, id, id_len, false, &rid, request.data,
                         request.size, 1000);
    assert_int_equal (hrb_forwards_pending (fx->forwards), 0);
    hr_reply_t got;
    s_client_gets (fx, &reply, &got);
    assert_int_equal (got.error, HR_E_UNAVAILABLE);
    assert_int_equal (got.rid, 3);
    hr_buf_free (&request);
    hr_buf_free (&reply);
}

//  The owner's side: with no view installed this broker may sequence
//  nothing; a forwarded publish is answered unavailable, never published.
static hr_error_t
s_must_not_publish (void *arg, const hr_request_t *req, int from, const hrb_peer_msg_t *msg,
                    uint64_t *seq, char epoch [HR_EPOCH_LEN + 1], bool *dup, bool *later)
{
    fail_msg ("a publish this broker may not sequence was sequenced");
    return HR_OK;
}

static void
test_the_owner_refuses_what_it_may_not_sequence (void **state)
{
    s_fixture_t *fx = *state;
    hr_buf_t request = HR_BUF_INIT, frame = HR_BUF_INIT;
    s_publish_request (&request, 5);
    hrb_peer_msg_t fwd = { .kind = HRB_PEER_FWD, .has_fid = true, .fid = 77,
                           .body = (const uint8_t *) request.data, .body_len = request.size };
    hrb_peer_msg_t msg = { 0 };
    //  Until b1's DEALER to b2 is connected the answer cannot go out
    for (int i = 0; i < 500; i++) {
        int source;
        assert_int_equal (hrb_forwards_serve (fx->forwards, 1, &fwd, 65536, s_must_not_publish,
                                              NULL, &source), HRB_FWD_SERVED);
        zmq_pollitem_t item = { fx->b2, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 10) == 1) {
            s_b2_receives (fx, &frame, &msg);
            break;
        }
    }
    assert_int_equal (msg.kind, HRB_PEER_FWDACK);
    assert_int_equal (msg.fid, 77);
    hr_reply_t got;
    assert_int_equal (hr_reply_decode (msg.body, msg.body_len, &got), HR_OK);
    assert_int_equal (got.error, HR_E_UNAVAILABLE);
    assert_int_equal (got.rid, 5);
    hr_buf_free (&request);
    hr_buf_free (&frame);
}

int
main (void)
{
    alarm (30);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_the_owners_answer_goes_to_the_client, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_no_answer_is_unavailable_after_the_timeout,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_broker_not_connected_is_unavailable_at_once,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_the_owner_refuses_what_it_may_not_sequence,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
