/*  test_hrb_server: the broker loop (broker/hrb_server), driven over
    inproc:// by real ZeroMQ clients while it runs in a thread: history
    first/head/count arithmetic and resets, the REQ delimiter, head markers
    (on subscribe and for quiet channels), idempotency, rid on every error
    reply, the channel cap, the per-client reply bound, the XPUB batch
    bound, and the loop's failure when ZeroMQ fails.  */
#include "hrb_server.h"
#include "hr_epoch.h"
#include "hr_log.h"
#include "hr_proto.h"
#include "hr_time.h"

#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

#include "hrb_server_fixture.h"

//  Acknowledged publish of data (an integer) on ch; returns the seq.
static uint64_t
s_publish (void *dealer, const char *ch, uint64_t rid, const char *id)
{
    tu_map (3 + (id != NULL));
    tu_kstr ("ch", ch);
    tu_kuint ("data", rid);
    tu_kuint ("rid", rid);
    if (id)
        tu_kstr ("id", id);
    s_send_frame (dealer);
    zmq_msg_t msg;
    hr_reply_t reply;
    s_reply (dealer, &msg, &reply);
    assert_int_equal (reply.error, HR_OK);
    assert_true (reply.has_rid);
    assert_int_equal (reply.rid, rid);
    uint64_t seq = reply.seq;
    zmq_msg_close (&msg);
    return seq;
}

typedef struct {
    hr_reply_t head;
    uint64_t seqs [64];
    size_t count;
} s_history_t;

//  History query; collects the header and the seqs of the envelopes.
static void
s_history (void *dealer, const char *ch, const char *epoch, uint64_t since,
           uint64_t limit, s_history_t *out)
{
    hr_buf_reset (&tu_frame);
    uint64_t rid = 77;
    hr_request_encode_history (&tu_frame, &rid, ch, epoch, since, limit);
    s_send_frame (dealer);
    zmq_msg_t msg;
    s_reply (dealer, &msg, &out->head);
    out->head.ch = NULL;            //  views into msg: not used after close
    out->head.epoch = NULL;
    out->count = 0;
    while (s_more (dealer)) {
        zmq_msg_t frame;
        s_recv (dealer, &frame);
        hr_event_t ev;
        assert_int_equal (hr_event_decode (zmq_msg_data (&frame), zmq_msg_size (&frame), &ev),
                          HR_OK);
        assert_true (out->count < 64);
        out->seqs [out->count++] = ev.seq;
        zmq_msg_close (&frame);
    }
    assert_true (out->head.has_rid);
    assert_int_equal (out->head.rid, rid);
    zmq_msg_close (&msg);
}

//  The epoch of a channel, from an acknowledged publish.
static void
s_epoch_of (void *dealer, const char *ch, char epoch [HR_EPOCH_LEN + 1])
{
    hr_buf_reset (&tu_frame);
    uint64_t rid = 5;
    hr_request_encode_history (&tu_frame, &rid, ch, NULL, 0, 0);
    s_send_frame (dealer);
    zmq_msg_t msg;
    hr_reply_t reply;
    s_reply (dealer, &msg, &reply);
    assert_non_null (reply.epoch);
    assert_int_equal (reply.epoch_len, HR_EPOCH_LEN);
    memcpy (epoch, reply.epoch, HR_EPOCH_LEN);
    epoch [HR_EPOCH_LEN] = 0;
    zmq_msg_close (&msg);
}

//  --------------------------------------------------------------------
//  History arithmetic

