/*  test_hrg_links: a worker's links to the brokers of a cluster
    (gateway/hrg_links) and the view they follow (gateway/hrg_follow):
    requests go to their channel's owner in the followed view, else to the
    next connected broker of the channel's order; an older view never
    replaces a newer; a rid cancels on its own link; ready needs a
    majority and a view. Three fake brokers: ROUTERs on loopback tcp.  */
#include "hrg_follow.h"
#include "hrg_links.h"
#include "hrg_fake_broker.h"
#include "hrg_test_worker.h"
#include "support.h"

#include <stdio.h>
#include <zmq.h>

#define S_BROKERS 3
#define S_TIMEOUT_MS 5000

typedef struct {
    void *ctx;
    tfb_broker_t brokers [S_BROKERS];   //  only router used
    hrg_follow_t *follow;
    hrg_config_t config;
    hr_metrics_t *metrics;
    hrg_metric_ids_t ids;
    hrg_worker_t worker;
} s_fixture_t;

//  A cluster file whose routers are the fake brokers' (the other
//  endpoints are never connected: distinct ports nobody listens on).
static hr_cluster_t *
s_cluster (s_fixture_t *fx)
{
    hr_buf_t json = HR_BUF_INIT;
    hr_buf_puts (&json, "{\"brokers\": [");
    for (int i = 0; i < S_BROKERS; i++) {
        int base = 61000 + i * 10;
        hr_buf_printf (&json, "%s{\"id\": \"b%d\", \"publish\": \"tcp://127.0.0.1:%d\", "
                       "\"router\": \"%s\", \"stream\": \"tcp://127.0.0.1:%d\", "
                       "\"peer\": \"tcp://127.0.0.1:%d\"}", i? ", ": "", i + 1, base,
                       fx->brokers [i].req_endpoint, base + 1, base + 2);
    }
    hr_buf_puts (&json, "]}");
    hr_buf_t err = HR_BUF_INIT;
    hr_cluster_t *cluster = hr_cluster_parse ("test.json", json.data, json.size, &err);
    if (!cluster)
        fail_msg ("%s", err.data);
    hr_buf_free (&json);
    hr_buf_free (&err);
    return cluster;
}

static int
s_setup (void **state)
{
    s_fixture_t *fx = calloc (1, sizeof *fx);
    fx->ctx = zmq_ctx_new ();
    for (int i = 0; i < S_BROKERS; i++) {
        tfb_broker_t *broker = &fx->brokers [i];
        broker->router = zmq_socket (fx->ctx, ZMQ_ROUTER);
        int linger = 0;
        zmq_setsockopt (broker->router, ZMQ_LINGER, &linger, sizeof linger);
        assert_int_equal (zmq_bind (broker->router, "tcp://127.0.0.1:*"), 0);
        size_t size = sizeof broker->req_endpoint;
        zmq_getsockopt (broker->router, ZMQ_LAST_ENDPOINT, broker->req_endpoint, &size);
    }
    hr_cluster_t *cluster = s_cluster (fx);
    fx->follow = hrg_follow_new (&cluster, 1);
    fx->config = (hrg_config_t) HRG_CONFIG_DEFAULTS;
    fx->config.broker_timeout = 1000;
    fx->metrics = hr_metrics_new ();
    tw_register (&fx->ids, fx->metrics);
    hrg_worker_t *w = &fx->worker;
    w->config = &fx->config;
    w->metrics = fx->metrics;
    w->m = &fx->ids;
    w->shard = hr_metrics_shard (fx->metrics);
    w->follow = fx->follow;
    hr_buf_t err = HR_BUF_INIT;
    w->links = hrg_links_new (fx->ctx, &fx->config, fx->follow, 0, &err);
    assert_non_null (w->links);
    hr_buf_free (&err);
    w->link = hrg_links_at (w->links, 0);
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fx = *state;
    hrg_links_destroy (&fx->worker.links);
    for (int i = 0; i < S_BROKERS; i++)
        tfb_stop (&fx->brokers [i]);
    hrg_follow_destroy (&fx->follow);
    hr_metrics_destroy (&fx->metrics);
    zmq_ctx_term (fx->ctx);
    free (fx);
    return 0;
}

typedef struct {
    hrg_worker_t *worker;
    hr_members_t want;
} s_connected_t;

