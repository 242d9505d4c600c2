/*  test_hrg_revoke: revocations from the broker's stream into a gateway's
    list (gateway/hrg_revoke): the topic is recognised exactly, a message's
    entries are all added (repeats change nothing), a malformed message
    adds nothing, and a worker's SUB subscribed with hrg_revoke_subscribe
    receives the topic and no channel's.  */
#include "hrg_revoke.h"
#include "hrg_auth.h"
#include "hr_log.h"
#include "hr_proto.h"
#include "hr_time.h"

#include "support.h"

#include <stdlib.h>
#include <zmq.h>

typedef struct {
    hrg_config_t config;
    hrg_worker_t worker;
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *f = hr_calloc (1, sizeof *f);
    f->config = (hrg_config_t) HRG_CONFIG_DEFAULTS;
    hr_buf_t err = HR_BUF_INIT;
    f->worker.auth = hrg_auth_new (&f->config, &err);
    assert_non_null (f->worker.auth);
    hr_buf_free (&err);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *f = *state;
    hrg_auth_destroy (&f->worker.auth);
    free (f);
    return 0;
}

static int64_t
s_now (void)
{
    return (int64_t) (hr_wall_ms () / 1000);
}

static bool
s_revoked (s_fixture_t *f, const char *sub, const char *jti)
{
    return hr_revoke_matches (hrg_auth_revocations (f->worker.auth), sub, strlen (sub),
                              jti, strlen (jti), s_now ());
}

static void
test_topic_is_recognised_exactly (void **state)
{
    assert_true (hrg_revoke_topic (HR_REVOKE_TOPIC, strlen (HR_REVOKE_TOPIC)));
    assert_false (hrg_revoke_topic ("|revok", 6));
    assert_false (hrg_revoke_topic ("|revoke|", 8));
    assert_false (hrg_revoke_topic ("revoke|", 7));
    assert_false (hrg_revoke_topic ("", 0));
}

static void
test_entries_of_a_message_are_added (void **state)
{
    s_fixture_t *f = *state;
    hr_revocation_t entries [] = {
        { HR_REVOKE_SUB, "u1", 2, s_now () + 60 },
        { HR_REVOKE_JTI, "tok-9", 5, s_now () + 60 },
        { HR_REVOKE_SUB, "gone", 4, s_now () - 1 },        //  expired already: no effect
    };
    hr_buf_t body = HR_BUF_INIT;
    hr_revocations_encode (&body, entries, 3);
    uint64_t before = hr_revoke_generation (hrg_auth_revocations (f->worker.auth));
    hrg_revoke_on_stream (&f->worker, body.data, body.size);
    assert_true (s_revoked (f, "u1", ""));
    assert_true (s_revoked (f, "someone", "tok-9"));
    assert_false (s_revoked (f, "gone", ""));
    assert_false (s_revoked (f, "u2", "tok-1"));
    uint64_t after = hr_revoke_generation (hrg_auth_revocations (f->worker.auth));
    assert_int_equal (after, before + 2);
    //  The same message again (another worker, a replay): nothing changes
    hrg_revoke_on_stream (&f->worker, body.data, body.size);
    assert_int_equal (hr_revoke_generation (hrg_auth_revocations (f->worker.auth)), after);
    hr_buf_free (&body);
}

static void
test_malformed_message_adds_nothing (void **state)
{
    s_fixture_t *f = *state;
    hr_revocation_t entries [] = {
        { HR_REVOKE_SUB, "u1", 2, s_now () + 60 },
    };
    hr_buf_t body = HR_BUF_INIT;
    hr_revocations_encode (&body, entries, 1);
    //  Cut short, and a channel envelope instead
    hrg_revoke_on_stream (&f->worker, body.data, body.size - 1);
    hr_event_t ev = { .ch = "u1", .ch_len = 2, .seq = 1, .data = (const uint8_t *) "\xc0",
                      .data_len = 1, .epoch = "e", .epoch_len = 1 };
    hr_buf_t envelope = HR_BUF_INIT;
    hr_event_encode (&ev, &envelope);
    hrg_revoke_on_stream (&f->worker, envelope.data, envelope.size);
    assert_false (s_revoked (f, "u1", ""));
    assert_int_equal (hr_revoke_generation (hrg_auth_revocations (f->worker.auth)), 0);
    hr_buf_free (&body);
    hr_buf_free (&envelope);
}

static void
test_subscribed_sub_receives_the_topic_only (void **state)
{
    s_fixture_t *f = *state;
    void *ctx = zmq_ctx_new ();
    void *pub = zmq_socket (ctx, ZMQ_PUB);
    assert_int_equal (zmq_bind (pub, "inproc://hrg-revoke-test"), 0);
    f->worker.sub = zmq_socket (ctx, ZMQ_SUB);
    assert_int_equal (zmq_connect (f->worker.sub, "inproc://hrg-revoke-test"), 0);
    hrg_revoke_subscribe (&f->worker);
    //  inproc: the subscription is in the PUB's pipe once connect returns,
    //  but the PUB applies it when it next processes commands: send a
    //  channel's message and the topic's until the topic's arrives
    zmq_pollitem_t item = { f->worker.sub, 0, ZMQ_POLLIN, 0 };
    bool received = false;
    for (int i = 0; i < 100 && !received; i++) {
        zmq_send (pub, "orders|", 7, ZMQ_SNDMORE);
        zmq_send (pub, "x", 1, 0);
        zmq_send (pub, HR_REVOKE_TOPIC, strlen (HR_REVOKE_TOPIC), ZMQ_SNDMORE);
        zmq_send (pub, "y", 1, 0);
        if (zmq_poll (&item, 1, 10) == 1) {
            char topic [32];
            int size = zmq_recv (f->worker.sub, topic, sizeof topic, 0);
            assert_true (hrg_revoke_topic (topic, (size_t) size));
            received = true;
        }
    }
    assert_true (received);
    zmq_close (f->worker.sub);
    zmq_close (pub);
    zmq_ctx_term (ctx);
}

int
main (void)
{
    hr_log_configure (HR_LOG_ERROR, false);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_topic_is_recognised_exactly),
        cmocka_unit_test_setup_teardown (test_entries_of_a_message_are_added, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_malformed_message_adds_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_subscribed_sub_receives_the_topic_only,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