static void
test_history_first_head_count (void **state)
{
    s_fixture_t *f = *state;
    f->config.history_size = 3;
    s_create (f);
    s_start (f);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    for (uint64_t i = 1; i <= 5; i++)
        assert_int_equal (s_publish (dealer, "orders", i, NULL), i);
    s_history_t h;
    //  Keeps seqs 3..5: first 3, head 5
    s_history (dealer, "orders", NULL, 2, 100, &h);
    assert_int_equal (h.head.first, 3);
    assert_int_equal (h.head.head, 5);
    assert_int_equal (h.head.count, 3);
    assert_int_equal (h.head.reset, HR_RESET_NONE);
    assert_int_equal (h.count, 3);
    assert_int_equal (h.seqs [0], 3);
    assert_int_equal (h.seqs [2], 5);
    //  limit cuts from the oldest side
    s_history (dealer, "orders", NULL, 3, 1, &h);
    assert_int_equal (h.head.count, 1);
    assert_int_equal (h.seqs [0], 4);
    //  since == head: nothing, no reset
    s_history (dealer, "orders", NULL, 5, 100, &h);
    assert_int_equal (h.head.count, 0);
    assert_int_equal (h.head.reset, HR_RESET_NONE);
    //  since + 1 < first: expired; since + 1 == first is fine
    s_history (dealer, "orders", NULL, 1, 100, &h);
    assert_int_equal (h.head.reset, HR_RESET_EXPIRED);
    assert_int_equal (h.count, 0);
    //  since > head: cursor-ahead
    s_history (dealer, "orders", NULL, 6, 100, &h);
    assert_int_equal (h.head.reset, HR_RESET_CURSOR_AHEAD);
    //  another epoch: epoch-changed; an epoch for a channel the broker
    //  does not have: unknown-channel; no epoch, no channel: empty
    s_history (dealer, "orders", "0000000000000000", 5, 100, &h);
    assert_int_equal (h.head.reset, HR_RESET_EPOCH_CHANGED);
    s_history (dealer, "nope", "0000000000000000", 0, 100, &h);
    assert_int_equal (h.head.reset, HR_RESET_UNKNOWN_CHANNEL);
    s_history (dealer, "nope", NULL, 0, 100, &h);
    assert_int_equal (h.head.reset, HR_RESET_NONE);
    assert_int_equal (h.head.first, 1);
    assert_int_equal (h.head.head, 0);
    char epoch [HR_EPOCH_LEN + 1];
    s_epoch_of (dealer, "orders", epoch);
    s_history (dealer, "orders", epoch, 4, 100, &h);
    assert_int_equal (h.head.reset, HR_RESET_NONE);
    assert_int_equal (h.count, 1);
}

//  --------------------------------------------------------------------
//  The REQ delimiter

static void
test_req_client_gets_delimited_reply_dealer_does_not (void **state)
{
    s_fixture_t *f = *state;
    s_create (f);
    s_start (f);
    void *req = s_client (f, ZMQ_REQ, f->router);
    tu_map (3);
    tu_kstr ("ch", "r");
    tu_kuint ("data", 1);
    tu_kuint ("rid", 9);
    s_send_frame (req);
    zmq_msg_t msg;
    hr_reply_t reply;
    s_reply (req, &msg, &reply);                //  REQ strips the delimiter
    assert_int_equal (reply.seq, 1);
    assert_int_equal (reply.rid, 9);
    assert_false (s_more (req));
    zmq_msg_close (&msg);
    //  A DEALER that sends the delimiter itself gets it back
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    zmq_send (dealer, "", 0, ZMQ_SNDMORE);
    s_send_frame (dealer);
    s_recv (dealer, &msg);
    assert_int_equal (zmq_msg_size (&msg), 0);
    assert_true (s_more (dealer));
    zmq_msg_close (&msg);
    s_reply (dealer, &msg, &reply);
    assert_int_equal (reply.seq, 2);
    assert_false (s_more (dealer));
    zmq_msg_close (&msg);
    //  Without it: one frame, the reply
    s_send_frame (dealer);
    s_reply (dealer, &msg, &reply);
    assert_int_equal (reply.seq, 3);
    assert_false (s_more (dealer));
    zmq_msg_close (&msg);
}

//  --------------------------------------------------------------------
//  Idempotency