static bool
s_step_connected (void *arg)
{
    s_connected_t *wait = arg;
    return hrg_links_update (wait->worker) == wait->want;
}

//  Updates the links until exactly want are connected.
static void
s_wait_connected (s_fixture_t *fx, hr_members_t want)
{
    s_connected_t wait = { &fx->worker, want };
    assert_true (tfb_wait (s_step_connected, &wait, S_TIMEOUT_MS));
}

static void
s_offer (s_fixture_t *fx, uint64_t number, hr_members_t owners, bool followed)
{
    hr_view_msg_t view = { .from = 0, .number = number, .members = 7, .owners = owners };
    assert_int_equal (hrg_follow_offer (fx->follow, &view), followed);
}

//  The index of the link pick chose for ch.
static int
s_picked (s_fixture_t *fx, const char *ch)
{
    hrg_link_t *link = hrg_links_pick (&fx->worker, ch, strlen (ch));
    for (int i = 0; i < S_BROKERS; i++)
        if (hrg_links_at (fx->worker.links, (size_t) i) == link)
            return i;
    fail_msg ("picked no link of the worker");
    return -1;
}

static int
s_owner (s_fixture_t *fx, const char *ch, hr_members_t owners)
{
    return hr_cluster_owner (hrg_follow_cluster (fx->follow), ch, strlen (ch), owners);
}

typedef struct {
    int calls;
    bool null_reply;
} s_result_t;

static void
s_on_reply (void *arg, uint64_t rid, const hr_reply_t *reply, zmq_msg_t *frames, size_t count)
{
    s_result_t *result = arg;
    result->calls++;
    result->null_reply = reply == NULL;
}

//  --------------------------------------------------------------------

static void
test_publishes_reach_the_owners_router (void **state)
{
    s_fixture_t *fx = *state;
    s_wait_connected (fx, 7);
    s_offer (fx, 1, 7, true);
    int seen [S_BROKERS] = { 0 };
    for (int n = 0; n < 30; n++) {
        char ch [16];
        snprintf (ch, sizeof ch, "ch%d", n);
        int owner = s_owner (fx, ch, 7);
        assert_int_equal (s_picked (fx, ch), owner);
        //  And the request arrives at that broker's ROUTER
        hr_event_t ev = tfb_event (ch, NULL, 0);
        ev.epoch = NULL;
        s_result_t result = { 0 };
        uint64_t rid = hrg_link_publish (hrg_links_pick (&fx->worker, ch, strlen (ch)), &ev,
                                         s_on_reply, &result);
        assert_true (rid != 0);
        tfb_request_t request;
        assert_true (tfb_recv (&fx->brokers [owner], &request, S_TIMEOUT_MS));
        assert_int_equal (request.error, HR_OK);
        tu_assert_span (request.req.event.ch, request.req.event.ch_len, ch);
        tfb_request_free (&request);
        hrg_links_cancel (&fx->worker, rid);
        seen [owner]++;
    }
    //  Thirty channels spread over all three
    for (int i = 0; i < S_BROKERS; i++)
        assert_true (seen [i] > 0);
}

static void
test_the_followed_views_owners_decide (void **state)
{
    s_fixture_t *fx = *state;
    s_wait_connected (fx, 7);
    s_offer (fx, 4, 3, true);           //  b3 is a member, not an owner
    for (int n = 0; n < 30; n++) {
        char ch [16];
        snprintf (ch, sizeof ch, "ch%d", n);
        assert_int_equal (s_picked (fx, ch), s_owner (fx, ch, 3));
    }
    //  An older view, heard from a lagging broker, changes nothing
    s_offer (fx, 3, 7, false);
    s_offer (fx, 4, 7, false);
    hr_view_msg_t view;
    hrg_follow_view (fx->follow, &view);
    assert_int_equal (view.number, 4);
    assert_int_equal (view.owners, 3);
    for (int n = 0; n < 30; n++) {
        char ch [16];
        snprintf (ch, sizeof ch, "ch%d", n);
        assert_int_equal (s_picked (fx, ch), s_owner (fx, ch, 3));
    }
    //  A newer one does
    s_offer (fx, 5, 6, true);
    for (int n = 0; n < 30; n++) {
        char ch [16];
        snprintf (ch, sizeof ch, "ch%d", n);
        assert_int_equal (s_picked (fx, ch), s_owner (fx, ch, 6));
    }
}

