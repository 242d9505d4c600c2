/*  test_hrb_revoke: revocation on the broker (broker/hrb_revoke, through
    broker/hrb_server over inproc://): a revoke request is acknowledged and
    broadcast under its own topic, channel subscribers do not see it, a
    subscription to the topic replays the whole live list in batches, a
    full list and an until in the past are refused with rid, and the
    gauges follow the list.  */
#include "hrb_server.h"
#include "hr_epoch.h"
#include "hr_log.h"
#include "hr_proto.h"
#include "hr_time.h"

#include "support.h"

#include <unistd.h>

#include "hrb_server_fixture.h"

//  Sends a revoke request for value until until; returns the reply's error.
static hr_error_t
s_revoke (void *dealer, hr_revoke_kind_t kind, const char *value, int64_t until,
          uint64_t rid)
{
    hr_buf_reset (&tu_frame);
    hr_request_encode_revoke (&tu_frame, &rid, kind, value, strlen (value), until);
    s_send_frame (dealer);
    zmq_msg_t msg;
    hr_reply_t reply;
    s_reply (dealer, &msg, &reply);
    assert_true (reply.has_rid);
    assert_int_equal (reply.rid, rid);
    if (reply.error == HR_OK) {
        assert_int_equal (reply.revoked, kind);
        assert_int_equal (reply.until, until);
    }
    else
        assert_non_null (reply.message);
    hr_error_t error = reply.error;
    zmq_msg_close (&msg);
    return error;
}

static int64_t
s_now (void)
{
    return (int64_t) (hr_wall_ms () / 1000);
}

//  Receives one revocation message on sub and adds its entries' values to
//  seen (a string of "value," items); returns how many it held.
static size_t
s_revocations_recv (void *sub, hr_buf_t *seen)
{
    zmq_msg_t topic, body;
    s_recv (sub, &topic);
    assert_int_equal (zmq_msg_size (&topic), strlen (HR_REVOKE_TOPIC));
    assert_memory_equal (zmq_msg_data (&topic), HR_REVOKE_TOPIC, strlen (HR_REVOKE_TOPIC));
    assert_true (s_more (sub));
    zmq_msg_close (&topic);
    s_recv (sub, &body);
    hr_revocation_t entries [HR_REVOKE_BATCH];
    size_t count = 0;
    assert_int_equal (hr_revocations_decode (zmq_msg_data (&body), zmq_msg_size (&body),
                                             entries, &count), HR_OK);
    for (size_t i = 0; i < count; i++) {
        hr_buf_put (seen, entries [i].value, entries [i].len);
        hr_buf_putc (seen, ',');
    }
    zmq_msg_close (&body);
    return count;
}

static bool
s_seen (hr_buf_t *seen, const char *value)
{
    char item [64];
    snprintf (item, sizeof item, ",%s,", value);
    hr_buf_t text = HR_BUF_INIT;
    hr_buf_putc (&text, ',');
    hr_buf_put (&text, seen->data, seen->size);
    hr_buf_putc (&text, 0);
    bool found = strstr (text.data, item) != NULL;
    hr_buf_free (&text);
    return found;
}

//  A SUB on the revocation topic.
static void *
s_revoke_sub (s_fixture_t *f)
{
    void *sub = s_client (f, ZMQ_SUB, f->xpub);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, HR_REVOKE_TOPIC, strlen (HR_REVOKE_TOPIC));
    return sub;
}

static void
test_revoke_is_acknowledged_and_broadcast (void **state)
{
    s_fixture_t *f = *state;
    s_create (f);
    s_start (f);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    void *sub = s_revoke_sub (f);
    void *channel_sub = s_client (f, ZMQ_SUB, f->xpub);
    zmq_setsockopt (channel_sub, ZMQ_SUBSCRIBE, "orders|", 7);
    //  The channel's subscription is in once its marker came back
    zmq_msg_t msg;
    s_recv (channel_sub, &msg);
    zmq_msg_close (&msg);
    s_recv (channel_sub, &msg);
    zmq_msg_close (&msg);
    int64_t until = s_now () + 3600;
    hr_buf_t seen = HR_BUF_INIT;
    //  Repeat until the SUB receives: its subscription may reach the XPUB
    //  after the first broadcast (each repeat is acknowledged the same way)
    for (uint64_t rid = 1; seen.size == 0; rid++) {
        assert_int_equal (s_revoke (dealer, HR_REVOKE_SUB, "u1", until, rid), HR_OK);
        zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 100) == 1)
            s_revocations_recv (sub, &seen);
        assert_true (rid < 50);
    }
    assert_true (s_seen (&seen, "u1"));
    hr_buf_reset (&seen);
    assert_int_equal (s_revoke (dealer, HR_REVOKE_JTI, "token-7", until, 100), HR_OK);
    while (!s_seen (&seen, "token-7"))
        s_revocations_recv (sub, &seen);
    //  A channel subscriber sees none of it
    zmq_pollitem_t item = { channel_sub, 0, ZMQ_POLLIN, 0 };
    assert_int_equal (zmq_poll (&item, 1, 50), 0);
    s_wait_metric (f, "herald_revocations", 2);
    assert_true (s_metric (f, "herald_revocation_bytes") > 0);
    hr_buf_free (&seen);
}