static void
test_repeat_id_is_acknowledged_once (void **state)
{
    s_fixture_t *f = *state;
    s_create (f);
    s_start (f);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    assert_int_equal (s_publish (dealer, "d", 1, "k1"), 1);
    assert_int_equal (s_publish (dealer, "d", 2, "k2"), 2);
    assert_int_equal (s_publish (dealer, "d", 3, "k1"), 1);
    assert_int_equal (s_publish (dealer, "e", 4, "k1"), 1);    //  keys are per channel
    assert_int_equal (s_publish (dealer, "d", 5, NULL), 3);
}

//  --------------------------------------------------------------------
//  Error replies carry rid

static void
s_expect_error (void *dealer, hr_error_t code, bool has_rid, uint64_t rid)
{
    zmq_msg_t msg;
    hr_reply_t reply;
    s_reply (dealer, &msg, &reply);
    assert_int_equal (reply.error, code);
    assert_int_equal (reply.has_rid, has_rid);
    if (has_rid)
        assert_int_equal (reply.rid, rid);
    zmq_msg_close (&msg);
}

static void
test_every_error_reply_carries_rid (void **state)
{
    s_fixture_t *f = *state;
    f->config.max_event = 256;
    s_create (f);
    s_start (f);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    char big [400];
    memset (big, 'x', sizeof big - 1);
    big [sizeof big - 1] = 0;
    tu_map (3);
    tu_kuint ("rid", 41);
    tu_kstr ("ch", "big");
    tu_kstr ("data", big);
    s_send_frame (dealer);
    s_expect_error (dealer, HR_E_FRAME_TOO_LARGE, true, 41);
    tu_map (3);
    tu_kstr ("ch", "bad channel");
    tu_kuint ("data", 1);
    tu_kuint ("rid", 42);
    s_send_frame (dealer);
    s_expect_error (dealer, HR_E_BAD_CHANNEL, true, 42);
    tu_map (2);
    tu_kuint ("rid", 43);
    tu_kstr ("ch", "a");
    zmq_send (dealer, tu_frame.data, tu_frame.size, ZMQ_SNDMORE);
    zmq_send (dealer, "x", 1, 0);
    s_expect_error (dealer, HR_E_BAD_TYPE, true, 43);
    s_send_frame (dealer);                      //  no data
    s_expect_error (dealer, HR_E_MISSING_FIELD, true, 43);
    tu_map (1);
    tu_kstr ("ch", "a");
    s_send_frame (dealer);
    s_expect_error (dealer, HR_E_MISSING_FIELD, false, 0);
}

//  --------------------------------------------------------------------
//  Head markers

//  Waits for the next message on a SUB; returns the decoded envelope in ev
//  (views into *msg: close it after).
static void
s_stream_recv (void *sub, zmq_msg_t *msg, hr_event_t *ev)
{
    zmq_msg_t topic;
    s_recv (sub, &topic);
    assert_true (s_more (sub));
    zmq_msg_close (&topic);
    s_recv (sub, msg);
    assert_int_equal (hr_event_decode (zmq_msg_data (msg), zmq_msg_size (msg), ev), HR_OK);
}

static void
test_subscribe_gets_head_marker (void **state)
{
    s_fixture_t *f = *state;
    s_create (f);
    s_start (f);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    void *sub = s_client (f, ZMQ_SUB, f->xpub);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "m|", 2);
    zmq_msg_t msg;
    hr_event_t ev;
    s_stream_recv (sub, &msg, &ev);
    assert_true (ev.head);
    assert_int_equal (ev.seq, 0);
    assert_null (ev.epoch);
    zmq_msg_close (&msg);
    s_publish (dealer, "m", 1, NULL);
    s_stream_recv (sub, &msg, &ev);
    assert_false (ev.head);
    assert_int_equal (ev.seq, 1);
    zmq_msg_close (&msg);
    //  A second subscriber: marker at the head, seen by both (verbose XPUB)
    void *sub2 = s_client (f, ZMQ_SUB, f->xpub);
    zmq_setsockopt (sub2, ZMQ_SUBSCRIBE, "m|", 2);
    s_stream_recv (sub2, &msg, &ev);
    assert_true (ev.head);
    assert_int_equal (ev.seq, 1);
    zmq_msg_close (&msg);
    s_stream_recv (sub, &msg, &ev);
    assert_true (ev.head);
    assert_int_equal (ev.seq, 1);
    zmq_msg_close (&msg);
}