static void
test_an_owner_away_sends_to_the_next_in_order (void **state)
{
    s_fixture_t *fx = *state;
    s_wait_connected (fx, 7);
    s_offer (fx, 1, 7, true);
    //  b2 goes away: its channels go to their backup, the others stay
    zmq_close (fx->brokers [1].router);
    fx->brokers [1].router = NULL;
    s_wait_connected (fx, 5);
    const hr_cluster_t *cluster = hrg_follow_cluster (fx->follow);
    int moved = 0;
    for (int n = 0; n < 30; n++) {
        char ch [16];
        snprintf (ch, sizeof ch, "ch%d", n);
        int order [HR_CLUSTER_MAX];
        hr_cluster_order (cluster, ch, strlen (ch), 7, order);
        int want = order [0] == 1? order [1]: order [0];
        moved += order [0] == 1;
        assert_int_equal (s_picked (fx, ch), want);
    }
    assert_true (moved > 0);
    //  A publish to a channel of b2's is sent to its backup, not held
    for (int n = 0; n < 30; n++) {
        char ch [16];
        snprintf (ch, sizeof ch, "ch%d", n);
        if (s_owner (fx, ch, 7) != 1)
            continue;
        hr_event_t ev = tfb_event (ch, NULL, 0);
        ev.epoch = NULL;
        s_result_t result = { 0 };
        uint64_t rid = hrg_link_publish (hrg_links_pick (&fx->worker, ch, strlen (ch)), &ev,
                                         s_on_reply, &result);
        assert_true (rid != 0);
        tfb_request_t request;
        assert_true (tfb_recv (&fx->brokers [s_picked (fx, ch)], &request, S_TIMEOUT_MS));
        tfb_request_free (&request);
        hrg_links_cancel (&fx->worker, rid);
        break;
    }
}

static void
test_a_rid_cancels_on_its_own_link (void **state)
{
    s_fixture_t *fx = *state;
    s_wait_connected (fx, 7);
    s_offer (fx, 1, 7, true);
    //  One publish per broker, each answered; the first is cancelled
    s_result_t results [S_BROKERS] = { { 0 } };
    uint64_t rids [S_BROKERS] = { 0 };
    tfb_request_t requests [S_BROKERS];
    int found = 0;
    for (int n = 0; n < 200 && found < S_BROKERS; n++) {
        char ch [16];
        snprintf (ch, sizeof ch, "ch%d", n);
        int owner = s_owner (fx, ch, 7);
        if (rids [owner])
            continue;
        hr_event_t ev = tfb_event (ch, NULL, 0);
        ev.epoch = NULL;
        rids [owner] = hrg_link_publish (hrg_links_pick (&fx->worker, ch, strlen (ch)), &ev,
                                         s_on_reply, &results [owner]);
        assert_true (rids [owner] != 0);
        assert_true (tfb_recv (&fx->brokers [owner], &requests [owner], S_TIMEOUT_MS));
        found++;
    }
    assert_int_equal (found, S_BROKERS);
    //  Rids are distinct, and each names its link
    for (int i = 0; i < S_BROKERS; i++)
        assert_int_equal ((rids [i] - 1) % S_BROKERS, i);
    hrg_links_cancel (&fx->worker, rids [0]);
    for (int i = 0; i < S_BROKERS; i++) {
        tfb_reply_ack (&fx->brokers [i], &requests [i], true, 1, "e", false);
        tfb_request_free (&requests [i]);
    }
    uint64_t deadline = hr_mono_ms () + S_TIMEOUT_MS;
    while ((results [1].calls == 0 || results [2].calls == 0) && hr_mono_ms () < deadline) {
        hrg_links_process (fx->worker.links);
        zmq_poll (NULL, 0, 1);
    }
    assert_int_equal (results [0].calls, 0);
    assert_int_equal (results [1].calls, 1);
    assert_int_equal (results [2].calls, 1);
    assert_false (results [1].null_reply);
}

