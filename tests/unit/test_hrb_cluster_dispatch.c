/*  test_hrb_cluster_dispatch: who takes a peer message (broker/hrb_cluster,
    hrb_cluster_serve). Handoff messages go to the handoff taker and
    replication messages ("repl", "rsnap", "rack") to the repl hook, each
    only to its own; while the one it needs is not set, a message is
    refused and counted in herald_cluster_refused_total.

    Broker b1's cluster listens on its peer endpoint; the test talks to it
    as b2 over a DEALER, as another broker would.  */
#include "hrb_cluster.h"

#include "cluster_fixture.h"
#include "hr_time.h"
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#define S_EPOCH "0000010000000001aaaaaaaaaaaaaaaa"

typedef struct {
    tu_cluster_t tu;                //  b1, running
    void *dealer;                   //  b2's socket to b1's peer endpoint
    int repl, handoff;              //  messages each taker got
    hrb_peer_kind_t kind;           //  the last one's kind
    int from;                       //  and its sender's index
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fx = calloc (1, sizeof *fx);
    tu_cluster_open (&fx->tu, "/tmp/herald-dispatch-XXXXXX");
    fx->dealer = zmq_socket (fx->tu.ctx, ZMQ_DEALER);
    assert_int_equal (zmq_setsockopt (fx->dealer, ZMQ_ROUTING_ID, "b2", 2), 0);
    int linger = 0;
    zmq_setsockopt (fx->dealer, ZMQ_LINGER, &linger, sizeof linger);
    char endpoint [128];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/x1", fx->tu.dir);
    assert_int_equal (zmq_connect (fx->dealer, endpoint), 0);
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fx = *state;
    zmq_close (fx->dealer);
    tu_cluster_close (&fx->tu);
    free (fx);
    return 0;
}

static void
s_repl (void *arg, int from, const hrb_peer_msg_t *msg)
{
    s_fixture_t *fx = arg;
    fx->repl++;
    fx->kind = msg->kind;
    fx->from = from;
}

static void
s_handoff (void *arg, int from, const hrb_peer_msg_t *msg)
{
    s_fixture_t *fx = arg;
    fx->handoff++;
    fx->kind = msg->kind;
    fx->from = from;
}

static int64_t
s_refused (s_fixture_t *fx)
{
    hr_buf_t text = HR_BUF_INIT;
    hr_metrics_render (fx->tu.metrics, &text);
    hr_buf_putc (&text, 0);
    const char *line = strstr ((const char *) text.data, "\nherald_cluster_refused_total ");
    assert_non_null (line);
    int64_t value = strtoll (line + strlen ("\nherald_cluster_refused_total "), NULL, 10);
    hr_buf_free (&text);
    return value;
}

//  Sends frame as b2 and serves b1's peer socket until one more message
//  was taken or refused (5 s at most).
static void
s_send (s_fixture_t *fx, hr_buf_t *frame)
{
    int before = fx->repl + fx->handoff;
    int64_t refused = s_refused (fx);
    assert_int_equal (zmq_send (fx->dealer, frame->data, frame->size, 0), (int) frame->size);
    hr_buf_reset (frame);
    uint64_t deadline = hr_mono_ms () + 5000;
    while (fx->repl + fx->handoff == before && s_refused (fx) == refused) {
        assert_true (hr_mono_ms () < deadline);
        zmq_pollitem_t item = { hrb_cluster_socket (fx->tu.cluster), 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 50);
        hrb_cluster_serve (fx->tu.cluster, 8);
    }
}

static void
test_replication_needs_its_hook (void **state)
{
    s_fixture_t *fx = *state;
    uint32_t cf = hrb_cluster_fingerprint (fx->tu.cluster);
    hr_buf_t frame = HR_BUF_INIT;
    //  No hook: refused, even with a handoff taker there
    hrb_cluster_set_handoff (fx->tu.cluster, s_handoff, fx);
    hrb_cluster_hooks_t hooks = { 0 };
    hrb_cluster_set_hooks (fx->tu.cluster, &hooks, fx);
    hrb_peer_msg_encode_repl (&frame, "b2", cf, 1, 1, true, 0, NULL, 0);
    s_send (fx, &frame);
    assert_int_equal (s_refused (fx), 1);
    assert_int_equal (fx->handoff, 0);
    //  With it: each replication type reaches it, from b2 (index 1)
    hooks.repl = s_repl;
    hrb_cluster_set_hooks (fx->tu.cluster, &hooks, fx);
    hrb_peer_msg_encode_repl (&frame, "b2", cf, 1, 2, false, 0, NULL, 0);
    s_send (fx, &frame);
    assert_int_equal (fx->repl, 1);
    assert_int_equal (fx->kind, HRB_PEER_REPL);
    assert_int_equal (fx->from, 1);
    hrb_peer_msg_encode_rsnap (&frame, "b2", cf, 1, 3, false, 0, "room", 4, S_EPOCH, 1, 0,
                               true, NULL, 0, NULL, 0);
    s_send (fx, &frame);
    assert_int_equal (fx->repl, 2);
    assert_int_equal (fx->kind, HRB_PEER_RSNAP);
    hrb_peer_msg_encode_rack (&frame, "b2", cf, 1, 3, false, 9, false, 1, NULL, NULL, 0);
    s_send (fx, &frame);
    assert_int_equal (fx->repl, 3);
    assert_int_equal (fx->kind, HRB_PEER_RACK);
    assert_int_equal (fx->handoff, 0);
    assert_int_equal (s_refused (fx), 1);
    hr_buf_free (&frame);
}

static void
test_handoffs_go_to_their_taker_only (void **state)
{
    s_fixture_t *fx = *state;
    uint32_t cf = hrb_cluster_fingerprint (fx->tu.cluster);
    hr_buf_t frame = HR_BUF_INIT;
    hrb_cluster_hooks_t hooks = { .repl = s_repl };
    hrb_cluster_set_hooks (fx->tu.cluster, &hooks, fx);
    //  No taker: refused, not given to the repl hook; a repl still goes there
    hrb_peer_msg_encode_handoff_ack (&frame, "b2", cf, 1, NULL, 0);
    s_send (fx, &frame);
    assert_int_equal (s_refused (fx), 1);
    assert_int_equal (fx->repl, 0);
    hrb_peer_msg_encode_repl (&frame, "b2", cf, 1, 1, true, 0, NULL, 0);
    s_send (fx, &frame);
    assert_int_equal (fx->repl, 1);
    assert_int_equal (s_refused (fx), 1);
    hrb_cluster_set_handoff (fx->tu.cluster, s_handoff, fx);
    hrb_peer_msg_encode_handoff (&frame, "b2", cf, 1, "room", 4, S_EPOCH, 1, 0, true,
                                 NULL, 0, NULL, 0);
    s_send (fx, &frame);
    assert_int_equal (fx->kind, HRB_PEER_HANDOFF);
    hrb_peer_msg_encode_handoff_end (&frame, "b2", cf, 1, 1);
    s_send (fx, &frame);
    assert_int_equal (fx->kind, HRB_PEER_HANDOFF_END);
    hrb_peer_msg_encode_handoff_ack (&frame, "b2", cf, 1, "room", 4);
    s_send (fx, &frame);
    assert_int_equal (fx->kind, HRB_PEER_HANDOFF_ACK);
    assert_int_equal (fx->handoff, 3);
    assert_int_equal (fx->from, 1);
    assert_int_equal (fx->repl, 1);
    assert_int_equal (s_refused (fx), 1);
    hr_buf_free (&frame);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_replication_needs_its_hook, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_handoffs_go_to_their_taker_only, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