static void
test_quiet_channel_gets_marker_round (void **state)
{
    s_fixture_t *f = *state;
    s_create (f);
    s_start (f);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    void *sub = s_client (f, ZMQ_SUB, f->xpub);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "q|", 2);
    zmq_msg_t msg;
    hr_event_t ev;
    s_stream_recv (sub, &msg, &ev);             //  the subscription's marker
    zmq_msg_close (&msg);
    s_publish (dealer, "q", 1, NULL);
    s_publish (dealer, "q", 2, NULL);
    s_stream_recv (sub, &msg, &ev);
    zmq_msg_close (&msg);
    s_stream_recv (sub, &msg, &ev);
    assert_int_equal (ev.seq, 2);
    zmq_msg_close (&msg);
    //  Quiet from now: within a few marker periods, a marker at seq 2,
    //  and only one (the channel stays quiet, so no more rounds name it)
    s_stream_recv (sub, &msg, &ev);
    assert_true (ev.head);
    assert_int_equal (ev.seq, 2);
    assert_non_null (ev.epoch);
    zmq_msg_close (&msg);
    zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
    assert_int_equal (zmq_poll (&item, 1, 2500), 0);
}

static void
test_marker_rounds_past_their_budget_carry_on (void **state)
{
    s_fixture_t *f = *state;
    s_create (f);
    s_start (f);
    void *sub = s_client (f, ZMQ_SUB, f->xpub);
    int unlimited = 0;
    zmq_setsockopt (sub, ZMQ_RCVHWM, &unlimited, sizeof unlimited);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0);         //  every topic, no marker
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    s_publish (dealer, "first", 1, NULL);               //  the SUB is connected
    zmq_msg_t msg;
    hr_event_t ev;
    s_stream_recv (sub, &msg, &ev);
    zmq_msg_close (&msg);
    //  More quiet channels than one round may mark (S_EXPIRE_BUDGET, 4096)
    void *push = s_client (f, ZMQ_PUSH, f->pull);
    enum { CHANNELS = 5000 };
    char name [16];
    for (int i = 0; i < CHANNELS; i++) {
        tu_map (2);
        snprintf (name, sizeof name, "m%d", i);
        tu_kstr ("ch", name);
        tu_kuint ("data", 1);
        s_send_frame (push);
    }
    static bool marked [CHANNELS];
    int events = 0, markers = 0, channels_marked = 0;
    while (channels_marked < CHANNELS) {
        s_stream_recv (sub, &msg, &ev);
        if (ev.ch_len > 1 && ev.ch [0] == 'm') {
            int i = atoi (ev.ch + 1);
            if (!ev.head)
                events++;
            else {
                markers++;
                assert_int_equal (ev.seq, 1);
                if (!marked [i]) {
                    marked [i] = true;
                    channels_marked++;
                }
            }
        }
        zmq_msg_close (&msg);
    }
    assert_int_equal (events, CHANNELS);
    assert_true (markers < 2 * CHANNELS);
}

//  --------------------------------------------------------------------
//  The channel cap