static void
test_with_no_broker_a_publish_is_refused_at_once (void **state)
{
    s_fixture_t *fx = *state;
    s_wait_connected (fx, 7);
    for (int i = 0; i < S_BROKERS; i++) {
        zmq_close (fx->brokers [i].router);
        fx->brokers [i].router = NULL;
    }
    s_wait_connected (fx, 0);
    hr_event_t ev = tfb_event ("orders", NULL, 0);
    ev.epoch = NULL;
    s_result_t result = { 0 };
    assert_int_equal (hrg_link_publish (hrg_links_pick (&fx->worker, "orders", 6), &ev,
                                        s_on_reply, &result), 0);
    assert_int_equal (hrg_link_revoke (hrg_links_any (&fx->worker), HR_REVOKE_JTI, "x", 1,
                                       1, s_on_reply, &result), 0);
}

static void
test_ready_needs_a_majority_of_every_worker_and_a_view (void **state)
{
    hr_cluster_t *cluster = s_cluster (*state);
    hrg_follow_t *follow = hrg_follow_new (&cluster, 2);
    assert_null (cluster);
    hr_buf_t why = HR_BUF_INIT;
    assert_false (hrg_follow_ready (follow, &why));
    assert_non_null (strstr (why.data, "connected to 0 of 3 brokers, a majority is 2"));
    assert_non_null (strstr (why.data, "no view"));
    hrg_follow_set_connected (follow, 0, 3);
    hrg_follow_set_connected (follow, 1, 1);
    hr_buf_reset (&why);
    assert_false (hrg_follow_ready (follow, &why));
    assert_non_null (strstr (why.data, "connected to 1 of 3"));
    hrg_follow_set_connected (follow, 1, 5);
    hr_buf_reset (&why);
    assert_false (hrg_follow_ready (follow, &why));
    assert_null (strstr (why.data, "connected to"));
    assert_non_null (strstr (why.data, "no view"));
    assert_int_equal (hrg_follow_connected (follow), 1);
    uint64_t before = hrg_follow_generation (follow);
    hr_view_msg_t view = { .from = 2, .number = 3, .members = 7, .owners = 7 };
    assert_true (hrg_follow_offer (follow, &view));
    assert_true (hrg_follow_generation (follow) != before);
    assert_true (hrg_follow_ready (follow, NULL));
    hr_cluster_status_t status;
    hrg_follow_status (follow, &status);
    assert_int_equal (status.number, 3);
    assert_int_equal (status.members, 7);
    assert_int_equal (status.up, 1);
    assert_int_equal (status.self, -1);
    //  A worker losing its majority makes the gateway unready again
    hrg_follow_set_connected (follow, 0, 4);
    assert_false (hrg_follow_ready (follow, NULL));
    hr_buf_free (&why);
    hrg_follow_destroy (&follow);
}

static void
test_view_announcements_from_the_stream (void **state)
{
    s_fixture_t *fx = *state;
    const hr_cluster_t *cluster = hrg_follow_cluster (fx->follow);
    hr_buf_t frame = HR_BUF_INIT;
    hr_view_msg_t view = { .from = 1, .number = 8, .members = 7, .owners = 5, .lease = true };
    hr_view_msg_encode (&frame, cluster, &view);
    hrg_links_on_view (&fx->worker, frame.data, frame.size);
    assert_int_equal (hr_metrics_value (fx->metrics, fx->ids.view_changes), 1);
    hrg_links_on_view (&fx->worker, frame.data, frame.size);      //  the same again
    assert_int_equal (hr_metrics_value (fx->metrics, fx->ids.view_changes), 1);
    hrg_links_on_view (&fx->worker, frame.data, frame.size - 1);  //  truncated
    hrg_links_on_view (&fx->worker, "\x81\xa1t\xa2hb", 6);       //  not a view
    assert_int_equal (hr_metrics_value (fx->metrics, fx->ids.view_bad), 2);
    hr_view_msg_t followed;
    hrg_follow_view (fx->follow, &followed);
    assert_int_equal (followed.number, 8);
    assert_int_equal (followed.owners, 5);
    hrg_links_update (&fx->worker);
    assert_int_equal (hr_metrics_value (fx->metrics, fx->ids.cluster_view), 8);
    hr_buf_free (&frame);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_publishes_reach_the_owners_router,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_the_followed_views_owners_decide,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_an_owner_away_sends_to_the_next_in_order,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_rid_cancels_on_its_own_link,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_with_no_broker_a_publish_is_refused_at_once,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ready_needs_a_majority_of_every_worker_and_a_view,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_view_announcements_from_the_stream,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