static void
test_subscription_replays_the_live_list_in_batches (void **state)
{
    s_fixture_t *f = *state;
    s_create (f);
    s_start (f);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    int64_t until = s_now () + 3600;
    enum { S_ENTRIES = HR_REVOKE_BATCH * 3 + 5 };
    char value [32];
    for (int i = 0; i < S_ENTRIES; i++) {
        snprintf (value, sizeof value, "user-%d", i);
        assert_int_equal (s_revoke (dealer, HR_REVOKE_SUB, value, until, (uint64_t) i + 1),
                          HR_OK);
    }
    //  Subscribed after every revocation: the replay brings them all
    void *sub = s_revoke_sub (f);
    hr_buf_t seen = HR_BUF_INIT;
    size_t received = 0;
    while (received < S_ENTRIES) {
        size_t count = s_revocations_recv (sub, &seen);
        assert_true (count >= 1 && count <= HR_REVOKE_BATCH);
        received += count;
    }
    assert_int_equal (received, S_ENTRIES);
    for (int i = 0; i < S_ENTRIES; i++) {
        snprintf (value, sizeof value, "user-%d", i);
        assert_true (s_seen (&seen, value));
    }
    //  A second subscriber asks for it again: both get it (one stream)
    void *sub2 = s_revoke_sub (f);
    hr_buf_t seen2 = HR_BUF_INIT;
    for (received = 0; received < S_ENTRIES; )
        received += s_revocations_recv (sub2, &seen2);
    hr_buf_free (&seen);
    hr_buf_free (&seen2);
}

static void
test_full_list_and_past_until_are_refused_with_rid (void **state)
{
    s_fixture_t *f = *state;
    f->config.revoke_max = 2;
    s_create (f);
    s_start (f);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    int64_t until = s_now () + 3600;
    assert_int_equal (s_revoke (dealer, HR_REVOKE_SUB, "a", until, 1), HR_OK);
    assert_int_equal (s_revoke (dealer, HR_REVOKE_SUB, "b", until, 2), HR_OK);
    assert_int_equal (s_revoke (dealer, HR_REVOKE_SUB, "c", until, 3), HR_E_OVERLOADED);
    //  What it holds can still be extended
    assert_int_equal (s_revoke (dealer, HR_REVOKE_SUB, "a", until + 60, 4), HR_OK);
    assert_int_equal (s_revoke (dealer, HR_REVOKE_JTI, "j", s_now () - 1, 5), HR_E_BAD_FIELD);
    s_wait_metric (f, "herald_revocations", 2);
    assert_int_equal (s_metric (f, "herald_revocations"), 2);
}

static void
test_malformed_revoke_is_refused_with_rid (void **state)
{
    s_fixture_t *f = *state;
    s_create (f);
    s_start (f);
    void *dealer = s_client (f, ZMQ_DEALER, f->router);
    tu_map (4);
    tu_kstr ("op", "revoke");
    tu_kuint ("rid", 42);
    tu_kstr ("kind", "role");
    tu_kstr ("value", "admin");
    s_send_frame (dealer);
    zmq_msg_t msg;
    hr_reply_t reply;
    s_reply (dealer, &msg, &reply);
    assert_int_equal (reply.error, HR_E_BAD_FIELD);
    assert_int_equal (reply.rid, 42);
    zmq_msg_close (&msg);
}

int
main (void)
{
    hr_log_configure (HR_LOG_WARN, false);
    assert_int_equal (hr_epoch_init (), 0);
    alarm (60);                 //  a hung loop fails the test at once, not at ctest's timeout
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_revoke_is_acknowledged_and_broadcast,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_subscription_replays_the_live_list_in_batches,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_full_list_and_past_until_are_refused_with_rid,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_malformed_revoke_is_refused_with_rid,
                                         s_setup, s_teardown),
    };
    tu_setup (NULL);
    int failed = cmocka_run_group_tests (tests, NULL, NULL);
    tu_teardown (NULL);
    return failed;
}