static void
test_channel_cap_refuses_new_channels_with_history (void **state)
{
    s_fixture_t *f = *state;
    f->config.max_channels = 2;
    s_create (f);
    s_start (f);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    s_publish (dealer, "a", 1, NULL);
    s_publish (dealer, "b", 2, NULL);
    tu_map (3);
    tu_kstr ("ch", "c");
    tu_kuint ("data", 1);
    tu_kuint ("rid", 3);
    s_send_frame (dealer);
    s_expect_error (dealer, HR_E_OVERLOADED, true, 3);
    assert_int_equal (s_publish (dealer, "a", 4, NULL), 2);   //  known channels go on
}

static void
test_channel_cap_replaces_channels_without_history (void **state)
{
    s_fixture_t *f = *state;
    f->config.max_channels = 2;
    f->config.history_size = 0;
    s_create (f);
    s_start (f);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    s_publish (dealer, "a", 1, NULL);
    s_publish (dealer, "b", 2, NULL);
    assert_int_equal (s_publish (dealer, "c", 3, NULL), 1);
    //  "a" went (least recent): it starts again at 1, in a new epoch
    assert_int_equal (s_publish (dealer, "a", 4, NULL), 1);
}

//  --------------------------------------------------------------------
//  The per-client reply bound

static void
test_unread_replies_are_bounded_per_client (void **state)
{
    s_fixture_t *f = *state;
    f->config.reply_memory = 8 * 1024;
    s_create (f);
    s_start (f);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    //  20 events of about 1 KB
    char data [1000];
    memset (data, 'x', sizeof data - 1);
    data [sizeof data - 1] = 0;
    for (uint64_t i = 1; i <= 20; i++) {
        tu_map (3);
        tu_kstr ("ch", "h");
        tu_kstr ("data", data);
        tu_kuint ("rid", i);
        s_send_frame (dealer);
        zmq_msg_t msg;
        hr_reply_t reply;
        s_reply (dealer, &msg, &reply);
        assert_int_equal (reply.seq, i);
        zmq_msg_close (&msg);
    }
    //  Two requests before reading: the first is cut to about 8 KB, the
    //  second finds the client's budget spent
    void *reader = s_client (f, ZMQ_DEALER, f->router);
    uint64_t rid = 1;
    hr_buf_reset (&tu_frame);
    hr_request_encode_history (&tu_frame, &rid, "h", NULL, 0, 20);
    s_send_frame (reader);
    rid = 2;
    hr_buf_reset (&tu_frame);
    hr_request_encode_history (&tu_frame, &rid, "h", NULL, 0, 20);
    s_send_frame (reader);
    //  Reading the first reply frees its bytes: wait until the broker has
    //  sized both replies (cut, then refused) before reading anything
    s_wait_metric (f, "herald_broker_replies_cut_total", 2);
    zmq_msg_t msg;
    hr_reply_t reply;
    s_reply (reader, &msg, &reply);
    assert_int_equal (reply.rid, 1);
    assert_true (reply.count >= 1 && reply.count <= 9);
    size_t count = reply.count;
    zmq_msg_close (&msg);
    for (size_t i = 0; i < count; i++) {
        s_recv (reader, &msg);
        zmq_msg_close (&msg);
    }
    s_expect_error (reader, HR_E_OVERLOADED, true, 2);
    //  Read: the budget is back
    s_history_t h;
    s_history (reader, "h", NULL, (uint64_t) count, 20, &h);
    assert_true (h.count >= 1);
    assert_int_equal (h.seqs [0], count + 1);
}

//  --------------------------------------------------------------------
//  XPUB batch bound

static void
test_subscription_flood_does_not_hold_up_replies (void **state)
{
    s_fixture_t *f = *state;
    s_create (f);
    //  Queue 5,000 subscriptions and then one publish before the loop runs
    void *xsub = s_client (f, ZMQ_XSUB, f->xpub);
    int unlimited = 0;
    zmq_setsockopt (xsub, ZMQ_SNDHWM, &unlimited, sizeof unlimited);
    zmq_setsockopt (xsub, ZMQ_RCVHWM, &unlimited, sizeof unlimited);
    const int subs = 5000;
    for (int i = 0; i < subs; i++)
        assert_int_equal (zmq_send (xsub, "\001f|", 3, 0), 3);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    tu_map (3);
    tu_kstr ("ch", "f");
    tu_kuint ("data", 1);
    tu_kuint ("rid", 1);
    s_send_frame (dealer);
    s_start (f);
    //  The event comes after the first batch of markers, not after all
    int markers_before_event = -1;
    for (int seen = 0; seen < subs + 1; seen++) {
        zmq_msg_t msg;
        hr_event_t ev;
        s_stream_recv (xsub, &msg, &ev);
        if (!ev.head)
            markers_before_event = seen;
        zmq_msg_close (&msg);
    }
    assert_true (markers_before_event >= 0);
    assert_true (markers_before_event < subs / 2);
    zmq_msg_t msg;
    hr_reply_t reply;
    s_reply (dealer, &msg, &reply);
    assert_int_equal (reply.seq, 1);
    zmq_msg_close (&msg);
}

static void
test_inproc_subscriptions_are_never_dropped (void **state)
{
    s_fixture_t *f = *state;
    s_create (f);
    //  A SUB-side hwm of ZeroMQ's default (1,000) and 3,000 subscriptions
    //  queued before the loop reads any: an inproc pipe is bounded by the
    //  sum of both sides' hwms unless one is 0, and drops what is over
    void *xsub = s_client (f, ZMQ_XSUB, f->xpub);
    int unlimited = 0;
    zmq_setsockopt (xsub, ZMQ_RCVHWM, &unlimited, sizeof unlimited);
    const int subs = 3000;
    char topic [16];
    for (int i = 0; i < subs; i++) {
        int size = snprintf (topic, sizeof topic, "\001s%d|", i);
        assert_int_equal (zmq_send (xsub, topic, (size_t) size, 0), size);
    }
    s_start (f);
    for (int i = 0; i < subs; i++) {
        zmq_msg_t msg;
        hr_event_t ev;
        s_stream_recv (xsub, &msg, &ev);
        assert_true (ev.head);
        zmq_msg_close (&msg);
    }
}

//  --------------------------------------------------------------------
//  Loop failure

static void
test_zmq_failure_ends_the_loop_with_minus_one (void **state)
{
    s_fixture_t *f = *state;
    s_create (f);
    s_start (f);
    zmq_ctx_shutdown (f->ctx);                      //  logs "broker loop failed"
    pthread_join (f->thread, NULL);
    f->running = false;
    assert_int_equal (f->rc, -1);
}

static void
test_stop_ends_the_loop_with_zero (void **state)
{
    s_fixture_t *f = *state;
    s_create (f);
    s_start (f);
    hrb_server_stop (f->server);
    pthread_join (f->thread, NULL);
    f->running = false;
    assert_int_equal (f->rc, 0);
}

int
main (void)
{
    hr_log_configure (HR_LOG_WARN, false);
    assert_int_equal (hr_epoch_init (), 0);
    alarm (60);                 //  a hung loop fails the test at once, not at ctest's timeout
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_history_first_head_count, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_req_client_gets_delimited_reply_dealer_does_not,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_repeat_id_is_acknowledged_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_every_error_reply_carries_rid, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_subscribe_gets_head_marker, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_quiet_channel_gets_marker_round, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_marker_rounds_past_their_budget_carry_on,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_channel_cap_refuses_new_channels_with_history,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_channel_cap_replaces_channels_without_history,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unread_replies_are_bounded_per_client,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_subscription_flood_does_not_hold_up_replies,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_inproc_subscriptions_are_never_dropped,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_zmq_failure_ends_the_loop_with_minus_one,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stop_ends_the_loop_with_zero, s_setup, s_teardown),
    };
    tu_setup (NULL);
    int failed = cmocka_run_group_tests (tests, NULL, NULL);
    tu_teardown (NULL);
    return failed;
}
